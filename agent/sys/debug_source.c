/* debug_source.c — see debug_source.h. */
#include "agent/sys/debug_source.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/detect/finding.h"
#include "common/taxonomy.h"
#include "common/units.h"

#define DEBUG_TICK_US 10000
/* Synthetic events per loop turn at most (~4 ms of the agent's work).  A
 * source that is behind goes on in the next turn, after the loop has
 * polled its sockets: one batch of a twentieth of a second at 100,000/s
 * (20 ms) let hiredis write only once per batch, and the bench measured
 * its own generator (docs/performance.md, "Agent → Redis round"). */
#define DEBUG_BATCH 1000

struct debug_source {
    struct pipeline *pl;
    struct event *timer;
    struct event *more; /* the next batch, in the next loop turn */
    uint64_t events, rate_per_s;
    uint64_t sent;
    uint64_t started_us;
    struct rule rule;
    void (*done)(void *ctx);
    void *done_ctx;
};

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void on_timer(evutil_socket_t fd, short what, void *ctx)
{
    struct debug_source *ds = ctx;
    uint64_t due;
    if (ds->rate_per_s) {
        if (!ds->started_us)
            ds->started_us = mono_us();
        due = (mono_us() - ds->started_us) * ds->rate_per_s / 1000000u + 1;
    } else {
        due = ds->events;
    }
    /* Never more than a batch per turn: the loop must get back to the
     * Redis socket, or a slow turn would snowball into one endless one. */
    if (due > ds->events)
        due = ds->events;
    bool behind = due > ds->sent + DEBUG_BATCH;
    if (behind)
        due = ds->sent + DEBUG_BATCH;
    /* One counters object for the batch, its number set per event (the
     * pipeline writes the event before emit returns): the generator must
     * not cost the agent more than the events it stands for. */
    json_t *evidence = json_pack("{s:s}", "note", "synthetic event (--debug-events)");
    json_t *n = json_integer(0);
    json_t *counters = json_object();
    json_object_set(counters, "n", n);
    while (ds->sent < due) {
        struct evt ev;
        memset(&ev, 0, sizeof(ev));
        ev.kind = "debug_event";
        ev.rule = &ds->rule;
        ev.state = FINDING_NEW;
        ev.finding_seq = finding_next_seq();
        ev.ts_us = ev.first_seen_us = ev.last_seen_us = units_now_us();
        json_integer_set(n, (json_int_t)ds->sent);
        ev.counters = counters;
        ev.evidence = evidence;
        pipeline_emit(ds->pl, &ev);
        ds->sent++;
    }
    json_decref(n);
    json_decref(counters);
    json_decref(evidence);
    if (behind && !evtimer_pending(ds->more, NULL)) {
        struct timeval now = {0, 0};
        evtimer_add(ds->more, &now);
    }
    if (ds->sent >= ds->events) {
        event_del(ds->timer);
        event_del(ds->more);
        if (ds->done)
            ds->done(ds->done_ctx);
    }
}

struct debug_source *debug_source_new(struct event_base *base, struct pipeline *pl, uint64_t events,
                                      uint64_t rate_per_s, void (*done)(void *ctx), void *ctx)
{
    struct debug_source *ds = calloc(1, sizeof(*ds));
    if (!ds)
        return NULL;
    ds->timer = event_new(base, -1, EV_PERSIST, on_timer, ds);
    ds->more = evtimer_new(base, on_timer, ds);
    if (!ds->timer || !ds->more) {
        if (ds->timer)
            event_free(ds->timer);
        free(ds);
        return NULL;
    }
    ds->pl = pl;
    ds->events = events;
    ds->rate_per_s = rate_per_s;
    ds->done = done;
    ds->done_ctx = ctx;
    ds->rule.name = (char *)"debug_event";
    ds->rule.ref = (char *)"built-in:debug_event";
    ds->rule.detector = (char *)"debug";
    ds->rule.enabled = true;
    ds->rule.taxonomy = taxonomy_find("fault.other");
    ds->rule.severity = SEV_LOW;
    return ds;
}

void debug_source_start(struct debug_source *ds)
{
    struct timeval tick = {0, DEBUG_TICK_US};
    if (ds->events)
        event_add(ds->timer, &tick);
}

void debug_source_stop(struct debug_source *ds)
{
    event_del(ds->timer);
    event_del(ds->more);
}

bool debug_source_finished(const struct debug_source *ds)
{
    return ds->sent >= ds->events;
}

void debug_source_free(struct debug_source *ds)
{
    if (!ds)
        return;
    event_free(ds->timer);
    event_free(ds->more);
    free(ds);
}
