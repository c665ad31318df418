/* metrics_http.h — the agent's own /metrics (architecture §4.7), for a
 * Prometheus that scrapes gateways directly: [metrics] listen in
 * agent.conf, off by default.  An evhttp server on the agent's one loop
 * answers GET /metrics with the heartbeat's figures in the Prometheus text
 * format (common/prom.c, the same families the collector exposes per
 * agent); it reads counters only, so a scrape never touches the packet
 * path's state.
 */
#ifndef CANH_METRICS_HTTP_H
#define CANH_METRICS_HTTP_H

#include <event2/event.h>

#include "agent/output/heartbeat.h"
#include "common/agent_conf.h"

struct metrics_http;

/* Listen on cfg->metrics_listen; NULL with why filled when it cannot. */
struct metrics_http *metrics_http_new(struct event_base *base, const struct agent_config *cfg,
                                      struct heartbeat *hb, char *why, size_t why_len);
void metrics_http_free(struct metrics_http *m);

#endif
