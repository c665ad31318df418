/* housekeeping.c — the periodic jobs that do not read streams.
 *
 * Closing incidents quiet for the incident window (canh:open by score),
 * and opening fault.link for agents whose heartbeats stopped
 * (canh:agent_seen older than silent_after).  Each subject becomes a job
 * of apply.c.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/consume_internal.h"
#include "collector/correlate.h"
#include "collector/store.h"
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
        if (agent->type != REDIS_REPLY_STRING || agent->len > 100 ||
            score->type != REDIS_REPLY_STRING)
            continue;
        struct job *j = consume_job_new(c, JOB_SILENT, false);
        if (!j)
            return;
        snprintf(j->stream, sizeof(j->stream), "%s", STORE_AGENT_SEEN);
        snprintf(j->subject, sizeof(j->subject), "%s", agent->str);
        snprintf(j->entry_id, sizeof(j->entry_id), "%.40s", agent->str);
        j->last_heartbeat_us = (uint64_t)strtod(score->str, NULL) * 1000;
        corr_fault_key(agent->str, j->ld.keys[0], sizeof(j->ld.keys[0]));
        j->ld.n = 1;
        consume_job_load(j);
    }
}

void consume_watch_heartbeats(struct collector *c)
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
