/* heartbeat.h — the agent's periodic "I am alive, and this is how I am
 * doing" record (architecture §4.7): every [output] heartbeat_interval one
 * event_type "stats" JSON object goes to the outputs given (the Redis
 * output sends it to canh:heartbeats:<agent>; the collector turns it into
 * the canh:agents hash).  JSON-lines outputs are not given heartbeats, so
 * a replay's JSONL stays exactly its events.
 */
#ifndef CANH_HEARTBEAT_H
#define CANH_HEARTBEAT_H

#include <event2/event.h>
#include <jansson.h>

#include "agent/capture.h"
#include "agent/output/output.h"
#include "agent/pipeline.h"

struct heartbeat;

/* outs must outlive the heartbeat.  NULL on allocation failure. */
struct heartbeat *heartbeat_new(struct event_base *base, const struct agent_config *cfg,
                                struct pipeline *pl, struct capture *cap,
                                struct output *const *outs, size_t n_outs);
/* The heartbeat record as it would be sent now (new reference). */
json_t *heartbeat_build(struct heartbeat *hb);
/* Send one now (the timer does this every interval). */
void heartbeat_send(struct heartbeat *hb);
void heartbeat_free(struct heartbeat *hb);

#endif
