/* sweep.c — horizontal scans: one source probing many protected hosts
 * (DESIGN §4.3): ICMP echo sweeps (nmap -sn -PE), TCP ping sweeps
 * (-PS/-PA), one-port scans across a range, and masscan-style randomised
 * scans of many hosts x many ports.  All are one kind, "sweep"; evidence
 * says how (sweep_type icmp|tcp|udp|mixed, the ports, the order).
 *
 * State is one scan_table entry per source with a HyperLogLog of the
 * hosts it probed and a smaller one of the ports, the first hosts and
 * ports exactly, and counts per probe kind.  Probes are packets to a
 * protected host that a scanner sends and a normal client rarely sends to
 * many hosts: ICMP echo/timestamp/address-mask requests, a pure SYN or a
 * TCP flag pattern no client uses, a UDP datagram that is not a service's
 * reply (source port below 1024 to a port above).  A RST from a protected
 * host also counts that host for the peer it answers (that is how a bare
 * ACK ping, which ordinary traffic is full of, shows itself); SYN|ACKs,
 * echo replies and ICMP unreachables count as answers.
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

enum sw_kind { SW_ICMP, SW_TCP, SW_UDP, SW_KINDS };
static const char *const sw_kind_names[SW_KINDS] = {"icmp", "tcp", "udp"};

#define SW_EXACT 32       /* distinct hosts counted exactly (by 32-bit hash) */
#define SW_SAMPLE_HOSTS 4 /* of which the first are kept whole for evidence */
#define SW_SAMPLE_PORTS 8
#define SW_PORTS_P 5 /* 32 registers: ports of a sweep are few or many */

#define SW_ALLOWED 0x01

/* What an event adds: a probe of kind SW_ICMP..SW_UDP, or a RST answer,
 * which counts the host that sent it. */
#define SW_ANSWER_HOST SW_KINDS

/* pending record flags */
#define PEND_HAS_PORT 0x01
#define PEND_RELOADED 0x02 /* a reload restarted the rule windows since */

struct sw_entry {
    struct scan_head head; /* key: source address, then zeros */
    /* Reset by entry_restart: */
    uint64_t first_us;
    uint32_t probes, emitted_probes, answers;
    uint32_t by_kind[SW_KINDS];
    uint32_t win_start_ms[SCAN_MAX_RULES];
    uint16_t win_base[SCAN_MAX_RULES];
    uint32_t last_host_low;    /* low 32 bits of the last host probed */
    uint16_t steps, ascending; /* host-to-host steps, and those going up */
    uint16_t hosts, ports;     /* distinct, estimated */
    uint8_t n_exact, n_ports;
    uint8_t rule, flags;
    /* Not reset: valid up to n_exact / n_ports, the HyperLogLogs cleared
     * when those fill. */
    uint32_t exact_hosts[SW_EXACT];
    struct ipaddr sample_hosts[SW_SAMPLE_HOSTS];
    uint16_t sample_ports[SW_SAMPLE_PORTS];
    uint8_t ports_hll[1 << SW_PORTS_P];
    uint8_t hosts_hll[]; /* 1 << hll_precision */
};

/* A source seen once: its first event, and the answers since. */
struct sw_pending {
    struct scan_pending head; /* first_us: the first event */
    struct ipaddr host;
    uint32_t answers; /* answers that count no host */
    uint16_t port;
    uint8_t what; /* probe kind, or SW_ANSWER_HOST */
    uint8_t flags;
};

struct sweep {
    struct scan_params p;
    const struct detect_env *env;
    struct scan_table table;
    uint64_t now_us;
    uint8_t hll_p;
    uint64_t reload_us; /* now_us at the last reload */
    uint64_t probes, answers, findings, updates, ends, allowed_scans;
};

static const struct scan_defaults sw_defaults = {
    .detector = "sweep",
    .threshold_key = "hosts",
    .threshold = 20,
    .window_us = 60ull * 1000000,
    .table_size = 16384,
    .hll_precision = 7,
    .per_src_cap = false,
};

static void entry_restart(struct sweep *sw, struct sw_entry *e, uint64_t now_us)
{
    memset(&e->first_us, 0,
           offsetof(struct sw_entry, exact_hosts) - offsetof(struct sw_entry, first_us));
    e->first_us = now_us;
    scan_table_set_score(&sw->table, &e->head, 0);
}

static const char *entry_sweep_type(const struct sw_entry *e)
{
    int kinds = 0, best = SW_TCP; /* RST answers alone: a TCP (ACK) ping */
    uint32_t best_n = 0;
    for (int k = 0; k < SW_KINDS; k++) {
        if (e->by_kind[k] > 0 && (uint64_t)e->by_kind[k] * 10 >= e->probes)
            kinds++;
        if (e->by_kind[k] > best_n) {
            best_n = e->by_kind[k];
            best = k;
        }
    }
    return kinds > 1 ? "mixed" : sw_kind_names[best];
}

/* Host order: nmap walks a range upwards, masscan permutes it. */
static const char *entry_order(const struct sw_entry *e)
{
    if (e->steps < 16)
        return "unknown";
    uint32_t up_pct = (uint32_t)e->ascending * 100 / e->steps;
    return up_pct >= 80 || up_pct <= 20 ? "sequential" : "random";
}

static void emit(struct sweep *sw, struct sw_entry *e, enum finding_state state, uint64_t now_us)
{
    struct evt ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = "sweep";
    ev.rule = sw->p.r[e->rule].rule;
    memcpy(ev.src.b, e->head.key, 16);
    ev.has_src = true;
    /* No one target: the hosts are in evidence.  proto: the probes'. */
    const char *type = entry_sweep_type(e);
    ev.proto = strcmp(type, "icmp") == 0  ? (addr_is_v4(&ev.src) ? PROTO_ICMP : PROTO_ICMPV6)
               : strcmp(type, "tcp") == 0 ? PROTO_TCP
               : strcmp(type, "udp") == 0 ? PROTO_UDP
                                          : 0;
    ev.counters = json_pack("{s:I, s:I, s:I, s:I}", "packets", (json_int_t)e->probes, "hosts",
                            (json_int_t)e->hosts, "ports", (json_int_t)e->ports, "answers",
                            (json_int_t)e->answers);
    json_t *hosts = json_array(), *ports = json_array();
    char buf[ADDR_STRLEN];
    for (int i = 0; i < e->n_exact && i < SW_SAMPLE_HOSTS; i++)
        json_array_append_new(hosts,
                              json_string(addr_format(&e->sample_hosts[i], buf, sizeof(buf))));
    for (int i = 0; i < e->n_ports; i++)
        json_array_append_new(ports, json_integer(e->sample_ports[i]));
    ev.evidence = json_pack("{s:s, s:o, s:o, s:s}", "sweep_type", type, "sample_hosts", hosts,
                            "sample_ports", ports, "order", entry_order(e));
    finding_fill(&e->head.life, &ev, state, now_us);
    e->emitted_probes = e->probes;
    if (ev.counters && ev.evidence)
        sw->env->emit(sw->env->emit_ctx, &ev);
    else
        log_err("sweep: out of memory building an event");
    json_decref(ev.counters);
    json_decref(ev.evidence);
    if (state == FINDING_UPDATE)
        sw->updates++;
}

static void finding_close(struct sweep *sw, struct sw_entry *e, uint64_t now_us)
{
    emit(sw, e, FINDING_END, now_us);
    sw->ends++;
    scan_table_open_unlink(&sw->table, &e->head);
}

static void on_evict(void *ctx, struct scan_head *h, uint64_t now_us)
{
    finding_close(ctx, (struct sw_entry *)h, now_us);
}

static void rule_fired(struct sweep *sw, struct sw_entry *e, uint32_t ri, uint64_t now_us)
{
    const struct rule *r = sw->p.r[ri].rule;
    struct ipaddr src;
    memcpy(src.b, e->head.key, 16);
    if (netset_contains(&r->allow, &src)) {
        sw->allowed_scans++;
        e->flags |= SW_ALLOWED;
        return;
    }
    e->rule = (uint8_t)ri;
    finding_open(&e->head.life, e->first_us, now_us);
    scan_table_open_link(&sw->table, &e->head);
    sw->findings++;
    emit(sw, e, FINDING_NEW, now_us);
}

/* ---- packets ------------------------------------------------------------------ */

static void make_key(uint8_t key[SCAN_KEY_LEN], const struct ipaddr *src)
{
    memcpy(key, src->b, 16);
    memset(key + 16, 0, 16);
}

static void entry_add_host(struct sweep *sw, struct sw_entry *e, const struct ipaddr *host)
{
    uint64_t hh = hash_bytes(host->b, 16, sw->table.seed);
    uint32_t tag = (uint32_t)(hh >> 32);
    for (int i = 0; i < e->n_exact; i++)
        if (e->exact_hosts[i] == tag)
            return;
    uint32_t low;
    memcpy(&low, host->b + 12, 4);
    low = __builtin_bswap32(low);
    if (e->probes + e->answers > 1 && low != e->last_host_low && e->steps < UINT16_MAX) {
        e->steps++;
        e->ascending += low > e->last_host_low;
    }
    e->last_host_low = low;
    /* The first SW_EXACT hosts exactly (thresholds compare small counts),
     * later ones in the HyperLogLog, whose error then applies to the
     * excess only. */
    if (e->n_exact < SW_EXACT) {
        if (e->n_exact < SW_SAMPLE_HOSTS)
            e->sample_hosts[e->n_exact] = *host;
        e->exact_hosts[e->n_exact++] = tag;
        e->hosts = e->n_exact;
        if (e->n_exact == SW_EXACT) /* the next new host goes to the HyperLogLog */
            memset(e->hosts_hll, 0, (size_t)1 << sw->hll_p);
    } else {
        struct hll h = {.p = sw->hll_p, .reg = e->hosts_hll};
        if (!hll_add_hash(&h, hh))
            return;
        double est = SW_EXACT + hll_estimate(&h) + 0.5;
        e->hosts = est > 65535 ? 65535 : (uint16_t)est;
    }
    scan_table_set_score(&sw->table, &e->head, e->hosts);
}

static void entry_add_port(struct sweep *sw, struct sw_entry *e, uint16_t port)
{
    for (int i = 0; i < e->n_ports; i++)
        if (e->sample_ports[i] == port)
            return;
    if (e->n_ports < SW_SAMPLE_PORTS) {
        e->sample_ports[e->n_ports++] = port;
        e->ports = e->n_ports;
        if (e->n_ports == SW_SAMPLE_PORTS)
            memset(e->ports_hll, 0, sizeof(e->ports_hll));
        return;
    }
    struct hll h = {.p = SW_PORTS_P, .reg = e->ports_hll};
    if (!hll_add_hash(&h, hash_mix64(sw->table.seed ^ port)))
        return;
    double est = SW_SAMPLE_PORTS + hll_estimate(&h) + 0.5;
    e->ports = est > 65535 ? 65535 : (uint16_t)est;
}

/* What one event adds to an entry (the global counters are the caller's). */
static void entry_apply(struct sweep *sw, struct sw_entry *e, uint8_t what,
                        const struct ipaddr *host, bool has_port, uint16_t port)
{
    if (what == SW_ANSWER_HOST) {
        e->answers++;
    } else {
        e->probes++;
        e->by_kind[what]++;
    }
    entry_add_host(sw, e, host);
    if (has_port)
        entry_add_port(sw, e, port);
}

/* Admit a pending source: its entry as it would be after the first event
 * (and the answers and reloads since).  Rules need not be tried for it:
 * one host never reaches a threshold (at least 2). */
static struct sw_entry *admit(struct sweep *sw, struct sw_pending *pd,
                              const uint8_t key[SCAN_KEY_LEN], uint64_t h, uint64_t now_us)
{
    bool created;
    struct sw_entry *e = scan_table_get(&sw->table, key, h, now_us, &created);
    entry_restart(sw, e, pd->head.first_us);
    entry_apply(sw, e, pd->what, &pd->host, pd->flags & PEND_HAS_PORT, pd->port);
    e->answers += pd->answers;
    if (pd->flags & PEND_RELOADED) {
        uint32_t age_ms =
            (uint32_t)((sw->reload_us > e->first_us ? sw->reload_us - e->first_us : 0) / 1000);
        for (int i = 0; i < SCAN_MAX_RULES; i++) {
            e->win_start_ms[i] = age_ms;
            e->win_base[i] = e->hosts;
        }
    }
    scan_table_pending_admit(&sw->table, &pd->head);
    return e;
}

/* The source's entry for an event that creates state, created or
 * restarted as needed; NULL when the event was the source's first and
 * went to a pending record. */
static struct sw_entry *entry_get(struct sweep *sw, const struct ipaddr *src, uint8_t what,
                                  const struct ipaddr *host, bool has_port, uint16_t port,
                                  uint64_t now_us)
{
    uint8_t key[SCAN_KEY_LEN];
    make_key(key, src);
    uint64_t h = scan_table_hash(&sw->table, key);
    struct sw_entry *e = scan_table_find(&sw->table, key, h, now_us);
    if (!e) {
        struct sw_pending *pd = scan_table_pending_find(&sw->table, h, now_us);
        if (!pd || now_us - pd->head.first_us > sw->p.longest_window_us) {
            pd = scan_table_pending_start(&sw->table, h, now_us);
            pd->host = *host;
            pd->port = port;
            pd->what = what;
            pd->flags = has_port ? PEND_HAS_PORT : 0;
            return NULL;
        }
        e = admit(sw, pd, key, h, now_us);
    } else if (!finding_is_open(&e->head.life) && now_us - e->first_us > sw->p.longest_window_us) {
        entry_restart(sw, e, now_us);
    }
    scan_table_touch(&sw->table, &e->head, now_us);
    return e;
}

static void evaluate(struct sweep *sw, struct sw_entry *e, uint64_t now_us)
{
    if (finding_is_open(&e->head.life)) {
        finding_touch(&e->head.life, now_us);
        return;
    }
    if (e->flags & SW_ALLOWED)
        return;
    for (uint32_t i = 0; i < sw->p.n; i++) {
        struct scan_window w = {e->win_start_ms[i], e->win_base[i]};
        bool fires = scan_rule_fires(&sw->p.r[i], &w, e->first_us, now_us, e->hosts);
        e->win_start_ms[i] = w.start_ms;
        e->win_base[i] = w.base;
        if (fires) {
            rule_fired(sw, e, i, now_us);
            break;
        }
    }
}

/* src probed protected host dst. */
static void on_probe(struct sweep *sw, const struct pkt *p, enum sw_kind kind, bool has_port,
                     uint64_t now_us)
{
    if (!detect_dst_protected(sw->env, p))
        return;
    sw->probes++;
    struct sw_entry *e = entry_get(sw, &p->src, kind, &p->dst, has_port, p->dport, now_us);
    if (!e)
        return;
    entry_apply(sw, e, kind, &p->dst, has_port, p->dport);
    evaluate(sw, e, now_us);
}

/* Protected host answered peer; a RST also proves peer probed it. */
static void on_answer(struct sweep *sw, const struct pkt *p, const struct ipaddr *peer,
                      const struct ipaddr *host, bool counts_host, uint64_t now_us)
{
    if (!detect_addr_protected(sw->env, p, host))
        return;
    if (counts_host) {
        sw->answers++;
        struct sw_entry *e = entry_get(sw, peer, SW_ANSWER_HOST, host, false, 0, now_us);
        if (e) {
            entry_apply(sw, e, SW_ANSWER_HOST, host, false, 0);
            evaluate(sw, e, now_us);
        }
        return;
    }
    uint8_t key[SCAN_KEY_LEN];
    make_key(key, peer);
    uint64_t h = scan_table_hash(&sw->table, key);
    struct sw_entry *e = scan_table_find(&sw->table, key, h, now_us);
    if (e) {
        e->answers++;
    } else {
        struct sw_pending *pd = scan_table_pending_find(&sw->table, h, now_us);
        if (!pd)
            return;
        pd->answers++;
    }
    sw->answers++;
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
    struct sweep *sw = self;
    if (p->later_fragment || sw->p.n == 0)
        return;
    uint64_t now_us = p->ts_us > sw->now_us ? p->ts_us : sw->now_us;
    sw->now_us = now_us;
    switch (p->proto) {
    case PROTO_TCP: {
        uint8_t f = p->tcp_flags & (TCP_FIN | TCP_SYN | TCP_RST | TCP_PSH | TCP_ACK | TCP_URG);
        if (f & TCP_RST)
            on_answer(sw, p, &p->dst, &p->src, true, now_us);
        else if (f == (TCP_SYN | TCP_ACK))
            on_answer(sw, p, &p->dst, &p->src, false, now_us);
        else if (!(f & TCP_ACK))
            /* A pure SYN, or a pattern without ACK no client sends:
             * NULL, FIN, Xmas, SYN|FIN ... */
            on_probe(sw, p, SW_TCP, true, now_us);
        break;
    }
    case PROTO_UDP:
        if (!(p->sport < 1024 && p->dport >= 1024))
            on_probe(sw, p, SW_UDP, true, now_us);
        break;
    case PROTO_ICMP:
    case PROTO_ICMPV6:
        if (icmp_is_request(p->proto, p->icmp_type)) {
            on_probe(sw, p, SW_ICMP, false, now_us);
        } else if (icmp_is_reply(p->proto, p->icmp_type)) {
            bool unreach = p->proto == PROTO_ICMP ? p->icmp_type == 3 : p->icmp_type == 1;
            if (!unreach)
                on_answer(sw, p, &p->dst, &p->src, false, now_us);
            else if (p->has_inner)
                on_answer(sw, p, &p->inner_src, &p->inner_dst, false, now_us);
        }
        break;
    default:
        break;
    }
}

/* ---- clock ------------------------------------------------------------------- */

static void sweep_on_tick(void *self, uint64_t now_us)
{
    struct sweep *sw = self;
    if (now_us > sw->now_us)
        sw->now_us = now_us;
    now_us = sw->now_us;
    scan_table_tick(&sw->table, now_us);
    struct scan_head *h = scan_table_open_first(&sw->table), *next;
    for (; h; h = next) {
        next = scan_table_open_next(&sw->table, h);
        struct sw_entry *e = (struct sw_entry *)h;
        const struct rule *r = sw->p.r[e->rule].rule;
        if (finding_end_due(&h->life, now_us, r->hold_down_us)) {
            finding_close(sw, e, now_us);
            entry_restart(sw, e, now_us);
        } else if (e->probes != e->emitted_probes &&
                   finding_update_due(&h->life, now_us, r->update_interval_us)) {
            emit(sw, e, FINDING_UPDATE, now_us);
        }
    }
}

static void sweep_flush(void *self, uint64_t now_us)
{
    struct sweep *sw = self;
    if (now_us < sw->now_us)
        now_us = sw->now_us;
    struct scan_head *h = scan_table_open_first(&sw->table), *next;
    for (; h; h = next) {
        next = scan_table_open_next(&sw->table, h);
        finding_close(sw, (struct sw_entry *)h, now_us);
        entry_restart(sw, (struct sw_entry *)h, now_us);
    }
}

/* ---- life cycle ------------------------------------------------------------------ */

static int sweep_check(struct ruleset *rules, struct cfg_err *err)
{
    struct scan_params p;
    return scan_params_load(rules, &sw_defaults, &p, err);
}

static void sweep_free(void *self)
{
    struct sweep *sw = self;
    if (!sw)
        return;
    scan_table_free(&sw->table);
    free(sw);
}

static void *sweep_init(struct ruleset *rules, const struct detect_env *env, struct cfg_err *err)
{
    struct sweep *sw = calloc(1, sizeof(*sw));
    if (!sw) {
        cfg_fail(err, "sweep", 0, "out of memory");
        return NULL;
    }
    sw->env = env;
    if (scan_params_load(rules, &sw_defaults, &sw->p, err) < 0) {
        free(sw);
        return NULL;
    }
    sw->hll_p = (uint8_t)sw->p.hll_precision;
    uint32_t capacity = sw->p.n ? (uint32_t)sw->p.table_size : SCAN_WAYS;
    size_t entry_size = offsetof(struct sw_entry, hosts_hll) + ((size_t)1 << sw->hll_p);
    uint32_t pending = sw->p.n ? (uint32_t)sw->p.pending_size : 64;
    if (scan_table_init(&sw->table, capacity, entry_size, pending, sizeof(struct sw_pending),
                        hash_mix64(env->hash_seed ^ 0x7377), on_evict, sw) < 0) {
        free(sw);
        cfg_fail(err, "sweep", 0, "out of memory for a table of %u entries", capacity);
        return NULL;
    }
    sw->table.idle_us = sw->p.idle_us;
    sw->table.emergency_idle_us = sw->p.emergency_idle_us;
    return sw;
}

static void restart_windows(void *ctx, struct scan_head *h)
{
    struct sweep *sw = ctx;
    struct sw_entry *e = (struct sw_entry *)h;
    uint32_t age_ms = (uint32_t)((sw->now_us > e->first_us ? sw->now_us - e->first_us : 0) / 1000);
    for (int i = 0; i < SCAN_MAX_RULES; i++) {
        e->win_start_ms[i] = age_ms;
        e->win_base[i] = e->hosts;
    }
    e->flags = 0;
}

/* A pending source's windows restart too, when it is admitted. */
static void mark_reloaded(void *ctx, struct scan_pending *p)
{
    (void)ctx;
    ((struct sw_pending *)p)->flags |= PEND_RELOADED;
}

static int sweep_reload(void *self, struct ruleset *rules, struct cfg_err *err)
{
    struct sweep *sw = self;
    struct scan_params next;
    if (scan_params_load(rules, &sw_defaults, &next, err) < 0)
        return -1;
    if (next.table_size != sw->p.table_size || next.hll_precision != sw->p.hll_precision ||
        next.pending_size != sw->p.pending_size)
        log_warn("sweep: table_size, pending_size and hll_precision changes take effect at "
                 "restart");
    next.table_size = sw->p.table_size;
    next.pending_size = sw->p.pending_size;
    next.hll_precision = sw->p.hll_precision;
    struct scan_head *h = scan_table_open_first(&sw->table), *nx;
    for (; h; h = nx) {
        nx = scan_table_open_next(&sw->table, h);
        struct sw_entry *e = (struct sw_entry *)h;
        int idx = scan_params_find(&next, sw->p.r[e->rule].rule);
        if (idx < 0) {
            finding_close(sw, e, sw->now_us);
            entry_restart(sw, e, sw->now_us);
        } else {
            e->rule = (uint8_t)idx;
        }
    }
    scan_table_foreach(&sw->table, sw->now_us, restart_windows, sw);
    scan_table_pending_foreach(&sw->table, sw->now_us, mark_reloaded, NULL);
    sw->reload_us = sw->now_us;
    sw->p = next;
    sw->table.idle_us = next.idle_us;
    sw->table.emergency_idle_us = next.emergency_idle_us;
    return 0;
}

static void sweep_stats(void *self, json_t *out)
{
    struct sweep *sw = self;
    scan_table_stats(&sw->table, sw->now_us, out);
    json_object_set_new(out, "probes", json_integer((json_int_t)sw->probes));
    json_object_set_new(out, "answers", json_integer((json_int_t)sw->answers));
    json_object_set_new(out, "findings", json_integer((json_int_t)sw->findings));
    json_object_set_new(out, "updates", json_integer((json_int_t)sw->updates));
    json_object_set_new(out, "ends", json_integer((json_int_t)sw->ends));
    json_object_set_new(out, "allowed_scans", json_integer((json_int_t)sw->allowed_scans));
}

const struct detector_ops sweep_detector = {
    .name = "sweep",
    .check = sweep_check,
    .init = sweep_init,
    .on_packet = sweep_on_packet,
    .on_tick = sweep_on_tick,
    .reload = sweep_reload,
    .stats = sweep_stats,
    .flush = sweep_flush,
    .free = sweep_free,
};
