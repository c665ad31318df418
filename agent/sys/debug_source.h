/* debug_source.h — synthetic events for tests and benchmarks.
 *
 * `canh-agent --debug-events N --debug-rate R` sends N events of kind
 * "debug_event" through the same enrich → JSON → outputs path as a real
 * finding, at R per second (0: as fast as the loop allows, at most a
 * batch a turn so Redis replies are still read).  It lives off the packet
 * path, on the agent's loop, like the other process plumbing here.
 */
#ifndef CANH_DEBUG_SOURCE_H
#define CANH_DEBUG_SOURCE_H

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/pipeline.h"

struct debug_source;

/* done(ctx) is called once, after the last event went out. */
struct debug_source *debug_source_new(struct event_base *base, struct pipeline *pl, uint64_t events,
                                      uint64_t rate_per_s, void (*done)(void *ctx), void *ctx);
void debug_source_start(struct debug_source *ds);
/* Stop sending (shutdown); done is not called. */
void debug_source_stop(struct debug_source *ds);
bool debug_source_finished(const struct debug_source *ds);
void debug_source_free(struct debug_source *ds);

#endif
