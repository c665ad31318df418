/* consume.c — reading the agents' streams and applying each entry.
 *
 * The loop, on a 100 ms tick: discover streams (SCAN canh:* TYPE stream,
 * or the configured agents) and create the group on each (XGROUP CREATE
 * ... 0 MKSTREAM, so history is read too); XREADGROUP over every stream in
 * one call — first this consumer's own pending entries ("0"), then new
 * ones (">"); apply the batch concurrently and read again when it is done.
 * Periodically: XAUTOCLAIM entries idle longer than claim_idle (a dead
 * collector's, or our own that failed), close incidents quiet for the
 * incident window, and open fault.link for agents whose heartbeats stopped.
 *
 * Applying an entry: load (store_load_lua) → decide (process.c) → write
 * with guards (store_apply_lua); CONFLICT means another collector changed
 * the same state meanwhile, so load and decide again.  An entry is only
 * acknowledged by the script that writes its effects.
 */
#include "collector/collector.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "collector/escalate.h"
#include "collector/ingest.h"
#include "collector/process.h"
#include "collector/store.h"
#include "common/log.h"
#include "common/units.h"

#define MAX_CONFLICT_RETRIES 50
#define SCAN_MAX_PAGES 1000
#define CLAIM_MAX_PAGES 20

/* The reading side of one collector: nothing outside this file uses it. */
struct consume {
    /* Streams with the group in place, in XREADGROUP order. */
    char (*streams)[192];
    size_t n_streams, cap_streams;
    bool scanning;         /* discovery in flight */
    bool reading;          /* an XREADGROUP in flight */
    bool own_pending_done; /* this session re-read its own pending entries */
    size_t inflight;       /* entries being applied */
    size_t groups_pending;
    bool sweeping, watching, claiming;
    struct event *tick; /* drives discovery, claims, sweeps, heartbeats */
    uint64_t next_discover_us, next_claim_us, next_sweep_us, next_silent_us;
    bool stopping;
};

static uint32_t random_u32(void *user)
{
    (void)user;
    uint32_t r;
    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
        r = (uint32_t)random() ^ ((uint32_t)random() << 16);
    return r;
}

static struct process_env env_now(struct collector *c)
{
    return (struct process_env){
        .cfg = c->cfg, .now_us = units_now_us(), .random = random_u32, .random_user = NULL};
}

static void maybe_read(struct collector *c);

/* ---- a command with a vector built on the fly ------------------------ */

struct argv_builder {
    const char *v[600];
    size_t len[600];
    int n;
    char nums[8][24];
    int n_nums;
};

static void ab_add(struct argv_builder *b, const char *s)
{
    if (b->n < 600) {
        b->v[b->n] = s;
        b->len[b->n++] = strlen(s);
    }
}

static void ab_num(struct argv_builder *b, uint64_t value)
{
    if (b->n_nums == 8)
        return;
    char *buf = b->nums[b->n_nums++];
    snprintf(buf, 24, "%" PRIu64, value);
    ab_add(b, buf);
}

static int send_cmd(struct collector *c, unsigned which, redis_link_reply_fn fn, void *priv,
                    struct argv_builder *b)
{
    return redis_link_command(c->link, which, fn, priv, b->n, b->v, b->len);
}

/* ---- applying one entry --------------------------------------------- */

enum job_kind { JOB_EVENT, JOB_HEARTBEAT, JOB_DEADLETTER, JOB_CLOSE, JOB_SILENT };

struct job {
    struct collector *c;
    enum job_kind kind;
    bool counted; /* part of the read batch (inflight) */
    char stream[192];
    char entry_id[48];
    uint64_t entry_ms;
    char *raw;
    char reason[256];
    struct in_event ev;
    struct in_heartbeat hb;
    struct process_load ld;
    char src_key[160];
    char subject[INCIDENT_KEY_LEN]; /* incident id (close) or agent (silent) */
    uint64_t last_heartbeat_us;
    int attempts;
};

static void job_end(struct job *j)
{
    struct collector *c = j->c;
    process_load_free(&j->ld);
    ingest_event_free(&j->ev);
    ingest_heartbeat_free(&j->hb);
    free(j->raw);
    bool counted = j->counted;
    free(j);
    if (counted && --c->rd->inflight == 0)
        maybe_read(c);
}

static void job_load(struct job *j);

static void on_apply(redisReply *reply, void *priv)
{
    struct job *j = priv;
    struct collector *c = j->c;
    if (!reply) {
        job_end(j);
        return;
    }
    enum store_result r = STORE_ERROR;
    if (reply->type == REDIS_REPLY_STATUS || reply->type == REDIS_REPLY_STRING)
        r = store_result_parse(reply->str, reply->len);
    switch (r) {
    case STORE_OK:
        if (j->kind == JOB_EVENT)
            c->stats.applied++;
        else if (j->kind == JOB_DEADLETTER)
            c->stats.deadletters++;
        else if (j->kind == JOB_HEARTBEAT)
            c->stats.heartbeats++;
        else if (j->kind == JOB_CLOSE)
            c->stats.closed++;
        break;
    case STORE_DUP:
        c->stats.duplicates++;
        break;
    case STORE_CONFLICT:
        c->stats.conflicts++;
        if (++j->attempts < MAX_CONFLICT_RETRIES && j->kind != JOB_CLOSE && j->kind != JOB_SILENT) {
            process_load_free(&j->ld);
            job_load(j);
            return;
        }
        if (j->kind == JOB_EVENT || j->kind == JOB_HEARTBEAT)
            log_warn("%s %s: still conflicting after %d attempts; left pending for a later claim",
                     j->stream, j->entry_id, j->attempts);
        break;
    case STORE_ERROR:
        c->stats.errors++;
        log_err("%s %s: write failed: %s", j->stream, j->entry_id,
                reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
        break;
    }
    job_end(j);
}

static void apply(struct job *j, struct store_ops *o)
{
    const char **argv;
    size_t *lens, argc;
    if (store_apply_argv(o, &argv, &lens, &argc) < 0) {
        log_err("%s %s: out of memory building the write", j->stream, j->entry_id);
        store_ops_free(o);
        job_end(j);
        return;
    }
    int rc = redis_link_command(j->c->link, COLLECTOR_CMD, on_apply, j, (int)argc, argv, lens);
    free(argv);
    free(lens);
    store_ops_free(o);
    if (rc < 0)
        job_end(j);
}

static void fields_of(const redisReply *r, const char ***f, size_t **l, size_t *n)
{
    *n = 0;
    *f = NULL;
    *l = NULL;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements == 0)
        return;
    *f = malloc(r->elements * sizeof(**f));
    *l = malloc(r->elements * sizeof(**l));
    if (!*f || !*l)
        return;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        bool s = e->type == REDIS_REPLY_STRING || e->type == REDIS_REPLY_STATUS;
        (*f)[i] = s ? e->str : "";
        (*l)[i] = s ? e->len : 0;
    }
    *n = r->elements;
}

/* {id, {field, value ...}} from the load script. */
static void take_incident(const redisReply *pair, char *id, size_t idlen, struct incident **out)
{
    id[0] = '\0';
    *out = NULL;
    if (!pair || pair->type != REDIS_REPLY_ARRAY || pair->elements != 2)
        return;
    if (pair->element[0]->type == REDIS_REPLY_STRING)
        snprintf(id, idlen, "%.*s", (int)pair->element[0]->len, pair->element[0]->str);
    const char **f;
    size_t *l, n;
    fields_of(pair->element[1], &f, &l, &n);
    if (n) {
        struct incident *inc = malloc(sizeof(*inc));
        if (inc && incident_from_fields(inc, f, l, n) == 0)
            *out = inc;
        else
            free(inc);
    }
    free(f);
    free(l);
}

static void on_load(redisReply *reply, void *priv)
{
    struct job *j = priv;
    struct collector *c = j->c;
    if (!reply) {
        job_end(j);
        return;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2 + j->ld.n) {
        c->stats.errors++;
        log_err("%s %s: state read failed: %s", j->stream, j->entry_id,
                reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
        job_end(j);
        return;
    }
    j->ld.seen = reply->element[0]->type == REDIS_REPLY_INTEGER && reply->element[0]->integer == 1;
    const char **f;
    size_t *l, n;
    fields_of(reply->element[1], &f, &l, &n);
    corr_state_from_fields(&j->ld.src, f, l, n);
    free(f);
    free(l);
    for (size_t i = 0; i < j->ld.n; i++)
        take_incident(reply->element[2 + i], j->ld.ids[i], sizeof(j->ld.ids[i]), &j->ld.inc[i]);

    struct process_env env = env_now(c);
    struct store_ops o;
    store_ops_init(&o);
    switch (j->kind) {
    case JOB_EVENT: {
        struct process_outcome out;
        if (process_plan_event(&env, j->stream, j->entry_id, &j->ev, &j->ld, &o, &out) < 0) {
            log_err("%s %s: out of memory", j->stream, j->entry_id);
            store_ops_free(&o);
            job_end(j);
            return;
        }
        c->stats.opened += (uint64_t)out.opened;
        c->stats.escalated += (uint64_t)out.escalated;
        break;
    }
    case JOB_HEARTBEAT:
        process_plan_heartbeat(&env, j->stream, j->entry_id, &j->hb, j->raw, j->entry_ms,
                               j->ld.inc[0], &o);
        break;
    case JOB_CLOSE: {
        struct incident *inc = j->ld.inc[0];
        uint64_t cutoff_us = env.now_us - c->cfg->incident_window_us;
        if (!inc || inc->status == INCIDENT_CLOSED) {
            store_cmd(&o, "ZREM", STORE_OPEN, j->subject, NULL);
        } else if (inc->updated_us > cutoff_us) {
            store_ops_free(&o);
            job_end(j);
            return;
        } else {
            process_plan_close(&env, inc, &o);
        }
        break;
    }
    case JOB_SILENT: {
        const redisReply *hb = reply->elements > 2 + j->ld.n ? reply->element[2 + j->ld.n] : NULL;
        char agency[256] = "";
        if (hb && hb->type == REDIS_REPLY_STRING && hb->len) {
            json_t *root = json_loadb(hb->str, hb->len, 0, NULL);
            const char *a = json_string_value(json_object_get(json_object_get(root, "canh"), "agency"));
            snprintf(agency, sizeof(agency), "%s", a ? a : "");
            json_decref(root);
        }
        if (!process_plan_silent(&env, j->subject, agency, j->last_heartbeat_us, j->ld.ids[0],
                                 j->ld.inc[0], &o)) {
            store_ops_free(&o);
            job_end(j);
            return;
        }
        log_warn("agent %s silent for %" PRIu64 " s: fault.link opened", j->subject,
                 (env.now_us - j->last_heartbeat_us) / 1000000);
        break;
    }
    case JOB_DEADLETTER:
        break;
    }
    apply(j, &o);
}

static void job_load(struct job *j)
{
    struct argv_builder b = {0};
    char seen[160] = "";
    ab_add(&b, "EVAL");
    ab_add(&b, store_load_lua);
    ab_add(&b, "0");
    if (j->kind == JOB_EVENT)
        snprintf(seen, sizeof(seen), STORE_SEEN_PREFIX "%s", j->ev.id);
    ab_add(&b, seen);
    ab_add(&b, j->src_key);
    ab_num(&b, j->ld.n);
    for (size_t i = 0; i < j->ld.n; i++)
        ab_add(&b, j->ld.keys[i]);
    if (j->kind == JOB_SILENT) {
        ab_num(&b, 1);
        ab_add(&b, STORE_AGENTS);
        ab_add(&b, j->subject);
    } else {
        ab_num(&b, 0);
    }
    if (send_cmd(j->c, COLLECTOR_CMD, on_load, j, &b) < 0)
        job_end(j);
}

static struct job *job_new(struct collector *c, enum job_kind kind, bool counted)
{
    struct job *j = calloc(1, sizeof(*j));
    if (!j)
        return NULL;
    j->c = c;
    j->kind = kind;
    j->counted = counted;
    if (counted)
        c->rd->inflight++;
    return j;
}

static void deadletter(struct job *j)
{
    struct process_env env = env_now(j->c);
    struct store_ops o;
    store_ops_init(&o);
    j->kind = JOB_DEADLETTER;
    log_warn("%s %s: to %s: %s", j->stream, j->entry_id, STORE_DEADLETTER, j->reason);
    process_plan_deadletter(&env, j->stream, j->entry_id, j->reason, j->raw, &o);
    apply(j, &o);
}

/* One stream entry: [id, [field, value, ...] or nil]. */
static void take_entry(struct collector *c, const char *stream, const redisReply *entry)
{
    if (entry->type != REDIS_REPLY_ARRAY || entry->elements < 2 ||
        entry->element[0]->type != REDIS_REPLY_STRING)
        return;
    c->stats.entries++;
    const char *id = entry->element[0]->str;
    const redisReply *fields = entry->element[1];
    struct job *j = job_new(c, JOB_EVENT, true);
    if (!j)
        return;
    snprintf(j->stream, sizeof(j->stream), "%s", stream);
    snprintf(j->entry_id, sizeof(j->entry_id), "%s", id);
    j->entry_ms = strtoull(id, NULL, 10);
    if (fields->type != REDIS_REPLY_ARRAY) {
        /* Trimmed while pending: nothing left to apply, only to ack. */
        struct store_ops o;
        store_ops_init(&o);
        store_ack(&o, stream, id);
        apply(j, &o);
        return;
    }
    const redisReply *value = NULL;
    for (size_t i = 0; i + 1 < fields->elements; i += 2)
        if (fields->element[i]->type == REDIS_REPLY_STRING &&
            strcmp(fields->element[i]->str, "event") == 0)
            value = fields->element[i + 1];
    if (!value || value->type != REDIS_REPLY_STRING) {
        snprintf(j->reason, sizeof(j->reason), "entry has no field \"event\"");
        json_t *all = json_object();
        for (size_t i = 0; i + 1 < fields->elements; i += 2)
            if (fields->element[i]->type == REDIS_REPLY_STRING &&
                fields->element[i + 1]->type == REDIS_REPLY_STRING)
                json_object_set_new(all, fields->element[i]->str,
                                    json_stringn(fields->element[i + 1]->str,
                                                 fields->element[i + 1]->len));
        j->raw = json_dumps(all, JSON_COMPACT);
        json_decref(all);
        deadletter(j);
        return;
    }
    j->raw = malloc(value->len + 1);
    if (!j->raw) {
        job_end(j);
        return;
    }
    memcpy(j->raw, value->str, value->len);
    j->raw[value->len] = '\0';
    const char *agent = ingest_stream_agent(stream);
    if (ingest_is_heartbeat_stream(stream)) {
        j->kind = JOB_HEARTBEAT;
        if (ingest_parse_heartbeat(agent, j->raw, value->len, &j->hb, j->reason, sizeof(j->reason)) <
            0) {
            deadletter(j);
            return;
        }
        corr_fault_key(j->hb.agent, j->ld.keys[0], sizeof(j->ld.keys[0]));
        j->ld.n = 1;
        job_load(j);
        return;
    }
    if (ingest_parse_event(agent, j->raw, value->len, &j->ev, j->reason, sizeof(j->reason)) < 0) {
        deadletter(j);
        return;
    }
    process_event_keys(&j->ev, &j->ld, j->src_key, sizeof(j->src_key));
    job_load(j);
}

/* ---- reading -------------------------------------------------------- */

struct read_req {
    struct collector *c;
    bool own_pending;
    size_t n;
    char (*keys)[192];
};

static void on_read(redisReply *reply, void *priv)
{
    struct read_req *rq = priv;
    struct collector *c = rq->c;
    c->rd->reading = false;
    if (reply && reply->type == REDIS_REPLY_ERROR) {
        log_warn("XREADGROUP: %s; discovering streams again", reply->str);
        c->rd->n_streams = 0;
        c->rd->next_discover_us = 0;
    } else if (reply && reply->type == REDIS_REPLY_ARRAY) {
        for (size_t s = 0; s < reply->elements; s++) {
            const redisReply *sr = reply->element[s];
            if (sr->type != REDIS_REPLY_ARRAY || sr->elements != 2 ||
                sr->element[0]->type != REDIS_REPLY_STRING || sr->element[1]->type != REDIS_REPLY_ARRAY)
                continue;
            for (size_t e = 0; e < sr->element[1]->elements; e++)
                take_entry(c, sr->element[0]->str, sr->element[1]->element[e]);
        }
    }
    if (reply && reply->type != REDIS_REPLY_ERROR && rq->own_pending)
        c->rd->own_pending_done = true;
    free(rq->keys);
    free(rq);
    if (reply && c->rd->inflight == 0)
        maybe_read(c);
}

static void maybe_read(struct collector *c)
{
    struct consume *rd = c->rd;
    if (rd->reading || rd->inflight || rd->stopping || !redis_link_up(c->link) || rd->n_streams == 0 ||
        rd->groups_pending)
        return;
    size_t n = c->rd->n_streams < 250 ? c->rd->n_streams : 250;
    struct read_req *rq = calloc(1, sizeof(*rq));
    if (!rq)
        return;
    rq->c = c;
    rq->own_pending = !c->rd->own_pending_done;
    rq->n = n;
    rq->keys = malloc(n * sizeof(*rq->keys));
    if (!rq->keys) {
        free(rq);
        return;
    }
    memcpy(rq->keys, c->rd->streams, n * sizeof(*rq->keys));
    struct argv_builder b = {0};
    ab_add(&b, "XREADGROUP");
    ab_add(&b, "GROUP");
    ab_add(&b, STORE_GROUP);
    ab_add(&b, c->cfg->consumer);
    ab_add(&b, "COUNT");
    ab_num(&b, c->cfg->batch);
    if (!rq->own_pending) {
        ab_add(&b, "BLOCK");
        ab_num(&b, c->cfg->block_us / 1000 ? c->cfg->block_us / 1000 : 1);
    }
    ab_add(&b, "STREAMS");
    for (size_t i = 0; i < n; i++)
        ab_add(&b, rq->keys[i]);
    for (size_t i = 0; i < n; i++)
        ab_add(&b, rq->own_pending ? "0" : ">");
    c->rd->reading = true;
    if (send_cmd(c, COLLECTOR_RD, on_read, rq, &b) < 0) {
        c->rd->reading = false;
        free(rq->keys);
        free(rq);
    }
}

/* ---- discovery ------------------------------------------------------ */

struct stream_group_req {
    struct collector *c;
    uint64_t generation;
    char key[192];
};

static bool have_stream(const struct collector *c, const char *key)
{
    for (size_t i = 0; i < c->rd->n_streams; i++)
        if (strcmp(c->rd->streams[i], key) == 0)
            return true;
    return false;
}

static void on_group(redisReply *reply, void *priv)
{
    struct stream_group_req *g = priv;
    struct collector *c = g->c;
    if (reply && g->generation == redis_link_generation(c->link)) {
        c->rd->groups_pending--;
        bool ok = reply->type != REDIS_REPLY_ERROR || strncmp(reply->str, "BUSYGROUP", 9) == 0;
        if (!ok) {
            log_warn("XGROUP CREATE %s: %s", g->key, reply->str);
        } else if (!have_stream(c, g->key)) {
            if (c->rd->n_streams == c->rd->cap_streams) {
                size_t cap = c->rd->cap_streams ? c->rd->cap_streams * 2 : 16;
                char(*v)[192] = realloc(c->rd->streams, cap * sizeof(*v));
                if (v) {
                    c->rd->streams = v;
                    c->rd->cap_streams = cap;
                }
            }
            if (c->rd->n_streams < c->rd->cap_streams) {
                snprintf(c->rd->streams[c->rd->n_streams++], sizeof(c->rd->streams[0]), "%s",
                         g->key);
                log_info("reading %s", g->key);
                /* A new stream's pending entries are not ours to re-read. */
            }
        }
        if (c->rd->groups_pending == 0)
            maybe_read(c);
    }
    free(g);
}

static void ensure_group(struct collector *c, const char *key)
{
    if (have_stream(c, key) || strlen(key) >= 192)
        return;
    struct stream_group_req *g = calloc(1, sizeof(*g));
    if (!g)
        return;
    g->c = c;
    g->generation = redis_link_generation(c->link);
    snprintf(g->key, sizeof(g->key), "%s", key);
    const char *argv[] = {"XGROUP", "CREATE", key, STORE_GROUP, "0", "MKSTREAM"};
    size_t lens[6];
    for (int i = 0; i < 6; i++)
        lens[i] = strlen(argv[i]);
    if (redis_link_command(c->link, COLLECTOR_CMD, on_group, g, 6, argv, lens) < 0)
        free(g);
    else
        c->rd->groups_pending++;
}

struct scan_req {
    struct collector *c;
    int pages;
};

static void send_scan(struct scan_req *sr, const char *cursor);

static void on_scan(redisReply *reply, void *priv)
{
    struct scan_req *sr = priv;
    struct collector *c = sr->c;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
        if (reply)
            log_warn("SCAN failed: %s", reply->type == REDIS_REPLY_ERROR ? reply->str : "bad reply");
        c->rd->scanning = false;
        free(sr);
        return;
    }
    const redisReply *keys = reply->element[1];
    for (size_t i = 0; i < keys->elements; i++) {
        const char *k = keys->element[i]->str;
        if (keys->element[i]->type == REDIS_REPLY_STRING && ingest_stream_agent(k) &&
            *ingest_stream_agent(k))
            ensure_group(c, k);
    }
    const char *cursor = reply->element[0]->str;
    if (strcmp(cursor, "0") == 0 || ++sr->pages >= SCAN_MAX_PAGES) {
        c->rd->scanning = false;
        free(sr);
        return;
    }
    send_scan(sr, cursor);
}

static void send_scan(struct scan_req *sr, const char *cursor)
{
    const char *argv[] = {"SCAN", cursor, "MATCH", "canh:*", "COUNT", "1000", "TYPE", "stream"};
    size_t lens[8];
    for (int i = 0; i < 8; i++)
        lens[i] = strlen(argv[i]);
    if (redis_link_command(sr->c->link, COLLECTOR_CMD, on_scan, sr, 8, argv, lens) < 0) {
        sr->c->rd->scanning = false;
        free(sr);
    }
}

static void discover(struct collector *c)
{
    if (c->cfg->n_agents) {
        char key[192];
        for (size_t i = 0; i < c->cfg->n_agents; i++) {
            snprintf(key, sizeof(key), "canh:events:%s", c->cfg->agents[i]);
            ensure_group(c, key);
            snprintf(key, sizeof(key), "canh:heartbeats:%s", c->cfg->agents[i]);
            ensure_group(c, key);
        }
        return;
    }
    struct scan_req *sr = calloc(1, sizeof(*sr));
    if (!sr)
        return;
    sr->c = c;
    c->rd->scanning = true;
    send_scan(sr, "0");
}

/* ---- claiming ------------------------------------------------------- */

struct claim_req {
    struct collector *c;
    size_t stream;
    int pages;
};

static void send_claim(struct claim_req *cr, const char *cursor);

static void on_claim(redisReply *reply, void *priv)
{
    struct claim_req *cr = priv;
    struct collector *c = cr->c;
    if (!reply) {
        c->rd->claiming = false;
        free(cr);
        return;
    }
    const char *next = "0-0";
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements >= 2 &&
        reply->element[1]->type == REDIS_REPLY_ARRAY && cr->stream < c->rd->n_streams) {
        const redisReply *entries = reply->element[1];
        for (size_t e = 0; e < entries->elements; e++)
            take_entry(c, c->rd->streams[cr->stream], entries->element[e]);
        if (entries->elements)
            log_info("claimed %zu idle entries of %s", entries->elements,
                     c->rd->streams[cr->stream]);
        c->stats.claimed += entries->elements;
        next = reply->element[0]->str;
    } else if (reply->type == REDIS_REPLY_ERROR) {
        log_warn("XAUTOCLAIM: %s", reply->str);
    }
    if (strcmp(next, "0-0") != 0 && ++cr->pages < CLAIM_MAX_PAGES) {
        send_claim(cr, next);
        return;
    }
    cr->stream++;
    cr->pages = 0;
    if (cr->stream < c->rd->n_streams) {
        send_claim(cr, "0-0");
        return;
    }
    c->rd->claiming = false;
    free(cr);
}

static void send_claim(struct claim_req *cr, const char *cursor)
{
    struct collector *c = cr->c;
    struct argv_builder b = {0};
    ab_add(&b, "XAUTOCLAIM");
    ab_add(&b, c->rd->streams[cr->stream]);
    ab_add(&b, STORE_GROUP);
    ab_add(&b, c->cfg->consumer);
    ab_num(&b, c->cfg->claim_idle_us / 1000);
    ab_add(&b, cursor);
    ab_add(&b, "COUNT");
    ab_num(&b, c->cfg->batch);
    if (send_cmd(c, COLLECTOR_CMD, on_claim, cr, &b) < 0) {
        c->rd->claiming = false;
        free(cr);
    }
}

static void claim(struct collector *c)
{
    if (c->rd->n_streams == 0)
        return;
    struct claim_req *cr = calloc(1, sizeof(*cr));
    if (!cr)
        return;
    cr->c = c;
    c->rd->claiming = true;
    send_claim(cr, "0-0");
}

/* ---- closing quiet incidents, watching heartbeats ------------------- */

static void on_sweep(redisReply *reply, void *priv)
{
    struct collector *c = priv;
    c->rd->sweeping = false;
    if (!reply || reply->type != REDIS_REPLY_ARRAY)
        return;
    for (size_t i = 0; i < reply->elements; i++) {
        const redisReply *id = reply->element[i];
        if (id->type != REDIS_REPLY_STRING || id->len >= INCIDENT_ID_LEN)
            continue;
        struct job *j = job_new(c, JOB_CLOSE, false);
        if (!j)
            return;
        snprintf(j->stream, sizeof(j->stream), "%s", STORE_OPEN);
        snprintf(j->subject, sizeof(j->subject), "%s", id->str);
        snprintf(j->entry_id, sizeof(j->entry_id), "%s", id->str);
        snprintf(j->ld.keys[0], sizeof(j->ld.keys[0]), "#%s", id->str);
        j->ld.n = 1;
        job_load(j);
    }
}

static void sweep(struct collector *c)
{
    uint64_t cutoff_ms = (units_now_us() - c->cfg->incident_window_us) / 1000;
    struct argv_builder b = {0};
    ab_add(&b, "ZRANGEBYSCORE");
    ab_add(&b, STORE_OPEN);
    ab_add(&b, "-inf");
    ab_num(&b, cutoff_ms);
    ab_add(&b, "LIMIT");
    ab_add(&b, "0");
    ab_add(&b, "100");
    c->rd->sweeping = send_cmd(c, COLLECTOR_CMD, on_sweep, c, &b) == 0;
}

static void on_silent(redisReply *reply, void *priv)
{
    struct collector *c = priv;
    c->rd->watching = false;
    if (!reply || reply->type != REDIS_REPLY_ARRAY)
        return;
    for (size_t i = 0; i + 1 < reply->elements; i += 2) {
        const redisReply *agent = reply->element[i], *score = reply->element[i + 1];
        if (agent->type != REDIS_REPLY_STRING || agent->len > 100 || score->type != REDIS_REPLY_STRING)
            continue;
        struct job *j = job_new(c, JOB_SILENT, false);
        if (!j)
            return;
        snprintf(j->stream, sizeof(j->stream), "%s", STORE_AGENT_SEEN);
        snprintf(j->subject, sizeof(j->subject), "%s", agent->str);
        snprintf(j->entry_id, sizeof(j->entry_id), "%.40s", agent->str);
        j->last_heartbeat_us = (uint64_t)strtod(score->str, NULL) * 1000;
        corr_fault_key(agent->str, j->ld.keys[0], sizeof(j->ld.keys[0]));
        j->ld.n = 1;
        job_load(j);
    }
}

static void watch_heartbeats(struct collector *c)
{
    uint64_t cutoff_ms = (units_now_us() - c->cfg->silent_after_us) / 1000;
    struct argv_builder b = {0};
    ab_add(&b, "ZRANGEBYSCORE");
    ab_add(&b, STORE_AGENT_SEEN);
    ab_add(&b, "-inf");
    ab_num(&b, cutoff_ms);
    ab_add(&b, "WITHSCORES");
    ab_add(&b, "LIMIT");
    ab_add(&b, "0");
    ab_add(&b, "100");
    c->rd->watching = send_cmd(c, COLLECTOR_CMD, on_silent, c, &b) == 0;
}

/* ---- the loop ------------------------------------------------------- */

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct collector *c = arg;
    if (!redis_link_up(c->link) || c->rd->stopping)
        return;
    uint64_t now = units_now_us();
    if (!c->rd->scanning && !c->rd->groups_pending && now >= c->rd->next_discover_us) {
        c->rd->next_discover_us = now + c->cfg->discover_interval_us;
        discover(c);
    }
    if (!c->rd->claiming && now >= c->rd->next_claim_us && c->rd->n_streams) {
        c->rd->next_claim_us = now + c->cfg->claim_interval_us;
        claim(c);
    }
    if (!c->rd->sweeping && now >= c->rd->next_sweep_us) {
        c->rd->next_sweep_us = now + c->cfg->sweep_interval_us;
        sweep(c);
    }
    uint64_t silent_every = c->cfg->silent_after_us / 4;
    if (silent_every < 500000)
        silent_every = 500000;
    if (silent_every > 10000000)
        silent_every = 10000000;
    if (!c->rd->watching && now >= c->rd->next_silent_us) {
        c->rd->next_silent_us = now + silent_every;
        watch_heartbeats(c);
    }
    maybe_read(c);
    escalate_tick(c->esc);
}

static void on_ready(void *owner)
{
    struct collector *c = owner;
    c->rd->n_streams = 0;
    c->rd->groups_pending = 0;
    c->rd->own_pending_done = false;
    c->rd->scanning = c->rd->claiming = c->rd->sweeping = c->rd->watching = c->rd->reading = false;
    c->rd->next_discover_us = c->rd->next_sweep_us = c->rd->next_silent_us = 0;
    /* Claim only after a first read of our own pending entries. */
    c->rd->next_claim_us = units_now_us() + 1000000;
    on_tick(-1, 0, c);
}

static void on_lost(void *owner)
{
    struct collector *c = owner;
    c->rd->reading = false;
    escalate_session_lost(c->esc);
}

int collector_init(struct collector *c, const struct collector_config *cfg, struct event_base *base)
{
    memset(c, 0, sizeof(*c));
    c->cfg = cfg;
    c->rd = calloc(1, sizeof(*c->rd));
    if (!c->rd)
        return -1;
    struct redis_url target;
    char why[768];
    if (redis_url_parse(cfg->redis_url, &target, why, sizeof(why)) < 0 ||
        redis_url_credentials(&target, cfg->redis_user, cfg->password_file, why, sizeof(why)) < 0) {
        redis_url_wipe(&target);
        log_err("%s", why);
        goto err;
    }
    struct redis_link_options opt = {
        .connections = 2,
        .timeout_us = cfg->timeout_us,
        .slack_us = {[COLLECTOR_RD] = cfg->block_us},
        .ready = on_ready,
        .lost = on_lost,
        .owner = c,
    };
    c->link = redis_link_new(base, &target, &opt);
    redis_url_wipe(&target);
    c->rd->tick = event_new(base, -1, EV_PERSIST, on_tick, c);
    if (!c->link || !c->rd->tick)
        goto err;
    c->esc = escalate_new(cfg, base, c->link);
    if (!c->esc)
        goto err;
    return 0;
err:
    collector_free(c);
    return -1;
}

void collector_start(struct collector *c)
{
    struct timeval tv = {0, 100000};
    event_add(c->rd->tick, &tv);
    redis_link_start(c->link);
}

bool collector_stop(struct collector *c)
{
    c->rd->stopping = true;
    return c->rd->inflight == 0 && escalate_idle(c->esc);
}

int collector_reconfigure(struct collector *c, const struct collector_config *cfg)
{
    if (escalate_reconfigure(c->esc, cfg) < 0)
        return -1;
    c->cfg = cfg;
    return 0;
}

size_t collector_streams(const struct collector *c) { return c->rd->n_streams; }

void collector_free(struct collector *c)
{
    if (c->rd && c->rd->tick)
        event_free(c->rd->tick);
    /* Deliveries still in flight finish (as failures) through the session,
     * so the escalation worker goes first; then pending Redis callbacks
     * run with NULL replies while the session is freed. */
    escalate_free(c->esc);
    c->esc = NULL;
    redis_link_free(c->link);
    c->link = NULL;
    if (c->rd)
        free(c->rd->streams);
    free(c->rd);
    c->rd = NULL;
}
