/* sweep.c — horizontal scans: one source probing many protected hosts
 * (architecture §4.3): ICMP echo sweeps (nmap -sn -PE), TCP ping sweeps
 * (-PS/-PA/-PU), one-port scans across a range, and masscan-style
 * randomised scans of many hosts x many ports.  All are one kind, "sweep";
 * evidence says how (sweep_type icmp|tcp|udp|mixed, probe_type, the ports,
 * the order).
 *
 * State is one scan_table entry per source with a HyperLogLog of the
 * hosts it probed and a smaller one of the ports, the first hosts and
 * ports exactly, and counts per probe type.  Probes are packets to a
 * protected host that a scanner sends and a normal client rarely sends to
 * many hosts: ICMP echo/timestamp/address-mask requests, a pure SYN, a
 * bare ACK or FIN|ACK that belongs to no connection (agent/conns.h: nmap
 * -PA behind a firewall that drops it, with no answer at all), a TCP flag
 * pattern no client uses, a UDP datagram that is not a service's reply
 * (source port below 1024 to a port above).  SYN|ACKs, RSTs, echo replies
 * and ICMP unreachables are answers: they count on an entry that exists
 * and never create one, so the RSTs reflectors send a TCP reflection
 * victim never make the victim a scanner.
 *
 * Roles swapped: a protected host probing unprotected ones over TCP or
 * ICMP (when home_net or assets say who is inside) is an infected agency
 * host; its sweep is reported as attack.malware with direction outbound,
 * and only while most of its probes go unanswered (a browser opening
 * connections to many sites is answered).
 *
 * A source's first packet only fills a pending record (the table's
 * doorkeeper, scan_table.h): what the packet would have added and the
 * answers that follow; the second packet admits the source into the
 * table and replays the record, so counts are the same as if the entry
 * had existed from the first packet, while one-packet spoofed sources
 * never touch the table.
 *
 * Rules are tried in file order while a source has no open finding; the
 * first that fires opens the one sweep finding of that source.
 *
 * What sweep shares with portscan (admission, windows, the finding's life,
 * reload, stats) is in scan_detector.c; this file says what a probe and an
 * answer are, what an entry counts and what its events say.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "agent/detect/detector.h"
#include "agent/detect/scan/scan_detector.h"
#include "common/hash.h"

enum sw_kind { SW_ICMP, SW_TCP, SW_UDP, SW_KINDS };
static const char *const sw_kind_names[SW_KINDS] = {"icmp", "tcp", "udp"};

/* What a probe was; its kind follows from it (sw_probe_kind). */
enum sw_probe {
    SP_ECHO,
    SP_TIMESTAMP,
    SP_MASK,
    SP_SYN,
    SP_ACK,
    SP_FIN,
    SP_NULL,
    SP_XMAS,
    SP_TCP_OTHER,
    SP_UDP,
    SP_PROBES
};
static const char *const sw_probe_names[SP_PROBES] = {
    "icmp_echo", "icmp_timestamp", "icmp_mask", "syn",       "ack",
    "fin",       "null",           "xmas",      "tcp_other", "udp"};

static enum sw_kind sw_probe_kind(enum sw_probe p)
{
    return p <= SP_MASK ? SW_ICMP : p == SP_UDP ? SW_UDP : SW_TCP;
}

#define SW_EXACT 32       /* distinct hosts counted exactly (by 32-bit hash) */
#define SW_SAMPLE_HOSTS 4 /* of which the first are kept whole for evidence */
#define SW_SAMPLE_PORTS 8
#define SW_PORTS_P 5 /* 32 registers: ports of a sweep are few or many */

/* pending record flag (besides scan_detector.h's) */
#define PEND_HAS_PORT 0x01

struct sw_entry {
    struct scan_entry s; /* key: source address, then zeros */
    /* Reset by a restart: */
    uint32_t answers;
    uint16_t by_probe[SP_PROBES]; /* saturating */
    uint32_t last_host_low;       /* low 32 bits of the last host probed */
    uint16_t steps, ascending;    /* host-to-host steps, and those going up */
    uint16_t hosts, ports;        /* distinct, estimated (hosts: s.head.score) */
    uint8_t n_exact, n_ports;
    /* Not reset: valid up to n_exact / n_ports, the HyperLogLogs cleared
     * when those fill. */
    uint32_t exact_hosts[SW_EXACT];
    struct ipaddr sample_hosts[SW_SAMPLE_HOSTS];
    uint16_t sample_ports[SW_SAMPLE_PORTS];
    uint8_t ports_hll[1 << SW_PORTS_P];
    struct hll_sum ports_sum; /* ports_hll's estimate, kept */
    uint8_t end[];            /* (the hosts' registers are pooled: scan_entry.regs) */
};

/* A source seen once: its first event, and the answers since. */
struct sw_pending {
    struct scan_pending head; /* first_us: the first event */
    struct ipaddr host;
    uint32_t answers; /* answers that count no host */
    uint16_t port;
    uint8_t probe; /* enum sw_probe */
    uint8_t flags;
};

static const char *entry_sweep_type(const struct sw_entry *e)
{
    int kinds = 0, best = SW_TCP;
    uint32_t by_kind[SW_KINDS] = {0}, total = 0, best_n = 0;
    for (int p = 0; p < SP_PROBES; p++) {
        by_kind[sw_probe_kind((enum sw_probe)p)] += e->by_probe[p];
        total += e->by_probe[p];
    }
    for (int k = 0; k < SW_KINDS; k++) {
        if (by_kind[k] > 0 && (uint64_t)by_kind[k] * 10 >= total)
            kinds++;
        if (by_kind[k] > best_n) {
            best_n = by_kind[k];
            best = k;
        }
    }
    return kinds > 1 ? "mixed" : sw_kind_names[best];
}

static const char *entry_probe_type(const struct sw_entry *e)
{
    int best = 0;
    for (int k = 1; k < SP_PROBES; k++)
        if (e->by_probe[k] > e->by_probe[best])
            best = k;
    return sw_probe_names[best];
}

/* Host order: nmap walks a range upwards, masscan permutes it. */
static const char *entry_order(const struct sw_entry *e)
{
    if (e->steps < 16)
        return "unknown";
    uint32_t up_pct = (uint32_t)e->ascending * 100 / e->steps;
    return up_pct >= 80 || up_pct <= 20 ? "sequential" : "random";
}

static void describe(struct scan_detector *d, struct scan_entry *se, enum finding_state state,
                     struct evt *ev, struct event_text_writer *counters,
                     struct event_text_writer *evidence)
{
    (void)state;
    const struct sw_entry *e = (const struct sw_entry *)se;
    memcpy(ev->src.b, e->s.head.key, 16);
    ev->has_src = true;
    /* No one target: the hosts are in evidence.  proto: the probes'. */
    const char *type = entry_sweep_type(e);
    ev->proto = strcmp(type, "icmp") == 0  ? (addr_is_v4(&ev->src) ? PROTO_ICMP : PROTO_ICMPV6)
                : strcmp(type, "tcp") == 0 ? PROTO_TCP
                : strcmp(type, "udp") == 0 ? PROTO_UDP
                                           : 0;
    event_text_int(counters, "packets", e->s.probes);
    event_text_int(counters, "hosts", e->hosts);
    event_text_int(counters, "ports", e->ports);
    event_text_int(counters, "answers", e->answers);
    event_text_string(evidence, "sweep_type", type);
    event_text_string(evidence, "probe_type", entry_probe_type(e));
    char buf[ADDR_STRLEN];
    event_text_array(evidence, "sample_hosts");
    for (int i = 0; i < e->n_exact && i < SW_SAMPLE_HOSTS; i++)
        event_text_string(evidence, NULL, addr_format(&e->sample_hosts[i], buf, sizeof(buf)));
    event_text_array_end(evidence);
    event_text_array(evidence, "sample_ports");
    for (int i = 0; i < e->n_ports; i++)
        event_text_int(evidence, NULL, e->sample_ports[i]);
    event_text_array_end(evidence);
    event_text_string(evidence, "order", entry_order(e));
    if (e->s.flags & SCAN_OUTWARD)
        scan_detector_describe_outward(d, ev, evidence);
}

/* An outward sweep is reported while most of its probes go unanswered:
 * an agency host that opens connections to many sites is answered. */
static bool may_open(struct scan_detector *d, struct scan_entry *se)
{
    const struct sw_entry *e = (const struct sw_entry *)se;
    if (!(e->s.flags & SCAN_OUTWARD) || (uint64_t)e->answers * 2 < e->s.probes)
        return true;
    d->counts.suppressed++;
    se->flags |= SCAN_ENTRY_SUPPRESSED;
    return false;
}

/* ---- packets ------------------------------------------------------------------ */

static void make_key(uint8_t key[SCAN_KEY_LEN], const struct ipaddr *src)
{
    memcpy(key, src->b, 16);
    memset(key + 16, 0, 16);
}

static void entry_add_host(struct scan_detector *d, struct sw_entry *e, const struct ipaddr *host)
{
    uint64_t hh = hash_bytes(host->b, 16, d->table.seed);
    uint32_t tag = (uint32_t)(hh >> 32);
    for (int i = 0; i < e->n_exact; i++)
        if (e->exact_hosts[i] == tag)
            return;
    uint32_t low;
    memcpy(&low, host->b + 12, 4);
    low = __builtin_bswap32(low);
    if (e->s.probes + e->answers > 1 && low != e->last_host_low && e->steps < UINT16_MAX) {
        e->steps++;
        e->ascending += low > e->last_host_low;
    }
    e->last_host_low = low;
    /* The first SW_EXACT hosts exactly (as scan_detector_count_port
     * counts), kept as 32-bit hashes, later ones in the HyperLogLog. */
    if (e->n_exact < SW_EXACT) {
        if (e->n_exact < SW_SAMPLE_HOSTS)
            e->sample_hosts[e->n_exact] = *host;
        e->exact_hosts[e->n_exact++] = tag;
        e->hosts = e->n_exact;
        if (e->n_exact == SW_EXACT) { /* the next new host goes to the HyperLogLog */
            memset(scan_detector_regs(d, &e->s), 0, (size_t)1 << d->hll_p);
            hll_sum_clear(scan_detector_sum(d, &e->s), d->hll_p);
        }
    } else {
        scan_detector_count_excess(scan_detector_regs(d, &e->s), scan_detector_sum(d, &e->s),
                                   d->hll_p, SW_EXACT, hh, &e->hosts);
    }
    scan_table_set_score(&d->table, &e->s.head, e->hosts);
}

/* What one event adds to an entry (the global counters are the caller's). */
static void entry_apply(struct scan_detector *d, struct sw_entry *e, enum sw_probe probe,
                        const struct ipaddr *host, bool has_port, uint16_t port)
{
    e->s.probes++;
    if (e->by_probe[probe] < UINT16_MAX)
        e->by_probe[probe]++;
    entry_add_host(d, e, host);
    if (has_port)
        scan_detector_count_port(d, e->sample_ports, &e->n_ports, SW_SAMPLE_PORTS, e->ports_hll,
                                 &e->ports_sum, SW_PORTS_P, port, &e->ports);
}

/* A pending source's entry as it would be after the first event and the
 * answers since.  Rules need not be tried for it: one host never reaches
 * a threshold (at least 2). */
static void replay(struct scan_detector *d, struct scan_entry *se, const struct scan_pending *ph)
{
    struct sw_entry *e = (struct sw_entry *)se;
    const struct sw_pending *pd = (const struct sw_pending *)ph;
    entry_apply(d, e, (enum sw_probe)pd->probe, &pd->host, pd->flags & PEND_HAS_PORT, pd->port);
    e->s.flags |= pd->flags & SCAN_OUTWARD;
    e->answers += pd->answers;
}

/* The source's entry for an event that creates state; NULL when the event
 * was the source's first and went to a pending record. */
static struct sw_entry *entry_get(struct scan_detector *d, const struct ipaddr *src,
                                  enum sw_probe probe, uint8_t outward, const struct ipaddr *host,
                                  bool has_port, uint16_t port, uint64_t now_us)
{
    uint8_t key[SCAN_KEY_LEN];
    make_key(key, src);
    uint64_t h = scan_table_hash_src(&d->table, src->b);
    struct scan_look lk;
    struct sw_entry *e = (struct sw_entry *)scan_detector_entry(d, key, h, now_us, &lk);
    if (!e) {
        struct sw_pending *pd = scan_table_pending_take(&d->table, &lk, h, now_us);
        pd->host = *host;
        pd->answers = 0;
        pd->port = port;
        pd->probe = (uint8_t)probe;
        pd->flags = (has_port ? PEND_HAS_PORT : 0) | outward;
    }
    return e;
}

/* src probed protected host dst, or protected src probed an outside host
 * over TCP or ICMP (outward). */
static void on_probe(struct scan_detector *d, const struct pkt *p, enum sw_probe probe,
                     bool has_port, uint64_t now_us)
{
    uint8_t outward = 0;
    if (!detect_dst_protected(d->env, p)) {
        if (probe == SP_UDP || !detect_src_protected(d->env, p))
            return;
        outward = SCAN_OUTWARD;
        d->outward_probes++;
    }
    d->probes++;
    struct sw_entry *e = entry_get(d, &p->src, probe, outward, &p->dst, has_port, p->dport, now_us);
    if (!e)
        return;
    e->s.flags |= outward;
    entry_apply(d, e, probe, &p->dst, has_port, p->dport);
    scan_detector_evaluate(d, &e->s, now_us);
}

/* host answered peer: counted on peer's entry or pending record, if any
 * (an answer never creates state).  Outward sweeps need the answers of
 * outside hosts to their protected peer. */
static void on_answer(struct scan_detector *d, const struct pkt *p, const struct ipaddr *peer,
                      const struct ipaddr *host, uint64_t now_us)
{
    if (!detect_addr_protected(d->env, p, host) && !detect_addr_protected(d->env, p, peer))
        return;
    uint8_t key[SCAN_KEY_LEN];
    make_key(key, peer);
    uint64_t h = scan_table_hash_src(&d->table, peer->b);
    struct sw_entry *e = scan_table_find(&d->table, key, h, now_us);
    if (e) {
        e->answers++;
    } else {
        struct sw_pending *pd = scan_table_pending_find(&d->table, h, now_us);
        if (!pd)
            return;
        pd->answers++;
    }
    d->answers++;
}

/* The probe type of a TCP segment, or -1: ordinary traffic or an answer. */
static int tcp_probe(const struct pkt *p)
{
    uint8_t f = p->tcp_flags & (TCP_FIN | TCP_SYN | TCP_RST | TCP_PSH | TCP_ACK | TCP_URG);
    if (f == TCP_SYN)
        return SP_SYN;
    if (f & (TCP_RST | TCP_SYN)) {
        if ((f & TCP_SYN) && (f & (TCP_FIN | TCP_RST)))
            return SP_TCP_OTHER; /* SYN|FIN, SYN|RST: no client sends them */
        return -1;               /* answers */
    }
    if (f & TCP_ACK) {
        /* A bare ACK or FIN|ACK of no connection seen: nmap -PA and its
         * kin.  Anything in a connection is traffic. */
        if (p->tcp_in_conn || !p->conn_checked || p->payload_wire_len > 0)
            return -1;
        return (f & ~TCP_PSH) == TCP_ACK || (f & ~TCP_PSH) == (TCP_ACK | TCP_FIN) ? SP_ACK : -1;
    }
    if (f == 0)
        return SP_NULL;
    if (f == TCP_FIN)
        return SP_FIN;
    if ((f & (TCP_FIN | TCP_PSH | TCP_URG)) == (TCP_FIN | TCP_PSH | TCP_URG))
        return SP_XMAS;
    return SP_TCP_OTHER;
}

static bool icmp_is_request(uint8_t proto, uint8_t type)
{
    if (proto == PROTO_ICMP)
        return type == 8 || type == 13 || type == 17; /* echo, timestamp, mask */
    return type == 128;                               /* echo request */
}

static bool icmp_is_reply(uint8_t proto, uint8_t type)
{
    if (proto == PROTO_ICMP)
        return type == 0 || type == 14 || type == 18 || type == 3;
    return type == 129 || type == 1;
}

static void sweep_on_packet(void *self, const struct pkt *p)
{
    struct scan_detector *d = self;
    if (p->later_fragment || d->p.n == 0)
        return;
    uint64_t now_us = p->ts_us > d->now_us ? p->ts_us : d->now_us;
    d->now_us = now_us;
    switch (p->proto) {
    case PROTO_TCP: {
        int probe = tcp_probe(p);
        if (probe >= 0)
            on_probe(d, p, (enum sw_probe)probe, true, now_us);
        else if (p->tcp_flags & (TCP_RST | TCP_SYN))
            on_answer(d, p, &p->dst, &p->src, now_us);
        break;
    }
    case PROTO_UDP:
        if (!(p->sport < 1024 && p->dport >= 1024))
            on_probe(d, p, SP_UDP, true, now_us);
        break;
    case PROTO_ICMP:
    case PROTO_ICMPV6:
        if (icmp_is_request(p->proto, p->icmp_type)) {
            enum sw_probe probe = p->proto == PROTO_ICMPV6 || p->icmp_type == 8 ? SP_ECHO
                                  : p->icmp_type == 13                          ? SP_TIMESTAMP
                                                                                : SP_MASK;
            on_probe(d, p, probe, false, now_us);
        } else if (icmp_is_reply(p->proto, p->icmp_type)) {
            bool unreach = p->proto == PROTO_ICMP ? p->icmp_type == 3 : p->icmp_type == 1;
            if (!unreach)
                on_answer(d, p, &p->dst, &p->src, now_us);
            else if (p->has_inner)
                on_answer(d, p, &p->inner_src, &p->inner_dst, now_us);
        }
        break;
    default:
        break;
    }
}

/* Any packet: the lines of its source's key, which a probe looks up
 * (detector_ops.prefetch). */
static void sweep_prefetch(void *self, const struct pkt *p)
{
    struct scan_detector *d = self;
    if (d->p.n == 0)
        return;
    scan_table_prefetch(&d->table, scan_table_hash_src(&d->table, p->src.b));
}

/* ---- the detector interface ------------------------------------------------------ */

static int sweep_check(struct ruleset *rules, struct cfg_err *err)
{
    struct scan_params p;
    return scan_params_load(rules, &scan_rules_defaults[SCAN_RULES_SWEEP], &p, err);
}

static const struct scan_kind sw_kind = {
    SCAN_KIND_LAYOUT(struct sw_entry, exact_hosts, end, struct sw_pending),
    .defaults = &scan_rules_defaults[SCAN_RULES_SWEEP],
    .seed_salt = 0x7377,
    .describe = describe,
    .replay = replay,
    .may_open = may_open,
};

static void *sweep_init(struct ruleset *rules, const struct detect_env *env, struct cfg_err *err)
{
    struct scan_detector *d = calloc(1, sizeof(*d));
    if (!d) {
        cfg_fail(err, "sweep", 0, "out of memory");
        return NULL;
    }
    if (scan_detector_init(d, &sw_kind, rules, env, err) < 0) {
        free(d);
        return NULL;
    }
    return d;
}

static void sweep_free(void *self)
{
    if (!self)
        return;
    scan_detector_free(self);
    free(self);
}

const struct detector_ops sweep_detector = {
    .name = "sweep",
    .check = sweep_check,
    .init = sweep_init,
    .on_packet = sweep_on_packet,
    .prefetch = sweep_prefetch,
    .on_tick = scan_detector_tick,
    .reload = scan_detector_reload,
    .stats = scan_detector_stats,
    .flush = scan_detector_flush,
    .free = sweep_free,
};
