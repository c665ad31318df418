/* conns.c — see conns.h. */
#include "agent/conns.h"

#include <stdlib.h>
#include <string.h>

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

/* A segment other than a bare SYN: what the slot knew decides. */
void conns_segment(struct pkt *p, uint32_t *s, uint32_t tag, uint8_t f, int src_lo)
{
    uint32_t syn_mine = src_lo ? CONNS_SYN_LO : CONNS_SYN_HI,
             syn_peer = src_lo ? CONNS_SYN_HI : CONNS_SYN_LO;
    uint32_t have = (*s & ~CONNS_FLAGS) == tag ? *s & CONNS_FLAGS : 0;
    if (f == (TCP_SYN | TCP_ACK)) {
        /* Answers a SYN seen from the peer, or it was not asked for. */
        p->tcp_in_conn = (have & syn_peer) != 0;
        if (p->tcp_in_conn)
            *s = tag | have | syn_mine;
    } else if (p->payload_wire_len > 0) {
        p->tcp_in_conn = true;
        if (!(have & CONNS_DATA))
            *s = tag | have | CONNS_DATA;
    } else {
        /* A bare ACK, FIN, RST ...: of a connection seen, or of none.  The
         * first bare ACK after both SYNs completes the handshake (what
         * tells a connect() scan from a SYN scan). */
        p->tcp_in_conn = have != 0;
        if (f == TCP_ACK && (have & (CONNS_SYN_LO | CONNS_SYN_HI | CONNS_DATA | CONNS_DONE)) ==
                                (CONNS_SYN_LO | CONNS_SYN_HI)) {
            p->tcp_handshake_ack = true;
            *s = tag | have | CONNS_DONE;
        }
    }
}
