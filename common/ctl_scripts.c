/* ctl_scripts.c — see ctl_scripts.h.  Each script is the shared helpers,
 * then (transitions) the incident loaded from KEYS[1], then its own body. */
#include "common/ctl_scripts.h"
#include "common/slug.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define CTL_HELPERS                                                                                \
    "local operator, now, maxlen, id, note, extra = ARGV[1], tonumber(ARGV[2]), ARGV[3], "         \
    "ARGV[4], ARGV[5], ARGV[6]\n"                                                                  \
    "local function split(s, sep)\n"                                                               \
    "  local out = {}\n"                                                                           \
    "  if s and s ~= '' then\n"                                                                    \
    "    for item in string.gmatch(s, '([^' .. sep .. ']+)') do out[#out + 1] = item end\n"        \
    "  end\n"                                                                                      \
    "  return out\n"                                                                               \
    "end\n"                                                                                        \
    "-- Transitions: KEYS[11..] are a job key per route that carries the incident\n"               \
    "-- (ARGV[7] of them), then the streams canh:incidents:<agency key> of its agencies.\n"        \
    "local job_keys, agency_keys = {}, {}\n"                                                       \
    "local function load()\n"                                                                      \
    "  local f = redis.call('HGETALL', KEYS[1])\n"                                                 \
    "  if #f == 0 then return nil end\n"                                                           \
    "  local h = {}\n"                                                                             \
    "  for i = 1, #f, 2 do h[f[i]] = f[i + 1] end\n"                                               \
    "  if not h.state then\n"                                                                      \
    "    if h.status == 'closed' then h.state = 'closed' else h.state = 'open' end\n"              \
    "  end\n"                                                                                      \
    "  return h\n"                                                                                 \
    "end\n"                                                                                        \
    "local function incident_json(h)\n"                                                            \
    "  local j = {id = h.id, type = h.type,\n"                                                     \
    "    taxonomy = {code = h.taxonomy, vi = h.taxonomy_vi, en = h.taxonomy_en},\n"                \
    "    kinds = split(h.kinds, ','), class = h.class, severity = h.severity,\n"                   \
    "    status = h.status, state = h.state, agency = h.agency, agents = split(h.agents, ','),\n"  \
    "    asset = {name = h.asset or '', owner = h.asset_owner or '', level = tonumber(h.level) "   \
    "or 0},\n"                                                                                     \
    "    sources = split(h.sources, ','), targets = split(h.targets, ','),\n"                      \
    "    first_seen = h.first_seen, last_seen = h.last_seen, events = tonumber(h.events) or 0,\n"  \
    "    children = split(h.children, ','), summary = h.summary or '', operator = h.operator,\n"   \
    "    confirmed_class = h.confirmed_class, combined_id = h.combined_id}\n"                      \
    "  return cjson.encode(j)\n"                                                                   \
    "end\n"                                                                                        \
    "local function announce(h, action, changes)\n"                                                \
    "  local f = {'action', action, 'id', h.id, 'incident', incident_json(h), 'operator', "        \
    "operator}\n"                                                                                  \
    "  if note ~= '' then f[#f + 1] = 'note' f[#f + 1] = note end\n"                               \
    "  if changes and changes ~= '' then f[#f + 1] = 'changes' f[#f + 1] = changes end\n"          \
    "  redis.call('XADD', KEYS[3], 'MAXLEN', '~', maxlen, '*', unpack(f))\n"                       \
    "  for _, k in ipairs(agency_keys) do\n"                                                       \
    "    redis.call('XADD', k, 'MAXLEN', '~', maxlen, '*', unpack(f))\n"                           \
    "  end\n"                                                                                      \
    "  redis.call('XADD', KEYS[2], '*', 'action', action, 'operator', operator, 'state', "         \
    "h.state,\n"                                                                                   \
    "             'note', note)\n"                                                                 \
    "end\n"                                                                                        \
    "-- Routes that carry the incident hear of the action; each route's actions\n"                 \
    "-- and states filters decide at delivery (report drafts: escalated only).\n"                  \
    "local function tell_sinks(h, action)\n"                                                       \
    "  local sinks = split(h.sinks, ',')\n"                                                        \
    "  for _, key in ipairs(job_keys) do\n"                                                        \
    "    local route = string.match(key, '^canh:escalation:[^/]+/([^/]+)/')\n"                     \
    "    for _, s in ipairs(sinks) do\n"                                                           \
    "      if s == route then\n"                                                                   \
    "        redis.call('HSET', key, 'sink', route, 'incident', h.id, 'action', action,\n"         \
    "                   'created_ms', tostring(now), 'attempts', '0', 'note', note)\n"             \
    "        redis.call('ZADD', KEYS[6], now, string.sub(key, 17))\n"                              \
    "      end\n"                                                                                  \
    "    end\n"                                                                                    \
    "  end\n"                                                                                      \
    "end\n"                                                                                        \
    "-- Changes the hash; the bumped ver makes a collector's guarded write retry.\n"               \
    "local function set(h, fields)\n"                                                              \
    "  fields[#fields + 1] = 'operator' fields[#fields + 1] = operator\n"                          \
    "  fields[#fields + 1] = 'updated_us' fields[#fields + 1] = tostring(now) .. '000'\n"          \
    "  redis.call('HSET', KEYS[1], unpack(fields))\n"                                              \
    "  for i = 1, #fields, 2 do h[fields[i]] = fields[i + 1] end\n"                                \
    "  h.ver = redis.call('HINCRBY', KEYS[1], 'ver', 1)\n"                                         \
    "end\n"                                                                                        \
    "local function refuse(h, verb, why)\n"                                                        \
    "  return redis.error_reply('BADSTATE cannot ' .. verb .. ' incident ' .. id .. ': it is ' "   \
    "..\n"                                                                                         \
    "                           h.state .. why)\n"                                                 \
    "end\n"                                                                                        \
    "local function listed(h) redis.call('ZADD', KEYS[5], now, h.id) end\n"                        \
    "local function unlisted(h)\n"                                                                 \
    "  redis.call('ZREM', KEYS[5], h.id)\n"                                                        \
    "  if h.key and redis.call('HGET', KEYS[4], h.key) == h.id then redis.call('HDEL', KEYS[4], "  \
    "h.key) end\n"                                                                                 \
    "end\n"                                                                                        \
    "-- The findings an incident stands for: kind|source|target (target: its asset,\n"             \
    "-- else each destination), the identity collector/process.c matches events on.\n"             \
    "local function identities(h)\n"                                                               \
    "  local kinds, sources, targets = split(h.kinds, ','), split(h.sources, ','), "               \
    "split(h.targets, ',')\n"                                                                      \
    "  if #sources == 0 then sources = {'*'} end\n"                                                \
    "  if h.asset and h.asset ~= '' then targets = {h.asset} elseif #targets == 0 then targets = " \
    "{'*'} end\n"                                                                                  \
    "  local out = {}\n"                                                                           \
    "  for _, k in ipairs(kinds) do\n"                                                             \
    "    for _, s in ipairs(sources) do\n"                                                         \
    "      for _, t in ipairs(targets) do out[#out + 1] = k .. '|' .. s .. '|' .. t end\n"         \
    "    end\n"                                                                                    \
    "  end\n"                                                                                      \
    "  return out\n"                                                                               \
    "end\n"

#define CTL_LOAD                                                                                   \
    "local n_jobs = tonumber(ARGV[7]) or 0\n"                                                      \
    "for k = 11, 10 + n_jobs do job_keys[#job_keys + 1] = KEYS[k] end\n"                           \
    "for k = 11 + n_jobs, #KEYS do agency_keys[#agency_keys + 1] = KEYS[k] end\n"                  \
    "local h = load()\n"                                                                           \
    "if not h then return redis.error_reply('NOINCIDENT no incident ' .. id) end\n"

const char ctl_ack_lua[] = CTL_HELPERS CTL_LOAD
    "if h.state ~= 'open' and h.state ~= 'closed' then return refuse(h, 'acknowledge', '') end\n"
    "set(h, {'state', 'acknowledged'})\n"
    "listed(h)\n"
    "announce(h, 'acknowledged')\n"
    "tell_sinks(h, 'acknowledged')\n"
    "return h.state\n";

const char ctl_confirm_lua[] =
    CTL_HELPERS CTL_LOAD "if extra ~= 'normal' and extra ~= 'serious' then\n"
                         "  return redis.error_reply('ERR the class is normal or serious')\n"
                         "end\n"
                         "if h.state == 'rejected' or h.state == 'resolved' then\n"
                         "  return refuse(h, 'confirm', '; reopen it first')\n"
                         "end\n"
                         "if h.state == 'confirmed' and h.confirmed_class == extra then\n"
                         "  return refuse(h, 'confirm', ' as ' .. extra .. ' already')\n"
                         "end\n"
                         "local changes = ''\n"
                         "if h.confirmed_class and h.confirmed_class ~= extra then\n"
                         "  changes = 'class ' .. h.confirmed_class .. '→' .. extra\n"
                         "end\n"
                         "set(h, {'state', 'confirmed', 'confirmed_class', extra})\n"
                         "-- The collector decides whether a report is due (its policy).\n"
                         "redis.call('ZADD', KEYS[9], now, id .. '/initial')\n"
                         "listed(h)\n"
                         "announce(h, 'confirmed', changes)\n"
                         "tell_sinks(h, 'confirmed')\n"
                         "return h.state\n";

const char ctl_reject_lua[] = CTL_HELPERS CTL_LOAD
    "if h.state == 'rejected' or h.state == 'resolved' then\n"
    "  return refuse(h, 'reject', '; reopen it first')\n"
    "end\n"
    "set(h, {'state', 'rejected', 'status', 'closed', 'closed_us', tostring(now) .. '000',\n"
    "        'rejected_why', note})\n"
    "unlisted(h)\n"
    "-- A drill's incident (docs/drills.md) suppresses nothing and is no\n"
    "-- false positive: else the red team's later traffic, a scope breach,\n"
    "-- would be suppressed.\n"
    "local drill = h.exercise and h.exercise ~= ''\n"
    "local ids = {}\n"
    "if not drill then ids = identities(h) end\n"
    "for _, f in ipairs(ids) do\n"
    "  redis.call('HSET', KEYS[7], f, tostring(now) .. ' ' .. h.id .. ' ' .. operator)\n"
    "end\n"
    "if not drill then\n"
    "  for _, k in ipairs(split(h.kinds, ',')) do redis.call('HINCRBY', KEYS[8], 'rejected:' .. k, "
    "1) end\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'suppressions', tostring(#ids))\n"
    "announce(h, 'rejected', #ids .. ' finding(s) suppressed')\n"
    "tell_sinks(h, 'rejected')\n"
    "return h.state\n";

const char ctl_resolve_lua[] = CTL_HELPERS CTL_LOAD
    "if h.state == 'rejected' then\n"
    "  return refuse(h, 'resolve', ' (a false positive); reopen it first')\n"
    "end\n"
    "if h.state ~= 'acknowledged' and h.state ~= 'confirmed' then\n"
    "  return refuse(h, 'resolve', '; acknowledge or confirm it first')\n"
    "end\n"
    "local was = h.state\n"
    "set(h, {'state', 'resolved', 'status', 'closed', 'closed_us', tostring(now) .. '000'})\n"
    "if was == 'confirmed' then redis.call('ZADD', KEYS[9], now, id .. '/final') end\n"
    "unlisted(h)\n"
    "announce(h, 'resolved')\n"
    "tell_sinks(h, 'resolved')\n"
    "return h.state\n";

const char ctl_note_lua[] = CTL_HELPERS CTL_LOAD
    "if note == '' then return redis.error_reply('ERR a note needs text') end\n"
    "announce(h, 'noted')\n"
    "return h.state\n";

const char ctl_reopen_lua[] = CTL_HELPERS CTL_LOAD
    "if h.state ~= 'rejected' and h.state ~= 'resolved' and h.state ~= 'closed' then\n"
    "  return refuse(h, 'reopen', '; only rejected, resolved or closed incidents reopen')\n"
    "end\n"
    "local lifted = 0\n"
    "if h.state == 'rejected' then\n"
    "  for _, f in ipairs(identities(h)) do\n"
    "    local v = redis.call('HGET', KEYS[7], f)\n"
    "    if v and split(v, ' ')[2] == h.id then\n"
    "      redis.call('HDEL', KEYS[7], f)\n"
    "      lifted = lifted + 1\n"
    "    end\n"
    "  end\n"
    "end\n"
    "local status = 'open'\n"
    "if h.sinks and h.sinks ~= '' then status = 'escalated' end\n"
    "set(h, {'state', 'open', 'status', status, 'closed_us', '0', 'suppressions', '0'})\n"
    "listed(h)\n"
    "local changes = ''\n"
    "if lifted > 0 then changes = lifted .. ' suppression(s) lifted' end\n"
    "announce(h, 'reopened', changes)\n"
    "tell_sinks(h, 'reopened')\n"
    "return h.state\n";

const char ctl_report_sent_lua[] = CTL_HELPERS CTL_LOAD
    "if extra ~= 'initial' and extra ~= 'final' then\n"
    "  return redis.error_reply('ERR the kind is initial or final')\n"
    "end\n"
    "local due, sent = h['report_' .. extra .. '_due_us'], h['report_' .. extra .. '_sent_us']\n"
    "if not due or due == '' then\n"
    "  return redis.error_reply('BADSTATE no ' .. extra .. ' report of incident ' .. id ..\n"
    "    ' has been drafted (the collector drafts it once the incident is ' ..\n"
    "    (extra == 'initial' and 'confirmed serious' or 'resolved') .. ')')\n"
    "end\n"
    "if sent and sent ~= '' and sent ~= '0' then\n"
    "  return refuse(h, 'mark the ' .. extra .. ' report of', '; it was marked sent already')\n"
    "end\n"
    "set(h, {'report_' .. extra .. '_sent_us', tostring(now) .. '000', 'report_' .. extra .. "
    "'_number', note})\n"
    "redis.call('ZREM', KEYS[10], id .. '/' .. extra)\n"
    "local label = 'Báo cáo kết thúc ứng phó sự cố'\n"
    "if extra == 'initial' then label = 'Báo cáo ban đầu sự cố mạng' end\n"
    "if note ~= '' then label = label .. ' số ' .. note end\n"
    "note = label .. ' đã gửi'\n"
    "announce(h, 'report_sent')\n"
    "return h.state\n";

/* The open script announces through the same helpers; its KEYS[3] is
 * canh:incidents, KEYS[4] canh:open and KEYS[5..] its agencies' streams
 * (no load: the id is new). */
const char ctl_open_lua[] = CTL_HELPERS
    "for k = 5, #KEYS do agency_keys[#agency_keys + 1] = KEYS[k] end\n"
    "if redis.call('EXISTS', KEYS[1]) == 1 then\n"
    "  return redis.error_reply('BADSTATE incident ' .. id .. ' exists already')\n"
    "end\n"
    "local us, iso = tostring(now) .. '000', ARGV[12]\n"
    "local h = {id = id, type = 'manual', key = 'manual|' .. id, taxonomy = ARGV[7],\n"
    "  taxonomy_vi = ARGV[8], taxonomy_en = ARGV[9], kinds = 'manual', class = 'normal',\n"
    "  severity = ARGV[10], agency = ARGV[6], agents = '', asset = '', asset_owner = '', level = "
    "'0',\n"
    "  sources = '', targets = ARGV[11], first_seen = iso, last_seen = iso, first_seen_us = us,\n"
    "  last_seen_us = us, opened_us = us, updated_us = us, closed_us = '0', events = '0', ver = "
    "'1',\n"
    "  event_ids = '', children = '', status = 'open', state = 'open', sinks = '',\n"
    "  summary = ARGV[5], evidence = '{}', operator = operator, reporter = operator}\n"
    "local f = {}\n"
    "for k, v in pairs(h) do f[#f + 1] = k f[#f + 1] = v end\n"
    "redis.call('HSET', KEYS[1], unpack(f))\n"
    "redis.call('ZADD', KEYS[4], now, id)\n"
    "note = ARGV[5]\n"
    "announce(h, 'opened')\n"
    "return h.state\n";

/* A report's due-date reminder, announced once per report and stage by
 * the collector (collector/report_due.c): extra is the report's kind,
 * note says which report and when it is due. */
#define CTL_REMIND(stage)                                                                          \
    CTL_HELPERS CTL_LOAD                                                                           \
        "if extra ~= 'initial' and extra ~= 'final' then\n"                                        \
        "  return redis.error_reply('ERR the kind is initial or final')\n"                         \
        "end\n"                                                                                    \
        "local k = 'report_' .. extra\n"                                                           \
        "local flag, sent = k .. '_reminded_" stage "', h[k .. '_sent_us']\n"                      \
        "if not h[k .. '_due_us'] or (sent and sent ~= '' and sent ~= '0') then return 0 end\n"    \
        "if h[flag] and h[flag] ~= '' then return 0 end\n"                                         \
        "redis.call('HSET', KEYS[1], flag, tostring(now) .. '000')\n"                              \
        "announce(h, 'report_" stage "')\n"                                                        \
        "tell_sinks(h, 'report_" stage "')\n"                                                      \
        "return 1\n"

const struct ctl_action ctl_remind_due_soon = {"remind", "report_due_soon", CTL_REMIND("due_soon")};
const struct ctl_action ctl_remind_overdue = {"remind", "report_overdue", CTL_REMIND("overdue")};

static const struct ctl_action actions[] = {
    {"ack", "acknowledged", ctl_ack_lua},
    {"confirm", "confirmed", ctl_confirm_lua},
    {"reject", "rejected", ctl_reject_lua},
    {"resolve", "resolved", ctl_resolve_lua},
    {"note", "noted", ctl_note_lua},
    {"reopen", "reopened", ctl_reopen_lua},
    {"report", "report_sent", ctl_report_sent_lua},
};

const struct ctl_action *ctl_action_find(const char *verb)
{
    for (size_t i = 0; verb && i < sizeof(actions) / sizeof(actions[0]); i++)
        if (strcmp(verb, actions[i].verb) == 0)
            return &actions[i];
    return NULL;
}

void ctl_transition_call(struct ctl_call *call, const struct ctl_action *a, const char *id,
                         const char *operator_name, const char *note, const char *extra,
                         const char *routes, const char *agencies, uint64_t now_ms, uint64_t maxlen)
{
    size_t len = sizeof(call->keys[0]);
    snprintf(call->now_text, sizeof(call->now_text), "%" PRIu64, now_ms);
    snprintf(call->maxlen_text, sizeof(call->maxlen_text), "%" PRIu64, maxlen);
    snprintf(call->keys[CTL_KEY_INCIDENT], len, "canh:incident:%s", id);
    snprintf(call->keys[CTL_KEY_LOG], len, "canh:log:%s", id);
    snprintf(call->keys[CTL_KEY_INCIDENTS], len, "canh:incidents");
    snprintf(call->keys[CTL_KEY_IKEYS], len, "canh:ikeys");
    snprintf(call->keys[CTL_KEY_OPEN], len, "canh:open");
    snprintf(call->keys[CTL_KEY_ESCALATIONS], len, "canh:escalations");
    snprintf(call->keys[CTL_KEY_SUPPRESSIONS], len, "canh:suppressions");
    snprintf(call->keys[CTL_KEY_FALSE_POS], len, "canh:false_positives");
    snprintf(call->keys[CTL_KEY_REPORT_QUEUE], len, "canh:report_queue");
    snprintf(call->keys[CTL_KEY_REPORTS], len, "canh:reports");
    size_t n_keys = CTL_KEY_COUNT, n_jobs = 0;
    char list[4096];
    snprintf(list, sizeof(list), "%s", routes ? routes : "");
    for (char *save = NULL, *t = strtok_r(list, ",", &save);
         t && n_keys < CTL_KEY_COUNT + CTL_MAX_EXTRA_KEYS; t = strtok_r(NULL, ",", &save)) {
        /* One delivery id per action, so a receiver's de-duplication keeps it. */
        snprintf(call->keys[n_keys++], len, "canh:escalation:%s/%s/%s-%s", id, t, a->name,
                 call->now_text);
        n_jobs++;
    }
    snprintf(list, sizeof(list), "%s", agencies ? agencies : "");
    for (char *save = NULL, *t = strtok_r(list, "|", &save);
         t && n_keys < CTL_KEY_COUNT + CTL_MAX_EXTRA_KEYS; t = strtok_r(NULL, "|", &save))
        slug_incident_stream(t, call->keys[n_keys++], len);
    snprintf(call->nkeys, sizeof(call->nkeys), "%zu", n_keys);
    snprintf(call->njobs, sizeof(call->njobs), "%zu", n_jobs);
    int n = 0;
    call->argv[n++] = "EVAL";
    call->argv[n++] = a->script;
    call->argv[n++] = call->nkeys;
    for (size_t k = 0; k < n_keys; k++)
        call->argv[n++] = call->keys[k];
    call->argv[n++] = operator_name;
    call->argv[n++] = call->now_text;
    call->argv[n++] = call->maxlen_text;
    call->argv[n++] = id;
    call->argv[n++] = note ? note : "";
    call->argv[n++] = extra ? extra : "";
    call->argv[n++] = call->njobs;
    call->argc = n;
}
