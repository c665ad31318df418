/* metrics_http.c — see metrics_http.h. */
#include "agent/sys/metrics_http.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/log.h"
#include "common/prom.h"

struct metrics_http {
    const struct agent_config *cfg;
    struct heartbeat *hb;
    struct evhttp *http;
    uint64_t scrapes;
};

static void reply_text(struct evhttp_request *req, int code, const char *reason, const char *text)
{
    struct evbuffer *b = evbuffer_new();
    if (b)
        evbuffer_add(b, text, strlen(text));
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; charset=utf-8");
    evhttp_send_reply(req, code, reason, b);
    if (b)
        evbuffer_free(b);
}

static void write_metrics(struct metrics_http *m, FILE *f)
{
    json_t *record = heartbeat_build(m->hb);
    json_t *canh = json_object_get(record, "canh");
    prom_head(f, "canh_agent_info", "gauge", "Version, name and agency of this agent.");
    fputs("canh_agent_info{version=\"", f);
    prom_label(f, CANH_VERSION);
    fputs("\",agent=\"", f);
    prom_label(f, m->cfg->name);
    fputs("\",agency=\"", f);
    prom_label(f, m->cfg->agency);
    fputs("\",rules_version=\"", f);
    const char *rules = json_string_value(json_object_get(canh, "rules_version"));
    prom_label(f, rules ? rules : "");
    fputs("\"} 1\n", f);
    struct prom_agent self = {m->cfg->name, m->cfg->agency, canh};
    prom_agents(f, &self, 1);
    prom_one(f, "canh_agent_metrics_scrapes_total", "counter",
             "Requests for /metrics this agent answered.", ++m->scrapes);
    json_decref(record);
}

static void on_request(struct evhttp_request *req, void *ctx)
{
    struct metrics_http *m = ctx;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    if (!path || strcmp(path, "/metrics") != 0) {
        reply_text(req, 404, "Not Found", "only /metrics is served here\n");
        return;
    }
    if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
        reply_text(req, 405, "Method Not Allowed", "GET /metrics\n");
        return;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (f)
        write_metrics(m, f);
    struct evbuffer *b = f && fclose(f) == 0 ? evbuffer_new() : NULL;
    if (!b || evbuffer_add(b, text, len) < 0) {
        free(text);
        if (b)
            evbuffer_free(b);
        reply_text(req, 500, "Internal Server Error", "out of memory\n");
        return;
    }
    free(text);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

struct metrics_http *metrics_http_new(struct event_base *base, const struct agent_config *cfg,
                                      struct heartbeat *hb, char *why, size_t why_len)
{
    char host[128];
    uint16_t port;
    if (value_listen_split(cfg->metrics_listen, host, sizeof(host), &port) < 0) {
        snprintf(why, why_len, "[metrics] listen: '%s' is not host:port", cfg->metrics_listen);
        return NULL;
    }
    struct metrics_http *m = calloc(1, sizeof(*m));
    if (!m || !(m->http = evhttp_new(base))) {
        snprintf(why, why_len, "[metrics]: out of memory");
        free(m);
        return NULL;
    }
    m->cfg = cfg;
    m->hb = hb;
    /* Scrapes are small requests; a slow or idle client is dropped rather
     * than kept (the agent's loop also carries the capture). */
    evhttp_set_timeout(m->http, 10);
    evhttp_set_max_headers_size(m->http, 8192);
    evhttp_set_max_body_size(m->http, 0);
    evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
    evhttp_set_gencb(m->http, on_request, m);
    struct evhttp_bound_socket *bound = evhttp_bind_socket_with_handle(m->http, host, port);
    if (!bound) {
        snprintf(why, why_len,
                 "[metrics] listen: cannot listen on %s (in use, or not an address "
                 "of this host?)",
                 cfg->metrics_listen);
        metrics_http_free(m);
        return NULL;
    }
    /* Port 0 takes any free port: the log names the one bound. */
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char shown[INET6_ADDRSTRLEN] = "?";
    int bound_port = port;
    if (getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET) {
            const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
            inet_ntop(AF_INET, &in->sin_addr, shown, sizeof(shown));
            bound_port = ntohs(in->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
            inet_ntop(AF_INET6, &in6->sin6_addr, shown, sizeof(shown));
            bound_port = ntohs(in6->sin6_port);
        }
    }
    bool v6 = ss.ss_family == AF_INET6;
    log_info("metrics on http://%s%s%s:%d/metrics", v6 ? "[" : "", shown, v6 ? "]" : "",
             bound_port);
    return m;
}

void metrics_http_free(struct metrics_http *m)
{
    if (!m)
        return;
    if (m->http)
        evhttp_free(m->http);
    free(m);
}
