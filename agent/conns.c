/* conns.c — see conns.h. */
#include "agent/conns.h"

#include <stdlib.h>
#include <string.h>

#include "common/hash.h"

/* Low bits of a slot: which side sent a SYN, and data seen. */
#define SYN_LO 0x1u /* from the lower (address, port) of the pair */
#define SYN_HI 0x2u
#define DATA 0x4u
#define DONE 0x8u /* the handshake's last ACK was seen */
#define FLAGS 0xfu
#define USED 0x10u /* part of the tag, so that a used slot is never 0 */

int conns_init(struct conns *c, uint32_t slots, uint64_t seed)
{
    c->slot = calloc(slots, sizeof(*c->slot));
    if (!c->slot)
        return -1;
    c->mask = slots - 1;
    c->seed = seed;
    return 0;
}

void conns_free(struct conns *c)
{
    free(c->slot);
    c->slot = NULL;
}

/* An address's two halves as big-endian numbers: compared as pairs they
 * order addresses as memcmp does, without a call per packet. */
static void addr_words(const struct ipaddr *a, uint64_t w[2])
{
    memcpy(w, a->b, 16);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    w[0] = __builtin_bswap64(w[0]);
    w[1] = __builtin_bswap64(w[1]);
#endif
}

/* The unordered pair's hash; *src_lo: the sender is its lower side. */
static uint64_t pair_hash(const struct conns *c, const struct pkt *p, int *src_lo)
{
    uint64_t s[2], d[2];
    addr_words(&p->src, s);
    addr_words(&p->dst, d);
    *src_lo = s[0] != d[0] ? s[0] < d[0] : s[1] != d[1] ? s[1] < d[1] : p->sport <= p->dport;
    const struct ipaddr *lo = *src_lo ? &p->src : &p->dst, *hi = *src_lo ? &p->dst : &p->src;
    uint16_t lo_port = *src_lo ? p->sport : p->dport, hi_port = *src_lo ? p->dport : p->sport;
    uint64_t w[4];
    memcpy(w, lo->b, 16);
    memcpy(w + 2, hi->b, 16);
    uint64_t h = c->seed ^ ((uint64_t)lo_port << 16 | hi_port);
    h = hash_mix64(h ^ w[0] ^ (w[1] << 1));
    return hash_mix64(h ^ w[2] ^ (w[3] << 1));
}

/* A segment other than a bare SYN: what the slot knew decides. */
__attribute__((noinline)) static void segment(struct pkt *p, uint32_t *s, uint32_t tag, uint8_t f,
                                              int src_lo)
{
    uint32_t syn_mine = src_lo ? SYN_LO : SYN_HI, syn_peer = src_lo ? SYN_HI : SYN_LO;
    uint32_t have = (*s & ~FLAGS) == tag ? *s & FLAGS : 0;
    if (f == (TCP_SYN | TCP_ACK)) {
        /* Answers a SYN seen from the peer, or it was not asked for. */
        p->tcp_in_conn = (have & syn_peer) != 0;
        if (p->tcp_in_conn)
            *s = tag | have | syn_mine;
    } else if (p->payload_wire_len > 0) {
        p->tcp_in_conn = true;
        if (!(have & DATA))
            *s = tag | have | DATA;
    } else {
        /* A bare ACK, FIN, RST ...: of a connection seen, or of none.  The
         * first bare ACK after both SYNs completes the handshake (what
         * tells a connect() scan from a SYN scan). */
        p->tcp_in_conn = have != 0;
        if (f == TCP_ACK && (have & (SYN_LO | SYN_HI | DATA | DONE)) == (SYN_LO | SYN_HI)) {
            p->tcp_handshake_ack = true;
            *s = tag | have | DONE;
        }
    }
}

void conns_packet(struct conns *c, struct pkt *p)
{
    if (p->proto != PROTO_TCP || p->later_fragment || !c->slot)
        return;
    p->conn_checked = true;
    int src_lo;
    uint64_t h = pair_hash(c, p, &src_lo);
    uint32_t *s = &c->slot[(uint32_t)h & c->mask];
    uint32_t tag = ((uint32_t)(h >> 32) & ~FLAGS) | USED;
    uint8_t f = p->tcp_flags & (TCP_SYN | TCP_ACK | TCP_RST);
    if (f == TCP_SYN) {
        /* A new connection (or a retry): forget what the slot knew.  The
         * slot is only written, never read: under a flood from random
         * sources it is a cache miss the CPU need not wait for. */
        p->tcp_in_conn = false;
        *s = tag | (src_lo ? SYN_LO : SYN_HI);
        return;
    }
    segment(p, s, tag, f, src_lo);
}
