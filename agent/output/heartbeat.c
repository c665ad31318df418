/* heartbeat.c — see heartbeat.h.  Fields (docs/redis.md lists them):
 * the pipeline's counters (packets, bytes, decode errors, events, rules
 * version, detectors, outputs) plus uptime, RSS, the kernel's capture
 * counters and the spool's depth and losses lifted to the top. */
#include "agent/output/heartbeat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/event.h"
#include "common/log.h"
#include "common/units.h"

#define MAX_TARGETS 8

struct heartbeat {
    const struct agent_config *cfg;
    struct pipeline *pl;
    struct capture *cap;
    struct output *outs[MAX_TARGETS];
    size_t n_outs;
    struct event *ev_timer;
    uint64_t started_us;
    uint64_t sent;
};

static uint64_t rss_bytes(void)
{
    FILE *fp = fopen("/proc/self/statm", "r");
    unsigned long long size = 0, resident = 0;
    if (!fp)
        return 0;
    if (fscanf(fp, "%llu %llu", &size, &resident) != 2)
        resident = 0;
    fclose(fp);
    return resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

json_t *heartbeat_build(struct heartbeat *hb)
{
    uint64_t now = units_now_us();
    char ts[64];
    json_t *canh = pipeline_stats(hb->pl);
    json_object_set_new(canh, "v", json_integer(EVENT_SCHEMA_VERSION));
    json_object_set_new(canh, "agent", json_string(hb->cfg->name));
    json_object_set_new(canh, "agency", json_string(hb->cfg->agency));
    json_object_set_new(canh, "version", json_string(CANH_VERSION));
    json_object_set_new(canh, "uptime_s",
                        json_integer((json_int_t)((now - hb->started_us) / 1000000)));
    json_object_set_new(canh, "rss_bytes", json_integer((json_int_t)rss_bytes()));
    json_object_set_new(canh, "interval_s",
                        json_integer((json_int_t)(hb->cfg->heartbeat_interval_us / 1000000)));
    json_object_set_new(canh, "source", json_string(hb->cap->source));
    struct capture_stats cs;
    if (hb->cap->live && capture_stats(hb->cap, &cs) == 0)
        json_object_set_new(canh, "capture",
                            json_pack("{s:I,s:I,s:I,s:I}", "received", (json_int_t)cs.received,
                                      "dropped", (json_int_t)cs.dropped, "if_dropped",
                                      (json_int_t)cs.if_dropped, "wirelen_capped",
                                      (json_int_t)cs.wirelen_capped));
    /* The spool counters sit with the Redis output's; the collector and
     * operators look for them in one place. */
    json_t *outs = json_object_get(canh, "outputs");
    static const char *const spool_keys[] = {"spool_records",      "spool_bytes",
                                             "spool_lost_records", "spool_lost_bytes",
                                             "spool_torn_bytes",   "spool_damaged_records"};
    json_t *spool = json_object();
    for (size_t i = 0; i < sizeof(spool_keys) / sizeof(spool_keys[0]); i++) {
        json_t *v = json_object_get(outs, spool_keys[i]);
        json_object_set(spool, spool_keys[i] + 6, v ? v : json_integer(0));
    }
    json_object_set_new(canh, "spool", spool);

    json_t *root = json_object();
    json_object_set_new(root, "timestamp", json_string(units_format_time(now, ts, sizeof(ts))));
    json_object_set_new(root, "event_type", json_string("stats"));
    json_object_set_new(root, "canh", canh);
    return root;
}

void heartbeat_send(struct heartbeat *hb)
{
    /* No output takes heartbeats (a replay to JSONL): none is built.
     * Building one walks every detector's tables, a third of the
     * instructions of a short replay (docs/performance.md, "Agent
     * start-up"). */
    bool wanted = false;
    for (size_t i = 0; i < hb->n_outs; i++)
        wanted |= hb->outs[i]->write_stats != NULL;
    if (!wanted)
        return;
    json_t *j = heartbeat_build(hb);
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(j);
    if (!text) {
        log_err("cannot encode a heartbeat (out of memory)");
        return;
    }
    size_t len = strlen(text);
    for (size_t i = 0; i < hb->n_outs; i++)
        if (hb->outs[i]->write_stats)
            hb->outs[i]->write_stats(hb->outs[i], text, len);
    free(text);
    hb->sent++;
}

static void on_timer(evutil_socket_t fd, short what, void *ctx)
{
    heartbeat_send(ctx);
}

struct heartbeat *heartbeat_new(struct event_base *base, const struct agent_config *cfg,
                                struct pipeline *pl, struct capture *cap,
                                struct output *const *outs, size_t n_outs)
{
    struct heartbeat *hb = calloc(1, sizeof(*hb));
    if (!hb)
        return NULL;
    hb->cfg = cfg;
    hb->pl = pl;
    hb->cap = cap;
    hb->started_us = units_now_us();
    for (size_t i = 0; i < n_outs && hb->n_outs < MAX_TARGETS; i++)
        hb->outs[hb->n_outs++] = outs[i];
    if (cfg->heartbeat_interval_us && hb->n_outs) {
        struct timeval tv = {(time_t)(cfg->heartbeat_interval_us / 1000000),
                             (suseconds_t)(cfg->heartbeat_interval_us % 1000000)};
        hb->ev_timer = event_new(base, -1, EV_PERSIST, on_timer, hb);
        if (!hb->ev_timer || event_add(hb->ev_timer, &tv) < 0) {
            heartbeat_free(hb);
            return NULL;
        }
    }
    return hb;
}

void heartbeat_free(struct heartbeat *hb)
{
    if (!hb)
        return;
    if (hb->ev_timer)
        event_free(hb->ev_timer);
    free(hb);
}
