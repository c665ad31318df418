/* health.h — the agent's own faults as findings (architecture §4.7):
 *
 *   capture_drops (fault.overload)  the kernel dropped more than
 *       [capture] drop_alert_ratio of the packets over one heartbeat
 *       interval: the probe is blind to part of the traffic;
 *   link_silent (fault.link)  a live capture saw no packet for
 *       [capture] link_silent.
 *
 * Both follow the finding lifecycle (new / update / end, agent/detect/finding.h)
 * and go out through pipeline_emit with the rules of rules/health.rules
 * (taxonomy, severity, update_interval, hold_down), or built-in ones when
 * the rules directory has none.  Only a live capture is watched: a file
 * has no drops and no silence.
 */
#ifndef CANH_HEALTH_H
#define CANH_HEALTH_H

#include <event2/event.h>
#include <stdint.h>

#include "agent/capture.h"
#include "agent/pipeline.h"

struct health;

/* Starts its one-second timer on base when cap is live. */
struct health *health_new(struct event_base *base, const struct agent_config *cfg,
                          struct pipeline *pl, struct capture *cap);
/* Shutdown: end every open health finding at now. */
void health_finish(struct health *h, uint64_t now_us);
void health_free(struct health *h);

#endif
