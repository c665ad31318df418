/* escalate.c — see escalate.h. */
#include "collector/escalate.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "collector/collector.h"
#include "collector/incident.h"
#include "collector/report.h"
#include "collector/route.h"
#include "collector/sinks/email.h"
#include "collector/sinks/sink.h"
#include "collector/sinks/syslog.h"
#include "collector/sinks/webhook.h"
#include "collector/store.h"
#include "common/ctl_scripts.h"
#include "common/log.h"
#include "common/units.h"

#define MAX_INFLIGHT 16
#define LEASE_EXTRA_US ((uint64_t)30 * 1000000)

/* The sinks, by enum sink_id. */
static const struct sink_ops *const sink_ops[SINK_COUNT] = {
    [SINK_WEBHOOK] = &webhook_sink_ops,
    [SINK_SYSLOG] = &syslog_sink_ops,
    [SINK_REPORT] = &report_sink_ops,
    [SINK_EMAIL] = &email_sink_ops,
};

/* One route's opened sink.  A reload replaces it; the old one is kept on
 * the retired list until the deliveries it started have ended. */
struct sink_slot {
    const struct sink_ops *ops;
    struct route route; /* a copy: the configuration it came from goes at a reload */
    void *state;
    size_t inflight;
    struct sink_slot *next; /* on the retired list */
};

struct escalate {
    const struct collector_config *cfg;
    struct event_base *base;
    struct redis_link *link;
    struct sink_slot *slots[COLLECTOR_MAX_ROUTES]; /* by cfg->routes index */
    struct sink_slot *retired;
    struct escalate_stats stats;
    bool claiming;
    size_t inflight;
    uint64_t next_poll_us;
};

struct delivery {
    struct escalate *e;
    struct sink_slot *slot; /* NULL until handed to a sink */
    char id[160];
    char sink[ROUTE_NAME_LEN]; /* the route's name (a job's field "sink") */
    char action[32];
    char note[CTL_MAX_TEXT + 8]; /* the operator's note or the reminder's text ("" none) */
    uint64_t attempts;
    bool skipped; /* the route's action or state filter passed it by */
    struct incident inc;
};

uint64_t escalate_backoff_us(const struct collector_config *cfg, uint64_t attempts, uint32_t random)
{
    uint64_t delay = cfg->retry_base_us;
    for (uint64_t i = 1; i < attempts && delay < cfg->retry_max_us; i++)
        delay *= 2;
    if (delay > cfg->retry_max_us)
        delay = cfg->retry_max_us;
    /* ±25 % so collectors retrying one receiver do not move in step. */
    uint64_t spread = delay / 2;
    return delay - delay / 4 + (spread ? random % (spread + 1) : 0);
}

/* ---- sinks ---------------------------------------------------------- */

static void slot_close(struct sink_slot *slot)
{
    if (!slot)
        return;
    slot->ops->close(slot->state);
    free(slot);
}

/* Closes the retired sinks whose deliveries have ended.  Not from a
 * sink's own callback: libevent still uses a connection after its
 * request's callback returns. */
static void reap_retired(struct escalate *e)
{
    struct sink_slot **p = &e->retired;
    while (*p) {
        struct sink_slot *slot = *p;
        if (slot->inflight) {
            p = &slot->next;
            continue;
        }
        *p = slot->next;
        slot_close(slot);
    }
}

/* Opens every route's sink into slots; -1 with none left open. */
static int open_slots(struct sink_slot *slots[COLLECTOR_MAX_ROUTES],
                      const struct collector_config *cfg, struct event_base *base)
{
    for (size_t i = 0; i < COLLECTOR_MAX_ROUTES; i++)
        slots[i] = NULL;
    for (size_t i = 0; i < cfg->n_routes; i++) {
        const struct route *r = &cfg->routes[i];
        slots[i] = calloc(1, sizeof(*slots[i]));
        if (slots[i])
            slots[i]->route = *r;
        if (!slots[i] || sink_ops[r->sink]->open(&slots[i]->state, cfg, r, base) < 0) {
            free(slots[i]);
            slots[i] = NULL;
            while (i-- > 0)
                slot_close(slots[i]);
            return -1;
        }
        slots[i]->ops = sink_ops[r->sink];
    }
    return 0;
}

/* The slot of the route named; NULL when the running configuration has
 * no such route. */
static struct sink_slot *find_slot(struct escalate *e, const char *name)
{
    for (size_t i = 0; i < e->cfg->n_routes; i++)
        if (e->slots[i] && strcmp(e->slots[i]->route.name, name) == 0)
            return e->slots[i];
    return NULL;
}

/* ---- finishing a job ------------------------------------------------ */

static void on_finish(redisReply *reply, void *priv)
{
    (void)priv;
    if (reply && reply->type == REDIS_REPLY_ERROR)
        log_err("escalation bookkeeping failed: %s", reply->str);
}

static void finish(struct delivery *d, const char *error)
{
    struct escalate *e = d->e;
    if (d->slot) {
        enum sink_id sink = d->slot->route.sink;
        if (error)
            e->stats.failures[sink]++;
        else if (!d->skipped)
            e->stats.delivered[sink]++;
        d->slot->inflight--;
    }
    struct store_ops o;
    store_ops_init(&o);
    char key[192];
    snprintf(key, sizeof(key), STORE_ESCALATION_PREFIX "%s", d->id);
    if (!error) {
        if (!d->skipped)
            log_info("escalated %s to %s (%s)", d->inc.id, d->sink, d->action);
        store_cmd(&o, "ZREM", STORE_ESCALATIONS, d->id, NULL);
        store_cmd(&o, "DEL", key, NULL);
        /* Who has heard of it: the reports list the deliveries (report.h);
         * one the route's filters passed by told nobody. */
        char log_key[96], note[128];
        snprintf(log_key, sizeof(log_key), STORE_LOG_PREFIX "%s", d->inc.id);
        snprintf(note, sizeof(note), "%s (%s)", d->sink, d->action);
        if (!d->skipped)
            store_cmd(&o, "XADD", log_key, "*", "action", "delivered", "operator", "collector",
                      "state", incident_state_name(d->inc.state), "note", note, NULL);
    } else {
        uint32_t r;
        if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
            r = (uint32_t)random();
        uint64_t delay = escalate_backoff_us(e->cfg, d->attempts ? d->attempts : 1, r);
        log_warn("escalation %s to %s failed (attempt %" PRIu64 "): %s; retry in %" PRIu64 " ms",
                 d->inc.id, d->sink, d->attempts, error, delay / 1000);
        store_begin(&o, "ZADD");
        store_arg(&o, STORE_ESCALATIONS);
        store_argf(&o, "%" PRIu64, (units_now_us() + delay) / 1000);
        store_arg(&o, d->id);
        store_end(&o);
        store_cmd(&o, "HSET", key, "last_error", error, NULL);
    }
    const char **argv;
    size_t *lens, argc;
    if (store_apply_argv(&o, &argv, &lens, &argc) == 0) {
        /* If Redis is away now, the lease runs out and the job comes back. */
        redis_link_command(e->link, COLLECTOR_CMD, on_finish, e, (int)argc, argv, lens);
        free(argv);
        free(lens);
    }
    store_ops_free(&o);
    e->inflight--;
    free(d);
}

static void on_sent(void *priv, const char *error)
{
    finish(priv, error);
}

static void deliver(struct delivery *d, struct sink_slot *slot)
{
    d->slot = slot;
    slot->inflight++;
    if (!route_hears(&slot->route, d->action, d->inc.state)) {
        /* Not an action or state this route is told of: done, unsent. */
        d->skipped = true;
        finish(d, NULL);
        return;
    }
    struct sink_delivery sd = {
        .id = d->id, .action = d->action, .note = d->note, .inc = &d->inc, .route = &slot->route};
    slot->ops->send(slot->state, d->e->cfg, &sd, on_sent, d);
}

/* ---- leasing -------------------------------------------------------- */

static void take_job(struct escalate *e, const redisReply *item)
{
    if (item->type != REDIS_REPLY_ARRAY || item->elements != 3 ||
        item->element[0]->type != REDIS_REPLY_STRING)
        return;
    struct delivery *d = calloc(1, sizeof(*d));
    if (!d)
        return;
    d->e = e;
    e->inflight++;
    snprintf(d->id, sizeof(d->id), "%s", item->element[0]->str);
    const redisReply *job = item->element[1], *inc = item->element[2];
    for (size_t i = 0; i + 1 < job->elements; i += 2) {
        const char *f = job->element[i]->str, *v = job->element[i + 1]->str;
        if (!f || !v)
            continue;
        if (strcmp(f, "sink") == 0)
            snprintf(d->sink, sizeof(d->sink), "%s", v);
        else if (strcmp(f, "action") == 0)
            snprintf(d->action, sizeof(d->action), "%s", v);
        else if (strcmp(f, "note") == 0)
            snprintf(d->note, sizeof(d->note), "%s", v);
        else if (strcmp(f, "attempts") == 0)
            d->attempts = strtoull(v, NULL, 10);
    }
    const char **fields = malloc((inc->elements + 1) * sizeof(*fields));
    size_t *lens = malloc((inc->elements + 1) * sizeof(*lens));
    int ok = -1;
    if (fields && lens) {
        for (size_t i = 0; i < inc->elements; i++) {
            fields[i] = inc->element[i]->str ? inc->element[i]->str : "";
            lens[i] = inc->element[i]->str ? inc->element[i]->len : 0;
        }
        ok = incident_from_fields(&d->inc, fields, lens, inc->elements);
    }
    free(fields);
    free(lens);
    if (ok < 0) {
        /* The incident is gone (deleted by an operator): nothing to tell. */
        snprintf(d->inc.id, sizeof(d->inc.id), "(missing)");
        d->skipped = true;
        finish(d, NULL);
        return;
    }
    struct sink_slot *slot = find_slot(e, d->sink);
    if (!slot) {
        /* A route a reload removed: nothing left to deliver it through.
         * (The claim script only leases routes this collector has.) */
        d->skipped = true;
        finish(d, NULL);
        return;
    }
    deliver(d, slot);
}

static void on_claim(redisReply *reply, void *priv)
{
    struct escalate *e = priv;
    e->claiming = false;
    if (!reply)
        return;
    if (reply->type != REDIS_REPLY_ARRAY) {
        log_err("escalation claim failed: %s",
                reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
        return;
    }
    for (size_t i = 0; i < reply->elements; i++)
        take_job(e, reply->element[i]);
    /* A full batch means more may be due: poll again on the next tick. */
    if (reply->elements)
        e->next_poll_us = 0;
}

void escalate_tick(struct escalate *e)
{
    const struct collector_config *cfg = e->cfg;
    uint64_t now = units_now_us();
    reap_retired(e);
    if (e->claiming || e->inflight >= MAX_INFLIGHT || now < e->next_poll_us)
        return;
    e->next_poll_us = now + cfg->poll_interval_us;
    const char *argv[4 + 4 + 3 * COLLECTOR_MAX_ROUTES];
    size_t lens[4 + 4 + 3 * COLLECTOR_MAX_ROUTES];
    char nums[4 + 3 * COLLECTOR_MAX_ROUTES][32];
    int n = 0, k = 0;
#define ARG(s)                                                                                     \
    do {                                                                                           \
        argv[n] = (s);                                                                             \
        lens[n] = strlen(argv[n]);                                                                 \
        n++;                                                                                       \
    } while (0)
#define NUM(fmt, v)                                                                                \
    do {                                                                                           \
        snprintf(nums[k], sizeof(nums[k]), fmt, v);                                                \
        ARG(nums[k]);                                                                              \
        k++;                                                                                       \
    } while (0)
    ARG("EVAL");
    ARG(store_claim_lua);
    ARG("0");
    NUM("%" PRIu64, now / 1000);
    uint64_t longest = 0;
    for (size_t i = 0; i < cfg->n_routes; i++)
        if (cfg->routes[i].timeout_us > longest)
            longest = cfg->routes[i].timeout_us;
    NUM("%" PRIu64, (longest + LEASE_EXTRA_US) / 1000);
    NUM("%zu", (size_t)(MAX_INFLIGHT - e->inflight));
    NUM("%zu", cfg->n_routes);
    for (size_t i = 0; i < cfg->n_routes; i++) {
        const struct route *r = &cfg->routes[i];
        ARG(r->name);
        NUM("%.6f", r->rate_per_s);
        NUM("%u", r->burst);
    }
#undef ARG
#undef NUM
    if (redis_link_command(e->link, COLLECTOR_CMD, on_claim, e, n, argv, lens) == 0)
        e->claiming = true;
}

void escalate_session_lost(struct escalate *e)
{
    e->claiming = false;
}

bool escalate_idle(const struct escalate *e)
{
    return e->inflight == 0 && !e->claiming;
}

const struct escalate_stats *escalate_stats(const struct escalate *e)
{
    return &e->stats;
}

struct escalate *escalate_new(const struct collector_config *cfg, struct event_base *base,
                              struct redis_link *link)
{
    struct escalate *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->cfg = cfg;
    e->base = base;
    e->link = link;
    if (open_slots(e->slots, cfg, base) < 0) {
        free(e);
        return NULL;
    }
    return e;
}

int escalate_reconfigure(struct escalate *e, const struct collector_config *cfg)
{
    struct sink_slot *fresh[COLLECTOR_MAX_ROUTES];
    if (open_slots(fresh, cfg, e->base) < 0)
        return -1;
    for (int s = 0; s < COLLECTOR_MAX_ROUTES; s++) {
        struct sink_slot *old = e->slots[s];
        e->slots[s] = fresh[s];
        if (!old)
            continue;
        if (old->inflight == 0) {
            slot_close(old);
        } else {
            old->next = e->retired;
            e->retired = old;
        }
    }
    e->cfg = cfg;
    return 0;
}

void escalate_free(struct escalate *e)
{
    if (!e)
        return;
    /* Closing a sink may finish its deliveries (as failures), which still
     * look at their slot: each is freed after its sink is closed. */
    for (int s = 0; s < COLLECTOR_MAX_ROUTES; s++)
        slot_close(e->slots[s]);
    while (e->retired) {
        struct sink_slot *slot = e->retired;
        e->retired = slot->next;
        slot_close(slot);
    }
    free(e);
}
