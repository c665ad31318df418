/* fuzz_auth.c — libFuzzer target for the auth detector (brute force):
 * its protocol readers (failed-login answers, HTTP login POSTs and their
 * answers) and its tables, with the shipped rules/auth.rules.
 *
 * The input is first read whole by every failed-login reader, then cut
 * into TCP segments, each record
 *   ctrl(1) len(1) data(len)
 * where ctrl picks the direction (bit 0), the service port (bits 1-3),
 * one of four clients (bits 4-5), and a time step (bit 7: 30 s, so long
 * sessions, window turns and ends all happen). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/detect/auth/auth_internal.h"

static void discard_event(void *ctx, struct evt *ev)
{
    (void)ctx;
    if (ev->evidence)
        free(json_dumps(ev->evidence, JSON_COMPACT));
}

static struct ruleset rules;
static struct auth_params params;
static struct assets no_assets;
static struct netset no_home;
static struct detect_env env = {
    .emit = discard_event, .inv = {.assets = &no_assets, .home_net = &no_home}, .hash_seed = 777};
static void *det;

static void setup(void)
{
    struct cfg_err err;
    if (ruleset_load_file(CANH_SOURCE_RULES_DIR "/auth.rules", &rules, &err) < 0)
        abort();
    if (auth_params_load(&rules, &params, &err) < 0)
        abort();
    det = auth_detector.init(&rules, &env, &err);
    if (!det)
        abort();
}

static const uint16_t ports[8] = {22, 21, 80, 3306, 5432, 1433, 143, 110};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!det)
        setup();
    volatile int sum = 0;
    for (int k = 0; k < AUTH_P_COUNT; k++)
        sum += auth_reply_failed((enum auth_proto)k, data, size);
    sum += auth_http_login_post(&params, data, size);
    sum += auth_http_login_failed(&params, data, size);

    static uint64_t now = 1700000000ull * 1000000;
    const uint8_t s[4] = {198, 51, 100, 10};
    size_t off = 0;
    while (off + 2 <= size) {
        uint8_t ctrl = data[off];
        size_t len = data[off + 1];
        off += 2;
        if (len > size - off)
            len = size - off;
        struct pkt p;
        memset(&p, 0, sizeof(p));
        p.ip_version = 4;
        p.proto = PROTO_TCP;
        now += (ctrl & 0x80) ? 30000000 : 1000;
        p.ts_us = now;
        const uint8_t c[4] = {203, 0, 113, (uint8_t)(7 + ((ctrl >> 4) & 3))};
        int to_server = !(ctrl & 1);
        uint16_t port = ports[(ctrl >> 1) & 7];
        uint16_t cport = (uint16_t)(40000 + (ctrl & 0x40 ? 1 : 0));
        addr_from_v4(to_server ? &p.src : &p.dst, c);
        addr_from_v4(to_server ? &p.dst : &p.src, s);
        p.sport = to_server ? cport : port;
        p.dport = to_server ? port : cport;
        p.tcp_flags = TCP_ACK | TCP_PSH;
        p.payload = data + off;
        p.payload_len = p.payload_wire_len = (uint32_t)len;
        auth_detector.on_packet(det, &p);
        off += len;
        if (ctrl & 0x80)
            auth_detector.on_tick(det, now);
    }
    (void)sum;
    return 0;
}
