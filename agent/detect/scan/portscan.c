/* portscan.c — vertical scans: one source probing many ports of one
 * protected host (architecture §4.3).
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
 * ports) is ignored.  A bare ACK or FIN|ACK counts only when it belongs
 * to no connection the agent saw open or carry data (agent/conns.h): the
 * ACKs of a dozen long HTTPS sessions on a client's ephemeral ports are
 * return traffic, an ACK scan is bare ACKs to many ports without a
 * connection behind them.  And when an entry is created, the reverse
 * entry is looked up once: if the "target" had probed the "scanner" first
 * only pure SYNs count on it.
 *
 * Roles swapped: a protected host probing many TCP ports of an
 * unprotected one (when home_net or assets say who is inside) is an
 * infected agency host: attack.malware, direction outbound, opened only
 * while most ports it tried did not answer as open (passive FTP opens
 * many ports of one server, and they all answer).
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
 *
 * What portscan shares with sweep (admission, windows, the finding's life,
 * reload, stats) is in scan_detector.c; this file says what a probe and an
 * answer are, what an entry counts and what its events say.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "agent/detect/detector.h"
#include "agent/detect/flood/reflect.h"
#include "agent/detect/scan/scan_detector.h"
#include "agent/detect/sketch.h"
#include "common/hash.h"

enum ps_type { PS_SYN, PS_FIN, PS_NULL, PS_XMAS, PS_ACK, PS_MAIMON, PS_UDP, PS_OTHER, PS_TYPES };

static const char *const ps_type_names[PS_TYPES] = {"syn", "fin",    "null", "xmas",
                                                    "ack", "maimon", "udp",  "other"};

#define PS_EXACT 32  /* distinct ports counted exactly */
#define PS_SAMPLE 10 /* of which the first are shown in evidence */

/* entry and pending record flag (besides scan_detector.h's) */
#define PS_REVERSE 0x01 /* the target talked to the scanner first */
/* pending record flag */
#define PEND_COUNTED 0x10 /* the first packet counted as a probe */

struct ps_entry {
    struct scan_entry s; /* key: scanner address, then target address */
    /* Reset by a restart: */
    uint32_t open_answers, closed_answers, filtered_answers;
    uint16_t by_type[PS_TYPES]; /* saturating */
    uint16_t ports;             /* distinct ports, estimated (s.head.score) */
    uint8_t n_exact;
    uint8_t open_type; /* scan type named by the "new" event, kept after */
    /* Not reset: valid up to n_exact, and cleared when n_exact fills. */
    uint16_t exact[PS_EXACT]; /* the first distinct ports */
    uint8_t end[];            /* (the registers are pooled: scan_entry.regs) */
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
    struct scan_detector d;
    struct cms per_src; /* findings opened per source (max_targets_per_src) */
    uint64_t next_decay_us;
};

/* ---- entry state ------------------------------------------------------------ */

static void entry_addrs(const struct ps_entry *e, struct ipaddr *src, struct ipaddr *dst)
{
    memcpy(src->b, e->s.head.key, 16);
    memcpy(dst->b, e->s.head.key + 16, 16);
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

static void describe(struct scan_detector *d, struct scan_entry *se, enum finding_state state,
                     struct evt *ev, struct event_text_writer *counters,
                     struct event_text_writer *evidence)
{
    struct ps_entry *e = (struct ps_entry *)se;
    entry_addrs(e, &ev->src, &ev->dst);
    ev->has_src = ev->has_dst = true;
    ev->proto = entry_major_type(e) == PS_UDP ? PROTO_UDP : PROTO_TCP;
    event_text_int(counters, "packets", e->s.probes);
    event_text_int(counters, "ports", e->ports);
    event_text_int(counters, "open_answers", e->open_answers);
    event_text_int(counters, "closed_answers", e->closed_answers);
    event_text_int(counters, "filtered_answers", e->filtered_answers);
    event_text_string(evidence, "scan_type", entry_scan_type(e, state));
    event_text_array(evidence, "sample_ports");
    for (int i = 0; i < e->n_exact && i < PS_SAMPLE; i++)
        event_text_int(evidence, NULL, e->exact[i]);
    event_text_array_end(evidence);
    if (e->s.flags & SCAN_OUTWARD)
        scan_detector_describe_outward(d, ev, evidence);
}

/* A scanner that sweeps many hosts and ports has been reported for
 * enough targets: the rest are left to the sweep detector. */
static bool may_open(struct scan_detector *d, struct scan_entry *e)
{
    struct portscan *ps = (struct portscan *)d;
    const struct ps_entry *pe = (const struct ps_entry *)e;
    /* Ports, not probes: a connection's last handshake ACK is a probe too. */
    if ((e->flags & SCAN_OUTWARD) && ((uint64_t)pe->open_answers + 1) * 2 > pe->ports) {
        d->counts.suppressed++;
        e->flags |= SCAN_ENTRY_SUPPRESSED;
        return false;
    }
    if (!d->p.max_targets_per_src)
        return true;
    if (cms_estimate(&ps->per_src, e->head.key, 16) >= d->p.max_targets_per_src) {
        d->counts.suppressed++;
        e->flags |= SCAN_ENTRY_SUPPRESSED;
        return false;
    }
    cms_add(&ps->per_src, e->head.key, 16, 1);
    return true;
}

/* ---- packets ------------------------------------------------------------------ */

/* The probe type of a TCP segment, or -1 for ordinary traffic: a bare
 * ACK or FIN|ACK of a connection seen is its return traffic. */
static int tcp_probe_type(const struct pkt *p)
{
    uint8_t f = p->tcp_flags & (TCP_FIN | TCP_SYN | TCP_RST | TCP_PSH | TCP_ACK | TCP_URG);
    uint32_t payload_len = p->payload_wire_len;
    if ((f & TCP_ACK) && p->tcp_in_conn && !p->tcp_handshake_ack)
        return -1;
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

/* Count port on e (its distinct ports are its score). */
static inline __attribute__((always_inline)) void entry_add_port(struct scan_detector *d,
                                                                 struct ps_entry *e, uint16_t port)
{
    /* The registers are needed from the port that fills exact[] on. */
    uint8_t *reg = NULL;
    struct hll_sum *sum = NULL;
    if (e->n_exact + 1 >= PS_EXACT) {
        reg = scan_detector_regs(d, &e->s);
        sum = scan_detector_sum(d, &e->s);
    }
    scan_detector_count_port(d, e->exact, &e->n_exact, PS_EXACT, reg, sum, d->hll_p, port,
                             &e->ports);
    scan_table_set_score(&d->table, &e->s.head, e->ports);
}

/* Did the "target" of (src, dst) open the conversation, as a scanner of
 * src that has sent a counted probe?  Then what src sends now are its
 * answers' answers, not probes (see the file comment). */
static bool reverse_probed(struct scan_detector *d, const struct pkt *p, uint64_t now_us)
{
    /* Only protected targets have entries: none for (dst, src) unless src
     * is protected. */
    if (!detect_src_protected(d->env, p))
        return false;
    uint8_t rkey[SCAN_KEY_LEN];
    make_key(rkey, &p->dst, &p->src);
    uint64_t rh = scan_table_hash(&d->table, rkey);
    struct ps_entry *rev = scan_table_find(&d->table, rkey, rh, now_us);
    if (rev)
        return rev->s.probes > 0;
    const struct ps_pending *rp = scan_table_pending_find(&d->table, rh, now_us);
    return rp && (rp->flags & PEND_COUNTED);
}

/* The first packet of a (scanner, target) life: a pending record only
 * (lk: the pair's lookup).  flags: PS_REVERSE when the reverse check is
 * already known. */
static void pending_first(struct scan_detector *d, const struct scan_look *lk, uint64_t h,
                          const struct pkt *p, enum ps_type type, uint8_t flags, uint64_t now_us)
{
    struct ps_pending *pd = scan_table_pending_take(&d->table, lk, h, now_us);
    pd->open_answers = pd->closed_answers = pd->filtered_answers = 0;
    /* Each field written once: this runs for every spoofed source. */
    bool counted = !(flags & PS_REVERSE) || type == PS_SYN;
    pd->flags = flags | (counted ? PEND_COUNTED : 0); /* PS_REVERSE, SCAN_OUTWARD */
    pd->port = counted ? p->dport : 0;
    pd->type = counted ? (uint8_t)type : 0;
    d->probes += counted;
}

/* A pending pair's entry as it would be after the first packet and the
 * answers since. */
static void replay(struct scan_detector *d, struct scan_entry *se, const struct scan_pending *ph)
{
    struct ps_entry *e = (struct ps_entry *)se;
    const struct ps_pending *pd = (const struct ps_pending *)ph;
    e->s.flags = pd->flags & (PS_REVERSE | SCAN_OUTWARD);
    if (pd->flags & PEND_COUNTED) {
        e->s.probes = 1;
        e->by_type[pd->type] = 1;
        entry_add_port(d, e, pd->port);
    }
    e->open_answers = pd->open_answers;
    e->closed_answers = pd->closed_answers;
    e->filtered_answers = pd->filtered_answers;
}

static void on_probe(struct scan_detector *d, const struct pkt *p, enum ps_type type,
                     uint64_t now_us)
{
    if (d->p.n == 0)
        return;
    uint8_t outward = 0;
    if (!detect_dst_protected(d->env, p)) {
        /* Roles swapped: TCP only (an inside resolver or VoIP phone sends
         * UDP to many ports of the world). */
        if (type == PS_UDP || !detect_src_protected(d->env, p))
            return;
        outward = SCAN_OUTWARD;
        d->outward_probes++;
    }
    uint8_t key[SCAN_KEY_LEN];
    make_key(key, &p->src, &p->dst);
    uint64_t h = scan_table_hash(&d->table, key);
    struct scan_look lk;
    struct ps_entry *e = (struct ps_entry *)scan_detector_entry(d, key, h, now_us, &lk);
    if (!e) {
        /* Whether the target probed first is known from a stale record.
         * (The reverse check only reads: lk stays true.) */
        uint8_t flags;
        if (lk.pending)
            flags = ((const struct ps_pending *)lk.pending)->flags & PS_REVERSE;
        else
            flags = reverse_probed(d, p, now_us) ? PS_REVERSE : 0;
        pending_first(d, &lk, h, p, type, flags | outward, now_us);
        return;
    }
    if ((e->s.flags & PS_REVERSE) && type != PS_SYN)
        return;
    e->s.flags |= outward;
    d->probes++;
    e->s.probes++;
    if (e->by_type[type] < UINT16_MAX)
        e->by_type[type]++;
    entry_add_port(d, e, p->dport);
    scan_detector_evaluate(d, &e->s, now_us);
}

enum answer { ANSWER_OPEN, ANSWER_CLOSED, ANSWER_FILTERED };

/* target answered scanner: evidence on an existing entry only. */
static void on_answer(struct scan_detector *d, const struct pkt *p, const struct ipaddr *scanner,
                      const struct ipaddr *target, enum answer a, uint64_t now_us)
{
    if (d->p.n == 0 ||
        (!detect_addr_protected(d->env, p, target) && !detect_addr_protected(d->env, p, scanner)))
        return;
    uint8_t key[SCAN_KEY_LEN];
    make_key(key, scanner, target);
    uint64_t h = scan_table_hash(&d->table, key);
    struct ps_entry *e = scan_table_find(&d->table, key, h, now_us);
    uint32_t *c;
    if (e) {
        c = a == ANSWER_OPEN     ? &e->open_answers
            : a == ANSWER_CLOSED ? &e->closed_answers
                                 : &e->filtered_answers;
    } else {
        struct ps_pending *pd = scan_table_pending_find(&d->table, h, now_us);
        if (!pd)
            return;
        c = a == ANSWER_OPEN     ? &pd->open_answers
            : a == ANSWER_CLOSED ? &pd->closed_answers
                                 : &pd->filtered_answers;
    }
    d->answers++;
    if (*c < UINT32_MAX)
        (*c)++;
}

/* A datagram from a UDP service port to an ephemeral port is a server's
 * answer (or a reflected flood, the flood detector's business), not a
 * probe: DNS answers landing on many client ports are no UDP scan, nor are
 * one reflector's SNMP or BACnet answers to a reflection victim.  The
 * services are the flood detector's reflection table (reflect.c); TFTP
 * answers from a port of the server's own, known by content. */
static bool udp_service_answer(const struct pkt *p)
{
    return p->dport >= 1024 && reflect_udp_packet(p) >= 0;
}

static void portscan_on_packet(void *self, const struct pkt *p)
{
    struct scan_detector *d = &((struct portscan *)self)->d;
    if (p->later_fragment)
        return;
    uint64_t now_us = p->ts_us > d->now_us ? p->ts_us : d->now_us;
    d->now_us = now_us;
    switch (p->proto) {
    case PROTO_TCP: {
        uint8_t f = p->tcp_flags & (TCP_SYN | TCP_ACK | TCP_RST);
        if (f == (TCP_SYN | TCP_ACK))
            on_answer(d, p, &p->dst, &p->src, ANSWER_OPEN, now_us);
        else if (f & TCP_RST)
            on_answer(d, p, &p->dst, &p->src, ANSWER_CLOSED, now_us);
        else {
            int type = tcp_probe_type(p);
            if (type >= 0)
                on_probe(d, p, (enum ps_type)type, now_us);
        }
        break;
    }
    case PROTO_UDP:
        if (!udp_service_answer(p))
            on_probe(d, p, PS_UDP, now_us);
        break;
    case PROTO_ICMP:
    case PROTO_ICMPV6: {
        bool unreach = p->proto == PROTO_ICMP ? p->icmp_type == 3 : p->icmp_type == 1;
        if (!unreach || !p->has_inner ||
            (p->inner_proto != PROTO_UDP && p->inner_proto != PROTO_TCP))
            break;
        bool port_unreach = p->proto == PROTO_ICMP ? p->icmp_code == 3 : p->icmp_code == 4;
        on_answer(d, p, &p->inner_src, &p->inner_dst,
                  port_unreach ? ANSWER_CLOSED : ANSWER_FILTERED, now_us);
        break;
    }
    default:
        break;
    }
}

/* A TCP or UDP packet: the lines of its (source, target) key, which a
 * probe looks up (detector_ops.prefetch).  Answers are keyed the other
 * way round and not asked for. */
static void portscan_prefetch(void *self, const struct pkt *p)
{
    struct scan_detector *d = &((struct portscan *)self)->d;
    if (d->p.n == 0 || (p->proto != PROTO_TCP && p->proto != PROTO_UDP))
        return;
    uint8_t key[SCAN_KEY_LEN];
    make_key(key, &p->src, &p->dst);
    scan_table_prefetch(&d->table, scan_table_hash(&d->table, key));
}

/* ---- the detector interface ------------------------------------------------------ */

static const struct scan_kind ps_kind = {
    SCAN_KIND_LAYOUT(struct ps_entry, exact, end, struct ps_pending),
    .defaults = &scan_rules_defaults[SCAN_RULES_PORTSCAN],
    .keep_flags = PS_REVERSE | SCAN_OUTWARD,
    .describe = describe,
    .replay = replay,
    .may_open = may_open,
};

static void portscan_on_tick(void *self, uint64_t now_us)
{
    struct portscan *ps = self;
    scan_detector_tick(&ps->d, now_us);
    now_us = ps->d.now_us;
    if (ps->d.p.max_targets_per_src && now_us >= ps->next_decay_us) {
        if (ps->next_decay_us)
            cms_decay(&ps->per_src);
        ps->next_decay_us = now_us + ps->d.p.idle_us;
    }
}

static int portscan_check(struct ruleset *rules, struct cfg_err *err)
{
    struct scan_params p;
    return scan_params_load(rules, &scan_rules_defaults[SCAN_RULES_PORTSCAN], &p, err);
}

static void portscan_free(void *self)
{
    struct portscan *ps = self;
    if (!ps)
        return;
    scan_detector_free(&ps->d);
    if (ps->d.p.max_targets_per_src)
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
    if (scan_detector_init(&ps->d, &ps_kind, rules, env, err) < 0) {
        free(ps);
        return NULL;
    }
    reflect_init();
    if (ps->d.p.max_targets_per_src &&
        cms_init(&ps->per_src, 4096, 4, hash_mix64(env->hash_seed ^ 0x706f7274)) < 0) {
        scan_detector_free(&ps->d);
        free(ps);
        cfg_fail(err, "portscan", 0, "out of memory");
        return NULL;
    }
    return ps;
}

static int portscan_reload(void *self, struct ruleset *rules, struct cfg_err *err)
{
    struct portscan *ps = self;
    bool has_sketch = ps->d.p.max_targets_per_src != 0;
    if (scan_detector_reload(&ps->d, rules, err) < 0)
        return -1;
    if (!has_sketch)
        ps->d.p.max_targets_per_src = 0; /* no sketch was allocated */
    return 0;
}

const struct detector_ops portscan_detector = {
    .name = "portscan",
    .check = portscan_check,
    .init = portscan_init,
    .on_packet = portscan_on_packet,
    .prefetch = portscan_prefetch,
    .on_tick = portscan_on_tick,
    .reload = portscan_reload,
    .stats = scan_detector_stats,
    .flush = scan_detector_flush,
    .free = portscan_free,
};
