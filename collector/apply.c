/* apply.c — applying one stream entry (or one sweep/watch subject).
 *
 * Load (store_load_lua) → decide (process.c) → write with guards
 * (store_apply_lua); CONFLICT means another collector changed the same
 * state meanwhile, so load and decide again.  The load is skipped when
 * the state is known (this collector wrote it) or presumed empty (a new
 * finding of a source not met: see "presumed new").  An entry is only
 * acknowledged by the script that writes its effects; entries that cannot
 * be parsed go to canh:deadletter.
 *
 * Jobs of one collector that touch the same keys (incident keys, the
 * source hash) wait for each other (the key gate below), so CONFLICT only
 * ever means another collector.  Counters of effects (opened, escalated,
 * closed) are taken from the write's answer, never from the plan.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "collector/consume_internal.h"
#include "collector/drills.h"
#include "collector/ingest.h"
#include "collector/pool.h"
#include "collector/process.h"
#include "collector/store.h"
#include "common/log.h"
#include "common/units.h"

#define MAX_CONFLICT_RETRIES 50

/* A job (28 KiB) and the state its write leaves (27 KiB) per entry of a
 * read batch: recycled (pool.h), not malloc'd and faulted in per event. */
static struct pool job_pool = POOL_INIT(sizeof(struct job), 256);
static struct pool after_pool = POOL_INIT(sizeof(struct process_load), 256);

static void load_now(struct job *j);
static void decide(struct job *j, const redisReply *hb);

/* ---- what this collector knows ---------------------------------------
 *
 * The incidents of keys, the correlation tables of sources and the
 * suppressions of findings as this collector last read them or wrote them
 * (a write that answered OK).  An event whose every key is known is
 * decided at once, without a state read: a burst of one finding costs one
 * round trip an event, not two.  Knowledge is a hint, never trusted for
 * correctness: every write carries its guards (incident ver, canh:ikeys
 * value, source ver, suppression value), so a change by another collector
 * or canh-ctl makes it CONFLICT, which forgets the keys and reads them
 * again.  Entries older than KNOWN_TTL_US are not used, and the table is
 * emptied when full, so it stays small. */

#define KNOWN_MAX 512 /* slots; emptied at 3/4 */
#define KNOWN_TTL_US 2000000

enum known_kind { KNOWN_INCIDENT = 1, KNOWN_SOURCE, KNOWN_SUPPRESSION };

struct known_entry {
    enum known_kind kind; /* 0: free */
    char key[INCIDENT_KEY_LEN];
    uint64_t at_us;
    char id[INCIDENT_ID_LEN]; /* incident: canh:ikeys value */
    struct incident *inc;     /* incident: NULL when none */
    struct corr_state *src;   /* source */
    char suppression[160];    /* suppression */
};

struct known {
    struct known_entry e[KNOWN_MAX];
    size_t used;
};

static uint64_t known_hash(enum known_kind kind, const char *key)
{
    uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t)kind;
    for (; *key; key++)
        h = (h ^ (uint8_t)*key) * 0x100000001b3ull;
    return h;
}

void consume_known_clear(struct consume *rd)
{
    struct known *k = rd->known;
    if (!k || k->used == 0)
        return;
    for (size_t i = 0; i < KNOWN_MAX; i++) {
        incident_free(k->e[i].inc);
        corr_state_free(k->e[i].src);
        k->e[i].inc = NULL;
        k->e[i].src = NULL;
        k->e[i].kind = 0;
    }
    k->used = 0;
}

void consume_known_free(struct consume *rd)
{
    consume_known_clear(rd);
    free(rd->known);
    rd->known = NULL;
    free(rd->recent);
    rd->recent = NULL;
}

/* The slot of (kind, key): its entry, or the free slot where it goes. */
static struct known_entry *known_slot(struct known *k, enum known_kind kind, const char *key)
{
    size_t i = known_hash(kind, key) % KNOWN_MAX;
    for (;; i = (i + 1) % KNOWN_MAX) {
        struct known_entry *e = &k->e[i];
        if (!e->kind || (e->kind == kind && strcmp(e->key, key) == 0))
            return e;
    }
}

/* A fresh entry of (kind, key), or NULL. */
static struct known_entry *known_get(struct consume *rd, enum known_kind kind, const char *key,
                                     uint64_t now_us)
{
    if (!rd->known || !key[0])
        return NULL;
    struct known_entry *e = known_slot(rd->known, kind, key);
    return e->kind && e->at_us + KNOWN_TTL_US > now_us ? e : NULL;
}

/* The entry for (kind, key), emptied for new content; NULL without memory
 * or for an over-long key. */
static struct known_entry *known_set(struct consume *rd, enum known_kind kind, const char *key,
                                     uint64_t now_us)
{
    if (strlen(key) >= INCIDENT_KEY_LEN || !key[0])
        return NULL;
    if (!rd->known && !(rd->known = calloc(1, sizeof(*rd->known))))
        return NULL;
    struct known *k = rd->known;
    struct known_entry *e = known_slot(k, kind, key);
    if (!e->kind) {
        if (k->used >= KNOWN_MAX * 3 / 4) {
            consume_known_clear(rd);
            e = known_slot(k, kind, key);
        }
        k->used++;
        e->kind = kind;
        snprintf(e->key, sizeof(e->key), "%s", key);
    }
    incident_free(e->inc);
    corr_state_free(e->src);
    e->inc = NULL;
    e->src = NULL;
    e->at_us = now_us;
    return e;
}

/* Records the state j's write left (it answered OK): after's incidents,
 * or for slots it left as loaded j->ld's, are taken over, not copied. */
static void known_put(struct consume *rd, struct job *j)
{
    struct process_load *a = j->after;
    uint64_t now = units_now_us();
    for (size_t i = 0; i < a->n; i++) {
        struct incident **inc = a->as_loaded[i] ? &j->ld.inc[i] : &a->inc[i];
        struct known_entry *e = known_set(rd, KNOWN_INCIDENT, a->keys[i], now);
        if (!e)
            continue;
        snprintf(e->id, sizeof(e->id), "%s", a->ids[i]);
        e->inc = *inc;
        *inc = NULL;
    }
    struct known_entry *e;
    if (j->src_key[0] && (e = known_set(rd, KNOWN_SOURCE, j->src_key, now))) {
        if ((e->src = corr_state_new()))
            corr_state_copy(e->src, &a->src);
        else
            e->at_us = 0;
    }
    char field[160];
    process_suppression_field(&j->ev, field, sizeof(field));
    if ((e = known_set(rd, KNOWN_SUPPRESSION, field, now)))
        snprintf(e->suppression, sizeof(e->suppression), "%s", a->suppression);
}

/* Fills j->ld from what is known; false (j->ld untouched) unless every
 * key of j is.  The incidents are handed to j (no other job of the same
 * key runs meanwhile: the gate) and come back with its write. */
static bool known_fill(struct consume *rd, struct job *j)
{
    uint64_t now = units_now_us();
    char field[160];
    process_suppression_field(&j->ev, field, sizeof(field));
    struct known_entry *sup = known_get(rd, KNOWN_SUPPRESSION, field, now);
    struct known_entry *src = j->src_key[0] ? known_get(rd, KNOWN_SOURCE, j->src_key, now) : NULL;
    if (!sup || (j->src_key[0] && !src))
        return false;
    struct known_entry *inc[LOAD_MAX];
    for (size_t i = 0; i < j->ld.n; i++)
        if (!(inc[i] = known_get(rd, KNOWN_INCIDENT, j->ld.keys[i], now)))
            return false;
    for (size_t i = 0; i < j->ld.n; i++) {
        snprintf(j->ld.ids[i], sizeof(j->ld.ids[i]), "%s", inc[i]->id);
        j->ld.inc[i] = inc[i]->inc;
        inc[i]->inc = NULL;
        inc[i]->at_us = 0; /* lent to j */
    }
    if (src)
        corr_state_copy(&j->ld.src, src->src);
    else
        memset(&j->ld.src, 0, sizeof(j->ld.src));
    snprintf(j->ld.suppression, sizeof(j->ld.suppression), "%s", sup->suppression);
    j->ld.seen = false; /* the write checks the dedup marker itself */
    return true;
}

/* Forget j's keys: its write conflicted or failed. */
static void known_drop(struct consume *rd, const struct job *j)
{
    if (!rd->known)
        return;
    uint64_t now = units_now_us();
    for (size_t i = 0; i < j->ld.n; i++) {
        struct known_entry *e = known_get(rd, KNOWN_INCIDENT, j->ld.keys[i], now);
        if (e)
            e->at_us = 0;
    }
    struct known_entry *e = known_get(rd, KNOWN_SOURCE, j->src_key, now);
    if (e)
        e->at_us = 0;
    char field[160];
    process_suppression_field(&j->ev, field, sizeof(field));
    if ((e = known_get(rd, KNOWN_SUPPRESSION, field, now)))
        e->at_us = 0;
}

/* ---- presumed new ----------------------------------------------------
 *
 * A finding's first event from a source this collector has not met
 * usually touches only keys that do not exist yet: no incident under its
 * key, no source table, no suppression, no dedup marker.  Such an event is
 * decided at once from that empty state and only the write is sent (one
 * script call, not HMGET + read script + write).  The guess is never
 * trusted: the write is guarded on every part of the empty state
 * (canh:ikeys field "", source ver "", suppression "", the hash of the new
 * incident absent, and the script checks the dedup marker), so if any of
 * it exists the write answers CONFLICT and changes nothing; the event is
 * then read and decided the ordinary way.  That is a wrong guess, not a
 * conflict: counted in presumed_misses, not in conflicts or the retries.
 *
 * "Met" is a fixed table of the keys this collector's events read or
 * wrote (their incident key and source table): 16-bit fingerprints of the
 * key hashes in sets of eight, the oldest of a set giving way to a new key,
 * so a source seen before goes the ordinary way, the table never grows,
 * and a key pushed out at worst costs one presumed miss. */

#define RECENT_SETS 16384 /* × 8 × 2 bytes: 256 KiB, ~130,000 keys */
#define RECENT_WAYS 8

struct recent {
    uint16_t fp[RECENT_SETS][RECENT_WAYS]; /* 0: empty; newest first */
};

/* h's set (its low bits) and fingerprint (its high bits, never 0). */
static uint16_t *recent_set(const struct recent *r, uint64_t h, uint16_t *fp)
{
    *fp = (uint16_t)(h >> 48) | 1;
    return (uint16_t *)r->fp[h % RECENT_SETS];
}

static bool recent_has(const struct recent *r, uint64_t h)
{
    uint16_t fp, *set = recent_set(r, h, &fp);
    for (int w = 0; w < RECENT_WAYS; w++)
        if (set[w] == fp)
            return true;
    return false;
}

static void recent_add(struct recent *r, uint64_t h)
{
    if (recent_has(r, h))
        return;
    uint16_t fp, *set = recent_set(r, h, &fp);
    memmove(set + 1, set, (RECENT_WAYS - 1) * sizeof(*set));
    set[0] = fp;
}

/* The hashes that decide whether j was met: its incident key and its
 * source table (the correlation keys are the source's). */
static size_t met_keys(const struct job *j, uint64_t out[2])
{
    size_t n = 0;
    if (j->ld.n)
        out[n++] = j->khash[0];
    if (j->src_key[0] && j->n_khash)
        out[n++] = j->khash[j->n_khash - 1];
    return n;
}

/* Notes j's keys as met (the table is allocated on first use). */
static void recent_note(struct consume *rd, const struct job *j)
{
    if (!rd->recent && !(rd->recent = calloc(1, sizeof(*rd->recent))))
        return;
    uint64_t h[2];
    for (size_t i = 0, n = met_keys(j, h); i < n; i++)
        recent_add(rd->recent, h[i]);
}

/* Whether j is presumed to touch only keys that do not exist: a first
 * event, none of its keys met (nor known), none naming an incident. */
static bool presumable(struct consume *rd, const struct job *j)
{
    if (j->kind != JOB_EVENT || !j->ev.state || strcmp(j->ev.state, "new") != 0)
        return false;
    uint64_t h[2];
    for (size_t i = 0, n = met_keys(j, h); rd->recent && i < n; i++)
        if (recent_has(rd->recent, h[i]))
            return false;
    uint64_t now = units_now_us();
    for (size_t i = 0; i < j->ld.n; i++)
        if (j->ld.keys[i][0] == '#' || known_get(rd, KNOWN_INCIDENT, j->ld.keys[i], now))
            return false;
    return true;
}

/* j->ld as if read and found empty. */
static void presume_empty(struct job *j)
{
    for (size_t i = 0; i < j->ld.n; i++) {
        j->ld.ids[i][0] = '\0';
        incident_free(j->ld.inc[i]);
        j->ld.inc[i] = NULL;
    }
    j->ld.src.n = 0;
    j->ld.src.ver = 0;
    j->ld.suppression[0] = '\0';
    j->ld.seen = false; /* the write checks the dedup marker itself */
    j->presumed = true;
    j->c->stats.presumed++;
}

/* Start j: decided at once from what is known, or presumed new, else
 * after a read. */
static void start(struct job *j)
{
    struct consume *rd = j->c->rd;
    if (j->kind != JOB_EVENT) {
        load_now(j);
        return;
    }
    bool known = known_fill(rd, j);
    if (!known && presumable(rd, j))
        presume_empty(j);
    recent_note(rd, j);
    if (known || j->presumed)
        decide(j, NULL);
    else
        load_now(j);
}

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

/* ---- the key gate ---------------------------------------------------- */

static uint64_t key_hash(const char *key)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *key; key++)
        h = (h ^ (uint8_t)*key) * 0x100000001b3ull;
    return h;
}

/* The hashes of j's keys (its incident keys, then its source). */
static void hash_keys(struct job *j)
{
    j->n_khash = 0;
    for (size_t i = 0; i < j->ld.n; i++)
        j->khash[j->n_khash++] = key_hash(j->ld.keys[i]);
    if (j->src_key[0])
        j->khash[j->n_khash++] = key_hash(j->src_key);
}

static const char *key_at(const struct job *j, size_t i)
{
    return i < j->ld.n ? j->ld.keys[i] : j->src_key;
}

/* Whether a and b share a key: hashes first, names only when they match. */
static bool jobs_overlap(const struct job *a, const struct job *b)
{
    for (size_t i = 0; i < a->n_khash; i++)
        for (size_t k = 0; k < b->n_khash; k++)
            if (a->khash[i] == b->khash[k] && strcmp(key_at(a, i), key_at(b, k)) == 0)
                return true;
    return false;
}

/* Whether j must wait: it shares a key with an active job or with a job
 * that arrived before it and still waits (order is kept per key). */
static bool must_wait(const struct consume *rd, const struct job *j, const struct job *stop)
{
    for (const struct job *a = rd->active; a; a = a->next)
        if (jobs_overlap(a, j))
            return true;
    for (const struct job *w = rd->waiting; w && w != stop; w = w->next)
        if (jobs_overlap(w, j))
            return true;
    return false;
}

static void activate(struct consume *rd, struct job *j)
{
    j->active = true;
    j->next = rd->active;
    rd->active = j;
}

static void deactivate(struct consume *rd, struct job *j)
{
    for (struct job **p = &rd->active; *p; p = &(*p)->next)
        if (*p == j) {
            *p = j->next;
            break;
        }
    j->active = false;
}

/* Start the waiting jobs that no longer share a key with anything before
 * them; only those that shared one with ended can have become free. */
static void start_waiting(struct collector *c, const struct job *ended)
{
    struct consume *rd = c->rd;
    struct job **p = &rd->waiting;
    while (*p) {
        struct job *j = *p;
        if (!jobs_overlap(ended, j) || must_wait(rd, j, j)) {
            p = &j->next;
            continue;
        }
        *p = j->next;
        activate(rd, j);
        start(j);
        p = &rd->waiting; /* the list may have changed under start */
    }
}

static void job_end(struct job *j)
{
    struct collector *c = j->c;
    bool was_active = j->active;
    if (was_active)
        deactivate(c->rd, j);
    process_load_free(&j->ld);
    if (j->after) {
        process_load_free(j->after);
        pool_put(&after_pool, j->after);
    }
    ingest_event_free(&j->ev);
    ingest_heartbeat_free(&j->hb);
    free(j->raw);
    bool counted = j->counted;
    if (was_active && c->rd->waiting)
        start_waiting(c, j);
    pool_put(&job_pool, j);
    if (counted && --c->rd->inflight <= c->cfg->max_inflight / 2)
        consume_maybe_read(c);
}

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
        /* A close changes incidents events know; heartbeats and
         * fault.link touch only fault keys, which no event has. */
        if (j->kind == JOB_CLOSE || j->linked_others)
            consume_known_clear(c->rd);
        else if (j->kind == JOB_EVENT && j->after && j->after->n)
            known_put(c->rd, j);
        c->stats.opened += (uint64_t)j->planned_opened;
        c->stats.escalated += (uint64_t)j->planned_escalated;
        c->stats.updated += (uint64_t)j->planned_updated;
        c->stats.suppressed += (uint64_t)j->planned_suppressed;
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
        if (j->presumed) {
            /* The presumed-empty state exists after all: read it and
             * decide again; a wrong guess, not a conflict. */
            j->presumed = false;
            c->stats.presumed_misses++;
            process_load_free(&j->ld);
            load_now(j);
            return;
        }
        c->stats.conflicts++;
        if (j->kind == JOB_EVENT)
            known_drop(c->rd, j);
        if (++j->attempts < MAX_CONFLICT_RETRIES && j->kind != JOB_CLOSE && j->kind != JOB_SILENT) {
            process_load_free(&j->ld);
            load_now(j);
            return;
        }
        if (j->kind == JOB_EVENT || j->kind == JOB_HEARTBEAT)
            log_warn("%s %s: still conflicting after %d attempts; left pending for a later claim",
                     j->stream, j->entry_id, j->attempts);
        break;
    case STORE_ERROR:
        consume_known_clear(c->rd);
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
    int rc = store_eval(j->c->link, COLLECTOR_CMD, &store_apply_script, on_apply, j, (int)argc - 2,
                        argv + 2, lens + 2);
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
        struct incident *inc = incident_new();
        if (inc && incident_from_fields(inc, f, l, n) == 0)
            *out = inc;
        else
            incident_free(inc);
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
    if (j->kind == JOB_EVENT && reply->elements > 2 + j->ld.n &&
        reply->element[2 + j->ld.n]->type == REDIS_REPLY_STRING)
        snprintf(j->ld.suppression, sizeof(j->ld.suppression), "%s",
                 reply->element[2 + j->ld.n]->str);
    const redisReply *hb = reply->elements > 2 + j->ld.n ? reply->element[2 + j->ld.n] : NULL;
    decide(j, hb);
}

/* Decide what j writes from the state in j->ld, and write it. */
static void decide(struct job *j, const redisReply *hb)
{
    struct collector *c = j->c;
    struct process_env env = env_now(c);
    struct store_ops o;
    store_ops_init(&o);
    switch (j->kind) {
    case JOB_EVENT: {
        struct process_outcome out;
        if (!j->after && (j->after = pool_get(&after_pool))) {
            memset(j->after->inc, 0, sizeof(j->after->inc));
            j->after->n = 0;
        }
        if (!j->after || process_plan_event_after(&env, j->stream, j->entry_id, &j->ev, &j->ld, &o,
                                                  &out, j->after) < 0) {
            log_err("%s %s: out of memory", j->stream, j->entry_id);
            store_ops_free(&o);
            job_end(j);
            return;
        }
        j->planned_opened = out.opened;
        j->planned_escalated = out.escalated;
        j->planned_updated = out.updated;
        j->planned_suppressed = out.suppressed;
        j->linked_others = out.linked_others;
        break;
    }
    case JOB_HEARTBEAT:
        process_plan_heartbeat(&env, j->stream, j->entry_id, &j->hb, j->raw, j->entry_ms,
                               j->ld.inc[0], &o);
        break;
    case JOB_CLOSE: {
        struct incident *inc = j->ld.inc[0];
        uint64_t cutoff_us = env.now_us - c->cfg->incident_window_us;
        if (!inc) {
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
        char agency[256] = "";
        if (hb && hb->type == REDIS_REPLY_STRING && hb->len) {
            json_t *root = json_loadb(hb->str, hb->len, 0, NULL);
            const char *a =
                json_string_value(json_object_get(json_object_get(root, "canh"), "agency"));
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
        j->planned_opened = 1;
        break;
    }
    case JOB_DEADLETTER:
        break;
    }
    apply(j, &o);
}

/* Second step of a read: the dedup marker, source table, incidents (by
 * the ids in j->ld.ids) and the suppression or agent record, in one
 * script that names every key it reads. */
static void load_state(struct job *j)
{
    struct argv_builder b;
    AB_EMPTY(b);
    char seen[160] = "", field[160] = "", hashes[LOAD_MAX][128];
    const char *extra = NULL, *extra_field = NULL;
    if (j->kind == JOB_EVENT) {
        snprintf(seen, sizeof(seen), STORE_SEEN_PREFIX "%s", j->ev.id);
        process_suppression_field(&j->ev, field, sizeof(field));
        extra = STORE_SUPPRESSIONS;
        extra_field = field;
    } else if (j->kind == JOB_SILENT) {
        extra = STORE_AGENTS;
        extra_field = j->subject;
    }
    size_t nkeys = (seen[0] != '\0') + (j->src_key[0] != '\0') + (extra != NULL);
    for (size_t i = 0; i < j->ld.n; i++)
        nkeys += j->ld.ids[i][0] != '\0';
    ab_num(&b, nkeys);
    if (seen[0])
        ab_add(&b, seen);
    if (j->src_key[0])
        ab_add(&b, j->src_key);
    for (size_t i = 0; i < j->ld.n; i++)
        if (j->ld.ids[i][0]) {
            snprintf(hashes[i], sizeof(hashes[i]), STORE_INCIDENT_PREFIX "%s", j->ld.ids[i]);
            ab_add(&b, hashes[i]);
        }
    if (extra)
        ab_add(&b, extra);
    ab_add(&b, seen[0] ? "1" : "0");
    ab_add(&b, j->src_key[0] ? "1" : "0");
    ab_num(&b, j->ld.n);
    for (size_t i = 0; i < j->ld.n; i++)
        ab_add(&b, j->ld.ids[i]);
    ab_add(&b, extra ? "1" : "0");
    ab_add(&b, extra_field ? extra_field : "");
    if (store_eval(j->c->link, COLLECTOR_CMD, &store_load_script, on_load, j, b.n, b.v, b.len) < 0)
        job_end(j);
}

/* canh:ikeys values of j's incident keys (HMGET). */
static void on_ids(redisReply *reply, void *priv)
{
    struct job *j = priv;
    if (!reply) {
        job_end(j);
        return;
    }
    size_t want = 0;
    for (size_t i = 0; i < j->ld.n; i++)
        want += j->ld.keys[i][0] != '#';
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != want) {
        j->c->stats.errors++;
        log_err("%s %s: incident index read failed: %s", j->stream, j->entry_id,
                reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
        job_end(j);
        return;
    }
    for (size_t i = 0, r = 0; i < j->ld.n; i++) {
        if (j->ld.keys[i][0] == '#')
            continue;
        const redisReply *v = reply->element[r++];
        snprintf(j->ld.ids[i], sizeof(j->ld.ids[i]), "%s",
                 v->type == REDIS_REPLY_STRING && v->len < INCIDENT_ID_LEN ? v->str : "");
    }
    load_state(j);
}

/* Read the state j's decision rests on: the incident ids of its keys in
 * canh:ikeys (a key "#<id>" names an incident directly), then the rest.
 * Two steps, not atomic: the write's guards catch a change in between. */
static void load_now(struct job *j)
{
    struct argv_builder b;
    AB_EMPTY(b);
    ab_add(&b, "HMGET");
    ab_add(&b, STORE_IKEYS);
    for (size_t i = 0; i < j->ld.n; i++) {
        if (j->ld.keys[i][0] == '#')
            snprintf(j->ld.ids[i], sizeof(j->ld.ids[i]), "%s", j->ld.keys[i] + 1);
        else
            ab_add(&b, j->ld.keys[i]);
    }
    if (b.n == 2) {
        load_state(j);
        return;
    }
    if (send_cmd(j->c, COLLECTOR_CMD, on_ids, j, &b) < 0)
        job_end(j);
}

bool consume_entry_in_flight(const struct collector *c, const char *stream, const char *id)
{
    const struct job *lists[] = {c->rd->active, c->rd->waiting};
    for (size_t l = 0; l < 2; l++)
        for (const struct job *j = lists[l]; j; j = j->next)
            if (strcmp(j->entry_id, id) == 0 && strcmp(j->stream, stream) == 0)
                return true;
    return false;
}

void consume_job_load(struct job *j)
{
    struct consume *rd = j->c->rd;
    hash_keys(j);
    if (must_wait(rd, j, NULL)) {
        struct job **p = &rd->waiting;
        while (*p)
            p = &(*p)->next;
        j->next = NULL;
        *p = j;
        return;
    }
    activate(rd, j);
    start(j);
}

struct job *consume_job_new(struct collector *c, enum job_kind kind, bool counted)
{
    /* Zeroed but for the source table's entries (25 KiB, used up to n). */
    struct job *j = pool_get(&job_pool);
    if (!j)
        return NULL;
    size_t hole = offsetof(struct job, ld) + offsetof(struct process_load, src) +
                  offsetof(struct corr_state, v);
    size_t after_hole = hole + sizeof(j->ld.src.v);
    memset(j, 0, hole);
    memset((char *)j + after_hole, 0, sizeof(*j) - after_hole);
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

/* ---- the limits of one agent's word (issue 19) ----------------------- */

static struct ingest_policy policy_for(struct collector *c, const char *agent, uint64_t entry_ms)
{
    return (struct ingest_policy){
        .bound_agency = agent ? collector_agent_agency(c->cfg, agent) : NULL,
        .bindings = c->cfg->n_bindings > 0,
        .entry_ms = entry_ms,
        .max_ahead_us = c->cfg->max_clock_ahead_us,
        .max_age_us = c->cfg->max_event_age_us,
        .deadletter_misdated = c->cfg->deadletter_misdated,
        .clamped = &c->stats.clamped_times,
    };
}

/* An entry above the size bound is dead-lettered with its first KiB only:
 * never parsed, never copied whole. */
static bool oversized(struct collector *c, struct job *j, bool heartbeat, const char *value,
                      size_t len)
{
    uint64_t max = heartbeat ? c->cfg->max_heartbeat_bytes : c->cfg->max_entry_bytes;
    if (len <= max)
        return false;
    c->stats.oversized++;
    snprintf(j->reason, sizeof(j->reason), "%s of %zu bytes is above %s (%llu bytes)",
             heartbeat ? "heartbeat" : "entry", len,
             heartbeat ? "max_heartbeat_size" : "max_entry_size", (unsigned long long)max);
    size_t head = len < 1024 ? len : 1024;
    j->raw = malloc(head + 1);
    if (j->raw) {
        memcpy(j->raw, value, head);
        j->raw[head] = '\0';
    }
    deadletter(j);
    return true;
}

/* The read script put {"canh_oversize", bytes, "head", first bytes} in
 * place of an entry above its bound (consume_internal.h). */
static bool oversized_in_server(struct collector *c, struct job *j, const char *stream,
                                const redisReply *fields)
{
    if (fields->elements != 4 || fields->element[0]->type != REDIS_REPLY_STRING ||
        strcmp(fields->element[0]->str, "canh_oversize") != 0 ||
        fields->element[1]->type != REDIS_REPLY_STRING ||
        fields->element[3]->type != REDIS_REPLY_STRING)
        return false;
    bool heartbeat = ingest_is_heartbeat_stream(stream);
    uint64_t max = heartbeat ? c->cfg->max_heartbeat_bytes : c->cfg->max_entry_bytes;
    c->stats.oversized++;
    snprintf(j->reason, sizeof(j->reason), "%s of %s bytes is above %s (%llu bytes)",
             heartbeat ? "heartbeat" : "entry", fields->element[1]->str,
             heartbeat ? "max_heartbeat_size" : "max_entry_size", (unsigned long long)max);
    j->raw = strndup(fields->element[3]->str, fields->element[3]->len);
    deadletter(j);
    return true;
}

void consume_take_entry(struct collector *c, const char *stream, const redisReply *entry)
{
    if (entry->type != REDIS_REPLY_ARRAY || entry->elements < 2 ||
        entry->element[0]->type != REDIS_REPLY_STRING)
        return;
    c->stats.entries++;
    const char *id = entry->element[0]->str;
    const redisReply *fields = entry->element[1];
    struct job *j = consume_job_new(c, JOB_EVENT, true);
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
    if (oversized_in_server(c, j, stream, fields))
        return;
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
                json_object_set_new(
                    all, fields->element[i]->str,
                    json_stringn(fields->element[i + 1]->str, fields->element[i + 1]->len));
        j->raw = json_dumps(all, JSON_COMPACT);
        json_decref(all);
        deadletter(j);
        return;
    }
    const char *agent = ingest_stream_agent(stream);
    bool heartbeat = ingest_is_heartbeat_stream(stream);
    if (oversized(c, j, heartbeat, value->str, value->len))
        return;
    j->raw = malloc(value->len + 1);
    if (!j->raw) {
        job_end(j);
        return;
    }
    memcpy(j->raw, value->str, value->len);
    j->raw[value->len] = '\0';
    struct ingest_policy pol = policy_for(c, agent, j->entry_ms);
    if (heartbeat) {
        j->kind = JOB_HEARTBEAT;
        if (ingest_parse_heartbeat(agent, j->raw, value->len, &j->hb, j->reason,
                                   sizeof(j->reason)) < 0 ||
            ingest_vet_heartbeat(&pol, &j->hb, j->reason, sizeof(j->reason)) < 0) {
            deadletter(j);
            return;
        }
        /* canh:agents keeps only the known fields, agency the bound one */
        char *summary = ingest_heartbeat_summary(&j->hb);
        if (summary) {
            free(j->raw);
            j->raw = summary;
        }
        corr_fault_key(j->hb.agent, j->ld.keys[0], sizeof(j->ld.keys[0]));
        j->ld.n = 1;
        consume_job_load(j);
        return;
    }
    int vet = -1;
    if (ingest_parse_event(agent, j->raw, value->len, &j->ev, j->reason, sizeof(j->reason)) < 0 ||
        (vet = ingest_vet_event(&pol, agent, &j->ev, j->reason, sizeof(j->reason))) < 0) {
        deadletter(j);
        return;
    }
    /* first clamp, then every power of two: visible, never a storm */
    if (vet == 1 && (c->stats.clamped_times & (c->stats.clamped_times - 1)) == 0)
        log_warn("%s %s: %s (%" PRIu64 " clamped so far)", stream, id, j->reason,
                 c->stats.clamped_times);
    drills_tag_event(c->drills, &j->ev);
    process_event_keys(&j->ev, &j->ld, j->src_key, sizeof(j->src_key));
    consume_job_load(j);
}
