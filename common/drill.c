/* drill.c — see drill.h. */
#include "common/drill.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/units.h"

void drill_new_id(uint64_t now_us, uint32_t rnd, char *buf, size_t len)
{
    time_t t = (time_t)(now_us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(buf, len, "d%04d%02d%02d-%02d%02d%02d-%04x", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, rnd & 0xffff);
}

/* Calls each(item) for the trimmed items of a comma list; stops at -1. */
static int each_item(const char *list, int (*each)(struct drill *, const char *, char *, size_t),
                     struct drill *d, char *why, size_t why_len)
{
    char item[256];
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n && isspace((unsigned char)*p)) {
            p++;
            n--;
        }
        while (n && isspace((unsigned char)p[n - 1]))
            n--;
        if (n >= sizeof(item)) {
            snprintf(why, why_len, "'%.40s...' is longer than %zu bytes", p, sizeof(item) - 1);
            return -1;
        }
        memcpy(item, p, n);
        item[n] = '\0';
        if (n && each(d, item, why, why_len) < 0)
            return -1;
        if (!end)
            break;
        p = end + 1;
    }
    return 0;
}

static int add_target(struct drill *d, const char *item, char *why, size_t why_len)
{
    if (d->n_targets == DRILL_MAX_TARGETS) {
        snprintf(why, why_len, "at most %d targets", DRILL_MAX_TARGETS);
        return -1;
    }
    if (strlen(item) >= sizeof(d->targets[0]) || strchr(item, '|')) {
        snprintf(why, why_len, "target '%.40s' is longer than %zu bytes or contains '|'", item,
                 sizeof(d->targets[0]) - 1);
        return -1;
    }
    snprintf(d->targets[d->n_targets++], sizeof(d->targets[0]), "%s", item);
    return 0;
}

static int add_prefix(struct drill *d, const char *item, char *why, size_t why_len)
{
    if (d->n_red_team == DRILL_MAX_PREFIXES) {
        snprintf(why, why_len, "at most %d red-team prefixes", DRILL_MAX_PREFIXES);
        return -1;
    }
    if (cidr_parse(item, &d->red_team[d->n_red_team]) < 0) {
        snprintf(why, why_len, "red-team prefix '%s' is not an address or prefix", item);
        return -1;
    }
    d->n_red_team++;
    return 0;
}

int drill_set_targets(struct drill *d, const char *list, char *why, size_t why_len)
{
    d->n_targets = 0;
    return each_item(list, add_target, d, why, why_len);
}

int drill_set_red_team(struct drill *d, const char *list, char *why, size_t why_len)
{
    d->n_red_team = 0;
    return each_item(list, add_prefix, d, why, why_len);
}

static json_t *time_json(uint64_t us)
{
    char buf[48];
    return json_string(us ? units_format_time(us, buf, sizeof(buf)) : "");
}

json_t *drill_to_json(const struct drill *d)
{
    json_t *j = json_object();
    json_object_set_new(j, "id", json_string(d->id));
    json_object_set_new(j, "name", json_string(d->name));
    json_object_set_new(j, "start", time_json(d->start_us));
    json_object_set_new(j, "end", time_json(d->end_us));
    json_object_set_new(j, "start_us", json_integer((json_int_t)d->start_us));
    json_object_set_new(j, "end_us", json_integer((json_int_t)d->end_us));
    json_object_set_new(j, "created_us", json_integer((json_int_t)d->created_us));
    json_object_set_new(j, "ended_us", json_integer((json_int_t)d->ended_us));
    json_object_set_new(j, "created_by", json_string(d->created_by));
    json_t *t = json_array();
    for (size_t i = 0; i < d->n_targets; i++)
        json_array_append_new(t, json_string(d->targets[i]));
    json_object_set_new(j, "targets", t);
    json_t *r = json_array();
    for (size_t i = 0; i < d->n_red_team; i++) {
        char buf[64];
        json_array_append_new(r, json_string(cidr_format(&d->red_team[i], buf, sizeof(buf))));
    }
    json_object_set_new(j, "red_team", r);
    json_object_set_new(j, "scenario", json_string(d->scenario));
    return j;
}

static int copy_str(const json_t *j, const char *key, char *dst, size_t size, char *why,
                    size_t why_len)
{
    const char *s = json_string_value(json_object_get(j, key));
    if (!s || strlen(s) >= size) {
        snprintf(why, why_len, "\"%s\" is missing or longer than %zu bytes", key, size - 1);
        return -1;
    }
    memcpy(dst, s, strlen(s) + 1);
    return 0;
}

static uint64_t get_u64(const json_t *j, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(j, key));
    return v > 0 ? (uint64_t)v : 0;
}

int drill_from_json(const json_t *j, struct drill *d, char *why, size_t why_len)
{
    memset(d, 0, sizeof(*d));
    if (!json_is_object(j)) {
        snprintf(why, why_len, "not a JSON object");
        return -1;
    }
    if (copy_str(j, "id", d->id, sizeof(d->id), why, why_len) < 0 ||
        copy_str(j, "name", d->name, sizeof(d->name), why, why_len) < 0 ||
        copy_str(j, "scenario", d->scenario, sizeof(d->scenario), why, why_len) < 0)
        return -1;
    if (!event_exercise_valid(d->id)) {
        snprintf(why, why_len, "\"id\" is not a drill id");
        return -1;
    }
    const char *by = json_string_value(json_object_get(j, "created_by"));
    snprintf(d->created_by, sizeof(d->created_by), "%s", by ? by : "");
    d->start_us = get_u64(j, "start_us");
    d->end_us = get_u64(j, "end_us");
    d->created_us = get_u64(j, "created_us");
    d->ended_us = get_u64(j, "ended_us");
    if (!d->start_us || d->end_us <= d->start_us) {
        snprintf(why, why_len, "the window (start_us, end_us) is missing or empty");
        return -1;
    }
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(j, "targets"), i, v)
    {
        if (!json_is_string(v) || add_target(d, json_string_value(v), why, why_len) < 0)
            return -1;
    }
    json_array_foreach(json_object_get(j, "red_team"), i, v)
    {
        if (!json_is_string(v) || add_prefix(d, json_string_value(v), why, why_len) < 0)
            return -1;
    }
    return 0;
}

bool drill_is_red_team(const struct drill *d, const struct ipaddr *src)
{
    for (size_t i = 0; i < d->n_red_team; i++)
        if (cidr_contains(&d->red_team[i], src))
            return true;
    return false;
}

bool drill_in_scope(const struct drill *d, const char *asset_name, const char *agency)
{
    for (size_t i = 0; i < d->n_targets; i++)
        if ((asset_name && *asset_name && strcmp(d->targets[i], asset_name) == 0) ||
            (agency && *agency && strcmp(d->targets[i], agency) == 0))
            return true;
    return false;
}

bool drill_in_window(const struct drill *d, uint64_t ts_us)
{
    return ts_us >= d->start_us && ts_us < d->end_us;
}

enum drill_verdict drill_judge(const struct drill *v, size_t n, const struct ipaddr *src,
                               uint64_t ts_us, const char *asset_name, const char *agency,
                               const struct drill **which)
{
    const struct drill *breach = NULL;
    *which = NULL;
    for (size_t i = 0; i < n; i++) {
        const struct drill *d = &v[i];
        if (!drill_is_red_team(d, src))
            continue;
        if (drill_in_window(d, ts_us) && drill_in_scope(d, asset_name, agency)) {
            *which = d;
            return DRILL_MEMBER;
        }
        /* Guarded from a day before the window to a day after it. */
        bool near =
            ts_us + DRILL_GUARD_AFTER_US >= d->start_us && ts_us < d->end_us + DRILL_GUARD_AFTER_US;
        if (near && !breach)
            breach = d;
    }
    *which = breach;
    return breach ? DRILL_BREACH : DRILL_NONE;
}
