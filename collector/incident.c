/* incident.c — see incident.h. */
#include "collector/incident.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/config.h"
#include "collector/pool.h"
#include "common/event_text.h"
#include "common/text.h"
#include "common/units.h"

static const char *const type_names[] = {"finding", "combined", "province", "fault", "manual"};
static const char *const status_names[] = {"open", "escalated", "closed"};
static const char *const state_names[] = {"open",     "acknowledged", "confirmed",
                                          "rejected", "resolved",     "closed"};

const char *incident_type_name(enum incident_type t)
{
    return (unsigned)t < 5 ? type_names[t] : "finding";
}

const char *incident_state_name(enum incident_state s)
{
    return (unsigned)s < 6 ? state_names[s] : "open";
}

bool incident_in_operator_hands(const struct incident *inc)
{
    if (inc->state == STATE_ACKNOWLEDGED || inc->state == STATE_CONFIRMED)
        return true;
    return inc->type == INCIDENT_MANUAL && inc->state == STATE_OPEN;
}

const char *incident_status_name(enum incident_status s)
{
    return (unsigned)s < 3 ? status_names[s] : "open";
}

/* ---- comma lists ---------------------------------------------------- */

bool incident_list_contains(const char *list, const char *item, char sep)
{
    size_t n = strlen(item);
    for (const char *p = list; *p;) {
        const char *end = strchr(p, sep);
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && memcmp(p, item, n) == 0)
            return true;
        if (!end)
            break;
        p = end + 1;
    }
    return false;
}

size_t incident_list_count(const char *list, char sep)
{
    if (!*list)
        return 0;
    size_t n = 1;
    for (const char *p = list; *p; p++)
        n += *p == sep;
    return n;
}

bool incident_list_next(const char **p, char sep, char *item, size_t size)
{
    while (**p) {
        const char *s = *p, *end = strchr(s, sep);
        size_t len = end ? (size_t)(end - s) : strlen(s);
        *p = end ? end + 1 : s + len;
        if (len && len < size) {
            memcpy(item, s, len);
            item[len] = '\0';
            return true;
        }
    }
    return false;
}

bool incident_list_add(char *list, size_t size, const char *item, char sep, size_t max_items)
{
    if (!*item)
        return false;
    if (incident_list_contains(list, item, sep))
        return true;
    size_t used = strlen(list), n = strlen(item);
    if (incident_list_count(list, sep) >= max_items || used + n + 2 > size)
        return false;
    if (used)
        list[used++] = sep;
    memcpy(list + used, item, n + 1);
    return true;
}

/* ---- keys and ids --------------------------------------------------- */

void incident_key_for_event(const struct in_event *ev, char *buf, size_t len)
{
    int n = snprintf(buf, len, "f|%s|%s|%s|%s", ev->taxonomy->code, ev->src_ip ? ev->src_ip : "*",
                     ev->agency, ev->asset_name);
    if (n < 0 || (size_t)n >= len)
        return;
    if (ev->exercise)
        snprintf(buf + n, len - (size_t)n, "|x:%s", ev->exercise);
    else if (ev->drill_breach)
        snprintf(buf + n, len - (size_t)n, "|breach:%s", ev->drill_breach);
}

void incident_new_id(uint64_t now_us, uint32_t random, char *buf, size_t len)
{
    time_t secs = (time_t)(now_us / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char stamp[24];
    strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
    snprintf(buf, len, "%s-%08" PRIx32, stamp, random);
}

/* ---- lifecycle ------------------------------------------------------ */

bool incident_event_serious(const struct in_event *ev, const struct incident_policy *pol)
{
    return ev->serious &&
           (ev->national_critical || ev->level == 0 || ev->level >= pol->serious_level);
}

bool incident_accepts(const struct incident *inc, const struct in_event *ev,
                      const struct incident_policy *pol)
{
    /* Resolved or rejected by the SOC: a new attack is a new incident. */
    if (inc->status == INCIDENT_CLOSED || inc->state == STATE_RESOLVED ||
        inc->state == STATE_REJECTED || inc->type == INCIDENT_MANUAL)
        return false;
    /* Events may arrive out of order (spool replay, two collectors). */
    if (ev->ts_us + pol->window_us < inc->first_seen_us)
        return false;
    return ev->ts_us <= inc->last_seen_us + pol->window_us;
}

static void summarise(struct incident *inc, const struct in_event *ev)
{
    text_copy(inc->summary, sizeof(inc->summary), ev->kind);
    size_t used = strlen(inc->summary);
    const char *key;
    json_t *value;
    int shown = 0;
    json_t *objs[2] = {ev->evidence, ev->counters};
    for (int o = 0; o < 2; o++) {
        if (!json_is_object(objs[o]))
            continue;
        json_object_foreach(objs[o], key, value)
        {
            char text[96];
            if (json_is_integer(value))
                snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT, json_integer_value(value));
            else if (json_is_real(value))
                snprintf(text, sizeof(text), "%.3g", json_real_value(value));
            else if (json_is_string(value))
                snprintf(text, sizeof(text), "%.60s", json_string_value(value));
            else
                continue;
            if (shown == 6 || used + strlen(key) + strlen(text) + 3 >= sizeof(inc->summary))
                return;
            used += (size_t)snprintf(inc->summary + used, sizeof(inc->summary) - used, "%s%s=%s",
                                     shown ? " " : ": ", key, text);
            shown++;
        }
    }
}

/* The latest event's counters and evidence, as json_dumps of
 * {"counters": ..., "evidence": ...} (JSON_COMPACT) would write them, but
 * without building that tree: every event of a finding comes here.  The
 * text is what json_canon_is_dump() recognises, so each announcement
 * copies it (incident_text.c). */
static void keep_evidence(struct incident *inc, const struct in_event *ev)
{
    static _Thread_local struct event_text text;
    struct event_text_writer w;
    event_text_start(&w, &text, JSON_COMPACT);
    event_text_object(&w, NULL);
    event_text_value(&w, "counters", ev->counters);
    event_text_value(&w, "evidence", ev->evidence);
    event_text_object_end(&w);
    if (event_text_finish(&w) == 0 && text.len < sizeof(inc->evidence))
        memcpy(inc->evidence, text.buf, text.len + 1);
    else
        strcpy(inc->evidence, "{}");
}

/* In flight at once: up to a read batch of jobs, each with its loaded
 * and planned incidents; 256 blocks are 8.5 MiB at most. */
static _Thread_local struct pool incident_pool = POOL_INIT(sizeof(struct incident), 256);

struct incident *incident_new(void)
{
    return pool_get(&incident_pool);
}

void incident_free(struct incident *inc)
{
    pool_put(&incident_pool, inc);
}

void incident_clear(struct incident *inc)
{
    /* Field by field: a memset of the whole block writes 33 KiB an
     * event.  callgrind counted it as a sixth of the collector's
     * instructions (it counts every step of libc's `rep stos`, so the
     * share of time is smaller; docs/performance.md).  A field added to
     * struct incident must be cleared here: test_incident's
     * clear_is_zero fails when one the hash or JSON carries is not. */
    inc->id[0] = '\0';
    inc->type = INCIDENT_FINDING;
    inc->key[0] = '\0';
    inc->taxonomy = NULL;
    inc->kinds[0] = '\0';
    inc->agency[0] = '\0';
    inc->agents[0] = '\0';
    inc->asset[0] = '\0';
    inc->asset_owner[0] = '\0';
    inc->level = 0;
    inc->national_critical = false;
    inc->serious = false;
    inc->consequences[0] = '\0';
    inc->sensor = false;
    inc->confirmed = CONFIRMED_NONE;
    inc->severity = SEV_NONE;
    inc->sources[0] = '\0';
    inc->countries[0] = '\0';
    inc->targets[0] = '\0';
    inc->first_seen_us = inc->last_seen_us = 0;
    inc->opened_us = inc->updated_us = inc->closed_us = 0;
    inc->events = 0;
    inc->event_ids[0] = '\0';
    inc->children[0] = '\0';
    inc->combined_id[0] = '\0';
    inc->province_id[0] = '\0';
    inc->status = INCIDENT_OPEN;
    inc->state = STATE_OPEN;
    inc->sinks[0] = '\0';
    inc->ver = 0;
    inc->summary[0] = '\0';
    inc->evidence[0] = '\0';
    inc->pcaps[0] = '\0';
    inc->exercise[0] = '\0';
    inc->drill_breach[0] = '\0';
}

void incident_open_from_event(struct incident *inc, const char *id, const char *key,
                              const struct in_event *ev, const struct incident_policy *pol,
                              uint64_t now_us)
{
    incident_clear(inc);
    text_copy(inc->id, sizeof(inc->id), id);
    text_copy(inc->key, sizeof(inc->key), key);
    inc->type = INCIDENT_FINDING;
    inc->taxonomy = ev->taxonomy;
    text_copy(inc->agency, sizeof(inc->agency), ev->agency);
    text_copy(inc->asset, sizeof(inc->asset), ev->asset_name);
    snprintf(inc->asset_owner, sizeof(inc->asset_owner), "%s", ev->asset_owner);
    inc->first_seen_us = ev->first_seen_us < ev->ts_us ? ev->first_seen_us : ev->ts_us;
    inc->last_seen_us = ev->ts_us;
    inc->opened_us = now_us;
    inc->status = INCIDENT_OPEN;
    incident_add_event(inc, ev, pol, now_us);
}

void incident_add_event(struct incident *inc, const struct in_event *ev,
                        const struct incident_policy *pol, uint64_t now_us)
{
    uint64_t first = ev->first_seen_us < ev->ts_us ? ev->first_seen_us : ev->ts_us;
    uint64_t last = ev->last_seen_us > ev->ts_us ? ev->last_seen_us : ev->ts_us;
    if (first < inc->first_seen_us)
        inc->first_seen_us = first;
    if (last > inc->last_seen_us)
        inc->last_seen_us = last;
    inc->updated_us = now_us;
    inc->events++;
    if (ev->severity > inc->severity)
        inc->severity = ev->severity;
    if (incident_event_serious(ev, pol))
        inc->serious = true;
    if (ev->level > inc->level)
        inc->level = ev->level;
    inc->national_critical |= ev->national_critical;
    inc->sensor |= ev->sensor;
    if (ev->consequence != CONSEQ_NONE)
        incident_list_add(inc->consequences, sizeof(inc->consequences),
                          consequence_name(ev->consequence), ',', CONSEQ_COUNT);
    incident_list_add(inc->kinds, sizeof(inc->kinds), ev->kind, ',', INCIDENT_LIST_ITEMS);
    incident_list_add(inc->agents, sizeof(inc->agents), ev->agent, ',', INCIDENT_LIST_ITEMS);
    if (ev->src_ip)
        incident_list_add(inc->sources, sizeof(inc->sources), ev->src_ip, ',', INCIDENT_LIST_ITEMS);
    if (ev->src_country)
        incident_list_add(inc->countries, sizeof(inc->countries), ev->src_country, ',',
                          INCIDENT_LIST_ITEMS);
    if (ev->dest_ip)
        incident_list_add(inc->targets, sizeof(inc->targets), ev->dest_ip, ',',
                          INCIDENT_LIST_ITEMS);
    uint32_t cap =
        pol->max_event_ids < INCIDENT_MAX_EVENT_IDS ? pol->max_event_ids : INCIDENT_MAX_EVENT_IDS;
    incident_list_add(inc->event_ids, sizeof(inc->event_ids), ev->id, ',', cap);
    if (ev->pcap_file)
        incident_list_add(inc->pcaps, sizeof(inc->pcaps), ev->pcap_file, ',', INCIDENT_LIST_ITEMS);
    if (ev->exercise && !inc->exercise[0])
        text_copy(inc->exercise, sizeof(inc->exercise), ev->exercise);
    if (ev->drill_breach && !inc->drill_breach[0])
        text_copy(inc->drill_breach, sizeof(inc->drill_breach), ev->drill_breach);
    if (inc->type == INCIDENT_FINDING) {
        summarise(inc, ev);
        keep_evidence(inc, ev);
        if (inc->drill_breach[0]) {
            char kept[sizeof(inc->summary)];
            text_copy(kept, sizeof(kept), inc->summary);
            text_copy(inc->summary, sizeof(inc->summary), "VƯỢT PHẠM VI DIỄN TẬP ");
            size_t used = strlen(inc->summary);
            snprintf(inc->summary + used, sizeof(inc->summary) - used,
                     "%s (drill scope breach): ", inc->drill_breach);
            used = strlen(inc->summary);
            text_copy(inc->summary + used, sizeof(inc->summary) - used, kept);
        }
    }
}

/* ---- storage -------------------------------------------------------- */

static uint64_t to_u64(const char *s)
{
    return strtoull(s, NULL, 10);
}

static void copy_field(char *dst, size_t size, const char *value, size_t len)
{
    if (len >= size)
        len = size - 1;
    memcpy(dst, value, len);
    dst[len] = '\0';
}

int incident_from_fields(struct incident *inc, const char *const *fields, const size_t *lens,
                         size_t n)
{
    incident_clear(inc);
    bool saw_state = false;
    for (size_t i = 0; i + 1 < n; i += 2) {
        const char *f = fields[i], *v = fields[i + 1];
        size_t vl = lens[i + 1];
        char small[64];
        copy_field(small, sizeof(small), v, vl);
#define STR(name)                                                                                  \
    if (strcmp(f, #name) == 0) {                                                                   \
        copy_field(inc->name, sizeof(inc->name), v, vl);                                           \
        continue;                                                                                  \
    }
        STR(id)
        STR(key)
        STR(kinds)
        STR(agency)
        STR(agents)
        STR(asset)
        STR(asset_owner)
        STR(sources)
        STR(countries)
        STR(targets)
        STR(event_ids)
        STR(children)
        STR(combined_id)
        STR(province_id)
        STR(summary)
        STR(evidence)
        STR(pcaps)
        STR(consequences)
        STR(exercise)
        STR(drill_breach)
#undef STR
        if (strcmp(f, "type") == 0) {
            for (int t = 0; t < 5; t++)
                if (strcmp(small, type_names[t]) == 0)
                    inc->type = (enum incident_type)t;
        } else if (strcmp(f, "status") == 0) {
            for (int s = 0; s < 3; s++)
                if (strcmp(small, status_names[s]) == 0)
                    inc->status = (enum incident_status)s;
            /* Hashes written before the lifecycle existed have no state. */
            if (inc->status == INCIDENT_CLOSED && !saw_state)
                inc->state = STATE_CLOSED;
        } else if (strcmp(f, "state") == 0) {
            saw_state = true;
            inc->state = STATE_OPEN;
            for (int s = 0; s < 6; s++)
                if (strcmp(small, state_names[s]) == 0)
                    inc->state = (enum incident_state)s;
        } else if (strcmp(f, "taxonomy") == 0) {
            inc->taxonomy = taxonomy_find(small);
        } else if (strcmp(f, "severity") == 0) {
            severity_parse(small, &inc->severity);
        } else if (strcmp(f, "class") == 0) {
            inc->serious = strcmp(small, "serious_candidate") == 0;
        } else if (strcmp(f, "level") == 0) {
            inc->level = atoi(small);
        } else if (strcmp(f, "national_critical") == 0) {
            inc->national_critical = strcmp(small, "1") == 0;
        } else if (strcmp(f, "confirmed_class") == 0) {
            inc->confirmed = strcmp(small, "serious") == 0  ? CONFIRMED_SERIOUS
                             : strcmp(small, "normal") == 0 ? CONFIRMED_NORMAL
                                                            : CONFIRMED_NONE;
        } else if (strcmp(f, "sensor") == 0) {
            inc->sensor = strcmp(small, "1") == 0;
        } else if (strcmp(f, "first_seen_us") == 0) {
            inc->first_seen_us = to_u64(small);
        } else if (strcmp(f, "last_seen_us") == 0) {
            inc->last_seen_us = to_u64(small);
        } else if (strcmp(f, "opened_us") == 0) {
            inc->opened_us = to_u64(small);
        } else if (strcmp(f, "updated_us") == 0) {
            inc->updated_us = to_u64(small);
        } else if (strcmp(f, "closed_us") == 0) {
            inc->closed_us = to_u64(small);
        } else if (strcmp(f, "events") == 0) {
            inc->events = to_u64(small);
        } else if (strcmp(f, "ver") == 0) {
            inc->ver = to_u64(small);
        } else if (strcmp(f, "sinks") == 0) {
            copy_field(inc->sinks, sizeof(inc->sinks), v, vl);
        }
    }
    if (!inc->id[0] || !inc->taxonomy)
        return -1;
    return 0;
}

void incident_to_fields(const struct incident *inc,
                        void (*add)(void *user, const char *field, const char *value), void *user)
{
    char buf[64];
#define U64(name)                                                                                  \
    text_append_u64(buf, sizeof(buf), 0, inc->name, 1);                                            \
    add(user, #name, buf);
    add(user, "id", inc->id);
    add(user, "type", incident_type_name(inc->type));
    add(user, "key", inc->key);
    add(user, "taxonomy", inc->taxonomy->code);
    add(user, "taxonomy_vi", inc->taxonomy->vi);
    add(user, "taxonomy_en", inc->taxonomy->en);
    add(user, "kinds", inc->kinds);
    add(user, "class", inc->serious ? "serious_candidate" : "normal");
    add(user, "severity", severity_name(inc->severity));
    add(user, "agency", inc->agency);
    add(user, "agents", inc->agents);
    add(user, "asset", inc->asset);
    add(user, "asset_owner", inc->asset_owner);
    snprintf(buf, sizeof(buf), "%d", inc->level);
    add(user, "level", buf);
    add(user, "national_critical", inc->national_critical ? "1" : "0");
    add(user, "consequences", inc->consequences);
    add(user, "sensor", inc->sensor ? "1" : "0");
    add(user, "sources", inc->sources);
    add(user, "countries", inc->countries);
    add(user, "targets", inc->targets);
    add(user, "first_seen", units_format_time(inc->first_seen_us, buf, sizeof(buf)));
    add(user, "last_seen", units_format_time(inc->last_seen_us, buf, sizeof(buf)));
    U64(first_seen_us)
    U64(last_seen_us)
    U64(opened_us)
    U64(updated_us)
    U64(closed_us)
    U64(events)
    U64(ver)
    add(user, "event_ids", inc->event_ids);
    add(user, "children", inc->children);
    add(user, "status", incident_status_name(inc->status));
    add(user, "state", incident_state_name(inc->state));
    add(user, "sinks", inc->sinks);
    add(user, "summary", inc->summary);
    add(user, "evidence", inc->evidence[0] ? inc->evidence : "{}");
    add(user, "pcaps", inc->pcaps);
    if (inc->exercise[0])
        add(user, "exercise", inc->exercise);
    if (inc->drill_breach[0])
        add(user, "drill_breach", inc->drill_breach);
#undef U64
}

static json_t *list_json(const char *list, char sep)
{
    json_t *a = json_array();
    for (const char *p = list; *p;) {
        const char *end = strchr(p, sep);
        size_t len = end ? (size_t)(end - p) : strlen(p);
        json_array_append_new(a, json_stringn(p, len));
        if (!end)
            break;
        p = end + 1;
    }
    return a;
}

static json_t *time_json(uint64_t us)
{
    char buf[48];
    return us ? json_string(units_format_time(us, buf, sizeof(buf))) : json_null();
}

json_t *incident_to_json(const struct incident *inc)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(inc->id));
    json_object_set_new(o, "type", json_string(incident_type_name(inc->type)));
    json_t *t = json_object();
    json_object_set_new(t, "code", json_string(inc->taxonomy->code));
    json_object_set_new(t, "vi", json_string(inc->taxonomy->vi));
    json_object_set_new(t, "en", json_string(inc->taxonomy->en));
    json_object_set_new(o, "taxonomy", t);
    json_object_set_new(o, "kinds", list_json(inc->kinds, ','));
    json_object_set_new(o, "class", json_string(inc->serious ? "serious_candidate" : "normal"));
    json_object_set_new(o, "severity", json_string(severity_name(inc->severity)));
    json_object_set_new(o, "status", json_string(incident_status_name(inc->status)));
    json_object_set_new(o, "state", json_string(incident_state_name(inc->state)));
    if (inc->type == INCIDENT_PROVINCE)
        json_object_set_new(o, "agencies", list_json(inc->agency, '|'));
    json_object_set_new(o, "agency", json_string(inc->agency));
    json_object_set_new(o, "agents", list_json(inc->agents, ','));
    json_t *a = json_object();
    json_object_set_new(a, "name", json_string(inc->asset));
    json_object_set_new(a, "owner", json_string(inc->asset_owner));
    json_object_set_new(a, "level", json_integer(inc->level));
    json_object_set_new(a, "national_critical", json_boolean(inc->national_critical));
    json_object_set_new(o, "asset", a);
    json_object_set_new(o, "consequences", list_json(inc->consequences, ','));
    json_object_set_new(o, "sensor", json_boolean(inc->sensor));
    json_object_set_new(o, "sources", list_json(inc->sources, ','));
    json_object_set_new(o, "countries", list_json(inc->countries, ','));
    json_object_set_new(o, "targets", list_json(inc->targets, ','));
    json_object_set_new(o, "first_seen", time_json(inc->first_seen_us));
    json_object_set_new(o, "last_seen", time_json(inc->last_seen_us));
    json_object_set_new(o, "opened", time_json(inc->opened_us));
    json_object_set_new(o, "closed", time_json(inc->closed_us));
    json_object_set_new(o, "events", json_integer((json_int_t)inc->events));
    json_object_set_new(o, "event_ids", list_json(inc->event_ids, ','));
    json_object_set_new(o, "children", list_json(inc->children, ','));
    if (inc->combined_id[0])
        json_object_set_new(o, "combined_id", json_string(inc->combined_id));
    if (inc->province_id[0])
        json_object_set_new(o, "province_id", json_string(inc->province_id));
    json_object_set_new(o, "summary", json_string(inc->summary));
    json_t *ev = json_loads(inc->evidence[0] ? inc->evidence : "{}", 0, NULL);
    json_object_set_new(o, "evidence", ev ? ev : json_object());
    json_object_set_new(o, "pcaps", list_json(inc->pcaps, ','));
    if (inc->exercise[0])
        json_object_set_new(o, "exercise", json_string(inc->exercise));
    if (inc->drill_breach[0])
        json_object_set_new(o, "drill_breach", json_string(inc->drill_breach));
    return o;
}
