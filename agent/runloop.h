/* runloop.h — the agent's one libevent loop (DESIGN §4).
 *
 * It drives the capture (the pcap fd when live, a batched read loop when
 * offline so timers and signals keep running), the one-second detector
 * tick when the link is quiet, output flushing, and signals: SIGHUP
 * reloads assets and rules, SIGINT/SIGTERM stop capture, close findings,
 * flush and return.
 */
#ifndef CANH_RUNLOOP_H
#define CANH_RUNLOOP_H

#include <event2/event.h>

#include "agent/capture.h"
#include "agent/pipeline.h"

struct runloop;

struct runloop *runloop_new(struct event_base *base, struct capture *cap, struct pipeline *pl,
                            const struct agent_config *cfg);
/* Runs until end of file (offline) or a stop signal.  Returns the exit
 * status: 0 on a clean finish, 1 on a capture error. */
int runloop_run(struct runloop *rl);
void runloop_free(struct runloop *rl);

#endif
