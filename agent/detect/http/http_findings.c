/* http_findings.c — the findings of the request verdicts (every kind but
 * http_flood, which keeps its own per server): a fixed table of slots
 * keyed by (kind, client, server), or by (kind, server) for defacement and
 * page_changed, which are about the server whoever fetched the page.
 * Occurrences open or feed a slot; the shared walk of finding.h ends,
 * updates and flushes them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/detect/http/http_internal.h"
#include "common/hash.h"

struct http_finding {
    struct http_lifecycle lifecycle; /* first: the walk's callbacks read it */
    bool used;
    uint8_t kind;
    struct ipaddr src, dst;
    uint16_t dport;
    uint16_t sport; /* of the flow that opened the finding */
    uint64_t requests, ok, lru_us;
    int last_status;
    bool impact;
    const struct taxonomy *taxonomy;
    json_t *evidence;
};

/* Findings about the server itself, whoever fetched the page. */
static bool kind_keyed_by_server(enum http_kind k)
{
    return k == HTTP_K_DEFACEMENT || k == HTTP_K_PAGE_CHANGED || k == HTTP_K_HTTP_FLOOD;
}

static json_t *counters_json(const struct http_finding *s)
{
    json_t *c = json_object();
    json_object_set_new(c, "requests", json_integer((json_int_t)s->requests));
    json_object_set_new(c, "answered_2xx", json_integer((json_int_t)s->ok));
    return c;
}

static void emit_slot(struct http_det *d, struct http_finding *s, enum finding_state state)
{
    struct evt ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = http_kind_names[s->kind];
    ev.rule = d->p.rule[s->kind];
    finding_fill(&s->lifecycle.life, &ev, state, d->now_us);
    ev.src = s->src;
    ev.has_src = true;
    ev.dst = s->dst;
    ev.has_dst = true;
    ev.dest_port = s->dport;
    ev.src_port = s->sport;
    ev.proto = PROTO_TCP;
    ev.impact = s->impact;
    ev.taxonomy = s->taxonomy;
    ev.counters = counters_json(s);
    json_object_set_new(s->evidence, "last_status", json_integer(s->last_status));
    ev.evidence = s->evidence;
    d->env->emit(d->env->emit_ctx, &ev);
    json_decref(ev.counters);
    s->lifecycle.dirty = false;
}

static void slot_clear(struct http_finding *s)
{
    json_decref(s->evidence);
    memset(s, 0, sizeof(*s));
}

/* The finding slot of a key: found, or a free or quiet one taken.  Four
 * places are probed from a seeded hash; NULL when all four hold open
 * findings (counted). */
static struct http_finding *slot_for(struct http_det *d, enum http_kind k, const struct ipaddr *src,
                                     const struct ipaddr *dst)
{
    struct {
        uint8_t kind;
        uint8_t src[16], dst[16];
    } key;
    memset(&key, 0, sizeof(key));
    key.kind = (uint8_t)k;
    if (!kind_keyed_by_server(k))
        memcpy(key.src, src->b, 16);
    memcpy(key.dst, dst->b, 16);
    uint64_t h = hash_bytes(&key, sizeof(key), d->env->hash_seed);
    struct http_finding *victim = NULL;
    for (uint32_t i = 0; i < 4; i++) {
        struct http_finding *s = &d->findings[(h + i) % d->n_findings];
        if (s->used && s->kind == k && addr_eq(&s->dst, dst) &&
            (kind_keyed_by_server(k) || addr_eq(&s->src, src)))
            return s;
        if (!s->used) {
            if (!victim || victim->used)
                victim = s;
        } else if (!finding_is_open(&s->lifecycle.life) &&
                   (!victim || (victim->used && s->lru_us < victim->lru_us))) {
            victim = s;
        }
    }
    if (!victim) {
        d->c.findings_dropped++;
        return NULL;
    }
    slot_clear(victim);
    return victim;
}

void http_report(struct http_det *d, struct http_occurrence *o)
{
    struct rule *rule = d->p.rule[o->kind];
    if (!rule) {
        json_decref(o->extra);
        return;
    }
    const struct flow *f = o->flow;
    if (netset_contains(&rule->allow, &f->client)) {
        d->counts.suppressed++;
        json_decref(o->extra);
        return;
    }
    struct http_finding *s = slot_for(d, o->kind, &f->client, &f->server);
    if (!s) {
        json_decref(o->extra);
        return;
    }
    const struct taxonomy *tax = NULL;
    if (o->kind == HTTP_K_DAV_WRITE && !o->page)
        tax = d->p.nonpage_taxonomy;
    if (!s->used) {
        s->used = true;
        s->kind = (uint8_t)o->kind;
        s->src = f->client;
        s->dst = f->server;
        s->dport = f->server_port;
        s->sport = f->client_port;
        s->taxonomy = tax;
    } else if (s->taxonomy && !tax) {
        /* A page was written after other writes: the finding is now a
         * defacement (the rule's taxonomy). */
        s->taxonomy = NULL;
    }
    s->lru_us = d->now_us;
    s->requests++;
    if (o->status >= 200 && o->status < 300)
        s->ok++;
    s->last_status = o->status;
    s->impact = s->impact || o->impact;
    s->lifecycle.dirty = true;

    if (finding_is_open(&s->lifecycle.life)) {
        finding_touch(&s->lifecycle.life, d->now_us);
        json_decref(o->extra);
        if (finding_update_due(&s->lifecycle.life, d->now_us, rule->update_interval_us)) {
            emit_slot(d, s, FINDING_UPDATE);
            finding_count(&d->counts, FINDING_UPDATE);
        }
        return;
    }
    json_t *e = o->extra ? o->extra : json_object();
    const struct http_req *q = o->req;
    if (q) {
        char line[256];
        snprintf(line, sizeof(line), "%s %s HTTP/1.%u", q->method, q->target, q->minor);
        json_object_set_new(e, "request", json_string(line));
        json_object_set_new(e, "method", json_string(q->method));
        json_object_set_new(e, "url", json_string(q->target));
        if (q->host[0])
            json_object_set_new(e, "host", json_string(q->host));
        json_object_set_new(e, "request_body_bytes", json_integer((json_int_t)q->body_bytes));
        if (q->detail[0] && o->detail_key)
            json_object_set_new(e, o->detail_key, json_string(q->detail));
        if (q->excerpt[0] && !json_object_get(e, "excerpt"))
            json_object_set_new(e, "excerpt", json_string(q->excerpt));
    }
    json_object_set_new(e, "status", json_integer(o->status));
    if (o->response_bytes)
        json_object_set_new(e, "response_body_bytes", json_integer((json_int_t)o->response_bytes));
    char a[ADDR_STRLEN];
    json_object_set_new(e, "client", json_string(addr_format(&f->client, a, sizeof(a))));
    /* TLS (agent/detect/tls/): the name HTTPS clients ask this server for */
    const char *sni = http_tls_sni(d, &f->server);
    if (sni)
        json_object_set_new(e, "tls_sni", json_string(sni));
    /* A key seen again after its finding ended starts a new one. */
    json_decref(s->evidence);
    s->evidence = e;
    finding_open(&s->lifecycle.life, d->now_us, d->now_us);
    emit_slot(d, s, FINDING_NEW);
    finding_count(&d->counts, FINDING_NEW);
}

/* ---- the shared walk --------------------------------------------------- */

static struct finding_life *walk_life(void *det, void *item)
{
    (void)det;
    return &((struct http_lifecycle *)item)->life;
}

static bool walk_news(void *det, void *item)
{
    (void)det;
    return ((struct http_lifecycle *)item)->dirty;
}

static void *walk_next(void *det, void *cursor)
{
    struct http_det *d = det;
    struct http_finding *s = cursor ? (struct http_finding *)cursor + 1 : d->findings;
    for (; s < d->findings + d->n_findings; s++)
        if (s->used && finding_is_open(&s->lifecycle.life) && d->p.rule[s->kind])
            return s;
    return NULL;
}

static const struct rule *walk_rule(void *det, void *item)
{
    struct http_det *d = det;
    return d->p.rule[((struct http_finding *)item)->kind];
}

/* The end carries the final counters. */
static void walk_emit(void *det, void *item, enum finding_state state, uint64_t now_us)
{
    (void)now_us; /* the walk's now is d->now_us */
    emit_slot(det, item, state);
}

bool http_findings_remap(void *det, void *item)
{
    struct http_det *d = det;
    return d->reload_to->rule[((struct http_finding *)item)->kind] != NULL;
}

struct finding_source http_walk_base(struct http_det *d)
{
    return (struct finding_source){
        .det = d, .life = walk_life, .news = walk_news, .counts = &d->counts};
}

struct finding_source http_findings_source(struct http_det *d)
{
    struct finding_source src = http_walk_base(d);
    src.next = walk_next;
    src.rule = walk_rule;
    src.emit = walk_emit;
    return src;
}

int http_findings_init(struct http_det *d)
{
    d->n_findings = (uint32_t)d->p.max_findings;
    d->findings = calloc(d->n_findings, sizeof(*d->findings));
    return d->findings ? 0 : -1;
}

void http_findings_free(struct http_det *d)
{
    if (d->findings)
        for (uint32_t i = 0; i < d->n_findings; i++)
            json_decref(d->findings[i].evidence);
    free(d->findings);
    d->findings = NULL;
}
