/* http_flood.c — http_flood: requests per second to one web server, over
 * a window of whole seconds, far above the server's learned baseline and
 * over the rule's floor.  Request and status lines are counted per packet
 * (segment starts), so captures cut by a small snaplen still count; each
 * server's state is one slot of a fixed table, with top URLs and clients
 * in small top-K sketches for the evidence.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "agent/detect/baseline.h"
#include "agent/detect/http/http_internal.h"
#include "agent/detect/sketch.h"
#include "agent/detect/tls/tls_servers.h"
#include "common/hash.h"

#define TOP_NAMES 16

struct url_name {
    uint64_t hash;
    char path[96];
};

struct http_target {
    struct http_lifecycle lifecycle; /* first: the walk's callbacks read it */
    bool used;
    struct ipaddr addr;
    uint16_t port;
    uint64_t sec; /* current second (packet time) */
    uint32_t req[60], answered[60], failed[60];
    uint32_t handshakes[60]; /* TLS ClientHellos among req */
    double baseline;
    uint64_t last_us;
    double peak_rate;
    struct topk urls, clients;
    struct url_name names[TOP_NAMES];
    struct ipaddr src;
    bool has_src;
};

static uint32_t flood_window_s(const struct http_det *d)
{
    return (uint32_t)(d->p.flood_window_us / 1000000);
}

static struct http_target *target_for(struct http_det *d, const struct ipaddr *server, bool create)
{
    uint64_t h = hash_bytes(server->b, 16, d->env->hash_seed ^ 0x7461726765740000ull);
    struct http_target *victim = NULL;
    for (uint32_t i = 0; i < 4; i++) {
        struct http_target *t = &d->targets[(h + i) % d->n_targets];
        if (t->used && addr_eq(&t->addr, server))
            return t;
        if (!create)
            continue;
        if (!t->used) {
            if (!victim || victim->used)
                victim = t;
        } else if (!finding_is_open(&t->lifecycle.life) &&
                   (!victim || (victim->used && t->last_us < victim->last_us))) {
            victim = t;
        }
    }
    if (!victim)
        return NULL;
    if (victim->used)
        d->c.targets_replaced++;
    uint32_t slot = (uint32_t)(victim - d->targets);
    uint32_t k = (uint32_t)d->p.flood_top * 2;
    size_t pool = TOPK_POOL_ITEMS(k);
    memset(victim, 0, sizeof(*victim));
    topk_init_in(&victim->urls, d->target_tops + (size_t)slot * 2 * pool, k);
    topk_init_in(&victim->clients, d->target_tops + ((size_t)slot * 2 + 1) * pool, k);
    d->targets_used[slot / 64] |= 1ull << (slot % 64);
    victim->used = true;
    victim->addr = *server;
    victim->sec = d->now_us / 1000000;
    return victim;
}

static void flood_evaluate(struct http_det *d, struct http_target *t, bool partial);

/* Seconds over the floor teach nothing: they are the start of what the
 * baseline must tell apart; nor do seconds under an open flood. */
static void learn_seconds(struct http_det *d, struct http_target *t, uint32_t requests,
                          uint64_t seconds)
{
    if (finding_is_open(&t->lifecycle.life) || requests >= d->p.flood_rate)
        return;
    double alpha = 1.0 / (double)(d->p.flood_learn_us / 1000000);
    t->baseline = baseline_learn(t->baseline, (double)requests, alpha, seconds);
}

/* Move a target's clock to now.  Each second that passed is closed: the
 * flood condition is checked on the window that ends with it (so a burst
 * shorter than a tick is not missed), and it feeds the baseline, one step
 * a second as the flood detector's (baseline.h).  After a minute the
 * window holds only empty seconds: the rest are learned in one go. */
static void target_advance(struct http_det *d, struct http_target *t)
{
    uint64_t now_s = d->now_us / 1000000;
    if (now_s <= t->sec)
        return;
    uint64_t steps = now_s - t->sec;
    for (uint64_t s = 0; s < steps && s < 60; s++) {
        uint32_t idx = (uint32_t)(t->sec % 60);
        if (d->p.rule[HTTP_K_HTTP_FLOOD])
            flood_evaluate(d, t, true);
        learn_seconds(d, t, t->req[idx], 1);
        t->sec++;
        idx = (uint32_t)(t->sec % 60);
        t->req[idx] = t->answered[idx] = t->failed[idx] = t->handshakes[idx] = 0;
    }
    if (steps > 60)
        learn_seconds(d, t, 0, steps - 60);
    t->sec = now_s;
}

/* Sums over the last window of whole seconds; with partial, the second
 * under way counts too (end of input, where no later second will come). */
static void target_sums(const struct http_det *d, const struct http_target *t, bool partial,
                        uint64_t *req, uint64_t *answered, uint64_t *failed, uint64_t *handshakes)
{
    *req = *answered = *failed = *handshakes = 0;
    uint32_t w = flood_window_s(d);
    for (uint32_t i = partial ? 0 : 1; i < w + (partial ? 0 : 1); i++) {
        uint32_t idx = (uint32_t)((t->sec + 60 - i) % 60);
        *req += t->req[idx];
        *answered += t->answered[idx];
        *failed += t->failed[idx];
        *handshakes += t->handshakes[idx];
    }
}

/* line: the request line (NULL for a TLS handshake, whose URL is not
 * seen).  Inlined into both callers: out of line, the per-request path
 * of plain HTTP costs 1 M instructions more on bench-gen-pcap mixed
 * (docs/performance.md, issue 13). */
static inline __attribute__((always_inline)) void
flood_request(struct http_det *d, const struct pkt *p, const uint8_t *line, size_t n)
{
    struct http_target *t = target_for(d, &p->dst, true);
    if (!t)
        return;
    target_advance(d, t);
    t->req[t->sec % 60]++;
    t->last_us = d->now_us;
    if (!t->port)
        t->port = p->dport;
    uint8_t key[16] = {0};
    memcpy(key, p->src.b, 16);
    topk_add(&t->clients, key, 1);
    if (!line) {
        t->handshakes[t->sec % 60]++;
        return;
    }
    /* URL: the target of the request line, up to the query. */
    const uint8_t *sp = memchr(line, ' ', n);
    if (!sp)
        return;
    const uint8_t *u = sp + 1;
    size_t ul = 0;
    while (u + ul < line + n && u[ul] != ' ' && u[ul] != '?' && u[ul] != '\r' && ul < 95)
        ul++;
    uint64_t h = hash_bytes(u, ul, d->env->hash_seed);
    memset(key, 0, sizeof(key));
    memcpy(key, &h, 8);
    topk_add(&t->urls, key, 1);
    struct url_name *nm = &t->names[h % TOP_NAMES];
    if (nm->hash != h) {
        nm->hash = h;
        memcpy(nm->path, u, ul);
        nm->path[ul] = '\0';
        for (size_t i = 0; i < ul; i++)
            if ((uint8_t)nm->path[i] < 0x20 || (uint8_t)nm->path[i] >= 0x7f)
                nm->path[i] = '.';
    }
}

static void flood_response(struct http_det *d, const struct pkt *p, int status)
{
    struct http_target *t = target_for(d, &p->src, false);
    if (!t)
        return;
    target_advance(d, t);
    if (status >= 500)
        t->failed[t->sec % 60]++;
    else
        t->answered[t->sec % 60]++;
}

static void emit_flood(struct http_det *d, struct http_target *t, enum finding_state state,
                       bool partial)
{
    struct evt ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = http_kind_names[HTTP_K_HTTP_FLOOD];
    ev.rule = d->p.rule[HTTP_K_HTTP_FLOOD];
    finding_fill(&t->lifecycle.life, &ev, state, d->now_us);
    ev.dst = t->addr;
    ev.has_dst = true;
    ev.src = t->src;
    ev.has_src = t->has_src;
    ev.dest_port = t->port;
    ev.proto = PROTO_TCP;
    uint64_t req, answered, failed, handshakes;
    target_sums(d, t, partial, &req, &answered, &failed, &handshakes);
    double w = (double)flood_window_s(d);
    double rate = (double)req / w;
    double answer_ratio = req ? (double)answered / (double)req : 1.0;
    ev.impact = req > 0 && answer_ratio < d->p.answered_ratio;
    json_t *c = json_object();
    json_object_set_new(c, "requests_window", json_integer((json_int_t)req));
    json_object_set_new(c, "answered_window", json_integer((json_int_t)answered));
    json_object_set_new(c, "server_errors_window", json_integer((json_int_t)failed));
    json_object_set_new(c, "tls_handshakes_window", json_integer((json_int_t)handshakes));
    json_object_set_new(c, "rate_rps", json_real(rate));
    json_object_set_new(c, "peak_rps", json_real(t->peak_rate));
    json_t *e = json_object();
    json_object_set_new(e, "baseline_rps", json_real(t->baseline));
    json_object_set_new(e, "floor_rps", json_real(d->p.flood_rate));
    json_object_set_new(e, "answer_ratio", json_real(answer_ratio));
    struct topk_item items[16];
    uint32_t n = topk_sorted(&t->urls, items, (uint32_t)d->p.flood_top);
    json_t *urls = json_array();
    for (uint32_t i = 0; i < n; i++) {
        uint64_t h;
        memcpy(&h, items[i].key, 8);
        const struct url_name *nm = &t->names[h % TOP_NAMES];
        json_t *o = json_object();
        json_object_set_new(o, "url", json_string(nm->hash == h ? nm->path : "?"));
        json_object_set_new(o, "requests", json_integer((json_int_t)items[i].count));
        json_array_append_new(urls, o);
    }
    json_object_set_new(e, "top_urls", urls);
    n = topk_sorted(&t->clients, items, (uint32_t)d->p.flood_top);
    json_t *clients = json_array();
    for (uint32_t i = 0; i < n; i++) {
        struct ipaddr a;
        char s[ADDR_STRLEN];
        memcpy(a.b, items[i].key, 16);
        json_t *o = json_object();
        json_object_set_new(o, "client", json_string(addr_format(&a, s, sizeof(s))));
        json_object_set_new(o, "requests", json_integer((json_int_t)items[i].count));
        json_array_append_new(clients, o);
    }
    json_object_set_new(e, "top_clients", clients);
    /* TLS (agent/detect/tls/): names asked for and client fingerprints */
    tls_servers_evidence(d->tls, &t->addr, e);
    ev.counters = c;
    ev.evidence = e;
    d->env->emit(d->env->emit_ctx, &ev);
    json_decref(c);
    json_decref(e);
    t->lifecycle.dirty = false;
}

/* Check the window ending now (partial: with the second under way) and
 * open the finding when the rate is over the floor and far over the
 * baseline; an open one is kept alive while the rate stays high. */
static void flood_evaluate(struct http_det *d, struct http_target *t, bool partial)
{
    struct rule *r = d->p.rule[HTTP_K_HTTP_FLOOD];
    uint64_t req, answered, failed, handshakes;
    target_sums(d, t, partial, &req, &answered, &failed, &handshakes);
    double rate = (double)req / (double)flood_window_s(d);
    if (rate > t->peak_rate)
        t->peak_rate = rate;
    if (finding_is_open(&t->lifecycle.life)) {
        if (rate >= d->p.flood_rate / 2) {
            finding_touch(&t->lifecycle.life, d->now_us);
            t->lifecycle.dirty = true;
        }
        return;
    }
    if (rate >= d->p.flood_rate && rate >= d->p.flood_factor * t->baseline) {
        /* One client with most of the requests is the source (DoS);
         * otherwise the flood has no one source (DDoS). */
        struct topk_item top;
        t->has_src = false;
        if (topk_sorted(&t->clients, &top, 1) == 1 && top.count * 2 >= req) {
            memcpy(t->src.b, top.key, 16);
            if (netset_contains(&r->allow, &t->src)) {
                d->counts.suppressed++;
                return;
            }
            t->has_src = true;
        }
        finding_open(&t->lifecycle.life, d->now_us, d->now_us);
        emit_flood(d, t, FINDING_NEW, partial);
        finding_count(&d->counts, FINDING_NEW);
    } else if (rate < d->p.flood_rate / 4) {
        /* Quiet: the top lists restart so the next flood's tops are its
         * own. */
        topk_reset(&t->urls);
        topk_reset(&t->clients);
        tls_servers_reset_tops(d->tls, &t->addr);
        t->peak_rate = 0;
    }
}

/* A segment that starts a request line: "METHOD /" or "METHOD http". */
static size_t request_line_start(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n && i < 16 && p[i] >= 'A' && p[i] <= 'Z')
        i++;
    if (i < 3 || i >= n - 1 || p[i] != ' ' || (p[i + 1] != '/' && p[i + 1] != 'h'))
        return 0;
    return i;
}

void http_flood_on_packet(struct http_det *d, const struct pkt *p, bool to_server)
{
    if (!d->p.rule[HTTP_K_HTTP_FLOOD] || p->payload_len == 0)
        return;
    if (to_server) {
        if (request_line_start(p->payload, p->payload_len))
            flood_request(d, p, p->payload, p->payload_len);
    } else if (p->payload_len >= 12 && memcmp(p->payload, "HTTP/1.", 7) == 0 &&
               isdigit(p->payload[9]) && isdigit(p->payload[10]) && isdigit(p->payload[11])) {
        flood_response(d, p,
                       (p->payload[9] - '0') * 100 + (p->payload[10] - '0') * 10 +
                           (p->payload[11] - '0'));
    }
}

void http_flood_on_handshake(struct http_det *d, const struct pkt *p, bool client_hello)
{
    if (!d->p.rule[HTTP_K_HTTP_FLOOD])
        return;
    if (client_hello)
        flood_request(d, p, NULL, 0);
    else
        flood_response(d, p, 200);
}

/* ---- the shared walk --------------------------------------------------- */

/* The first claimed target at or after i (n_targets: none). */
static uint32_t next_used(const struct http_det *d, uint32_t i)
{
    while (i < d->n_targets) {
        uint64_t w = d->targets_used[i / 64] >> (i % 64);
        if (w)
            return i + (uint32_t)__builtin_ctzll(w);
        i = (i / 64 + 1) * 64;
    }
    return d->n_targets;
}

static void *walk_next(void *det, void *cursor)
{
    struct http_det *d = det;
    if (!d->p.rule[HTTP_K_HTTP_FLOOD])
        return NULL;
    uint32_t i = cursor ? (uint32_t)((struct http_target *)cursor - d->targets) + 1 : 0;
    for (; (i = next_used(d, i)) < d->n_targets; i++)
        if (finding_is_open(&d->targets[i].lifecycle.life))
            return &d->targets[i];
    return NULL;
}

static const struct rule *walk_rule(void *det, void *item)
{
    (void)item;
    return ((struct http_det *)det)->p.rule[HTTP_K_HTTP_FLOOD];
}

static void walk_emit(void *det, void *item, enum finding_state state, uint64_t now_us)
{
    struct http_det *d = det;
    (void)now_us; /* the walk's now is d->now_us */
    emit_flood(d, item, state, d->input_ended);
}

/* The next flood's tops are its own. */
static void walk_ended(void *det, void *item, uint64_t now_us)
{
    struct http_target *t = item;
    (void)now_us;
    topk_reset(&t->urls);
    topk_reset(&t->clients);
    tls_servers_reset_tops(((struct http_det *)det)->tls, &t->addr);
    t->peak_rate = 0;
}

bool http_flood_remap(void *det, void *item)
{
    (void)item;
    return ((struct http_det *)det)->reload_to->rule[HTTP_K_HTTP_FLOOD] != NULL;
}

struct finding_source http_flood_source(struct http_det *d)
{
    struct finding_source src = http_walk_base(d);
    src.next = walk_next;
    src.rule = walk_rule;
    src.emit = walk_emit;
    src.ended = walk_ended;
    return src;
}

void http_flood_advance(struct http_det *d)
{
    if (!d->p.rule[HTTP_K_HTTP_FLOOD])
        return;
    for (uint32_t i = 0; (i = next_used(d, i)) < d->n_targets; i++) {
        struct http_target *t = &d->targets[i];
        target_advance(d, t);
        if (d->input_ended)
            flood_evaluate(d, t, true);
    }
}

int http_flood_init(struct http_det *d)
{
    d->n_targets = (uint32_t)d->p.max_targets;
    d->targets = calloc(d->n_targets, sizeof(*d->targets));
    d->targets_used = calloc((d->n_targets + 63) / 64, sizeof(*d->targets_used));
    d->target_tops = calloc((size_t)d->n_targets * 2 * TOPK_POOL_ITEMS((size_t)d->p.flood_top * 2),
                            sizeof(*d->target_tops));
    if (!d->targets || !d->targets_used || !d->target_tops)
        return -1;
    return 0;
}

void http_flood_free(struct http_det *d)
{
    free(d->targets);
    free(d->targets_used);
    free(d->target_tops);
    d->targets = NULL;
    d->targets_used = NULL;
    d->target_tops = NULL;
}
