/* canh-tail.c — follow incidents (or raw events) on a terminal.
 *
 * Reads canh:incidents — or, with --events, every canh:events:<agent>
 * stream, found with SCAN and looked for again every few seconds — with
 * XREAD BLOCK, and prints one line per entry: time, severity, action or
 * state, agency, Vietnamese taxonomy name, source → target and a short
 * evidence summary, coloured by severity on a terminal.  --json prints the
 * JSON instead, for scripts.  It only reads, so a tail user needs no more
 * than +xread +scan on canh:* in Redis's ACL.
 *
 * Synchronous hiredis is enough for one reader: the socket has a timeout
 * longer than the BLOCK time, so a dead server is noticed, and SIGINT is
 * checked between reads (at most one BLOCK period, 500 ms, later).  The
 * URL, the credentials and the AUTH command are common/redis/url.h's, as
 * for the agent and the collector; it links no collector code.
 */
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

#include "common/config.h"
#include "common/redis/url.h"
#include "common/units.h"

#define BLOCK_MS 500
#define MAX_STREAMS 256
#define RESCAN_US (5ull * 1000000)

struct options {
    const char *url;
    const char *user;
    const char *password_file;
    bool events;
    const char *agency;
    const char *taxonomy;
    enum severity min_severity;
    const char *class_;
    const char *since;
    bool json;
    long count; /* 0: forever */
    int color;  /* -1 auto */
};

struct stream {
    char key[192];
    char last_id[48];
};

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) { interrupted = sig; }

static void usage(FILE *out)
{
    fprintf(out,
            "usage: canh-tail [options]\n"
            "  -r, --redis URL         redis://[user[:password]@]host[:port] (host a name, IPv4\n"
            "                          or [IPv6]) or unix:/path (default $CANH_REDIS or\n"
            "                          redis://127.0.0.1:6379)\n"
            "      --user NAME         Redis ACL user\n"
            "      --password-file F   file holding the password\n"
            "  -e, --events            follow raw events of every agent instead of incidents\n"
            "  -a, --agency NAME       only this agency\n"
            "  -t, --taxonomy CODE     only this taxonomy code, or a prefix ending in '.' (attack.)\n"
            "  -s, --min-severity S    low, medium, high or critical\n"
            "  -k, --class C           normal or serious_candidate\n"
            "      --since WHEN        start in the past: a duration (10m, 2h), an ISO time,\n"
            "                          a stream id, or 'all'\n"
            "  -j, --json              one JSON object per line\n"
            "  -n, --count N           exit after N entries\n"
            "      --color / --no-color  force colours on or off (default: when a terminal)\n");
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

static void print_line(const struct options *o, uint64_t ts_us, enum severity sev, bool dim,
                       const char *what, const char *agency, const char *taxonomy_vi,
                       const char *detail, const char *src, const char *dst, const char *summary,
                       const char *id)
{
    char when[48], sevtext[16];
    time_t secs = (time_t)(ts_us / 1000000);
    struct tm tm;
    localtime_r(&secs, &tm);
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
    upper(sevtext, sizeof(sevtext), severity_name(sev));
    const char *on = o->color ? (dim ? "\033[2m" : color_of(sev)) : "";
    const char *off = o->color ? "\033[0m" : "";
    printf("%s%s %-8s %-9s %s | %s%s | %s → %s | %s%s  [%s]\n", on, when, sevtext, what, agency,
           taxonomy_vi, detail, *src ? src : "?", *dst ? dst : "?", summary, off, id);
}

/* An incidents entry: fields action, id, incident. */
static bool show_incident(const struct options *o, uint64_t entry_ms, const char *action,
                          json_t *inc)
{
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
        snprintf(detail, sizeof(detail), " [%s]", strcmp(type, "province") == 0 ? "toàn tỉnh" : type);
    if (strcmp(str_at(inc, "class", NULL), "serious_candidate") == 0)
        strncat(detail, " [nghiêm trọng?]", sizeof(detail) - strlen(detail) - 1);
    print_line(o, entry_ms * 1000, sev, strcmp(action, "closed") == 0, action,
               str_at(inc, "agency", NULL), str_at(inc, "taxonomy", "vi"), detail, src, dst,
               str_at(inc, "summary", NULL), str_at(inc, "id", NULL));
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
        snprintf(dst, sizeof(dst), "%s%s%s%s", asset, *asset ? " (" : "", str_at(ev, "dest_ip", NULL),
                 *asset ? ")" : "");
    snprintf(detail, sizeof(detail), " (%s)", str_at(c, "kind", NULL));
    size_t used = 0;
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(c, "counters"), key, v)
    {
        if (!json_is_integer(v) || used + 40 > sizeof(summary))
            continue;
        used += (size_t)snprintf(summary + used, sizeof(summary) - used, "%s%s=%" JSON_INTEGER_FORMAT,
                                 used ? " " : "", key, json_integer_value(v));
    }
    print_line(o, ts, sev, strcmp(str_at(c, "state", NULL), "end") == 0, str_at(c, "state", NULL),
               str_at(c, "agency", NULL), str_at(c, "taxonomy", "vi"), detail,
               str_at(ev, "src_ip", NULL), dst, summary, str_at(c, "id", NULL));
    return true;
}

/* ---- Redis ---------------------------------------------------------- */

static redisContext *connect_redis(const struct options *o)
{
    struct redis_url u;
    char why[768];
    if (redis_url_parse(o->url, &u, why, sizeof(why)) < 0 ||
        redis_url_credentials(&u, o->user, o->password_file, why, sizeof(why)) < 0) {
        fprintf(stderr, "canh-tail: %s\n", why);
        exit(2);
    }
    struct timeval tv = {5, 0};
    redisContext *rc = u.unix_socket ? redisConnectUnixWithTimeout(u.path, tv)
                                     : redisConnectWithTimeout(u.host, u.port, tv);
    if (!rc || rc->err) {
        fprintf(stderr, "canh-tail: cannot connect to %s: %s\n", u.where,
                rc ? rc->errstr : "out of memory");
        exit(1);
    }
    struct timeval rtv = {BLOCK_MS / 1000 + 5, 0};
    redisSetTimeout(rc, rtv);
    const char *argv[3];
    size_t lens[3];
    int argc = redis_url_auth_argv(&u, argv, lens);
    if (argc) {
        redisReply *r = redisCommandArgv(rc, argc, argv, lens);
        redis_url_wipe(&u);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            fprintf(stderr, "canh-tail: Redis AUTH failed: %s\n", r ? r->str : rc->errstr);
            exit(1);
        }
        freeReplyObject(r);
    }
    return rc;
}

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

static size_t scan_events(redisContext *rc, struct stream *s, size_t n, const char *start_id)
{
    char cursor[32] = "0";
    for (int pages = 0; pages < 1000; pages++) {
        redisReply *r = redisCommand(rc, "SCAN %s MATCH canh:events:* COUNT 1000 TYPE stream", cursor);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            freeReplyObject(r);
            break;
        }
        for (size_t i = 0; i < r->element[1]->elements && n < MAX_STREAMS; i++) {
            const char *key = r->element[1]->element[i]->str;
            bool have = false;
            for (size_t k = 0; k < n; k++)
                have |= strcmp(s[k].key, key) == 0;
            if (!have && strlen(key) < sizeof(s[0].key)) {
                snprintf(s[n].key, sizeof(s[n].key), "%s", key);
                snprintf(s[n].last_id, sizeof(s[n].last_id), "%s", start_id);
                n++;
            }
        }
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        freeReplyObject(r);
        if (strcmp(cursor, "0") == 0)
            break;
    }
    return n;
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

static void resolve_last_id(redisContext *rc, struct stream *s)
{
    redisReply *info = redisCommand(rc, "XINFO STREAM %s", s->key);
    const char *last =
        info && info->type == REDIS_REPLY_ARRAY ? field(info, "last-generated-id") : NULL;
    snprintf(s->last_id, sizeof(s->last_id), "%s", last ? last : "0-0");
    freeReplyObject(info);
}

static int follow(const struct options *o)
{
    redisContext *rc = connect_redis(o);
    static struct stream streams[MAX_STREAMS];
    size_t n = 0;
    char start[48];
    if (since_id(o->since, start, sizeof(start)) < 0) {
        fprintf(stderr, "canh-tail: --since '%s' is not a duration, ISO time or stream id\n", o->since);
        return 2;
    }
    if (o->events) {
        n = scan_events(rc, streams, 0, start);
    } else {
        snprintf(streams[0].key, sizeof(streams[0].key), "canh:incidents");
        snprintf(streams[0].last_id, sizeof(streams[0].last_id), "%s", start);
        n = 1;
    }
    /* "$" would lose what arrives between two reads: pin it to each
     * stream's last id now (a stream not there yet starts at 0). */
    for (size_t i = 0; i < n && strcmp(start, "$") == 0; i++)
        resolve_last_id(rc, &streams[i]);
    /* Streams that appear later are new: read them from their start. */
    const char *later_id = strcmp(start, "$") == 0 ? "0-0" : start;
    uint64_t next_scan = units_now_us() + RESCAN_US;
    long shown = 0;
    while (!interrupted) {
        if (o->events && units_now_us() >= next_scan) {
            n = scan_events(rc, streams, n, later_id);
            next_scan = units_now_us() + RESCAN_US;
        }
        if (n == 0) {
            usleep(BLOCK_MS * 1000);
            continue;
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
        for (size_t i = 0; i < n; i++)
            argv[argc++] = streams[i].key;
        for (size_t i = 0; i < n; i++)
            argv[argc++] = streams[i].last_id;
        redisReply *r = redisCommandArgv(rc, argc, argv, NULL);
        if (!r) {
            if (interrupted)
                break;
            fprintf(stderr, "canh-tail: lost connection to Redis: %s\n",
                    rc->errstr[0] ? rc->errstr : "no answer");
            redisFree(rc);
            return 1;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            fprintf(stderr, "canh-tail: Redis: %s\n", r->str);
            freeReplyObject(r);
            redisFree(rc);
            return 1;
        }
        for (size_t s = 0; r->type == REDIS_REPLY_ARRAY && s < r->elements; s++) {
            const redisReply *sr = r->element[s];
            size_t k = 0;
            while (k < n && strcmp(streams[k].key, sr->element[0]->str) != 0)
                k++;
            if (k == n)
                continue;
            const redisReply *entries = sr->element[1];
            for (size_t e = 0; e < entries->elements; e++) {
                const redisReply *entry = entries->element[e];
                const char *id = entry->element[0]->str;
                snprintf(streams[k].last_id, sizeof(streams[k].last_id), "%s", id);
                if (entry->element[1]->type != REDIS_REPLY_ARRAY)
                    continue;
                const char *text = field(entry->element[1], o->events ? "event" : "incident");
                json_t *j = text ? json_loads(text, 0, NULL) : NULL;
                if (!j)
                    continue;
                const char *action = field(entry->element[1], "action");
                bool printed = o->events ? show_event(o, j)
                                         : show_incident(o, strtoull(id, NULL, 10),
                                                         action ? action : "?", j);
                json_decref(j);
                if (printed) {
                    fflush(stdout);
                    if (o->count && ++shown >= o->count) {
                        freeReplyObject(r);
                        redisFree(rc);
                        return 0;
                    }
                }
            }
        }
        freeReplyObject(r);
    }
    redisFree(rc);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"redis", required_argument, NULL, 'r'},  {"user", required_argument, NULL, 'U'},
        {"password-file", required_argument, NULL, 'P'}, {"events", no_argument, NULL, 'e'},
        {"agency", required_argument, NULL, 'a'}, {"taxonomy", required_argument, NULL, 't'},
        {"min-severity", required_argument, NULL, 's'}, {"class", required_argument, NULL, 'k'},
        {"since", required_argument, NULL, 'S'},  {"json", no_argument, NULL, 'j'},
        {"count", required_argument, NULL, 'n'},  {"color", no_argument, NULL, 'C'},
        {"colour", no_argument, NULL, 'C'},       {"no-color", no_argument, NULL, 'N'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    struct options o = {.min_severity = SEV_LOW, .color = -1};
    o.url = getenv("CANH_REDIS") ? getenv("CANH_REDIS") : "redis://127.0.0.1:6379";
    int opt;
    char *end;
    while ((opt = getopt_long(argc, argv, "r:ea:t:s:k:jn:h", opts, NULL)) != -1) {
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
        case 't':
            o.taxonomy = optarg;
            break;
        case 's':
            if (severity_parse(optarg, &o.min_severity) < 0) {
                fprintf(stderr, "canh-tail: --min-severity: '%s' is not low, medium, high or critical\n",
                        optarg);
                return 2;
            }
            break;
        case 'k':
            if (strcmp(optarg, "normal") != 0 && strcmp(optarg, "serious_candidate") != 0) {
                fprintf(stderr, "canh-tail: --class: '%s' is not normal or serious_candidate\n", optarg);
                return 2;
            }
            o.class_ = optarg;
            break;
        case 'S':
            o.since = optarg;
            break;
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
    if (o.color < 0)
        o.color = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
    struct sigaction sa = {.sa_handler = on_sigint};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL); /* no SA_RESTART: a blocked read returns */
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return follow(&o);
}
