/* detail.c — GET /api/incident?id=ID: one incident in full, for the
 * page's detail view.
 *
 * The snapshot holds the open and recent incidents' hashes, not their
 * history, so the detail is read when a page asks: one Lua script (keys
 * declared) returns the incident hash, the hashes of the incidents linked
 * into it, the operator-action log (STORE_LOG_PREFIX; read as a
 * stream, else as a list, and reported as absent when there is none) and
 * the incident's entries on canh:incidents among the newest
 * DETAIL_SCAN.  The report draft, when this collector wrote one, is read
 * from [report] dir.  The request waits for Redis without blocking the
 * loop; with Redis down it is answered 503 at once.
 */
#include <event2/http.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/collector.h"
#include "collector/incident.h"
#include "collector/status/status_internal.h"
#include "collector/store.h"
#include "common/log.h"
#include "common/redis/link.h"
#include "common/units.h"

#define DETAIL_SCAN 2000     /* canh:incidents entries searched for the timeline */
#define DETAIL_MAX_ITEMS 200 /* timeline entries and log entries returned */
#define DETAIL_REPORT_MAX (64 * 1024)

/* KEYS: incident hash, its action log, canh:incidents.  ARGV: id, scan,
 * max items.  Returns {0} for an unknown id, else {1, hash, {child
 * hash...}, log kind, {log entry...}, {{entry id, field, value ...}...}}. */
static const char detail_lua[] =
    "local id, scan, maxn = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local h = redis.call('HGETALL', KEYS[1])\n"
    "if #h == 0 then return {0} end\n"
    "local children = {}\n"
    "local list = redis.call('HGET', KEYS[1], 'children')\n"
    "if list then\n"
    "  for c in string.gmatch(list, '[^,]+') do\n"
    "    local x = redis.call('HGETALL', 'canh:incident:' .. c)\n"
    "    if #x > 0 then children[#children + 1] = x end\n"
    "    if #children >= 64 then break end\n"
    "  end\n"
    "end\n"
    "local kind, log = 'none', {}\n"
    "if redis.call('EXISTS', KEYS[2]) == 1 then\n"
    "  local r = redis.pcall('XRANGE', KEYS[2], '-', '+', 'COUNT', maxn)\n"
    "  if type(r) == 'table' and r.err == nil then kind, log = 'stream', r\n"
    "  else\n"
    "    r = redis.pcall('LRANGE', KEYS[2], 0, maxn - 1)\n"
    "    if type(r) == 'table' and r.err == nil then kind, log = 'list', r\n"
    "    else kind = 'unreadable: ' .. tostring(r.err) end\n"
    "  end\n"
    "end\n"
    "local timeline = {}\n"
    "for _, e in ipairs(redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', scan)) do\n"
    "  local f, mine, out = e[2], false, {e[1]}\n"
    "  for k = 1, #f, 2 do\n"
    "    if f[k] == 'id' and f[k + 1] == id then mine = true end\n"
    "    if f[k] ~= 'incident' then out[#out + 1] = f[k]; out[#out + 1] = f[k + 1] end\n"
    "  end\n"
    "  if mine then\n"
    "    timeline[#timeline + 1] = out\n"
    "    if #timeline >= maxn then break end\n"
    "  end\n"
    "end\n"
    "return {1, h, children, kind, log, timeline}\n";

struct detail_req {
    struct status_wait w; /* first: the wait list holds it */
    char id[INCIDENT_ID_LEN];
};

static void send_error(struct status *s, struct evhttp_request *req, int code, const char *reason,
                       const char *msg)
{
    status_reply_json(
        req, code, reason,
        json_pack("{s:s,s:o}", "error", msg, "snapshot", status_freshness(s, units_now_us())));
}

static const char *str_of(const redisReply *r)
{
    return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) ? r->str : "";
}

static bool is_array(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ARRAY;
}

/* "1700000000000-0" → its time. */
static json_t *entry_time(const char *entry_id)
{
    char ts[64];
    uint64_t ms = strtoull(entry_id, NULL, 10);
    return ms ? json_string(units_format_time(ms * 1000, ts, sizeof(ts))) : json_null();
}

/* {id, time, fields{}} of a stream entry given as {id, f, v, f, v ...}
 * (flat) or {id, {f, v ...}} (XRANGE). */
static json_t *entry_json(const redisReply *e, bool flat)
{
    if (!is_array(e) || e->elements < 1)
        return NULL;
    const char *id = str_of(e->element[0]);
    json_t *fields = json_object();
    const redisReply *kv = flat ? e : (e->elements > 1 ? e->element[1] : NULL);
    size_t first = flat ? 1 : 0;
    if (is_array(kv))
        for (size_t i = first; i + 1 < kv->elements; i += 2)
            json_object_set_new(fields, str_of(kv->element[i]),
                                json_string(str_of(kv->element[i + 1])));
    return json_pack("{s:s,s:o,s:o}", "entry", id, "time", entry_time(id), "fields", fields);
}

/* A list entry: its JSON when it is JSON, else the text. */
static json_t *list_entry_json(const redisReply *e)
{
    const char *text = str_of(e);
    json_t *o = json_loads(text, 0, NULL);
    if (json_is_object(o))
        return json_pack("{s:o}", "fields", o);
    json_decref(o);
    return json_pack("{s:{s:s}}", "fields", "text", text);
}

/* The Markdown draft of [report] dir, when this host has it. */
static json_t *report_draft(const struct collector_config *cfg, const char *id)
{
    if (!cfg->report_dir[0])
        return json_null();
    char path[512];
    snprintf(path, sizeof(path), "%s/%s.md", cfg->report_dir, id);
    FILE *f = fopen(path, "re");
    if (!f)
        return json_null();
    char *buf = malloc(DETAIL_REPORT_MAX + 1);
    size_t n = buf ? fread(buf, 1, DETAIL_REPORT_MAX, f) : 0;
    bool more = buf && fgetc(f) != EOF;
    fclose(f);
    if (!buf)
        return json_null();
    buf[n] = '\0';
    json_t *o = json_pack("{s:s,s:s%,s:b}", "path", path, "markdown", buf, n, "truncated", more);
    free(buf);
    return o ? o : json_null();
}

static void on_detail(redisReply *reply, void *priv)
{
    struct detail_req *d = priv;
    struct status *s = d->w.s;
    if (!s) {
        free(d);
        return;
    }
    status_wait_done(&d->w);
    struct evhttp_request *req = d->w.req;
    if (!reply) {
        send_error(s, req, 503, "Service Unavailable", "Redis connection lost");
    } else if (reply->type == REDIS_REPLY_ERROR) {
        log_warn("status page: detail of %s: %s", d->id, reply->str);
        send_error(s, req, 502, "Bad Gateway", reply->str);
    } else if (!is_array(reply) || reply->elements < 1 || reply->element[0]->integer != 1 ||
               reply->elements != 6) {
        send_error(s, req, 404, "Not Found", "no such incident");
    } else {
        uint64_t now = units_now_us();
        json_t *inc = status_incident_json(s, reply->element[1], now);
        json_t *children = json_array(), *log = json_array(), *timeline = json_array();
        const redisReply *ch = reply->element[2], *entries = reply->element[4],
                         *tl = reply->element[5];
        const char *kind = str_of(reply->element[3]);
        if (is_array(ch))
            for (size_t i = 0; i < ch->elements; i++) {
                json_t *c = status_incident_json(s, ch->element[i], now);
                if (c)
                    json_array_append_new(children, c);
            }
        if (is_array(entries))
            for (size_t i = 0; i < entries->elements; i++) {
                json_t *e = strcmp(kind, "stream") == 0 ? entry_json(entries->element[i], false)
                                                        : list_entry_json(entries->element[i]);
                if (e)
                    json_array_append_new(log, e);
            }
        if (is_array(tl))
            for (size_t i = tl->elements; i-- > 0;) { /* oldest first */
                json_t *e = entry_json(tl->element[i], true);
                if (e)
                    json_array_append_new(timeline, e);
            }
        char key[INCIDENT_ID_LEN + 64];
        snprintf(key, sizeof(key), "%s%s", STORE_LOG_PREFIX, d->id);
        json_t *o = json_object();
        json_object_set_new(o, "snapshot", status_freshness(s, now));
        json_object_set_new(o, "incident", inc ? inc : json_null());
        json_object_set_new(o, "children", children);
        json_object_set_new(o, "actions",
                            json_pack("{s:s,s:s,s:o}", "key", key, "kind", kind, "entries", log));
        json_object_set_new(o, "timeline", timeline);
        json_object_set_new(o, "timeline_scanned", json_integer(DETAIL_SCAN));
        json_object_set_new(o, "report", report_draft(s->c->cfg, d->id));
        status_reply_json(req, 200, "OK", o);
    }
    free(d);
}

void status_send_detail(struct status *s, struct evhttp_request *req, const char *id)
{
    if (!status_id_valid(id)) {
        send_error(s, req, 400, "Bad Request", "want ?id=<incident id>");
        return;
    }
    if (!redis_link_up(s->link)) {
        send_error(s, req, 503, "Service Unavailable", "Redis unreachable");
        return;
    }
    struct detail_req *d = calloc(1, sizeof(*d));
    if (!d) {
        send_error(s, req, 500, "Internal Server Error", "out of memory");
        return;
    }
    d->w.s = s;
    d->w.req = req;
    snprintf(d->id, sizeof(d->id), "%s", id);
    char hash[INCIDENT_ID_LEN + 32], log[INCIDENT_ID_LEN + 64], scan[16], maxn[16];
    snprintf(hash, sizeof(hash), "%s%s", STORE_INCIDENT_PREFIX, id);
    snprintf(log, sizeof(log), "%s%s", STORE_LOG_PREFIX, id);
    snprintf(scan, sizeof(scan), "%d", DETAIL_SCAN);
    snprintf(maxn, sizeof(maxn), "%d", DETAIL_MAX_ITEMS);
    const char *argv[] = {"EVAL", detail_lua, "3", hash, log, STORE_INCIDENTS, id, scan, maxn};
    size_t lens[9];
    for (int i = 0; i < 9; i++)
        lens[i] = strlen(argv[i]);
    if (redis_link_command(s->link, COLLECTOR_CMD, on_detail, d, 9, argv, lens) < 0) {
        free(d);
        send_error(s, req, 503, "Service Unavailable", "Redis unreachable");
        return;
    }
    status_wait_add(&d->w);
}
