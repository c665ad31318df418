/* http.c — the http detector (architecture §4.3, issue 4): defacement-like web
 * traffic seen on the web ports of the agency's assets.  This file is its
 * face to the pipeline: the detector's ops, which packets are web traffic,
 * and the clock, tables and stats the other files share (http_internal.h
 * says which file does what).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "agent/detect/http/http_internal.h"
#include "common/log.h"

/* ---- packets --------------------------------------------------------- */

static bool port_in(const uint16_t *ports, size_t n, uint16_t port)
{
    for (size_t i = 0; i < n; i++)
        if (ports[i] == port)
            return true;
    return false;
}

/* A web port of a server the agent protects: the asset's own list, or
 * the rule's default list.  Inlined where a is &p->dst or &p->src, so the
 * pipeline's classification is read without a call or a compare. */
__attribute__((always_inline)) static inline bool
is_web_server(const struct http_det *d, const struct pkt *p, const struct ipaddr *a, uint16_t port)
{
    const struct asset *as = detect_addr_asset(d->env, p, a);
    if (as && as->n_web_ports)
        return port_in(as->web_ports, as->n_web_ports, port);
    if (!port_in(d->p.web_ports, d->p.n_web_ports, port))
        return false;
    return as || detect_addr_protected(d->env, p, a);
}

/* Every web port, from the rule's list and the assets' own.  Built on
 * the first packet and on the first after a reload (which clears
 * map_ready): the pipeline swaps in the new assets after the detectors'
 * reload returns, so the map is built from them here, not there. */
__attribute__((noinline)) static void port_map_build(struct http_det *d)
{
    const struct assets *a = d->env->inv.assets;
    const struct asset *v = a ? a->v : NULL;
    size_t n = a ? a->n : 0;
    if (d->map_built)
        memset(d->web_port_map, 0, sizeof(d->web_port_map));
    d->map_built = true;
    for (size_t i = 0; i < d->p.n_web_ports; i++)
        d->web_port_map[d->p.web_ports[i]] = 1;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < v[i].n_web_ports; k++)
            d->web_port_map[v[i].web_ports[k]] = 1;
    d->map_ready = true;
}

static bool port_map_has(const struct http_det *d, uint16_t port)
{
    return d->web_port_map[port] != 0;
}

static bool any_rule(const struct http_params *p)
{
    for (int k = 0; k < HTTP_K_COUNT; k++)
        if (p->rule[k])
            return true;
    return false;
}

/* The segment in its flow f: placed, read and paired. */
static inline __attribute__((always_inline)) void segment(struct http_det *d, const struct pkt *p,
                                                          bool to_server, struct flow *f)
{
    enum flow_side side = to_server ? FLOW_TO_SERVER : FLOW_TO_CLIENT;
    uint32_t ready = flow_segment(d->flows, f, p, to_server);
    /* A bare FIN can end a body that runs to the close. */
    if (ready || f->half[side].finished)
        http_pairing_process(d, f, side);
    if (flow_is_closed(f))
        flow_close(d->flows, f, p->ts_us);
}

/* A bare SYN to a web server, the one segment of a SYN flood: a hash,
 * a bucket and a handshake slot (flow_lookup_syn). */
__attribute__((noinline)) static void syn_to_server(struct http_det *d, const struct pkt *p)
{
    struct flow *f = flow_lookup_syn(d->flows, p);
    if (f)
        segment(d, p, true, f);
}

__attribute__((noinline)) static void other_segment(struct http_det *d, const struct pkt *p,
                                                    bool to_server)
{
    /* Flood counting reads segment starts, so it works on captures whose
     * snaplen cut the payloads. */
    http_flood_on_packet(d, p, to_server);
    /* A SYN or data make a flow (flow.h); a bare ACK, FIN or RST none. */
    bool syn_only = (p->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN;
    bool create = to_server && (syn_only || p->payload_len > 0);
    struct flow *f = flow_lookup(d->flows, p, to_server, create);
    if (f)
        segment(d, p, to_server, f);
}

static void http_on_packet(void *self, const struct pkt *p)
{
    struct http_det *d = self;
    if (p->proto != PROTO_TCP || p->later_fragment || !d->any_rule)
        return;
    if (!d->map_ready)
        port_map_build(d);
    /* TLS (agent/detect/tls/): a segment starting a handshake record, on
     * any web or TLS port (http_tls.c); it goes on as any other. */
    if (p->payload_len >= 6 && p->payload[0] == 0x16)
        http_tls_on_packet(d, p);
    bool dport_web = port_map_has(d, p->dport), sport_web = port_map_has(d, p->sport);
    if (!dport_web && !sport_web)
        return;
    bool to_server;
    if (dport_web && is_web_server(d, p, &p->dst, p->dport))
        to_server = true;
    else if (sport_web && is_web_server(d, p, &p->src, p->sport))
        to_server = false;
    else
        return;
    if (p->ts_us > d->now_us)
        d->now_us = p->ts_us;
    /* A bare SYN counts for no flood (it starts no request line). */
    if (to_server && p->payload_len == 0 && (p->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN)
        syn_to_server(d, p);
    else
        other_segment(d, p, to_server);
}

/* A segment to a web port: its flow's lines.  The server test waits for
 * on_packet (a segment to a port no asset serves costs a wasted line). */
static void http_prefetch(void *self, const struct pkt *p)
{
    struct http_det *d = self;
    if (p->proto == PROTO_TCP && d->map_ready && port_map_has(d, p->dport))
        flow_prefetch(d->flows, p);
}

/* ---- lifecycle ------------------------------------------------------- */

static int http_check(struct ruleset *rules, struct cfg_err *err)
{
    struct http_params p;
    int rc = http_params_load(rules, &p, err);
    http_params_free(&p);
    return rc;
}

static void http_free(void *self);

static void *http_init(struct ruleset *rules, const struct detect_env *env, struct cfg_err *err)
{
    struct http_det *d = calloc(1, sizeof(*d));
    if (!d) {
        cfg_fail(err, "http", 0, "out of memory");
        return NULL;
    }
    d->env = env;
    if (http_params_load(rules, &d->p, err) < 0) {
        http_params_free(&d->p);
        free(d);
        return NULL;
    }
    struct flow_opts fo = {
        .max_flows = (uint32_t)d->p.max_flows,
        .window_bytes = (uint32_t)d->p.flow_window,
        .idle_timeout_us = d->p.flow_idle_us,
        .app_size = sizeof(struct http_flow) + 2 * d->p.body_inspect,
        /* the queue and the prefixes are tracked by count and prefix_len */
        .app_clear_size = offsetof(struct http_flow, req),
        .seed = env->hash_seed,
        /* Spoofed SYNs to a web port must not push out flows with data. */
        .defer_syn = true,
        .on_release = http_pairing_release,
        .ctx = d,
    };
    d->any_rule = any_rule(&d->p);
    d->flows = flow_table_new(&fo);
    if (!d->flows || http_findings_init(d) < 0 || http_flood_init(d) < 0 ||
        http_webshell_init(d) < 0 || http_deface_init(d) < 0 || http_tls_init(d) < 0)
        goto err;
    return d;
err:
    cfg_fail(err, "http", 0, "out of memory for the http tables (max_flows %llu)",
             (unsigned long long)d->p.max_flows);
    http_free(d);
    return NULL;
}

static void http_on_tick(void *self, uint64_t now_us)
{
    struct http_det *d = self;
    if (now_us > d->now_us)
        d->now_us = now_us;
    flow_expire(d->flows, d->now_us);
    struct finding_source slots = http_findings_source(d), floods = http_flood_source(d);
    finding_walk_tick(&slots, d->now_us);
    http_flood_advance(d);
    finding_walk_tick(&floods, d->now_us);
}

/* The table sizes, allocated at init. */
static const size_t table_sizes[] = {
    offsetof(struct http_params, max_flows),    offsetof(struct http_params, flow_window),
    offsetof(struct http_params, body_inspect), offsetof(struct http_params, max_findings),
    offsetof(struct http_params, max_targets),  offsetof(struct http_params, max_uploads),
    offsetof(struct http_params, max_pages),    offsetof(struct http_params, hash_slots),
    offsetof(struct http_params, flood_top),    offsetof(struct http_params, flow_idle_us),
};

/* Sizes stay as allocated: next takes them from now; true when next
 * asked for others. */
static bool keep_table_sizes(struct http_params *next, const struct http_params *now)
{
    bool changed = false;
    for (size_t i = 0; i < sizeof(table_sizes) / sizeof(table_sizes[0]); i++) {
        uint64_t *n = (uint64_t *)((char *)next + table_sizes[i]);
        const uint64_t *o = (const uint64_t *)((const char *)now + table_sizes[i]);
        changed |= *n != *o;
        *n = *o;
    }
    return changed;
}

static int http_reload(void *self, struct ruleset *rules, struct cfg_err *err)
{
    struct http_det *d = self;
    struct http_params np;
    if (http_params_load(rules, &np, err) < 0) {
        http_params_free(&np);
        return -1;
    }
    if (keep_table_sizes(&np, &d->p))
        log_info("http: new table sizes apply at the next restart");
    /* Findings whose rule is gone end now, under the old rule. */
    struct finding_source slots = http_findings_source(d), floods = http_flood_source(d);
    d->reload_to = &np;
    finding_walk_reload(&slots, http_findings_remap, d->now_us);
    finding_walk_reload(&floods, http_flood_remap, d->now_us);
    d->reload_to = NULL;
    http_params_free(&d->p);
    d->p = np;
    d->any_rule = any_rule(&d->p);
    d->map_ready = false;
    d->markers_ready = false;
    return 0;
}

static void http_stats(void *self, json_t *out)
{
    struct http_det *d = self;
    const struct flow_stats *fs = flow_table_stats(d->flows);
    json_t *flows = json_object();
    json_object_set_new(flows, "capacity", json_integer(flow_table_capacity(d->flows)));
    json_object_set_new(flows, "active", json_integer((json_int_t)fs->active));
    json_object_set_new(flows, "created", json_integer((json_int_t)fs->created));
    json_object_set_new(flows, "closed", json_integer((json_int_t)fs->closed));
    json_object_set_new(flows, "evicted_idle", json_integer((json_int_t)fs->evicted_idle));
    json_object_set_new(flows, "evicted_pressure", json_integer((json_int_t)fs->evicted_pressure));
    json_object_set_new(flows, "segments", json_integer((json_int_t)fs->segments));
    json_object_set_new(flows, "retransmitted", json_integer((json_int_t)fs->retransmitted));
    json_object_set_new(flows, "out_of_order", json_integer((json_int_t)fs->out_of_order));
    json_object_set_new(flows, "gaps", json_integer((json_int_t)fs->gaps));
    json_object_set_new(flows, "overflows", json_integer((json_int_t)fs->overflows));
    json_object_set_new(flows, "truncated", json_integer((json_int_t)fs->truncated));
    json_object_set_new(flows, "syns_deferred", json_integer((json_int_t)fs->syns_deferred));
    json_object_set_new(out, "flows", flows);
    const struct http_counters *c = &d->c;
    json_object_set_new(out, "requests", json_integer((json_int_t)c->requests));
    json_object_set_new(out, "responses", json_integer((json_int_t)c->responses));
    json_object_set_new(out, "malformed", json_integer((json_int_t)c->malformed));
    json_object_set_new(out, "head_too_long", json_integer((json_int_t)c->head_too_long));
    json_object_set_new(out, "not_http", json_integer((json_int_t)c->not_http));
    json_object_set_new(out, "tls", json_integer((json_int_t)c->tls));
    json_object_set_new(out, "midstream_skipped", json_integer((json_int_t)c->midstream_skipped));
    json_object_set_new(out, "queue_overflow", json_integer((json_int_t)c->queue_overflow));
    json_object_set_new(out, "findings_dropped", json_integer((json_int_t)c->findings_dropped));
    json_object_set_new(out, "allowed", json_integer((json_int_t)d->counts.suppressed));
    json_object_set_new(out, "pages_learned", json_integer((json_int_t)c->pages_learned));
    json_object_set_new(out, "page_hash_skipped", json_integer((json_int_t)c->page_hash_skipped));
    json_object_set_new(out, "inflate_errors", json_integer((json_int_t)c->inflate_errors));
    json_object_set_new(out, "targets_replaced", json_integer((json_int_t)c->targets_replaced));
    json_object_set_new(out, "writes_not_reported",
                        json_integer((json_int_t)c->writes_not_reported));
    /* TLS (agent/detect/tls/) */
    json_object_set_new(out, "tls_client_hellos", json_integer((json_int_t)c->tls_client_hellos));
    json_object_set_new(out, "tls_server_hellos", json_integer((json_int_t)c->tls_server_hellos));
    json_object_set_new(out, "tls_truncated", json_integer((json_int_t)c->tls_truncated));
    json_object_set_new(out, "tls_malformed", json_integer((json_int_t)c->tls_malformed));
    finding_counts_json(&d->counts, out);
}

static void http_flush(void *self, uint64_t now_us)
{
    struct http_det *d = self;
    if (now_us > d->now_us)
        d->now_us = now_us;
    d->input_ended = true;
    flow_flush(d->flows, d->now_us);
    struct finding_source slots = http_findings_source(d), floods = http_flood_source(d);
    finding_walk_flush(&slots, d->now_us);
    http_flood_advance(d);
    finding_walk_flush(&floods, d->now_us);
}

static void http_free(void *self)
{
    struct http_det *d = self;
    if (!d)
        return;
    flow_table_free(d->flows);
    http_findings_free(d);
    http_flood_free(d);
    http_webshell_free(d);
    http_deface_free(d);
    http_tls_free(d);
    http_params_free(&d->p);
    free(d);
}

const struct detector_ops http_detector = {
    .name = "http",
    .check = http_check,
    .init = http_init,
    .on_packet = http_on_packet,
    .prefetch = http_prefetch,
    .on_tick = http_on_tick,
    .reload = http_reload,
    .stats = http_stats,
    .flush = http_flush,
    .free = http_free,
};
