/* metrics.c — /metrics in the Prometheus text format: this collector's
 * own counters (read live) and the snapshot's figures (open incidents,
 * escalation queue, dead letters, agents).  The agents' cumulative
 * counters come from their last heartbeats through common/prom.c, which
 * the agent's own /metrics uses too.  Counters of incident changes are
 * taken when the write that makes the change is committed (apply.c).
 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "collector/collector.h"
#include "collector/escalate.h"
#include "collector/status/status_internal.h"
#include "common/prom.h"
#include "common/redis/link.h"
#include "common/units.h"

/* ---- /metrics ------------------------------------------------------- */

static void metrics_collector(struct status *s, FILE *b, uint64_t now)
{
    const struct collector_stats *st = &s->c->stats;
    const struct escalate_stats *es = escalate_stats(s->c->esc);
    prom_head(b, "canh_collector_info", "gauge", "Version and consumer name of this collector.");
    fprintf(b, "canh_collector_info{version=\"%s\",consumer=\"", CANH_VERSION);
    prom_label(b, s->c->cfg->consumer);
    fprintf(b, "\"} 1\n");
    prom_one(b, "canh_collector_uptime_seconds", "gauge", "Seconds since the collector started.",
             (now - s->started_us) / 1000000);
    prom_one(b, "canh_collector_redis_up", "gauge", "1 while the Redis session is up.",
             redis_link_up(s->link) ? 1 : 0);
    prom_one(b, "canh_collector_streams", "gauge", "Agent streams read through the group.",
             collector_streams(s->c));
    prom_one(b, "canh_collector_entries_total", "counter",
             "Stream entries taken in (events and heartbeats).", st->entries);
    prom_one(b, "canh_collector_events_applied_total", "counter",
             "Events whose effects were written and acknowledged.", st->applied);
    prom_one(b, "canh_collector_events_duplicate_total", "counter",
             "Events seen before (acknowledged, nothing written).", st->duplicates);
    prom_one(b, "canh_collector_events_deadlettered_total", "counter",
             "Entries refused and moved to canh:deadletter.", st->deadletters);
    prom_one(b, "canh_collector_entries_acked_total", "counter",
             "Entries acknowledged (applied, duplicate, dead-lettered, heartbeats).",
             st->applied + st->duplicates + st->deadletters + st->heartbeats);
    prom_one(b, "canh_collector_heartbeats_total", "counter", "Agent heartbeats recorded.",
             st->heartbeats);
    prom_one(b, "canh_collector_claimed_total", "counter",
             "Entries taken over from other consumers.", st->claimed);
    prom_one(b, "canh_collector_conflicts_total", "counter",
             "Guarded writes retried after another collector changed the same incident.",
             st->conflicts);
    prom_one(b, "canh_collector_presumed_writes_total", "counter",
             "First events of new findings written without reading state, presumed empty.",
             st->presumed);
    prom_one(b, "canh_collector_presumed_misses_total", "counter",
             "Presumed-empty writes that found state after all (read and decided again).",
             st->presumed_misses);
    prom_one(b, "canh_collector_errors_total", "counter", "Redis write or read errors.",
             st->errors);
    prom_one(b, "canh_collector_incidents_opened_total", "counter",
             "Incidents this collector opened (counted once the write is committed).", st->opened);
    prom_one(b, "canh_collector_incidents_escalated_total", "counter",
             "Incident changes this collector queued for escalation (committed writes).",
             st->escalated);
    prom_one(b, "canh_collector_incidents_closed_total", "counter",
             "Incidents this collector closed.", st->closed);
    prom_one(b, "canh_collector_events_suppressed_total", "counter",
             "Events matching a rejected incident (false positives), not raised again.",
             st->suppressed);
    prom_one(b, "canh_status_connections", "gauge", "Open connections to the status page.",
             status_connections(s));
    prom_one(b, "canh_status_max_connections", "gauge",
             "The cap on status page connections (max_connections).", s->max_connections);
    prom_one(b, "canh_status_connection_cap_reached_total", "counter",
             "Times the status page stopped accepting at max_connections.", s->cap_reached);
    prom_one(b, "canh_status_unauthorized_total", "counter",
             "Requests refused for want of a valid credential.", s->unauthorized);
    prom_one(b, "canh_status_misdirected_total", "counter",
             "Requests refused because their Host is not allowed (421).", s->misdirected);
    prom_one(b, "canh_status_login_failures_total", "counter", "POST /login with an unknown token.",
             s->login_failures);
    prom_one(b, "canh_status_actions_total", "counter",
             "Operators' actions done from the page (POST /api/action).", s->actions);
    prom_one(b, "canh_status_action_failures_total", "counter",
             "Actions refused: role, CSRF, form, unknown incident, state, Redis.",
             s->action_failures);
    prom_head(b, "canh_escalation_deliveries_total", "counter",
              "Escalations this collector delivered, per sink.");
    for (int i = 0; i < SINK_COUNT; i++)
        fprintf(b, "canh_escalation_deliveries_total{sink=\"%s\"} %" PRIu64 "\n",
                sink_name((enum sink_id)i), es->delivered[i]);
    prom_head(b, "canh_escalation_failures_total", "counter",
              "Delivery attempts of this collector that failed (the job is retried).");
    for (int i = 0; i < SINK_COUNT; i++)
        fprintf(b, "canh_escalation_failures_total{sink=\"%s\"} %" PRIu64 "\n",
                sink_name((enum sink_id)i), es->failures[i]);
}

static void metrics_snapshot(struct status *s, FILE *b, uint64_t now)
{
    const struct snapshot *sn = &s->snap;
    prom_one(b, "canh_status_snapshot_age_seconds", "gauge",
             "Seconds since the Redis figures below were read.", (now - sn->at_us) / 1000000);
    prom_one(b, "canh_incidents_open_all", "gauge", "Open incidents (all collectors).",
             sn->open_total);
    prom_one(b, "canh_incidents_open_groups", "gauge",
             "Open incidents counting a combined or province-wide one with its parts once.",
             sn->open_groups);
    prom_head(b, "canh_incidents_open", "gauge",
              "Open incidents by taxonomy code, class and severity.");
    for (size_t i = 0; i < sn->n_counts; i++) {
        const struct open_count *oc = &sn->counts[i];
        fprintf(b, "canh_incidents_open{taxonomy=\"");
        prom_label(b, oc->taxonomy);
        fprintf(b, "\",class=\"");
        prom_label(b, oc->class_);
        fprintf(b, "\",severity=\"");
        prom_label(b, oc->severity);
        fprintf(b, "\"} %" PRIu64 "\n", oc->n);
    }
    prom_one(b, "canh_escalation_queue_depth", "gauge", "Jobs in canh:escalations.",
             sn->queue_depth);
    prom_head(b, "canh_escalation_queue_jobs", "gauge", "Queued escalation jobs per sink.");
    for (int i = 0; i < SINK_COUNT; i++)
        fprintf(b, "canh_escalation_queue_jobs{sink=\"%s\"} %" PRIu64 "\n",
                sink_name((enum sink_id)i), sn->queue_jobs[i]);
    prom_head(b, "canh_escalation_queue_failing", "gauge",
              "Queued jobs whose last attempt failed, per sink.");
    for (int i = 0; i < SINK_COUNT; i++)
        fprintf(b, "canh_escalation_queue_failing{sink=\"%s\"} %" PRIu64 "\n",
                sink_name((enum sink_id)i), sn->queue_failing[i]);
    prom_one(b, "canh_deadletter_entries", "gauge", "Entries in canh:deadletter.",
             sn->deadletter_len);
    prom_one(b, "canh_reports_due", "gauge",
             "Reports of Circular 20/2017 drafted and not yet marked sent.", sn->reports_due);
    prom_one(b, "canh_reports_overdue", "gauge", "Of those, reports past their deadline.",
             sn->reports_overdue);

    static const struct {
        const char *name, *help;
    } agent_gauges[] = {
        {"canh_agent_up", "1 when the agent's last heartbeat is within silent_after."},
        {"canh_agent_last_heartbeat_timestamp_seconds", "Time of the last heartbeat."},
        {"canh_agent_last_heartbeat_age_seconds", "Seconds since the last heartbeat."},
    };
    for (size_t m = 0; m < sizeof(agent_gauges) / sizeof(agent_gauges[0]); m++) {
        prom_head(b, agent_gauges[m].name, "gauge", agent_gauges[m].help);
        for (size_t i = 0; i < sn->n_agents; i++) {
            const struct agent_row *row = &sn->agents[i];
            if (m > 0 && !row->heard)
                continue; /* not reported */
            fprintf(b, "%s{agent=\"", agent_gauges[m].name);
            prom_label(b, row->name);
            fprintf(b, "\",agency=\"");
            prom_label(b, row->agency);
            uint64_t now_ms = now / 1000;
            if (m == 0)
                fprintf(b, "\"} %d\n", row->heard && !row->silent);
            else if (m == 1)
                fprintf(b, "\"} %.3f\n", (double)row->last_ms / 1000.0);
            else
                fprintf(b, "\"} %.3f\n",
                        now_ms > row->last_ms ? (double)(now_ms - row->last_ms) / 1000.0 : 0.0);
        }
    }
    /* The agents' own counters, from their last heartbeats. */
    struct prom_agent *agents = calloc(sn->n_agents ? sn->n_agents : 1, sizeof(*agents));
    if (!agents)
        return;
    for (size_t i = 0; i < sn->n_agents; i++)
        agents[i] = (struct prom_agent){sn->agents[i].name, sn->agents[i].agency,
                                        json_object_get(sn->agents[i].heartbeat, "canh")};
    prom_agents(b, agents, sn->n_agents);
    free(agents);
}

void status_send_metrics(struct status *s, struct evhttp_request *req)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f) {
        uint64_t now = units_now_us();
        metrics_collector(s, f, now);
        if (s->snap.valid)
            metrics_snapshot(s, f, now);
    }
    if (!f || fclose(f) != 0) {
        free(text);
        status_send_text(req, 500, "Internal Server Error", "out of memory\n");
        return;
    }
    status_send_body(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", text, len);
    free(text);
}
