/* status.c — see status.h: the status page's HTTP server.
 *
 * Answering each route gate.c decides (Host, method, access control,
 * path), the connection cap and the life cycle: binding the listen address, the refresh timer,
 * reloading secrets.  The snapshot is snapshot.c's, access control
 * auth.c's, the responses api.c's and metrics.c's.
 */
#include "collector/status/status.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "collector/collector.h"
#include "collector/incident.h"
#include "collector/status/status_internal.h"
#include "common/log.h"
#include "common/units.h"

static void timer_interval(uint64_t us, struct timeval *tv)
{
    tv->tv_sec = (time_t)(us / 1000000);
    tv->tv_usec = (suseconds_t)(us % 1000000);
}

/* ---- routing -------------------------------------------------------- */

void status_request_of(struct evhttp_request *req, struct status_request *r)
{
    const struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    r->method = method == EVHTTP_REQ_GET    ? STATUS_GET
                : method == EVHTTP_REQ_HEAD ? STATUS_HEAD
                : method == EVHTTP_REQ_POST ? STATUS_POST
                                            : STATUS_OTHER;
    r->path = uri ? evhttp_uri_get_path(uri) : NULL;
    r->host = evhttp_find_header(in, "Host");
    r->authorization = evhttp_find_header(in, "Authorization");
    r->cookie = evhttp_find_header(in, "Cookie");
    r->origin = evhttp_find_header(in, "Origin");
    r->fetch_site = evhttp_find_header(in, "Sec-Fetch-Site");
    r->fetch_mode = evhttp_find_header(in, "Sec-Fetch-Mode");
    r->csrf = evhttp_find_header(in, "X-CSRF-Token");
}

static void send_unauthorized(struct status *s, struct evhttp_request *req,
                              const struct status_gate *g, const struct status_request *r)
{
    s->unauthorized++;
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "WWW-Authenticate",
                      status_gate_basic_prompt(g, r)
                          ? "Basic realm=\"canh status\", charset=\"UTF-8\""
                          : "Bearer realm=\"canh status\"");
    if (status_gate_is_page(r->path && *r->path ? r->path : "/")) {
        status_send_page(req, 401, "Unauthorized");
        return;
    }
    status_send_text(req, 401, "Unauthorized",
                     "401 Unauthorized: send Authorization: Bearer <token> (the viewers' or an "
                     "operator's token of [status] in collector.conf), log in at / or use "
                     "the basic-auth user\n");
}

/* ---- an agency's view (operators_file "name token agency=NAME") ------
 * The snapshot's lists keep only the items whose agency (a '|' list for
 * a province-wide incident) names the viewer's agency; totals are the
 * kept items'.  Everything else of the page is refused (403). */
static bool names_agency(const char *list, const char *agency)
{
    size_t n = strlen(agency);
    for (const char *p = list; p && *p;) {
        const char *end = strchr(p, '|');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, agency, n) == 0)
            return true;
        p = end ? end + 1 : NULL;
    }
    return false;
}

/* cached filtered for agency, malloc'd; NULL when cached is NULL. */
static char *agency_view(const char *cached, const char *agency)
{
    json_t *o = cached ? json_loads(cached, 0, NULL) : NULL;
    if (!o)
        return NULL;
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        if (!json_is_array(v))
            continue;
        for (size_t i = json_array_size(v); i-- > 0;)
            if (!names_agency(json_string_value(json_object_get(json_array_get(v, i), "agency")),
                              agency))
                json_array_remove(v, i);
    }
    if (json_object_get(o, "open_total"))
        json_object_set_new(o, "open_total",
                            json_integer((json_int_t)json_array_size(json_object_get(o, "open"))));
    json_object_del(o, "open_groups");
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

/* True when the id is one of the agency's listed incidents. */
static bool agency_listed(const char *cached, const char *agency, const char *id)
{
    char *mine = agency_view(cached, agency);
    json_t *o = mine ? json_loads(mine, 0, NULL) : NULL;
    free(mine);
    bool found = false;
    const char *lists[] = {"open", "recent"};
    for (int l = 0; l < 2 && id; l++) {
        size_t i;
        json_t *item;
        json_array_foreach(json_object_get(o, lists[l]), i, item)
        {
            const char *have = json_string_value(json_object_get(item, "id"));
            found |= have && strcmp(have, id) == 0;
        }
    }
    json_decref(o);
    return found;
}

static void send_agency(struct status *s, struct evhttp_request *req, enum status_route route,
                        const struct evkeyvalq *query, const struct principal *who)
{
    if (route == ROUTE_INCIDENT) {
        const char *id = evhttp_find_header(query, "id");
        if (agency_listed(s->snap.incidents_json, who->agency, id))
            status_send_detail(s, req, id);
        else
            status_send_text(req, 404, "Not Found", "404 Not Found: no such incident of yours\n");
        return;
    }
    const char *cached = route == ROUTE_INCIDENTS ? s->snap.incidents_json : s->snap.agents_json;
    char *mine = agency_view(cached, who->agency);
    status_send_json(s, req, mine);
    free(mine);
}

static void route(struct status *s, struct evhttp_request *req, const struct evkeyvalq *query)
{
    struct status_request r;
    status_request_of(req, &r);
    const struct status_gate g = {.sec = &s->sec,
                                  .sessions = s->sessions,
                                  .allowed_hosts = s->allowed_hosts,
                                  .auth_none = s->c->cfg->status_auth_none,
                                  .user = s->c->cfg->status_user};
    struct principal who;
    enum status_route route = status_gate_route(&g, &r, units_now_us(), &who);
    bool action = route == ROUTE_METHOD && r.path &&
                  (strcmp(r.path, "/login") == 0 || strcmp(r.path, "/logout") == 0 ||
                   strcmp(r.path, "/api/action") == 0);
    switch (route) {
    case ROUTE_MISDIRECTED:
        s->misdirected++;
        status_send_text(req, 421, "Misdirected Request",
                         "421 Misdirected Request: this Host is not one of [status] "
                         "allowed_hosts\n");
        break;
    case ROUTE_METHOD:
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
                          action ? "POST" : "GET, HEAD");
        status_send_text(req, 405, "Method Not Allowed",
                         action ? "405 Method Not Allowed: POST only\n"
                                : "405 Method Not Allowed: GET or HEAD only\n");
        break;
    case ROUTE_LOGIN:
        status_login(s, req);
        break;
    case ROUTE_UNAUTHORIZED:
        send_unauthorized(s, req, &g, &r);
        break;
    case ROUTE_LOGOUT:
        status_logout(s, req, &who);
        break;
    case ROUTE_ACTION:
        status_act(s, req, &who);
        break;
    case ROUTE_PAGE:
        status_send_page(req, 200, "OK");
        break;
    case ROUTE_FORBIDDEN:
        s->forbidden++;
        status_send_text(req, 403, "Forbidden",
                         "403 Forbidden: an agency's token reads its incidents and agents only\n");
        break;
    case ROUTE_INCIDENTS:
    case ROUTE_AGENTS:
    case ROUTE_INCIDENT:
        if (who.agency[0])
            send_agency(s, req, route, query, &who);
        else if (route == ROUTE_INCIDENT)
            status_send_detail(s, req, evhttp_find_header(query, "id"));
        else
            status_send_json(
                s, req, route == ROUTE_INCIDENTS ? s->snap.incidents_json : s->snap.agents_json);
        break;
    case ROUTE_METRICS:
        status_send_metrics(s, req);
        break;
    case ROUTE_COLLECTOR:
        status_send_collector(s, req);
        break;
    case ROUTE_SESSION:
        status_send_session(s, req, &who);
        break;
    case ROUTE_NOT_FOUND:
        status_send_text(req, 404, "Not Found",
                         "404 Not Found: try /, /metrics, /api/incidents, /api/incident?id=, "
                         "/api/agents, /api/collector, /api/session or POST /api/action\n");
        break;
    }
}

static void on_request(struct evhttp_request *req, void *arg)
{
    struct status *s = arg;
    s->requests++;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *query_text = uri ? evhttp_uri_get_query(uri) : NULL;
    struct evkeyvalq query;
    TAILQ_INIT(&query);
    if (query_text)
        evhttp_parse_query_str(query_text, &query);
    route(s, req, &query);
    evhttp_clear_headers(&query);
}

/* ---- the connection cap ---------------------------------------------- */

/* Connections are counted from the descriptor table: the sockets whose
 * local end is the page's address and that have a peer.  evhttp tells us
 * of each accepted connection (the bufferevent callback) but not of its
 * end, and a few hundred getsockname() calls per accepted connection are
 * nothing next to the request.  At the cap the listener stops accepting
 * (new connections wait in the kernel's backlog, holding none of our
 * descriptors) and a timer looks again every second, so idle connections
 * can never take the descriptors Redis needs. */
static uint16_t port_of(const struct sockaddr_storage *ss)
{
    return ss->ss_family == AF_INET ? ((const struct sockaddr_in *)ss)->sin_port
                                    : ((const struct sockaddr_in6 *)ss)->sin6_port;
}

unsigned status_connections(const struct status *s)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return s->max_connections; /* no descriptor left even for this */
    unsigned n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        struct sockaddr_storage local, peer;
        socklen_t llen = sizeof(local), plen = sizeof(peer);
        if (*end || fd < 0 || fd == dirfd(d) ||
            getsockname((int)fd, (struct sockaddr *)&local, &llen) < 0 ||
            local.ss_family != s->bound.ss_family)
            continue;
        if (port_of(&local) == port_of(&s->bound) &&
            getpeername((int)fd, (struct sockaddr *)&peer, &plen) == 0)
            n++;
    }
    closedir(d);
    return n;
}

static void listener_pause(struct status *s, bool pause)
{
    if (!s->listener || s->paused == pause)
        return;
    s->paused = pause;
    if (pause) {
        evconnlistener_disable(s->listener);
        struct timeval tv = {1, 0};
        event_add(s->resume, &tv);
    } else {
        evconnlistener_enable(s->listener);
    }
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
    struct status *s = arg;
    if (status_connections(s) < s->max_connections) {
        listener_pause(s, false);
    } else {
        struct timeval tv = {1, 0};
        event_add(s->resume, &tv);
    }
}

/* evhttp asks for the bufferevent of each accepted connection: the moment
 * to count.  NULL lets evhttp make its own. */
static struct bufferevent *new_connection(struct event_base *base, void *arg)
{
    struct status *s = arg;
    unsigned n = status_connections(s);
    if (n >= s->max_connections) {
        if (!s->paused)
            s->cap_reached++;
        log_warn("status page: %u connections, the limit (max_connections): not accepting more "
                 "until one closes",
                 n);
        listener_pause(s, true);
    }
    return NULL;
}

/* accept() failed (out of descriptors, most likely): pause a second
 * rather than spin on a socket that stays readable. */
static void on_accept_error(struct evconnlistener *listener, void *arg)
{
    struct status *s = arg;
    int err = EVUTIL_SOCKET_ERROR();
    log_err("status page: accept: %s; not accepting for 1 s", evutil_socket_error_to_string(err));
    listener_pause(s, true);
    struct timeval tv = {1, 0};
    event_add(s->resume, &tv);
}

/* Raise the soft descriptor limit to what the cap needs, within the hard
 * one (status_check refused a hard limit below it). */
static void fd_limit_fit(unsigned max_connections)
{
    struct rlimit lim;
    rlim_t need = (rlim_t)max_connections + STATUS_FD_RESERVE;
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY &&
        lim.rlim_cur < need && (lim.rlim_max == RLIM_INFINITY || lim.rlim_max >= need)) {
        lim.rlim_cur = need;
        if (setrlimit(RLIMIT_NOFILE, &lim) < 0)
            log_warn("status page: cannot raise the open-file limit to %llu: %m",
                     (unsigned long long)need);
    }
}

/* ---- requests waiting for Redis ------------------------------------- */

void status_wait_add(struct status_wait *w)
{
    w->next = w->s->waiting;
    w->s->waiting = w;
}

void status_wait_done(struct status_wait *w)
{
    for (struct status_wait **p = &w->s->waiting; *p; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            return;
        }
}

/* The link answers them (NULL) after the status page is gone: they then
 * only free themselves; their requests die with evhttp. */
static void waits_drop(struct status *s)
{
    for (struct status_wait *w = s->waiting; w; w = w->next)
        w->s = NULL;
    s->waiting = NULL;
}

/* ---- life cycle ----------------------------------------------------- */

static void log_bound(struct evhttp_bound_socket *bound)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET) {
            const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
            port = ntohs(in->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
            port = ntohs(in6->sin6_port);
        }
    }
    bool v6 = ss.ss_family == AF_INET6;
    log_info("status page on http://%s%s%s:%d/", v6 ? "[" : "", host, v6 ? "]" : "", port);
}

struct status *status_new(struct collector *c, struct redis_link *link, struct event_base *base)
{
    const struct collector_config *cfg = c->cfg;
    char host[128];
    uint16_t port;
    if (value_listen_split(cfg->status_listen, host, sizeof(host), &port) < 0) {
        log_err("status page: listen '%s' is not host:port", cfg->status_listen);
        return NULL;
    }
    struct status *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->c = c;
    s->link = link;
    s->base = base;
    s->started_us = units_now_us();
    s->scratch = malloc(sizeof(*s->scratch));
    if (!s->scratch)
        goto err;
    char why[600];
    if (status_load_secrets(cfg, &s->sec, why, sizeof(why)) < 0) {
        log_err("status page: %s", why);
        goto err;
    }
    snprintf(s->allowed_hosts, sizeof(s->allowed_hosts), "%s", cfg->status_allowed_hosts);
    s->max_connections = cfg->status_max_connections;
    fd_limit_fit(s->max_connections);
    s->resume = evtimer_new(base, on_resume, s);
    if (!s->resume)
        goto err;
    s->http = evhttp_new(base);
    if (!s->http)
        goto err;
    /* Every method reaches the handler, which answers 405 to all but GET
     * and HEAD (libevent itself would say 501). */
    evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                                            EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                            EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_max_headers_size(s->http, 16384);
    /* The login form, an action with its note (CTL_MAX_TEXT bytes of text,
     * up to three times that percent-encoded). */
    evhttp_set_max_body_size(s->http, STATUS_MAX_BODY);
    evhttp_set_timeout(s->http, 15);
    evhttp_set_gencb(s->http, on_request, s);
    evhttp_set_bevcb(s->http, new_connection, s);
    struct evhttp_bound_socket *bound = evhttp_bind_socket_with_handle(s->http, host, port);
    if (!bound) {
        log_err("status page: cannot listen on %s (in use, or not an address of this host?)",
                cfg->status_listen);
        goto err;
    }
    log_bound(bound);
    socklen_t blen = sizeof(s->bound);
    getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&s->bound, &blen);
    s->listener = evhttp_bound_socket_get_listener(bound);
    evconnlistener_set_error_cb(s->listener, on_accept_error);
    if (cfg->status_auth_none)
        log_warn("status page: auth = none: anyone with an account on this host sees every "
                 "incident");
    s->refresh_us = cfg->status_refresh_us;
    s->timer = event_new(base, -1, EV_PERSIST, status_on_timer, s);
    if (!s->timer)
        goto err;
    struct timeval tv;
    timer_interval(s->refresh_us, &tv);
    event_add(s->timer, &tv);
    return s;
err:
    status_free(s);
    return NULL;
}

int status_reload(struct status *s)
{
    struct status_secrets *sec = malloc(sizeof(*sec));
    char why[600];
    if (!sec)
        return -1;
    if (status_load_secrets(s->c->cfg, sec, why, sizeof(why)) < 0) {
        log_err("status page: %s", why);
        free(sec);
        return -1;
    }
    if (memcmp(sec, &s->sec, sizeof(*sec)) != 0) {
        /* A login stands for the credential it was made with. */
        status_sessions_clear(s);
        log_info("status page: credentials changed; everyone logs in again");
    }
    status_secrets_wipe(&s->sec);
    s->sec = *sec;
    status_secrets_wipe(sec);
    free(sec);
    snprintf(s->allowed_hosts, sizeof(s->allowed_hosts), "%s", s->c->cfg->status_allowed_hosts);
    s->max_connections = s->c->cfg->status_max_connections;
    fd_limit_fit(s->max_connections);
    if (s->refresh_us != s->c->cfg->status_refresh_us) {
        s->refresh_us = s->c->cfg->status_refresh_us;
        struct timeval tv;
        timer_interval(s->refresh_us, &tv);
        event_add(s->timer, &tv);
    }
    return 0;
}

void status_free(struct status *s)
{
    if (!s)
        return;
    waits_drop(s);
    if (s->timer)
        event_free(s->timer);
    if (s->http)
        evhttp_free(s->http);
    if (s->resume)
        event_free(s->resume);
    status_snapshot_clear(&s->snap);
    free(s->scratch);
    status_secrets_wipe(&s->sec);
    status_sessions_clear(s);
    free(s);
}
