/* conns.h — which TCP segments belong to a connection (architecture §4.4,
 * the step after classify).
 *
 * Scan detectors must not take the ACKs and FIN|ACKs of real connections
 * for probes, and the flood detector must tell a SYN|ACK answering a SYN
 * from one nobody asked for (TCP reflection).  conns_packet() answers
 * both once per TCP segment, from one fixed-size, seeded, direct-mapped
 * table of connections: a slot is a 32-bit tag of the unordered 4-tuple
 * and which side sent a SYN, or that data was seen.  A SYN, a SYN|ACK or a
 * segment with data writes its slot; a colliding connection overwrites an
 * older one (the table forgets, it never grows and never allocates after
 * init).  A connection that was open before the agent started is learnt
 * from its first data segment.
 */
#ifndef CANH_CONNS_H
#define CANH_CONNS_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "agent/pkt.h"
#include "common/hash.h"

#define CONNS_DEFAULT_SLOTS 65536u /* 256 KiB */

struct conns {
    uint32_t *slot;
    uint32_t mask;
    uint64_t seed;
};

/* slots: a power of two.  -1 when out of memory. */
int conns_init(struct conns *c, uint32_t slots, uint64_t seed);
void conns_free(struct conns *c);

/* Low bits of a slot: which side sent a SYN, and data seen. */
#define CONNS_SYN_LO 0x1u /* from the lower (address, port) of the pair */
#define CONNS_SYN_HI 0x2u
#define CONNS_DATA 0x4u
#define CONNS_DONE 0x8u /* the handshake's last ACK was seen */
#define CONNS_FLAGS 0xfu
#define CONNS_USED 0x10u /* part of the tag, so that a used slot is never 0 */

/* A segment other than a bare SYN (conns_packet): what the slot knew
 * decides.  Out of line, as the rarer case under a flood. */
void conns_segment(struct pkt *p, uint32_t *slot, uint32_t tag, uint8_t flags, int src_lo);

/* One address folded to a word for the pair's hash. */
static inline uint64_t conns_addr_fold(const struct ipaddr *a)
{
    uint64_t w[2];
    memcpy(w, a->b, 16);
    return w[0] ^ (w[1] << 1);
}

/* Is a before b, ordered as memcmp orders them?  Their two halves as
 * big-endian numbers, without a call per packet. */
static inline bool conns_addr_before(const struct ipaddr *a, const struct ipaddr *b, bool equal)
{
    uint64_t x[2], y[2];
    memcpy(x, a->b, 16);
    memcpy(y, b->b, 16);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    x[0] = __builtin_bswap64(x[0]);
    x[1] = __builtin_bswap64(x[1]);
    y[0] = __builtin_bswap64(y[0]);
    y[1] = __builtin_bswap64(y[1]);
#endif
    return x[0] != y[0] ? x[0] < y[0] : x[1] != y[1] ? x[1] < y[1] : equal;
}

/* The unordered pair's hash, its lower (address, port) side first;
 * *src_lo: the source is that side. */
static inline uint64_t conns_hash(const struct conns *c, const struct pkt *p, int *src_lo)
{
    int lo = conns_addr_before(&p->src, &p->dst, p->sport <= p->dport);
    uint64_t src = conns_addr_fold(&p->src), dst = conns_addr_fold(&p->dst);
    uint64_t ports = lo ? (uint64_t)p->sport << 16 | p->dport : (uint64_t)p->dport << 16 | p->sport;
    uint64_t h = hash_mix64(c->seed ^ ports ^ (lo ? src : dst));
    *src_lo = lo;
    return hash_mix64(h ^ (lo ? dst : src));
}

/* Ask the CPU for the slot conns_packet will write for p. */
static inline void conns_prefetch(const struct conns *c, const struct pkt *p)
{
    if (p->proto != PROTO_TCP || p->later_fragment || !c->slot)
        return;
    int src_lo;
    __builtin_prefetch(&c->slot[(uint32_t)conns_hash(c, p, &src_lo) & c->mask], 1);
}

/* Set p->conn_checked and p->tcp_in_conn for a TCP segment (see pkt.h).
 * Inline, for the pipeline's loop: a flood's SYNs take only this. */
static inline void conns_packet(struct conns *c, struct pkt *p)
{
    if (p->proto != PROTO_TCP || p->later_fragment || !c->slot)
        return;
    p->conn_checked = true;
    int src_lo;
    uint64_t h = conns_hash(c, p, &src_lo);
    uint32_t *s = &c->slot[(uint32_t)h & c->mask];
    uint32_t tag = ((uint32_t)(h >> 32) & ~CONNS_FLAGS) | CONNS_USED;
    uint8_t f = p->tcp_flags & (TCP_SYN | TCP_ACK | TCP_RST);
    if (f == TCP_SYN) {
        /* A new connection (or a retry): forget what the slot knew.  The
         * slot is only written, never read: under a flood from random
         * sources it is a cache miss the CPU need not wait for. */
        p->tcp_in_conn = false;
        *s = tag | (src_lo ? CONNS_SYN_LO : CONNS_SYN_HI);
        return;
    }
    conns_segment(p, s, tag, f, src_lo);
}

#endif
