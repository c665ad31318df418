/* runloop.h — the agent's one libevent loop (architecture §4).
 *
 * It drives the capture (the pcap fd when live, a batched read loop when
 * offline so timers and signals keep running), the one-second detector
 * tick when the link is quiet, output flushing, and signals: SIGHUP
 * reloads assets and rules, SIGINT/SIGTERM stop capture, close findings,
 * wait a bounded time for the outputs to deliver (Redis acknowledgements)
 * and return.  A second stop signal during that wait exits at once.
 */
#ifndef CANH_RUNLOOP_H
#define CANH_RUNLOOP_H

#include <event2/event.h>

#include "agent/capture.h"
#include "agent/pipeline.h"

struct runloop;
struct health;
struct check;
struct notify;
struct heartbeat;
struct drill_replay;

struct runloop *runloop_new(struct event_base *base, struct capture *cap, struct pipeline *pl,
                            const struct agent_config *cfg);

/* Optional parts of a daemon run (all may be NULL/0). */
struct runloop_extras {
    struct health *health;         /* its findings are closed at stop */
    struct notify *notify;         /* STOPPING=1 at stop */
    struct heartbeat *heartbeat;   /* sent once more at stop, with the final counters */
    struct check *check;           /* page checks: reloaded on SIGHUP, ended at stop */
    struct output *const *outputs; /* whose pending() the stop waits for */
    size_t n_outputs;
    uint64_t drain_timeout_us; /* longest wait for them */
    /* Synthetic events (agent/sys/debug_source.h): N at R per second;
     * an offline run ends after the last. */
    uint64_t debug_events;
    uint64_t debug_rate;
    /* A table-top drill: every frame is rewritten first (agent/drill_replay.h). */
    struct drill_replay *drill;
};
/* -1 when the synthetic event source cannot be made (out of memory). */
int runloop_set_extras(struct runloop *rl, const struct runloop_extras *x);

/* Runs until end of file (offline) or a stop signal.  Returns the exit
 * status: 0 on a clean finish, 1 on a capture error. */
int runloop_run(struct runloop *rl);
void runloop_free(struct runloop *rl);

#endif
