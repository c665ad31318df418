/* flood.h — what the flood detector's files share (private to
 * agent/detect/flood*.c): the parameters one rule gives a traffic class,
 * and the judgement and fingerprint a finding carries.
 *
 *   flood.c           rules, classification, decisions, lifecycle
 *   flood_table.c     per-destination windows, baselines, sketches
 *   flood_evidence.c  DoS/DDoS, spoofing, impact and the fingerprint JSON
 */
#ifndef CANH_FLOOD_H
#define CANH_FLOOD_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/detect/flood/flood_table.h"
#include "common/config.h"

struct flood_params {
    struct rule *rule;           /* NULL: the class is not watched */
    const char *kind;            /* "syn_flood" ... */
    double rate_pps;             /* absolute floor, packets per second */
    double bytes_per_s;          /* absolute floor on bytes; 0: none */
    double multiple;             /* and this many times the learned baseline */
    double alpha;                /* baseline EWMA weight of one second */
    double half_open;            /* tcp_syn: at least this share of SYNs never complete */
    double amplification;        /* amplification: bytes out/in when requests are seen */
    double impact_answer_ratio;  /* impact: answers fall below this x normal */
    double dos_share;            /* one source with this share of packets: "dos" */
    double spoof_distinct_ratio; /* distinct sources per packet for "spoofed" */
    uint64_t spoof_max_ttls;     /* ... with this few TTL values, or martians */
    double scan_port_share;      /* one source, top port below this: a scan */
    double capacity_high, capacity_critical; /* share of the asset's capacity */
};

/* The judgement of a finding at one emission. */
struct flood_view {
    bool dos;     /* one source dominates */
    bool spoofed; /* the sources look uniformly random */
    bool answers_known;
    bool impact; /* the victim's answer ratio collapsed */
    double top_src_share, top_port_share;
    double distinct_sources, distinct_ratio;
    double martian_share;
    int ttl_values;
    double answer_ratio;
    double half_open;
    bool has_src, has_port;
    struct ipaddr top_src;
    uint16_t top_port;
};

/* Lower bound of the top source's / port's share of the class's packets
 * since it was last quiet (space-saving count minus its error). */
double flood_top_share(const struct topk *t, uint64_t total, struct topk_item *top);

/* Half-open share of the SYNs in the last second. */
double flood_half_open(const struct flood_dest *d);

/* The victim answers far less than it normally does (architecture §6 impact). */
bool flood_answers_collapsed(const struct flood_dest *d, const struct flood_params *p);

void flood_view_compute(const struct flood_dest *d, enum flood_class c,
                        const struct flood_params *p, struct flood_view *v);

/* The fingerprint (evidence) and counters of the finding of class c. */
json_t *flood_evidence(const struct flood_dest *d, enum flood_class c, const struct flood_params *p,
                       const struct flood_view *v, double capacity_share, uint64_t now_us);
json_t *flood_counters(const struct flood_dest *d, enum flood_class c);

#endif
