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

#include <stdint.h>

#include "agent/pkt.h"

#define CONNS_DEFAULT_SLOTS 65536u /* 256 KiB */

struct conns {
    uint32_t *slot;
    uint32_t mask;
    uint64_t seed;
};

/* slots: a power of two.  -1 when out of memory. */
int conns_init(struct conns *c, uint32_t slots, uint64_t seed);
void conns_free(struct conns *c);

/* Set p->conn_checked and p->tcp_in_conn for a TCP segment (see pkt.h). */
void conns_packet(struct conns *c, struct pkt *p);

#endif
