/* canh-tail.c — follow incidents (or raw events) on a terminal.
 *
 * Reads canh:incidents (with --own-agency, one agency's own
 * canh:incidents:<key>, common/slug.h) — or, with --events, every canh:events:<agent>
 * stream, found with SCAN and looked for again every few seconds — with
 * XREAD BLOCK, and prints one line per entry: time, severity, action or
 * state, agency, Vietnamese taxonomy name, source → target and a short
 * evidence summary, coloured by severity on a terminal; by default one
 * compact line of at most 120 columns, --wide for every field.  --json
 * prints the JSON instead, for scripts.  It only reads, so a tail user needs no more
 * than +xread +scan on canh:* in Redis's ACL.
 *
 * It runs on common/redis/link.h, the Redis link of the agent and the
 * collector (URL grammar, AUTH, timeouts), on a libevent loop: one XREAD
 * BLOCK at a time, SIGINT and SIGTERM end the loop.  A first connection
 * attempt that fails ends the run with status 1 (a typo in the URL should
 * not hang); a link lost later (Redis restarted) prints one line and is
 * made again with the link's backoff, reading on from the last entry shown.
 * It links no collector code.
 */
#include <event2/event.h>
#include <getopt.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/redis/link.h"
#include "common/redis/url.h"
#include "common/slug.h"
#include "common/taxonomy.h"
#include "common/units.h"
#include "common/values.h"

#define BLOCK_MS 500
#define MAX_STREAMS 256
#define RESCAN_US (5ull * 1000000)
#define COMPACT_COLUMNS 120

struct options {
    const char *url;
    const char *user;
    const char *password_file;
    bool events;
    const char *agency;
    const char *own_agency; /* --own-agency: its stream canh:incidents:<slug> */
    const char *taxonomy;
    enum severity min_severity;
    const char *class_;
    const char *state;
    const char *since;
    bool wide;
    bool json;
    long count; /* 0: forever */
    int color;  /* -1 auto */
};

struct stream {
    char key[192];
    char last_id[48];
};

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: canh-tail [options]\n"
        "  -r, --redis URL         redis://[user[:password]@]host[:port] (host a name, IPv4\n"
        "                          or [IPv6]), unix:/path or sentinel://host:port,.../master\n"
        "                          (default $CANH_REDIS or\n"
        "                          redis://127.0.0.1:6379)\n"
        "      --user NAME         Redis ACL user\n"
        "      --password-file F   file holding the password\n"
        "  -e, --events            follow raw events of every agent instead of incidents\n"
        "  -a, --agency NAME       only this agency\n"
        "  -A, --own-agency NAME   read only this agency's own stream,\n"
        "                          canh:incidents:<agency key> (an agency's Redis user\n"
        "                          may read no other; docs/deployment.md)\n"
        "  -t, --taxonomy CODE     only this taxonomy code, or a prefix ending in '.' (attack.)\n"
        "  -s, --min-severity S    low, medium, high or critical\n"
        "  -k, --class C           normal or serious_candidate\n"
        "      --state S           only incidents now in state S: open, acknowledged,\n"
        "                          confirmed, rejected, resolved or closed\n"
        "      --since WHEN        start in the past: a duration (10m, 2h), an ISO time,\n"
        "                          a stream id, or 'all'\n"
        "  -j, --json              one JSON object per line\n"
        "  -n, --count N           exit after N entries\n"
        "  -w, --wide              every field on the line (default: compact, 120 columns)\n"
        "      --color / --no-color  force colours on or off (default: when a terminal)\n"
        "  -V, --version           print the version and exit\n");
}

/* ---- filters and formatting ------------------------------------------ */

static const char *str_at(json_t *obj, const char *a, const char *b)
{
    json_t *v = json_object_get(obj, a);
    if (b)
        v = json_object_get(v, b);
    return json_is_string(v) ? json_string_value(v) : "";
}

static bool agency_matches(const char *want, const char *agency)
{
    /* Province-wide incidents list their agencies with '|': look for
     * "|want|" in "|agency|". */
    size_t n = strlen(want);
    for (const char *p = strstr(agency, want); p; p = strstr(p + 1, want))
        if ((p == agency || p[-1] == '|') && (p[n] == '\0' || p[n] == '|'))
            return true;
    return false;
}

static bool taxonomy_matches(const char *want, const char *code)
{
    size_t n = strlen(want);
    if (n && want[n - 1] == '.')
        return strncmp(code, want, n) == 0;
    return strcmp(code, want) == 0;
}

/* A filter that can match nothing is a typo: refuse it rather than show
 * an empty feed that looks like a quiet province. */
static bool taxonomy_known(const char *want)
{
    size_t n;
    const struct taxonomy *all = taxonomy_all(&n);
    for (size_t i = 0; i < n; i++)
        if (taxonomy_matches(want, all[i].code))
            return true;
    return false;
}

static const char *color_of(enum severity s)
{
    switch (s) {
    case SEV_CRITICAL:
        return "\033[1;31m";
    case SEV_HIGH:
        return "\033[31m";
    case SEV_MEDIUM:
        return "\033[33m";
    default:
        return "\033[36m";
    }
}

static void upper(char *dst, size_t len, const char *s)
{
    size_t i = 0;
    for (; s[i] && i + 1 < len; i++)
        dst[i] = (char)(s[i] >= 'a' && s[i] <= 'z' ? s[i] - 32 : s[i]);
    dst[i] = '\0';
}

static void join_array(json_t *a, char *buf, size_t len, size_t max)
{
    buf[0] = '\0';
    size_t used = 0, i;
    json_t *v;
    json_array_foreach(a, i, v)
    {
        if (i == max) {
            snprintf(buf + used, len - used, ",…");
            return;
        }
        if (!json_is_string(v))
            continue;
        int n = snprintf(buf + used, len - used, "%s%s", used ? "," : "", json_string_value(v));
        if (n < 0 || (size_t)n >= len - used)
            return;
        used += (size_t)n;
    }
}

/* Cuts text to at most columns characters (UTF-8 sequences count as one
 * column: Vietnamese letters and the arrows are single width), ending in
 * "…" when something was cut. */
static void fit_columns(char *text, size_t columns)
{
    size_t cols = 0;
    char *cut = NULL;
    for (char *p = text; *p; p++) {
        if (((unsigned char)*p & 0xC0) == 0x80)
            continue;
        if (cols == columns - 1)
            cut = p;
        if (++cols > columns) {
            memcpy(cut, "…", sizeof("…"));
            return;
        }
    }
}

static void print_line(const struct options *o, uint64_t ts_us, enum severity sev, bool dim,
                       const char *what, const char *agency, const char *taxonomy_vi,
                       const char *detail, const char *src, const char *dst, const char *summary,
                       const char *id)
{
    char when[48], sevtext[16];
    time_t secs = (time_t)(ts_us / 1000000);
    struct tm tm;
    localtime_r(&secs, &tm);
    strftime(when, sizeof(when), o->wide ? "%Y-%m-%d %H:%M:%S" : "%H:%M:%S", &tm);
    upper(sevtext, sizeof(sevtext), severity_name(sev));
    const char *on = o->color ? (dim ? "\033[2m" : color_of(sev)) : "";
    const char *off = o->color ? "\033[0m" : "";
    if (o->wide) {
        printf("%s%s %-8s %-12s %s | %s%s | %s → %s | %s%s  [%s]\n", on, when, sevtext, what,
               agency, taxonomy_vi, detail, *src ? src : "?", *dst ? dst : "?", summary, off, id);
        return;
    }
    /* The id first (what canh-ctl needs), then as much as fits. */
    char line[1024];
    snprintf(line, sizeof(line), "%s %-4.4s %-12s %s %s | %s%s | %s → %s | %s", when, sevtext, what,
             id, agency, taxonomy_vi, detail, *src ? src : "?", *dst ? dst : "?", summary);
    fit_columns(line, COMPACT_COLUMNS);
    printf("%s%s%s\n", on, line, off);
}

/* An incident's lifecycle state; entries written before the lifecycle
 * existed carry only the collector's status. */
static const char *state_of(json_t *inc)
{
    const char *state = str_at(inc, "state", NULL);
    if (*state)
        return state;
    return strcmp(str_at(inc, "status", NULL), "closed") == 0 ? "closed" : "open";
}

/* An incidents entry: fields action, id, incident. */
static bool show_incident(const struct options *o, uint64_t entry_ms, const char *action,
                          const char *operator_name, const char *note, const char *changes,
                          json_t *inc)
{
    if (o->state && strcmp(o->state, state_of(inc)) != 0)
        return false;
    enum severity sev = SEV_LOW;
    severity_parse(str_at(inc, "severity", NULL), &sev);
    if (sev < o->min_severity)
        return false;
    if (o->agency && !agency_matches(o->agency, str_at(inc, "agency", NULL)))
        return false;
    if (o->taxonomy && !taxonomy_matches(o->taxonomy, str_at(inc, "taxonomy", "code")))
        return false;
    if (o->class_ && strcmp(o->class_, str_at(inc, "class", NULL)) != 0)
        return false;
    if (o->json) {
        json_t *line = json_object();
        json_object_set_new(line, "action", json_string(action));
        if (operator_name)
            json_object_set_new(line, "operator", json_string(operator_name));
        if (note)
            json_object_set_new(line, "note", json_string(note));
        if (changes)
            json_object_set_new(line, "changes", json_string(changes));
        json_object_set(line, "incident", inc);
        char *text = json_dumps(line, JSON_COMPACT);
        json_decref(line);
        if (text)
            puts(text);
        free(text);
        return true;
    }
    char src[200], dst[400], targets[200], detail[96] = "";
    join_array(json_object_get(inc, "sources"), src, sizeof(src), 3);
    join_array(json_object_get(inc, "targets"), targets, sizeof(targets), 3);
    const char *asset = str_at(inc, "asset", "name");
    if (*asset && *targets)
        snprintf(dst, sizeof(dst), "%s (%s)", asset, targets);
    else
        snprintf(dst, sizeof(dst), "%s", *asset ? asset : targets);
    const char *type = str_at(inc, "type", NULL);
    if (strcmp(type, "finding") != 0)
        snprintf(detail, sizeof(detail), " [%s]",
                 strcmp(type, "province") == 0 ? "toàn tỉnh" : type);
    if (strcmp(str_at(inc, "class", NULL), "serious_candidate") == 0)
        strncat(detail, " [nghiêm trọng?]", sizeof(detail) - strlen(detail) - 1);
    /* A drill's incidents are marked so nobody reports them; a breach of
     * a drill's scope is a real incident and says which drill. */
    if (*str_at(inc, "exercise", NULL))
        snprintf(detail + strlen(detail), sizeof(detail) - strlen(detail), " [DIỄN TẬP %s]",
                 str_at(inc, "exercise", NULL));
    else if (*str_at(inc, "drill_breach", NULL))
        snprintf(detail + strlen(detail), sizeof(detail) - strlen(detail),
                 " [vượt phạm vi diễn tập %s]", str_at(inc, "drill_breach", NULL));
    /* What the entry is about: the operator's words, what changed, or the
     * incident's summary. */
    char info[1024];
    bool by_operator = operator_name && strcmp(operator_name, "collector") != 0;
    if (by_operator)
        snprintf(info, sizeof(info), "by %s%s%s%s%s", operator_name, note ? ": " : "",
                 note ? note : "", changes ? "; " : "", changes ? changes : "");
    else if (changes)
        snprintf(info, sizeof(info), "%s; %s", changes, str_at(inc, "summary", NULL));
    else
        snprintf(info, sizeof(info), "%s", str_at(inc, "summary", NULL));
    bool dim = strcmp(action, "closed") == 0 || strcmp(action, "resolved") == 0 ||
               strcmp(action, "rejected") == 0;
    print_line(o, entry_ms * 1000, sev, dim, action, str_at(inc, "agency", NULL),
               str_at(inc, "taxonomy", "vi"), detail, src, dst, info, str_at(inc, "id", NULL));
    return true;
}

static bool show_event(const struct options *o, json_t *ev)
{
    json_t *c = json_object_get(ev, "canh");
    enum severity sev = SEV_LOW;
    severity_parse(str_at(c, "severity", NULL), &sev);
    if (sev < o->min_severity)
        return false;
    if (o->agency && strcmp(o->agency, str_at(c, "agency", NULL)) != 0)
        return false;
    if (o->taxonomy && !taxonomy_matches(o->taxonomy, str_at(c, "taxonomy", "code")))
        return false;
    if (o->class_ && strcmp(o->class_, str_at(c, "class", NULL)) != 0)
        return false;
    if (o->json) {
        char *text = json_dumps(ev, JSON_COMPACT);
        if (text)
            puts(text);
        free(text);
        return true;
    }
    uint64_t ts = 0;
    if (units_parse_time_us(str_at(ev, "timestamp", NULL), &ts) < 0)
        ts = units_now_us();
    char dst[200], detail[96], summary[256] = "";
    json_t *port = json_object_get(ev, "dest_port");
    const char *asset = str_at(c, "asset", "name");
    if (json_is_integer(port))
        snprintf(dst, sizeof(dst), "%s%s%s:%" JSON_INTEGER_FORMAT "%s", asset, *asset ? " (" : "",
                 str_at(ev, "dest_ip", NULL), json_integer_value(port), *asset ? ")" : "");
    else
        snprintf(dst, sizeof(dst), "%s%s%s%s", asset, *asset ? " (" : "",
                 str_at(ev, "dest_ip", NULL), *asset ? ")" : "");
    snprintf(detail, sizeof(detail), " (%s)", str_at(c, "kind", NULL));
    size_t used = 0;
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(c, "counters"), key, v)
    {
        if (!json_is_integer(v) || used + 40 > sizeof(summary))
            continue;
        used +=
            (size_t)snprintf(summary + used, sizeof(summary) - used, "%s%s=%" JSON_INTEGER_FORMAT,
                             used ? " " : "", key, json_integer_value(v));
    }
    print_line(o, ts, sev, strcmp(str_at(c, "state", NULL), "end") == 0, str_at(c, "state", NULL),
               str_at(c, "agency", NULL), str_at(c, "taxonomy", "vi"), detail,
               str_at(ev, "src_ip", NULL), dst, summary, str_at(c, "id", NULL));
    return true;
}

/* ---- since ---------------------------------------------------------- */

/* "$", or the id --since names. */
static int since_id(const char *since, char *buf, size_t len)
{
    uint64_t us;
    if (!since) {
        snprintf(buf, len, "$");
        return 0;
    }
    if (strcmp(since, "all") == 0 || strcmp(since, "0") == 0) {
        snprintf(buf, len, "0-0");
        return 0;
    }
    if (units_parse_duration_us(since, &us) == 0) {
        uint64_t now = units_now_us();
        snprintf(buf, len, "%" PRIu64 "-0", (now > us ? now - us : 0) / 1000);
        return 0;
    }
    if (units_parse_time_us(since, &us) == 0) {
        snprintf(buf, len, "%" PRIu64 "-0", us / 1000);
        return 0;
    }
    char *end;
    strtoull(since, &end, 10);
    if (end != since && (*end == '\0' || (*end == '-' && end[1]))) {
        snprintf(buf, len, "%s", since);
        return 0;
    }
    return -1;
}

/* ---- following streams on the link ------------------------------------ */

struct tail {
    const struct options *o;
    struct event_base *base;
    struct redis_link *link;
    struct stream streams[MAX_STREAMS];
    size_t n;
    char start[48];       /* first id for the streams found at start */
    const char *later_id; /* and for those that appear later */
    char cursor[32];      /* SCAN in progress */
    int pages;
    bool following; /* start-up (scan, pinning "$") done */
    size_t pinning; /* XINFO STREAM replies awaited */
    uint64_t next_scan_us;
    long shown;
    int exit_code;
    struct event *retry; /* XREAD again later (no stream yet) */
};

static void finish(struct tail *t, int code)
{
    t->exit_code = code;
    event_base_loopbreak(t->base);
}

static void read_streams(struct tail *t);
static void scan_page(struct tail *t);

static bool command(struct tail *t, redis_link_reply_fn fn, int argc, const char **argv)
{
    size_t lens[6 + 2 * MAX_STREAMS];
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    return redis_link_command(t->link, 0, fn, t, argc, argv, lens) == 0;
}

/* NULL (the link went down: on_lost reports it) or an error: stop. */
static bool reply_ok(struct tail *t, const redisReply *r)
{
    if (!r)
        return false;
    if (r->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "canh-tail: Redis: %s\n", r->str);
        finish(t, 1);
        return false;
    }
    return true;
}

static const char *field(const redisReply *fields, const char *name)
{
    for (size_t i = 0; i + 1 < fields->elements; i += 2)
        if (fields->element[i]->type == REDIS_REPLY_STRING &&
            strcmp(fields->element[i]->str, name) == 0 &&
            fields->element[i + 1]->type == REDIS_REPLY_STRING)
            return fields->element[i + 1]->str;
    return NULL;
}

static void add_stream(struct tail *t, const char *key, const char *id)
{
    for (size_t k = 0; k < t->n; k++)
        if (strcmp(t->streams[k].key, key) == 0)
            return;
    if (t->n == MAX_STREAMS || strlen(key) >= sizeof(t->streams[0].key))
        return;
    snprintf(t->streams[t->n].key, sizeof(t->streams[0].key), "%s", key);
    snprintf(t->streams[t->n].last_id, sizeof(t->streams[0].last_id), "%s", id);
    t->n++;
}

static void on_pinned(redisReply *r, void *priv)
{
    struct tail *t = priv;
    if (!r)
        return;
    /* A stream not there yet starts at 0. */
    const char *last = r->type == REDIS_REPLY_ARRAY ? field(r, "last-generated-id") : NULL;
    snprintf(t->streams[t->n - t->pinning].last_id, sizeof(t->streams[0].last_id), "%s",
             last ? last : "0-0");
    if (--t->pinning == 0) {
        t->following = true;
        read_streams(t);
    }
}

/* "$" would lose what arrives between two reads: pin it to each stream's
 * last id now (replies come in order, so the k-th reply is stream k). */
static void start_following(struct tail *t)
{
    if (strcmp(t->start, "$") == 0) {
        for (size_t i = 0; i < t->n; i++) {
            const char *argv[] = {"XINFO", "STREAM", t->streams[i].key};
            if (!command(t, on_pinned, 3, argv))
                return;
            t->pinning++;
        }
        if (t->pinning)
            return;
    }
    t->following = true;
    read_streams(t);
}

static void on_scan(redisReply *r, void *priv)
{
    struct tail *t = priv;
    if (!reply_ok(t, r))
        return;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[1]->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < r->element[1]->elements; i++)
            add_stream(t, r->element[1]->element[i]->str, t->following ? t->later_id : t->start);
        snprintf(t->cursor, sizeof(t->cursor), "%s", r->element[0]->str);
    } else {
        snprintf(t->cursor, sizeof(t->cursor), "0");
    }
    if (strcmp(t->cursor, "0") != 0 && ++t->pages < 1000) {
        scan_page(t);
        return;
    }
    t->next_scan_us = units_now_us() + RESCAN_US;
    if (t->following)
        read_streams(t);
    else
        start_following(t);
}

static void scan_page(struct tail *t)
{
    const char *argv[] = {"SCAN",  t->cursor, "MATCH", "canh:events:*",
                          "COUNT", "1000",    "TYPE",  "stream"};
    command(t, on_scan, 8, argv);
}

static void scan_from_start(struct tail *t)
{
    snprintf(t->cursor, sizeof(t->cursor), "0");
    t->pages = 0;
    scan_page(t);
}

/* Look for new agent streams every RESCAN_US, else read on. */
static void read_next(struct tail *t)
{
    if (t->o->events && units_now_us() >= t->next_scan_us)
        scan_from_start(t);
    else
        read_streams(t);
}

static void show_entries(struct tail *t, const redisReply *r)
{
    const struct options *o = t->o;
    for (size_t s = 0; r->type == REDIS_REPLY_ARRAY && s < r->elements; s++) {
        const redisReply *sr = r->element[s];
        size_t k = 0;
        while (k < t->n && strcmp(t->streams[k].key, sr->element[0]->str) != 0)
            k++;
        if (k == t->n)
            continue;
        const redisReply *entries = sr->element[1];
        for (size_t e = 0; e < entries->elements; e++) {
            const redisReply *entry = entries->element[e];
            const char *id = entry->element[0]->str;
            snprintf(t->streams[k].last_id, sizeof(t->streams[k].last_id), "%s", id);
            if (entry->element[1]->type != REDIS_REPLY_ARRAY)
                continue;
            const char *text = field(entry->element[1], o->events ? "event" : "incident");
            json_t *j = text ? json_loads(text, 0, NULL) : NULL;
            if (!j)
                continue;
            const redisReply *f = entry->element[1];
            const char *action = field(f, "action");
            bool printed = o->events ? show_event(o, j)
                                     : show_incident(o, strtoull(id, NULL, 10),
                                                     action ? action : "?", field(f, "operator"),
                                                     field(f, "note"), field(f, "changes"), j);
            json_decref(j);
            if (printed) {
                fflush(stdout);
                if (o->count && ++t->shown >= o->count) {
                    finish(t, 0);
                    return;
                }
            }
        }
    }
}

static void on_read(redisReply *r, void *priv)
{
    struct tail *t = priv;
    if (!reply_ok(t, r))
        return;
    show_entries(t, r);
    if (t->exit_code < 0)
        read_next(t);
}

static void read_streams(struct tail *t)
{
    if (t->n == 0) {
        struct timeval tv = {0, BLOCK_MS * 1000};
        evtimer_add(t->retry, &tv);
        return;
    }
    const char *argv[6 + 2 * MAX_STREAMS];
    int argc = 0;
    char block[16];
    snprintf(block, sizeof(block), "%d", BLOCK_MS);
    argv[argc++] = "XREAD";
    argv[argc++] = "COUNT";
    argv[argc++] = "100";
    argv[argc++] = "BLOCK";
    argv[argc++] = block;
    argv[argc++] = "STREAMS";
    for (size_t i = 0; i < t->n; i++)
        argv[argc++] = t->streams[i].key;
    for (size_t i = 0; i < t->n; i++)
        argv[argc++] = t->streams[i].last_id;
    command(t, on_read, argc, argv);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    read_next(arg);
}

static void on_ready(void *owner)
{
    struct tail *t = owner;
    if (t->following) {
        /* Back after a restart of Redis: on from the last entry shown. */
        read_next(t);
        return;
    }
    /* Connected: from now on a lost link is the one line of on_lost, not
     * also the link's own messages at every failed attempt. */
    log_set_level((enum log_level)(LOG_LEVEL_ERR - 1));
    if (t->o->events) {
        scan_from_start(t);
        return;
    }
    char key[300] = "canh:incidents";
    if (t->o->own_agency)
        slug_incident_stream(t->o->own_agency, key, sizeof(key));
    add_stream(t, key, t->start);
    start_following(t);
}

static void on_lost(void *owner)
{
    struct tail *t = owner;
    if (!t->following) {
        fprintf(stderr, "canh-tail: lost connection to Redis\n");
        finish(t, 1);
        return;
    }
    evtimer_del(t->retry);
    fprintf(stderr, "canh-tail: lost connection to %s; reconnecting\n", redis_link_where(t->link));
    fflush(stderr);
}

/* A CLI does not wait out a backoff: the first failed attempt (the link
 * logged why) ends the run. */
static void on_connect_check(evutil_socket_t fd, short what, void *arg)
{
    struct tail *t = arg;
    struct redis_link_stats st;
    redis_link_get_stats(t->link, &st);
    if (st.connects == 0 && st.attempts > 0) {
        fprintf(stderr, "canh-tail: cannot connect to %s\n", redis_link_where(t->link));
        finish(t, 1);
    }
}

static void on_signal(evutil_socket_t fd, short what, void *arg)
{
    finish(arg, 0);
}

static int follow(const struct options *o)
{
    static struct tail t;
    t.o = o;
    t.exit_code = -1;
    if (since_id(o->since, t.start, sizeof(t.start)) < 0) {
        fprintf(stderr, "canh-tail: --since '%s' is not a duration, ISO time or stream id\n",
                o->since);
        return 2;
    }
    /* Streams that appear later are new: read them from their start. */
    t.later_id = strcmp(t.start, "$") == 0 ? "0-0" : t.start;
    struct redis_url u;
    char why[768];
    if (redis_url_parse(o->url, &u, why, sizeof(why)) < 0 ||
        redis_url_credentials(&u, o->user, o->password_file, why, sizeof(why)) < 0) {
        redis_url_wipe(&u);
        fprintf(stderr, "canh-tail: %s\n", why);
        return 2;
    }
    t.base = event_base_new();
    if (!t.base)
        return 1;
    struct redis_link_options opt = {.connections = 1,
                                     .timeout_us = 5000000,
                                     .slack_us = {BLOCK_MS * 1000},
                                     .ready = on_ready,
                                     .lost = on_lost,
                                     .owner = &t};
    t.link = redis_link_new(t.base, &u, &opt);
    redis_url_wipe(&u);
    t.retry = evtimer_new(t.base, on_retry, &t);
    struct event *check = event_new(t.base, -1, EV_PERSIST, on_connect_check, &t);
    struct event *sigint = evsignal_new(t.base, SIGINT, on_signal, &t);
    struct event *sigterm = evsignal_new(t.base, SIGTERM, on_signal, &t);
    if (t.link && t.retry && check && sigint && sigterm) {
        struct timeval tick = {0, 100000};
        event_add(check, &tick);
        event_add(sigint, NULL);
        event_add(sigterm, NULL);
        redis_link_start(t.link);
        event_base_dispatch(t.base);
    } else {
        fprintf(stderr, "canh-tail: out of memory\n");
        t.exit_code = 1;
    }
    struct event *evs[] = {t.retry, check, sigint, sigterm};
    for (size_t i = 0; i < 4; i++)
        if (evs[i])
            event_free(evs[i]);
    redis_link_free(t.link);
    event_base_free(t.base);
    return t.exit_code < 0 ? 0 : t.exit_code;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"redis", required_argument, NULL, 'r'},
                                         {"user", required_argument, NULL, 'U'},
                                         {"password-file", required_argument, NULL, 'P'},
                                         {"events", no_argument, NULL, 'e'},
                                         {"agency", required_argument, NULL, 'a'},
                                         {"own-agency", required_argument, NULL, 'A'},
                                         {"taxonomy", required_argument, NULL, 't'},
                                         {"min-severity", required_argument, NULL, 's'},
                                         {"class", required_argument, NULL, 'k'},
                                         {"since", required_argument, NULL, 'S'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"count", required_argument, NULL, 'n'},
                                         {"color", no_argument, NULL, 'C'},
                                         {"colour", no_argument, NULL, 'C'},
                                         {"no-color", no_argument, NULL, 'N'},
                                         {"state", required_argument, NULL, 'Q'},
                                         {"wide", no_argument, NULL, 'w'},
                                         {"version", no_argument, NULL, 'V'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct options o = {.min_severity = SEV_LOW, .color = -1};
    o.url = getenv("CANH_REDIS") ? getenv("CANH_REDIS") : "redis://127.0.0.1:6379";
    int opt;
    char *end;
    while ((opt = getopt_long(argc, argv, "r:ea:A:t:s:k:jn:wVh", opts, NULL)) != -1) {
        switch (opt) {
        case 'r':
            o.url = optarg;
            break;
        case 'U':
            o.user = optarg;
            break;
        case 'P':
            o.password_file = optarg;
            break;
        case 'e':
            o.events = true;
            break;
        case 'a':
            o.agency = optarg;
            break;
        case 'A':
            o.own_agency = optarg;
            break;
        case 't':
            if (!taxonomy_known(optarg)) {
                fprintf(stderr,
                        "canh-tail: --taxonomy: '%s' is not a taxonomy code or a prefix of one "
                        "ending in '.' (e.g. attack.dos, attack.; docs/collector.md)\n",
                        optarg);
                return 2;
            }
            o.taxonomy = optarg;
            break;
        case 's':
            if (severity_parse(optarg, &o.min_severity) < 0) {
                fprintf(stderr,
                        "canh-tail: --min-severity: '%s' is not low, medium, high or critical\n",
                        optarg);
                return 2;
            }
            break;
        case 'k':
            if (strcmp(optarg, "normal") != 0 && strcmp(optarg, "serious_candidate") != 0) {
                fprintf(stderr, "canh-tail: --class: '%s' is not normal or serious_candidate\n",
                        optarg);
                return 2;
            }
            o.class_ = optarg;
            break;
        case 'S':
            o.since = optarg;
            break;
        case 'Q': {
            static const char *const states[] = {"open",     "acknowledged", "confirmed",
                                                 "rejected", "resolved",     "closed"};
            for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
                if (strcmp(optarg, states[i]) == 0)
                    o.state = states[i];
            if (!o.state) {
                fprintf(stderr,
                        "canh-tail: --state: '%s' is not open, acknowledged, confirmed, "
                        "rejected, resolved or closed\n",
                        optarg);
                return 2;
            }
            break;
        }
        case 'w':
            o.wide = true;
            break;
        case 'V':
            printf("canh-tail %s\n", CANH_VERSION);
            return 0;
        case 'j':
            o.json = true;
            break;
        case 'n':
            o.count = strtol(optarg, &end, 10);
            if (*end || o.count < 1) {
                fprintf(stderr, "canh-tail: --count: '%s' is not a positive number\n", optarg);
                return 2;
            }
            break;
        case 'C':
            o.color = 1;
            break;
        case 'N':
            o.color = 0;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    if (o.events && o.own_agency) {
        fprintf(stderr, "canh-tail: --own-agency reads incidents, not --events\n");
        return 2;
    }
    if (o.color < 0)
        o.color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
    signal(SIGPIPE, SIG_IGN);
    log_init("canh-tail", LOG_LEVEL_ERR);
    return follow(&o);
}
