/* canh-report.c — the periodic (6-monthly, yearly, monthly) incident report.
 *
 * Reads the archive of closed incidents the collector writes
 * (collector/archive.h: <dir>/incidents-YYYY-MM.jsonl, one JSON line per
 * ending, the last line of an incident wins) and writes, for a period and
 * a scope (the province, a district of [agencies], an agency): counts by
 * every taxonomy code (zeros included), severity, class, agency and asset
 * level; the serious incidents and whether their reports went on time;
 * mean times to acknowledge and to resolve; false positives per detector;
 * top sources and their countries; and, kept apart, the sensors' own
 * coverage (silent periods, capture drops).  An incident belongs to the
 * period its detection (first_seen) falls in, in local time.  Sensor
 * faults and false positives are not counted as the agencies' incidents.
 * Fields read defensively (a missing one is "unknown"): the report due and
 * sent times report_initial_due, report_initial_sent, report_final_due,
 * report_final_sent (epoch seconds).  Formats: Markdown (Vietnamese and
 * English), JSON, CSV.  docs/reporting.md ("Periodic reports").
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <maxminddb.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/slug.h"
#include "common/taxonomy.h"
#include "tools/report_format.h"

#define MAX_TOP 100

struct options {
    const char *period;
    const char *scope;
    const char *formats;
    const char *archive;
    const char *output;
    const char *mmdb;
    int top;
};

struct period {
    char name[16];
    time_t start, end; /* [start, end) */
};

/* ---- small counting tables ------------------------------------------ */

struct tally {
    char **keys;
    uint64_t *counts;
    double *sums; /* durations, for sensor rows */
    size_t n, cap;
};

static size_t tally_at(struct tally *t, const char *key)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->keys[i], key) == 0)
            return i;
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->keys = realloc(t->keys, t->cap * sizeof(*t->keys));
        t->counts = realloc(t->counts, t->cap * sizeof(*t->counts));
        t->sums = realloc(t->sums, t->cap * sizeof(*t->sums));
        if (!t->keys || !t->counts || !t->sums) {
            fprintf(stderr, "canh-report: out of memory\n");
            exit(1);
        }
    }
    t->keys[t->n] = strdup(key);
    t->counts[t->n] = 0;
    t->sums[t->n] = 0;
    return t->n++;
}

static void tally_add(struct tally *t, const char *key, uint64_t n)
{
    size_t i = tally_at(t, key); /* first: it may move counts */
    t->counts[i] += n;
}

/* Indexes of t by count, highest first (ties by key). */
static const struct tally *sort_tally;
static int by_count(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    if (sort_tally->counts[i] != sort_tally->counts[j])
        return sort_tally->counts[i] > sort_tally->counts[j] ? -1 : 1;
    return strcmp(sort_tally->keys[i], sort_tally->keys[j]);
}
static size_t *tally_sorted(const struct tally *t)
{
    size_t *idx = malloc((t->n + 1) * sizeof(*idx));
    for (size_t i = 0; i < t->n; i++)
        idx[i] = i;
    sort_tally = t;
    qsort(idx, t->n, sizeof(*idx), by_count);
    return idx;
}

static void tally_free(struct tally *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->keys[i]);
    free(t->keys);
    free(t->counts);
    free(t->sums);
}

/* ---- the archive ---------------------------------------------------- */

struct record {
    json_t *line; /* the whole archived line */
};

struct archive_set {
    struct record *v;
    size_t n, cap;
    json_t *by_id; /* id -> index + 1 into v */
};

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every line of every monthly file, in file order; a later line of an
 * incident replaces the earlier (it was reopened and ended again). */
static int load_archive(const char *dir, struct archive_set *set)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "canh-report: cannot read the archive %s: %s\n", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        int y, m;
        char tail[16];
        if (sscanf(de->d_name, "incidents-%4d-%2d.%15s", &y, &m, tail) == 3 &&
            strcmp(tail, "jsonl") == 0) {
            names = realloc(names, (n + 1) * sizeof(*names));
            names[n++] = strdup(de->d_name);
        }
    }
    closedir(d);
    qsort(names, n, sizeof(*names), name_cmp);
    set->by_id = json_object();
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        FILE *f = fopen(path, "re");
        if (!f) {
            fprintf(stderr, "canh-report: cannot read %s: %s\n", path, strerror(errno));
            return -1;
        }
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        while ((len = getline(&line, &cap, f)) > 0) {
            json_error_t je;
            json_t *j = json_loadb(line, (size_t)len, 0, &je);
            const char *id =
                json_string_value(json_object_get(json_object_get(j, "incident"), "id"));
            if (!j || !id) {
                bad++;
                json_decref(j);
                continue;
            }
            json_t *at = json_object_get(set->by_id, id);
            if (at) {
                size_t k = (size_t)json_integer_value(at) - 1;
                json_decref(set->v[k].line);
                set->v[k].line = j;
                continue;
            }
            if (set->n == set->cap) {
                set->cap = set->cap ? set->cap * 2 : 256;
                set->v = realloc(set->v, set->cap * sizeof(*set->v));
            }
            set->v[set->n++].line = j;
            json_object_set_new(set->by_id, id, json_integer((json_int_t)set->n));
        }
        free(line);
        fclose(f);
        free(names[i]);
    }
    free(names);
    if (bad)
        fprintf(stderr, "canh-report: %zu archive line(s) unreadable, skipped\n", bad);
    return 0;
}

/* ---- fields, read defensively ------------------------------------------ */

static const char *field(const json_t *inc, const char *name)
{
    const char *v = json_string_value(json_object_get(inc, name));
    return v ? v : "";
}

static int64_t field_i64(const json_t *inc, const char *name)
{
    const json_t *v = json_object_get(inc, name);
    if (json_is_integer(v))
        return json_integer_value(v);
    const char *s = json_string_value(v);
    /* strtod: times canh-ctl's Lua scripts wrote read "1.796253957292e+15"
     * (to the millisecond, which is all they had). */
    return s && *s ? (int64_t)strtod(s, NULL) : -1;
}

/* In a '|' or ',' list. */
static bool in_list(const char *list, const char *item, char sep)
{
    size_t n = strlen(item);
    for (const char *p = list; *p;) {
        const char *end = strchr(p, sep);
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, item, n) == 0)
            return true;
        if (!end)
            break;
        p = end + 1;
    }
    return false;
}

/* Calls fn for every item of a list. */
static void each_item(const char *list, char sep, void (*fn)(const char *item, void *u), void *u)
{
    for (const char *p = list; *p;) {
        const char *end = strchr(p, sep);
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char item[512];
        if (len && len < sizeof(item)) {
            memcpy(item, p, len);
            item[len] = '\0';
            fn(item, u);
        }
        if (!end)
            break;
        p = end + 1;
    }
}

/* The sensor's own health, as collector/route.c tells it apart. */
static bool sensor_fault(const json_t *inc)
{
    if (strcmp(field(inc, "type"), "fault") == 0 ||
        strcmp(field(inc, "class"), "sensor_fault") == 0)
        return true;
    return strncmp(field(inc, "taxonomy"), "fault.", 6) == 0 &&
           (in_list(field(inc, "kinds"), "capture_drops", ',') ||
            in_list(field(inc, "kinds"), "link_silent", ','));
}

static bool confirmed_serious(const json_t *inc)
{
    return strcmp(field(inc, "confirmed_class"), "serious") == 0 ||
           strcmp(field(inc, "class"), "serious") == 0;
}

/* ---- period and scope ---------------------------------------------- */

static time_t local_time(int year, int month0)
{
    struct tm tm = {.tm_year = year - 1900 + month0 / 12, .tm_mon = month0 % 12, .tm_mday = 1};
    tm.tm_isdst = -1;
    return mktime(&tm);
}

static int parse_period(const char *text, struct period *p)
{
    int year, n;
    char rest[8] = "";
    if (sscanf(text, "%4d%7s", &year, rest) < 1 || year < 2000 || year > 2200)
        return -1;
    int from, months;
    if (!rest[0]) {
        from = 0, months = 12;
    } else if (strcmp(rest, "-H1") == 0 || strcmp(rest, "-H2") == 0) {
        from = rest[2] == '1' ? 0 : 6, months = 6;
    } else if (sscanf(rest, "-%2d", &n) == 1 && n >= 1 && n <= 12 && strlen(rest) == 3) {
        from = n - 1, months = 1;
    } else {
        return -1;
    }
    snprintf(p->name, sizeof(p->name), "%s", text);
    p->start = local_time(year, from);
    p->end = local_time(year, from + months);
    return 0;
}

struct scope {
    enum { SCOPE_PROVINCE, SCOPE_DISTRICT, SCOPE_AGENCY } kind;
    const char *name;
};

static int parse_scope(const char *text, struct scope *s)
{
    if (strcmp(text, "province") == 0) {
        s->kind = SCOPE_PROVINCE;
        s->name = "";
        return 0;
    }
    if (strncmp(text, "district:", 9) == 0 && text[9]) {
        s->kind = SCOPE_DISTRICT;
        s->name = text + 9;
        return 0;
    }
    if (strncmp(text, "agency:", 7) == 0 && text[7]) {
        s->kind = SCOPE_AGENCY;
        s->name = text + 7;
        return 0;
    }
    return -1;
}

static bool in_scope(const struct scope *s, const json_t *line, const json_t *inc)
{
    switch (s->kind) {
    case SCOPE_DISTRICT:
        return in_list(field(line, "districts"), s->name, '|');
    case SCOPE_AGENCY:
        return in_list(field(inc, "agency"), s->name, '|');
    default:
        return true;
    }
}

/* ---- the figures ----------------------------------------------------- */

struct figures {
    uint64_t incidents, false_positives, sensor_faults;
    uint64_t *by_taxonomy; /* taxonomy_all order */
    uint64_t by_severity[5];
    uint64_t by_level[6]; /* 0 unknown, 1..5 */
    struct tally by_class, by_agency, fp_by_rule, sources, countries, sensor_silent, sensor_drops;
    struct tally drills; /* incidents per drill id: drills held, kept out of the figures */
    uint64_t ack_n, resolve_n;
    double ack_s, resolve_s;
    json_t *serious; /* array */
};

static const char *const severities[5] = {"none", "low", "medium", "high", "critical"};

struct add_ctx {
    struct tally *t;
    const struct scope *scope;
};

static void add_agency(const char *agency, void *u)
{
    struct add_ctx *c = u;
    /* A province-wide incident counts once for each agency in scope. */
    if (c->scope->kind != SCOPE_AGENCY || strcmp(agency, c->scope->name) == 0)
        tally_add(c->t, agency, 1);
}

static void add_item(const char *item, void *u)
{
    tally_add(u, item, 1);
}

/* The first step of the log that is an operator taking the incident. */
static int64_t acknowledged_ms(const json_t *line)
{
    size_t i;
    json_t *step;
    json_array_foreach(json_object_get(line, "log"), i, step)
    {
        const char *a = json_string_value(json_object_get(step, "action"));
        if (a && (strcmp(a, "acknowledged") == 0 || strcmp(a, "confirmed") == 0))
            return json_integer_value(json_object_get(step, "ts_ms"));
    }
    return -1;
}

/* on time / late / not sent / unknown (no due time recorded). */
static const char *timeliness(const json_t *inc, const char *due_field, const char *sent_field)
{
    int64_t due = field_i64(inc, due_field), sent = field_i64(inc, sent_field);
    if (due <= 0)
        return "unknown";
    if (sent <= 0)
        return "not sent";
    return sent <= due ? "on time" : "late";
}

static void count_record(struct figures *f, const struct period *p, const json_t *line,
                         const json_t *inc, const struct scope *scope)
{
    const char *kinds = field(inc, "kinds");
    /* A drill's incidents (docs/drills.md) are no incidents of the period:
     * only the drills held are counted. */
    if (*field(inc, "exercise")) {
        tally_add(&f->drills, field(inc, "exercise"), 1);
        return;
    }
    if (sensor_fault(inc)) {
        f->sensor_faults++;
        /* Silent periods (fault.link of the collector, link_silent of the
         * agent) and capture drops, per agent; durations clipped to the
         * period. */
        int64_t from = field_i64(inc, "first_seen_us"), to = field_i64(inc, "closed_us");
        if (to <= 0)
            to = field_i64(inc, "last_seen_us");
        double start = (double)p->start * 1e6, end = (double)p->end * 1e6;
        double secs = 0;
        if (from > 0 && to > from)
            secs = ((double)to < end ? (double)to : end) -
                   ((double)from > start ? (double)from : start);
        secs = secs > 0 ? secs / 1e6 : 0;
        char agents[512];
        snprintf(agents, sizeof(agents), "%s", field(inc, "agents"));
        if (!agents[0])
            snprintf(agents, sizeof(agents), "%s", field(inc, "agency"));
        bool drops = in_list(kinds, "capture_drops", ',');
        for (char *save = NULL, *a = strtok_r(agents, ",|", &save); a;
             a = strtok_r(NULL, ",|", &save)) {
            if (drops) {
                tally_add(&f->sensor_drops, a, 1);
            } else {
                size_t k = tally_at(&f->sensor_silent, a);
                f->sensor_silent.counts[k]++;
                f->sensor_silent.sums[k] += secs;
            }
        }
        return;
    }
    if (strcmp(field(inc, "state"), "rejected") == 0) {
        f->false_positives++;
        each_item(kinds[0] ? kinds : "unknown", ',', add_item, &f->fp_by_rule);
        return;
    }
    (void)scope;
    f->incidents++;
    size_t n_tax;
    const struct taxonomy *all = taxonomy_all(&n_tax);
    for (size_t i = 0; i < n_tax; i++)
        if (strcmp(all[i].code, field(inc, "taxonomy")) == 0)
            f->by_taxonomy[i]++;
    for (int s = 1; s < 5; s++)
        if (strcmp(field(inc, "severity"), severities[s]) == 0)
            f->by_severity[s]++;
    int64_t level = field_i64(inc, "level");
    f->by_level[level >= 1 && level <= 5 ? level : 0]++;
    tally_add(&f->by_class,
              confirmed_serious(inc) ? "serious"
              : *field(inc, "class") ? field(inc, "class")
                                     : "normal",
              1);
    struct add_ctx ctx = {&f->by_agency, scope};
    each_item(field(inc, "agency"), '|', add_agency, &ctx);
    each_item(field(inc, "sources"), ',', add_item, &f->sources);
    each_item(field(inc, "countries"), ',', add_item, &f->countries);
    int64_t opened_us = field_i64(inc, "opened_us");
    int64_t ack = acknowledged_ms(line);
    if (opened_us > 0 && ack > 0 && ack * 1000 >= opened_us) {
        f->ack_n++;
        f->ack_s += (double)(ack * 1000 - opened_us) / 1e6;
    }
    int64_t closed_us = field_i64(inc, "closed_us");
    if (strcmp(field(inc, "state"), "resolved") == 0 && opened_us > 0 && closed_us >= opened_us) {
        f->resolve_n++;
        f->resolve_s += (double)(closed_us - opened_us) / 1e6;
    }
    if (confirmed_serious(inc)) {
        json_t *s = json_pack(
            "{s:s,s:s,s:s,s:s,s:s,s:s}", "id", field(inc, "id"), "agency", field(inc, "agency"),
            "taxonomy", field(inc, "taxonomy"), "first_seen", field(inc, "first_seen"),
            "initial_report", timeliness(inc, "report_initial_due", "report_initial_sent"),
            "final_report", timeliness(inc, "report_final_due", "report_final_sent"));
        const char *names[] = {"report_initial_due", "report_initial_sent", "report_final_due",
                               "report_final_sent"};
        for (int i = 0; i < 4; i++) {
            int64_t v = field_i64(inc, names[i]);
            json_object_set_new(s, names[i], v > 0 ? json_integer(v) : json_null());
        }
        json_array_append_new(f->serious, s);
    }
}

/* Countries of the top sources from an MMDB file (GeoLite2/DB-IP
 * country), when the archive has none. */
static void countries_from_mmdb(struct figures *f, const char *path, int top)
{
    MMDB_s db;
    int rc = MMDB_open(path, MMDB_MODE_MMAP, &db);
    if (rc != MMDB_SUCCESS) {
        fprintf(stderr, "canh-report: --mmdb %s: %s\n", path, MMDB_strerror(rc));
        exit(2);
    }
    for (size_t i = 0; i < f->sources.n; i++) {
        int gai, err;
        MMDB_lookup_result_s r = MMDB_lookup_string(&db, f->sources.keys[i], &gai, &err);
        MMDB_entry_data_s data;
        char code[8] = "??";
        if (gai == 0 && err == MMDB_SUCCESS && r.found_entry &&
            MMDB_get_value(&r.entry, &data, "country", "iso_code", NULL) == MMDB_SUCCESS &&
            data.has_data && data.type == MMDB_DATA_TYPE_UTF8_STRING && data.data_size < 8) {
            memcpy(code, data.utf8_string, data.data_size);
            code[data.data_size] = '\0';
        }
        tally_add(&f->countries, code, f->sources.counts[i]);
    }
    (void)top;
    MMDB_close(&db);
}

/* ---- output ---------------------------------------------------------- */

static json_t *tally_json(const struct tally *t, const char *key_name, int top, bool with_sums)
{
    json_t *a = json_array();
    size_t *idx = tally_sorted(t);
    for (size_t k = 0; k < t->n && (top <= 0 || (int)k < top); k++) {
        size_t i = idx[k];
        json_t *o = json_pack("{s:s,s:I}", key_name, t->keys[i], "count", (json_int_t)t->counts[i]);
        if (with_sums)
            json_object_set_new(o, "seconds", json_real(t->sums[i]));
        json_array_append_new(a, o);
    }
    free(idx);
    return a;
}

static json_t *report_json(const struct figures *f, const struct period *p, const char *scope,
                           int top)
{
    char from[32], to[32];
    struct tm tm;
    localtime_r(&p->start, &tm);
    strftime(from, sizeof(from), "%Y-%m-%d", &tm);
    time_t last = p->end - 1;
    localtime_r(&last, &tm);
    strftime(to, sizeof(to), "%Y-%m-%d", &tm);
    json_t *tax = json_array();
    size_t n_tax;
    const struct taxonomy *all = taxonomy_all(&n_tax);
    for (size_t i = 0; i < n_tax; i++)
        json_array_append_new(tax,
                              json_pack("{s:s,s:s,s:s,s:I}", "code", all[i].code, "vi", all[i].vi,
                                        "en", all[i].en, "count", (json_int_t)f->by_taxonomy[i]));
    json_t *sev = json_object();
    for (int s = 1; s < 5; s++)
        json_object_set_new(sev, severities[s], json_integer((json_int_t)f->by_severity[s]));
    json_t *cls = json_object();
    const char *classes[] = {"normal", "serious_candidate", "serious"};
    for (int i = 0; i < 3; i++)
        json_object_set_new(cls, classes[i], json_integer(0));
    for (size_t i = 0; i < f->by_class.n; i++)
        json_object_set_new(cls, f->by_class.keys[i],
                            json_integer((json_int_t)f->by_class.counts[i]));
    json_t *lvl = json_object();
    for (int l = 0; l < 6; l++) {
        char k[8];
        snprintf(k, sizeof(k), "%d", l);
        json_object_set_new(lvl, l ? k : "unknown", json_integer((json_int_t)f->by_level[l]));
    }
    json_t *sensors = json_array();
    struct tally agents = {0};
    for (size_t i = 0; i < f->sensor_silent.n; i++)
        tally_at(&agents, f->sensor_silent.keys[i]);
    for (size_t i = 0; i < f->sensor_drops.n; i++)
        tally_at(&agents, f->sensor_drops.keys[i]);
    double period_s = difftime(p->end, p->start);
    for (size_t i = 0; i < agents.n; i++) {
        const char *a = agents.keys[i];
        size_t s = tally_at((struct tally *)&f->sensor_silent, a);
        size_t d = tally_at((struct tally *)&f->sensor_drops, a);
        double silent = f->sensor_silent.sums[s];
        json_array_append_new(
            sensors, json_pack("{s:s,s:I,s:f,s:f,s:I}", "agent", a, "silent_periods",
                               (json_int_t)f->sensor_silent.counts[s], "silent_seconds", silent,
                               "uptime", period_s > 0 ? 1.0 - silent / period_s : 1.0,
                               "capture_drops", (json_int_t)f->sensor_drops.counts[d]));
    }
    tally_free(&agents);
    return json_pack(
        "{s:{s:s,s:s,s:s},s:s,s:{s:I,s:I,s:I},s:o,s:o,s:o,s:o,s:o,s:O,s:{s:{s:I,s:o},s:{s:I,s:o}},"
        "s:o,s:o,s:o,s:o}",
        "period", "name", p->name, "from", from, "to", to, "scope", scope, "totals", "incidents",
        (json_int_t)f->incidents, "false_positives", (json_int_t)f->false_positives,
        "sensor_faults", (json_int_t)f->sensor_faults, "by_taxonomy", tax, "by_severity", sev,
        "by_class", cls, "by_agency", tally_json(&f->by_agency, "agency", 0, false), "by_level",
        lvl, "serious", f->serious, "times", "acknowledge", "n", (json_int_t)f->ack_n,
        "mean_seconds", f->ack_n ? json_real(f->ack_s / (double)f->ack_n) : json_null(), "resolve",
        "n", (json_int_t)f->resolve_n, "mean_seconds",
        f->resolve_n ? json_real(f->resolve_s / (double)f->resolve_n) : json_null(),
        "false_positives_by_rule", tally_json(&f->fp_by_rule, "rule", 0, false), "top_sources",
        tally_json(&f->sources, "source", top, false), "countries",
        tally_json(&f->countries, "country", top, false), "sensors", sensors);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: canh-report --period P [options]\n"
            "  -p, --period P       2026 (a year), 2026-H1 / 2026-H2 (a half), 2026-11 (a month)\n"
            "  -s, --scope S        province (default), district:NAME or agency:NAME\n"
            "  -f, --format LIST    md, json, csv, comma separated (default md)\n"
            "  -a, --archive DIR    the collector's [archive] dir\n"
            "                       (default /var/lib/canh-collector/archive)\n"
            "  -o, --output DIR     where the files go (default .); - writes one format to stdout\n"
            "  -m, --mmdb FILE      country database (GeoLite2/DB-IP country) for the sources\n"
            "  -n, --top N          top sources and countries listed (default 10)\n"
            "  -V, --version        print the version and exit\n");
}

int main(int argc, char **argv)
{
    struct options o = {.scope = "province",
                        .formats = "md",
                        .archive = "/var/lib/canh-collector/archive",
                        .output = ".",
                        .top = 10};
    static const struct option opts[] = {
        {"period", required_argument, NULL, 'p'}, {"scope", required_argument, NULL, 's'},
        {"format", required_argument, NULL, 'f'}, {"archive", required_argument, NULL, 'a'},
        {"output", required_argument, NULL, 'o'}, {"mmdb", required_argument, NULL, 'm'},
        {"top", required_argument, NULL, 'n'},    {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "p:s:f:a:o:m:n:Vh", opts, NULL)) != -1) {
        switch (opt) {
        case 'p':
            o.period = optarg;
            break;
        case 's':
            o.scope = optarg;
            break;
        case 'f':
            o.formats = optarg;
            break;
        case 'a':
            o.archive = optarg;
            break;
        case 'o':
            o.output = optarg;
            break;
        case 'm':
            o.mmdb = optarg;
            break;
        case 'n':
            o.top = atoi(optarg);
            if (o.top < 1 || o.top > MAX_TOP) {
                fprintf(stderr, "canh-report: --top is 1..%d\n", MAX_TOP);
                return 2;
            }
            break;
        case 'V':
            printf("canh-report %s\n", CANH_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    struct period period;
    struct scope scope;
    if (optind < argc || !o.period) {
        usage(stderr);
        return 2;
    }
    if (parse_period(o.period, &period) < 0) {
        fprintf(stderr, "canh-report: --period '%s' is not 2026, 2026-H1, 2026-H2 or 2026-11\n",
                o.period);
        return 2;
    }
    if (parse_scope(o.scope, &scope) < 0) {
        fprintf(stderr, "canh-report: --scope '%s' is not province, district:NAME or agency:NAME\n",
                o.scope);
        return 2;
    }
    bool want[3] = {false, false, false}; /* md, json, csv */
    int n_formats = 0;
    char fmts[64];
    snprintf(fmts, sizeof(fmts), "%s", o.formats);
    for (char *save = NULL, *f = strtok_r(fmts, ", ", &save); f; f = strtok_r(NULL, ", ", &save)) {
        int k = strcmp(f, "md") == 0     ? 0
                : strcmp(f, "json") == 0 ? 1
                : strcmp(f, "csv") == 0  ? 2
                                         : -1;
        if (k < 0) {
            fprintf(stderr, "canh-report: --format '%s' is not md, json or csv\n", f);
            return 2;
        }
        n_formats += !want[k];
        want[k] = true;
    }
    if (!n_formats || (strcmp(o.output, "-") == 0 && n_formats != 1)) {
        fprintf(stderr, "canh-report: --output - takes exactly one --format\n");
        return 2;
    }
    struct archive_set set = {0};
    if (load_archive(o.archive, &set) < 0)
        return 1;
    size_t n_tax;
    taxonomy_all(&n_tax);
    struct figures f = {0};
    f.by_taxonomy = calloc(n_tax, sizeof(*f.by_taxonomy));
    f.serious = json_array();
    for (size_t i = 0; i < set.n; i++) {
        const json_t *line = set.v[i].line, *inc = json_object_get(line, "incident");
        int64_t first = field_i64(inc, "first_seen_us");
        if (first <= 0)
            first = field_i64(inc, "opened_us");
        if (first <= 0 || first / 1000000 < period.start || first / 1000000 >= period.end)
            continue;
        if (!in_scope(&scope, line, inc))
            continue;
        count_record(&f, &period, line, inc, &scope);
    }
    if (o.mmdb && !f.countries.n)
        countries_from_mmdb(&f, o.mmdb, o.top);
    json_t *report = report_json(&f, &period, o.scope, o.top);
    uint64_t drill_incidents = 0;
    for (size_t i = 0; i < f.drills.n; i++)
        drill_incidents += f.drills.counts[i];
    json_object_set_new(report, "drills",
                        json_pack("{s:I,s:I,s:o}", "held", (json_int_t)f.drills.n, "incidents",
                                  (json_int_t)drill_incidents, "by_drill",
                                  tally_json(&f.drills, "drill", 0, false)));
    char slug[128];
    slug_agency(scope.kind == SCOPE_PROVINCE ? "province" : o.scope, slug, sizeof(slug));
    const char *ext[3] = {"md", "json", "csv"};
    int rc = 0;
    for (int k = 0; k < 3; k++) {
        if (!want[k])
            continue;
        char path[1024];
        FILE *out = stdout;
        if (strcmp(o.output, "-") != 0) {
            snprintf(path, sizeof(path), "%s/canh-report-%s-%s.%s", o.output, period.name, slug,
                     ext[k]);
            out = fopen(path, "we");
            if (!out) {
                fprintf(stderr, "canh-report: cannot write %s: %s\n", path, strerror(errno));
                rc = 1;
                continue;
            }
        }
        if (k == 0)
            report_write_md(out, report);
        else if (k == 1)
            json_dumpf(report, out, JSON_INDENT(2)), fputc('\n', out);
        else
            report_write_csv(out, report);
        if (out != stdout && fclose(out) != 0) {
            fprintf(stderr, "canh-report: cannot write %s: %s\n", path, strerror(errno));
            rc = 1;
        } else if (out != stdout) {
            printf("%s\n", path);
        }
    }
    json_decref(report);
    return rc;
}
