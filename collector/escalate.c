/* escalate.c — see escalate.h. */
#include "collector/escalate.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "collector/collector.h"
#include "collector/incident.h"
#include "collector/report.h"
#include "collector/store.h"
#include "collector/sinks/syslog.h"
#include "common/log.h"
#include "common/redis/secret.h"
#include "common/units.h"

#define MAX_INFLIGHT 16
#define LEASE_EXTRA_US ((uint64_t)30 * 1000000)

struct escalator {
    struct collector *c;
    char secret[512];
    struct evhttp_uri *uri;
    struct evhttp_connection *http;
    struct syslog_sink *syslog;
    char hostname[128];
    bool claiming;
    size_t inflight;
    uint64_t next_poll_us;
};

struct delivery {
    struct escalator *e;
    char id[160];
    char sink[16];
    char action[16];
    uint64_t attempts;
    struct incident inc;
};

void escalate_signature(const char *secret, const void *body, size_t len, char *out, size_t outlen)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), body, len, md, &mdlen);
    size_t used = (size_t)snprintf(out, outlen, "sha256=");
    for (unsigned i = 0; i < mdlen && used + 3 <= outlen; i++)
        used += (size_t)snprintf(out + used, outlen - used, "%02x", md[i]);
}

uint64_t escalate_backoff_us(const struct collector_config *cfg, uint64_t attempts, uint32_t random)
{
    uint64_t delay = cfg->retry_base_us;
    for (uint64_t i = 1; i < attempts && delay < cfg->retry_max_us; i++)
        delay *= 2;
    if (delay > cfg->retry_max_us)
        delay = cfg->retry_max_us;
    /* ±25 % so collectors retrying one receiver do not move in step. */
    uint64_t spread = delay / 2;
    return delay - delay / 4 + (spread ? random % (spread + 1) : 0);
}

/* ---- finishing a job ------------------------------------------------ */

static void on_finish(redisReply *reply, void *priv)
{
    (void)priv;
    if (reply && reply->type == REDIS_REPLY_ERROR)
        log_err("escalation bookkeeping failed: %s", reply->str);
}

static void finish(struct delivery *d, const char *error)
{
    struct escalator *e = d->e;
    enum sink_id sink;
    if (sink_parse(d->sink, &sink) == 0) {
        if (error)
            e->c->stats.delivery_failures[sink]++;
        else
            e->c->stats.delivered[sink]++;
    }
    struct store_ops o;
    store_ops_init(&o);
    char key[192];
    snprintf(key, sizeof(key), STORE_ESCALATION_PREFIX "%s", d->id);
    if (!error) {
        log_info("escalated %s to %s (%s)", d->inc.id, d->sink, d->action);
        store_cmd(&o, "ZREM", STORE_ESCALATIONS, d->id, NULL);
        store_cmd(&o, "DEL", key, NULL);
    } else {
        uint32_t r;
        if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
            r = (uint32_t)random();
        uint64_t delay = escalate_backoff_us(e->c->cfg, d->attempts ? d->attempts : 1, r);
        log_warn("escalation %s to %s failed (attempt %" PRIu64 "): %s; retry in %" PRIu64 " ms",
                 d->inc.id, d->sink, d->attempts, error, delay / 1000);
        store_begin(&o, "ZADD");
        store_arg(&o, STORE_ESCALATIONS);
        store_argf(&o, "%" PRIu64, (units_now_us() + delay) / 1000);
        store_arg(&o, d->id);
        store_end(&o);
        store_cmd(&o, "HSET", key, "last_error", error, NULL);
    }
    const char **argv;
    size_t *lens, argc;
    if (store_apply_argv(&o, &argv, &lens, &argc) == 0) {
        /* If Redis is away now, the lease runs out and the job comes back. */
        redis_link_command(e->c->link, COLLECTOR_CMD, on_finish, e, (int)argc, argv, lens);
        free(argv);
        free(lens);
    }
    store_ops_free(&o);
    e->inflight--;
    free(d);
}

/* ---- sinks ---------------------------------------------------------- */

static char *payload(const struct delivery *d)
{
    json_t *root = json_object();
    json_object_set_new(root, "delivery", json_string(d->id));
    json_object_set_new(root, "action", json_string(d->action));
    json_object_set_new(root, "incident", incident_to_json(&d->inc));
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return text;
}

static void on_http(struct evhttp_request *req, void *arg)
{
    struct delivery *d = arg;
    int code = req ? evhttp_request_get_response_code(req) : 0;
    char error[64];
    if (code >= 200 && code < 300) {
        finish(d, NULL);
        return;
    }
    if (code == 0)
        snprintf(error, sizeof(error), "no answer (connection refused or timed out)");
    else
        snprintf(error, sizeof(error), "HTTP %d", code);
    finish(d, error);
}

static void deliver_webhook(struct delivery *d)
{
    struct escalator *e = d->e;
    char *body = payload(d);
    if (!body || !e->http) {
        free(body);
        finish(d, "cannot build the request");
        return;
    }
    struct evhttp_request *req = evhttp_request_new(on_http, d);
    if (!req) {
        free(body);
        finish(d, "out of memory");
        return;
    }
    char sig[80], host[300];
    escalate_signature(e->secret, body, strlen(body), sig, sizeof(sig));
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    int port = evhttp_uri_get_port(e->uri);
    snprintf(host, sizeof(host), "%s:%d", evhttp_uri_get_host(e->uri), port > 0 ? port : 80);
    evhttp_add_header(h, "Host", host);
    evhttp_add_header(h, "Content-Type", "application/json; charset=utf-8");
    evhttp_add_header(h, "User-Agent", "canh-collector/" CANH_VERSION);
    evhttp_add_header(h, "X-Canh-Signature", sig);
    evhttp_add_header(h, "X-Canh-Delivery", d->id);
    evhttp_add_header(h, "X-Canh-Action", d->action);
    evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
    free(body);
    const char *path = evhttp_uri_get_path(e->uri);
    const char *query = evhttp_uri_get_query(e->uri);
    char target[600];
    snprintf(target, sizeof(target), "%s%s%s", path && *path ? path : "/", query ? "?" : "",
             query ? query : "");
    if (evhttp_make_request(e->http, req, EVHTTP_REQ_POST, target) < 0)
        finish(d, "cannot send the request");
}

static void on_syslog(void *priv, const char *error) { finish(priv, error); }

static void deliver_syslog(struct delivery *d)
{
    struct escalator *e = d->e;
    char msg[2048];
    size_t len = syslog_format(msg, sizeof(msg), &d->inc, d->action, d->id, e->hostname,
                               e->c->cfg->syslog_app, units_now_us());
    if (!e->syslog) {
        e->syslog = syslog_sink_new(e->c->base, e->c->cfg->syslog_host, e->c->cfg->syslog_port,
                                    e->c->cfg->syslog_tcp);
        if (!e->syslog) {
            finish(d, "syslog host cannot be resolved");
            return;
        }
    }
    syslog_sink_send(e->syslog, msg, len, on_syslog, d);
}

static void deliver_report(struct delivery *d)
{
    if (report_write(d->e->c->cfg, &d->inc, units_now_us()) < 0) {
        char error[320];
        snprintf(error, sizeof(error), "cannot write the report in %s", d->e->c->cfg->report_dir);
        finish(d, error);
        return;
    }
    finish(d, NULL);
}

/* ---- leasing -------------------------------------------------------- */

static void take_job(struct escalator *e, const redisReply *item)
{
    if (item->type != REDIS_REPLY_ARRAY || item->elements != 3 ||
        item->element[0]->type != REDIS_REPLY_STRING)
        return;
    struct delivery *d = calloc(1, sizeof(*d));
    if (!d)
        return;
    d->e = e;
    e->inflight++;
    snprintf(d->id, sizeof(d->id), "%s", item->element[0]->str);
    const redisReply *job = item->element[1], *inc = item->element[2];
    for (size_t i = 0; i + 1 < job->elements; i += 2) {
        const char *f = job->element[i]->str, *v = job->element[i + 1]->str;
        if (!f || !v)
            continue;
        if (strcmp(f, "sink") == 0)
            snprintf(d->sink, sizeof(d->sink), "%s", v);
        else if (strcmp(f, "action") == 0)
            snprintf(d->action, sizeof(d->action), "%s", v);
        else if (strcmp(f, "attempts") == 0)
            d->attempts = strtoull(v, NULL, 10);
    }
    const char **fields = malloc((inc->elements + 1) * sizeof(*fields));
    size_t *lens = malloc((inc->elements + 1) * sizeof(*lens));
    int ok = -1;
    if (fields && lens) {
        for (size_t i = 0; i < inc->elements; i++) {
            fields[i] = inc->element[i]->str ? inc->element[i]->str : "";
            lens[i] = inc->element[i]->str ? inc->element[i]->len : 0;
        }
        ok = incident_from_fields(&d->inc, fields, lens, inc->elements);
    }
    free(fields);
    free(lens);
    if (ok < 0) {
        /* The incident is gone (deleted by an operator): nothing to tell. */
        snprintf(d->inc.id, sizeof(d->inc.id), "(missing)");
        finish(d, NULL);
        return;
    }
    enum sink_id sink;
    if (sink_parse(d->sink, &sink) < 0) {
        finish(d, NULL);
        return;
    }
    switch (sink) {
    case SINK_WEBHOOK:
        deliver_webhook(d);
        break;
    case SINK_SYSLOG:
        deliver_syslog(d);
        break;
    case SINK_REPORT:
    case SINK_COUNT:
        deliver_report(d);
        break;
    }
}

static void on_claim(redisReply *reply, void *priv)
{
    struct escalator *e = priv;
    e->claiming = false;
    if (!reply)
        return;
    if (reply->type != REDIS_REPLY_ARRAY) {
        log_err("escalation claim failed: %s",
                reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
        return;
    }
    for (size_t i = 0; i < reply->elements; i++)
        take_job(e, reply->element[i]);
    /* A full batch means more may be due: poll again on the next tick. */
    if (reply->elements)
        e->next_poll_us = 0;
}

void escalate_tick(struct escalator *e)
{
    struct collector *c = e->c;
    uint64_t now = units_now_us();
    if (e->claiming || e->inflight >= MAX_INFLIGHT || now < e->next_poll_us || c->stopping ||
        !redis_link_up(c->link))
        return;
    e->next_poll_us = now + c->cfg->poll_interval_us;
    const char *argv[4 + 4 + 3 * SINK_COUNT];
    size_t lens[4 + 4 + 3 * SINK_COUNT];
    char nums[4 + 3 * SINK_COUNT][32];
    int n = 0, k = 0;
#define ARG(s)                                                                                     \
    do {                                                                                           \
        argv[n] = (s);                                                                             \
        lens[n] = strlen(argv[n]);                                                                 \
        n++;                                                                                       \
    } while (0)
#define NUM(fmt, v)                                                                                \
    do {                                                                                           \
        snprintf(nums[k], sizeof(nums[k]), fmt, v);                                                \
        ARG(nums[k]);                                                                              \
        k++;                                                                                       \
    } while (0)
    ARG("EVAL");
    ARG(store_claim_lua);
    ARG("0");
    NUM("%" PRIu64, now / 1000);
    NUM("%" PRIu64, (c->cfg->webhook_timeout_us + LEASE_EXTRA_US) / 1000);
    NUM("%zu", (size_t)(MAX_INFLIGHT - e->inflight));
    int n_sinks = 0;
    for (int s = 0; s < SINK_COUNT; s++)
        n_sinks += c->cfg->route[s].enabled;
    NUM("%d", n_sinks);
    for (int s = 0; s < SINK_COUNT; s++) {
        const struct sink_route *r = &c->cfg->route[s];
        if (!r->enabled)
            continue;
        ARG(sink_name((enum sink_id)s));
        NUM("%.6f", r->rate_per_s);
        NUM("%u", r->burst);
    }
#undef ARG
#undef NUM
    if (redis_link_command(c->link, COLLECTOR_CMD, on_claim, e, n, argv, lens) == 0)
        e->claiming = true;
}

void escalate_session_lost(struct escalator *e) { e->claiming = false; }

bool escalate_idle(const struct escalator *e) { return e->inflight == 0 && !e->claiming; }

struct escalator *escalate_new(struct collector *c)
{
    struct escalator *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->c = c;
    gethostname(e->hostname, sizeof(e->hostname) - 1);
    const struct collector_config *cfg = c->cfg;
    if (cfg->route[SINK_WEBHOOK].enabled) {
        char why[600];
        if (secret_read_file(cfg->webhook_secret_file, e->secret, sizeof(e->secret), why,
                             sizeof(why)) < 0) {
            log_err("[webhook] secret_file: %s", why);
            goto err;
        }
        e->uri = evhttp_uri_parse(cfg->webhook_url);
        if (!e->uri || !evhttp_uri_get_host(e->uri)) {
            log_err("webhook url '%s' cannot be parsed", cfg->webhook_url);
            goto err;
        }
        int port = evhttp_uri_get_port(e->uri);
        e->http = evhttp_connection_base_new(c->base, NULL, evhttp_uri_get_host(e->uri),
                                             (uint16_t)(port > 0 ? port : 80));
        if (!e->http)
            goto err;
        struct timeval tv = {(time_t)(cfg->webhook_timeout_us / 1000000),
                             (suseconds_t)(cfg->webhook_timeout_us % 1000000)};
        evhttp_connection_set_timeout_tv(e->http, &tv);
        evhttp_connection_set_retries(e->http, 0);
    }
    return e;
err:
    escalate_free(e);
    return NULL;
}

void escalate_free(struct escalator *e)
{
    if (!e)
        return;
    if (e->http)
        evhttp_connection_free(e->http);
    if (e->uri)
        evhttp_uri_free(e->uri);
    syslog_sink_free(e->syslog);
    free(e);
}
