/* status.c — see status.h.
 *
 * Three parts: the snapshot (one Lua script every refresh interval, its
 * reply turned into the JSON bodies and the small tables /metrics needs),
 * access control (token and/or basic auth, compared in constant time),
 * and the request handlers, which only copy from the snapshot.
 */
#include "collector/status/status.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <inttypes.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "collector/collector.h"
#include "collector/escalate.h"
#include "collector/incident.h"
#include "collector/store.h"
#include "common/log.h"
#include "common/redis/link.h"
#include "common/redis/secret.h"
#include "common/units.h"
#include "status_page.h" /* generated from status_page.html */

#define MAX_AGENT_ROWS 1024
#define MAX_OPEN_COUNTS 256
#define SCAN_CAP 10000 /* open incidents / queued jobs counted per refresh */

/* ARGV: max_open, max_recent, scan_cap.  Returns {open_total, {open
 * incident hash...}, {taxonomy|class|severity, n ...}, {recent incident
 * hash...}, canh:agents pairs, canh:agent_seen pairs, queue depth,
 * {sink, jobs, failing ...}, deadletter length}.  One script so the page
 * shows one moment, and one round trip per refresh. */
static const char status_lua[] =
    "local max_open, max_recent, cap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local open_total = redis.call('ZCARD', 'canh:open')\n"
    "local ids = redis.call('ZREVRANGE', 'canh:open', 0, cap - 1)\n"
    "local open, counts, is_open = {}, {}, {}\n"
    "for _, id in ipairs(ids) do\n"
    "  is_open[id] = true\n"
    "  local h = redis.call('HMGET', 'canh:incident:' .. id, 'taxonomy', 'class', 'severity')\n"
    "  if h[1] then\n"
    "    local k = h[1] .. '|' .. (h[2] or 'normal') .. '|' .. (h[3] or 'low')\n"
    "    counts[k] = (counts[k] or 0) + 1\n"
    "    if #open < max_open then\n"
    "      open[#open + 1] = redis.call('HGETALL', 'canh:incident:' .. id)\n"
    "    end\n"
    "  end\n"
    "end\n"
    "local cflat = {}\n"
    "for k, n in pairs(counts) do cflat[#cflat + 1] = k; cflat[#cflat + 1] = n end\n"
    "local recent, seen = {}, {}\n"
    "if max_recent > 0 then\n"
    "  local entries = redis.call('XREVRANGE', 'canh:incidents', '+', '-',\n"
    "                              'COUNT', max_recent * 4)\n"
    "  for _, e in ipairs(entries) do\n"
    "    if #recent >= max_recent then break end\n"
    "    local f, id = e[2], nil\n"
    "    for k = 1, #f, 2 do if f[k] == 'id' then id = f[k + 1] end end\n"
    "    if id and not is_open[id] and not seen[id] then\n"
    "      seen[id] = true\n"
    "      local h = redis.call('HGETALL', 'canh:incident:' .. id)\n"
    "      if #h > 0 then recent[#recent + 1] = h end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "local agents = redis.call('HGETALL', 'canh:agents')\n"
    "local agent_seen = redis.call('ZRANGE', 'canh:agent_seen', 0, -1, 'WITHSCORES')\n"
    "local depth = redis.call('ZCARD', 'canh:escalations')\n"
    "local sinks = {}\n"
    "for _, j in ipairs(redis.call('ZRANGE', 'canh:escalations', 0, cap - 1)) do\n"
    "  local h = redis.call('HMGET', 'canh:escalation:' .. j, 'sink', 'last_error')\n"
    "  if h[1] then\n"
    "    local s = sinks[h[1]] or {0, 0}\n"
    "    s[1] = s[1] + 1\n"
    "    if h[2] and h[2] ~= '' then s[2] = s[2] + 1 end\n"
    "    sinks[h[1]] = s\n"
    "  end\n"
    "end\n"
    "local sflat = {}\n"
    "for k, v in pairs(sinks) do\n"
    "  sflat[#sflat + 1] = k; sflat[#sflat + 1] = v[1]; sflat[#sflat + 1] = v[2]\n"
    "end\n"
    "return {open_total, open, cflat, recent, agents, agent_seen, depth, sflat,\n"
    "        redis.call('XLEN', 'canh:deadletter')}\n";

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

/* ---- small helpers --------------------------------------------------- */

static void snapshot_clear(struct snapshot *sn)
{
    free(sn->incidents_json);
    free(sn->agents_json);
    free(sn->agents);
    memset(sn, 0, sizeof(*sn));
}

static const char *reply_str(const redisReply *r)
{
    return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) ? r->str : "";
}

static uint64_t reply_u64(const redisReply *r)
{
    if (!r)
        return 0;
    if (r->type == REDIS_REPLY_INTEGER)
        return r->integer > 0 ? (uint64_t)r->integer : 0;
    if (r->type == REDIS_REPLY_STRING)
        return strtoull(r->str, NULL, 10);
    return 0;
}

static bool reply_is_array(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ARRAY;
}

static void timer_interval(uint64_t us, struct timeval *tv)
{
    tv->tv_sec = (time_t)(us / 1000000);
    tv->tv_usec = (suseconds_t)(us % 1000000);
}

/* The integer at obj.a.b (b may be NULL), or -1 when missing. */
static json_int_t json_int_at(json_t *obj, const char *a, const char *b)
{
    json_t *v = json_object_get(obj, a);
    if (b)
        v = json_object_get(v, b);
    return json_is_integer(v) ? json_integer_value(v) : -1;
}

/* ---- snapshot: incidents -------------------------------------------- */

/* An HGETALL reply as incident JSON plus the ages the page shows. */
static json_t *incident_json(struct status *s, const redisReply *hash, uint64_t now_us)
{
    if (!reply_is_array(hash) || hash->elements < 2)
        return NULL;
    const char **f = malloc(hash->elements * sizeof(*f));
    size_t *l = malloc(hash->elements * sizeof(*l));
    json_t *o = NULL;
    if (f && l) {
        for (size_t i = 0; i < hash->elements; i++) {
            f[i] = reply_str(hash->element[i]);
            l[i] = strlen(f[i]);
        }
        if (incident_from_fields(s->scratch, f, l, hash->elements) == 0) {
            const struct incident *inc = s->scratch;
            o = incident_to_json(inc);
            uint64_t since = inc->first_seen_us ? inc->first_seen_us : inc->opened_us;
            json_object_set_new(
                o, "age_s",
                json_integer(now_us > since ? (json_int_t)((now_us - since) / 1000000) : 0));
            json_object_set_new(
                o, "quiet_s",
                json_integer(now_us > inc->updated_us
                                 ? (json_int_t)((now_us - inc->updated_us) / 1000000)
                                 : 0));
        }
    }
    free(f);
    free(l);
    return o;
}

static json_t *incident_list(struct status *s, const redisReply *list, uint64_t now_us)
{
    json_t *a = json_array();
    if (!reply_is_array(list))
        return a;
    for (size_t i = 0; i < list->elements; i++) {
        json_t *o = incident_json(s, list->element[i], now_us);
        if (o)
            json_array_append_new(a, o);
    }
    return a;
}

static void take_counts(struct snapshot *sn, const redisReply *flat)
{
    if (!reply_is_array(flat))
        return;
    for (size_t i = 0; i + 1 < flat->elements && sn->n_counts < MAX_OPEN_COUNTS; i += 2) {
        struct open_count *oc = &sn->counts[sn->n_counts];
        char key[128];
        snprintf(key, sizeof(key), "%s", reply_str(flat->element[i]));
        char *save = NULL;
        const char *tax = strtok_r(key, "|", &save), *cls = strtok_r(NULL, "|", &save),
                   *sev = strtok_r(NULL, "|", &save);
        if (!tax || !cls || !sev)
            continue;
        snprintf(oc->taxonomy, sizeof(oc->taxonomy), "%s", tax);
        snprintf(oc->class_, sizeof(oc->class_), "%s", cls);
        snprintf(oc->severity, sizeof(oc->severity), "%s", sev);
        oc->n = reply_u64(flat->element[i + 1]);
        sn->n_counts++;
    }
}

/* ---- snapshot: agents ----------------------------------------------- */

/* Agents' heartbeats differ by version: the agent writes packets at the
 * top of "canh" and drops under capture; test tools write "counters". */
static void take_heartbeat(struct agent_row *row, json_t *hb)
{
    json_t *canh = json_object_get(hb, "canh");
    const char *agency = json_string_value(json_object_get(canh, "agency"));
    snprintf(row->agency, sizeof(row->agency), "%s", agency ? agency : "");
    row->packets = json_int_at(canh, "packets", NULL);
    if (row->packets < 0)
        row->packets = json_int_at(canh, "counters", "packets");
    json_int_t dropped = json_int_at(canh, "capture", "dropped");
    json_int_t if_dropped = json_int_at(canh, "capture", "if_dropped");
    if (dropped >= 0)
        row->drops = dropped + (if_dropped > 0 ? if_dropped : 0);
    else
        row->drops = json_int_at(canh, "counters", "pcap_drops");
    row->spool_records = json_int_at(canh, "spool", "records");
}

static json_t *agent_json(const struct agent_row *row, json_t *hb, uint64_t now_us)
{
    json_t *canh = json_object_get(hb, "canh");
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(row->name));
    json_object_set_new(o, "agency", json_string(row->agency));
    json_object_set_new(o, "status",
                        json_string(!row->heard   ? "unknown"
                                    : row->silent ? "silent"
                                                  : "ok"));
    if (row->heard) {
        char ts[64];
        uint64_t last_us = row->last_ms * 1000;
        json_object_set_new(o, "last_heartbeat",
                            json_string(units_format_time(last_us, ts, sizeof(ts))));
        json_object_set_new(o, "last_heartbeat_ms", json_integer((json_int_t)row->last_ms));
        json_object_set_new(
            o, "age_s",
            json_integer(now_us > last_us ? (json_int_t)((now_us - last_us) / 1000000) : 0));
    }
    static const char *const copy[] = {"version", "uptime_s", "interval_s", "rules_version",
                                       "source"};
    for (size_t i = 0; i < sizeof(copy) / sizeof(copy[0]); i++) {
        json_t *v = json_object_get(canh, copy[i]);
        if (v)
            json_object_set(o, copy[i], v);
    }
    if (row->packets >= 0)
        json_object_set_new(o, "packets", json_integer(row->packets));
    if (row->drops >= 0)
        json_object_set_new(o, "drops", json_integer(row->drops));
    if (row->spool_records >= 0)
        json_object_set_new(o, "spool_records", json_integer(row->spool_records));
    json_int_t events = json_int_at(canh, "events", NULL);
    if (events < 0)
        events = json_int_at(canh, "counters", "events");
    if (events >= 0)
        json_object_set_new(o, "events", json_integer(events));
    return o;
}

static struct agent_row *row_for(struct snapshot *sn, const char *name)
{
    for (size_t i = 0; i < sn->n_agents; i++)
        if (strcmp(sn->agents[i].name, name) == 0)
            return &sn->agents[i];
    if (sn->n_agents == MAX_AGENT_ROWS || strlen(name) >= sizeof(sn->agents[0].name))
        return NULL;
    struct agent_row *row = &sn->agents[sn->n_agents++];
    memset(row, 0, sizeof(*row));
    snprintf(row->name, sizeof(row->name), "%s", name);
    row->packets = row->drops = row->spool_records = -1;
    return row;
}

static json_t *take_agents(struct status *s, struct snapshot *sn, const redisReply *hash,
                           const redisReply *seen, uint64_t now_us)
{
    const struct collector_config *cfg = s->c->cfg;
    json_t *heartbeats = json_object(); /* name → parsed heartbeat */
    sn->agents = calloc(MAX_AGENT_ROWS, sizeof(*sn->agents));
    if (!sn->agents)
        return heartbeats;
    /* canh:agent_seen is ordered by time; the oldest (most likely silent)
     * come first, which is the order the page lists them in. */
    if (reply_is_array(seen))
        for (size_t i = 0; i + 1 < seen->elements; i += 2) {
            struct agent_row *row = row_for(sn, reply_str(seen->element[i]));
            if (!row)
                continue;
            row->heard = true;
            row->last_ms = (uint64_t)strtod(reply_str(seen->element[i + 1]), NULL);
            row->silent = now_us / 1000 > row->last_ms + cfg->silent_after_us / 1000;
        }
    if (reply_is_array(hash))
        for (size_t i = 0; i + 1 < hash->elements; i += 2) {
            struct agent_row *row = row_for(sn, reply_str(hash->element[i]));
            const redisReply *v = hash->element[i + 1];
            json_t *hb = v->type == REDIS_REPLY_STRING ? json_loadb(v->str, v->len, 0, NULL) : NULL;
            if (!row || !hb) {
                json_decref(hb);
                continue;
            }
            take_heartbeat(row, hb);
            json_object_set_new(heartbeats, row->name, hb);
        }
    for (size_t i = 0; i < cfg->n_agents; i++)
        row_for(sn, cfg->agents[i]); /* listed but never heard from */
    return heartbeats;
}

/* ---- snapshot: the refresh ------------------------------------------ */

static char *dump(json_t *o)
{
    char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(o);
    return text;
}

static void on_snapshot(redisReply *reply, void *priv)
{
    struct status *s = priv;
    s->refreshing = false;
    if (!reply)
        return;
    if (!reply_is_array(reply) || reply->elements != 9) {
        s->refresh_errors++;
        log_warn("status page: refresh failed: %s",
                 reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
        return;
    }
    uint64_t now_us = units_now_us();
    struct snapshot sn = {.valid = true, .at_us = now_us};
    char ts[64];
    units_format_time(now_us, ts, sizeof(ts));

    sn.open_total = reply_u64(reply->element[0]);
    take_counts(&sn, reply->element[2]);
    json_t *inc = json_object();
    json_object_set_new(inc, "generated", json_string(ts));
    json_object_set_new(inc, "open_total", json_integer((json_int_t)sn.open_total));
    json_object_set_new(inc, "open", incident_list(s, reply->element[1], now_us));
    json_object_set_new(inc, "recent", incident_list(s, reply->element[3], now_us));
    sn.incidents_json = dump(inc);

    json_t *heartbeats = take_agents(s, &sn, reply->element[4], reply->element[5], now_us);
    json_t *agents = json_object(), *list = json_array();
    json_object_set_new(agents, "generated", json_string(ts));
    json_object_set_new(agents, "silent_after_s",
                        json_integer((json_int_t)(s->c->cfg->silent_after_us / 1000000)));
    for (size_t i = 0; i < sn.n_agents; i++)
        json_array_append_new(
            list,
            agent_json(&sn.agents[i], json_object_get(heartbeats, sn.agents[i].name), now_us));
    json_object_set_new(agents, "agents", list);
    json_decref(heartbeats);
    sn.agents_json = dump(agents);

    sn.queue_depth = reply_u64(reply->element[6]);
    const redisReply *sinks = reply->element[7];
    if (reply_is_array(sinks))
        for (size_t i = 0; i + 2 < sinks->elements; i += 3) {
            enum sink_id id;
            if (sink_parse(reply_str(sinks->element[i]), &id) < 0)
                continue;
            sn.queue_jobs[id] = reply_u64(sinks->element[i + 1]);
            sn.queue_failing[id] = reply_u64(sinks->element[i + 2]);
        }
    sn.deadletter_len = reply_u64(reply->element[8]);
    if (!sn.incidents_json || !sn.agents_json) {
        s->refresh_errors++;
        snapshot_clear(&sn);
        return;
    }
    snapshot_clear(&s->snap);
    s->snap = sn;
    s->refreshes++;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct status *s = arg;
    if (s->refreshing || !redis_link_up(s->link))
        return;
    const struct collector_config *cfg = s->c->cfg;
    char max_open[16], recent[16], cap[16];
    snprintf(max_open, sizeof(max_open), "%u", cfg->status_max_open);
    snprintf(recent, sizeof(recent), "%u", cfg->status_recent);
    snprintf(cap, sizeof(cap), "%d", SCAN_CAP);
    const char *argv[] = {"EVAL", status_lua, "0", max_open, recent, cap};
    size_t lens[6];
    for (int i = 0; i < 6; i++)
        lens[i] = strlen(argv[i]);
    if (redis_link_command(s->link, COLLECTOR_CMD, on_snapshot, s, 6, argv, lens) == 0)
        s->refreshing = true;
}

/* ---- access control ------------------------------------------------- */

static int load_secrets(struct status *s, char *token, char *basic, size_t basic_len)
{
    const struct collector_config *cfg = s->c->cfg;
    token[0] = basic[0] = '\0';
    char why[512];
    if (cfg->status_token_file[0] &&
        secret_read_file(cfg->status_token_file, token, sizeof(s->token), why, sizeof(why)) < 0) {
        log_err("status page: token_file: %s", why);
        return -1;
    }
    if (cfg->status_user[0]) {
        char password[512], pair[600];
        if (secret_read_file(cfg->status_password_file, password, sizeof(password), why,
                             sizeof(why)) < 0) {
            log_err("status page: password_file: %s", why);
            return -1;
        }
        int n = snprintf(pair, sizeof(pair), "%s:%s", cfg->status_user, password);
        OPENSSL_cleanse(password, sizeof(password));
        if (n < 0 || (size_t)n >= sizeof(pair) || (size_t)(4 * ((n + 2) / 3) + 1) > basic_len)
            return -1;
        EVP_EncodeBlock((unsigned char *)basic, (const unsigned char *)pair, n);
        OPENSSL_cleanse(pair, sizeof(pair));
    }
    return 0;
}

/* Lengths may leak through timing, contents not. */
static bool secret_equal(const char *given, size_t given_len, const char *want)
{
    size_t want_len = strlen(want);
    return want_len && given_len == want_len && CRYPTO_memcmp(given, want, want_len) == 0;
}

static bool authorized(struct status *s, struct evhttp_request *req, const struct evkeyvalq *query)
{
    if (!s->token[0] && !s->basic[0])
        return true;
    const char *auth = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    if (auth && s->token[0] && strncasecmp(auth, "Bearer ", 7) == 0 &&
        secret_equal(auth + 7, strlen(auth + 7), s->token))
        return true;
    if (auth && s->basic[0] && strncasecmp(auth, "Basic ", 6) == 0 &&
        secret_equal(auth + 6, strlen(auth + 6), s->basic))
        return true;
    const char *t = evhttp_find_header(query, "token");
    return t && s->token[0] && secret_equal(t, strlen(t), s->token);
}

/* ---- responses ------------------------------------------------------ */

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

static void send_text(struct evhttp_request *req, int code, const char *reason, const char *text)
{
    send_body(req, code, reason, "text/plain; charset=utf-8", text, strlen(text));
}

static void send_json(struct status *s, struct evhttp_request *req, const char *cached)
{
    if (!s->snap.valid || !cached) {
        send_body(req, 503, "Service Unavailable", "application/json; charset=utf-8",
                  "{\"error\":\"no data from Redis yet\"}", 33);
        return;
    }
    send_body(req, 200, "OK", "application/json; charset=utf-8", cached, strlen(cached));
}

static void send_page(struct evhttp_request *req)
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

static void send_collector(struct status *s, struct evhttp_request *req)
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
    char *text = dump(o);
    if (!text) {
        send_text(req, 500, "Internal Server Error", "out of memory\n");
        return;
    }
    send_body(req, 200, "OK", "application/json; charset=utf-8", text, strlen(text));
    free(text);
}

/* ---- /metrics ------------------------------------------------------- */

/* A label value: backslash, double quote and newline escaped. */
static void prom_label(struct evbuffer *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            evbuffer_add_printf(b, "\\%c", *v);
        else if (*v == '\n')
            evbuffer_add(b, "\\n", 2);
        else
            evbuffer_add(b, v, 1);
    }
}

static void prom_head(struct evbuffer *b, const char *name, const char *type, const char *help)
{
    evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void prom_one(struct evbuffer *b, const char *name, const char *type, const char *help,
                     uint64_t value)
{
    prom_head(b, name, type, help);
    evbuffer_add_printf(b, "%s %" PRIu64 "\n", name, value);
}

static void metrics_collector(struct status *s, struct evbuffer *b, uint64_t now)
{
    const struct collector_stats *st = &s->c->stats;
    const struct escalate_stats *es = escalate_stats(s->c->esc);
    prom_head(b, "canh_collector_info", "gauge", "Version and consumer name of this collector.");
    evbuffer_add_printf(b, "canh_collector_info{version=\"%s\",consumer=\"", CANH_VERSION);
    prom_label(b, s->c->cfg->consumer);
    evbuffer_add_printf(b, "\"} 1\n");
    prom_one(b, "canh_collector_uptime_seconds", "gauge", "Seconds since the collector started.",
             (now - s->started_us) / 1000000);
    prom_one(b, "canh_collector_redis_up", "gauge", "1 while the Redis session is up.",
             redis_link_up(s->link) ? 1 : 0);
    prom_one(b, "canh_collector_streams", "gauge", "Agent streams read through the group.",
             collector_streams(s->c));
    prom_one(b, "canh_collector_entries_total", "counter",
             "Stream entries taken in (events and heartbeats).", st->entries);
    prom_one(b, "canh_collector_events_applied_total", "counter",
             "Events whose effects were written and acknowledged.", st->applied);
    prom_one(b, "canh_collector_events_duplicate_total", "counter",
             "Events seen before (acknowledged, nothing written).", st->duplicates);
    prom_one(b, "canh_collector_events_deadlettered_total", "counter",
             "Entries refused and moved to canh:deadletter.", st->deadletters);
    prom_one(b, "canh_collector_entries_acked_total", "counter",
             "Entries acknowledged (applied, duplicate, dead-lettered, heartbeats).",
             st->applied + st->duplicates + st->deadletters + st->heartbeats);
    prom_one(b, "canh_collector_heartbeats_total", "counter", "Agent heartbeats recorded.",
             st->heartbeats);
    prom_one(b, "canh_collector_claimed_total", "counter",
             "Entries taken over from other consumers.", st->claimed);
    prom_one(b, "canh_collector_conflicts_total", "counter",
             "Guarded writes retried after another collector's change.", st->conflicts);
    prom_one(b, "canh_collector_errors_total", "counter", "Redis write or read errors.",
             st->errors);
    prom_one(b, "canh_collector_incidents_opened_total", "counter",
             "Incidents this collector opened.", st->opened);
    prom_one(b, "canh_collector_incidents_escalated_total", "counter",
             "Incident changes this collector queued for escalation.", st->escalated);
    prom_one(b, "canh_collector_incidents_closed_total", "counter",
             "Incidents this collector closed.", st->closed);
    prom_head(b, "canh_escalation_deliveries_total", "counter",
              "Escalations this collector delivered, per sink.");
    for (int i = 0; i < SINK_COUNT; i++)
        evbuffer_add_printf(b, "canh_escalation_deliveries_total{sink=\"%s\"} %" PRIu64 "\n",
                            sink_name((enum sink_id)i), es->delivered[i]);
    prom_head(b, "canh_escalation_failures_total", "counter",
              "Delivery attempts of this collector that failed (the job is retried).");
    for (int i = 0; i < SINK_COUNT; i++)
        evbuffer_add_printf(b, "canh_escalation_failures_total{sink=\"%s\"} %" PRIu64 "\n",
                            sink_name((enum sink_id)i), es->failures[i]);
}

static void metrics_snapshot(struct status *s, struct evbuffer *b, uint64_t now)
{
    const struct snapshot *sn = &s->snap;
    prom_one(b, "canh_status_snapshot_age_seconds", "gauge",
             "Seconds since the Redis figures below were read.", (now - sn->at_us) / 1000000);
    prom_one(b, "canh_incidents_open_all", "gauge", "Open incidents (all collectors).",
             sn->open_total);
    prom_head(b, "canh_incidents_open", "gauge",
              "Open incidents by taxonomy code, class and severity.");
    for (size_t i = 0; i < sn->n_counts; i++) {
        const struct open_count *oc = &sn->counts[i];
        evbuffer_add_printf(b, "canh_incidents_open{taxonomy=\"");
        prom_label(b, oc->taxonomy);
        evbuffer_add_printf(b, "\",class=\"");
        prom_label(b, oc->class_);
        evbuffer_add_printf(b, "\",severity=\"");
        prom_label(b, oc->severity);
        evbuffer_add_printf(b, "\"} %" PRIu64 "\n", oc->n);
    }
    prom_one(b, "canh_escalation_queue_depth", "gauge", "Jobs in canh:escalations.",
             sn->queue_depth);
    prom_head(b, "canh_escalation_queue_jobs", "gauge", "Queued escalation jobs per sink.");
    for (int i = 0; i < SINK_COUNT; i++)
        evbuffer_add_printf(b, "canh_escalation_queue_jobs{sink=\"%s\"} %" PRIu64 "\n",
                            sink_name((enum sink_id)i), sn->queue_jobs[i]);
    prom_head(b, "canh_escalation_queue_failing", "gauge",
              "Queued jobs whose last attempt failed, per sink.");
    for (int i = 0; i < SINK_COUNT; i++)
        evbuffer_add_printf(b, "canh_escalation_queue_failing{sink=\"%s\"} %" PRIu64 "\n",
                            sink_name((enum sink_id)i), sn->queue_failing[i]);
    prom_one(b, "canh_deadletter_entries", "gauge", "Entries in canh:deadletter.",
             sn->deadletter_len);

    static const struct {
        const char *name, *type, *help;
    } agent_metrics[] = {
        {"canh_agent_up", "gauge", "1 when the agent's last heartbeat is within silent_after."},
        {"canh_agent_last_heartbeat_timestamp_seconds", "gauge", "Time of the last heartbeat."},
        {"canh_agent_last_heartbeat_age_seconds", "gauge", "Seconds since the last heartbeat."},
        {"canh_agent_packets", "gauge", "Packets seen, from the last heartbeat."},
        {"canh_agent_drops", "gauge", "Packets the capture dropped, from the last heartbeat."},
        {"canh_agent_spool_records", "gauge", "Events waiting in the agent's spool."},
    };
    for (size_t m = 0; m < sizeof(agent_metrics) / sizeof(agent_metrics[0]); m++) {
        prom_head(b, agent_metrics[m].name, agent_metrics[m].type, agent_metrics[m].help);
        for (size_t i = 0; i < sn->n_agents; i++) {
            const struct agent_row *row = &sn->agents[i];
            double value;
            switch (m) {
            case 0:
                value = row->heard && !row->silent;
                break;
            case 1:
                value = (double)row->last_ms / 1000.0;
                break;
            case 2:
                value =
                    now / 1000 > row->last_ms ? (double)(now / 1000 - row->last_ms) / 1000.0 : 0;
                break;
            case 3:
                value = (double)row->packets;
                break;
            case 4:
                value = (double)row->drops;
                break;
            default:
                value = (double)row->spool_records;
                break;
            }
            if ((m >= 1 && m <= 2 && !row->heard) || value < 0)
                continue; /* not reported */
            evbuffer_add_printf(b, "%s{agent=\"", agent_metrics[m].name);
            prom_label(b, row->name);
            evbuffer_add_printf(b, "\",agency=\"");
            prom_label(b, row->agency);
            /* Whole numbers print whole; times keep milliseconds. */
            if (value == (double)(int64_t)value)
                evbuffer_add_printf(b, "\"} %" PRId64 "\n", (int64_t)value);
            else
                evbuffer_add_printf(b, "\"} %.3f\n", value);
        }
    }
}

static void send_metrics(struct status *s, struct evhttp_request *req)
{
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        send_text(req, 500, "Internal Server Error", "out of memory\n");
        return;
    }
    uint64_t now = units_now_us();
    metrics_collector(s, b, now);
    if (s->snap.valid)
        metrics_snapshot(s, b, now);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
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
        send_text(req, 405, "Method Not Allowed", "405 Method Not Allowed: GET or HEAD only\n");
    } else if (!authorized(s, req, &query)) {
        s->unauthorized++;
        struct evkeyvalq *h = evhttp_request_get_output_headers(req);
        evhttp_add_header(h, "WWW-Authenticate",
                          s->basic[0] ? "Basic realm=\"canh status\", charset=\"UTF-8\""
                                      : "Bearer realm=\"canh status\"");
        send_text(req, 401, "Unauthorized",
                  "401 Unauthorized: send Authorization: Bearer <token>, ?token=<token> or the "
                  "basic-auth user and password of [status] in collector.conf\n");
    } else if (strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0) {
        send_page(req);
    } else if (strcmp(path, "/metrics") == 0) {
        send_metrics(s, req);
    } else if (strcmp(path, "/api/incidents") == 0) {
        send_json(s, req, s->snap.incidents_json);
    } else if (strcmp(path, "/api/agents") == 0) {
        send_json(s, req, s->snap.agents_json);
    } else if (strcmp(path, "/api/collector") == 0) {
        send_collector(s, req);
    } else {
        send_text(
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
    if (!s->scratch || load_secrets(s, s->token, s->basic, sizeof(s->basic)) < 0)
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
    s->timer = event_new(base, -1, EV_PERSIST, on_timer, s);
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
    if (load_secrets(s, token, basic, sizeof(basic)) < 0)
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
    snapshot_clear(&s->snap);
    free(s->scratch);
    OPENSSL_cleanse(s->token, sizeof(s->token));
    OPENSSL_cleanse(s->basic, sizeof(s->basic));
    free(s);
}
