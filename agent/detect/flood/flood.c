/* flood.c — the DoS/DDoS detector (architecture §4.3 `flood`, issue 3).
 *
 * Per protected destination, packets are sorted into traffic classes (TCP
 * SYN, other TCP, UDP, ICMP/ICMPv6, IP fragments, and reflection: UDP
 * replies from the reflector services of reflect.c, and SYN|ACKs that
 * answer no SYN the destination sent, agent/conns.h) and counted in a
 * one-second sliding window.  A class
 * floods when its rate is over the rule's absolute floor AND over a multiple
 * of its learned baseline, and the traffic does not look like what a busy
 * but healthy service sees: SYNs must mostly stay half-open, service
 * replies must not be answers to the victim's own requests, and one source
 * spraying many ports is a scan, left to the portscan detector.  The check
 * runs on every packet of the class, so a flood is reported as soon as one
 * second's worth of it has been seen; ticks only age findings (update, end).
 *
 * One attack is one finding per (destination, class), with the lifecycle of
 * agent/detect/finding.h, whose walk ticks, flushes and reloads them.
 * State is fixed at init (flood_table.c); sources exist only in sketches.
 * The judgement and fingerprint are in flood_evidence.c.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "agent/detect/detector.h"
#include "agent/detect/flood/flood.h"
#include "agent/detect/flood/outward.h"
#include "agent/detect/flood/reflect.h"
#include "common/log.h"
#include "common/units.h"

#define DEFAULT_DESTINATIONS 512
#define DEFAULT_HANDSHAKES 65536
#define DEFAULT_TOP 8

struct flood {
    struct detect_env env;
    struct flood_params p[FLOOD_CLASS_COUNT];
    struct flood_learn learn[FLOOD_CLASS_COUNT];
    /* Per class, its rule's allow list when the rule is on and the list
     * not empty, else NULL: one load per packet instead of three. */
    const struct netset *allow[FLOOD_CLASS_COUNT];
    struct flood_table table;
    const struct taxonomy *dos;
    uint64_t now_us;
    struct finding_source findings; /* open (destination, class) findings, for finding.h */
    const struct flood_params *reload_params; /* the new rules, during a reload */
    struct flood_outward_det outward;         /* floods protected hosts send (outward.c) */
    /* stats */
    struct finding_counts counts;
    uint64_t packets, allowed, scan_like, evicted_open, unrequested_skips, few_reflector_skips;
};

/* ---- rules ------------------------------------------------------------------- */

struct class_defaults {
    const char *class_name; /* value of "class =" */
    const char *kind;       /* finding kind and default section name */
    double rate_pps;
};

static const struct class_defaults class_defaults[FLOOD_CLASS_COUNT] = {
    [FLOOD_TCP_SYN] = {"tcp_syn", "syn_flood", 1000},
    [FLOOD_TCP_OTHER] = {"tcp_other", "tcp_flood", 20000},
    [FLOOD_UDP] = {"udp", "udp_flood", 2000},
    [FLOOD_ICMP] = {"icmp", "icmp_flood", 1000},
    [FLOOD_FRAGMENT] = {"fragment", "fragment_flood", 1000},
    [FLOOD_AMPLIFICATION] = {"amplification", "amplification", 500},
};

struct table_sizes {
    uint64_t destinations, handshakes, top;
};

static int class_of_rule(struct rule *r, enum flood_class *out, struct cfg_err *err)
{
    const char *name = rule_get_string(r, "class");
    for (int c = 0; c < FLOOD_CLASS_COUNT; c++) {
        if ((name && strcmp(name, class_defaults[c].class_name) == 0) ||
            (!name && strcmp(r->name, class_defaults[c].kind) == 0)) {
            *out = (enum flood_class)c;
            return 0;
        }
    }
    if (name)
        return cfg_fail(err, r->file, rule_key_line(r, "class"),
                        "class: '%s' is not one of tcp_syn, tcp_other, udp, icmp, fragment, "
                        "amplification",
                        name);
    return cfg_fail(err, r->file, r->line,
                    "[%s]: flood rule without class (add class = tcp_syn|tcp_other|udp|icmp|"
                    "fragment|amplification)",
                    r->name);
}

/* "12MB/s", "12MB" (per second either way); 0 when absent. */
static int get_bytes_rate(struct rule *r, double *out, struct cfg_err *err)
{
    const char *text = rule_get_string(r, "bytes_rate");
    *out = 0;
    if (!text)
        return 0;
    char buf[64];
    size_t len = strlen(text);
    if (len >= sizeof(buf))
        goto bad;
    memcpy(buf, text, len + 1);
    if (len > 2 && strcmp(buf + len - 2, "/s") == 0)
        buf[len - 2] = '\0';
    uint64_t bytes;
    if (units_parse_size_bytes(buf, &bytes) < 0 || bytes == 0)
        goto bad;
    *out = (double)bytes;
    return 0;
bad:
    return cfg_fail(err, r->file, rule_key_line(r, "bytes_rate"),
                    "bytes_rate: '%s' is not a size per second (e.g. 20MB/s)", text);
}

static int parse_rule(struct rule *r, struct flood_params *p, struct table_sizes *sizes,
                      enum flood_class *cls, struct cfg_err *err)
{
    enum flood_class c = FLOOD_TCP_SYN; /* set by class_of_rule on success */
    uint64_t halflife_us, dest, hs, top;
    if (class_of_rule(r, &c, err) < 0)
        return -1;
    memset(p, 0, sizeof(*p));
    p->kind = class_defaults[c].kind;
    if (rule_get_rate(r, "rate", class_defaults[c].rate_pps, &p->rate_pps, err) < 0 ||
        get_bytes_rate(r, &p->bytes_per_s, err) < 0 ||
        rule_get_multiple(r, "baseline_multiple", 4.0, &p->multiple, err) < 0 ||
        rule_get_duration(r, "baseline_halflife", 600ull * 1000000, &halflife_us, err) < 0 ||
        rule_get_ratio(r, "half_open", c == FLOOD_TCP_SYN ? 0.7 : 0, &p->half_open, err) < 0 ||
        rule_get_multiple(r, "amplification", 5.0, &p->amplification, err) < 0 ||
        rule_get_ratio(r, "impact_answer_ratio", 0.25, &p->impact_answer_ratio, err) < 0 ||
        rule_get_ratio(r, "dos_share", 0.5, &p->dos_share, err) < 0 ||
        rule_get_ratio(r, "spoof_distinct_ratio", 0.5, &p->spoof_distinct_ratio, err) < 0 ||
        rule_get_count(r, "spoof_max_ttls", 4, 0, 256, &p->spoof_max_ttls, err) < 0 ||
        rule_get_ratio(r, "scan_port_share", 0.05, &p->scan_port_share, err) < 0 ||
        rule_get_ratio(r, "capacity_high", 0.5, &p->capacity_high, err) < 0 ||
        rule_get_ratio(r, "capacity_critical", 0.9, &p->capacity_critical, err) < 0 ||
        rule_get_count(r, "destinations", DEFAULT_DESTINATIONS, 4, 1u << 20, &dest, err) < 0 ||
        rule_get_count(r, "handshakes", DEFAULT_HANDSHAKES, 256, 1u << 24, &hs, err) < 0 ||
        rule_get_count(r, "top", DEFAULT_TOP, 1, 64, &top, err) < 0)
        return -1;
    if (p->rate_pps <= 0)
        return cfg_fail(err, r->file, rule_key_line(r, "rate"), "rate: must be above 0/s");
    if (p->multiple < 1)
        return cfg_fail(err, r->file, rule_key_line(r, "baseline_multiple"),
                        "baseline_multiple: must be at least 1");
    if (halflife_us < 1000000)
        return cfg_fail(err, r->file, rule_key_line(r, "baseline_halflife"),
                        "baseline_halflife: must be at least 1s");
    if (p->capacity_critical < p->capacity_high)
        return cfg_fail(err, r->file, rule_key_line(r, "capacity_critical"),
                        "capacity_critical: must not be below capacity_high");
    /* One second's weight in an EWMA that halves an old value per half-life. */
    p->alpha = 1.0 - pow(0.5, 1e6 / (double)halflife_us);
    p->rule = r->enabled ? r : NULL;
    if (dest > sizes->destinations)
        sizes->destinations = dest;
    if (hs > sizes->handshakes)
        sizes->handshakes = hs;
    if (top > sizes->top)
        sizes->top = top;
    *cls = c;
    return 0;
}

static int parse_rules(struct ruleset *rules, struct flood_params params[FLOOD_CLASS_COUNT],
                       struct table_sizes *sizes, struct cfg_err *err)
{
    struct rule *seen[FLOOD_CLASS_COUNT] = {0};
    size_t cursor = 0;
    struct rule *r;
    memset(params, 0, sizeof(struct flood_params) * FLOOD_CLASS_COUNT);
    sizes->destinations = sizes->handshakes = sizes->top = 0;
    while ((r = ruleset_next(rules, "flood", &cursor)) != NULL) {
        struct flood_params p;
        enum flood_class c = FLOOD_TCP_SYN; /* set by parse_rule on success */
        if (parse_rule(r, &p, sizes, &c, err) < 0)
            return -1;
        if (seen[c])
            return cfg_fail(err, r->file, r->line,
                            "[%s]: class %s is already watched by [%s] (%s:%d); one rule a class",
                            r->name, class_defaults[c].class_name, seen[c]->name, seen[c]->file,
                            seen[c]->line);
        seen[c] = r;
        params[c] = p;
    }
    if (!sizes->destinations)
        sizes->destinations = DEFAULT_DESTINATIONS;
    if (!sizes->handshakes)
        sizes->handshakes = DEFAULT_HANDSHAKES;
    if (!sizes->top)
        sizes->top = DEFAULT_TOP;
    return 0;
}

static void set_learning(struct flood *f)
{
    for (int c = 0; c < FLOOD_CLASS_COUNT; c++) {
        f->learn[c].watched = f->p[c].rule != NULL;
        f->learn[c].rate_pps = f->p[c].rate_pps;
        f->learn[c].alpha = f->p[c].alpha;
        f->learn[c].hold_down_us = f->p[c].rule ? f->p[c].rule->hold_down_us : 0;
        f->allow[c] = f->p[c].rule && f->p[c].rule->allow.n ? &f->p[c].rule->allow : NULL;
    }
}

/* ---- emission ------------------------------------------------------------------ */

static uint8_t class_proto(enum flood_class c, const struct ipaddr *dst)
{
    switch (c) {
    case FLOOD_TCP_SYN:
    case FLOOD_TCP_OTHER:
        return PROTO_TCP;
    case FLOOD_UDP:
    case FLOOD_AMPLIFICATION:
        return PROTO_UDP;
    case FLOOD_ICMP:
        return addr_is_v4(dst) ? PROTO_ICMP : PROTO_ICMPV6;
    default:
        return 0;
    }
}

/* The rule's severity, raised when the attack fills much of the asset's
 * declared link capacity (d->capacity_bytes_per_s, 0: unknown). */
static enum severity severity_for(const struct flood_params *p, const struct flood_dest *d,
                                  const struct flood_class_state *cs, double *share)
{
    enum severity sev = p->rule->severity;
    *share = -1;
    if (d->capacity_bytes_per_s <= 0)
        return sev;
    *share = (double)cs->peak_bytes_per_s / d->capacity_bytes_per_s;
    if (*share >= p->capacity_critical)
        sev = SEV_CRITICAL;
    else if (*share >= p->capacity_high && sev < SEV_HIGH)
        sev = SEV_HIGH;
    return sev;
}

static void emit(struct flood *f, struct flood_dest *d, enum flood_class c,
                 enum finding_state state, uint64_t now_us)
{
    const struct flood_params *p = &f->p[c];
    struct flood_class_state *cs = &d->cls[c];
    struct flood_view v;
    double share;
    const struct asset *a = classify_asset(&f->env.inv, &d->addr);
    d->capacity_bytes_per_s = a && a->capacity_mbps ? a->capacity_mbps * 1e6 / 8 : 0;
    flood_class_settle(cs, c);
    flood_view_compute(d, c, p, &v);
    /* Impact and forgery, once seen during the attack, stay part of it. */
    if (state != FINDING_END) {
        cs->impact |= v.impact;
        cs->spoofed |= v.spoofed;
    }
    struct evt ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = p->kind;
    ev.rule = p->rule;
    ev.dst = d->addr;
    ev.has_dst = true;
    if (v.dos && v.has_src && !cs->spoofed) {
        ev.src = v.top_src;
        ev.has_src = true;
    }
    if (v.has_port && v.top_port_share >= 0.5)
        ev.dest_port = v.top_port;
    ev.proto = class_proto(c, &d->addr);
    const struct flood_reflected *top = c == FLOOD_AMPLIFICATION ? flood_reflected_top(cs) : NULL;
    if (top && (top->key & REFLECT_KEY_TCP))
        ev.proto = PROTO_TCP;
    ev.impact = cs->impact;
    enum severity sev = severity_for(p, d, cs, &share);
    cs->severity = (uint8_t)sev;
    ev.severity = sev == p->rule->severity ? SEV_NONE : sev;
    ev.taxonomy = p->rule->taxonomy ? NULL : f->dos;
    ev.evidence = flood_evidence(d, c, p, &v, share, now_us);
    ev.counters = flood_counters(d, c);
    finding_fill(&cs->life, &ev, state, now_us);
    f->env.emit(f->env.emit_ctx, &ev);
    json_decref(ev.evidence);
    json_decref(ev.counters);
}

/* ---- the open findings, as finding.h's walk sees them ----------------------------- */

/* An item of the walk is the state of one class of one destination. */
static struct flood_dest *dest_of(struct flood *f, struct flood_class_state *cs,
                                  enum flood_class *c)
{
    size_t offset = (size_t)((char *)cs - (char *)f->table.dest);
    struct flood_dest *d = &f->table.dest[offset / sizeof(*d)];
    *c = (enum flood_class)(cs - d->cls);
    return d;
}

/* The open, watched class after cursor: destinations in table order,
 * classes in enum order. */
static void *open_next(void *det, void *cursor)
{
    struct flood *f = det;
    uint32_t i = 0;
    int c = 0;
    if (cursor) {
        enum flood_class cc;
        i = (uint32_t)(dest_of(f, cursor, &cc) - f->table.dest);
        c = (int)cc + 1;
    }
    for (; i < f->table.capacity; i++, c = 0) {
        if (!flood_table_used(&f->table, i))
            continue;
        struct flood_dest *d = &f->table.dest[i];
        for (; c < FLOOD_CLASS_COUNT; c++)
            if (finding_is_open(&d->cls[c].life) && f->p[c].rule)
                return &d->cls[c];
    }
    return NULL;
}

static struct finding_life *class_life(void *det, void *item)
{
    (void)det;
    return &((struct flood_class_state *)item)->life;
}

static const struct rule *class_rule(void *det, void *item)
{
    struct flood *f = det;
    enum flood_class c;
    dest_of(f, item, &c);
    return f->p[c].rule;
}

static void class_emit(void *det, void *item, enum finding_state state, uint64_t now_us)
{
    struct flood *f = det;
    enum flood_class c;
    struct flood_dest *d = dest_of(f, item, &c);
    emit(f, d, c, state, now_us);
}

/* After the end: the attack's marks go, and a deferred restart happens. */
static void class_ended(void *det, void *item, uint64_t now_us)
{
    (void)det;
    (void)now_us;
    struct flood_class_state *cs = item;
    if (cs->restart_pending)
        flood_class_restart(cs, 0);
    cs->impact = cs->spoofed = false;
    cs->f_pkts = cs->f_bytes = 0;
    cs->peak_pps = cs->peak_bytes_per_s = 0;
}

/* A class stays watched through a reload while its rule is there. */
static bool class_remap(void *det, void *item)
{
    struct flood *f = det;
    enum flood_class c;
    dest_of(f, item, &c);
    return f->reload_params[c].rule != NULL;
}

static void emit_counted(struct flood *f, struct flood_dest *d, enum flood_class c,
                         enum finding_state state, uint64_t now_us)
{
    finding_source_emit(&f->findings, &d->cls[c], state, now_us);
}

static void end_all(struct flood *f, struct flood_dest *d, uint64_t now_us)
{
    flood_outward_end(&f->outward, d, now_us);
    for (int c = 0; c < FLOOD_CLASS_COUNT; c++)
        if (finding_is_open(&d->cls[c].life) && f->p[c].rule)
            emit_counted(f, d, (enum flood_class)c, FINDING_END, now_us);
}

/* ---- decisions ------------------------------------------------------------------ */

static bool over_floor(const struct flood_dest *d, enum flood_class c, const struct flood_params *p)
{
    return d->sum.pkts[c] >= p->rate_pps ||
           (p->bytes_per_s > 0 && (double)d->sum.bytes[c] >= p->bytes_per_s);
}

static bool over_baseline(const struct flood_dest *d, enum flood_class c,
                          const struct flood_params *p)
{
    const struct flood_class_state *cs = &d->cls[c];
    double pkts = d->sum.pkts[c], bytes = (double)d->sum.bytes[c];
    return (pkts >= p->rate_pps && pkts > p->multiple * cs->base_pps) ||
           (p->bytes_per_s > 0 && bytes >= p->bytes_per_s && bytes > p->multiple * cs->base_bps);
}

static double min_reflectors(const struct flood_class_state *cs)
{
    const struct flood_reflected *top = flood_reflected_top(cs);
    if (!top)
        return 1;
    if (top->key & REFLECT_KEY_TCP)
        return REFLECT_TCP_MIN_REFLECTORS;
    return reflect_services[top->key].min_reflectors;
}

/* What busy but healthy traffic looks like, class by class. */
static bool looks_like_flood(struct flood *f, const struct flood_dest *d, enum flood_class c,
                             const struct flood_params *p)
{
    const struct flood_class_state *cs = &d->cls[c];
    if (c == FLOOD_TCP_SYN || c == FLOOD_TCP_OTHER || c == FLOOD_UDP) {
        /* One source over many ports is a port scan (portscan's job). */
        double src_share = flood_top_share(&cs->top_src, cs->acc_pkts, NULL);
        double port_share = flood_top_share(&cs->top_port, cs->acc_pkts, NULL);
        if (src_share >= p->dos_share && port_share < p->scan_port_share) {
            f->scan_like++;
            return false;
        }
    }
    /* Answered handshakes are a busy server, not a SYN flood. */
    if (c == FLOOD_TCP_SYN && flood_half_open(d) < p->half_open)
        return false;
    /* Replies to the victim's own queries (a resolver) are not reflection,
     * unless they are many times larger than what it asked. */
    if (c == FLOOD_AMPLIFICATION && cs->req_pkts > 0 &&
        (double)cs->acc_bytes < p->amplification * (double)cs->req_bytes) {
        f->unrequested_skips++;
        return false;
    }
    /* A VPN, game or RDP server answering one client, or one server whose
     * SYNs took another path, is no reflection: those need reflectors. */
    if (c == FLOOD_AMPLIFICATION && hll_estimate(&cs->sources) < min_reflectors(cs)) {
        f->few_reflector_skips++;
        return false;
    }
    return true;
}

static void note_peak(struct flood_dest *d, enum flood_class c)
{
    struct flood_class_state *cs = &d->cls[c];
    if (d->sum.pkts[c] > cs->peak_pps)
        cs->peak_pps = d->sum.pkts[c];
    if (d->sum.bytes[c] > cs->peak_bytes_per_s)
        cs->peak_bytes_per_s = d->sum.bytes[c];
}

__attribute__((always_inline)) static inline void evaluate(struct flood *f, struct flood_dest *d,
                                                           enum flood_class c, uint64_t now_us)
{
    const struct flood_params *p = &f->p[c];
    struct flood_class_state *cs = &d->cls[c];
    struct rule *rule = p->rule;
    if (finding_is_open(&cs->life)) {
        if (finding_end_due(&cs->life, now_us, rule->hold_down_us)) {
            emit_counted(f, d, c, FINDING_END, now_us);
        } else {
            note_peak(d, c);
            if (over_floor(d, c, p))
                finding_touch(&cs->life, now_us);
            /* Impact changes the class of the finding and a fuller link its
             * severity: say so at once rather than at the next update (a
             * critical one can rise no further). */
            double share;
            if (finding_update_due(&cs->life, now_us, rule->update_interval_us) ||
                (!cs->impact && flood_answers_collapsed(d, p)) ||
                (cs->severity < SEV_CRITICAL &&
                 severity_for(p, d, cs, &share) > (enum severity)cs->severity))
                emit_counted(f, d, c, FINDING_UPDATE, now_us);
            return;
        }
    }
    if (!over_floor(d, c, p) || !over_baseline(d, c, p) || !looks_like_flood(f, d, c, p))
        return;
    finding_open(&cs->life, cs->acc_first_us ? cs->acc_first_us : now_us, now_us);
    cs->f_pkts = cs->acc_pkts;
    cs->f_bytes = cs->acc_bytes;
    note_peak(d, c);
    emit_counted(f, d, c, FINDING_NEW, now_us);
}

/* ---- packets ----------------------------------------------------------------- */

static bool icmpv6_is_neighbour_talk(const struct pkt *p)
{
    /* MLD, router and neighbour discovery, redirects: link housekeeping. */
    return p->proto == PROTO_ICMPV6 && p->icmp_type >= 130 && p->icmp_type <= 143;
}

/* A SYN|ACK nobody asked for (TCP reflection), or a RST of no connection
 * while a reflection is under way (the reflectors giving up). */
static bool tcp_reflected(const struct flood_dest *d, const struct pkt *p)
{
    if (!p->conn_checked || p->tcp_in_conn)
        return false;
    uint8_t f = p->tcp_flags & (TCP_SYN | TCP_ACK | TCP_RST);
    if (f == (TCP_SYN | TCP_ACK))
        return true;
    return (f & TCP_RST) && finding_is_open(&d->cls[FLOOD_AMPLIFICATION].life);
}

static bool is_echo(const struct pkt *p, uint8_t v4_type, uint8_t v6_type)
{
    return p->proto == PROTO_ICMP ? p->icmp_type == v4_type : p->icmp_type == v6_type;
}

/* An echo reply to an echo request the destination sent answers its own
 * pings (or its ping flood of someone else): not a flood against it.
 * Replies it never asked for (a Smurf reflection) still are. */
static bool echo_answer(struct flood_dest *d, const struct pkt *p)
{
    if (d->echo_owed == 0 || !is_echo(p, 0, 129))
        return false;
    d->echo_owed--;
    return true;
}

static enum flood_class classify(struct flood_dest *d, const struct pkt *p)
{
    if (p->fragment) {
        /* Big reflector answers arrive fragmented: their first fragment
         * names the service, the rest belong to the reflection finding
         * while one is open rather than raising a second one. */
        if (!p->later_fragment && p->proto == PROTO_UDP && reflect_udp_index(p->sport) >= 0)
            return FLOOD_AMPLIFICATION;
        if (p->later_fragment && finding_is_open(&d->cls[FLOOD_AMPLIFICATION].life))
            return FLOOD_AMPLIFICATION;
        return FLOOD_FRAGMENT;
    }
    if (p->proto == PROTO_TCP) { /* most packets: asked first */
        if ((p->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN)
            return FLOOD_TCP_SYN;
        return tcp_reflected(d, p) ? FLOOD_AMPLIFICATION : FLOOD_TCP_OTHER;
    }
    switch (p->proto) {
    case PROTO_UDP:
        return reflect_udp_packet(p) >= 0 ? FLOOD_AMPLIFICATION : FLOOD_UDP;
    case PROTO_ICMP:
        return echo_answer(d, p) ? FLOOD_NONE : FLOOD_ICMP;
    case PROTO_ICMPV6:
        return icmpv6_is_neighbour_talk(p) || echo_answer(d, p) ? FLOOD_NONE : FLOOD_ICMP;
    default:
        return FLOOD_NONE;
    }
}

/* dest_for past the entry of the last packet: hash, find or claim. */
__attribute__((noinline)) static struct flood_dest *
dest_lookup(struct flood *f, const struct ipaddr *a, uint64_t now_us)
{
    uint64_t h = flood_table_hash(&f->table, a);
    struct flood_dest *d = flood_table_find(&f->table, a, h);
    if (d)
        return d;
    bool victim;
    d = flood_table_slot_for(&f->table, h, &victim);
    if (victim) {
        for (int c = 0; c < FLOOD_CLASS_COUNT; c++)
            if (finding_is_open(&d->cls[c].life))
                f->evicted_open++;
        end_all(f, d, now_us);
    }
    flood_table_claim(&f->table, d, a, h, now_us);
    return d;
}

/* The destination's entry, claimed if it has none (a flood sends packet
 * after packet to one: that costs an address compare). */
static inline struct flood_dest *dest_for(struct flood *f, const struct ipaddr *a, uint64_t now_us)
{
    struct flood_dest *d = flood_table_recent(&f->table, a);
    return d ? d : dest_lookup(f, a, now_us);
}

/* A packet the protected address sends: answers, SYN-ACKs, the requests
 * that reflectors amplify, and floods to outside targets (outward.c). */
static void outbound(struct flood *f, const struct pkt *p)
{
    if (p->proto == PROTO_TCP && !p->later_fragment &&
        (p->tcp_flags & (TCP_SYN | TCP_ACK | TCP_RST)) == (TCP_SYN | TCP_ACK))
        flood_handshake_synack(&f->table, &p->src, p->sport, &p->dst, p->dport, p->tcp_seq);
    struct flood_dest *d = flood_table_recent(&f->table, &p->src);
    if (!d)
        d = flood_table_find(&f->table, &p->src, flood_table_hash(&f->table, &p->src));
    int out = detect_dst_protected(&f->env, p) ? FLOOD_NONE : flood_outward_class(p);
    if (!d) {
        if (out == FLOOD_NONE)
            return;
        d = dest_for(f, &p->src, p->ts_us);
    }
    flood_dest_advance(d, p->ts_us, f->learn);
    flood_dest_reply(d);
    if (out != FLOOD_NONE)
        flood_outward_count(&f->outward, d, out, p);
    if ((p->proto == PROTO_ICMP || p->proto == PROTO_ICMPV6) && !p->later_fragment &&
        is_echo(p, 8, 128) && d->echo_owed < FLOOD_ECHO_OWED_MAX)
        d->echo_owed++;
    if (p->proto == PROTO_UDP && !p->later_fragment && reflect_udp_index(p->dport) >= 0) {
        struct flood_class_state *cs = &d->cls[FLOOD_AMPLIFICATION];
        cs->req_pkts++;
        cs->req_bytes += p->wirelen;
    }
}

/* Count the packet in class c of d, then judge the class. */
__attribute__((always_inline)) static inline void
count_and_judge(struct flood *f, struct flood_dest *d, enum flood_class c, const struct pkt *p,
                uint32_t reflect_key)
{
    flood_dest_count(&f->table, d, c, p->ts_us, &p->src, p->dport, p->ttl, p->tcp_flags, p->wirelen,
                     reflect_key);
    if (f->p[c].rule)
        evaluate(f, d, c, p->ts_us);
}

static void inbound(struct flood *f, const struct pkt *p)
{
    bool ack = p->proto == PROTO_TCP && !p->later_fragment &&
               (p->tcp_flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_ACK;
    /* The handshake slot is a likely cache miss: fetch it while the
     * destination is found and advanced. */
    uint64_t handshake =
        ack ? flood_handshake_prefetch(&f->table, &p->dst, p->dport, &p->src, p->sport) : 0;
    struct flood_dest *d = dest_for(f, &p->dst, p->ts_us);
    flood_dest_advance(d, p->ts_us, f->learn);
    flood_dest_request(d);
    if (ack && flood_handshake_ack(&f->table, handshake, p->tcp_ack))
        flood_dest_completion(d);
    enum flood_class c = classify(d, p);
    if (c == FLOOD_NONE)
        return;
    if (f->allow[c] && netset_contains(f->allow[c], &p->src)) {
        f->allowed++;
        return;
    }
    uint32_t reflect_key = 0;
    if (c == FLOOD_AMPLIFICATION) {
        int svc = p->proto == PROTO_UDP && !p->later_fragment ? reflect_udp_packet(p) : -1;
        reflect_key = svc >= 0                ? (uint32_t)svc
                      : p->proto == PROTO_TCP ? REFLECT_KEY_TCP | p->sport
                                              : flood_reflected_key(&d->cls[c]);
    }
    /* A SYN flood's class as a constant: its state at fixed offsets. */
    if (c == FLOOD_TCP_SYN)
        count_and_judge(f, d, FLOOD_TCP_SYN, p, 0);
    else if (c == FLOOD_TCP_OTHER)
        count_and_judge(f, d, FLOOD_TCP_OTHER, p, 0);
    else
        count_and_judge(f, d, c, p, reflect_key);
}

static void flood_on_packet(void *self, const struct pkt *p)
{
    struct flood *f = self;
    f->packets++;
    if (p->ts_us > f->now_us)
        f->now_us = p->ts_us;
    if (detect_src_protected(&f->env, p))
        outbound(f, p);
    if (detect_dst_protected(&f->env, p))
        inbound(f, p);
}

static void flood_on_tick(void *self, uint64_t now_us)
{
    struct flood *f = self;
    if (now_us > f->now_us)
        f->now_us = now_us;
    /* Quiet destinations age lazily, on their next packet; those with an
     * open finding age now, so that the walk judges their rates of now. */
    for (uint32_t i = 0; i < f->table.capacity; i++) {
        if (!flood_table_used(&f->table, i))
            continue;
        struct flood_dest *d = &f->table.dest[i];
        bool open = false;
        for (int c = 0; c < FLOOD_CLASS_COUNT; c++)
            open |= finding_is_open(&d->cls[c].life);
        if (open)
            flood_dest_advance(d, f->now_us, f->learn);
    }
    finding_walk_tick(&f->findings, f->now_us);
    finding_walk_tick(&f->outward.findings, f->now_us);
}

static void flood_flush(void *self, uint64_t now_us)
{
    struct flood *f = self;
    if (now_us > f->now_us)
        f->now_us = now_us;
    finding_walk_flush(&f->findings, f->now_us);
    finding_walk_flush(&f->outward.findings, f->now_us);
}

/* ---- the detector interface ------------------------------------------------------ */

static int flood_check(struct ruleset *rules, struct cfg_err *err)
{
    struct flood_params params[FLOOD_CLASS_COUNT];
    struct table_sizes sizes;
    return parse_rules(rules, params, &sizes, err);
}

static void *flood_init(struct ruleset *rules, const struct detect_env *env, struct cfg_err *err)
{
    struct table_sizes sizes;
    struct flood *f = calloc(1, sizeof(*f));
    if (!f) {
        cfg_fail(err, "flood", 0, "out of memory");
        return NULL;
    }
    f->env = *env;
    f->dos = taxonomy_find("attack.dos");
    reflect_init();
    if (parse_rules(rules, f->p, &sizes, err) < 0)
        goto err;
    if (flood_table_init(&f->table, (uint32_t)sizes.destinations, (uint32_t)sizes.handshakes,
                         (uint32_t)sizes.top, env->hash_seed) < 0) {
        cfg_fail(err, "flood", 0, "out of memory for %llu destinations",
                 (unsigned long long)sizes.destinations);
        goto err;
    }
    set_learning(f);
    flood_outward_init(&f->outward, &f->table, f->p, &f->env);
    f->findings = (struct finding_source){
        .det = f,
        .next = open_next,
        .life = class_life,
        .rule = class_rule,
        .emit = class_emit,
        .ended = class_ended,
        .counts = &f->counts,
    };
    return f;
err:
    free(f);
    return NULL;
}

static int flood_reload(void *self, struct ruleset *rules, struct cfg_err *err)
{
    struct flood *f = self;
    struct flood_params params[FLOOD_CLASS_COUNT];
    struct table_sizes sizes;
    if (parse_rules(rules, params, &sizes, err) < 0)
        return -1;
    if (sizes.destinations > f->table.capacity || sizes.top != f->table.top_k)
        log_warn("flood: new table sizes (destinations, top) apply at the next restart");
    /* Findings of a class no longer watched end now, under their old rule
     * (still alive until reload returns). */
    f->reload_params = params;
    finding_walk_reload(&f->findings, class_remap, f->now_us);
    f->reload_params = NULL;
    flood_outward_reload(&f->outward, params, f->now_us);
    memcpy(f->p, params, sizeof(params));
    set_learning(f);
    return 0;
}

static void flood_stats(void *self, json_t *out)
{
    struct flood *f = self;
    json_object_set_new(out, "packets", json_integer((json_int_t)f->packets));
    json_object_set_new(out, "destinations", json_integer(f->table.in_use));
    json_object_set_new(out, "destinations_capacity", json_integer(f->table.capacity));
    json_object_set_new(out, "evictions", json_integer((json_int_t)f->table.evictions));
    json_object_set_new(out, "evicted_open_findings", json_integer((json_int_t)f->evicted_open));
    json_object_set_new(out, "handshake_slots", json_integer(f->table.handshake_mask + 1));
    json_object_set_new(out, "allowed_packets", json_integer((json_int_t)f->allowed));
    json_object_set_new(out, "scan_like_checks", json_integer((json_int_t)f->scan_like));
    json_object_set_new(out, "requested_reply_checks",
                        json_integer((json_int_t)f->unrequested_skips));
    json_object_set_new(out, "few_reflector_checks",
                        json_integer((json_int_t)f->few_reflector_skips));
    finding_counts_json(&f->counts, out);
    flood_outward_stats(&f->outward, out);
}

static void flood_free(void *self)
{
    struct flood *f = self;
    if (!f)
        return;
    flood_table_free(&f->table);
    free(f);
}

const struct detector_ops flood_detector = {
    .name = "flood",
    .check = flood_check,
    .init = flood_init,
    .on_packet = flood_on_packet,
    .on_tick = flood_on_tick,
    .reload = flood_reload,
    .stats = flood_stats,
    .flush = flood_flush,
    .free = flood_free,
};
