/* runloop.c — see runloop.h. */
#include "agent/runloop.h"

#include "agent/output/heartbeat.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/check/check.h"
#include "agent/drill_replay.h"
#include "agent/sys/debug_source.h"
#include "agent/sys/health.h"
#include "agent/sys/notify.h"
#include "common/log.h"
#include "common/units.h"

/* Frames per callback: large enough to amortise the loop, small enough
 * that timers and signals are served within milliseconds. */
#define BATCH_FRAMES 4096
#define DRAIN_CHECK_US 10000

struct runloop {
    struct event_base *base;
    struct capture *cap;
    struct pipeline *pl;
    const struct agent_config *cfg;
    struct runloop_extras x;
    struct event *ev_capture; /* live: pcap fd; offline: self-activating */
    struct event *ev_tick;
    struct event *ev_flush;
    struct event *ev_drain;
    struct event *ev_sigint, *ev_sigterm, *ev_sighup;
    int status;
    int stopping;
    int eof_waiting; /* offline input done, synthetic events still due */
    uint64_t drain_deadline_us;
    uint64_t run_started_us;
    struct debug_source *debug; /* NULL: no synthetic events */
};

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* A drill replay rewrites each frame first.  Out of line, so that the
 * common path below needs no stack frame of its own. */
static __attribute__((noinline)) void
on_drill_frame(struct runloop *rl, const struct pcap_pkthdr *h, const uint8_t *frame)
{
    struct pcap_pkthdr drill_h;
    frame = drill_replay_frame(rl->x.drill, rl->cap->dlt, h, frame, &drill_h);
    pipeline_frame(rl->pl, rl->cap->dlt, &drill_h, frame);
}

static int on_frame(void *ctx, const struct pcap_pkthdr *h, const uint8_t *frame)
{
    struct runloop *rl = ctx;
    if (rl->x.drill)
        on_drill_frame(rl, h, frame);
    else
        pipeline_frame(rl->pl, rl->cap->dlt, h, frame);
    return 0;
}

static size_t outputs_pending(struct runloop *rl)
{
    size_t n = 0;
    for (size_t i = 0; i < rl->x.n_outputs; i++)
        if (rl->x.outputs[i]->pending)
            n += rl->x.outputs[i]->pending(rl->x.outputs[i]);
    return n;
}

static void on_drain(evutil_socket_t fd, short what, void *ctx)
{
    struct runloop *rl = ctx;
    size_t pending = outputs_pending(rl);
    if (pending && mono_us() < rl->drain_deadline_us)
        return;
    if (pending)
        log_warn("stopping with %zu events not yet acknowledged by Redis; they stay in the spool "
                 "for the next start",
                 pending);
    event_base_loopexit(rl->base, NULL);
}

static void stop(struct runloop *rl, int status)
{
    if (rl->stopping)
        return;
    rl->stopping = 1;
    rl->status = status;
    if (rl->cap->live)
        event_del(rl->ev_capture);
    if (rl->debug)
        debug_source_stop(rl->debug);
    uint64_t now = pipeline_last_packet_us(rl->pl);
    if (rl->cap->live && units_now_us() > now)
        now = units_now_us();
    health_finish(rl->x.health, now);
    check_finish(rl->x.check, now);
    pipeline_finish(rl->pl, now);
    /* The closing events are counted now: one last heartbeat carries the
     * final counters, so the collector's figures for this agent add up
     * to what it sent (a replay may end before the first interval). */
    if (rl->x.heartbeat)
        heartbeat_send(rl->x.heartbeat);
    notify_stopping(rl->x.notify);
    /* Give the outputs a bounded time to hear back (Redis replies); the
     * loop keeps running so they can. */
    rl->drain_deadline_us = mono_us() + rl->x.drain_timeout_us;
    struct timeval tv = {0, DRAIN_CHECK_US};
    event_add(rl->ev_drain, &tv);
    on_drain(-1, 0, rl);
}

static void finish_input(struct runloop *rl)
{
    if (rl->debug && !debug_source_finished(rl->debug)) {
        rl->eof_waiting = 1;
        return;
    }
    stop(rl, 0);
}

static void on_capture(evutil_socket_t fd, short what, void *ctx)
{
    struct runloop *rl = ctx;
    int n = capture_dispatch(rl->cap, BATCH_FRAMES, on_frame, rl);
    if (n < 0) {
        log_err("%s: %s", rl->cap->source, rl->cap->errbuf);
        stop(rl, 1);
        return;
    }
    if (!rl->cap->live) {
        if (rl->cap->eof) {
            if (rl->cap->truncated)
                log_warn("%s: %s; finished with the packets read before it", rl->cap->source,
                         rl->cap->errbuf);
            log_info("%s: read in %.3f s", rl->cap->source,
                     (double)(mono_us() - rl->run_started_us) / 1e6);
            finish_input(rl);
            return;
        }
        event_active(rl->ev_capture, EV_READ, 0);
    }
}

static void on_tick(evutil_socket_t fd, short what, void *ctx)
{
    struct runloop *rl = ctx;
    /* Offline the packet clock ticks inside the pipeline; live, a quiet
     * link still has to end findings on time. */
    if (rl->cap->live && !rl->stopping)
        pipeline_tick(rl->pl, units_now_us());
}

static void on_flush(evutil_socket_t fd, short what, void *ctx)
{
    struct runloop *rl = ctx;
    pipeline_flush(rl->pl);
}

static void on_debug_done(void *ctx)
{
    struct runloop *rl = ctx;
    if (rl->eof_waiting)
        stop(rl, 0);
}

static void on_signal(evutil_socket_t sig, short what, void *ctx)
{
    struct runloop *rl = ctx;
    if (sig == SIGHUP) {
        struct cfg_err err;
        if (pipeline_reload(rl->pl, &err) < 0)
            log_err("reload refused, keeping the running rules: %s", err.msg);
        else
            check_reload(rl->x.check);
        return;
    }
    if (rl->stopping) {
        log_info("signal %d again: stopping without waiting for Redis", (int)sig);
        event_base_loopexit(rl->base, NULL);
        return;
    }
    log_info("signal %d: stopping", (int)sig);
    stop(rl, 0);
}

struct runloop *runloop_new(struct event_base *base, struct capture *cap, struct pipeline *pl,
                            const struct agent_config *cfg)
{
    struct runloop *rl = calloc(1, sizeof(*rl));
    if (!rl)
        return NULL;
    rl->base = base;
    rl->cap = cap;
    rl->pl = pl;
    rl->cfg = cfg;
    if (cap->live)
        rl->ev_capture = event_new(base, capture_fd(cap), EV_READ | EV_PERSIST, on_capture, rl);
    else
        rl->ev_capture = event_new(base, -1, 0, on_capture, rl);
    rl->ev_tick = event_new(base, -1, EV_PERSIST, on_tick, rl);
    rl->ev_flush = event_new(base, -1, EV_PERSIST, on_flush, rl);
    rl->ev_drain = event_new(base, -1, EV_PERSIST, on_drain, rl);
    rl->ev_sigint = evsignal_new(base, SIGINT, on_signal, rl);
    rl->ev_sigterm = evsignal_new(base, SIGTERM, on_signal, rl);
    rl->ev_sighup = evsignal_new(base, SIGHUP, on_signal, rl);
    if (!rl->ev_capture || !rl->ev_tick || !rl->ev_flush || !rl->ev_drain || !rl->ev_sigint ||
        !rl->ev_sigterm || !rl->ev_sighup) {
        runloop_free(rl);
        return NULL;
    }
    return rl;
}

int runloop_set_extras(struct runloop *rl, const struct runloop_extras *x)
{
    rl->x = *x;
    if (x->debug_events) {
        rl->debug =
            debug_source_new(rl->base, rl->pl, x->debug_events, x->debug_rate, on_debug_done, rl);
        if (!rl->debug)
            return -1;
    }
    return 0;
}

int runloop_run(struct runloop *rl)
{
    struct timeval one_second = {1, 0}, half_second = {0, 500000};
    rl->run_started_us = mono_us();
    if (rl->cap->live)
        event_add(rl->ev_capture, NULL);
    else
        event_active(rl->ev_capture, EV_READ, 0);
    event_add(rl->ev_tick, &one_second);
    event_add(rl->ev_flush, &half_second);
    if (rl->debug)
        debug_source_start(rl->debug);
    event_add(rl->ev_sigint, NULL);
    event_add(rl->ev_sigterm, NULL);
    event_add(rl->ev_sighup, NULL);
    event_base_dispatch(rl->base);
    return rl->status;
}

void runloop_free(struct runloop *rl)
{
    if (!rl)
        return;
    struct event *evs[] = {rl->ev_capture, rl->ev_tick,    rl->ev_flush, rl->ev_drain,
                           rl->ev_sigint,  rl->ev_sigterm, rl->ev_sighup};
    for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
        if (evs[i])
            event_free(evs[i]);
    debug_source_free(rl->debug);
    free(rl);
}
