/* fuzz_tls.c — libFuzzer target for the TLS hello parser
 * (agent/detect/tls/) and the http detector's TLS path (http_tls.c,
 * tls_servers.c, http_flood's handshake counting and evidence).
 *
 * The input is parsed whole as a hello, then cut into segments sent to
 * and from port 443 of a protected server, each record
 *   ctrl(1) len(1) data(len)
 * where ctrl picks the direction, the client (one of 8) and whether the
 * clock moves a second; the shipped rules are used with http_flood's floor
 * lowered to 2/s (and its markers file named by its full path), so floods open and their evidence
 * (names, fingerprints) is written. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/detect/detector.h"
#include "agent/detect/tls/tls_parse.h"

static void discard_event(void *ctx, struct evt *ev)
{
    (void)ctx;
    if (ev->evidence)
        free(json_dumps(ev->evidence, JSON_COMPACT));
}

static struct ruleset rules;
static struct assets no_assets;
static struct netset no_home;
static struct detect_env env = {
    .emit = discard_event, .inv = {.assets = &no_assets, .home_net = &no_home}, .hash_seed = 777};
static void *det;

/* The shipped http.rules with http_flood's floor at 2/s. */
static void setup(void)
{
    FILE *in = fopen(CANH_SOURCE_RULES_DIR "/http.rules", "r");
    char path[] = "/tmp/canh-fuzz-tls-XXXXXX";
    int fd = mkstemp(path);
    FILE *out = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!in || !out)
        abort();
    char line[1024];
    while (fgets(line, sizeof(line), in))
        if (strncmp(line, "rate = ", 7) == 0)
            fputs("rate = 2/s\n", out);
        else if (strncmp(line, "markers_file = ", 15) == 0)
            fprintf(out, "markers_file = %s/%s", CANH_SOURCE_RULES_DIR, line + 15);
        else
            fputs(line, out);
    fclose(in);
    fclose(out);
    struct cfg_err err;
    if (ruleset_load_file(path, &rules, &err) < 0)
        abort();
    unlink(path);
    det = http_detector.init(&rules, &env, &err);
    if (!det)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!det)
        setup();
    struct tls_hello h;
    tls_parse_hello(data, size, &h);
    char vb[8];
    tls_version_name(h.version, vb, sizeof(vb));

    static uint64_t now = 1700000000ull * 1000000;
    const uint8_t s[4] = {198, 51, 100, 10};
    size_t off = 0;
    while (off + 2 <= size) {
        uint8_t ctrl = data[off];
        size_t len = data[off + 1];
        off += 2;
        if (len > size - off)
            len = size - off;
        int dir = ctrl & 1;
        const uint8_t c[4] = {203, 0, 113, (uint8_t)(1 + ((ctrl >> 1) & 7))};
        struct pkt p;
        memset(&p, 0, sizeof(p));
        p.ip_version = 4;
        p.proto = PROTO_TCP;
        now += (ctrl & 0x80) ? 1000000 : 1000;
        p.ts_us = now;
        addr_from_v4(dir == 0 ? &p.src : &p.dst, c);
        addr_from_v4(dir == 0 ? &p.dst : &p.src, s);
        p.sport = dir == 0 ? 40000 : 443;
        p.dport = dir == 0 ? 443 : 40000;
        p.tcp_flags = TCP_ACK | TCP_PSH;
        p.payload = data + off;
        p.payload_len = p.payload_wire_len = (uint32_t)len;
        http_detector.on_packet(det, &p);
        if (ctrl & 0x80)
            http_detector.on_tick(det, now);
        off += len;
    }
    http_detector.on_tick(det, now);
    return 0;
}
