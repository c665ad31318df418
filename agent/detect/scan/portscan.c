/* portscan.c — vertical scans: one source probing many ports of one
 * protected host (DESIGN §4.3).
 *
 * State is one scan_table entry per (scanner, target) with a small
 * HyperLogLog of the ports probed, the first ports exactly, and counts per
 * probe flag pattern.  Only probe-like packets count: a pure SYN, flag
 * combinations no client sends (FIN, NULL, Xmas, FIN|ACK without data,
 * SYN with FIN/RST, URG/PSH without ACK), a bare ACK, a UDP datagram.
 * Answers of the target — SYN|ACK (open), RST (closed, or "unfiltered"
 * for an ACK scan), ICMP port unreachable quoting the probe — are
 * counted on the scanner's entry as evidence; they never create state.
 *
 * Normal conversations do not look like scans: a client reaches one or
 * two ports of a server, and what a host sends back to a peer that
 * connected to it first (ACKs, FIN|ACK, DNS answers to ever-new client
 * ports) is ignored: when an entry is created, the reverse entry is
 * looked up once, and if the "target" had probed the "scanner" first only
 * pure SYNs count on it.
 *
 * A (scanner, target)'s first packet only fills a pending record (the
 * table's doorkeeper, scan_table.h): its time, port and probe type, the
 * reverse check's outcome and the answers that follow; the second packet
 * admits the pair into the table and replays the record into the new
 * entry.  Counts, windows and thresholds are those the entry would have
 * had from the first packet, while a flood of one-packet spoofed sources
 * never touches the table.
 *
 * Rules: the detector's rules are tried in file order on every probe of an
 * entry without an open finding; the first that fires opens the one
 * finding of this (scanner, target), whatever rule it was.  The shipped
 * set is a fast rule (25 ports in 60 s) and a slow one (10 ports in 1 h,
 * lasting at least 60 s).  A scanner that sweeps many hosts and many
 * ports (masscan) is capped at max_targets_per_src findings per source
 * (a count-min sketch of findings per source); the rest are counted as
 * suppressed_findings and left to the sweep detector's one finding.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "agent/detect/detector.h"
#include "agent/detect/scan/scan_rules.h"
#include "agent/detect/scan/scan_table.h"
#include "agent/detect/finding.h"
#include "agent/detect/sketch.h"
#include "common/hash.h"
#include "common/log.h"

enum ps_type { PS_SYN, PS_FIN, PS_NULL, PS_XMAS, PS_ACK, PS_MAIMON, PS_UDP, PS_OTHER, PS_TYPES };

static const char *const ps_type_names[PS_TYPES] = {"syn", "fin",    "null", "xmas",
                                                    "ack", "maimon", "udp",  "other"};

#define PS_EXACT 32  /* distinct ports counted exactly */
#define PS_SAMPLE 10 /* of which the first are shown in evidence */

/* entry flags */
#define PS_REVERSE 0x01    /* the target talked to the scanner first */
#define PS_ALLOWED 0x02    /* crossed a threshold from an allowed source */
#define PS_SUPPRESSED 0x04 /* crossed it beyond max_targets_per_src */

/* pending record flags (besides PS_REVERSE) */
#define PEND_COUNTED 0x10  /* the first packet counted as a probe */
#define PEND_RELOADED 0x20 /* a reload restarted the rule windows since */

struct ps_entry {
    struct scan_head head; /* key: scanner address, then target address */
    /* Reset by entry_restart: */
    uint64_t first_us; /* first probe of this entry's window */
    uint32_t probes;
    uint32_t emitted_probes; /* probes at the last new/update */
    uint32_t open_answers, closed_answers, filtered_answers;
    uint32_t win_start_ms[SCAN_MAX_RULES];
    uint16_t win_base[SCAN_MAX_RULES];
    uint16_t by_type[PS_TYPES]; /* saturating */
    uint16_t ports;             /* distinct ports, estimated */
    uint8_t n_exact;
    uint8_t rule; /* index of the rule whose finding is open */
    uint8_t flags;
    uint8_t open_type; /* scan type named by the "new" event, kept after */
    /* Not reset: valid up to n_exact, and cleared when n_exact fills. */
    uint16_t exact[PS_EXACT]; /* the first distinct ports */
    uint8_t hll[];            /* 1 << hll_precision registers */
};

/* A (scanner, target) seen once: what its entry would hold. */
struct ps_pending {
    struct scan_pending head; /* first_us: the first packet */
    uint32_t open_answers, closed_answers, filtered_answers;
    uint16_t port;
    uint8_t type; /* enum ps_type of the first packet */
    uint8_t flags;
};

_Static_assert(sizeof(struct ps_pending) == 32, "two pending records a cache line");

struct portscan {
    struct scan_params p;
    const struct detect_env *env;
    struct scan_table table;
    struct cms per_src; /* findings opened per source (max_targets_per_src) */
    uint64_t next_decay_us;
    uint64_t now_us;
    uint8_t hll_p;
    uint64_t reload_us; /* now_us at the last reload */
    uint64_t probes, answers, findings, updates, ends, allowed_scans, suppressed_findings;
};

static const struct scan_defaults ps_defaults = {
    .detector = "portscan",
    .threshold_key = "ports",
    .threshold = 25,
    .window_us = 60ull * 1000000,
    .table_size = 32768,
    .hll_precision = 7,
    .per_src_cap = true,
};

/* ---- entry state ------------------------------------------------------------ */

static void entry_restart(struct portscan *ps, struct ps_entry *e, uint64_t now_us)
{
    memset(&e->first_us, 0, offsetof(struct ps_entry, exact) - offsetof(struct ps_entry, first_us));
    e->first_us = now_us;
    scan_table_set_score(&ps->table, &e->head, 0);
}

static void entry_addrs(const struct ps_entry *e, struct ipaddr *src, struct ipaddr *dst)
{
    memcpy(src->b, e->head.key, 16);
    memcpy(dst->b, e->head.key + 16, 16);
}

static enum ps_type entry_major_type(const struct ps_entry *e)
{
    int best = PS_SYN;
    for (int t = 1; t < PS_TYPES; t++)
        if (e->by_type[t] > e->by_type[best])
            best = t;
    return (enum ps_type)best;
}

/* PS_TYPES stands for "connect" in open_type. */
static uint8_t entry_scan_type_code(const struct ps_entry *e)
{
    enum ps_type t = entry_major_type(e);
    /* A connect() scan completes the handshake of open ports with a bare
     * ACK; a SYN scan's kernel answers the SYN|ACK with a RST instead. */
    if (t == PS_SYN && e->by_type[PS_ACK] > 0 && e->open_answers > 0)
        return PS_TYPES;
    return (uint8_t)t;
}

/* The type is decided when the finding opens: later traffic from the
 * same source (a flood, web requests) must not rename the scan. */
static const char *entry_scan_type(struct ps_entry *e, enum finding_state state)
{
    if (state == FINDING_NEW)
        e->open_type = entry_scan_type_code(e);
    return e->open_type == PS_TYPES ? "connect" : ps_type_names[e->open_type];
}

static void emit(struct portscan *ps, struct ps_entry *e, enum finding_state state, uint64_t now_us)
{
    struct evt ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = "portscan";
    ev.rule = ps->p.r[e->rule].rule;
    entry_addrs(e, &ev.src, &ev.dst);
    ev.has_src = ev.has_dst = true;
    ev.proto = entry_major_type(e) == PS_UDP ? PROTO_UDP : PROTO_TCP;
    ev.counters =
        json_pack("{s:I, s:I, s:I, s:I, s:I}", "packets", (json_int_t)e->probes, "ports",
                  (json_int_t)e->ports, "open_answers", (json_int_t)e->open_answers,
                  "closed_answers", (json_int_t)e->closed_answers, "filtered_answers",
                  (json_int_t)e->filtered_answers);
    json_t *sample = json_array();
    for (int i = 0; i < e->n_exact && i < PS_SAMPLE; i++)
        json_array_append_new(sample, json_integer(e->exact[i]));
    ev.evidence = json_pack("{s:s, s:o}", "scan_type", entry_scan_type(e, state),
                            "sample_ports", sample);
    finding_fill(&e->head.life, &ev, state, now_us);
    e->emitted_probes = e->probes;
    if (ev.counters && ev.evidence)
        ps->env->emit(ps->env->emit_ctx, &ev);
    else
        log_err("portscan: out of memory building an event");
    json_decref(ev.counters);
    json_decref(ev.evidence);
    if (state == FINDING_UPDATE)
        ps->updates++;
}

static void finding_close(struct portscan *ps, struct ps_entry *e, uint64_t now_us)
{
    emit(ps, e, FINDING_END, now_us);
    ps->ends++;
    scan_table_open_unlink(&ps->table, &e->head);
}

static void on_evict(void *ctx, struct scan_head *h, uint64_t now_us)
{
    finding_close(ctx, (struct ps_entry *)h, now_us);
}

/* A rule fired: open the finding, unless the source is allowed or has
 * already been reported for enough targets. */
static void rule_fired(struct portscan *ps, struct ps_entry *e, uint32_t ri, uint64_t now_us)
{
    const struct rule *r = ps->p.r[ri].rule;
    struct ipaddr src, dst;
    entry_addrs(e, &src, &dst);
    if (netset_contains(&r->allow, &src)) {
        ps->allowed_scans++;
        e->flags |= PS_ALLOWED;
        return;
    }
    if (ps->p.max_targets_per_src) {
        if (cms_estimate(&ps->per_src, src.b, 16) >= ps->p.max_targets_per_src) {
            ps->suppressed_findings++;
            e->flags |= PS_SUPPRESSED;
            return;
        }
        cms_add(&ps->per_src, src.b, 16, 1);
    }
    e->rule = (uint8_t)ri;
    finding_open(&e->head.life, e->first_us, now_us);
    scan_table_open_link(&ps->table, &e->head);
    ps->findings++;
    emit(ps, e, FINDING_NEW, now_us);
}

/* ---- packets ------------------------------------------------------------------ */

/* The probe type of a TCP flag pattern, or -1 for ordinary traffic. */
static int tcp_probe_type(uint8_t flags, uint32_t payload_len)
{
    uint8_t f = flags & (TCP_FIN | TCP_SYN | TCP_RST | TCP_PSH | TCP_ACK | TCP_URG);
    if (f == TCP_SYN)
        return PS_SYN;
    if (f == 0)
        return PS_NULL;
    if (f == TCP_FIN)
        return PS_FIN;
    if (!(f & TCP_ACK) && (f & (TCP_FIN | TCP_PSH | TCP_URG)) == (TCP_FIN | TCP_PSH | TCP_URG))
        return PS_XMAS;
    if (f == TCP_ACK && payload_len == 0)
        return PS_ACK;
    if (f == (TCP_FIN | TCP_ACK) && payload_len == 0)
        return PS_MAIMON;
    if ((f & TCP_SYN) && (f & (TCP_FIN | TCP_RST)))
        return PS_OTHER;
    if (!(f & (TCP_ACK | TCP_RST | TCP_SYN)) && (f & (TCP_PSH | TCP_URG)))
        return PS_OTHER;
    return -1;
}

static void make_key(uint8_t key[SCAN_KEY_LEN], const struct ipaddr *a, const struct ipaddr *b)
{
    memcpy(key, a->b, 16);
    memcpy(key + 16, b->b, 16);
}

/* Count port on e.  The first PS_EXACT distinct ports are kept exactly
 * (thresholds compare against small counts); later ones go to the
 * HyperLogLog, whose error then applies to the excess only. */
static void entry_add_port(struct portscan *ps, struct ps_entry *e, uint16_t port)
{
    for (int i = 0; i < e->n_exact; i++)
        if (e->exact[i] == port)
            return;
    if (e->n_exact < PS_EXACT) {
        e->exact[e->n_exact++] = port;
        e->ports = e->n_exact;
        if (e->n_exact == PS_EXACT) /* the next new port goes to the HyperLogLog */
            memset(e->hll, 0, (size_t)1 << ps->hll_p);
    } else {
        struct hll h = {.p = ps->hll_p, .reg = e->hll};
        if (!hll_add_hash(&h, hash_mix64(ps->table.seed ^ port)))
            return;
        double est = PS_EXACT + hll_estimate(&h) + 0.5;
        e->ports = est > 65535 ? 65535 : (uint16_t)est;
    }
    scan_table_set_score(&ps->table, &e->head, e->ports);
}

/* Did the "target" of (src, dst) open the conversation, as a scanner of
 * src that has sent a counted probe?  Then what src sends now are its
 * answers' answers, not probes (see the file comment). */
static bool reverse_probed(struct portscan *ps, const struct pkt *p, uint64_t now_us)
{
    /* Only protected targets have entries: none for (dst, src) unless src
     * is protected. */
    if (!detect_src_protected(ps->env, p))
        return false;
    uint8_t rkey[SCAN_KEY_LEN];
    make_key(rkey, &p->dst, &p->src);
    uint64_t rh = scan_table_hash(&ps->table, rkey);
    struct ps_entry *rev = scan_table_find(&ps->table, rkey, rh, now_us);
    if (rev)
        return rev->probes > 0;
    const struct ps_pending *rp = scan_table_pending_find(&ps->table, rh, now_us);
    return rp && (rp->flags & PEND_COUNTED);
}

/* The first packet of a (scanner, target) life: a pending record only.
 * flags: PS_REVERSE when the reverse check is already known. */
static void pending_first(struct portscan *ps, uint64_t h, const struct pkt *p, enum ps_type type,
                          uint8_t flags, uint64_t now_us)
{
    struct ps_pending *pd = scan_table_pending_start(&ps->table, h, now_us);
    pd->flags = flags;
    if ((flags & PS_REVERSE) && type != PS_SYN)
        return;
    ps->probes++;
    pd->flags |= PEND_COUNTED;
    pd->port = p->dport;
    pd->type = (uint8_t)type;
}

/* Admit a pending pair: its entry as it would be after the first packet
 * (and the answers and reloads since). */
static struct ps_entry *admit(struct portscan *ps, struct ps_pending *pd,
                              const uint8_t key[SCAN_KEY_LEN], uint64_t h, uint64_t now_us)
{
    bool created;
    struct ps_entry *e = scan_table_get(&ps->table, key, h, now_us, &created);
    entry_restart(ps, e, pd->head.first_us);
    e->flags = pd->flags & PS_REVERSE;
    if (pd->flags & PEND_COUNTED) {
        e->probes = 1;
        e->by_type[pd->type] = 1;
        entry_add_port(ps, e, pd->port);
    }
    e->open_answers = pd->open_answers;
    e->closed_answers = pd->closed_answers;
    e->filtered_answers = pd->filtered_answers;
    if (pd->flags & PEND_RELOADED) {
        uint32_t age_ms =
            (uint32_t)((ps->reload_us > e->first_us ? ps->reload_us - e->first_us : 0) / 1000);
        for (int i = 0; i < SCAN_MAX_RULES; i++) {
            e->win_start_ms[i] = age_ms;
            e->win_base[i] = e->ports;
        }
    }
    scan_table_pending_admit(&ps->table, &pd->head);
    return e;
}

static void on_probe(struct portscan *ps, const struct pkt *p, enum ps_type type, uint64_t now_us)
{
    if (ps->p.n == 0 || !detect_dst_protected(ps->env, p))
        return;
    uint8_t key[SCAN_KEY_LEN];
    make_key(key, &p->src, &p->dst);
    uint64_t h = scan_table_hash(&ps->table, key);
    struct ps_entry *e = scan_table_find(&ps->table, key, h, now_us);
    if (!e) {
        struct ps_pending *pd = scan_table_pending_find(&ps->table, h, now_us);
        if (!pd) {
            pending_first(ps, h, p, type, reverse_probed(ps, p, now_us) ? PS_REVERSE : 0, now_us);
            return;
        }
        if (now_us - pd->head.first_us > ps->p.longest_window_us) {
            /* The window ran out: start over, as an entry would. */
            pending_first(ps, h, p, type, pd->flags & PS_REVERSE, now_us);
            return;
        }
        e = admit(ps, pd, key, h, now_us);
    } else if (!finding_is_open(&e->head.life) && now_us - e->first_us > ps->p.longest_window_us) {
        uint8_t keep = e->flags & PS_REVERSE;
        entry_restart(ps, e, now_us);
        e->flags = keep;
    }
    scan_table_touch(&ps->table, &e->head, now_us);
    if ((e->flags & PS_REVERSE) && type != PS_SYN)
        return;
    ps->probes++;
    e->probes++;
    if (e->by_type[type] < UINT16_MAX)
        e->by_type[type]++;
    entry_add_port(ps, e, p->dport);
    if (finding_is_open(&e->head.life)) {
        finding_touch(&e->head.life, now_us);
        return;
    }
    if (e->flags & (PS_ALLOWED | PS_SUPPRESSED))
        return;
    for (uint32_t i = 0; i < ps->p.n; i++) {
        struct scan_window w = {e->win_start_ms[i], e->win_base[i]};
        bool fires = scan_rule_fires(&ps->p.r[i], &w, e->first_us, now_us, e->ports);
        e->win_start_ms[i] = w.start_ms;
        e->win_base[i] = w.base;
        if (fires) {
            rule_fired(ps, e, i, now_us);
            break;
        }
    }
}

enum answer { ANSWER_OPEN, ANSWER_CLOSED, ANSWER_FILTERED };

/* target answered scanner: evidence on an existing entry only. */
static void on_answer(struct portscan *ps, const struct pkt *p, const struct ipaddr *scanner,
                      const struct ipaddr *target, enum answer a, uint64_t now_us)
{
    if (ps->p.n == 0 || !detect_addr_protected(ps->env, p, target))
        return;
    uint8_t key[SCAN_KEY_LEN];
    make_key(key, scanner, target);
    uint64_t h = scan_table_hash(&ps->table, key);
    struct ps_entry *e = scan_table_find(&ps->table, key, h, now_us);
    uint32_t *c;
    if (e) {
        c = a == ANSWER_OPEN     ? &e->open_answers
            : a == ANSWER_CLOSED ? &e->closed_answers
                                 : &e->filtered_answers;
    } else {
        struct ps_pending *pd = scan_table_pending_find(&ps->table, h, now_us);
        if (!pd)
            return;
        c = a == ANSWER_OPEN     ? &pd->open_answers
            : a == ANSWER_CLOSED ? &pd->closed_answers
                                 : &pd->filtered_answers;
    }
    ps->answers++;
    if (*c < UINT32_MAX)
        (*c)++;
}

/* A datagram from a UDP service port to an ephemeral port is a server's
 * answer (or a reflected flood, the flood detector's business), not a
 * probe: DNS answers landing on many client ports are no UDP scan. */
static bool udp_service_answer(const struct pkt *p)
{
    static const uint16_t services[] = {53, 123, 137, 161, 389, 1900, 5353, 11211, 19};
    if (p->dport < 1024)
        return false;
    for (size_t i = 0; i < sizeof(services) / sizeof(services[0]); i++)
        if (p->sport == services[i])
            return true;
    return false;
}

static void portscan_on_packet(void *self, const struct pkt *p)
{
    struct portscan *ps = self;
    if (p->later_fragment)
        return;
    uint64_t now_us = p->ts_us > ps->now_us ? p->ts_us : ps->now_us;
    ps->now_us = now_us;
    switch (p->proto) {
    case PROTO_TCP: {
        uint8_t f = p->tcp_flags & (TCP_SYN | TCP_ACK | TCP_RST);
        if (f == (TCP_SYN | TCP_ACK))
            on_answer(ps, p, &p->dst, &p->src, ANSWER_OPEN, now_us);
        else if (f & TCP_RST)
            on_answer(ps, p, &p->dst, &p->src, ANSWER_CLOSED, now_us);
        else {
            int type = tcp_probe_type(p->tcp_flags, p->payload_wire_len);
            if (type >= 0)
                on_probe(ps, p, (enum ps_type)type, now_us);
        }
        break;
    }
    case PROTO_UDP:
        if (!udp_service_answer(p))
            on_probe(ps, p, PS_UDP, now_us);
        break;
    case PROTO_ICMP:
    case PROTO_ICMPV6: {
        bool unreach = p->proto == PROTO_ICMP ? p->icmp_type == 3 : p->icmp_type == 1;
        if (!unreach || !p->has_inner ||
            (p->inner_proto != PROTO_UDP && p->inner_proto != PROTO_TCP))
            break;
        bool port_unreach = p->proto == PROTO_ICMP ? p->icmp_code == 3 : p->icmp_code == 4;
        on_answer(ps, p, &p->inner_src, &p->inner_dst,
                  port_unreach ? ANSWER_CLOSED : ANSWER_FILTERED, now_us);
        break;
    }
    default:
        break;
    }
}

/* ---- clock ------------------------------------------------------------------- */

static void portscan_on_tick(void *self, uint64_t now_us)
{
    struct portscan *ps = self;
    if (now_us > ps->now_us)
        ps->now_us = now_us;
    now_us = ps->now_us;
    scan_table_tick(&ps->table, now_us);
    if (ps->p.max_targets_per_src && now_us >= ps->next_decay_us) {
        if (ps->next_decay_us)
            cms_decay(&ps->per_src);
        ps->next_decay_us = now_us + ps->p.idle_us;
    }
    struct scan_head *h = scan_table_open_first(&ps->table), *next;
    for (; h; h = next) {
        next = scan_table_open_next(&ps->table, h);
        struct ps_entry *e = (struct ps_entry *)h;
        const struct rule *r = ps->p.r[e->rule].rule;
        if (finding_end_due(&h->life, now_us, r->hold_down_us)) {
            finding_close(ps, e, now_us);
            entry_restart(ps, e, now_us);
        } else if (e->probes != e->emitted_probes &&
                   finding_update_due(&h->life, now_us, r->update_interval_us)) {
            emit(ps, e, FINDING_UPDATE, now_us);
        }
    }
}

static void portscan_flush(void *self, uint64_t now_us)
{
    struct portscan *ps = self;
    if (now_us < ps->now_us)
        now_us = ps->now_us;
    struct scan_head *h = scan_table_open_first(&ps->table), *next;
    for (; h; h = next) {
        next = scan_table_open_next(&ps->table, h);
        finding_close(ps, (struct ps_entry *)h, now_us);
        entry_restart(ps, (struct ps_entry *)h, now_us);
    }
}

/* ---- life cycle ------------------------------------------------------------------ */

static int portscan_check(struct ruleset *rules, struct cfg_err *err)
{
    struct scan_params p;
    return scan_params_load(rules, &ps_defaults, &p, err);
}

static void portscan_free(void *self)
{
    struct portscan *ps = self;
    if (!ps)
        return;
    scan_table_free(&ps->table);
    if (ps->p.max_targets_per_src)
        cms_free(&ps->per_src);
    free(ps);
}

static void *portscan_init(struct ruleset *rules, const struct detect_env *env, struct cfg_err *err)
{
    struct portscan *ps = calloc(1, sizeof(*ps));
    if (!ps) {
        cfg_fail(err, "portscan", 0, "out of memory");
        return NULL;
    }
    ps->env = env;
    if (scan_params_load(rules, &ps_defaults, &ps->p, err) < 0) {
        free(ps);
        return NULL;
    }
    ps->hll_p = (uint8_t)ps->p.hll_precision;
    /* Without rules the detector is off: keep the smallest table. */
    uint32_t capacity = ps->p.n ? (uint32_t)ps->p.table_size : SCAN_WAYS;
    size_t entry_size = offsetof(struct ps_entry, hll) + ((size_t)1 << ps->hll_p);
    uint32_t pending = ps->p.n ? (uint32_t)ps->p.pending_size : 64;
    if (scan_table_init(&ps->table, capacity, entry_size, pending, sizeof(struct ps_pending),
                        env->hash_seed, on_evict, ps) < 0) {
        free(ps);
        cfg_fail(err, "portscan", 0, "out of memory for a table of %u entries", capacity);
        return NULL;
    }
    ps->table.idle_us = ps->p.idle_us;
    ps->table.emergency_idle_us = ps->p.emergency_idle_us;
    if (ps->p.max_targets_per_src &&
        cms_init(&ps->per_src, 4096, 4, hash_mix64(env->hash_seed ^ 0x706f7274)) < 0) {
        scan_table_free(&ps->table);
        free(ps);
        cfg_fail(err, "portscan", 0, "out of memory");
        return NULL;
    }
    return ps;
}

struct remap_ctx {
    struct portscan *ps;
    const struct scan_params *next;
};

/* Restart every entry's rule windows under the new rules. */
static void restart_windows(void *ctx, struct scan_head *h)
{
    struct remap_ctx *rc = ctx;
    struct ps_entry *e = (struct ps_entry *)h;
    uint64_t now_us = rc->ps->now_us;
    uint32_t age_ms = (uint32_t)((now_us > e->first_us ? now_us - e->first_us : 0) / 1000);
    for (int i = 0; i < SCAN_MAX_RULES; i++) {
        e->win_start_ms[i] = age_ms;
        e->win_base[i] = e->ports;
    }
    e->flags &= PS_REVERSE;
}

/* A pending pair's windows restart too, when it is admitted. */
static void mark_reloaded(void *ctx, struct scan_pending *p)
{
    (void)ctx;
    ((struct ps_pending *)p)->flags |= PEND_RELOADED;
}

static int portscan_reload(void *self, struct ruleset *rules, struct cfg_err *err)
{
    struct portscan *ps = self;
    struct scan_params next;
    if (scan_params_load(rules, &ps_defaults, &next, err) < 0)
        return -1;
    if (next.table_size != ps->p.table_size || next.hll_precision != ps->p.hll_precision ||
        next.pending_size != ps->p.pending_size)
        log_warn("portscan: table_size, pending_size and hll_precision changes take effect at "
                 "restart");
    next.table_size = ps->p.table_size;
    next.pending_size = ps->p.pending_size;
    next.hll_precision = ps->p.hll_precision;
    if (!ps->p.max_targets_per_src)
        next.max_targets_per_src = 0; /* no sketch was allocated */
    /* Open findings follow their rule by name; a rule that is gone ends
     * its findings now, while its old rule text is still alive. */
    struct scan_head *h = scan_table_open_first(&ps->table), *nx;
    for (; h; h = nx) {
        nx = scan_table_open_next(&ps->table, h);
        struct ps_entry *e = (struct ps_entry *)h;
        int idx = scan_params_find(&next, ps->p.r[e->rule].rule);
        if (idx < 0) {
            finding_close(ps, e, ps->now_us);
            entry_restart(ps, e, ps->now_us);
        } else {
            e->rule = (uint8_t)idx;
        }
    }
    struct remap_ctx rc = {ps, &next};
    scan_table_foreach(&ps->table, ps->now_us, restart_windows, &rc);
    scan_table_pending_foreach(&ps->table, ps->now_us, mark_reloaded, NULL);
    ps->reload_us = ps->now_us;
    ps->p = next;
    ps->table.idle_us = next.idle_us;
    ps->table.emergency_idle_us = next.emergency_idle_us;
    return 0;
}

static void portscan_stats(void *self, json_t *out)
{
    struct portscan *ps = self;
    scan_table_stats(&ps->table, ps->now_us, out);
    json_object_set_new(out, "probes", json_integer((json_int_t)ps->probes));
    json_object_set_new(out, "answers", json_integer((json_int_t)ps->answers));
    json_object_set_new(out, "findings", json_integer((json_int_t)ps->findings));
    json_object_set_new(out, "updates", json_integer((json_int_t)ps->updates));
    json_object_set_new(out, "ends", json_integer((json_int_t)ps->ends));
    json_object_set_new(out, "allowed_scans", json_integer((json_int_t)ps->allowed_scans));
    json_object_set_new(out, "suppressed_findings",
                        json_integer((json_int_t)ps->suppressed_findings));
}

const struct detector_ops portscan_detector = {
    .name = "portscan",
    .check = portscan_check,
    .init = portscan_init,
    .on_packet = portscan_on_packet,
    .on_tick = portscan_on_tick,
    .reload = portscan_reload,
    .stats = portscan_stats,
    .flush = portscan_flush,
    .free = portscan_free,
};
