/* housekeeping.c — the periodic jobs that do not read streams.
 *
 * Closing incidents quiet for the incident window (canh:open by score),
 * and opening fault.link for agents whose heartbeats stopped
 * (canh:agent_seen older than silent_after, and no newer heartbeat waiting
 * unread in the agent's stream).  Each subject becomes a job
 * of apply.c.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/consume_internal.h"
#include "collector/correlate.h"
#include "collector/store.h"
#include "common/log.h"
#include "common/units.h"

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
        struct job *j = consume_job_new(c, JOB_CLOSE, false);
        if (!j)
            return;
        snprintf(j->stream, sizeof(j->stream), "%s", STORE_OPEN);
        snprintf(j->subject, sizeof(j->subject), "%s", id->str);
        snprintf(j->entry_id, sizeof(j->entry_id), "%s", id->str);
        snprintf(j->ld.keys[0], sizeof(j->ld.keys[0]), "#%s", id->str);
        j->ld.n = 1;
        consume_job_load(j);
    }
}

void consume_sweep(struct collector *c)
{
    uint64_t cutoff_ms = (units_now_us() - c->cfg->incident_window_us) / 1000;
    struct argv_builder b;
    AB_EMPTY(b);
    ab_add(&b, "ZRANGEBYSCORE");
    ab_add(&b, STORE_OPEN);
    ab_add(&b, "-inf");
    ab_num(&b, cutoff_ms);
    ab_add(&b, "LIMIT");
    ab_add(&b, "0");
    ab_add(&b, "100");
    c->rd->sweeping = send_cmd(c, COLLECTOR_CMD, on_sweep, c, &b) == 0;
}

/* The id of the newest entry of a heartbeat stream, read in the server so
 * that no heartbeat body comes back (XINFO STREAM would send two); "" when
 * there is no such stream.  Only XINFO STREAM: the collector's ACL allows
 * nothing else on agents' keys. */
static const char newest_lua[] = "local info = redis.pcall('XINFO', 'STREAM', KEYS[1])\n"
                                 "if info.err then return '' end\n"
                                 "for i = 1, #info, 2 do\n"
                                 "  if info[i] == 'last-generated-id' then return info[i + 1] end\n"
                                 "end\n"
                                 "return ''\n";

static struct store_script newest_script = STORE_SCRIPT(newest_lua);

struct silent_check {
    struct collector *c;
    char agent[INCIDENT_KEY_LEN];
    uint64_t last_heartbeat_us; /* as applied (canh:agent_seen) */
};

/* Silence is judged from the newest heartbeat in the agent's stream, not
 * only from the last one applied: after an outage (a restart) or while
 * behind (a backlog) the stream holds heartbeats the collector has not
 * read yet, and their agents are not silent. */
static void on_newest(redisReply *reply, void *priv)
{
    struct silent_check *sc = priv;
    struct collector *c = sc->c;
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
        if (reply)
            log_warn("heartbeats of %s: %s; silence not judged", sc->agent, reply->str);
        free(sc);
        return;
    }
    uint64_t newest_us = 0;
    if (reply->type == REDIS_REPLY_STRING && reply->len)
        newest_us = strtoull(reply->str, NULL, 10) * 1000;
    uint64_t cutoff_us = units_now_us() - c->cfg->silent_after_us;
    if (newest_us > cutoff_us) {
        /* heard from lately; the backlog will move canh:agent_seen */
        c->stats.silence_deferred++;
        free(sc);
        return;
    }
    struct job *j = consume_job_new(c, JOB_SILENT, false);
    if (!j) {
        free(sc);
        return;
    }
    snprintf(j->stream, sizeof(j->stream), "%s", STORE_AGENT_SEEN);
    snprintf(j->subject, sizeof(j->subject), "%s", sc->agent);
    snprintf(j->entry_id, sizeof(j->entry_id), "%.40s", sc->agent);
    j->last_heartbeat_us = newest_us > sc->last_heartbeat_us ? newest_us : sc->last_heartbeat_us;
    corr_fault_key(sc->agent, j->ld.keys[0], sizeof(j->ld.keys[0]));
    j->ld.n = 1;
    free(sc);
    consume_job_load(j);
}

static void on_silent(redisReply *reply, void *priv)
{
    struct collector *c = priv;
    c->rd->watching = false;
    if (!reply || reply->type != REDIS_REPLY_ARRAY)
        return;
    for (size_t i = 0; i + 1 < reply->elements; i += 2) {
        const redisReply *agent = reply->element[i], *score = reply->element[i + 1];
        if (agent->type != REDIS_REPLY_STRING || agent->len > 100 ||
            score->type != REDIS_REPLY_STRING)
            continue;
        struct silent_check *sc = calloc(1, sizeof(*sc));
        if (!sc)
            return;
        sc->c = c;
        snprintf(sc->agent, sizeof(sc->agent), "%s", agent->str);
        sc->last_heartbeat_us = (uint64_t)strtod(score->str, NULL) * 1000;
        char key[192];
        snprintf(key, sizeof(key), "canh:heartbeats:%s", agent->str);
        struct argv_builder b;
        AB_EMPTY(b);
        ab_add(&b, "1");
        ab_add(&b, key);
        if (store_eval(c->link, COLLECTOR_CMD, &newest_script, on_newest, sc, b.n, b.v, b.len) < 0)
            free(sc);
    }
}

void consume_watch_heartbeats(struct collector *c)
{
    uint64_t cutoff_ms = (units_now_us() - c->cfg->silent_after_us) / 1000;
    struct argv_builder b;
    AB_EMPTY(b);
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
