/* status_internal.h — what the status page's files share (included by
 * nothing outside collector/status/):
 *
 * status.c    the evhttp server: routing, life cycle
 * snapshot.c  the refresh from Redis (one Lua script) into the cache
 * auth.c      token and basic-auth checks
 * api.c       the responses: the page, the JSON API, plain-text errors
 * metrics.c   /metrics in the Prometheus text format
 */
#ifndef CANH_COLLECTOR_STATUS_INTERNAL_H
#define CANH_COLLECTOR_STATUS_INTERNAL_H

#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/escalate.h"
#include "collector/status/status.h"

#define MAX_AGENT_ROWS 1024
#define MAX_OPEN_COUNTS 256

struct open_count {
    char taxonomy[48];
    char class_[24];
    char severity[16];
    uint64_t n;
};

struct agent_row {
    char name[64];
    char agency[160];
    bool heard;       /* a heartbeat was recorded */
    uint64_t last_ms; /* when (Redis clock of the entry id) */
    bool silent;
    json_int_t packets, drops, spool_records;
    json_t *heartbeat; /* the last heartbeat, parsed (metrics.c), or NULL */
};

/* Everything the handlers answer from; replaced whole on each refresh. */
struct snapshot {
    bool valid;
    uint64_t at_us;
    char *incidents_json; /* /api/incidents body */
    char *agents_json;    /* /api/agents body */
    uint64_t open_total;
    struct open_count counts[MAX_OPEN_COUNTS];
    size_t n_counts;
    struct agent_row *agents;
    size_t n_agents;
    uint64_t queue_depth;
    uint64_t queue_jobs[SINK_COUNT], queue_failing[SINK_COUNT];
    uint64_t deadletter_len;
};

struct status {
    struct collector *c;
    struct redis_link *link; /* the collector's: snapshots go on its command connection */
    struct event_base *base;
    struct evhttp *http;
    struct event *timer;
    uint64_t refresh_us;
    uint64_t started_us;
    bool refreshing;
    uint64_t refreshes, refresh_errors;
    uint64_t requests, unauthorized;
    char token[512];
    char basic[1024]; /* base64 of user:password, as the header carries it */
    struct incident *scratch;
    struct snapshot snap;
};

/* snapshot.c */
/* The refresh timer's callback: sends the snapshot script. */
void status_on_timer(evutil_socket_t fd, short what, void *arg);
void status_snapshot_clear(struct snapshot *sn);
/* Compact JSON text (malloc'd), or NULL; drops o. */
char *status_dump(json_t *o);

/* auth.c */
/* Read the token and password files of s->c->cfg into token (sizeof
 * s->token) and basic (base64 of user:password); 0 or -1 (logged). */
int status_load_secrets(struct status *s, char *token, char *basic, size_t basic_len);
bool status_authorized(struct status *s, struct evhttp_request *req, const struct evkeyvalq *query);

/* api.c */
void status_send_text(struct evhttp_request *req, int code, const char *reason, const char *text);
/* A cached snapshot body, or 503 before the first refresh. */
void status_send_json(struct status *s, struct evhttp_request *req, const char *cached);
void status_send_page(struct evhttp_request *req);
void status_send_collector(struct status *s, struct evhttp_request *req); /* /api/collector */

/* metrics.c */
void status_send_metrics(struct status *s, struct evhttp_request *req);

#endif
