/* outward.h — floods an agency host sends (issue 12 item 7; private to
 * agent/detect/flood*.c).
 *
 * Roles swapped: a protected host that sends SYNs, UDP or ICMP echo
 * requests to one unprotected target at a flood class's floor (`rate` of
 * syn_flood, udp_flood, icmp_flood) is an infected host used to attack
 * others, reported as that class's kind with taxonomy attack.malware,
 * the inside host as src_ip and the target as dest_ip.  The state lives
 * in the sender's own entry of the flood table (the one its received
 * traffic already keeps), so a packet of normal traffic costs a few
 * compares and one counter; nothing is kept per outside address.
 */
#ifndef CANH_FLOOD_OUTWARD_H
#define CANH_FLOOD_OUTWARD_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/detect/finding.h"
#include "agent/pkt.h"
#include "common/addr.h"

struct flood_params;
struct flood_dest;
struct flood_table;
struct detect_env;
struct taxonomy;

/* Per protected host: this second's outward counts and the majority
 * target (Boyer-Moore vote), and the open outward finding. */
struct flood_outward {
    uint64_t sec;
    uint32_t cur[4];    /* packets this second, by class (SYN, -, UDP, ICMP) */
    int32_t vote;       /* the candidate's lead over every other target */
    struct ipaddr cand; /* the candidate target this second */
    uint16_t cand_port; /* its port (0 for ICMP) */
    int8_t cand_class;  /* its enum flood_class */
    int8_t cls;         /* the open finding's class */
    struct finding_life life;
    struct ipaddr target;
    uint16_t target_port;
    uint64_t pkts, bytes, emitted_pkts;
    uint32_t peak_pps;
};

/* The outward detector's share of struct flood. */
struct flood_outward_det {
    struct flood_table *table;
    const struct flood_params *p;           /* the flood rules, by enum flood_class */
    const struct flood_params *reload_next; /* the new rules, during a reload */
    const struct detect_env *env;
    const struct taxonomy *malware;
    struct finding_source findings;
    struct finding_counts counts;
    uint64_t packets, allowed;
};

void flood_outward_init(struct flood_outward_det *o, struct flood_table *t,
                        const struct flood_params *p, const struct detect_env *env);

/* The flood class of a packet a protected host sends to an unprotected
 * address, if it is one an outward flood is made of: a bare SYN, UDP, an
 * ICMP echo request; else -1 (FLOOD_NONE).  The values are
 * FLOOD_TCP_SYN, FLOOD_UDP and FLOOD_ICMP (checked in outward.c). */
static inline int flood_outward_class(const struct pkt *p)
{
    if (p->later_fragment)
        return -1;
    switch (p->proto) {
    case PROTO_TCP:
        return (p->tcp_flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN ? 0 : -1;
    case PROTO_UDP:
        return 2;
    case PROTO_ICMP:
        return p->icmp_type == 8 ? 3 : -1;
    case PROTO_ICMPV6:
        return p->icmp_type == 128 ? 3 : -1;
    default:
        return -1;
    }
}

/* Count one such packet (class c) of the host whose entry is d (advanced
 * to the packet's time); may open the finding. */
void flood_outward_count(struct flood_outward_det *o, struct flood_dest *d, int c,
                         const struct pkt *p);

/* The host's entry is given up (eviction): end its open finding. */
void flood_outward_end(struct flood_outward_det *o, struct flood_dest *d, uint64_t now_us);

/* Reload: an open finding whose class is no longer watched in next ends
 * now, under its old rule. */
void flood_outward_reload(struct flood_outward_det *o, const struct flood_params *next,
                          uint64_t now_us);

void flood_outward_stats(const struct flood_outward_det *o, json_t *out);

#endif
