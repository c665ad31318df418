/* metrics.c — /metrics in the Prometheus text format: this collector's
 * own counters (read live) and the snapshot's figures (open incidents,
 * escalation queue, dead letters, agents).
 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <inttypes.h>
#include <stdint.h>

#include "collector/collector.h"
#include "collector/escalate.h"
#include "collector/status/status_internal.h"
#include "common/redis/link.h"
#include "common/units.h"

/* ---- /metrics ------------------------------------------------------- */

/* A label value: backslash, double quote and newline escaped. */
static void prom_label(struct evbuffer *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            evbuffer_add_printf(b, "\\%c", *v);
        else if (*v == '\n')
            evbuffer_add(b, "\\n", 2);
        else
            evbuffer_add(b, v, 1);
    }
}

static void prom_head(struct evbuffer *b, const char *name, const char *type, const char *help)
{
    evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void prom_one(struct evbuffer *b, const char *name, const char *type, const char *help,
                     uint64_t value)
{
    prom_head(b, name, type, help);
    evbuffer_add_printf(b, "%s %" PRIu64 "\n", name, value);
}

static void metrics_collector(struct status *s, struct evbuffer *b, uint64_t now)
{
    const struct collector_stats *st = &s->c->stats;
    const struct escalate_stats *es = escalate_stats(s->c->esc);
    prom_head(b, "canh_collector_info", "gauge", "Version and consumer name of this collector.");
    evbuffer_add_printf(b, "canh_collector_info{version=\"%s\",consumer=\"", CANH_VERSION);
    prom_label(b, s->c->cfg->consumer);
    evbuffer_add_printf(b, "\"} 1\n");
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
             "Guarded writes retried after another collector's change.", st->conflicts);
    prom_one(b, "canh_collector_errors_total", "counter", "Redis write or read errors.",
             st->errors);
    prom_one(b, "canh_collector_incidents_opened_total", "counter",
             "Incidents this collector opened.", st->opened);
    prom_one(b, "canh_collector_incidents_escalated_total", "counter",
             "Incident changes this collector queued for escalation.", st->escalated);
    prom_one(b, "canh_collector_incidents_closed_total", "counter",
             "Incidents this collector closed.", st->closed);
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
    prom_head(b, "canh_escalation_deliveries_total", "counter",
              "Escalations this collector delivered, per sink.");
    for (int i = 0; i < SINK_COUNT; i++)
        evbuffer_add_printf(b, "canh_escalation_deliveries_total{sink=\"%s\"} %" PRIu64 "\n",
                            sink_name((enum sink_id)i), es->delivered[i]);
    prom_head(b, "canh_escalation_failures_total", "counter",
              "Delivery attempts of this collector that failed (the job is retried).");
    for (int i = 0; i < SINK_COUNT; i++)
        evbuffer_add_printf(b, "canh_escalation_failures_total{sink=\"%s\"} %" PRIu64 "\n",
                            sink_name((enum sink_id)i), es->failures[i]);
}

static void metrics_snapshot(struct status *s, struct evbuffer *b, uint64_t now)
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
        evbuffer_add_printf(b, "canh_incidents_open{taxonomy=\"");
        prom_label(b, oc->taxonomy);
        evbuffer_add_printf(b, "\",class=\"");
        prom_label(b, oc->class_);
        evbuffer_add_printf(b, "\",severity=\"");
        prom_label(b, oc->severity);
        evbuffer_add_printf(b, "\"} %" PRIu64 "\n", oc->n);
    }
    prom_one(b, "canh_escalation_queue_depth", "gauge", "Jobs in canh:escalations.",
             sn->queue_depth);
    prom_head(b, "canh_escalation_queue_jobs", "gauge", "Queued escalation jobs per sink.");
    for (int i = 0; i < SINK_COUNT; i++)
        evbuffer_add_printf(b, "canh_escalation_queue_jobs{sink=\"%s\"} %" PRIu64 "\n",
                            sink_name((enum sink_id)i), sn->queue_jobs[i]);
    prom_head(b, "canh_escalation_queue_failing", "gauge",
              "Queued jobs whose last attempt failed, per sink.");
    for (int i = 0; i < SINK_COUNT; i++)
        evbuffer_add_printf(b, "canh_escalation_queue_failing{sink=\"%s\"} %" PRIu64 "\n",
                            sink_name((enum sink_id)i), sn->queue_failing[i]);
    prom_one(b, "canh_deadletter_entries", "gauge", "Entries in canh:deadletter.",
             sn->deadletter_len);

    static const struct {
        const char *name, *type, *help;
    } agent_metrics[] = {
        {"canh_agent_up", "gauge", "1 when the agent's last heartbeat is within silent_after."},
        {"canh_agent_last_heartbeat_timestamp_seconds", "gauge", "Time of the last heartbeat."},
        {"canh_agent_last_heartbeat_age_seconds", "gauge", "Seconds since the last heartbeat."},
        {"canh_agent_packets", "gauge", "Packets seen, from the last heartbeat."},
        {"canh_agent_drops", "gauge", "Packets the capture dropped, from the last heartbeat."},
        {"canh_agent_spool_records", "gauge", "Events waiting in the agent's spool."},
    };
    for (size_t m = 0; m < sizeof(agent_metrics) / sizeof(agent_metrics[0]); m++) {
        prom_head(b, agent_metrics[m].name, agent_metrics[m].type, agent_metrics[m].help);
        for (size_t i = 0; i < sn->n_agents; i++) {
            const struct agent_row *row = &sn->agents[i];
            double value;
            switch (m) {
            case 0:
                value = row->heard && !row->silent;
                break;
            case 1:
                value = (double)row->last_ms / 1000.0;
                break;
            case 2:
                value =
                    now / 1000 > row->last_ms ? (double)(now / 1000 - row->last_ms) / 1000.0 : 0;
                break;
            case 3:
                value = (double)row->packets;
                break;
            case 4:
                value = (double)row->drops;
                break;
            default:
                value = (double)row->spool_records;
                break;
            }
            if ((m >= 1 && m <= 2 && !row->heard) || value < 0)
                continue; /* not reported */
            evbuffer_add_printf(b, "%s{agent=\"", agent_metrics[m].name);
            prom_label(b, row->name);
            evbuffer_add_printf(b, "\",agency=\"");
            prom_label(b, row->agency);
            /* Whole numbers print whole; times keep milliseconds. */
            if (value == (double)(int64_t)value)
                evbuffer_add_printf(b, "\"} %" PRId64 "\n", (int64_t)value);
            else
                evbuffer_add_printf(b, "\"} %.3f\n", value);
        }
    }
}

void status_send_metrics(struct status *s, struct evhttp_request *req)
{
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        status_send_text(req, 500, "Internal Server Error", "out of memory\n");
        return;
    }
    uint64_t now = units_now_us();
    metrics_collector(s, b, now);
    if (s->snap.valid)
        metrics_snapshot(s, b, now);
    size_t len = evbuffer_get_length(b);
    status_send_body(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8",
                     (const char *)evbuffer_pullup(b, -1), len);
    evbuffer_free(b);
}
