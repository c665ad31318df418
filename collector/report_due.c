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
#include "collector/route.h"
#include "collector/store.h"
#include "common/ctl_scripts.h"
#include "common/log.h"
#include "common/units.h"

#define MAX_LOG 200 /* log entries read into a draft */
#define BATCH "10"
#define N_REMINDERS 10                   /* reminders announced per scan */
#define REMIND_EVERY_US (5ull * 1000000) /* how often canh:reports is scanned */

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
    /* The reminders of the last scan of canh:reports, likewise. */
    uint64_t next_remind_us;
    struct reminder {
        char member[INCIDENT_ID_LEN + 16];
        bool overdue;
        uint64_t due_ms;
        char sinks[INCIDENT_SINKS_LEN];
        char agency[1024];
    } reminders[N_REMINDERS];
    size_t n_reminders, next_reminder;
};

/* The incident and its log, in one round trip. */
static const char load_lua[] =
    "return {redis.call('HGETALL', KEYS[1]), redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', "
    "ARGV[1])}\n";

/* Done with one request: the routes the incident newly meets (an
 * operator confirmed it serious: class = serious_candidate routes) carry
 * it, guarded by the version read (0: it changed meanwhile, the request
 * stays queued and is read again); off the queue; when drafted, recorded
 * on the incident, in canh:reports (unless already marked sent) and in
 * its log.  KEYS: incident, log, report queue, reports, escalations, then
 * canh:escalation:<id>/<route>/escalated of each new route.  ARGV:
 * member, kind, drafted 0/1, due_ms, now_us, note, ver ("" no new route),
 * the sinks list with them, now_ms. */
static const char finish_lua[] =
    "if ARGV[7] ~= '' then\n"
    "  if redis.call('HGET', KEYS[1], 'ver') ~= ARGV[7] then return 0 end\n"
    "  redis.call('HSET', KEYS[1], 'sinks', ARGV[8])\n"
    "  if redis.call('HGET', KEYS[1], 'status') == 'open' then\n"
    "    redis.call('HSET', KEYS[1], 'status', 'escalated')\n"
    "  end\n"
    "  redis.call('HINCRBY', KEYS[1], 'ver', 1)\n"
    "  local id = redis.call('HGET', KEYS[1], 'id')\n"
    "  for k = 6, #KEYS do\n"
    "    local route = string.match(KEYS[k], '^canh:escalation:[^/]+/([^/]+)/')\n"
    "    redis.call('HSET', KEYS[k], 'sink', route, 'incident', id, 'action', 'escalated',\n"
    "               'created_ms', ARGV[9], 'attempts', '0', 'note', 'confirmed serious')\n"
    "    redis.call('ZADD', KEYS[5], ARGV[9], string.sub(KEYS[k], 17))\n"
    "  end\n"
    "end\n"
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

/* The routes an incident newly meets; they are added to its sinks. */
struct joined {
    const char *names[COLLECTOR_MAX_ROUTES];
    size_t n;
    bool changed; /* some route joined, with or without a delivery */
    uint64_t ver;
    char sinks[INCIDENT_SINKS_LEN];
};

static void finish(struct report_due *r, const char *member, const char *kind, bool drafted,
                   uint64_t due_us, const char *note, const struct joined *j)
{
    char id[INCIDENT_ID_LEN];
    snprintf(id, sizeof(id), "%.*s", (int)strcspn(member, "/"), member);
    char key[96], log_key[96], due[24], now[24], now_ms[24], ver[24] = "";
    char jobs[COLLECTOR_MAX_ROUTES][192];
    uint64_t now_us = units_now_us();
    snprintf(key, sizeof(key), STORE_INCIDENT_PREFIX "%s", id);
    snprintf(log_key, sizeof(log_key), STORE_LOG_PREFIX "%s", id);
    snprintf(due, sizeof(due), "%" PRIu64, due_us / 1000);
    snprintf(now, sizeof(now), "%" PRIu64, now_us);
    snprintf(now_ms, sizeof(now_ms), "%" PRIu64, now_us / 1000);
    bool changed = j && j->changed;
    size_t n_jobs = changed ? j->n : 0;
    if (changed)
        snprintf(ver, sizeof(ver), "%" PRIu64, j->ver);
    char nkeys[8];
    snprintf(nkeys, sizeof(nkeys), "%zu", 5 + n_jobs);
    const char *argv[3 + 5 + COLLECTOR_MAX_ROUTES + 9];
    int n = 0;
    argv[n++] = "EVAL";
    argv[n++] = finish_lua;
    argv[n++] = nkeys;
    argv[n++] = key;
    argv[n++] = log_key;
    argv[n++] = STORE_REPORT_QUEUE;
    argv[n++] = STORE_REPORTS;
    argv[n++] = STORE_ESCALATIONS;
    for (size_t i = 0; i < n_jobs; i++) {
        snprintf(jobs[i], sizeof(jobs[i]), STORE_ESCALATION_PREFIX "%s/%s/escalated", id,
                 j->names[i]);
        argv[n++] = jobs[i];
    }
    const char *rest[] = {member, kind, drafted ? "1" : "0",     due,   now,
                          note,   ver,  changed ? j->sinks : "", now_ms};
    for (size_t i = 0; i < sizeof(rest) / sizeof(rest[0]); i++)
        argv[n++] = rest[i];
    if (redis_link_command(r->link, COLLECTOR_CMD, on_finished, r, n, argv, NULL) < 0)
        r->busy = false;
}

/* The routes whose incident filters now hold and that do not carry it
 * yet (the class filter reads the operators' confirmed class). */
static void join_routes(const struct collector_config *cfg, const struct incident *inc,
                        struct joined *j)
{
    memset(j, 0, sizeof(*j));
    j->ver = inc->ver;
    snprintf(j->sinks, sizeof(j->sinks), "%s", inc->sinks);
    if (inc->status == INCIDENT_CLOSED)
        return;
    for (size_t i = 0; i < cfg->n_routes; i++) {
        const struct route *rt = &cfg->routes[i];
        if (incident_list_contains(j->sinks, rt->name, ',') || !route_takes(cfg, rt, inc))
            continue;
        if (!incident_list_add(j->sinks, sizeof(j->sinks), rt->name, ',', COLLECTOR_MAX_ROUTES))
            continue;
        j->changed = true;
        /* Routes that do not hear "escalated" carry it without a delivery. */
        if (route_hears(rt, "escalated", inc->state))
            j->names[j->n++] = rt->name;
    }
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
        finish(r, member, "?", false, 0, "", NULL);
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
        finish(r, member, slash + 1, false, 0, "", NULL); /* gone: nothing to report */
        goto out;
    }
    /* A confirmation may bring it into routes' class filter. */
    struct joined joined;
    join_routes(r->cfg, inc, &joined);
    if (!r->cfg->report_dir[0]) { /* no drafts: only the routes */
        finish(r, member, slash + 1, false, 0, "", &joined);
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
        finish(r, member, slash + 1, false, 0, "", &joined);
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
    finish(r, member, slash + 1, true, due_us, note, &joined);
out:
    free(inc);
    free(log);
    free(fields);
    free(lens);
}

/* ---- reminders -------------------------------------------------------- */

/* The reports of canh:reports (drafted, not marked sent) due before
 * ARGV[1] (now + due_soon, ms) whose reminder of the stage they are in
 * (overdue: due at or before ARGV[2], now) has not been announced; at
 * most ARGV[3], each {member, stage, due ms, sinks, agency}. */
static const char remind_scan_lua[] =
    "local out = {}\n"
    "local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, "
    "2000)\n"
    "for i = 1, #due, 2 do\n"
    "  local id, kind = string.match(due[i], '^([^/]+)/(%a+)$')\n"
    "  if id then\n"
    "    local stage = 'due_soon'\n"
    "    if tonumber(due[i + 1]) <= tonumber(ARGV[2]) then stage = 'overdue' end\n"
    "    local h = redis.call('HMGET', 'canh:incident:' .. id, 'report_' .. kind .. "
    "'_reminded_' .. stage, 'sinks', 'agency', 'id')\n"
    "    if h[4] and (not h[1] or h[1] == '') then\n"
    "      out[#out + 1] = {due[i], stage, due[i + 1], h[2] or '', h[3] or ''}\n"
    "      if #out >= tonumber(ARGV[3]) then break end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return out\n";

static void next_reminder(struct report_due *r);

static void on_reminded(redisReply *reply, void *priv)
{
    struct report_due *r = priv;
    const struct reminder *m = &r->reminders[r->next_reminder - 1];
    if (!reply) {
        r->busy = false;
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR)
        log_warn("reminder of report %s failed: %s", m->member, reply->str);
    else if (reply->type == REDIS_REPLY_INTEGER && reply->integer == 1) {
        r->stats.reminded++;
        log_info("report %s: %s reminder announced", m->member,
                 m->overdue ? "overdue" : "due soon");
    }
    next_reminder(r);
}

static void next_reminder(struct report_due *r)
{
    if (r->next_reminder >= r->n_reminders) {
        r->busy = false;
        return;
    }
    const struct reminder *m = &r->reminders[r->next_reminder++];
    char id[INCIDENT_ID_LEN], when[32], note[256];
    snprintf(id, sizeof(id), "%.*s", (int)strcspn(m->member, "/"), m->member);
    const char *kind = strchr(m->member, '/') + 1;
    bool initial = strcmp(kind, "initial") == 0;
    report_date(m->due_ms * 1000, when, sizeof(when));
    snprintf(note, sizeof(note), "%s: hạn %s, %s / %s report due %s, %s",
             initial ? "Báo cáo ban đầu sự cố mạng" : "Báo cáo kết thúc ứng phó sự cố", when,
             m->overdue ? "ĐÃ QUÁ HẠN" : "sắp đến hạn", initial ? "initial" : "final", when,
             m->overdue ? "overdue" : "due soon");
    struct ctl_call *call = malloc(sizeof(*call));
    if (!call) {
        r->busy = false;
        return;
    }
    ctl_transition_call(call, m->overdue ? &ctl_remind_overdue : &ctl_remind_due_soon, id,
                        "collector", note, kind, m->sinks, m->agency, units_now_us() / 1000,
                        r->cfg->maxlen);
    if (redis_link_command(r->link, COLLECTOR_CMD, on_reminded, r, call->argc, call->argv, NULL) <
        0)
        r->busy = false;
    free(call);
}

static void on_remind_scan(redisReply *reply, void *priv)
{
    struct report_due *r = priv;
    r->n_reminders = r->next_reminder = 0;
    if (reply && reply->type == REDIS_REPLY_ERROR)
        log_warn("report reminders: %s", reply->str);
    for (size_t i = 0; reply && reply->type == REDIS_REPLY_ARRAY && i < reply->elements &&
                       r->n_reminders < N_REMINDERS;
         i++) {
        const redisReply *e = reply->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 5 || !strchr(e->element[0]->str, '/'))
            continue;
        struct reminder *m = &r->reminders[r->n_reminders++];
        snprintf(m->member, sizeof(m->member), "%s", e->element[0]->str);
        m->overdue = strcmp(e->element[1]->str, "overdue") == 0;
        m->due_ms = strtoull(e->element[2]->str, NULL, 10);
        snprintf(m->sinks, sizeof(m->sinks), "%s", e->element[3]->str);
        snprintf(m->agency, sizeof(m->agency), "%s", e->element[4]->str);
    }
    next_reminder(r);
}

/* After the queue: every REMIND_EVERY_US, the reminders due. */
static void remind(struct report_due *r)
{
    uint64_t now = units_now_us();
    if (now < r->next_remind_us) {
        r->busy = false;
        return;
    }
    r->next_remind_us = now + REMIND_EVERY_US;
    char until[24], now_ms[24], max[8];
    snprintf(until, sizeof(until), "%" PRIu64, (now + r->reg.due_soon_us) / 1000);
    snprintf(now_ms, sizeof(now_ms), "%" PRIu64, now / 1000);
    snprintf(max, sizeof(max), "%d", N_REMINDERS);
    const char *argv[] = {"EVAL", remind_scan_lua, "1", STORE_REPORTS, until, now_ms, max};
    if (redis_link_command(r->link, COLLECTOR_CMD, on_remind_scan, r, 7, argv, NULL) < 0)
        r->busy = false;
}

static void next_request(struct report_due *r)
{
    if (r->next >= r->n_pending) {
        remind(r);
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
    if (!r || r->busy || now < r->next_poll_us)
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
