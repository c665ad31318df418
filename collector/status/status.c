/* status.c — see status.h: the status page's HTTP server.
 *
 * Routing (method, access control, path) and the life cycle: binding the
 * listen address, the refresh timer, reloading secrets.  The snapshot is
 * snapshot.c's, access control auth.c's, the responses api.c's and
 * metrics.c's.
 */
#include "collector/status/status.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
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

static void on_request(struct evhttp_request *req, void *arg)
{
    struct status *s = arg;
    s->requests++;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    const char *query_text = uri ? evhttp_uri_get_query(uri) : NULL;
    struct evkeyvalq query;
    TAILQ_INIT(&query);
    if (query_text)
        evhttp_parse_query_str(query_text, &query);
    if (!path || !*path)
        path = "/";
    enum evhttp_cmd_type method = evhttp_request_get_command(req);
    if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
        status_send_text(req, 405, "Method Not Allowed",
                         "405 Method Not Allowed: GET or HEAD only\n");
    } else if (!status_authorized(s, req, &query)) {
        s->unauthorized++;
        struct evkeyvalq *h = evhttp_request_get_output_headers(req);
        evhttp_add_header(h, "WWW-Authenticate",
                          s->basic[0] ? "Basic realm=\"canh status\", charset=\"UTF-8\""
                                      : "Bearer realm=\"canh status\"");
        status_send_text(
            req, 401, "Unauthorized",
            "401 Unauthorized: send Authorization: Bearer <token>, ?token=<token> or the "
            "basic-auth user and password of [status] in collector.conf\n");
    } else if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0) {
        status_send_page(req);
    } else if (strcmp(path, "/metrics") == 0) {
        status_send_metrics(s, req);
    } else if (strcmp(path, "/api/incidents") == 0) {
        status_send_json(s, req, s->snap.incidents_json);
    } else if (strcmp(path, "/api/agents") == 0) {
        status_send_json(s, req, s->snap.agents_json);
    } else if (strcmp(path, "/api/collector") == 0) {
        status_send_collector(s, req);
    } else {
        status_send_text(
            req, 404, "Not Found",
            "404 Not Found: try /, /metrics, /api/incidents, /api/agents or /api/collector\n");
    }
    evhttp_clear_headers(&query);
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
    if (collector_listen_parse(cfg->status_listen, host, sizeof(host), &port) < 0) {
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
    if (!s->scratch || status_load_secrets(s, s->token, s->basic, sizeof(s->basic)) < 0)
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
    evhttp_set_max_body_size(s->http, 0);
    evhttp_set_timeout(s->http, 30);
    evhttp_set_gencb(s->http, on_request, s);
    struct evhttp_bound_socket *bound = evhttp_bind_socket_with_handle(s->http, host, port);
    if (!bound) {
        log_err("status page: cannot listen on %s (in use, or not an address of this host?)",
                cfg->status_listen);
        goto err;
    }
    log_bound(bound);
    if (!s->token[0] && !s->basic[0] && strcmp(host, "127.0.0.1") != 0 &&
        strcmp(host, "::1") != 0 && strcmp(host, "localhost") != 0)
        log_warn("status page: %s is not a loopback address and no token_file or user is set: "
                 "anyone who can reach it sees every incident",
                 cfg->status_listen);
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
    char token[sizeof(s->token)], basic[sizeof(s->basic)];
    if (status_load_secrets(s, token, basic, sizeof(basic)) < 0)
        return -1;
    memcpy(s->token, token, sizeof(token));
    memcpy(s->basic, basic, sizeof(basic));
    OPENSSL_cleanse(token, sizeof(token));
    OPENSSL_cleanse(basic, sizeof(basic));
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
    if (s->timer)
        event_free(s->timer);
    if (s->http)
        evhttp_free(s->http);
    status_snapshot_clear(&s->snap);
    free(s->scratch);
    OPENSSL_cleanse(s->token, sizeof(s->token));
    OPENSSL_cleanse(s->basic, sizeof(s->basic));
    free(s);
}
