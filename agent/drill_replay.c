/* drill_replay.c — see drill_replay.h. */
#include "agent/drill_replay.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/capture.h"

#define DRILL_MAX_TARGETS 256
/* The scenario library's victim network, 198.51.100.0/24 (TEST-NET-2). */
static const uint8_t victim_net[3] = {198, 51, 100};

struct drill_replay {
    uint8_t targets[DRILL_MAX_TARGETS][4];
    size_t n_targets;
    int64_t shift_us; /* added to every packet time */
    uint64_t rewritten;
    uint8_t *buf; /* CAPTURE_MAX_WIRELEN bytes */
};

/* The first IPv4 host of each asset, in assets.conf order. */
static void collect_targets(struct drill_replay *d, const struct assets *assets)
{
    for (size_t i = 0; i < assets->n && d->n_targets < DRILL_MAX_TARGETS; i++) {
        const struct netset *s = &assets->v[i].addresses;
        for (size_t j = 0; j < s->n; j++) {
            const struct cidr *c = &s->v[j];
            if (!addr_is_v4(&c->net))
                continue;
            uint8_t *t = d->targets[d->n_targets++];
            memcpy(t, c->net.b + 12, 4);
            if (c->bits < 128) { /* a network: its first host */
                uint32_t a =
                    (uint32_t)t[0] << 24 | (uint32_t)t[1] << 16 | (uint32_t)t[2] << 8 | t[3];
                a++;
                t[0] = (uint8_t)(a >> 24);
                t[1] = (uint8_t)(a >> 16);
                t[2] = (uint8_t)(a >> 8);
                t[3] = (uint8_t)a;
            }
            break;
        }
    }
}

static int scan_times(const char *capture, uint64_t *first_us, uint64_t *last_us, char *why,
                      size_t why_len)
{
    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(capture, errbuf);
    if (!p) {
        snprintf(why, why_len, "--drill-replay %s: %s", capture, errbuf);
        return -1;
    }
    struct pcap_pkthdr *h;
    const u_char *data;
    *first_us = *last_us = 0;
    while (pcap_next_ex(p, &h, &data) == 1) {
        uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
        if (!*first_us)
            *first_us = ts;
        if (ts > *last_us)
            *last_us = ts;
    }
    pcap_close(p);
    if (!*first_us) {
        snprintf(why, why_len, "--drill-replay %s: the capture has no packets", capture);
        return -1;
    }
    return 0;
}

struct drill_replay *drill_replay_new(const char *capture, const struct assets *assets,
                                      uint64_t now_us, char *why, size_t why_len)
{
    uint64_t first_us, last_us;
    if (scan_times(capture, &first_us, &last_us, why, why_len) < 0)
        return NULL;
    struct drill_replay *d = calloc(1, sizeof(*d));
    if (!d || !(d->buf = malloc(CAPTURE_MAX_WIRELEN))) {
        free(d);
        snprintf(why, why_len, "out of memory");
        return NULL;
    }
    collect_targets(d, assets);
    if (!d->n_targets) {
        snprintf(why, why_len,
                 "--drill-replay: assets.conf declares no asset with an IPv4 address to play the "
                 "scenario's targets (docs/drills.md)");
        drill_replay_free(d);
        return NULL;
    }
    d->shift_us = (int64_t)now_us - (int64_t)last_us;
    return d;
}

/* RFC 1624 incremental update of the checksum at sum for 4 bytes changed
 * from old to new. */
static void checksum_replace4(uint8_t *sum, const uint8_t *old, const uint8_t *new_)
{
    uint32_t acc = (uint16_t) ~(sum[0] << 8 | sum[1]);
    for (int i = 0; i < 4; i += 2) {
        acc += (uint16_t) ~(old[i] << 8 | old[i + 1]);
        acc += (uint16_t)(new_[i] << 8 | new_[i + 1]);
    }
    while (acc >> 16)
        acc = (acc & 0xffff) + (acc >> 16);
    acc = ~acc & 0xffff;
    sum[0] = (uint8_t)(acc >> 8);
    sum[1] = (uint8_t)acc;
}

/* The asset address that plays victim addr, or NULL when addr is no victim. */
static const uint8_t *target_of(const struct drill_replay *d, const uint8_t *addr)
{
    if (memcmp(addr, victim_net, 3) != 0)
        return NULL;
    return d->targets[addr[3] % d->n_targets];
}

/* Rewrites the victim addresses of the IPv4 packet at ip (len bytes). */
static bool rewrite_ipv4(struct drill_replay *d, uint8_t *ip, size_t len)
{
    if (len < 20 || ip[0] >> 4 != 4)
        return false;
    size_t ihl = (size_t)(ip[0] & 0x0f) * 4;
    if (ihl < 20 || ihl > len)
        return false;
    bool first_fragment = ((ip[6] & 0x1f) << 8 | ip[7]) == 0;
    uint8_t *l4_sum = NULL;
    if (first_fragment && ip[9] == 6 && len >= ihl + 18)
        l4_sum = ip + ihl + 16;
    else if (first_fragment && ip[9] == 17 && len >= ihl + 8 && (ip[ihl + 6] | ip[ihl + 7]))
        l4_sum = ip + ihl + 6;
    bool changed = false;
    for (int at = 12; at <= 16; at += 4) {
        const uint8_t *to = target_of(d, ip + at);
        if (!to)
            continue;
        checksum_replace4(ip + 10, ip + at, to);
        if (l4_sum)
            checksum_replace4(l4_sum, ip + at, to);
        memcpy(ip + at, to, 4);
        changed = true;
    }
    return changed;
}

/* ARP for IPv4 over Ethernet: sender and target protocol addresses. */
static bool rewrite_arp(struct drill_replay *d, uint8_t *arp, size_t len)
{
    if (len < 28 || arp[4] != 6 || arp[5] != 4)
        return false;
    bool changed = false;
    for (int at = 14; at <= 24; at += 10) {
        const uint8_t *to = target_of(d, arp + at);
        if (to) {
            memcpy(arp + at, to, 4);
            changed = true;
        }
    }
    return changed;
}

static bool rewrite(struct drill_replay *d, int dlt, uint8_t *f, size_t len)
{
    size_t off;
    unsigned type;
    switch (dlt) {
    case DLT_EN10MB:
        if (len < 14)
            return false;
        off = 12;
        type = (unsigned)f[off] << 8 | f[off + 1];
        while ((type == 0x8100 || type == 0x88a8) && len >= off + 6) {
            off += 4;
            type = (unsigned)f[off] << 8 | f[off + 1];
        }
        off += 2;
        break;
    case DLT_LINUX_SLL:
        if (len < 16)
            return false;
        off = 16;
        type = (unsigned)f[14] << 8 | f[15];
        break;
    case DLT_RAW:
        off = 0;
        type = 0x0800;
        break;
    default:
        return false; /* played as captured */
    }
    if (off > len)
        return false;
    if (type == 0x0800)
        return rewrite_ipv4(d, f + off, len - off);
    if (type == 0x0806)
        return rewrite_arp(d, f + off, len - off);
    return false;
}

const uint8_t *drill_replay_frame(struct drill_replay *d, int dlt, const struct pcap_pkthdr *h,
                                  const uint8_t *frame, struct pcap_pkthdr *out_h)
{
    *out_h = *h;
    int64_t ts = (int64_t)h->ts.tv_sec * 1000000 + h->ts.tv_usec + d->shift_us;
    if (ts < 0)
        ts = 0;
    out_h->ts.tv_sec = (time_t)(ts / 1000000);
    out_h->ts.tv_usec = (suseconds_t)(ts % 1000000);
    size_t len = h->caplen < CAPTURE_MAX_WIRELEN ? h->caplen : CAPTURE_MAX_WIRELEN;
    out_h->caplen = (bpf_u_int32)len;
    memcpy(d->buf, frame, len);
    if (rewrite(d, dlt, d->buf, len))
        d->rewritten++;
    return d->buf;
}

uint64_t drill_replay_rewritten(const struct drill_replay *d)
{
    return d->rewritten;
}

void drill_replay_free(struct drill_replay *d)
{
    if (!d)
        return;
    free(d->buf);
    free(d);
}
