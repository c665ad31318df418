/* escalate.h — delivering escalations from the durable queue.
 *
 * process.c queues a job per (incident, route, action) in the same atomic
 * write as the incident change: the hash canh:escalation:<job> and its
 * next-attempt time in the sorted set canh:escalations.  Any collector's
 * worker leases due jobs (store_claim_lua, which also applies each route's
 * token-bucket rate limit shared through Redis), checks the route's action
 * and state filters (route.h), hands each to the route's own sink through
 * struct sink_ops (sinks/sink.h): webhook (sinks/webhook.c), syslog
 * (sinks/syslog.c), email (sinks/email.c) or report draft (report.c) —
 * and then deletes
 * the job, or puts it back with exponential backoff.  A collector that
 * dies mid-delivery leaves the lease to expire and the job is delivered
 * again: delivery is at least once, and each carries its job id
 * (X-Canh-Delivery, syslog msgid field) so a receiver can drop a repeat.
 *
 * The worker owns one sink per route and its counters (per kind of sink).
 * A reload gives it the new configuration (escalate_reconfigure): sinks
 * are rebuilt from it and the
 * replaced ones close when the deliveries they started have ended.
 */
#ifndef CANH_COLLECTOR_ESCALATE_H
#define CANH_COLLECTOR_ESCALATE_H

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

#include "collector/config.h"
#include "common/redis/link.h"

struct escalate;

/* This process's deliveries since start, per kind of sink. */
struct escalate_stats {
    uint64_t delivered[SINK_COUNT];
    uint64_t failures[SINK_COUNT]; /* attempts that failed (retried later) */
};

/* Opens the sinks cfg enables; cfg must outlive the worker or the next
 * escalate_reconfigure.  NULL (logged) when a sink cannot be set up. */
struct escalate *escalate_new(const struct collector_config *cfg, struct event_base *base,
                              struct redis_link *link);
/* Takes cfg as the running configuration, with sinks rebuilt from it;
 * -1 (logged) leaves everything as it was. */
int escalate_reconfigure(struct escalate *e, const struct collector_config *cfg);
/* Lease and deliver due jobs; call on the collector's tick while the
 * session is up and the collector is not stopping. */
void escalate_tick(struct escalate *e);
void escalate_session_lost(struct escalate *e);
/* No lease asked for and no delivery in flight. */
bool escalate_idle(const struct escalate *e);
const struct escalate_stats *escalate_stats(const struct escalate *e);
void escalate_free(struct escalate *e);

/* Delay before attempt number attempts+1 (attempts >= 1), with jitter. */
uint64_t escalate_backoff_us(const struct collector_config *cfg, uint64_t attempts,
                             uint32_t random);

#endif
