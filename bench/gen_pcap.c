/* gen_pcap.c — synthetic captures for the benchmarks.
 *
 *   bench-gen-pcap MODE PACKETS OUT.pcap
 *
 * MODE:
 *   mixed     web clients and servers with handshakes, data and answers,
 *             DNS and ICMP, 10% of packets HTTP requests/responses, and a
 *             handful of SYN scanners
 *   scanners  5,000 sources each SYN-scanning 64 ports of the agency's
 *             hosts, over mixed background traffic
 *   spoofed   a SYN flood to one server from uniformly random sources
 *             (1,000,000 packets = about 1,000,000 distinct sources)
 *
 * Addresses: agency 198.51.100.0/24, outside 203.0.113.0/24 and random.
 * Deterministic (fixed seed) so runs compare. */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

static uint16_t csum(const uint8_t *p, size_t n)
{
    uint32_t s = 0;
    for (size_t i = 0; i + 1 < n; i += 2)
        s += (uint32_t)(p[i] << 8 | p[i + 1]);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

struct gen {
    pcap_dumper_t *out;
    uint64_t ts_us;
    uint64_t step_us;
    uint64_t written;
};

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

/* One Ethernet/IPv4 frame with a TCP, UDP or ICMP header and payload. */
static void emit(struct gen *g, uint32_t src, uint32_t dst, uint8_t proto, uint16_t sport,
                 uint16_t dport, uint8_t flags, const char *payload, size_t plen)
{
    uint8_t f[1600];
    memset(f, 0, 54);
    memcpy(f, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00", 14);
    uint8_t *ip = f + 14;
    size_t l4len = proto == 6 ? 20 : 8;
    size_t total = 20 + l4len + plen;
    ip[0] = 0x45;
    put16(ip + 2, (uint16_t)total);
    put16(ip + 4, (uint16_t)rnd());
    ip[8] = 64;
    ip[9] = proto;
    put32(ip + 12, src);
    put32(ip + 16, dst);
    put16(ip + 10, csum(ip, 20));
    uint8_t *l4 = ip + 20;
    if (proto == 6) {
        put16(l4, sport);
        put16(l4 + 2, dport);
        put32(l4 + 4, rnd());
        put32(l4 + 8, flags & 0x10 ? rnd() : 0);
        l4[12] = 0x50;
        l4[13] = flags;
        put16(l4 + 14, 64240);
    } else if (proto == 17) {
        put16(l4, sport);
        put16(l4 + 2, dport);
        put16(l4 + 4, (uint16_t)(8 + plen));
    } else {
        l4[0] = (uint8_t)sport; /* ICMP type */
        l4[1] = 0;
        put16(l4 + 4, (uint16_t)rnd());
    }
    memcpy(l4 + l4len, payload, plen);
    struct pcap_pkthdr h;
    h.ts.tv_sec = (time_t)(g->ts_us / 1000000);
    h.ts.tv_usec = (suseconds_t)(g->ts_us % 1000000);
    h.caplen = h.len = (bpf_u_int32)(14 + total);
    pcap_dump((u_char *)g->out, &h, f);
    g->ts_us += g->step_us;
    g->written++;
}

#define AGENCY 0xc6336400u  /* 198.51.100.0 */
#define OUTSIDE 0xcb007100u /* 203.0.113.0 */

static const char http_req[] = "GET /news/today.html HTTP/1.1\r\nHost: portal.example\r\n"
                               "User-Agent: Mozilla/5.0\r\nAccept: text/html\r\n\r\n";
static const char http_resp[] = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                                "Content-Length: 120\r\n\r\n<html><head><title>Portal</title>"
                                "</head><body>Tin tuc hom nay</body></html>";
static const char dns_q[] = "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x06portal\x07"
                            "example\x00\x00\x01\x00\x01";
static char bulk[1200];

/* One background "conversation" step: a short web exchange, DNS or ping
 * between one of 2,000 clients and 20 servers. */
static void background(struct gen *g)
{
    uint32_t c = rnd() % 2000;
    uint32_t client = c < 250 ? OUTSIDE + 1 + c : 0x0a000000u + c;
    /* Each client uses one or two of the agency's servers, as people do;
     * none visits all twenty. */
    uint32_t server = AGENCY + 10 + (rnd() % 10 ? c % 20 : (c + 1) % 20);
    uint16_t cport = (uint16_t)(32768 + rnd() % 28000);
    uint32_t r = rnd() % 100;
    if (r < 10) {
        /* HTTP: request and response (10% of packets carry HTTP). */
        emit(g, client, server, 6, cport, 80, 0x18, http_req, sizeof(http_req) - 1);
        emit(g, server, client, 6, 80, cport, 0x18, http_resp, sizeof(http_resp) - 1);
    } else if (r < 70) {
        /* Established bulk data and ACKs on 443. */
        emit(g, server, client, 6, 443, cport, 0x10, bulk, sizeof(bulk));
        emit(g, client, server, 6, cport, 443, 0x10, NULL, 0);
    } else if (r < 85) {
        emit(g, client, server, 6, cport, 443, 0x02, NULL, 0);
        emit(g, server, client, 6, 443, cport, 0x12, NULL, 0);
        emit(g, client, server, 6, cport, 443, 0x10, NULL, 0);
    } else if (r < 97) {
        emit(g, server, 0x08080808u, 17, cport, 53, 0, dns_q, sizeof(dns_q) - 1);
        emit(g, 0x08080808u, server, 17, 53, cport, 0, dns_q, sizeof(dns_q) - 1);
    } else {
        emit(g, client, server, 1, 8, 0, 0, "pingpingpingping", 16);
        emit(g, server, client, 1, 0, 0, 0, "pingpingpingping", 16);
    }
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: bench-gen-pcap mixed|scanners|spoofed PACKETS OUT.pcap\n");
        return 2;
    }
    const char *mode = argv[1];
    uint64_t target = strtoull(argv[2], NULL, 10);
    pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
    struct gen g = {.ts_us = 1763856000ull * 1000000, .step_us = 10};
    g.out = pcap_dump_open(dead, argv[3]);
    if (!g.out) {
        fprintf(stderr, "bench-gen-pcap: %s\n", pcap_geterr(dead));
        return 1;
    }
    memset(bulk, 'x', sizeof(bulk));
    if (strcmp(mode, "mixed") == 0) {
        while (g.written < target) {
            background(&g);
            /* A few scanners sweep through the background. */
            if (rnd() % 1000 == 0)
                emit(&g, OUTSIDE + 200 + rnd() % 5, AGENCY + 10 + rnd() % 3, 6,
                     (uint16_t)(40000 + rnd() % 100), (uint16_t)(1 + rnd() % 1024), 0x02, NULL, 0);
        }
    } else if (strcmp(mode, "scanners") == 0) {
        /* 5,000 scanners x 64 ports, interleaved with as much background. */
        const uint32_t scanners = 5000, ports = 64;
        uint64_t probes = (uint64_t)scanners * ports;
        for (uint64_t i = 0; g.written < target; i++) {
            if (i < probes) {
                uint32_t s = (uint32_t)(i % scanners), port = (uint32_t)(i / scanners);
                uint32_t src = 0x64400000u + s; /* 100.64.0.0/10 scanners */
                emit(&g, src, AGENCY + 10 + s % 20, 6, 40000, (uint16_t)(1 + port * 7), 0x02, NULL,
                     0);
            }
            background(&g);
        }
    } else if (strcmp(mode, "spoofed") == 0) {
        g.step_us = 1; /* 1 Mpps */
        while (g.written < target)
            emit(&g, rnd() | 0x01000000u, AGENCY + 10, 6, (uint16_t)rnd(), 80, 0x02, NULL, 0);
    } else {
        fprintf(stderr, "bench-gen-pcap: unknown mode '%s'\n", mode);
        return 2;
    }
    pcap_dump_close(g.out);
    pcap_close(dead);
    printf("%s: %llu packets\n", argv[3], (unsigned long long)g.written);
    return 0;
}
