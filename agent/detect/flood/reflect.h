/* reflect.h — the reflection/amplification vectors the flood detector
 * names (agent/detect/flood*.c; portscan asks it too, so that a service's
 * replies to ephemeral ports are never UDP probes).
 *
 * The services are data: one table in reflect.c (documented in
 * docs/rules-flood.md), looked up by the source port of a UDP reply
 * through a small hash built once at init.  TCP reflection (unsolicited
 * SYN|ACKs, agent/conns.h) has no table entry: it is keyed by the
 * reflectors' port.
 */
#ifndef CANH_REFLECT_H
#define CANH_REFLECT_H

#include <stdint.h>

#include "agent/pkt.h"

struct reflect_service {
    const char *name; /* evidence "service" */
    uint16_t port;    /* the reflectors' UDP source port */
    /* Distinct reflectors needed before a flood of its replies is
     * reflection: 1 for query services nobody receives in bulk, more for
     * session protocols (a VPN or game server answering one client). */
    uint16_t min_reflectors;
};

extern const struct reflect_service reflect_services[];
extern const int reflect_service_count;

/* Build the port lookup (idempotent). */
void reflect_init(void);
/* Index in reflect_services of a UDP source port, or -1. */
int reflect_udp_index(uint16_t port);

/* TFTP servers answer from a port of their own (RFC 1350), so their
 * reflected answers are known by content: DATA of block 1, a full
 * 512-byte block (the first answer to a read request, resent while no
 * ACK comes).  reflect_services index of "tftp". */
extern int reflect_tftp;

/* The reflect_services index of an inbound UDP packet (not a later
 * fragment): by its source port, else TFTP's by content; -1 if none. */
static inline int reflect_udp_packet(const struct pkt *p)
{
    int i = reflect_udp_index(p->sport);
    if (i >= 0 || p->payload_wire_len != 516 || p->payload_len < 4)
        return i;
    const uint8_t *b = p->payload;
    return b[0] == 0 && b[1] == 3 && b[2] == 0 && b[3] == 1 ? reflect_tftp : -1;
}

/* What a reflected packet was: a UDP service (index) or TCP (port). */
#define REFLECT_KEY_TCP 0x10000u /* | port */
/* Distinct TCP reflectors needed (asymmetric routing makes one server's
 * SYN|ACKs look unsolicited). */
#define REFLECT_TCP_MIN_REFLECTORS 3

#endif
