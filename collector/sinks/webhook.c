/* webhook.c — see webhook.h. */
#include "collector/sinks/webhook.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/redis/secret.h"

struct webhook {
    char secret[512];
    struct evhttp_uri *uri;
    struct evhttp_connection *http;
};

/* One POST in flight; the request's callback owns it. */
struct post {
    sink_done_fn done;
    void *priv;
};

void webhook_signature(const char *secret, const void *body, size_t len, char *out, size_t outlen)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), body, len, md, &mdlen);
    size_t used = (size_t)snprintf(out, outlen, "sha256=");
    for (unsigned i = 0; i < mdlen && used + 3 <= outlen; i++)
        used += (size_t)snprintf(out + used, outlen - used, "%02x", md[i]);
}

static char *payload(const struct sink_delivery *d)
{
    json_t *root = json_object();
    json_object_set_new(root, "delivery", json_string(d->id));
    json_object_set_new(root, "action", json_string(d->action));
    json_object_set_new(root, "route", json_string(d->route->name));
    if (d->note && d->note[0])
        json_object_set_new(root, "note", json_string(d->note));
    json_object_set_new(root, "incident", incident_to_json(d->inc));
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return text;
}

static void on_http(struct evhttp_request *req, void *arg)
{
    struct post *p = arg;
    sink_done_fn done = p->done;
    void *priv = p->priv;
    free(p);
    int code = req ? evhttp_request_get_response_code(req) : 0;
    char error[64];
    if (code >= 200 && code < 300) {
        done(priv, NULL);
        return;
    }
    if (code == 0)
        snprintf(error, sizeof(error), "no answer (connection refused or timed out)");
    else
        snprintf(error, sizeof(error), "HTTP %d", code);
    done(priv, error);
}

static void webhook_send(void *state, const struct collector_config *cfg,
                         const struct sink_delivery *d, sink_done_fn done, void *priv)
{
    (void)cfg;
    struct webhook *w = state;
    char *body = payload(d);
    struct post *p = malloc(sizeof(*p));
    if (!body || !p) {
        free(body);
        free(p);
        done(priv, "cannot build the request");
        return;
    }
    p->done = done;
    p->priv = priv;
    struct evhttp_request *req = evhttp_request_new(on_http, p);
    if (!req) {
        free(body);
        free(p);
        done(priv, "out of memory");
        return;
    }
    char sig[80], host[300];
    webhook_signature(w->secret, body, strlen(body), sig, sizeof(sig));
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    int port = evhttp_uri_get_port(w->uri);
    snprintf(host, sizeof(host), "%s:%d", evhttp_uri_get_host(w->uri), port > 0 ? port : 80);
    evhttp_add_header(h, "Host", host);
    evhttp_add_header(h, "Content-Type", "application/json; charset=utf-8");
    evhttp_add_header(h, "User-Agent", "canh-collector/" CANH_VERSION);
    evhttp_add_header(h, "X-Canh-Signature", sig);
    evhttp_add_header(h, "X-Canh-Delivery", d->id);
    evhttp_add_header(h, "X-Canh-Action", d->action);
    evhttp_add_header(h, "X-Canh-Route", d->route->name);
    evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
    free(body);
    const char *path = evhttp_uri_get_path(w->uri);
    const char *query = evhttp_uri_get_query(w->uri);
    char target[600];
    snprintf(target, sizeof(target), "%s%s%s", path && *path ? path : "/", query ? "?" : "",
             query ? query : "");
    /* On failure libevent has freed req without calling on_http. */
    if (evhttp_make_request(w->http, req, EVHTTP_REQ_POST, target) < 0) {
        free(p);
        done(priv, "cannot send the request");
    }
}

static void webhook_close(void *state)
{
    struct webhook *w = state;
    if (!w)
        return;
    if (w->http)
        evhttp_connection_free(w->http);
    if (w->uri)
        evhttp_uri_free(w->uri);
    OPENSSL_cleanse(w->secret, sizeof(w->secret));
    free(w);
}

static int webhook_open(void **state, const struct collector_config *cfg, const struct route *route,
                        struct event_base *base)
{
    (void)cfg;
    struct webhook *w = calloc(1, sizeof(*w));
    if (!w)
        return -1;
    char why[600];
    if (secret_read_file(route->secret_file, w->secret, sizeof(w->secret), why, sizeof(why)) < 0) {
        log_err("route %s: secret_file: %s", route->name, why);
        goto err;
    }
    w->uri = evhttp_uri_parse(route->url);
    if (!w->uri || !evhttp_uri_get_host(w->uri)) {
        log_err("route %s: webhook url '%s' cannot be parsed", route->name, route->url);
        goto err;
    }
    int port = evhttp_uri_get_port(w->uri);
    w->http = evhttp_connection_base_new(base, NULL, evhttp_uri_get_host(w->uri),
                                         (uint16_t)(port > 0 ? port : 80));
    if (!w->http)
        goto err;
    struct timeval tv = {(time_t)(route->timeout_us / 1000000),
                         (suseconds_t)(route->timeout_us % 1000000)};
    evhttp_connection_set_timeout_tv(w->http, &tv);
    evhttp_connection_set_retries(w->http, 0);
    *state = w;
    return 0;
err:
    webhook_close(w);
    return -1;
}

const struct sink_ops webhook_sink_ops = {
    .name = "webhook", .open = webhook_open, .send = webhook_send, .close = webhook_close};
