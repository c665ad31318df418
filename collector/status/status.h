/* status.h — the collector's optional status page for SOC operators.
 *
 * An HTTP server (libevent's evhttp) on the collector's own loop, bound to
 * [status] listen and off unless that key is set.  It serves /metrics
 * (Prometheus text format), /api/incidents, /api/agents and /api/collector
 * (JSON), and / — one self-contained page (collector/status/status_page.html,
 * embedded at build time) that polls the JSON every 2 s.  A token is
 * required unless [status] auth = none (loopback only): the viewers'
 * token, an operator's token (which names the operator), or basic auth,
 * as Authorization: Bearer or through POST /login and a session cookie.
 * The Host header must name this server (DNS rebinding), connections are
 * capped below the descriptor limit, HEAD answers carry no body.
 *
 * Handlers never wait for Redis: a timer (every [status] refresh) sends
 * one Lua script over the command connection of the Redis link it is given that reads the
 * open and recent incidents, the agents' last heartbeats and the
 * escalation queue in one snapshot; its reply replaces the cache the
 * handlers answer from.  The process's own counters (struct
 * collector_stats, escalate_stats()) are read live.  docs/status-page.md has the endpoints
 * and metric names.
 */
#ifndef CANH_COLLECTOR_STATUS_H
#define CANH_COLLECTOR_STATUS_H

#include <event2/event.h>

struct cfg_err;
struct collector;
struct collector_config;
struct redis_link;
struct status;

/* For --check and the start: the operators file reads (errors as
 * file:line), and max_connections plus the descriptors kept for Redis fit
 * the open-file limit (RLIMIT_NOFILE, systemd's LimitNOFILE). */
int status_check(const struct collector_config *cfg, struct cfg_err *err);

/* Binds the listen address of c->cfg and starts the refresh timer, which
 * sends its snapshot script over link (the collector's, common/redis/link.h);
 * NULL (logged) when the address cannot be bound or a secret file not read. */
struct status *status_new(struct collector *c, struct redis_link *link, struct event_base *base);
/* After c->cfg was replaced (SIGHUP): re-read the token and password files
 * and take the new refresh interval.  -1 keeps the old secrets. */
int status_reload(struct status *s);
void status_free(struct status *s);

#endif
