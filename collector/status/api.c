/* api.c — the status page's responses: the page itself, the JSON API
 * (/api/incidents and /api/agents from the snapshot with its age in front,
 * /api/collector from the live counters, /api/session: who is logged in)
 * and plain-text answers.  Every answer leaves through status_send_body.
 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/collector.h"
#include "collector/escalate.h"
#include "collector/status/status_internal.h"
#include "common/redis/link.h"
#include "common/units.h"
#include "status_page.h" /* generated from status_page.html */

void status_send_body(struct evhttp_request *req, int code, const char *reason, const char *type,
                      const char *body, size_t len)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", type);
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(h, "Referrer-Policy", "no-referrer");
    struct evbuffer *b = evbuffer_new();
    if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
        /* evhttp would send the body after a HEAD answer, where the client
         * reads it as the start of the next response. */
        char n[24];
        snprintf(n, sizeof(n), "%zu", len);
        evhttp_remove_header(h, "Content-Length");
        evhttp_add_header(h, "Content-Length", n);
    } else if (b && len) {
        evbuffer_add(b, body, len);
    }
    evhttp_send_reply(req, code, reason, b);
    if (b)
        evbuffer_free(b);
}

void status_send_text(struct evhttp_request *req, int code, const char *reason, const char *text)
{
    status_send_body(req, code, reason, "text/plain; charset=utf-8", text, strlen(text));
}

void status_reply_json(struct evhttp_request *req, int code, const char *reason, json_t *o)
{
    char *text = status_dump(o);
    if (!text) {
        status_send_text(req, 500, "Internal Server Error", "out of memory\n");
        return;
    }
    status_send_body(req, code, reason, "application/json; charset=utf-8", text, strlen(text));
    free(text);
}

void status_send_json(struct status *s, struct evhttp_request *req, const char *cached)
{
    json_t *fresh = status_freshness(s, units_now_us());
    if (!s->snap.valid || !cached) {
        json_t *o = json_pack("{s:s,s:o}", "error", "no data from Redis yet", "snapshot", fresh);
        status_reply_json(req, 503, "Service Unavailable", o);
        return;
    }
    /* The cached body with the snapshot's age in front: {"snapshot":{..},<cached>. */
    char *head = json_dumps(fresh, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(fresh);
    struct evbuffer *b = evbuffer_new();
    if (!head || !b || cached[0] != '{') {
        free(head);
        if (b)
            evbuffer_free(b);
        status_send_text(req, 500, "Internal Server Error", "out of memory\n");
        return;
    }
    evbuffer_add_printf(b, "{\"snapshot\":%s%s%s", head, cached[1] == '}' ? "" : ",", cached + 1);
    free(head);
    size_t len = evbuffer_get_length(b);
    status_send_body(req, 200, "OK", "application/json; charset=utf-8",
                     (const char *)evbuffer_pullup(b, -1), len);
    evbuffer_free(b);
}

void status_send_session(struct status *s, struct evhttp_request *req, const struct principal *who)
{
    json_t *o = json_pack("{s:s,s:s,s:b}", "name", who->name, "role", status_role_name(who->role),
                          "auth_none", s->c->cfg->status_auth_none);
    if (who->session)
        json_object_set_new(o, "csrf", json_string(who->session->csrf));
    status_reply_json(req, 200, "OK", o);
}

void status_send_page(struct evhttp_request *req, int code, const char *reason)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Security-Policy",
                      "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                      "connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; "
                      "frame-ancestors 'none'");
    evhttp_add_header(h, "X-Frame-Options", "DENY");
    status_send_body(req, code, reason, "text/html; charset=utf-8", status_page_html,
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
    json_object_set_new(o, "snapshot", status_freshness(s, now));
    json_object_set_new(o, "status_page",
                        json_pack("{s:I,s:I,s:b,s:I}", "connections",
                                  (json_int_t)status_connections(s), "max_connections",
                                  (json_int_t)s->max_connections, "paused", s->paused,
                                  "cap_reached", (json_int_t)s->cap_reached));
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
    json_object_set_new(json_object_get(o, "incidents"), "open_groups",
                        json_integer((json_int_t)s->snap.open_groups));
    json_t *sinks = json_object();
    for (int i = 0; i < SINK_COUNT; i++)
        json_object_set_new(sinks, sink_name((enum sink_id)i),
                            json_pack("{s:b,s:I,s:I,s:I}", "enabled",
                                      collector_sink_enabled(c->cfg, (enum sink_id)i), "queued",
                                      (json_int_t)s->snap.queue_jobs[i], "delivered",
                                      (json_int_t)es->delivered[i], "failures",
                                      (json_int_t)es->failures[i]));
    json_object_set_new(
        o, "escalation",
        json_pack("{s:I,s:o}", "queue_depth", (json_int_t)s->snap.queue_depth, "sinks", sinks));
    json_object_set_new(o, "deadletter", json_integer((json_int_t)s->snap.deadletter_len));
    status_reply_json(req, 200, "OK", o);
}
