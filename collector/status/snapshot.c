/* snapshot.c — the status page's cache, refreshed from Redis.
 *
 * Every refresh interval one Lua script reads the open and recent
 * incidents, the agents' last heartbeats and the escalation queue; its
 * reply becomes the JSON bodies of /api/incidents and /api/agents and the
 * small tables /metrics needs.  Handlers only copy from it.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/collector.h"
#include "collector/incident.h"
#include "collector/report_due.h"
#include "collector/route.h"
#include "collector/status/status_internal.h"
#include "collector/store.h"
#include "common/log.h"
#include "common/redis/link.h"
#include "common/units.h"

#define SCAN_CAP 10000 /* open incidents / queued jobs counted per refresh */

/* ARGV: max_open, max_recent, scan_cap.  Returns {open_total, {open
 * incident hash...}, {taxonomy|class|severity, n ...}, {recent incident
 * hash...}, canh:agents pairs, canh:agent_seen pairs, queue depth,
 * {sink, jobs, failing ...}, deadletter length, open groups, reports due,
 * reports overdue (ARGV[4]: now in ms), the first reports due with their
 * due times}.  One script
 * so the page shows one moment, and one round trip per refresh.  Open
 * groups count an incident linked into an open combined or province-wide
 * one only through it. */
static const char status_lua[] =
    "local max_open, max_recent, cap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local open_total = redis.call('ZCARD', 'canh:open')\n"
    "local ids = redis.call('ZRANGE', 'canh:open', 0, cap - 1, 'REV')\n"
    "local open, counts, is_open, parents = {}, {}, {}, {}\n"
    "for _, id in ipairs(ids) do is_open[id] = true end\n"
    "local groups = 0\n"
    "for _, id in ipairs(ids) do\n"
    "  local h = redis.call('HMGET', 'canh:incident:' .. id, 'taxonomy', 'class', 'severity',\n"
    "                       'combined_id', 'province_id')\n"
    "  if not ((h[4] and is_open[h[4]]) or (h[5] and is_open[h[5]])) then\n"
    "    groups = groups + 1\n"
    "  end\n"
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
    "        redis.call('XLEN', 'canh:deadletter'), groups,\n"
    "        redis.call('ZCARD', 'canh:reports'), redis.call('ZCOUNT', 'canh:reports', '-inf', "
    "ARGV[4]),\n"
    "        redis.call('ZRANGE', 'canh:reports', 0, 99, 'WITHSCORES')}\n";

/* ---- reply helpers --------------------------------------------------- */

void status_snapshot_clear(struct snapshot *sn)
{
    free(sn->incidents_json);
    free(sn->agents_json);
    for (size_t i = 0; sn->agents && i < sn->n_agents; i++)
        json_decref(sn->agents[i].heartbeat);
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

/* The integer at obj.a.b (b may be NULL), or -1 when missing. */
static json_int_t json_int_at(json_t *obj, const char *a, const char *b)
{
    json_t *v = json_object_get(obj, a);
    if (b)
        v = json_object_get(v, b);
    return json_is_integer(v) ? json_integer_value(v) : -1;
}

/* ---- snapshot: incidents -------------------------------------------- */

/* A field of the hash, "" when absent. */
static const char *raw_field(const char *const *f, size_t n, const char *name)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        if (strcmp(f[i], name) == 0)
            return f[i + 1];
    return "";
}

/* The incident's state as the hash says it, whatever the value: "state"
 * when the lifecycle writes one, else the older "status". */
static const char *raw_state(const char *const *f, size_t n)
{
    const char *state = raw_field(f, n, "state");
    return state[0] ? state : raw_field(f, n, "status");
}

/* What the operators' actions wrote (common/ctl_scripts.c), for the
 * detail view: who acted last, the confirmed class, why rejected, and
 * how many identical findings the rejection suppressed since. */
static void operator_fields(json_t *o, const char *const *f, size_t n)
{
    static const char *const names[] = {"operator", "confirmed_class", "rejected_why"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *v = raw_field(f, n, names[i]);
        if (v[0])
            json_object_set_new(o, names[i], json_string(v));
    }
    const char *suppressed = raw_field(f, n, "suppressed");
    if (suppressed[0])
        json_object_set_new(o, "suppressed", json_integer(strtoll(suppressed, NULL, 10)));
}

/* An HGETALL reply as incident JSON plus the ages the page shows. */
json_t *status_incident_json(struct status *s, const redisReply *hash, uint64_t now_us)
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
            json_object_set_new(o, "state", json_string(raw_state(f, hash->elements)));
            operator_fields(o, f, hash->elements);
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
        json_t *o = status_incident_json(s, list->element[i], now_us);
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
            row->heartbeat = json_incref(hb);
            json_object_set_new(heartbeats, row->name, hb);
        }
    for (size_t i = 0; i < cfg->n_agents; i++)
        row_for(sn, cfg->agents[i]); /* listed but never heard from */
    return heartbeats;
}

/* ---- snapshot: the refresh ------------------------------------------ */

json_t *status_freshness(struct status *s, uint64_t now_us)
{
    char ts[64];
    bool up = redis_link_up(s->link);
    uint64_t age_us = s->snap.valid && now_us > s->snap.at_us ? now_us - s->snap.at_us : 0;
    /* A refresh a few intervals late is stale even with the link up (Redis
     * paused, a script refused). */
    bool stale = !s->snap.valid || !up || age_us > 3 * s->refresh_us + 2000000;
    json_t *o = json_object();
    if (s->snap.valid) {
        json_object_set_new(o, "at", json_string(units_format_time(s->snap.at_us, ts, sizeof(ts))));
        json_object_set_new(o, "at_ms", json_integer((json_int_t)(s->snap.at_us / 1000)));
        json_object_set_new(o, "age_s", json_real((double)age_us / 1e6));
    } else {
        json_object_set_new(o, "at", json_null());
    }
    json_object_set_new(o, "stale", json_boolean(stale));
    json_object_set_new(o, "redis_up", json_boolean(up));
    if (!up && s->redis_down_since_us) {
        json_object_set_new(o, "redis_down_since",
                            json_string(units_format_time(s->redis_down_since_us, ts, sizeof(ts))));
        json_object_set_new(o, "redis_down_since_ms",
                            json_integer((json_int_t)(s->redis_down_since_us / 1000)));
    }
    if (s->refresh_error[0])
        json_object_set_new(o, "error", json_string(s->refresh_error));
    return o;
}

char *status_dump(json_t *o)
{
    char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(o);
    return text;
}

/* The reports of Circular 20/2017 drafted and not yet marked sent
 * (collector/report_due.h), earliest deadline first. */
static json_t *reports_list(struct status *s, const redisReply *r, uint64_t now_us)
{
    json_t *a = json_array();
    uint64_t soon_us = report_due_soon_us(s->c->reports);
    char when[48];
    for (size_t i = 0; reply_is_array(r) && i + 1 < r->elements; i += 2) {
        const char *member = reply_str(r->element[i]);
        const char *slash = strchr(member, '/');
        uint64_t due_ms = (uint64_t)strtod(reply_str(r->element[i + 1]), NULL);
        if (!slash)
            continue;
        json_t *o = json_object();
        json_object_set_new(o, "id", json_stringn(member, (size_t)(slash - member)));
        json_object_set_new(o, "kind", json_string(slash + 1));
        json_object_set_new(o, "due",
                            json_string(units_format_time(due_ms * 1000, when, sizeof(when))));
        json_object_set_new(o, "due_ms", json_integer((json_int_t)due_ms));
        json_object_set_new(o, "overdue", json_boolean(due_ms * 1000 < now_us));
        json_object_set_new(
            o, "soon", json_boolean(due_ms * 1000 >= now_us && due_ms * 1000 < now_us + soon_us));
        json_array_append_new(a, o);
    }
    return a;
}

static void on_snapshot(redisReply *reply, void *priv)
{
    struct status *s = priv;
    s->refreshing = false;
    if (!reply) {
        snprintf(s->refresh_error, sizeof(s->refresh_error), "Redis connection lost");
        return;
    }
    if (!reply_is_array(reply) || reply->elements != 13) {
        s->refresh_errors++;
        snprintf(s->refresh_error, sizeof(s->refresh_error), "refresh failed: %s",
                 reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
        log_warn("status page: %s", s->refresh_error);
        return;
    }
    s->refresh_error[0] = '\0';
    uint64_t now_us = units_now_us();
    struct snapshot sn = {.valid = true, .at_us = now_us};
    char ts[64];
    units_format_time(now_us, ts, sizeof(ts));

    sn.open_total = reply_u64(reply->element[0]);
    take_counts(&sn, reply->element[2]);
    json_t *inc = json_object();
    json_object_set_new(inc, "generated", json_string(ts));
    sn.open_groups = reply_u64(reply->element[9]);
    json_object_set_new(inc, "open_total", json_integer((json_int_t)sn.open_total));
    json_object_set_new(inc, "open_groups", json_integer((json_int_t)sn.open_groups));
    json_object_set_new(inc, "open", incident_list(s, reply->element[1], now_us));
    json_object_set_new(inc, "recent", incident_list(s, reply->element[3], now_us));
    sn.reports_due = reply_u64(reply->element[10]);
    sn.reports_overdue = reply_u64(reply->element[11]);
    json_object_set_new(inc, "reports", reports_list(s, reply->element[12], now_us));
    sn.incidents_json = status_dump(inc);

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
    sn.agents_json = status_dump(agents);

    sn.queue_depth = reply_u64(reply->element[6]);
    const redisReply *sinks = reply->element[7];
    if (reply_is_array(sinks))
        for (size_t i = 0; i + 2 < sinks->elements; i += 3) {
            /* Jobs name their route ([route.soyte-admin]); count them
             * under that route's sink. */
            enum sink_id id;
            if (route_sink_of(s->c->cfg, reply_str(sinks->element[i]), &id) < 0)
                continue;
            sn.queue_jobs[id] += reply_u64(sinks->element[i + 1]);
            sn.queue_failing[id] += reply_u64(sinks->element[i + 2]);
        }
    sn.deadletter_len = reply_u64(reply->element[8]);
    if (!sn.incidents_json || !sn.agents_json) {
        s->refresh_errors++;
        status_snapshot_clear(&sn);
        return;
    }
    status_snapshot_clear(&s->snap);
    s->snap = sn;
    s->refreshes++;
}

void status_on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct status *s = arg;
    bool up = redis_link_up(s->link);
    if (!up && !s->redis_down_since_us)
        s->redis_down_since_us = units_now_us();
    else if (up)
        s->redis_down_since_us = 0;
    if (s->refreshing || !up)
        return;
    const struct collector_config *cfg = s->c->cfg;
    char max_open[16], recent[16], cap[16], now_ms[24];
    snprintf(max_open, sizeof(max_open), "%u", cfg->status_max_open);
    snprintf(recent, sizeof(recent), "%u", cfg->status_recent);
    snprintf(cap, sizeof(cap), "%d", SCAN_CAP);
    snprintf(now_ms, sizeof(now_ms), "%" PRIu64, units_now_us() / 1000);
    const char *argv[] = {"EVAL", status_lua, "0", max_open, recent, cap, now_ms};
    size_t lens[7];
    for (int i = 0; i < 7; i++)
        lens[i] = strlen(argv[i]);
    if (redis_link_command(s->link, COLLECTOR_CMD, on_snapshot, s, 7, argv, lens) == 0)
        s->refreshing = true;
}
