/* api.c — the status page's responses: the page itself, the JSON API
 * (/api/incidents and /api/agents from the snapshot, /api/collector from
 * the live counters) and plain-text answers.
 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "collector/collector.h"
#include "collector/escalate.h"
#include "collector/status/status_internal.h"
#include "common/redis/link.h"
#include "common/units.h"
#include "status_page.h" /* generated from status_page.html */

static void send_body(struct evhttp_request *req, int code, const char *reason, const char *type,
                      const char *body, size_t len)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", type);
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    /* The page may carry its token in the URL: never send it elsewhere. */
    evhttp_add_header(h, "Referrer-Policy", "no-referrer");
    struct evbuffer *b = evbuffer_new();
    if (b && len)
        evbuffer_add(b, body, len);
    evhttp_send_reply(req, code, reason, b);
    if (b)
        evbuffer_free(b);
}

void status_send_text(struct evhttp_request *req, int code, const char *reason, const char *text)
{
    send_body(req, code, reason, "text/plain; charset=utf-8", text, strlen(text));
}

void status_send_json(struct status *s, struct evhttp_request *req, const char *cached)
{
    if (!s->snap.valid || !cached) {
        send_body(req, 503, "Service Unavailable", "application/json; charset=utf-8",
                  "{\"error\":\"no data from Redis yet\"}", 33);
        return;
    }
    send_body(req, 200, "OK", "application/json; charset=utf-8", cached, strlen(cached));
}

void status_send_page(struct evhttp_request *req)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Security-Policy",
                      "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                      "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "
                      "frame-ancestors 'none'");
    evhttp_add_header(h, "X-Frame-Options", "DENY");
    send_body(req, 200, "OK", "text/html; charset=utf-8", status_page_html,
              sizeof(status_page_html) - 1);
}

/* ---- /api/collector -------------------------------------------------- */

void status_send_collector(struct status *s, struct evhttp_request *req)
{
    const struct collector *c = s->c;
    const struct collector_stats *st = &c->stats;
    const struct escalate_stats *es = escalate_stats(c->esc);
    uint64_t now = units_now_us();
    char ts[64];
    json_t *o = json_object();
    json_object_set_new(o, "generated", json_string(units_format_time(now, ts, sizeof(ts))));
    json_object_set_new(o, "version", json_string(CANH_VERSION));
    json_object_set_new(o, "consumer", json_string(c->cfg->consumer));
    json_object_set_new(o, "uptime_s", json_integer((json_int_t)((now - s->started_us) / 1000000)));
    json_object_set_new(o, "redis_up", json_boolean(redis_link_up(s->link)));
    json_object_set_new(o, "snapshot_age_s",
                        s->snap.valid ? json_real((double)(now - s->snap.at_us) / 1e6)
                                      : json_null());
    json_object_set_new(o, "streams", json_integer((json_int_t)collector_streams(c)));
    json_t *ev =
        json_pack("{s:I,s:I,s:I,s:I,s:I}", "in", (json_int_t)st->entries, "applied",
                  (json_int_t)st->applied, "duplicates", (json_int_t)st->duplicates, "deadlettered",
                  (json_int_t)st->deadletters, "heartbeats", (json_int_t)st->heartbeats);
    json_object_set_new(o, "events", ev);
    json_object_set_new(o, "incidents",
                        json_pack("{s:I,s:I,s:I,s:I}", "open", (json_int_t)s->snap.open_total,
                                  "opened", (json_int_t)st->opened, "escalated",
                                  (json_int_t)st->escalated, "closed", (json_int_t)st->closed));
    json_t *sinks = json_object();
    for (int i = 0; i < SINK_COUNT; i++)
        json_object_set_new(sinks, sink_name((enum sink_id)i),
                            json_pack("{s:b,s:I,s:I,s:I}", "enabled", c->cfg->route[i].enabled,
                                      "queued", (json_int_t)s->snap.queue_jobs[i], "delivered",
                                      (json_int_t)es->delivered[i], "failures",
                                      (json_int_t)es->failures[i]));
    json_object_set_new(
        o, "escalation",
        json_pack("{s:I,s:o}", "queue_depth", (json_int_t)s->snap.queue_depth, "sinks", sinks));
    json_object_set_new(o, "deadletter", json_integer((json_int_t)s->snap.deadletter_len));
    char *text = status_dump(o);
    if (!text) {
        status_send_text(req, 500, "Internal Server Error", "out of memory\n");
        return;
    }
    send_body(req, 200, "OK", "application/json; charset=utf-8", text, strlen(text));
    free(text);
}
