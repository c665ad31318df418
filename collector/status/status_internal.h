/* status_internal.h — what the status page's files share (included by
 * nothing outside collector/status/):
 *
 * status.c    the evhttp server: routing, life cycle, the connection cap
 * snapshot.c  the refresh from Redis (one Lua script) into the cache
 * detail.c    one incident in full (another script, when a page asks)
 * action.c    operators' actions (POST /api/action: common/ctl_scripts.c)
 * auth.c      credential files, login and logout, sessions made
 * gate.c      Host, method, who is asking, route, CSRF: no evhttp (gate.h)
 * api.c       the responses: the page, the JSON API, plain-text errors
 * metrics.c   /metrics in the Prometheus text format
 */
#ifndef CANH_COLLECTOR_STATUS_INTERNAL_H
#define CANH_COLLECTOR_STATUS_INTERNAL_H

#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "collector/config.h"
#include "collector/escalate.h"
#include "collector/status/gate.h"
#include "collector/status/status.h"

#define MAX_AGENT_ROWS 1024
#define MAX_OPEN_COUNTS 256
#define STATUS_SESSION_US (12ull * 3600 * 1000000) /* a login lasts 12 h */
#define STATUS_MAX_BODY 8192                       /* a POST's form */
/* Descriptors kept for everything but the page: the Redis connections,
 * webhook and syslog sockets, report files, the journal. */
#define STATUS_FD_RESERVE 64
/* The per-incident action log written by the incident lifecycle (the
 * collector and canh-ctl) is STORE_LOG_PREFIX<id>, a stream (a list is read
 * too).  The page reads it and nothing more; absent means "no actions". */

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
    uint64_t open_groups; /* open incidents, a combined one with its parts once */
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
    uint64_t reports_due, reports_overdue; /* canh:reports (collector/report_due.h) */
};

/* A request waiting for Redis (a detail view, an action).  The link
 * answers every command, NULL when the connection is lost; once the page
 * is gone (status_free) s is NULL and the answer only frees it. */
struct status_wait {
    struct status *s;
    struct evhttp_request *req;
    struct status_wait *next;
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
    uint64_t requests, unauthorized, misdirected, forbidden;
    uint64_t logins, login_failures;
    uint64_t actions, action_failures; /* operators' actions done, refused */
    struct status_secrets sec;
    struct session sessions[STATUS_MAX_SESSIONS];
    char allowed_hosts[512];
    /* connections */
    struct evconnlistener *listener;
    struct event *resume; /* looks again whether the listener may accept */
    struct sockaddr_storage bound;
    unsigned max_connections;
    bool paused;          /* listener off: at the cap or after an error */
    uint64_t cap_reached; /* times the cap paused the listener */
    /* Redis as the page sees it */
    uint64_t redis_down_since_us; /* 0 while up */
    char refresh_error[256];      /* last failed refresh, "" after a good one */
    struct status_wait *waiting;  /* requests waiting for Redis */
    struct incident *scratch;
    struct snapshot snap;
};

/* snapshot.c */
/* The refresh timer's callback: sends the snapshot script. */
void status_on_timer(evutil_socket_t fd, short what, void *arg);
void status_snapshot_clear(struct snapshot *sn);
/* Compact JSON text (malloc'd), or NULL; drops o. */
char *status_dump(json_t *o);
/* An HGETALL reply of an incident hash as the API's incident JSON (with
 * age_s, quiet_s and the raw state), or NULL. */
json_t *status_incident_json(struct status *s, const redisReply *hash, uint64_t now_us);
/* {at, age_s, stale, redis_up, redis_down_since, error}: how old the data is. */
json_t *status_freshness(struct status *s, uint64_t now_us);

/* detail.c */
/* GET /api/incident?id=: one incident with its parts, timeline, operator
 * actions and report draft, read from Redis when asked. */
void status_send_detail(struct status *s, struct evhttp_request *req, const char *id);

/* action.c */
/* POST /api/action: an operator's ack, confirm, reject, resolve, note or
 * reopen, through the script canh-ctl runs (common/ctl_scripts.c). */
void status_act(struct status *s, struct evhttp_request *req, const struct principal *who);

/* auth.c */
/* Reads the credential files of cfg; 0, or -1 with why (file:line for the
 * operators file). */
int status_load_secrets(const struct collector_config *cfg, struct status_secrets *sec, char *why,
                        size_t why_len);
void status_secrets_wipe(struct status_secrets *sec);
/* A state-changing request comes from the page itself: no foreign Origin
 * or Sec-Fetch-Site, and, with an ambient credential, the session's
 * X-CSRF-Token (gate.c decides). */
bool status_same_origin(struct evhttp_request *req);
bool status_csrf_ok(struct evhttp_request *req, const struct principal *who);
/* POST /login (form field token) and POST /logout. */
void status_login(struct status *s, struct evhttp_request *req);
void status_logout(struct status *s, struct evhttp_request *req, const struct principal *who);
void status_sessions_clear(struct status *s);
const char *status_role_name(enum status_role r);
/* The peer address of req, for log lines. */
const char *status_peer(struct evhttp_request *req);

/* api.c */
/* Every answer goes through here: security headers, and no body for HEAD
 * (Content-Length still tells the GET's). */
void status_send_body(struct evhttp_request *req, int code, const char *reason, const char *type,
                      const char *body, size_t len);
void status_send_text(struct evhttp_request *req, int code, const char *reason, const char *text);
/* A cached snapshot body with its freshness, or 503 before the first refresh. */
void status_send_json(struct status *s, struct evhttp_request *req, const char *cached);
/* o as JSON (o stays the caller's); 500 when it cannot be written. */
void status_reply_json(struct evhttp_request *req, int code, const char *reason, json_t *o);
void status_send_page(struct evhttp_request *req, int code, const char *reason);
void status_send_collector(struct status *s, struct evhttp_request *req); /* /api/collector */
void status_send_session(struct status *s, struct evhttp_request *req, const struct principal *who);

/* status.c */
/* The values of req the gate decides on (pointers into req). */
void status_request_of(struct evhttp_request *req, struct status_request *r);
/* Connections open to the page now. */
unsigned status_connections(const struct status *s);
/* w (its s and req set) waits for Redis; status_wait_done when answered. */
void status_wait_add(struct status_wait *w);
void status_wait_done(struct status_wait *w);

/* metrics.c */
void status_send_metrics(struct status *s, struct evhttp_request *req);

#endif
