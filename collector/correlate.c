/* correlate.c — see correlate.h.
 *
 * Entry encoding in canh:src:<address>: field "<agency>|<taxonomy code>",
 * value "<incident id>|<last seen us>|<kind>|<severity>|<0/1 serious>|
 * <level>|<events>|<agent>" (the agent since issue 19: older entries have
 * seven parts), plus the field "ver".  Agencies and kinds never hold
 * '|' (ingest refuses such events).
 */
#include "collector/correlate.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/pool.h"
#include "common/text.h"
#include "common/units.h"

static bool in_window(uint64_t a, uint64_t b, uint64_t window)
{
    return (a > b ? a - b : b - a) <= window;
}

static int parse_entry(struct corr_entry *e, const char *field, size_t flen, const char *value,
                       size_t vlen)
{
    char f[256], v[256];
    if (flen >= sizeof(f) || vlen >= sizeof(v))
        return -1;
    memcpy(f, field, flen);
    f[flen] = '\0';
    memcpy(v, value, vlen);
    v[vlen] = '\0';
    char *bar = strrchr(f, '|');
    if (!bar)
        return -1;
    *bar = '\0';
    memset(e, 0, sizeof(*e));
    text_copy(e->agency, sizeof(e->agency), f);
    e->taxonomy = taxonomy_find(bar + 1);
    char *parts[8] = {0};
    char *save = NULL, *tok = strtok_r(v, "|", &save);
    for (int i = 0; i < 8 && tok; i++, tok = strtok_r(NULL, "|", &save))
        parts[i] = tok;
    if (!e->taxonomy || !parts[6])
        return -1;
    snprintf(e->incident_id, sizeof(e->incident_id), "%s", parts[0]);
    e->last_seen_us = strtoull(parts[1], NULL, 10);
    text_copy(e->kind, sizeof(e->kind), parts[2]);
    if (severity_parse(parts[3], &e->severity) < 0)
        e->severity = SEV_LOW;
    e->serious = parts[4][0] == '1';
    e->level = atoi(parts[5]);
    e->events = strtoull(parts[6], NULL, 10);
    if (parts[7])
        text_copy(e->agent, sizeof(e->agent), parts[7]);
    return 0;
}

static _Thread_local struct pool corr_pool = POOL_INIT(sizeof(struct corr_state), 128);

struct corr_state *corr_state_new(void)
{
    return pool_get(&corr_pool);
}

void corr_state_free(struct corr_state *st)
{
    pool_put(&corr_pool, st);
}

void corr_state_copy(struct corr_state *dst, const struct corr_state *src)
{
    size_t n = src->n < CORR_MAX_ENTRIES ? src->n : CORR_MAX_ENTRIES;
    memcpy(dst->v, src->v, n * sizeof(src->v[0]));
    dst->n = src->n;
    dst->ver = src->ver;
}

void corr_state_from_fields(struct corr_state *st, const char *const *fields, const size_t *lens,
                            size_t n)
{
    st->n = 0; /* entries are written as they are parsed (25 KiB not zeroed) */
    st->ver = 0;
    for (size_t i = 0; i + 1 < n; i += 2) {
        if (lens[i] == 3 && memcmp(fields[i], "ver", 3) == 0) {
            char buf[32];
            size_t l = lens[i + 1] < sizeof(buf) - 1 ? lens[i + 1] : sizeof(buf) - 1;
            memcpy(buf, fields[i + 1], l);
            buf[l] = '\0';
            st->ver = strtoull(buf, NULL, 10);
            continue;
        }
        if (st->n < CORR_MAX_ENTRIES &&
            parse_entry(&st->v[st->n], fields[i], lens[i], fields[i + 1], lens[i + 1]) == 0)
            st->n++;
    }
}

/* "|" and s after value[0..at), cut at size - 1 as snprintf cuts. */
static size_t then(char *value, size_t size, size_t at, const char *s)
{
    at = text_append(value, size, at, "|", 1);
    return text_append(value, size, at, s, strlen(s));
}

void corr_state_to_fields(const struct corr_state *st,
                          void (*add)(void *user, const char *field, const char *value), void *user)
{
    char field[256], value[256], num[24];
    text_append_u64(value, sizeof(value), 0, st->ver, 1);
    add(user, "ver", value);
    /* Joined by hand, the text snprintf made: snprintf was ~1,500
     * instructions an entry (docs/performance.md). */
    for (size_t i = 0; i < st->n; i++) {
        const struct corr_entry *e = &st->v[i];
        then(field, sizeof(field), text_copy(field, sizeof(field), e->agency), e->taxonomy->code);
        size_t n = text_copy(value, sizeof(value), e->incident_id);
        text_append_u64(num, sizeof(num), 0, e->last_seen_us, 1);
        n = then(value, sizeof(value), n, num);
        n = then(value, sizeof(value), n, e->kind);
        n = then(value, sizeof(value), n, severity_name(e->severity));
        n = then(value, sizeof(value), n, e->serious ? "1" : "0");
        if (e->level >= 0)
            text_append_u64(num, sizeof(num), 0, (unsigned)e->level, 1);
        else
            snprintf(num, sizeof(num), "%d", e->level);
        n = then(value, sizeof(value), n, num);
        text_append_u64(num, sizeof(num), 0, e->events, 1);
        n = then(value, sizeof(value), n, num);
        then(value, sizeof(value), n, e->agent);
        add(user, field, value);
    }
}

void corr_state_note(struct corr_state *st, const struct in_event *ev, const struct incident *inc,
                     uint64_t window_us)
{
    size_t kept = 0;
    for (size_t i = 0; i < st->n; i++)
        if (in_window(st->v[i].last_seen_us, ev->ts_us, window_us))
            st->v[kept++] = st->v[i];
    st->n = kept;
    struct corr_entry *e = NULL;
    for (size_t i = 0; i < st->n; i++)
        if (st->v[i].taxonomy == ev->taxonomy && strcmp(st->v[i].agency, ev->agency) == 0)
            e = &st->v[i];
    if (!e) {
        if (st->n == CORR_MAX_ENTRIES) {
            size_t oldest = 0;
            for (size_t i = 1; i < st->n; i++)
                if (st->v[i].last_seen_us < st->v[oldest].last_seen_us)
                    oldest = i;
            st->v[oldest] = st->v[--st->n];
        }
        e = &st->v[st->n++];
        memset(e, 0, sizeof(*e));
        text_copy(e->agency, sizeof(e->agency), ev->agency);
        e->taxonomy = ev->taxonomy;
    }
    if (strcmp(e->incident_id, inc->id) != 0) {
        snprintf(e->incident_id, sizeof(e->incident_id), "%s", inc->id);
        e->events = 0;
    }
    if (ev->ts_us > e->last_seen_us)
        e->last_seen_us = ev->ts_us;
    text_copy(e->kind, sizeof(e->kind), ev->kind);
    text_copy(e->agent, sizeof(e->agent), ev->agent);
    e->severity = inc->severity;
    e->serious = inc->serious;
    e->level = inc->level;
    e->events++;
}

size_t corr_kinds_for_agency(const struct corr_state *st, const char *agency, uint64_t ts_us,
                             uint64_t window_us)
{
    const struct taxonomy *seen[CORR_MAX_ENTRIES];
    size_t n = 0;
    for (size_t i = 0; i < st->n; i++) {
        const struct corr_entry *e = &st->v[i];
        if (strcmp(e->agency, agency) != 0 || !in_window(e->last_seen_us, ts_us, window_us))
            continue;
        bool dup = false;
        for (size_t j = 0; j < n; j++)
            dup |= seen[j] == e->taxonomy;
        if (!dup)
            seen[n++] = e->taxonomy;
    }
    return n;
}

size_t corr_agencies(const struct corr_state *st, uint64_t ts_us, uint64_t window_us)
{
    /* An agency counts once, and an agent vouches for one agency only: a
     * single agent naming several agencies (a stolen password, without
     * [agents] bindings) cannot make a province-wide incident alone. */
    const char *seen[CORR_MAX_ENTRIES], *by[CORR_MAX_ENTRIES];
    size_t n = 0;
    for (size_t i = 0; i < st->n; i++) {
        const struct corr_entry *e = &st->v[i];
        if (!in_window(e->last_seen_us, ts_us, window_us))
            continue;
        bool dup = false;
        for (size_t j = 0; j < n; j++)
            dup |= strcmp(seen[j], e->agency) == 0 || (*e->agent && strcmp(by[j], e->agent) == 0);
        if (!dup) {
            by[n] = e->agent;
            seen[n++] = e->agency;
        }
    }
    return n;
}

void corr_combined_key(const char *src, const char *agency, char *buf, size_t len)
{
    snprintf(buf, len, "combined|%s|%s", src, agency);
}

void corr_province_key(const char *src, char *buf, size_t len)
{
    snprintf(buf, len, "province|%s", src);
}

void corr_fault_key(const char *agent, char *buf, size_t len)
{
    snprintf(buf, len, "fault|%s", agent);
}

bool corr_link_accepts(const struct incident *inc, const struct in_event *ev, uint64_t window_us)
{
    return inc->status != INCIDENT_CLOSED && ev->ts_us <= inc->last_seen_us + window_us &&
           ev->ts_us + window_us >= inc->first_seen_us;
}

size_t corr_link(struct incident *inc, bool fresh, enum incident_type type, const char *id,
                 const char *key, const struct corr_state *st, const char *agency,
                 const struct in_event *ev, uint64_t window_us, const struct incident_policy *pol,
                 uint64_t now_us)
{
    if (fresh) {
        incident_clear(inc);
        text_copy(inc->id, sizeof(inc->id), id);
        text_copy(inc->key, sizeof(inc->key), key);
        inc->type = type;
        inc->taxonomy = type == INCIDENT_COMBINED ? taxonomy_find("attack.combined") : ev->taxonomy;
        inc->first_seen_us = ev->ts_us;
        inc->last_seen_us = ev->ts_us;
        inc->opened_us = now_us;
        inc->status = INCIDENT_OPEN;
        if (type == INCIDENT_COMBINED) {
            text_copy(inc->agency, sizeof(inc->agency), ev->agency);
            text_copy(inc->asset, sizeof(inc->asset), ev->asset_name);
            snprintf(inc->asset_owner, sizeof(inc->asset_owner), "%s", ev->asset_owner);
        }
    }
    size_t added = 0;
    for (size_t i = 0; i < st->n; i++) {
        const struct corr_entry *e = &st->v[i];
        if (agency && strcmp(e->agency, agency) != 0)
            continue;
        if (!in_window(e->last_seen_us, ev->ts_us, window_us))
            continue;
        bool is_new = !incident_list_contains(inc->children, e->incident_id, ',');
        if (is_new && incident_list_add(inc->children, sizeof(inc->children), e->incident_id, ',',
                                        INCIDENT_MAX_CHILDREN))
            added++;
        if (fresh)
            inc->events += e->events;
        incident_list_add(inc->kinds, sizeof(inc->kinds), e->kind, ',', INCIDENT_LIST_ITEMS);
        if (type == INCIDENT_PROVINCE) {
            incident_list_add(inc->agency, sizeof(inc->agency), e->agency, '|',
                              INCIDENT_MAX_CHILDREN);
            /* Several codes across agencies make it a combined campaign. */
            if (e->taxonomy != inc->taxonomy)
                inc->taxonomy = taxonomy_find("attack.combined");
        }
        if (e->severity > inc->severity)
            inc->severity = e->severity;
        inc->serious |= e->serious;
        if (e->level > inc->level)
            inc->level = e->level;
    }
    if (!fresh)
        inc->events++;
    if (ev->ts_us > inc->last_seen_us)
        inc->last_seen_us = ev->ts_us;
    if (ev->ts_us < inc->first_seen_us)
        inc->first_seen_us = ev->ts_us;
    if (ev->first_seen_us && ev->first_seen_us < inc->first_seen_us)
        inc->first_seen_us = ev->first_seen_us;
    inc->updated_us = now_us;
    incident_list_add(inc->agents, sizeof(inc->agents), ev->agent, ',', INCIDENT_LIST_ITEMS);
    if (ev->src_ip)
        incident_list_add(inc->sources, sizeof(inc->sources), ev->src_ip, ',', INCIDENT_LIST_ITEMS);
    if (ev->dest_ip)
        incident_list_add(inc->targets, sizeof(inc->targets), ev->dest_ip, ',',
                          INCIDENT_LIST_ITEMS);
    uint32_t cap =
        pol->max_event_ids < INCIDENT_MAX_EVENT_IDS ? pol->max_event_ids : INCIDENT_MAX_EVENT_IDS;
    incident_list_add(inc->event_ids, sizeof(inc->event_ids), ev->id, ',', cap);
    snprintf(inc->summary, sizeof(inc->summary), "%zu incidents linked; kinds: %s",
             incident_list_count(inc->children, ','), inc->kinds);
    return added;
}

void corr_open_fault(struct incident *inc, const char *id, const char *key, const char *agent,
                     const char *agency, uint64_t last_heartbeat_us, enum severity severity,
                     uint64_t now_us)
{
    if (last_heartbeat_us > now_us)
        last_heartbeat_us = now_us;
    incident_clear(inc);
    text_copy(inc->id, sizeof(inc->id), id);
    text_copy(inc->key, sizeof(inc->key), key);
    inc->type = INCIDENT_FAULT;
    inc->sensor = true; /* the sensor is silent, not (known to be) the agency's link */
    inc->taxonomy = taxonomy_find("fault.link");
    snprintf(inc->kinds, sizeof(inc->kinds), "agent_silent");
    text_copy(inc->agency, sizeof(inc->agency), agency && *agency ? agency : agent);
    text_copy(inc->agents, sizeof(inc->agents), agent);
    inc->severity = severity;
    inc->first_seen_us = last_heartbeat_us;
    inc->last_seen_us = now_us;
    inc->opened_us = now_us;
    inc->updated_us = now_us;
    inc->status = INCIDENT_OPEN;
    char when[48];
    snprintf(inc->summary, sizeof(inc->summary),
             "agent %s silent: no heartbeat for %" PRIu64 " s (last at %s)", agent,
             (now_us - last_heartbeat_us) / 1000000,
             units_format_time(last_heartbeat_us, when, sizeof(when)));
    snprintf(inc->evidence, sizeof(inc->evidence), "{\"silent_s\":%" PRIu64 "}",
             (now_us - last_heartbeat_us) / 1000000);
}
