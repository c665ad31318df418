/* escalate.h — delivering escalations from the durable queue.
 *
 * process.c queues a job per (incident, sink, action) in the same atomic
 * write as the incident change: the hash canh:escalation:<job> and its
 * next-attempt time in the sorted set canh:escalations.  Any collector's
 * worker leases due jobs (store_claim_lua, which also applies each sink's
 * token-bucket rate limit shared through Redis), delivers them — webhook
 * (HTTP POST, JSON, HMAC-SHA256 signature), syslog (RFC 5424, UDP or TCP)
 * or report draft (report.c) — and then deletes the job, or puts it back
 * with exponential backoff.  A collector that dies mid-delivery leaves the
 * lease to expire and the job is delivered again: delivery is at least
 * once, and each carries its job id (X-Canh-Delivery, syslog msgid
 * field) so a receiver can drop a repeat.
 */
#ifndef CANH_COLLECTOR_ESCALATE_H
#define CANH_COLLECTOR_ESCALATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/config.h"

struct collector;
struct escalator;

struct escalator *escalate_new(struct collector *c);
/* Called on the collector's tick: lease and deliver due jobs. */
void escalate_tick(struct escalator *e);
void escalate_session_lost(struct escalator *e);
bool escalate_idle(const struct escalator *e);
void escalate_free(struct escalator *e);

/* "sha256=" + hex HMAC-SHA256 of body under secret; out >= 72 bytes. */
void escalate_signature(const char *secret, const void *body, size_t len, char *out, size_t outlen);
/* Delay before attempt number attempts+1 (attempts >= 1), with jitter. */
uint64_t escalate_backoff_us(const struct collector_config *cfg, uint64_t attempts, uint32_t random);

#endif
