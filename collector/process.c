/* process.c — see process.h. */
#include "collector/process.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/incident_text.h"
#include "collector/route.h"
#include "common/slug.h"
#include "common/text.h"
#include "common/units.h"

/* prefix and name into buf[len], cut as snprintf(buf, len, "%s%s") cuts:
 * a key name, several an event, without vfprintf's ~600 instructions a
 * call (docs/performance.md). */
static void prefixed(char *buf, size_t len, const char *prefix, const char *name)
{
    text_append(buf, len, text_copy(buf, len, prefix), name, strlen(name));
}

void process_event_keys(const struct in_event *ev, struct process_load *ld, char *src_key,
                        size_t len)
{
    incident_key_for_event(ev, ld->keys[LOAD_PRIMARY], sizeof(ld->keys[0]));
    ld->n = 1;
    src_key[0] = '\0';
    /* A drill's events are not correlated with real traffic (docs/drills.md). */
    if (!ev->src_ip || ev->exercise)
        return;
    corr_combined_key(ev->src_ip, ev->agency, ld->keys[LOAD_COMBINED], sizeof(ld->keys[0]));
    corr_province_key(ev->src_ip, ld->keys[LOAD_PROVINCE], sizeof(ld->keys[0]));
    ld->n = 3;
    prefixed(src_key, len, STORE_SRC_PREFIX, ev->src_ip);
}

/* after (when wanted) takes slot's state: *inc (the plan's, taken over
 * and set to NULL) under id. */
static void keep_after(struct process_outcome *out, int slot, const char *id, struct incident **inc)
{
    struct process_load *a = out->after;
    if (!a)
        return;
    incident_free(a->inc[slot]);
    a->inc[slot] = *inc;
    *inc = NULL;
    a->as_loaded[slot] = false;
    text_copy(a->ids[slot], sizeof(a->ids[slot]), id);
}

void process_load_free(struct process_load *ld)
{
    for (int i = 0; i < LOAD_MAX; i++) {
        incident_free(ld->inc[i]);
        ld->inc[i] = NULL;
    }
}

static struct incident_policy policy_of(const struct collector_config *cfg)
{
    return (struct incident_policy){.window_us = cfg->incident_window_us,
                                    .max_event_ids = cfg->max_event_ids,
                                    .serious_level = cfg->serious_level};
}

static void new_id(const struct process_env *env, char *buf, size_t len)
{
    incident_new_id(env->now_us, env->random(env->random_user), buf, len);
}

static void add_field(void *user, const char *field, const char *value)
{
    store_arg(user, field);
    store_arg(user, value);
}

static void incident_hash_key(const char *id, char *buf, size_t len)
{
    prefixed(buf, len, STORE_INCIDENT_PREFIX, id);
}

/* The (field, value) pairs of an incident's hash, as incident_to_fields
 * gives them. */
struct field_list {
    struct strvec v; /* field, value, field, value ... */
    int oom;
};

static void collect_field(void *user, const char *field, const char *value)
{
    struct field_list *fl = user;
    fl->oom |= strvec_push_str(&fl->v, field);
    fl->oom |= strvec_push_str(&fl->v, value);
}

/* HSET of the fields of after that differ from before (all of them when
 * before is NULL): an event that only adds a count writes a few fields,
 * not the whole hash.  Fields before has and after lacks stay, as a full
 * HSET would leave them. */
static void write_changed_fields(const char *key, const struct field_list *before,
                                 const struct field_list *after, struct store_ops *o)
{
    bool begun = false;
    for (size_t i = 0; i + 1 < after->v.n; i += 2) {
        bool same = false;
        for (size_t k = 0; before && k + 1 < before->v.n; k += 2)
            if (strcmp(before->v.v[k], after->v.v[i]) == 0) {
                same = strcmp(before->v.v[k + 1], after->v.v[i + 1]) == 0;
                break;
            }
        if (same)
            continue;
        if (!begun) {
            store_begin(o, "HSET");
            store_arg(o, key);
            begun = true;
        }
        store_arg(o, after->v.v[i]);
        store_arg(o, after->v.v[i + 1]);
    }
    if (begun)
        store_end(o);
}

/* Write the incident's changes; guarded by the version read (before NULL:
 * new, the hash must not exist). */
static void write_incident(const struct process_env *env, struct incident *inc,
                           const struct incident *before, struct store_ops *o)
{
    char key[128], ver[24];
    incident_hash_key(inc->id, key, sizeof(key));
    text_append_u64(ver, sizeof(ver), 0, before ? before->ver : inc->ver, 1);
    store_guard(o, key, "ver", before ? ver : "");
    inc->ver++;
    struct field_list was = {0}, now = {0};
    if (before)
        incident_to_fields(before, collect_field, &was);
    incident_to_fields(inc, collect_field, &now);
    o->oom |= was.oom | now.oom;
    write_changed_fields(key, before ? &was : NULL, &now, o);
    strvec_clear(&was.v);
    strvec_clear(&now.v);
    if (inc->type != INCIDENT_FAULT && inc->status != INCIDENT_CLOSED) {
        store_begin(o, "ZADD");
        store_arg(o, STORE_OPEN);
        store_argf(o, "%" PRIu64, env->now_us / 1000);
        store_arg(o, inc->id);
        store_end(o);
    }
}

/* Job <incident>/<route>/<action><suffix>: the suffix keeps repeated
 * actions (updated-<ver>) apart as deliveries.  Its field "sink" names
 * the route (for [webhook] and [syslog], the sink itself). */
static void queue_job(const struct process_env *env, const struct incident *inc,
                      const struct route *route, const char *action, const char *suffix,
                      struct store_ops *o)
{
    char job[128], key[192];
    snprintf(job, sizeof(job), "%s/%s/%s%s", inc->id, route->name, action, suffix);
    prefixed(key, sizeof(key), STORE_ESCALATION_PREFIX, job);
    store_begin(o, "HSET");
    store_arg(o, key);
    add_field(o, "sink", route->name);
    add_field(o, "incident", inc->id);
    add_field(o, "action", action);
    store_arg(o, "created_ms");
    store_argf(o, "%" PRIu64, env->now_us / 1000);
    add_field(o, "attempts", "0");
    store_end(o);
    store_begin(o, "ZADD");
    store_arg(o, STORE_ESCALATIONS);
    store_argf(o, "%" PRIu64, env->now_us / 1000);
    store_arg(o, job);
    store_end(o);
}

/* Queue the routes the incident newly qualifies for; true when any. */
static bool escalate(const struct process_env *env, struct incident *inc, struct store_ops *o)
{
    const struct collector_config *cfg = env->cfg;
    if (inc->status == INCIDENT_CLOSED)
        return false;
    bool any = false;
    for (size_t i = 0; i < cfg->n_routes; i++) {
        const struct route *r = &cfg->routes[i];
        if (incident_list_contains(inc->sinks, r->name, ',') || !route_takes(cfg, r, inc))
            continue;
        if (!incident_list_add(inc->sinks, sizeof(inc->sinks), r->name, ',', COLLECTOR_MAX_ROUTES))
            continue;
        if (route_hears(r, "escalated", inc->state))
            queue_job(env, inc, r, "escalated", "", o);
        any = true;
    }
    if (any)
        inc->status = INCIDENT_ESCALATED;
    return any;
}

/* The routes in list (an incident's sinks) hear of action. */
static void tell_routes(const struct process_env *env, const struct incident *inc, const char *list,
                        const char *action, const char *suffix, struct store_ops *o)
{
    const struct collector_config *cfg = env->cfg;
    for (size_t i = 0; i < cfg->n_routes; i++) {
        const struct route *r = &cfg->routes[i];
        if (incident_list_contains(list, r->name, ',') && route_hears(r, action, inc->state))
            queue_job(env, inc, r, action, suffix, o);
    }
}

/* "severity high→critical; kinds +defacement; targets +198.51.100.11":
 * what the SOC would want to know changed between before and after. */
static void describe_list_change(char *buf, size_t size, const char *name, const char *before,
                                 const char *after, char sep)
{
    size_t used = strlen(buf);
    bool first = true;
    for (const char *p = after; *p;) {
        const char *end = strchr(p, sep);
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char item[128];
        if (len < sizeof(item)) {
            memcpy(item, p, len);
            item[len] = '\0';
            if (!incident_list_contains(before, item, sep) && used + len + 32 < size) {
                if (first)
                    used += (size_t)snprintf(buf + used, size - used, "%s%s +%s", used ? "; " : "",
                                             name, item);
                else
                    used += (size_t)snprintf(buf + used, size - used, " +%s", item);
                first = false;
            }
        }
        if (!end)
            break;
        p = end + 1;
    }
}

static void describe_changes(const struct incident *before, const struct incident *after, char *buf,
                             size_t size)
{
    buf[0] = '\0';
    if (!before)
        return;
    if (after->severity != before->severity)
        snprintf(buf, size, "severity %s→%s", severity_name(before->severity),
                 severity_name(after->severity));
    if (after->serious != before->serious) {
        size_t used = strlen(buf);
        snprintf(buf + used, size - used, "%sclass %s→%s", used ? "; " : "",
                 before->serious ? "serious_candidate" : "normal",
                 after->serious ? "serious_candidate" : "normal");
    }
    describe_list_change(buf, size, "kinds", before->kinds, after->kinds, ',');
    describe_list_change(buf, size, "targets", before->targets, after->targets, ',');
    if (after->type == INCIDENT_PROVINCE)
        describe_list_change(buf, size, "agencies", before->agency, after->agency, '|');
    describe_list_change(buf, size, "children", before->children, after->children, ',');
}

/* Begins an XADD of a new entry to stream, trimmed to about [collector]
 * maxlen entries; its fields follow. */
static void xadd_capped(const struct process_env *env, const char *stream, struct store_ops *o)
{
    store_begin(o, "XADD");
    store_arg(o, stream);
    store_arg(o, "MAXLEN");
    store_arg(o, "~");
    store_argf(o, "%" PRIu64, env->cfg->maxlen);
    store_arg(o, "*");
}

/* One announcement entry on stream: the incident's text (text, or "{}"
 * when it could not be written), what happened and why.  canh:incidents
 * and each agency's stream get the same entry. */
static void announce_to(const struct process_env *env, const char *stream,
                        const struct incident *inc, const char *action, const char *text,
                        const char *cause, const char *changes, struct store_ops *o)
{
    xadd_capped(env, stream, o);
    add_field(o, "action", action);
    add_field(o, "id", inc->id);
    add_field(o, "incident", text ? text : "{}");
    if (cause)
        add_field(o, "cause", cause);
    if (changes && *changes)
        add_field(o, "changes", changes);
    add_field(o, "operator", "collector");
    store_end(o);
}

/* ---- per-agency incident streams (issue 15, routing) ----------------
 * The same entry as canh:incidents goes, in the same atomic write, to
 * canh:incidents:<agency key> of each of the incident's agencies, so a
 * Redis ACL can let an agency's canh-tail read only its own. */
static void announce_agencies(const struct process_env *env, const struct incident *inc,
                              const char *action, const char *text, const char *cause,
                              const char *changes, struct store_ops *o)
{
    char agency[256], key[300];
    for (const char *p = inc->agency; incident_list_next(&p, '|', agency, sizeof(agency));) {
        slug_incident_stream(agency, key, sizeof(key));
        announce_to(env, key, inc, action, text, cause, changes, o);
    }
}

static void announce(const struct process_env *env, const struct incident *inc, const char *action,
                     const char *cause, const char *changes, struct store_ops *o)
{
    /* One buffer per thread, reused: no tree, no allocation per event
     * (collector/incident_text.h). */
    static _Thread_local struct event_text json;
    const char *text = incident_format(inc, &json) == 0 ? json.buf : NULL;
    announce_to(env, STORE_INCIDENTS, inc, action, text, cause, changes, o);
    announce_agencies(env, inc, action, text, cause, changes, o);
    /* The incident's own log (append-only), beside the operators' entries. */
    char log_key[128];
    prefixed(log_key, sizeof(log_key), STORE_LOG_PREFIX, inc->id);
    store_begin(o, "XADD");
    store_arg(o, log_key);
    store_arg(o, "*");
    add_field(o, "action", action);
    add_field(o, "operator", "collector");
    add_field(o, "state", incident_state_name(inc->state));
    add_field(o, "note", changes && *changes ? changes : (cause ? cause : ""));
    store_end(o);
}

/* Sinks that already carry the incident hear of a material change; the
 * job id holds the version, so each change is its own delivery. */
static void tell_sinks_updated(const struct process_env *env, const struct incident *inc,
                               const char *already, struct store_ops *o)
{
    char suffix[32];
    snprintf(suffix, sizeof(suffix), "-%" PRIu64, inc->ver);
    tell_routes(env, inc, already, "updated", suffix, o);
}

/* Write inc and announce it, exactly once per event: opened, escalated
 * (a sink newly matches), linked (a campaign grew) or updated (a material
 * change: severity, class, kind, target, agency, child, or linked into a
 * combined or province-wide incident: extra); before is the incident as
 * loaded (NULL: new). */
static void settle(const struct process_env *env, struct incident *inc,
                   const struct incident *before, bool opened, bool linked, const char *cause,
                   const char *extra, struct store_ops *o, struct process_outcome *out)
{
    char changes[512], already[INCIDENT_SINKS_LEN];
    text_copy(already, sizeof(already), inc->sinks);
    describe_changes(before, inc, changes, sizeof(changes));
    if (extra && *extra) {
        size_t used = strlen(changes);
        snprintf(changes + used, sizeof(changes) - used, "%s%s", used ? "; " : "", extra);
    }
    bool escalated = escalate(env, inc, o);
    write_incident(env, inc, before, o);
    if (opened) {
        announce(env, inc, "opened", cause, changes, o);
        out->opened++;
    } else if (escalated) {
        announce(env, inc, "escalated", cause, changes, o);
    } else if (linked) {
        announce(env, inc, "linked", cause, changes, o);
    } else if (changes[0]) {
        announce(env, inc, "updated", cause, changes, o);
        out->updated++;
    } else {
        out->extended++;
    }
    if (!opened && changes[0])
        tell_sinks_updated(env, inc, already, o);
    out->escalated += escalated;
}

static void set_link(const char *child_id, const char *field, const char *parent_id,
                     struct store_ops *o)
{
    char key[128];
    incident_hash_key(child_id, key, sizeof(key));
    store_cmd(o, "HSET", key, field, parent_id, NULL);
}

/* The combined or province-wide incident, when the source's table says so.
 * When the event's own incident (primary) becomes one of its children, its
 * back link is set and "combined +<id>" added to linked_into, for the
 * primary's announcement. */
static void link_incident(const struct process_env *env, enum incident_type type, int slot,
                          const struct corr_state *st, const struct in_event *ev,
                          const struct process_load *ld, const char *cause,
                          struct incident *primary, char *linked_into, size_t linked_len,
                          struct store_ops *o, struct process_outcome *out)
{
    const struct collector_config *cfg = env->cfg;
    struct incident_policy pol = policy_of(cfg);
    const struct incident *old = ld->inc[slot];
    bool fresh = !old || !corr_link_accepts(old, ev, cfg->correlation_window_us);
    struct incident *inc = incident_new();
    if (!inc) {
        o->oom = -1;
        return;
    }
    char id[INCIDENT_ID_LEN];
    if (fresh)
        new_id(env, id, sizeof(id));
    else
        *inc = *old;
    const char *agency = type == INCIDENT_COMBINED ? ev->agency : NULL;
    size_t added = corr_link(inc, fresh, type, id, ld->keys[slot], st, agency, ev,
                             cfg->correlation_window_us, &pol, env->now_us);
    /* Children get a pointer back; these fields are not part of the
     * guarded rewrite, so setting them cannot lose a concurrent update. */
    const char *field = type == INCIDENT_COMBINED ? "combined_id" : "province_id";
    for (const char *p = inc->children; *p;) {
        const char *end = strchr(p, ',');
        char child[INCIDENT_ID_LEN];
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len < sizeof(child)) {
            memcpy(child, p, len);
            child[len] = '\0';
            if (fresh || !incident_list_contains(old->children, child, ',')) {
                set_link(child, field, inc->id, o);
                if (strcmp(child, primary->id) != 0)
                    out->linked_others = true;
                if (strcmp(child, primary->id) == 0) {
                    char *back =
                        type == INCIDENT_COMBINED ? primary->combined_id : primary->province_id;
                    text_copy(back, INCIDENT_ID_LEN, inc->id);
                    size_t used = strlen(linked_into);
                    snprintf(linked_into + used, linked_len - used, "%s%s +%s", used ? "; " : "",
                             type == INCIDENT_COMBINED ? "combined" : "province", inc->id);
                }
            }
        }
        if (!end)
            break;
        p = end + 1;
    }
    store_guard(o, STORE_IKEYS, ld->keys[slot], ld->ids[slot]);
    if (fresh)
        store_cmd(o, "HSET", STORE_IKEYS, ld->keys[slot], inc->id, NULL);
    settle(env, inc, fresh ? NULL : old, fresh, added > 0, cause, NULL, o, out);
    char kept[INCIDENT_ID_LEN];
    text_copy(kept, sizeof(kept), inc->id);
    keep_after(out, slot, kept, &inc);
    incident_free(inc);
}

/* The source's correlation table: the fields that changed, and those
 * its entries no longer have deleted (a new table: written whole). */
static void write_source(const char *key, const struct corr_state *before,
                         const struct corr_state *after, struct store_ops *o)
{
    struct field_list was = {0}, now = {0};
    if (before)
        corr_state_to_fields(before, collect_field, &was);
    else
        store_cmd(o, "DEL", key, NULL);
    corr_state_to_fields(after, collect_field, &now);
    o->oom |= was.oom | now.oom;
    bool begun = false;
    for (size_t k = 0; k + 1 < was.v.n; k += 2) {
        bool kept = false;
        for (size_t i = 0; i + 1 < now.v.n && !kept; i += 2)
            kept = strcmp(was.v.v[k], now.v.v[i]) == 0;
        if (kept)
            continue;
        if (!begun) {
            store_begin(o, "HDEL");
            store_arg(o, key);
            begun = true;
        }
        store_arg(o, was.v.v[k]);
    }
    if (begun)
        store_end(o);
    write_changed_fields(key, before ? &was : NULL, &now, o);
    strvec_clear(&was.v);
    strvec_clear(&now.v);
}

void process_suppression_field(const struct in_event *ev, char *buf, size_t len)
{
    const char *target = ev->asset_name[0] ? ev->asset_name : ev->dest_ip ? ev->dest_ip : "*";
    snprintf(buf, len, "%s|%s|%s", ev->kind, ev->src_ip ? ev->src_ip : "*", target);
}

/* canh:suppressions value: "<rejected at, ms> <incident id> <operator>",
 * written by canh-ctl reject; how long it holds is this collector's
 * [incidents] reject_suppress. */
static bool suppressed(const struct process_env *env, const struct in_event *ev,
                       const struct process_load *ld, struct store_ops *o)
{
    unsigned long long rejected_ms = 0;
    char id[INCIDENT_ID_LEN] = "";
    if (sscanf(ld->suppression, "%llu %39s", &rejected_ms, id) != 2)
        return false;
    if (rejected_ms + env->cfg->reject_suppress_us / 1000 <= env->now_us / 1000)
        return false;
    /* A false positive the SOC rejected: counted for rule tuning, on the
     * rejected incident and per kind, and nothing else happens. */
    char key[128], field[96];
    incident_hash_key(id, key, sizeof(key));
    store_cmd(o, "HINCRBY", key, "suppressed", "1", NULL);
    snprintf(field, sizeof(field), "suppressed:%.80s", ev->kind);
    store_cmd(o, "HINCRBY", STORE_FALSE_POSITIVES, field, "1", NULL);
    return true;
}

int process_plan_event(const struct process_env *env, const char *stream, const char *entry_id,
                       const struct in_event *ev, const struct process_load *ld,
                       struct store_ops *o, struct process_outcome *out)
{
    return process_plan_event_after(env, stream, entry_id, ev, ld, o, out, NULL);
}

int process_plan_event_after(const struct process_env *env, const char *stream,
                             const char *entry_id, const struct in_event *ev,
                             const struct process_load *ld, struct store_ops *o,
                             struct process_outcome *out, struct process_load *after)
{
    const struct collector_config *cfg = env->cfg;
    struct incident_policy pol = policy_of(cfg);
    char seen[160], cause[256];
    prefixed(seen, sizeof(seen), STORE_SEEN_PREFIX, ev->id);
    snprintf(cause, sizeof(cause), "%s/%s", stream, entry_id);
    store_seen(o, seen, cfg->dedup_ttl_us / 1000000);
    store_ack(o, stream, entry_id);
    memset(out, 0, sizeof(*out));
    out->after = after;
    if (ld->seen)
        return 0; /* the script acknowledges and answers DUP */
    if (after) {
        process_load_free(after);
        memcpy(after->keys, ld->keys, sizeof(ld->keys));
        after->n = ld->n;
        corr_state_copy(&after->src, &ld->src);
        text_copy(after->suppression, sizeof(after->suppression), ld->suppression);
        for (size_t k = 0; k < ld->n; k++) {
            text_copy(after->ids[k], sizeof(after->ids[k]), ld->ids[k]);
            after->as_loaded[k] = true;
        }
    }
    /* The decision rests on the suppression read too (canh-ctl reject and
     * reopen change it). */
    char field[160];
    process_suppression_field(ev, field, sizeof(field));
    if (suppressed(env, ev, ld, o)) {
        store_guard(o, STORE_SUPPRESSIONS, field, ld->suppression);
        out->suppressed = 1;
        return o->oom ? -1 : 0;
    }

    struct incident *inc = incident_new();
    if (!inc)
        return -1;
    const struct incident *old = ld->inc[LOAD_PRIMARY];
    bool extend = old && incident_accepts(old, ev, &pol);
    store_guard(o, STORE_IKEYS, ld->keys[LOAD_PRIMARY], ld->ids[LOAD_PRIMARY]);
    if (extend) {
        *inc = *old;
        incident_add_event(inc, ev, &pol, env->now_us);
    } else {
        char id[INCIDENT_ID_LEN];
        new_id(env, id, sizeof(id));
        incident_open_from_event(inc, id, ld->keys[LOAD_PRIMARY], ev, &pol, env->now_us);
        store_cmd(o, "HSET", STORE_IKEYS, ld->keys[LOAD_PRIMARY], inc->id, NULL);
    }
    /* The linking incidents are decided first, so the incident's own
     * announcement can say this event linked it into one, but written
     * after it, so the stream reads "opened" before "linked". */
    char linked_into[2 * INCIDENT_ID_LEN + 32] = "";
    struct store_ops links;
    store_ops_init(&links);
    if (ev->src_ip && !ev->exercise) {
        char src_key[128], ver[24];
        struct corr_state *st = corr_state_new();
        if (!st) {
            incident_free(inc);
            return -1;
        }
        corr_state_copy(st, &ld->src);
        prefixed(src_key, sizeof(src_key), STORE_SRC_PREFIX, ev->src_ip);
        text_append_u64(ver, sizeof(ver), 0, st->ver, 1);
        store_guard(o, src_key, "ver", st->ver ? ver : "");
        corr_state_note(st, ev, inc, cfg->correlation_window_us);
        st->ver++;
        write_source(src_key, ld->src.ver ? &ld->src : NULL, st, o);
        if (after)
            corr_state_copy(&after->src, st);
        store_begin(o, "EXPIRE");
        store_arg(o, src_key);
        store_argf(o, "%" PRIu64, 2 * cfg->correlation_window_us / 1000000 + 60);
        store_end(o);
        if (corr_kinds_for_agency(st, ev->agency, ev->ts_us, cfg->correlation_window_us) >=
            cfg->combined_min_kinds)
            link_incident(env, INCIDENT_COMBINED, LOAD_COMBINED, st, ev, ld, cause, inc,
                          linked_into, sizeof(linked_into), &links, out);
        if (corr_agencies(st, ev->ts_us, cfg->correlation_window_us) >= cfg->province_min_agencies)
            link_incident(env, INCIDENT_PROVINCE, LOAD_PROVINCE, st, ev, ld, cause, inc,
                          linked_into, sizeof(linked_into), &links, out);
        corr_state_free(st);
    }
    settle(env, inc, extend ? old : NULL, !extend, false, cause, linked_into, o, out);
    store_guard(o, STORE_SUPPRESSIONS, field, ld->suppression);
    store_ops_append(o, &links);
    char kept[INCIDENT_ID_LEN];
    text_copy(kept, sizeof(kept), inc->id);
    keep_after(out, LOAD_PRIMARY, kept, &inc);
    incident_free(inc);
    return o->oom ? -1 : 0;
}

static void close_incident(const struct process_env *env, struct incident *inc, const char *cause,
                           struct store_ops *o)
{
    struct incident *before = incident_new();
    if (!before) {
        o->oom = -1;
        return;
    }
    *before = *inc;
    inc->status = INCIDENT_CLOSED;
    if (inc->state == STATE_OPEN)
        inc->state = STATE_CLOSED;
    inc->closed_us = env->now_us;
    inc->updated_us = env->now_us;
    write_incident(env, inc, before, o);
    incident_free(before);
    store_cmd(o, "ZREM", STORE_OPEN, inc->id, NULL);
    store_cmd(o, "HDELEQ", STORE_IKEYS, inc->key, inc->id, NULL);
    announce(env, inc, "closed", cause, NULL, o);
    /* Whoever was told it opened is told it closed (the report drafts'
     * routes hear only escalated unless configured otherwise). */
    tell_routes(env, inc, inc->sinks, "closed", "", o);
}

void process_plan_close(const struct process_env *env, struct incident *inc, struct store_ops *o)
{
    char key[128], ver[24];
    incident_hash_key(inc->id, key, sizeof(key));
    text_append_u64(ver, sizeof(ver), 0, inc->ver, 1);
    if (incident_in_operator_hands(inc)) {
        /* Not closed under an operator's hands: listed one window more.
         * The guard keeps a resolve that raced in from being undone. */
        store_guard(o, key, "ver", ver);
        store_begin(o, "ZADD");
        store_arg(o, STORE_OPEN);
        store_argf(o, "%" PRIu64, env->now_us / 1000);
        store_arg(o, inc->id);
        store_end(o);
        return;
    }
    if (inc->status == INCIDENT_CLOSED || inc->state != STATE_OPEN) {
        store_guard(o, key, "ver", ver);
        store_cmd(o, "ZREM", STORE_OPEN, inc->id, NULL);
        return;
    }
    close_incident(env, inc, NULL, o);
}

void process_plan_heartbeat(const struct process_env *env, const char *stream, const char *entry_id,
                            const struct in_heartbeat *hb, const char *raw, uint64_t entry_ms,
                            struct incident *fault, struct store_ops *o)
{
    char cause[256];
    snprintf(cause, sizeof(cause), "%s/%s", stream, entry_id);
    store_ack(o, stream, entry_id);
    store_cmd(o, "HSET", STORE_AGENTS, hb->agent, raw, NULL);
    store_begin(o, "ZADD");
    store_arg(o, STORE_AGENT_SEEN);
    store_arg(o, "GT");
    store_argf(o, "%" PRIu64, entry_ms);
    store_arg(o, hb->agent);
    store_end(o);
    if (fault && fault->status != INCIDENT_CLOSED) {
        char when[48];
        snprintf(fault->summary, sizeof(fault->summary), "agent %s heartbeats resumed at %s",
                 hb->agent, units_format_time(entry_ms * 1000, when, sizeof(when)));
        if (entry_ms * 1000 > fault->last_seen_us)
            fault->last_seen_us = entry_ms * 1000;
        close_incident(env, fault, cause, o);
    }
}

bool process_plan_silent(const struct process_env *env, const char *agent, const char *agency,
                         uint64_t last_heartbeat_us, const char *loaded_id,
                         const struct incident *fault, struct store_ops *o)
{
    if (fault && fault->status != INCIDENT_CLOSED)
        return false;
    char key[INCIDENT_KEY_LEN], id[INCIDENT_ID_LEN];
    corr_fault_key(agent, key, sizeof(key));
    struct incident *inc = incident_new();
    if (!inc) {
        o->oom = -1;
        return false;
    }
    new_id(env, id, sizeof(id));
    corr_open_fault(inc, id, key, agent, agency, last_heartbeat_us, env->cfg->link_severity,
                    env->now_us);
    store_guard(o, STORE_IKEYS, key, loaded_id);
    store_cmd(o, "HSET", STORE_IKEYS, key, inc->id, NULL);
    struct process_outcome out = {0};
    settle(env, inc, NULL, true, false, NULL, NULL, o, &out);
    incident_free(inc);
    return true;
}

void process_plan_deadletter(const struct process_env *env, const char *stream,
                             const char *entry_id, const char *reason, const char *raw,
                             struct store_ops *o)
{
    store_ack(o, stream, entry_id);
    xadd_capped(env, STORE_DEADLETTER, o);
    add_field(o, "stream", stream);
    add_field(o, "id", entry_id);
    add_field(o, "reason", reason);
    add_field(o, "raw", raw ? raw : "");
    store_end(o);
}
