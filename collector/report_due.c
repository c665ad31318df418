/* report_due.c — see report_due.h. */
#include "collector/report_due.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/collector.h"
#include "collector/incident.h"
#include "collector/registry.h"
#include "collector/report.h"
#include "collector/store.h"
#include "common/log.h"
#include "common/units.h"

#define MAX_LOG 200 /* log entries read into a draft */
#define BATCH "10"

struct report_due {
    const struct collector_config *cfg;
    struct registry reg;
    struct redis_link *link;
    struct report_due_stats stats;
    bool busy;
    uint64_t next_poll_us;
    /* The requests of the last poll, worked one after the other. */
    char pending[10][INCIDENT_ID_LEN + 16];
    size_t n_pending, next;
};

/* The incident and its log, in one round trip. */
static const char load_lua[] =
    "return {redis.call('HGETALL', KEYS[1]), redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', "
    "ARGV[1])}\n";

/* Done with one request: off the queue; when drafted, recorded on the
 * incident, in canh:reports (unless already marked sent) and in its log.
 * ARGV: member, kind, drafted 0/1, due_ms, now_us, note. */
static const char finish_lua[] =
    "redis.call('ZREM', KEYS[3], ARGV[1])\n"
    "if ARGV[3] == '1' and redis.call('EXISTS', KEYS[1]) == 1 then\n"
    "  local k = 'report_' .. ARGV[2]\n"
    "  redis.call('HSET', KEYS[1], k .. '_due_us', ARGV[4] .. '000', k .. '_drafted_us', "
    "ARGV[5])\n"
    "  local sent = redis.call('HGET', KEYS[1], k .. '_sent_us')\n"
    "  if not sent or sent == '' or sent == '0' then redis.call('ZADD', KEYS[4], ARGV[4], "
    "ARGV[1]) end\n"
    "  redis.call('XADD', KEYS[2], '*', 'action', 'report_drafted', 'operator', 'collector', "
    "'state', redis.call('HGET', KEYS[1], 'state') or '', 'note', ARGV[6])\n"
    "end\n"
    "return 1\n";

static void next_request(struct report_due *r);

static void on_finished(redisReply *reply, void *priv)
{
    struct report_due *r = priv;
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        log_warn("report bookkeeping failed: %s", reply ? reply->str : "no reply");
        r->busy = false;
        return;
    }
    next_request(r);
}

static void finish(struct report_due *r, const char *member, const char *kind, bool drafted,
                   uint64_t due_us, const char *note)
{
    char id[INCIDENT_ID_LEN];
    snprintf(id, sizeof(id), "%.*s", (int)strcspn(member, "/"), member);
    char key[96], log_key[96], due[24], now[24];
    snprintf(key, sizeof(key), STORE_INCIDENT_PREFIX "%s", id);
    snprintf(log_key, sizeof(log_key), STORE_LOG_PREFIX "%s", id);
    snprintf(due, sizeof(due), "%" PRIu64, due_us / 1000);
    snprintf(now, sizeof(now), "%" PRIu64, units_now_us());
    const char *argv[] = {
        "EVAL", finish_lua,          "4", key, log_key, STORE_REPORT_QUEUE, STORE_REPORTS, member,
        kind,   drafted ? "1" : "0", due, now, note};
    if (redis_link_command(r->link, COLLECTOR_CMD, on_finished, r,
                           (int)(sizeof(argv) / sizeof(argv[0])), argv, NULL) < 0)
        r->busy = false;
}

static const char *hash_get(const redisReply *h, const char *field)
{
    for (size_t i = 0; i + 1 < h->elements; i += 2)
        if (h->element[i]->type == REDIS_REPLY_STRING && strcmp(h->element[i]->str, field) == 0)
            return h->element[i + 1]->str;
    return NULL;
}

static uint64_t hash_u64(const redisReply *h, const char *field)
{
    const char *v = hash_get(h, field);
    return v ? strtoull(v, NULL, 10) : 0;
}

/* The log entries of XRANGE (stream id time = when). */
static size_t read_log(const redisReply *log, struct report_log_entry *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; log->type == REDIS_REPLY_ARRAY && i < log->elements && n < max; i++) {
        const redisReply *e = log->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2)
            continue;
        struct report_log_entry *x = &out[n++];
        memset(x, 0, sizeof(*x));
        x->at_us = strtoull(e->element[0]->str, NULL, 10) * 1000;
        const redisReply *f = e->element[1];
        const char *v;
        if ((v = hash_get(f, "action")))
            snprintf(x->action, sizeof(x->action), "%s", v);
        if ((v = hash_get(f, "operator")))
            snprintf(x->operator_, sizeof(x->operator_), "%s", v);
        if ((v = hash_get(f, "note")))
            snprintf(x->note, sizeof(x->note), "%s", v);
    }
    return n;
}

struct request {
    struct report_due *r;
    char member[INCIDENT_ID_LEN + 16];
};

static void on_loaded(redisReply *reply, void *priv)
{
    struct request *q = priv;
    struct report_due *r = q->r;
    char member[sizeof(q->member)];
    snprintf(member, sizeof(member), "%s", q->member);
    free(q);
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
        log_warn("report %s: cannot read the incident: %s", member,
                 reply && reply->type == REDIS_REPLY_ERROR ? reply->str : "no reply");
        r->busy = false;
        return;
    }
    const char *slash = strchr(member, '/');
    enum report_kind kind;
    if (!slash || report_kind_parse(slash + 1, &kind) < 0 || kind == REPORT_NOTIFICATION) {
        finish(r, member, "?", false, 0, "");
        return;
    }
    const redisReply *h = reply->element[0];
    struct incident *inc = calloc(1, sizeof(*inc));
    struct report_log_entry *log = calloc(MAX_LOG, sizeof(*log));
    const char **fields = calloc(h->elements + 1, sizeof(*fields));
    size_t *lens = calloc(h->elements + 1, sizeof(*lens));
    if (!inc || !log || !fields || !lens) {
        r->busy = false;
        goto out;
    }
    for (size_t i = 0; i < h->elements; i++) {
        fields[i] = h->element[i]->str;
        lens[i] = h->element[i]->len;
    }
    if (h->elements == 0 || incident_from_fields(inc, fields, lens, h->elements) < 0) {
        finish(r, member, slash + 1, false, 0, ""); /* gone: nothing to report */
        goto out;
    }
    const char *confirmed = hash_get(h, "confirmed_class");
    bool due;
    uint64_t due_us;
    uint64_t detected = inc->opened_us ? inc->opened_us : inc->first_seen_us;
    if (kind == REPORT_INITIAL) {
        due = confirmed &&
              (strcmp(confirmed, "serious") == 0 || r->reg.initial_for == INITIAL_FOR_CONFIRMED);
        due_us = detected + r->cfg->report_deadline_us;
    } else {
        due = hash_u64(h, "report_initial_due_us") != 0;
        due_us = (inc->closed_us ? inc->closed_us : units_now_us()) + r->reg.final_deadline_us;
    }
    if (!due) {
        r->stats.not_due++;
        finish(r, member, slash + 1, false, 0, "");
        goto out;
    }
    uint64_t now = units_now_us();
    struct report_input in = {.kind = kind,
                              .cfg = r->cfg,
                              .reg = &r->reg,
                              .inc = inc,
                              .now_us = now,
                              .detected_us = detected,
                              .due_us = due_us,
                              .confirmed_class = confirmed,
                              .log = log,
                              .n_log = read_log(reply->element[1], log, MAX_LOG),
                              .initial_number = hash_get(h, "report_initial_number"),
                              .initial_date_us = hash_u64(h, "report_initial_sent_us")};
    json_t *draft = report_build(&in);
    int rc = report_write_draft(r->cfg->report_dir, draft);
    json_decref(draft);
    if (rc < 0) {
        r->stats.failures++;
        log_warn("cannot write the %s report of %s in %s: %m; retried", slash + 1, inc->id,
                 r->cfg->report_dir);
        r->busy = false; /* stays queued */
        goto out;
    }
    r->stats.drafted++;
    char when[32], note[160];
    snprintf(note, sizeof(note), "%s report drafted, due %s",
             kind == REPORT_INITIAL ? "initial" : "final", report_date(due_us, when, sizeof(when)));
    log_info("incident %s: %s", inc->id, note);
    finish(r, member, slash + 1, true, due_us, note);
out:
    free(inc);
    free(log);
    free(fields);
    free(lens);
}

static void next_request(struct report_due *r)
{
    if (r->next >= r->n_pending) {
        r->busy = false;
        return;
    }
    struct request *q = calloc(1, sizeof(*q));
    if (!q) {
        r->busy = false;
        return;
    }
    q->r = r;
    snprintf(q->member, sizeof(q->member), "%s", r->pending[r->next++]);
    char id[INCIDENT_ID_LEN], key[96], log_key[96], max[16];
    snprintf(id, sizeof(id), "%.*s", (int)strcspn(q->member, "/"), q->member);
    snprintf(key, sizeof(key), STORE_INCIDENT_PREFIX "%s", id);
    snprintf(log_key, sizeof(log_key), STORE_LOG_PREFIX "%s", id);
    snprintf(max, sizeof(max), "%d", MAX_LOG);
    const char *argv[] = {"EVAL", load_lua, "2", key, log_key, max};
    if (redis_link_command(r->link, COLLECTOR_CMD, on_loaded, q, 6, argv, NULL) < 0) {
        free(q);
        r->busy = false;
    }
}

static void on_polled(redisReply *reply, void *priv)
{
    struct report_due *r = priv;
    r->n_pending = r->next = 0;
    for (size_t i = 0; reply && reply->type == REDIS_REPLY_ARRAY && i < reply->elements &&
                       r->n_pending < sizeof(r->pending) / sizeof(r->pending[0]);
         i++) {
        const redisReply *m = reply->element[i];
        /* Only what canh-ctl writes: "<incident id>/<kind>". */
        if (m->type != REDIS_REPLY_STRING || m->len >= sizeof(r->pending[0]) ||
            !strchr(m->str, '/'))
            continue;
        snprintf(r->pending[r->n_pending++], sizeof(r->pending[0]), "%s", m->str);
    }
    next_request(r);
}

void report_due_tick(struct report_due *r)
{
    uint64_t now = units_now_us();
    if (!r || r->busy || !r->cfg->report_dir[0] || now < r->next_poll_us)
        return;
    r->next_poll_us = now + r->cfg->poll_interval_us;
    const char *argv[] = {"ZRANGE", STORE_REPORT_QUEUE, "0", BATCH};
    r->busy = redis_link_command(r->link, COLLECTOR_CMD, on_polled, r, 4, argv, NULL) == 0;
}

void report_due_session_lost(struct report_due *r)
{
    /* Replies of the lost session come back NULL and clear busy. */
    (void)r;
}

bool report_due_idle(const struct report_due *r)
{
    return !r || !r->busy;
}

const struct report_due_stats *report_due_stats(const struct report_due *r)
{
    return &r->stats;
}

uint64_t report_due_soon_us(const struct report_due *r)
{
    return r ? r->reg.due_soon_us : 0;
}

struct report_due *report_due_new(const struct collector_config *cfg, struct redis_link *link)
{
    struct report_due *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->link = link;
    registry_defaults(&r->reg);
    if (report_due_reconfigure(r, cfg) < 0) {
        free(r);
        return NULL;
    }
    return r;
}

int report_due_reconfigure(struct report_due *r, const struct collector_config *cfg)
{
    struct registry reg;
    struct cfg_err err;
    r->cfg = cfg;
    if (registry_load(cfg->report_registry, &reg, &err) < 0) {
        log_err("%s; the reports keep the registry loaded before", err.msg);
        return -1;
    }
    registry_free(&r->reg);
    r->reg = reg;
    return 0;
}

void report_due_free(struct report_due *r)
{
    if (!r)
        return;
    registry_free(&r->reg);
    free(r);
}
