/* auth.c — the auth detector: brute force against login services
 * (architecture §4.3; rules/auth.rules, docs/rules-auth.md).
 *
 * Packets to and from a listed service port of a protected server (or,
 * roles swapped, of any server a protected client logs in to: an agency
 * host attacking outward) feed two tables (auth_table.c): per client, and
 * per target for distributed attacks.  An attempt is a connection (its
 * first data segment) or an HTTP login POST; a failure is the protocol's
 * refusal (auth_reply.c).  A client over `attempts` or `failures` in the
 * window opens one finding; many clients of one target over the
 * distributed thresholds open one finding without a source, which then
 * takes in its clients instead of each opening its own.  A session lasting
 * long_session during the attack is a possible success: severity one step
 * up, impact set.  Findings follow finding.h through the shared walk.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/detect/auth/auth_internal.h"

struct auth_det {
    const struct detect_env *env;
    struct auth_params p;
    struct auth_table t;
    /* service index + 1 of each port, 0: not a login port */
    uint8_t port_service[65536];
    uint64_t now_us;
    /* HTTP login POSTs whose answer is awaited: while none is, answers on
     * the HTTP ports are not looked at (an upper bound: the POSTs of an
     * evicted client are not taken back). */
    uint64_t login_posts_waiting;
    uint64_t connections, failed_logins, login_posts, long_sessions, allowed;
    struct finding_counts counts;
    const struct auth_params *reload_to; /* set while a reload remaps */
};

static const char KIND[] = "brute_force";

/* Marks the services' ports in a map that is all zero (calloc'd, or
 * cleared by clear_port_map): 64 KiB are not written to mark a few. */
static void build_port_map(struct auth_det *d)
{
    for (size_t i = 0; i < d->p.n_services; i++)
        d->port_service[d->p.services[i].port] = (uint8_t)(i + 1);
}

static void clear_port_map(struct auth_det *d)
{
    for (size_t i = 0; i < d->p.n_services; i++)
        d->port_service[d->p.services[i].port] = 0;
}

static enum auth_proto service_proto(const struct auth_det *d, uint8_t service)
{
    return (enum auth_proto)d->p.services[service].proto;
}

/* ---- events ---------------------------------------------------------- */

static enum severity raised(const struct rule *r, bool possible_success)
{
    enum severity s = r->severity == SEV_NONE ? SEV_MEDIUM : r->severity;
    return possible_success && s < SEV_CRITICAL ? (enum severity)(s + 1) : s;
}

static void set_u(json_t *o, const char *k, uint64_t v)
{
    json_object_set_new(o, k, json_integer((json_int_t)v));
}

static void common_evidence(const struct auth_det *d, json_t *e, uint8_t service, bool outbound,
                            bool possible_success)
{
    const struct auth_service *s = &d->p.services[service];
    json_object_set_new(e, "service", json_string(auth_proto_names[s->proto]));
    set_u(e, "port", s->port);
    json_object_set_new(e, "direction", json_string(outbound ? "outbound" : "inbound"));
    json_object_set_new(e, "possible_success", json_boolean(possible_success));
}

static void fill_event(const struct auth_det *d, struct evt *ev, uint8_t service, bool outbound,
                       bool possible_success)
{
    ev->kind = KIND;
    ev->rule = d->p.rule;
    ev->proto = PROTO_TCP;
    ev->dest_port = d->p.services[service].port;
    ev->impact = possible_success; /* a login may have succeeded: loss of control */
    ev->severity = raised(d->p.rule, possible_success);
    if (outbound)
        ev->taxonomy = taxonomy_find("attack.malware");
}

static void emit_client(struct auth_det *d, struct auth_client *c, enum finding_state state,
                        uint64_t now_us)
{
    struct evt ev;
    memset(&ev, 0, sizeof(ev));
    fill_event(d, &ev, c->service, c->outbound, c->possible_success);
    finding_fill(&c->lifecycle.life, &ev, state, now_us);
    ev.src = c->client;
    ev.has_src = true;
    ev.dst = c->server;
    ev.has_dst = true;
    ev.src_port = c->first_sport;
    json_t *counters = json_object(), *e = json_object();
    set_u(counters, "attempts", c->total_attempts);
    set_u(counters, "failures", c->total_failures);
    set_u(counters, "connections", c->connections);
    set_u(counters, "login_posts", c->login_posts);
    set_u(counters, "long_sessions", c->long_sessions);
    common_evidence(d, e, c->service, c->outbound, c->possible_success);
    json_object_set_new(e, "distributed", json_false());
    set_u(e, "window_s", d->p.window_us / 1000000);
    ev.counters = counters;
    ev.evidence = e;
    d->env->emit(d->env->emit_ctx, &ev);
    json_decref(counters);
    json_decref(e);
    c->lifecycle.dirty = false;
}

static void emit_target(struct auth_det *d, struct auth_target *g, enum finding_state state,
                        uint64_t now_us)
{
    struct evt ev;
    memset(&ev, 0, sizeof(ev));
    fill_event(d, &ev, g->service, g->outbound, g->possible_success);
    finding_fill(&g->lifecycle.life, &ev, state, now_us);
    ev.dst = g->server;
    ev.has_dst = true;
    json_t *counters = json_object(), *e = json_object(), *sample = json_array();
    set_u(counters, "attempts", g->total_attempts);
    set_u(counters, "failures", g->total_failures);
    set_u(counters, "sources", g->sources_seen);
    set_u(counters, "long_sessions", g->long_sessions);
    common_evidence(d, e, g->service, g->outbound, g->possible_success);
    json_object_set_new(e, "distributed", json_true());
    set_u(e, "window_s", d->p.window_us / 1000000);
    for (uint8_t i = 0; i < g->n_sample; i++) {
        char buf[ADDR_STRLEN];
        json_array_append_new(sample, json_string(addr_format(&g->sample[i], buf, sizeof(buf))));
    }
    json_object_set_new(e, "sample_sources", sample);
    ev.counters = counters;
    ev.evidence = e;
    d->env->emit(d->env->emit_ctx, &ev);
    json_decref(counters);
    json_decref(e);
    g->lifecycle.dirty = false;
}

/* ---- the walks ------------------------------------------------------- */

static struct finding_life *walk_life(void *det, void *item)
{
    (void)det;
    return &((struct auth_life *)item)->life;
}

static const struct rule *walk_rule(void *det, void *item)
{
    (void)item;
    return ((struct auth_det *)det)->p.rule;
}

static bool walk_news(void *det, void *item)
{
    (void)det;
    return ((struct auth_life *)item)->dirty;
}

static void *clients_next(void *det, void *cursor)
{
    struct auth_det *d = det;
    uint32_t i = cursor ? (uint32_t)((struct auth_client *)cursor - d->t.clients) + 1 : 0;
    i = auth_table_next_open(&d->t, false, i);
    return i < d->t.n_clients ? &d->t.clients[i] : NULL;
}

static void *targets_next(void *det, void *cursor)
{
    struct auth_det *d = det;
    uint32_t i = cursor ? (uint32_t)((struct auth_target *)cursor - d->t.targets) + 1 : 0;
    i = auth_table_next_open(&d->t, true, i);
    return i < d->t.n_targets ? &d->t.targets[i] : NULL;
}

static void clients_emit(void *det, void *item, enum finding_state state, uint64_t now_us)
{
    emit_client(det, item, state, now_us);
}

static void targets_emit(void *det, void *item, enum finding_state state, uint64_t now_us)
{
    emit_target(det, item, state, now_us);
}

/* After the end the next attack starts from zero (the windows go on). */
static void clients_ended(void *det, void *item, uint64_t now_us)
{
    (void)det;
    (void)now_us;
    struct auth_client *c = item;
    c->total_attempts = c->total_failures = c->connections = c->login_posts = 0;
    c->long_sessions = 0;
    c->first_us = 0;
    c->possible_success = false;
}

static void targets_ended(void *det, void *item, uint64_t now_us)
{
    (void)det;
    (void)now_us;
    struct auth_target *g = item;
    g->total_attempts = g->total_failures = g->long_sessions = 0;
    g->sources_seen = 0;
    g->first_us = 0;
    g->n_sample = 0;
    g->possible_success = false;
}

static struct finding_source source(struct auth_det *d, bool targets)
{
    struct finding_source s = {
        .det = d,
        .next = targets ? targets_next : clients_next,
        .life = walk_life,
        .rule = walk_rule,
        .news = walk_news,
        .emit = targets ? targets_emit : clients_emit,
        .ended = targets ? targets_ended : clients_ended,
        .counts = &d->counts,
    };
    return s;
}

/* ---- counting -------------------------------------------------------- */

/* first_us: the first evidence counted (first_seen), not the crossing. */
static void open_finding(struct auth_det *d, struct auth_life *l, uint64_t first_us, bool targets,
                         void *item)
{
    finding_open(&l->life, first_us ? first_us : d->now_us, d->now_us);
    l->dirty = false;
    auth_table_mark_open(&d->t, targets,
                         targets ? (uint32_t)((struct auth_target *)item - d->t.targets)
                                 : (uint32_t)((struct auth_client *)item - d->t.clients));
    struct finding_source s = source(d, targets);
    finding_source_emit(&s, item, FINDING_NEW, d->now_us);
}

/* One attempt (attempt true) or failure of client c, counted towards its
 * target when the service's attempts count there (failures always do). */
static void record(struct auth_det *d, struct auth_client *c, bool attempt)
{
    const struct auth_params *p = &d->p;
    uint64_t now = d->now_us;
    auth_window_add(attempt ? &c->attempts : &c->failures, now, p->window_us, 1);
    /* The attack starts at the oldest evidence still in the window. */
    if (!c->first_us || (!finding_is_open(&c->lifecycle.life) && now - c->first_us > p->window_us))
        c->first_us = now;
    if (attempt)
        c->total_attempts++;
    else
        c->total_failures++;

    struct auth_target *g = NULL;
    if (!attempt || auth_proto_counts_distributed(service_proto(d, c->service)))
        g = auth_target_get(&d->t, &c->server, c->service, true, now);
    if (g) {
        g->lru_us = now;
        g->outbound = c->outbound;
        uint64_t epoch = now / p->window_us + 1;
        auth_window_add(&g->attempts, now, p->window_us, 1);
        if (!g->first_us ||
            (!finding_is_open(&g->lifecycle.life) && now - g->first_us > p->window_us))
            g->first_us = now;
        if (attempt)
            g->total_attempts++;
        else
            g->total_failures++;
        if (c->window_epoch != epoch) {
            c->window_epoch = epoch;
            auth_window_add(&g->sources, now, p->window_us, 1);
            if (finding_is_open(&g->lifecycle.life))
                g->sources_seen++;
            bool known = false;
            for (uint8_t i = 0; i < g->n_sample; i++)
                known |= !memcmp(&g->sample[i], &c->client, sizeof(c->client));
            if (!known && g->n_sample < AUTH_SAMPLE_SOURCES)
                g->sample[g->n_sample++] = c->client;
        }
        if (finding_is_open(&g->lifecycle.life)) {
            finding_touch(&g->lifecycle.life, now);
            g->lifecycle.dirty = true;
        } else if (p->rule &&
                   auth_window_value(&g->attempts, now, p->window_us) >=
                       (double)p->distributed_attempts &&
                   auth_window_value(&g->sources, now, p->window_us) >=
                       (double)p->distributed_sources) {
            g->sources_seen = (uint32_t)(auth_window_value(&g->sources, now, p->window_us) + 0.5);
            open_finding(d, &g->lifecycle, g->first_us, true, g);
        }
    }

    if (finding_is_open(&c->lifecycle.life)) {
        finding_touch(&c->lifecycle.life, now);
        c->lifecycle.dirty = true;
        return;
    }
    if (!p->rule || (g && finding_is_open(&g->lifecycle.life)))
        return; /* part of the distributed attack's one finding */
    bool over = auth_window_value(&c->attempts, now, p->window_us) >= (double)p->attempts ||
                auth_window_value(&c->failures, now, p->window_us) >= (double)p->failures;
    if (!over)
        return;
    if (netset_contains(&p->rule->allow, &c->client)) {
        if (!c->allowed) {
            c->allowed = true;
            d->allowed++;
            d->counts.suppressed++;
        }
        return;
    }
    open_finding(d, &c->lifecycle, c->first_us, false, c);
}

/* A connection of c that has lasted long_session: a possible success when
 * it belongs to an attack under way. */
static void long_session(struct auth_det *d, struct auth_client *c)
{
    d->long_sessions++;
    c->long_sessions++;
    /* The severity rises: told at once (one update), not at the next
     * update_interval. */
    if (finding_is_open(&c->lifecycle.life)) {
        bool first = !c->possible_success;
        c->possible_success = true;
        c->lifecycle.dirty = true;
        finding_touch(&c->lifecycle.life, d->now_us);
        if (first) {
            struct finding_source s = source(d, false);
            finding_source_emit(&s, c, FINDING_UPDATE, d->now_us);
        }
    }
    struct auth_target *g = auth_target_get(&d->t, &c->server, c->service, false, d->now_us);
    if (g && finding_is_open(&g->lifecycle.life) && c->window_epoch) {
        bool first = !g->possible_success;
        g->possible_success = true;
        g->long_sessions++;
        g->lifecycle.dirty = true;
        finding_touch(&g->lifecycle.life, d->now_us);
        if (first) {
            struct finding_source s = source(d, true);
            finding_source_emit(&s, g, FINDING_UPDATE, d->now_us);
        }
    }
}

static struct auth_conn *ring_find(struct auth_client *c, uint16_t sport)
{
    for (int i = 0; i < AUTH_RING; i++)
        if (c->ring[i].start_us && c->ring[i].sport == sport)
            return &c->ring[i];
    return NULL;
}

static struct auth_conn *ring_add(struct auth_client *c, uint16_t sport, uint64_t now_us)
{
    struct auth_conn *k = &c->ring[c->ring_next];
    c->ring_next = (uint8_t)((c->ring_next + 1) % AUTH_RING);
    memset(k, 0, sizeof(*k));
    k->sport = sport;
    k->start_us = now_us;
    return k;
}

static void auth_on_segment(struct auth_det *d, const struct pkt *p, bool to_server, bool outbound,
                            uint8_t service, enum auth_proto proto);
static void auth_on_unclassified(struct auth_det *d, const struct pkt *p);

static void auth_on_packet(void *self, const struct pkt *p)
{
    struct auth_det *d = self;
    if (p->proto != PROTO_TCP || p->later_fragment)
        return;
    uint8_t si = d->port_service[p->dport];
    bool to_server = si != 0;
    if (!to_server && !(si = d->port_service[p->sport]))
        return;
    if (!p->classified) {
        auth_on_unclassified(d, p);
        return;
    }
    const struct ipaddr *client = to_server ? &p->src : &p->dst;
    const struct ipaddr *server = to_server ? &p->dst : &p->src;
    bool outbound = false;
    if (!detect_addr_protected(d->env, p, server)) {
        if (!detect_addr_protected(d->env, p, client))
            return;
        outbound = true; /* an agency host logging in elsewhere */
    }
    uint8_t service = (uint8_t)(si - 1);
    enum auth_proto proto = service_proto(d, service);
    /* An HTTP segment without data (every SYN and ACK of a web server, and
     * all of a SYN flood against one) has nothing to tell: return before
     * the rest, which is kept out of line for the segments that do.  It
     * does not move the clock either, so that the pipeline may leave such
     * segments out altogether (auth_tcp_ports); on_tick moves it. */
    if (proto == AUTH_P_HTTP && p->payload_len == 0)
        return;
    if (p->ts_us > d->now_us)
        d->now_us = p->ts_us;
    auth_on_segment(d, p, to_server, outbound, service, proto);
}

/* A packet built by hand (tests, fuzz_auth) is classified here, on a copy:
 * auth_on_packet then reads two flags and makes no call before it knows
 * the segment matters, which is what keeps its common path short. */
static __attribute__((noinline)) void auth_on_unclassified(struct auth_det *d, const struct pkt *p)
{
    struct pkt own = *p;
    own.src_protected = detect_is_protected(d->env, &p->src);
    own.dst_protected = detect_is_protected(d->env, &p->dst);
    own.classified = true;
    auth_on_packet(d, &own);
}

/* A segment of an authentication service between protected hosts and
 * others, the clock already moved (auth_on_packet). */
static __attribute__((noinline)) void auth_on_segment(struct auth_det *d, const struct pkt *p,
                                                      bool to_server, bool outbound,
                                                      uint8_t service, enum auth_proto proto)
{
    const struct ipaddr *client = to_server ? &p->src : &p->dst;
    const struct ipaddr *server = to_server ? &p->dst : &p->src;
    uint16_t cport = to_server ? p->sport : p->dport;
    bool data = p->payload_len > 0;
    /* Only a client's data makes an entry: for HTTP only a login POST, so
     * the site's ordinary requests cost one lookup and no table churn. */
    bool login_post = proto == AUTH_P_HTTP && to_server && data &&
                      auth_http_login_post(&d->p, p->payload, p->payload_len);
    if (proto == AUTH_P_HTTP && !login_post && (to_server || !d->login_posts_waiting || !data))
        return;
    bool create = to_server && data && (proto != AUTH_P_HTTP || login_post);
    struct auth_client *c = auth_client_get(&d->t, client, server, service, create, d->now_us);
    if (!c)
        return;
    c->lru_us = d->now_us;
    c->outbound = outbound;
    struct auth_conn *k = ring_find(c, cport);
    if (k && !k->long_seen && d->now_us - k->start_us >= d->p.long_session_us) {
        k->long_seen = true;
        long_session(d, c);
    }
    if (!data)
        return;
    if (to_server) {
        if (!k) {
            if (c->ring[c->ring_next].login_post)
                d->login_posts_waiting--; /* its slot is taken back */
            k = ring_add(c, cport, d->now_us);
            if (!c->first_sport)
                c->first_sport = cport;
            if (auth_proto_counts_connections(proto)) {
                d->connections++;
                c->connections++;
                record(d, c, true);
            }
        }
        if (login_post) {
            if (!k->login_post)
                d->login_posts_waiting++;
            k->login_post = true;
            d->login_posts++;
            c->login_posts++;
            record(d, c, true);
        }
        return;
    }
    bool failed;
    if (proto == AUTH_P_HTTP) {
        if (!k || !k->login_post)
            return;
        int r = auth_http_login_failed(&d->p, p->payload, p->payload_len);
        if (r < 0)
            return; /* body bytes of an earlier answer */
        k->login_post = false;
        d->login_posts_waiting--;
        failed = r == 1;
    } else {
        failed = auth_reply_failed(proto, p->payload, p->payload_len);
    }
    if (failed) {
        d->failed_logins++;
        record(d, c, false);
    }
}

/* ---- ops ------------------------------------------------------------- */

static int auth_check(struct ruleset *rules, struct cfg_err *err)
{
    struct auth_params p;
    int rc = auth_params_load(rules, &p, err);
    auth_params_free(&p);
    return rc;
}

static void *auth_init(struct ruleset *rules, const struct detect_env *env, struct cfg_err *err)
{
    struct auth_det *d = calloc(1, sizeof(*d));
    if (!d) {
        cfg_fail(err, "auth", 0, "out of memory");
        return NULL;
    }
    d->env = env;
    if (auth_params_load(rules, &d->p, err) < 0)
        goto fail;
    if (auth_table_init(&d->t, d->p.max_clients, d->p.max_targets, env->hash_seed ^ 0xa17ull) < 0) {
        cfg_fail(err, "auth", 0, "out of memory for %llu clients",
                 (unsigned long long)d->p.max_clients);
        goto fail;
    }
    build_port_map(d);
    return d;
fail:
    auth_params_free(&d->p);
    free(d);
    return NULL;
}

static void auth_on_tick(void *self, uint64_t now_us)
{
    struct auth_det *d = self;
    if (now_us > d->now_us)
        d->now_us = now_us;
    struct finding_source c = source(d, false), t = source(d, true);
    finding_walk_tick(&c, d->now_us);
    finding_walk_tick(&t, d->now_us);
}

static bool same_services(const struct auth_params *a, const struct auth_params *b)
{
    return a->n_services == b->n_services &&
           !memcmp(a->services, b->services, a->n_services * sizeof(a->services[0]));
}

static bool remap(void *det, void *item)
{
    (void)item;
    struct auth_det *d = det;
    return d->reload_to->rule && same_services(&d->p, d->reload_to);
}

static int auth_reload(void *self, struct ruleset *rules, struct cfg_err *err)
{
    struct auth_det *d = self;
    struct auth_params next;
    if (auth_params_load(rules, &next, err) < 0) {
        auth_params_free(&next);
        return -1;
    }
    d->reload_to = &next;
    struct finding_source c = source(d, false), t = source(d, true);
    finding_walk_reload(&c, remap, d->now_us);
    finding_walk_reload(&t, remap, d->now_us);
    d->reload_to = NULL;
    bool services_changed = !same_services(&d->p, &next);
    /* Table sizes are kept until a restart. */
    next.max_clients = d->p.max_clients;
    next.max_targets = d->p.max_targets;
    if (services_changed)
        clear_port_map(d);
    auth_params_free(&d->p);
    d->p = next;
    if (services_changed) {
        auth_table_clear(&d->t);
        build_port_map(d);
    }
    return 0;
}

static void auth_stats(void *self, json_t *out)
{
    struct auth_det *d = self;
    set_u(out, "clients_capacity", d->t.n_clients);
    set_u(out, "clients_active", d->t.clients_used);
    set_u(out, "clients_evicted", d->t.clients_evicted);
    set_u(out, "targets_capacity", d->t.n_targets);
    set_u(out, "targets_active", d->t.targets_used);
    set_u(out, "targets_evicted", d->t.targets_evicted);
    set_u(out, "not_followed", d->t.not_followed);
    set_u(out, "connections", d->connections);
    set_u(out, "failed_logins", d->failed_logins);
    set_u(out, "login_posts", d->login_posts);
    set_u(out, "long_sessions", d->long_sessions);
    set_u(out, "allowed", d->allowed);
    finding_counts_json(&d->counts, out);
}

static void auth_flush(void *self, uint64_t now_us)
{
    struct auth_det *d = self;
    if (now_us > d->now_us)
        d->now_us = now_us;
    struct finding_source c = source(d, false), t = source(d, true);
    finding_walk_flush(&c, d->now_us);
    finding_walk_flush(&t, d->now_us);
}

/* Every segment on a login port can matter, but on an HTTP one only a
 * segment with data (auth_on_packet returns before anything else). */
static void auth_tcp_ports(void *self, uint8_t *map)
{
    struct auth_det *d = self;
    for (size_t i = 0; i < d->p.n_services; i++) {
        uint16_t port = d->p.services[i].port;
        uint8_t service = (uint8_t)(d->port_service[port] - 1); /* the one that counts */
        map[port] =
            service_proto(d, service) == AUTH_P_HTTP ? DETECTOR_PORT_DATA : DETECTOR_PORT_ANY;
    }
}

static void auth_free(void *self)
{
    struct auth_det *d = self;
    if (!d)
        return;
    auth_table_free(&d->t);
    auth_params_free(&d->p);
    free(d);
}

const struct detector_ops auth_detector = {
    .name = "auth",
    .check = auth_check,
    .init = auth_init,
    .on_packet = auth_on_packet,
    .on_tick = auth_on_tick,
    .reload = auth_reload,
    .stats = auth_stats,
    .flush = auth_flush,
    .free = auth_free,
    .tcp_ports = auth_tcp_ports,
};
