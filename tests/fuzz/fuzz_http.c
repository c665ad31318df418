/* fuzz_http.c — libFuzzer target for the HTTP parser and the flow
 * reassembly that feeds it.
 *
 * The input is used twice: whole, as a request head, a response head, a
 * chunked body, a multipart body and a gzip/deflate prefix; then cut into
 * TCP segments for the whole http detector (flow.c → http_parse.c →
 * http.c) with the shipped rules.  Each segment record is
 *   ctrl(1) len(1) data(len)
 * where ctrl picks the direction, TCP flags and a sequence offset, so
 * retransmissions, overlaps, reordering, FIN and RST all happen. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "agent/detect/detector.h"
#include "agent/detect/http/http_parse.h"

static void discard_event(void *ctx, struct evt *ev)
{
    (void)ctx;
    /* Touch what an output would read. */
    if (ev->evidence)
        free(json_dumps(ev->evidence, JSON_COMPACT));
}

static void sink(void *ctx, const uint8_t *p, size_t n)
{
    uint64_t *sum = ctx;
    for (size_t i = 0; i < n; i++)
        *sum += p[i];
}

static struct ruleset rules;
static struct assets no_assets;
static struct netset no_home;
static struct detect_env env = {
    .emit = discard_event, .inv = {.assets = &no_assets, .home_net = &no_home}, .hash_seed = 12345};
static void *det;
static z_stream zs;

static void setup(void)
{
    struct cfg_err err;
    if (ruleset_load_file(CANH_SOURCE_RULES_DIR "/http.rules", &rules, &err) < 0)
        abort();
    det = http_detector.init(&rules, &env, &err);
    if (!det)
        abort();
    if (inflateInit2(&zs, 15 + 32) != Z_OK)
        abort();
}

static void parse_whole(const uint8_t *data, size_t size)
{
    struct http_head h;
    http_parse_head(data, size, true, &h);
    http_parse_head(data, size, false, &h);

    struct http_head ch = {.chunked = true};
    struct http_body b;
    uint64_t sum = 0;
    http_body_start(&b, &ch, "GET");
    size_t off = 0;
    while (off < size) {
        long used = http_body_feed(&b, data + off, size - off, sink, &sum);
        if (used <= 0)
            break;
        off += (size_t)used;
    }

    struct http_slice boundary = {(const uint8_t *)"XyZ", 3};
    struct http_part part;
    size_t moff = 0;
    for (int i = 0; i < 64 && http_multipart_next(data, size, boundary, &moff, &part); i++)
        sum += part.data.len + part.filename.len;

    static uint8_t out[8192];
    http_inflate_prefix(&zs, HTTP_CODING_GZIP, data, size, out, sizeof(out));
    http_inflate_prefix(&zs, HTTP_CODING_DEFLATE, data, size, out, sizeof(out));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!det)
        setup();
    parse_whole(data, size);

    static uint16_t client_port = 1024;
    struct pkt p;
    memset(&p, 0, sizeof(p));
    const uint8_t c[4] = {203, 0, 113, 7}, s[4] = {198, 51, 100, 10};
    uint16_t cport = client_port++;
    if (client_port < 1024)
        client_port = 1024;
    uint32_t seq[2] = {1000, 500000}; /* next sequence number each way */
    static uint64_t now = 1700000000ull * 1000000;
    /* Handshake, so most inputs reach the parser in order. */
    for (int dir = 0; dir < 2; dir++) {
        memset(&p, 0, sizeof(p));
        p.ip_version = 4;
        p.proto = PROTO_TCP;
        p.ts_us = now;
        addr_from_v4(dir == 0 ? &p.src : &p.dst, c);
        addr_from_v4(dir == 0 ? &p.dst : &p.src, s);
        p.sport = dir == 0 ? cport : 80;
        p.dport = dir == 0 ? 80 : cport;
        p.tcp_flags = dir == 0 ? TCP_SYN : (TCP_SYN | TCP_ACK);
        p.tcp_seq = seq[dir]++;
        http_detector.on_packet(det, &p);
    }
    size_t off = 0;
    while (off + 2 <= size) {
        uint8_t ctrl = data[off];
        size_t len = data[off + 1];
        off += 2;
        if (len > size - off)
            len = size - off;
        int dir = ctrl & 1;
        memset(&p, 0, sizeof(p));
        p.ip_version = 4;
        p.proto = PROTO_TCP;
        now += (ctrl & 0x80) ? 700000 : 1000;
        p.ts_us = now;
        addr_from_v4(dir == 0 ? &p.src : &p.dst, c);
        addr_from_v4(dir == 0 ? &p.dst : &p.src, s);
        p.sport = dir == 0 ? cport : 80;
        p.dport = dir == 0 ? 80 : cport;
        p.tcp_flags = TCP_ACK;
        if ((ctrl & 0x0e) == 0x0e)
            p.tcp_flags |= TCP_FIN;
        if ((ctrl & 0x7e) == 0x7e)
            p.tcp_flags |= TCP_RST;
        /* bits 4-6: where the segment sits: in order, early, or old. */
        int shift = (ctrl >> 4) & 7;
        int32_t delta = shift == 0 ? 0 : shift < 4 ? shift * 7 : -(shift - 3) * 5;
        p.tcp_seq = seq[dir] + (uint32_t)delta;
        p.payload = data + off;
        p.payload_len = p.payload_wire_len = (uint32_t)len;
        if ((ctrl & 0x06) == 0x04 && len > 1)
            p.payload_wire_len = (uint32_t)len + 10; /* cut by a snaplen */
        if (delta == 0)
            seq[dir] += (uint32_t)len;
        http_detector.on_packet(det, &p);
        if (ctrl & 0x80)
            http_detector.on_tick(det, now);
        off += len;
    }
    http_detector.on_tick(det, now);
    return 0;
}
