/* consume.c — reading the agents' streams: the loop and its life cycle.
 *
 * The loop, on a 100 ms tick: discover streams (discover.c); XREADGROUP
 * over every stream in one call, run by a script that dead-letters
 * oversized entries' bodies in the server — first this consumer's own
 * pending entries (page by page), then new ones (">"); apply the entries
 * concurrently (apply.c), at most max_inflight at once, and read again as
 * soon as half of that window is free, or wait in XREAD BLOCK when the
 * read found nothing.  Periodically: claim idle
 * entries (claim.c), close quiet incidents and watch heartbeats
 * (housekeeping.c).  Also collector_init/start/stop/free.
 */
#include "collector/archive.h"
#include "collector/collector.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/consume_internal.h"
#include "collector/drills.h"
#include "collector/escalate.h"
#include "collector/report_due.h"
#include "collector/store.h"
#include "common/log.h"
#include "common/units.h"

/* ---- reading -------------------------------------------------------- */

struct read_req {
    struct collector *c;
    bool own_pending;
    size_t n;
    char (*keys)[192];
};

/* XREADGROUP in the server, each entry's size checked there (cap() of
 * CONSUME_CAP_LUA).  KEYS: the streams; ARGV: group, consumer, count,
 * ">" (new entries) or "own" (this consumer's pending ones), max entry
 * bytes, max heartbeat bytes, head bytes, then for "own" the id after
 * which to read each stream's.
 * When ">" finds nothing it answers {"canh_idle", id per stream}: the
 * group's last delivered id of each stream, from which the wake-up read
 * waits (XREAD BLOCK cannot run in a script). */
static const char read_lua[] = CONSUME_CAP_LUA
    "local args = {'XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', ARGV[3], 'STREAMS'}\n"
    "for i = 1, #KEYS do args[#args + 1] = KEYS[i] end\n"
    "for i = 1, #KEYS do args[#args + 1] = ARGV[4] == '>' and '>' or ARGV[7 + i] end\n"
    "local r = redis.call(unpack(args))\n"
    "if not r and ARGV[4] == '>' then\n"
    "  local out = {'canh_idle'}\n"
    "  for i = 1, #KEYS do\n"
    "    local id = '$'\n"
    "    local groups = redis.pcall('XINFO', 'GROUPS', KEYS[i])\n"
    "    if type(groups) == 'table' and not groups.err then\n"
    "      for _, g in ipairs(groups) do\n"
    "        local h = {}\n"
    "        for k = 1, #g, 2 do h[g[k]] = g[k + 1] end\n"
    "        if h['name'] == ARGV[1] then id = h['last-delivered-id'] end\n"
    "      end\n"
    "    end\n"
    "    out[#out + 1] = id\n"
    "  end\n"
    "  return out\n"
    "end\n"
    "if not r then return {} end\n"
    "local max_entry, max_hb, head = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])\n"
    "for _, s in ipairs(r) do cap(s[2], max_entry, max_hb, head, is_hb(s[1])) end\n"
    "return r\n";

static struct store_script read_script = STORE_SCRIPT(read_lua);

/* ---- waiting for new entries -----------------------------------------
 *
 * A read that found nothing leaves the collector waiting in XREAD ...
 * BLOCK on its read connection, from the ids the read gave (so an entry
 * added in between wakes it at once), for at most `block`.  XREAD with
 * COUNT 1: an idle collector takes at most one entry's bytes across the
 * wire when it wakes (not parsed, dropped; the read that follows checks
 * sizes in the server as always); a busy one never waits. */

static void on_wake(redisReply *reply, void *priv)
{
    struct collector *c = priv;
    c->rd->waiting_new = false;
    if (!reply)
        return;
    if (reply->type == REDIS_REPLY_ERROR) {
        /* e.g. an ACL without +xread: poll at the tick instead */
        log_warn("XREAD BLOCK: %s; looking for new entries every 100 ms instead", reply->str);
        c->rd->wake_refused = true;
        return;
    }
    c->rd->idle = false;
    consume_maybe_read(c);
}

static void wait_new(struct collector *c, const struct read_req *rq, const redisReply *ids)
{
    if (ids->elements != rq->n + 1 || c->rd->wake_refused)
        return; /* the next tick reads */
    struct argv_builder b;
    AB_EMPTY(b);
    ab_add(&b, "XREAD");
    ab_add(&b, "COUNT");
    ab_add(&b, "1");
    ab_add(&b, "BLOCK");
    ab_num(&b, c->cfg->block_us / 1000 ? c->cfg->block_us / 1000 : 1);
    ab_add(&b, "STREAMS");
    if (b.n + 2 * rq->n > 600)
        return;
    for (size_t i = 0; i < rq->n; i++)
        ab_add(&b, rq->keys[i]);
    for (size_t i = 0; i < rq->n; i++) {
        const redisReply *id = ids->element[i + 1];
        ab_add(&b, id->type == REDIS_REPLY_STRING ? id->str : "$");
    }
    c->rd->waiting_new = send_cmd(c, COLLECTOR_RD, on_wake, c, &b) == 0;
}

/* After a page of own pending entries: each stream's next page starts
 * after the last id it gave. */
static void own_advance(struct consume *rd, const struct read_req *rq, const redisReply *reply)
{
    for (size_t s = 0; s < reply->elements; s++) {
        const redisReply *sr = reply->element[s];
        if (sr->type != REDIS_REPLY_ARRAY || sr->elements != 2 ||
            sr->element[0]->type != REDIS_REPLY_STRING ||
            sr->element[1]->type != REDIS_REPLY_ARRAY || sr->element[1]->elements == 0)
            continue;
        const redisReply *last = sr->element[1]->element[sr->element[1]->elements - 1];
        if (last->type != REDIS_REPLY_ARRAY || last->elements < 1 ||
            last->element[0]->type != REDIS_REPLY_STRING)
            continue;
        for (size_t i = 0; i < rq->n && i < rd->n_own_from; i++)
            if (strcmp(rq->keys[i], sr->element[0]->str) == 0)
                snprintf(rd->own_from[i], sizeof(rd->own_from[i]), "%s", last->element[0]->str);
    }
}

static void on_read(redisReply *reply, void *priv)
{
    struct read_req *rq = priv;
    struct collector *c = rq->c;
    c->rd->reading = false;
    size_t taken = 0;
    if (reply && reply->type == REDIS_REPLY_ERROR) {
        log_warn("XREADGROUP: %s; discovering streams again", reply->str);
        c->rd->n_streams = 0;
        c->rd->n_own_from = 0; /* the order may change: own pages from the start */
        c->rd->next_discover_us = 0;
    } else if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements &&
               reply->element[0]->type == REDIS_REPLY_STRING &&
               strcmp(reply->element[0]->str, "canh_idle") == 0) {
        wait_new(c, rq, reply);
    } else if (reply && reply->type == REDIS_REPLY_ARRAY) {
        for (size_t s = 0; s < reply->elements; s++) {
            const redisReply *sr = reply->element[s];
            if (sr->type != REDIS_REPLY_ARRAY || sr->elements != 2 ||
                sr->element[0]->type != REDIS_REPLY_STRING ||
                sr->element[1]->type != REDIS_REPLY_ARRAY)
                continue;
            for (size_t e = 0; e < sr->element[1]->elements; e++, taken++)
                consume_take_entry(c, sr->element[0]->str, sr->element[1]->element[e]);
        }
    }
    /* Our own pending entries are read page by page, each stream from the
     * last id the page before gave, until a page brings none: after a
     * reconnect they are applied at once, not after claim_idle. */
    if (reply && reply->type == REDIS_REPLY_ARRAY && rq->own_pending && taken)
        own_advance(c->rd, rq, reply);
    else if (reply && reply->type != REDIS_REPLY_ERROR && rq->own_pending)
        c->rd->own_pending_done = true;
    /* nothing new: wait for the tick rather than spin */
    c->rd->idle = reply && !rq->own_pending && taken == 0;
    free(rq->keys);
    free(rq);
    if (reply && !c->rd->idle)
        consume_maybe_read(c);
}

/* rd->own_from for n streams: "0" (from the start) for streams not read
 * yet in this session. */
static int own_cursors(struct consume *rd, size_t n)
{
    if (n > rd->n_own_from) {
        char(*v)[48] = realloc(rd->own_from, n * sizeof(*v));
        if (!v)
            return -1;
        rd->own_from = v;
        for (size_t i = rd->n_own_from; i < n; i++)
            strcpy(v[i], "0");
        rd->n_own_from = n;
    }
    return 0;
}

void consume_maybe_read(struct collector *c)
{
    struct consume *rd = c->rd;
    if (rd->reading || rd->waiting_new || rd->stopping || !redis_link_up(c->link) ||
        rd->n_streams == 0 || rd->groups_pending)
        return;
    /* A window of entries in flight: the next read goes out while the
     * last half of the window is still being applied, and brings at most
     * what fills it again.  A page of this consumer's own pending
     * entries waits until nothing is in flight: those entries may be
     * among the jobs still running. */
    uint64_t room = c->cfg->max_inflight > rd->inflight ? c->cfg->max_inflight - rd->inflight : 0;
    if (room < (c->cfg->max_inflight + 1) / 2 || (!rd->own_pending_done && rd->inflight))
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
    if (rq->own_pending && own_cursors(rd, n) < 0) {
        free(rq->keys);
        free(rq);
        return;
    }
    /* COUNT is per stream: over many streams the batch is cut so that one
     * read never brings more than the window's room in at once. */
    uint64_t count = c->cfg->batch;
    if (count * n > room)
        count = room / n ? room / n : 1;
    struct argv_builder b;
    AB_EMPTY(b);
    ab_num(&b, n);
    for (size_t i = 0; i < n; i++)
        ab_add(&b, rq->keys[i]);
    ab_add(&b, STORE_GROUP);
    ab_add(&b, c->cfg->consumer);
    ab_num(&b, count);
    ab_add(&b, rq->own_pending ? "own" : ">");
    ab_num(&b, c->cfg->max_entry_bytes);
    ab_num(&b, c->cfg->max_heartbeat_bytes);
    ab_num(&b, CONSUME_OVERSIZE_HEAD);
    for (size_t i = 0; rq->own_pending && i < n; i++)
        ab_add(&b, rd->own_from[i]);
    c->rd->reading = true;
    if (store_eval(c->link, COLLECTOR_RD, &read_script, on_read, rq, b.n, b.v, b.len) < 0) {
        c->rd->reading = false;
        free(rq->keys);
        free(rq);
    }
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
        consume_discover(c);
    }
    if (!c->rd->claiming && now >= c->rd->next_claim_us && c->rd->n_streams) {
        c->rd->next_claim_us = now + c->cfg->claim_interval_us;
        consume_claim(c);
    }
    if (!c->rd->sweeping && now >= c->rd->next_sweep_us) {
        c->rd->next_sweep_us = now + c->cfg->sweep_interval_us;
        consume_sweep(c);
    }
    uint64_t silent_every = c->cfg->silent_after_us / 4;
    if (silent_every < 500000)
        silent_every = 500000;
    if (silent_every > 10000000)
        silent_every = 10000000;
    if (!c->rd->watching && now >= c->rd->next_silent_us) {
        c->rd->next_silent_us = now + silent_every;
        consume_watch_heartbeats(c);
    }
    consume_maybe_read(c);
    escalate_tick(c->esc);
    if (!c->rd->stopping) {
        report_due_tick(c->reports);
        archive_tick(c->archive);
        drills_tick(c->drills);
    }
}

static void on_ready(void *owner)
{
    struct collector *c = owner;
    c->rd->n_streams = 0;
    c->rd->groups_pending = 0;
    c->rd->own_pending_done = false;
    c->rd->n_own_from = 0; /* every stream's own pending entries from the start */
    c->rd->scanning = c->rd->claiming = c->rd->sweeping = c->rd->watching = c->rd->reading = false;
    c->rd->waiting_new = c->rd->wake_refused = false;
    c->rd->next_discover_us = c->rd->next_sweep_us = c->rd->next_silent_us = 0;
    /* Claim only after a first read of our own pending entries. */
    c->rd->next_claim_us = units_now_us() + 1000000;
    on_tick(-1, 0, c);
}

static void on_lost(void *owner)
{
    struct collector *c = owner;
    c->rd->reading = c->rd->waiting_new = false;
    consume_known_clear(c->rd);
    escalate_session_lost(c->esc);
    archive_session_lost(c->archive);
    drills_session_lost(c->drills);
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
    c->reports = report_due_new(cfg, c->link);
    c->archive = archive_new(cfg, c->link);
    c->drills = drills_new(c->link);
    if (!c->esc || !c->reports || !c->archive || !c->drills)
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
    return c->rd->inflight == 0 && escalate_idle(c->esc) && report_due_idle(c->reports) &&
           archive_idle(c->archive);
}

int collector_reconfigure(struct collector *c, const struct collector_config *cfg)
{
    if (escalate_reconfigure(c->esc, cfg) < 0)
        return -1;
    /* Never fails to take cfg: a registry that went away since the check
     * keeps the running one (logged). */
    report_due_reconfigure(c->reports, cfg);
    archive_reconfigure(c->archive, cfg);
    c->cfg = cfg;
    return 0;
}

size_t collector_streams(const struct collector *c)
{
    return c->rd->n_streams;
}

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
    /* After the link: its pending replies (NULL now) still reach them. */
    report_due_free(c->reports);
    c->reports = NULL;
    archive_free(c->archive);
    c->archive = NULL;
    drills_free(c->drills);
    c->drills = NULL;
    if (c->rd) {
        free(c->rd->streams);
        free(c->rd->own_from);
        consume_known_free(c->rd);
    }
    free(c->rd);
    c->rd = NULL;
}
