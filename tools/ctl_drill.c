/* ctl_drill.c — see ctl_drill.h. */
#include "tools/ctl_drill.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "common/drill.h"
#include "common/units.h"

enum { DRILL_EXIT_REDIS = 1, DRILL_EXIT_USAGE = 2, DRILL_EXIT_UNKNOWN = 3 };

#define REPORT_MAX_INCIDENTS 200 /* incidents an after-action report follows */
#define XRANGE_BATCH "1000"

static int usage_error(const char *msg)
{
    fprintf(stderr, "canh-ctl: drill: %s\nTry 'canh-ctl --help'.\n", msg);
    return DRILL_EXIT_USAGE;
}

static int parse_time(const char *text, uint64_t *out)
{
    if (strcmp(text, "now") == 0) {
        *out = units_now_us();
        return 0;
    }
    return units_parse_time_us(text, out);
}

/* The drill of create's options; -1 (message printed) on a mistake. */
static int drill_of_options(const struct drill_opts *o, struct drill *d)
{
    char why[256];
    memset(d, 0, sizeof(*d));
    if (!o->name || !*o->name || strlen(o->name) >= sizeof(d->name))
        return usage_error("create needs --name NAME (at most 199 bytes)"), -1;
    snprintf(d->name, sizeof(d->name), "%s", o->name);
    if (parse_time(o->from ? o->from : "now", &d->start_us) < 0)
        return usage_error("--from is not a time like 2026-12-03T08:00:00+0700 (or now)"), -1;
    uint64_t dur;
    if (o->until && o->duration)
        return usage_error("give --until or --for, not both"), -1;
    if (o->until) {
        if (parse_time(o->until, &d->end_us) < 0)
            return usage_error("--until is not a time like 2026-12-03T17:00:00+0700"), -1;
    } else if (o->duration) {
        if (units_parse_duration_us(o->duration, &dur) < 0)
            return usage_error("--for is not a duration like 4h or 90m"), -1;
        d->end_us = d->start_us + dur;
    } else {
        return usage_error("create needs the end of the window: --until TIME or --for DURATION"),
               -1;
    }
    if (d->end_us <= d->start_us)
        return usage_error("the window ends before it starts"), -1;
    if ((o->targets && drill_set_targets(d, o->targets, why, sizeof(why)) < 0) ||
        (o->red_team && drill_set_red_team(d, o->red_team, why, sizeof(why)) < 0))
        return usage_error(why), -1;
    if (!d->n_red_team != !d->n_targets)
        return usage_error("a live drill needs both --target and --red-team (a table-top drill "
                           "neither)"),
               -1;
    if (o->scenario && strlen(o->scenario) > DRILL_TEXT_MAX)
        return usage_error("--scenario is longer than 2000 bytes"), -1;
    snprintf(d->scenario, sizeof(d->scenario), "%s", o->scenario ? o->scenario : "");
    snprintf(d->created_by, sizeof(d->created_by), "%s", o->operator_name ? o->operator_name : "");
    return 0;
}

int ctl_drill_check(const struct drill_opts *o, int nargs, char **args)
{
    if (nargs < 1)
        return usage_error("a subcommand is needed: create, list, end ID or report ID");
    const char *sub = args[0];
    if (strcmp(sub, "create") == 0) {
        struct drill *d = malloc(sizeof(*d));
        int rc = !d || drill_of_options(o, d) < 0 ? DRILL_EXIT_USAGE : 0;
        free(d);
        if (!rc && nargs != 1)
            return usage_error("create takes options only");
        return rc;
    }
    if (strcmp(sub, "list") == 0)
        return nargs == 1 ? 0 : usage_error("list takes no argument");
    if (strcmp(sub, "end") == 0 || strcmp(sub, "report") == 0) {
        if (nargs != 2 || !event_exercise_valid(args[1]))
            return usage_error("end and report take one drill id (canh-ctl drill list)");
        return 0;
    }
    return usage_error("unknown drill subcommand (create, list, end, report)");
}

/* ---- Redis ------------------------------------------------------------ */

static redisReply *cmd(redisContext *r, int *status, int argc, const char **argv)
{
    redisReply *rep = redisCommandArgv(r, argc, argv, NULL);
    if (!rep || rep->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "canh-ctl: %s: %s\n", argv[0], rep ? rep->str : r->errstr);
        if (rep && (strstr(rep->str, "NOPERM") || strstr(rep->str, "no permissions")))
            fprintf(stderr, "canh-ctl: canh-ctl needs the ACL user of docs/redis.md\n");
        freeReplyObject(rep);
        *status = DRILL_EXIT_REDIS;
        return NULL;
    }
    return rep;
}

static int load_drill(redisContext *r, const char *id, struct drill *d)
{
    int status = 0;
    const char *argv[] = {"HGET", DRILLS_KEY, id};
    redisReply *rep = cmd(r, &status, 3, argv);
    if (!rep)
        return status;
    if (rep->type != REDIS_REPLY_STRING) {
        freeReplyObject(rep);
        fprintf(stderr, "canh-ctl: no drill %s (canh-ctl drill list)\n", id);
        return DRILL_EXIT_UNKNOWN;
    }
    json_t *j = json_loadb(rep->str, rep->len, 0, NULL);
    char why[160];
    int rc = drill_from_json(j, d, why, sizeof(why));
    json_decref(j);
    freeReplyObject(rep);
    if (rc < 0) {
        fprintf(stderr, "canh-ctl: drill %s in " DRILLS_KEY ": %s\n", id, why);
        return DRILL_EXIT_REDIS;
    }
    return 0;
}

static int save_drill(redisContext *r, const struct drill *d, bool create)
{
    json_t *j = drill_to_json(d);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!text)
        return DRILL_EXIT_REDIS;
    int status = 0;
    const char *argv[] = {create ? "HSETNX" : "HSET", DRILLS_KEY, d->id, text};
    redisReply *rep = cmd(r, &status, 4, argv);
    free(text);
    if (rep && create && rep->integer != 1) {
        fprintf(stderr, "canh-ctl: drill %s exists already\n", d->id);
        status = DRILL_EXIT_REDIS;
    }
    freeReplyObject(rep);
    return status;
}

static const char *when(uint64_t us, char *buf, size_t len)
{
    return us ? units_format_time(us, buf, len) : "—";
}

/* ---- create, list, end -------------------------------------------------- */

static int run_create(redisContext *r, const struct drill_opts *o)
{
    struct drill *d = malloc(sizeof(*d));
    if (!d || drill_of_options(o, d) < 0) {
        free(d);
        return DRILL_EXIT_USAGE;
    }
    uint32_t rnd;
    if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
        rnd = (uint32_t)units_now_us();
    d->created_us = units_now_us();
    drill_new_id(d->created_us, rnd, d->id, sizeof(d->id));
    int status = save_drill(r, d, true);
    if (!status)
        printf("%s\n", d->id);
    free(d);
    return status;
}

static const char *drill_state(const struct drill *d, uint64_t now)
{
    if (d->ended_us)
        return "ended";
    return now < d->start_us ? "planned" : now < d->end_us ? "running" : "over";
}

static int run_list(redisContext *r, bool as_json)
{
    int status = 0;
    const char *argv[] = {"HGETALL", DRILLS_KEY};
    redisReply *rep = cmd(r, &status, 2, argv);
    if (!rep)
        return status;
    json_t *all = json_array();
    struct drill *d = malloc(sizeof(*d));
    uint64_t now = units_now_us();
    for (size_t i = 0; d && i + 1 < rep->elements; i += 2) {
        json_t *j = json_loadb(rep->element[i + 1]->str, rep->element[i + 1]->len, 0, NULL);
        char why[160], a[48], b[48];
        if (drill_from_json(j, d, why, sizeof(why)) < 0) {
            fprintf(stderr, "canh-ctl: drill %s: %s\n", rep->element[i]->str, why);
        } else if (as_json) {
            json_t *out = drill_to_json(d);
            json_object_set_new(out, "state", json_string(drill_state(d, now)));
            json_array_append_new(all, out);
        } else {
            printf("%-24s %-8s %s → %s  %s", d->id, drill_state(d, now),
                   when(d->start_us, a, sizeof(a)), when(d->end_us, b, sizeof(b)), d->name);
            for (size_t t = 0; t < d->n_targets; t++)
                printf("%s%s", t ? "," : "  targets ", d->targets[t]);
            printf("%s\n", d->n_red_team ? "" : "  (table-top)");
        }
        json_decref(j);
    }
    if (as_json) {
        char *text = json_dumps(all, JSON_INDENT(2));
        if (text)
            printf("%s\n", text);
        free(text);
    }
    json_decref(all);
    free(d);
    freeReplyObject(rep);
    return 0;
}

static int run_end(redisContext *r, const char *id)
{
    struct drill *d = malloc(sizeof(*d));
    if (!d)
        return DRILL_EXIT_REDIS;
    int status = load_drill(r, id, d);
    if (!status) {
        uint64_t now = units_now_us();
        if (!d->ended_us)
            d->ended_us = now;
        /* From now on the red team's traffic is a scope breach. */
        if (d->end_us > now)
            d->end_us = now > d->start_us ? now : d->start_us + 1;
        status = save_drill(r, d, false);
        if (!status)
            printf("drill %s ended\n", id);
    }
    free(d);
    return status;
}

/* ---- the after-action report ---------------------------------------------- */

enum milestone {
    M_FIRST_PACKET,
    M_FIRST_EVENT,
    M_INCIDENT,
    M_ACKNOWLEDGED,
    M_CONFIRMED,
    M_REPORT_DRAFT,
    M_COUNT
};
static const char *const milestone_keys[M_COUNT] = {"first_packet", "first_event", "incident",
                                                    "acknowledged", "confirmed",   "report_draft"};
static const char *const milestone_vi[M_COUNT] = {
    "Gói tin đầu tiên của đội tấn công / First red-team packet",
    "Sự kiện đầu tiên / First event",
    "Sự cố được mở / Incident opened",
    "Tiếp nhận / Acknowledged",
    "Xác nhận / Confirmed",
    "Dự thảo báo cáo / Report draft"};

struct followed {
    char id[48];
    bool breach;
    json_t *latest; /* the incident as last announced */
    uint64_t at[M_COUNT];
    json_t *routes; /* route -> first delivery (ms) */
};

static uint64_t entry_ms(const char *id)
{
    return strtoull(id, NULL, 10);
}

static void keep_min(uint64_t *slot, uint64_t us)
{
    if (us && (!*slot || us < *slot))
        *slot = us;
}

static uint64_t json_time_us(const json_t *o, const char *key)
{
    uint64_t us = 0;
    const char *s = json_string_value(json_object_get(o, key));
    if (s)
        units_parse_time_us(s, &us);
    return us;
}

static struct followed *find_or_add(struct followed *v, size_t *n, const char *id, bool breach)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(v[i].id, id) == 0)
            return &v[i];
    if (*n == REPORT_MAX_INCIDENTS)
        return NULL;
    struct followed *f = &v[(*n)++];
    memset(f, 0, sizeof(*f));
    snprintf(f->id, sizeof(f->id), "%s", id);
    f->breach = breach;
    f->routes = json_object();
    return f;
}

/* The drill's incidents and breaches from canh:incidents, from since_ms on. */
static int scan_incidents(redisContext *r, const char *drill_id, uint64_t since_ms,
                          struct followed *v, size_t *n)
{
    char start[48];
    snprintf(start, sizeof(start), "%" PRIu64, since_ms);
    for (;;) {
        int status = 0;
        const char *argv[] = {"XRANGE", "canh:incidents", start, "+", "COUNT", XRANGE_BATCH};
        redisReply *rep = cmd(r, &status, 6, argv);
        if (!rep)
            return status;
        size_t got = rep->elements;
        for (size_t i = 0; i < got; i++) {
            const redisReply *e = rep->element[i];
            if (e->elements < 2)
                continue;
            snprintf(start, sizeof(start), "(%s", e->element[0]->str);
            const redisReply *fv = e->element[1];
            const char *action = "", *text = NULL;
            for (size_t k = 0; k + 1 < fv->elements; k += 2) {
                if (strcmp(fv->element[k]->str, "action") == 0)
                    action = fv->element[k + 1]->str;
                else if (strcmp(fv->element[k]->str, "incident") == 0)
                    text = fv->element[k + 1]->str;
            }
            json_t *inc = text ? json_loads(text, 0, NULL) : NULL;
            const char *ex = json_string_value(json_object_get(inc, "exercise"));
            const char *br = json_string_value(json_object_get(inc, "drill_breach"));
            const char *id = json_string_value(json_object_get(inc, "id"));
            bool mine = ex && strcmp(ex, drill_id) == 0, breach = br && strcmp(br, drill_id) == 0;
            struct followed *f = id && (mine || breach) ? find_or_add(v, n, id, breach) : NULL;
            if (f) {
                json_decref(f->latest);
                f->latest = json_incref(inc);
                keep_min(&f->at[M_FIRST_PACKET], json_time_us(inc, "first_seen"));
                if (strcmp(action, "opened") == 0) {
                    /* The incident as its first event left it: that event's time. */
                    keep_min(&f->at[M_FIRST_EVENT], json_time_us(inc, "last_seen"));
                    keep_min(&f->at[M_INCIDENT], entry_ms(e->element[0]->str) * 1000);
                }
            }
            json_decref(inc);
        }
        freeReplyObject(rep);
        if (got < (size_t)atoi(XRANGE_BATCH))
            return 0;
    }
}

/* acknowledged, confirmed, report_drafted and deliveries from canh:log:<id>. */
static int read_log(redisContext *r, struct followed *f)
{
    char key[96];
    int status = 0;
    /* The incident's state now (operators' transitions are announced
     * without the drill's tag). */
    snprintf(key, sizeof(key), "canh:incident:%s", f->id);
    const char *hget[] = {"HGET", key, "state"};
    redisReply *st = cmd(r, &status, 3, hget);
    if (!st)
        return status;
    if (st->type == REDIS_REPLY_STRING && f->latest)
        json_object_set_new(f->latest, "state", json_string(st->str));
    freeReplyObject(st);
    snprintf(key, sizeof(key), "canh:log:%s", f->id);
    const char *argv[] = {"XRANGE", key, "-", "+"};
    redisReply *rep = cmd(r, &status, 4, argv);
    if (!rep)
        return status;
    for (size_t i = 0; i < rep->elements; i++) {
        const redisReply *e = rep->element[i];
        if (e->elements < 2)
            continue;
        uint64_t us = entry_ms(e->element[0]->str) * 1000;
        const redisReply *fv = e->element[1];
        const char *action = "", *note = "";
        for (size_t k = 0; k + 1 < fv->elements; k += 2) {
            if (strcmp(fv->element[k]->str, "action") == 0)
                action = fv->element[k + 1]->str;
            else if (strcmp(fv->element[k]->str, "note") == 0)
                note = fv->element[k + 1]->str;
        }
        if (strcmp(action, "acknowledged") == 0)
            keep_min(&f->at[M_ACKNOWLEDGED], us);
        else if (strcmp(action, "confirmed") == 0)
            keep_min(&f->at[M_CONFIRMED], us);
        else if (strcmp(action, "report_drafted") == 0)
            keep_min(&f->at[M_REPORT_DRAFT], us);
        else if (strcmp(action, "delivered") == 0) {
            /* note: "<route> (<action>)" */
            char route[64];
            size_t len = strcspn(note, " ");
            snprintf(route, sizeof(route), "%.*s", (int)(len < 63 ? len : 63), note);
            if (route[0] && !json_object_get(f->routes, route))
                json_object_set_new(f->routes, route, json_integer((json_int_t)(us / 1000)));
        }
    }
    freeReplyObject(rep);
    return 0;
}

static json_t *time_or_null(uint64_t us)
{
    char buf[48];
    return us ? json_string(units_format_time(us, buf, sizeof(buf))) : json_null();
}

static json_t *incident_row(const struct followed *f)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(f->id));
    const json_t *inc = f->latest;
    json_object_set(o, "taxonomy", json_object_get(json_object_get(inc, "taxonomy"), "code"));
    json_object_set(o, "severity", json_object_get(inc, "severity"));
    json_object_set(o, "state", json_object_get(inc, "state"));
    json_object_set(o, "summary", json_object_get(inc, "summary"));
    json_object_set(o, "targets", json_object_get(inc, "targets"));
    for (int m = 0; m < M_COUNT; m++)
        json_object_set_new(o, milestone_keys[m], time_or_null(f->at[m]));
    json_t *routes = json_array();
    const char *name;
    json_t *ms;
    json_object_foreach(f->routes, name, ms) json_array_append_new(routes, json_string(name));
    json_object_set_new(o, "routes", routes);
    return o;
}

static json_t *after_action_json(const struct drill *d, struct followed *v, size_t n)
{
    uint64_t at[M_COUNT] = {0};
    json_t *routes = json_object(), *incidents = json_array(), *breaches = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(v[i].breach ? breaches : incidents, incident_row(&v[i]));
        if (v[i].breach)
            continue;
        for (int m = 0; m < M_COUNT; m++)
            keep_min(&at[m], v[i].at[m]);
        const char *name;
        json_t *ms;
        json_object_foreach(v[i].routes, name, ms)
        {
            json_t *had = json_object_get(routes, name);
            if (!had || json_integer_value(had) > json_integer_value(ms))
                json_object_set(routes, name, ms);
        }
    }
    json_t *timeline = json_object(), *after = json_object();
    for (int m = 0; m < M_COUNT; m++) {
        json_object_set_new(timeline, milestone_keys[m], time_or_null(at[m]));
        if (m > M_FIRST_PACKET)
            json_object_set_new(
                after, milestone_keys[m],
                at[m] && at[M_FIRST_PACKET]
                    ? json_real((double)((int64_t)at[m] - (int64_t)at[M_FIRST_PACKET]) / 1e6)
                    : json_null());
    }
    json_t *reached = json_array();
    const char *name;
    json_t *ms;
    json_object_foreach(routes, name, ms) json_array_append_new(
        reached, json_pack("{s:s,s:o}", "route", name, "first_delivery",
                           time_or_null((uint64_t)json_integer_value(ms) * 1000)));
    json_decref(routes);
    json_t *r = json_object();
    json_object_set_new(r, "drill", drill_to_json(d));
    json_object_set_new(r, "timeline", timeline);
    json_object_set_new(r, "seconds_after_first_packet", after);
    json_object_set_new(r, "routes_reached", reached);
    json_object_set_new(r, "incidents", incidents);
    json_object_set_new(r, "scope_breaches", breaches);
    return r;
}

static const char *s_of(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "—";
}

static void write_markdown(FILE *out, const json_t *r)
{
    const json_t *d = json_object_get(r, "drill"), *t = json_object_get(r, "timeline");
    const json_t *after = json_object_get(r, "seconds_after_first_packet");
    fprintf(out, "# Báo cáo sau diễn tập / After-action report: %s\n\n", s_of(d, "name"));
    fprintf(out, "- Mã diễn tập / Drill: %s\n", s_of(d, "id"));
    fprintf(out, "- Thời gian / Window: %s → %s\n", s_of(d, "start"), s_of(d, "end"));
    size_t i;
    json_t *v;
    fprintf(out, "- Mục tiêu / Targets:");
    json_array_foreach(json_object_get(d, "targets"), i, v)
        fprintf(out, "%s %s", i ? "," : "", json_string_value(v));
    fprintf(out, "%s\n",
            json_array_size(json_object_get(d, "targets")) ? ""
                                                           : " (diễn tập trên bàn / table-top)");
    fprintf(out, "- Nguồn đội tấn công / Red team:");
    json_array_foreach(json_object_get(d, "red_team"), i, v)
        fprintf(out, "%s %s", i ? "," : "", json_string_value(v));
    fprintf(out, "\n- Kịch bản / Scenario: %s\n\n",
            *s_of(d, "scenario") ? s_of(d, "scenario") : "—");
    fprintf(out,
            "## Dòng thời gian / Timeline\n\n| Mốc / Milestone | Thời điểm / Time | Sau gói tin "
            "đầu (giây) / After first packet (s) |\n| --- | --- | ---: |\n");
    for (int m = 0; m < M_COUNT; m++) {
        const json_t *secs = json_object_get(after, milestone_keys[m]);
        char cell[32] = "0";
        if (m > M_FIRST_PACKET)
            snprintf(cell, sizeof(cell), json_is_real(secs) ? "%.1f" : "—", json_real_value(secs));
        const char *time_text = json_string_value(json_object_get(t, milestone_keys[m]));
        fprintf(out, "| %s | %s | %s |\n", milestone_vi[m],
                time_text ? time_text : "chưa đạt / not reached", time_text ? cell : "—");
    }
    fprintf(out, "\n## Tuyến đã nhận / Routes reached\n\n");
    json_array_foreach(json_object_get(r, "routes_reached"), i, v)
        fprintf(out, "- %s (lần đầu / first: %s)\n", s_of(v, "route"), s_of(v, "first_delivery"));
    if (!json_array_size(json_object_get(r, "routes_reached")))
        fprintf(out, "- Không tuyến nào / none\n");
    fprintf(out, "\n## Sự cố diễn tập / Drill incidents\n\n| Mã / Id | Loại / Type | Mức độ / "
                 "Severity | Trạng thái / State | Tóm tắt / Summary |\n| --- | --- | --- | --- | "
                 "--- |\n");
    json_array_foreach(json_object_get(r, "incidents"), i, v)
        fprintf(out, "| %s | %s | %s | %s | %s |\n", s_of(v, "id"), s_of(v, "taxonomy"),
                s_of(v, "severity"), s_of(v, "state"), s_of(v, "summary"));
    fprintf(out, "\n## Vượt phạm vi diễn tập / Scope breaches\n\n");
    json_array_foreach(json_object_get(r, "scope_breaches"), i, v)
        fprintf(out, "- %s: %s (%s)\n", s_of(v, "id"), s_of(v, "summary"), s_of(v, "state"));
    if (!json_array_size(json_object_get(r, "scope_breaches")))
        fprintf(out, "- Không có / none\n");
}

static int run_report(redisContext *r, const char *id, bool as_json)
{
    struct drill *d = malloc(sizeof(*d));
    struct followed *v = calloc(REPORT_MAX_INCIDENTS, sizeof(*v));
    size_t n = 0;
    int status = !d || !v ? DRILL_EXIT_REDIS : load_drill(r, id, d);
    if (!status) {
        /* Incidents open after the drill is created (a table-top) or its
         * window starts (live), and a day's guard before it. */
        uint64_t since = d->created_us && d->created_us < d->start_us ? d->created_us : d->start_us;
        since = since > DRILL_GUARD_AFTER_US ? since - DRILL_GUARD_AFTER_US : 0;
        status = scan_incidents(r, id, since / 1000, v, &n);
    }
    for (size_t i = 0; !status && i < n; i++)
        status = read_log(r, &v[i]);
    if (!status) {
        json_t *report = after_action_json(d, v, n);
        if (as_json) {
            char *text = json_dumps(report, JSON_INDENT(2));
            if (text)
                printf("%s\n", text);
            free(text);
        } else {
            write_markdown(stdout, report);
        }
        json_decref(report);
    }
    for (size_t i = 0; v && i < n; i++) {
        json_decref(v[i].latest);
        json_decref(v[i].routes);
    }
    free(v);
    free(d);
    return status;
}

int ctl_drill_run(redisContext *r, const struct drill_opts *o, int nargs, char **args)
{
    (void)nargs;
    const char *sub = args[0];
    if (strcmp(sub, "create") == 0)
        return run_create(r, o);
    if (strcmp(sub, "list") == 0)
        return run_list(r, o->json);
    if (strcmp(sub, "end") == 0)
        return run_end(r, args[1]);
    return run_report(r, args[1], o->json);
}
