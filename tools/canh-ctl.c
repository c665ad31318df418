/* canh-ctl.c — the SOC operator's actions on incidents.
 *
 *   canh-ctl [-r URL] [--operator NAME] ack|confirm|reject|resolve|note|reopen ID ...
 *   canh-ctl report sent ID --kind initial|final [--number N]
 *   canh-ctl open --agency A --taxonomy CODE --summary TEXT [--target ADDR]
 *   canh-ctl show ID | suppressions
 *   canh-ctl drill create|list|end|report ...   (tools/ctl_drill.c)
 *
 * Each action is one Lua script of common/ctl_scripts.c run with EVAL: the
 * transition is checked and applied, logged in canh:log:<id> and announced
 * on canh:incidents in one atomic step, so operators and any number of
 * collectors can work at once.  show and suppressions only read.  It talks
 * to Redis as its own ACL user (docs/redis.md), with the URL grammar and
 * secret files of common/redis/; a one-shot command, so it uses hiredis's
 * blocking API with a timeout rather than the collector's event loop.
 *
 * Exit status: 0 done, 1 Redis unreachable or failing, 2 usage, 3 no such
 * incident, 4 transition not allowed, 5 permission denied by Redis's ACL.
 */
#include <ctype.h>
#include <getopt.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "common/ctl_scripts.h"
#include "common/redis/sentinel.h"
#include "common/redis/url.h"
#include "common/slug.h"
#include "common/taxonomy.h"
#include "common/units.h"
#include "common/values.h"
#include "tools/ctl_drill.h"

enum { EXIT_REDIS = 1, EXIT_USAGE = 2, EXIT_UNKNOWN = 3, EXIT_STATE = 4, EXIT_PERM = 5 };

#define INCIDENTS_MAXLEN "100000" /* the collector's default [collector] maxlen */
#define TIMEOUT_S 5
#define MAX_TEXT CTL_MAX_TEXT

struct options {
    const char *url, *user, *password_file, *operator_name;
    const char *class_, *why, *agency, *taxonomy, *summary, *target, *severity;
    const char *kind, *number;
    bool json;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: canh-ctl [options] COMMAND ...\n"
            "  ack ID                       take an open incident\n"
            "  confirm ID --class normal|serious\n"
            "  reject ID --why TEXT         a false positive; identical findings are suppressed\n"
            "  resolve ID                   done (after ack or confirm)\n"
            "  note ID TEXT                 add a note to the incident's log\n"
            "  reopen ID                    undo reject/resolve/close (lifts suppressions)\n"
            "  report sent ID --kind initial|final [--number N]\n"
            "                               the report was sent (its official number)\n"
            "  open --agency A --taxonomy CODE --summary TEXT [--target ADDR] [--severity S]\n"
            "                               an incident reported by people\n"
            "  show ID                      the incident, its log, events and evidence\n"
            "  suppressions                 findings suppressed by rejected incidents\n"
            "  drill create --name N [--from TIME] --until TIME|--for DUR\n"
            "               [--target ASSET|AGENCY]... [--red-team PREFIX]... [--scenario TEXT]\n"
            "                               a drill (docs/drills.md); prints its id\n"
            "  drill list                   the drills\n"
            "  drill end ID                 close the window now\n"
            "  drill report ID              the after-action report (Markdown; -j JSON)\n"
            "options:\n"
            "  -r, --redis URL              redis://[user[:password]@]host[:port], unix:/path or\n"
            "                               sentinel://host:port,.../master\n"
            "                               (default $CANH_REDIS, then redis://127.0.0.1:6379)\n"
            "      --user NAME              Redis ACL user (default $CANH_CTL_USER)\n"
            "      --password-file F        file holding its password\n"
            "  -o, --operator NAME          who acts (default $CANH_OPERATOR, then $USER)\n"
            "  -j, --json                   show: the raw incident, log and announcements as JSON\n"
            "  -V, --version, -h, --help\n"
            "exit status: 0 done, 1 Redis error, 2 usage, 3 unknown incident,\n"
            "             4 transition not allowed, 5 permission denied\n");
}

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "canh-ctl: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'canh-ctl --help'.\n");
    return EXIT_USAGE;
}

/* Incident ids are what the collector makes (20261123-081614-3fa2c1d7);
 * anything else cannot name one and must not reach a key name. */
static bool valid_id(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n >= 40)
        return false;
    for (const char *p = id; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-')
            return false;
    return true;
}

/* item appended to a comma list (repeatable options); -1 when full. */
static int append_item(char *list, size_t size, const char *item)
{
    size_t used = strlen(list);
    if (used + strlen(item) + 2 > size)
        return -1;
    snprintf(list + used, size - used, "%s%s", used ? "," : "", item);
    return 0;
}

static bool valid_operator(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 64)
        return false;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("._@-", *p))
            return false;
    return true;
}

/* ---- Redis ------------------------------------------------------------- */

static redisContext *connect_redis(const struct options *o)
{
    struct redis_url u;
    char err[512];
    const char *url = o->url ? o->url : getenv("CANH_REDIS");
    if (!url || !*url)
        url = "redis://127.0.0.1:6379";
    const char *user = o->user ? o->user : getenv("CANH_CTL_USER");
    if (redis_url_parse(url, &u, err, sizeof(err)) < 0 ||
        redis_url_credentials(&u, user, o->password_file, err, sizeof(err)) < 0) {
        fprintf(stderr, "canh-ctl: %s\n", err);
        return NULL;
    }
    struct timeval tv = {.tv_sec = TIMEOUT_S};
    redisContext *r = redis_connect_sync(&u, tv, err, sizeof(err));
    if (!r)
        fprintf(stderr, "canh-ctl: %s\n", err);
    redis_url_wipe(&u);
    return r;
}

/* Exit status and message for an error reply of Redis or of a script. */
static int report_error(const char *what, const char *msg)
{
    if (strncmp(msg, "NOINCIDENT ", 11) == 0) {
        fprintf(stderr, "canh-ctl: %s\n", msg + 11);
        return EXIT_UNKNOWN;
    }
    if (strncmp(msg, "BADSTATE ", 9) == 0) {
        fprintf(stderr, "canh-ctl: %s\n", msg + 9);
        return EXIT_STATE;
    }
    if (strstr(msg, "NOPERM") || strstr(msg, "no permissions")) {
        fprintf(stderr,
                "canh-ctl: %s: permission denied by Redis (%s); canh-ctl needs the ACL user "
                "of docs/redis.md\n",
                what, msg);
        return EXIT_PERM;
    }
    fprintf(stderr, "canh-ctl: %s: %s\n", what, msg);
    return EXIT_REDIS;
}

static redisReply *command(redisContext *r, int argc, const char **argv, int *status)
{
    redisReply *rep = redisCommandArgv(r, argc, argv, NULL);
    if (!rep) {
        fprintf(stderr, "canh-ctl: %s: %s\n", argv[0], r->errstr);
        *status = EXIT_REDIS;
        return NULL;
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        *status = report_error(argv[0], rep->str);
        freeReplyObject(rep);
        return NULL;
    }
    *status = 0;
    return rep;
}

/* ---- actions ----------------------------------------------------------- */

/* A field of a hash, malloc'd; "" when it or the hash is missing. */
static char *hash_field(redisContext *r, const char *key, const char *field)
{
    redisReply *rep = redisCommand(r, "HGET %s %s", key, field);
    char *out = strdup(rep && rep->type == REDIS_REPLY_STRING ? rep->str : "");
    freeReplyObject(rep);
    return out;
}

static int run_transition(redisContext *r, const struct ctl_action *a, const char *id,
                          const char *operator_name, const char *note, const char *extra)
{
    /* The script declares every key it writes: the routes that carry the
     * incident and its agencies' streams are read first. */
    char key[192];
    snprintf(key, sizeof(key), "canh:incident:%s", id);
    char *routes = hash_field(r, key, "sinks"), *agencies = hash_field(r, key, "agency");
    static struct ctl_call call;
    ctl_transition_call(&call, a, id, operator_name, note, extra, routes, agencies,
                        units_now_us() / 1000, strtoull(INCIDENTS_MAXLEN, NULL, 10));
    free(routes);
    free(agencies);
    int status;
    redisReply *rep = command(r, call.argc, call.argv, &status);
    if (!rep)
        return status;
    printf("incident %s: %s by %s\n", id, a->name, operator_name);
    freeReplyObject(rep);
    return 0;
}

static int run_open(redisContext *r, const struct options *o, const char *operator_name)
{
    const struct taxonomy *tax = taxonomy_find(o->taxonomy);
    if (!tax)
        return usage_error("--taxonomy: '%s' is not a taxonomy code (see canh-ctl(1))",
                           o->taxonomy);
    enum severity sev = SEV_MEDIUM;
    if (o->severity && severity_parse(o->severity, &sev) < 0)
        return usage_error("--severity: '%s' is not low, medium, high or critical", o->severity);
    uint64_t now_us = units_now_us();
    uint32_t rnd = 0;
    if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
        rnd = (uint32_t)now_us ^ (uint32_t)random();
    time_t secs = (time_t)(now_us / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char stamp[24], id[40], iso[48], now_text[24], key[96], log_key[96];
    strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
    snprintf(id, sizeof(id), "%s-%08" PRIx32, stamp, rnd);
    units_format_time(now_us, iso, sizeof(iso));
    snprintf(now_text, sizeof(now_text), "%" PRIu64, now_us / 1000);
    snprintf(key, sizeof(key), "canh:incident:%s", id);
    snprintf(log_key, sizeof(log_key), "canh:log:%s", id);
    /* KEYS[5..]: the streams of its agencies ('|' list), announced
     * there as the collector announces its own incidents. */
    char streams[CTL_MAX_EXTRA_KEYS][160], list[1024], nkeys[8];
    size_t n_streams = 0;
    snprintf(list, sizeof(list), "%s", o->agency);
    for (char *save = NULL, *t = strtok_r(list, "|", &save); t && n_streams < CTL_MAX_EXTRA_KEYS;
         t = strtok_r(NULL, "|", &save))
        slug_incident_stream(t, streams[n_streams++], sizeof(streams[0]));
    snprintf(nkeys, sizeof(nkeys), "%zu", 4 + n_streams);
    const char *argv[4 + 4 + CTL_MAX_EXTRA_KEYS + 12];
    int argc = 0;
    argv[argc++] = "EVAL";
    argv[argc++] = ctl_open_lua;
    argv[argc++] = nkeys;
    argv[argc++] = key;
    argv[argc++] = log_key;
    argv[argc++] = "canh:incidents";
    argv[argc++] = "canh:open";
    for (size_t i = 0; i < n_streams; i++)
        argv[argc++] = streams[i];
    const char *args[] = {operator_name,
                          now_text,
                          INCIDENTS_MAXLEN,
                          id,
                          o->summary,
                          o->agency,
                          tax->code,
                          tax->vi,
                          tax->en,
                          severity_name(sev),
                          o->target ? o->target : "",
                          iso};
    for (size_t i = 0; i < sizeof(args) / sizeof(args[0]); i++)
        argv[argc++] = args[i];
    int status;
    redisReply *rep = command(r, argc, argv, &status);
    if (!rep)
        return status;
    freeReplyObject(rep);
    printf("incident %s: opened by %s\n", id, operator_name);
    return 0;
}

/* ---- reading ----------------------------------------------------------- */

static const char *hash_get(const redisReply *h, const char *field)
{
    for (size_t i = 0; i + 1 < h->elements; i += 2)
        if (strcmp(h->element[i]->str, field) == 0)
            return h->element[i + 1]->str;
    return "";
}

static void print_time_of_id(const char *stream_id, char *buf, size_t len)
{
    uint64_t ms = strtoull(stream_id, NULL, 10);
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    localtime_r(&secs, &tm);
    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

static int run_show(redisContext *r, const char *id, bool as_json)
{
    char key[96], log_key[96];
    snprintf(key, sizeof(key), "canh:incident:%s", id);
    snprintf(log_key, sizeof(log_key), "canh:log:%s", id);
    int status;
    const char *hget[] = {"HGETALL", key};
    redisReply *h = command(r, 2, hget, &status);
    if (!h)
        return status;
    if (h->type != REDIS_REPLY_ARRAY || h->elements == 0) {
        freeReplyObject(h);
        fprintf(stderr, "canh-ctl: no incident %s\n", id);
        return EXIT_UNKNOWN;
    }
    const char *xr[] = {"XRANGE", log_key, "-", "+"};
    redisReply *log = command(r, 4, xr, &status);
    if (!log) {
        freeReplyObject(h);
        return status;
    }
    if (as_json) {
        json_t *o = json_object(), *inc = json_object(), *entries = json_array();
        for (size_t i = 0; i + 1 < h->elements; i += 2)
            json_object_set_new(inc, h->element[i]->str, json_string(h->element[i + 1]->str));
        for (size_t i = 0; i < log->elements; i++) {
            const redisReply *e = log->element[i], *f = e->element[1];
            json_t *entry = json_object();
            json_object_set_new(entry, "id", json_string(e->element[0]->str));
            for (size_t k = 0; k + 1 < f->elements; k += 2)
                json_object_set_new(entry, f->element[k]->str, json_string(f->element[k + 1]->str));
            json_array_append_new(entries, entry);
        }
        json_object_set_new(o, "incident", inc);
        json_object_set_new(o, "log", entries);
        char *text = json_dumps(o, JSON_COMPACT);
        puts(text ? text : "{}");
        free(text);
        json_decref(o);
    } else {
        printf("incident   %s (%s)\n", id, hash_get(h, "type"));
        printf("state      %s", hash_get(h, "state")[0] ? hash_get(h, "state") : "open");
        if (hash_get(h, "confirmed_class")[0])
            printf(", class %s", hash_get(h, "confirmed_class"));
        if (hash_get(h, "operator")[0])
            printf(" (last action by %s)", hash_get(h, "operator"));
        printf("; collector status %s\n", hash_get(h, "status"));
        printf("taxonomy   %s — %s\n", hash_get(h, "taxonomy"), hash_get(h, "taxonomy_vi"));
        printf("severity   %s, %s\n", hash_get(h, "severity"), hash_get(h, "class"));
        printf("agency     %s\n", hash_get(h, "agency"));
        printf("asset      %s\n", hash_get(h, "asset"));
        printf("sources    %s\n", hash_get(h, "sources"));
        printf("targets    %s\n", hash_get(h, "targets"));
        printf("kinds      %s\n", hash_get(h, "kinds"));
        printf("seen       %s … %s\n", hash_get(h, "first_seen"), hash_get(h, "last_seen"));
        printf("summary    %s\n", hash_get(h, "summary"));
        if (hash_get(h, "children")[0])
            printf("children   %s\n", hash_get(h, "children"));
        if (hash_get(h, "combined_id")[0])
            printf("combined   %s\n", hash_get(h, "combined_id"));
        if (hash_get(h, "state")[0] && strcmp(hash_get(h, "state"), "rejected") == 0)
            printf("rejected   %s; suppresses %s finding(s), %s event(s) suppressed since\n",
                   hash_get(h, "rejected_why"), hash_get(h, "suppressions"),
                   hash_get(h, "suppressed")[0] ? hash_get(h, "suppressed") : "0");
        printf("events     %s: %s\n", hash_get(h, "events"), hash_get(h, "event_ids"));
        printf("evidence   %s\n", hash_get(h, "evidence"));
        printf("log\n");
        for (size_t i = 0; i < log->elements; i++) {
            const redisReply *e = log->element[i];
            char when[32];
            print_time_of_id(e->element[0]->str, when, sizeof(when));
            printf("  %s  %-12s %-14s %s\n", when, hash_get(e->element[1], "operator"),
                   hash_get(e->element[1], "action"), hash_get(e->element[1], "note"));
        }
    }
    freeReplyObject(log);
    freeReplyObject(h);
    return 0;
}

static int run_suppressions(redisContext *r)
{
    int status;
    const char *argv[] = {"HGETALL", "canh:suppressions"};
    redisReply *h = command(r, 2, argv, &status);
    if (!h)
        return status;
    if (h->elements == 0)
        printf("no suppressions\n");
    for (size_t i = 0; i + 1 < h->elements; i += 2) {
        char id[48] = "", op[72] = "", when[32];
        unsigned long long ms = 0;
        sscanf(h->element[i + 1]->str, "%llu %47s %71s", &ms, id, op);
        time_t secs = (time_t)(ms / 1000);
        struct tm tm;
        localtime_r(&secs, &tm);
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
        printf("%-60s rejected %s by %s in %s\n", h->element[i]->str, when, op, id);
    }
    freeReplyObject(h);
    return 0;
}

/* ---- main -------------------------------------------------------------- */

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"redis", required_argument, NULL, 'r'},
        {"user", required_argument, NULL, 'U'},
        {"password-file", required_argument, NULL, 'P'},
        {"operator", required_argument, NULL, 'o'},
        {"class", required_argument, NULL, 'c'},
        {"why", required_argument, NULL, 'w'},
        {"agency", required_argument, NULL, 'a'},
        {"taxonomy", required_argument, NULL, 't'},
        {"summary", required_argument, NULL, 's'},
        {"target", required_argument, NULL, 'T'},
        {"name", required_argument, NULL, 'N'},
        {"from", required_argument, NULL, 'F'},
        {"until", required_argument, NULL, 'u'},
        {"for", required_argument, NULL, 'D'},
        {"red-team", required_argument, NULL, 'B'},
        {"scenario", required_argument, NULL, 'Z'},
        {"severity", required_argument, NULL, 'S'},
        {"kind", required_argument, NULL, 'k'},
        {"number", required_argument, NULL, 'n'},
        {"json", no_argument, NULL, 'j'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    struct options o = {0};
    struct drill_opts d = {0};
    static char drill_targets[4200], drill_red_team[2200];
    int ch;
    while ((ch = getopt_long(argc, argv, "r:o:jVh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'r':
            o.url = optarg;
            break;
        case 'U':
            o.user = optarg;
            break;
        case 'P':
            o.password_file = optarg;
            break;
        case 'o':
            o.operator_name = optarg;
            break;
        case 'c':
            o.class_ = optarg;
            break;
        case 'w':
            o.why = optarg;
            break;
        case 'a':
            o.agency = optarg;
            break;
        case 't':
            o.taxonomy = optarg;
            break;
        case 's':
            o.summary = optarg;
            break;
        case 'T':
            o.target = optarg;
            if (append_item(drill_targets, sizeof(drill_targets), optarg) < 0)
                return usage_error("%s", "too many --target");
            d.targets = drill_targets;
            break;
        case 'N':
            d.name = optarg;
            break;
        case 'F':
            d.from = optarg;
            break;
        case 'u':
            d.until = optarg;
            break;
        case 'D':
            d.duration = optarg;
            break;
        case 'B':
            if (append_item(drill_red_team, sizeof(drill_red_team), optarg) < 0)
                return usage_error("%s", "too many --red-team");
            d.red_team = drill_red_team;
            break;
        case 'Z':
            d.scenario = optarg;
            break;
        case 'S':
            o.severity = optarg;
            break;
        case 'k':
            o.kind = optarg;
            break;
        case 'n':
            o.number = optarg;
            break;
        case 'j':
            o.json = true;
            break;
        case 'V':
            printf("canh-ctl %s\n", CANH_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            fprintf(stderr, "Try 'canh-ctl --help'.\n");
            return EXIT_USAGE;
        }
    }
    if (optind >= argc)
        return usage_error("%s", "a command is needed (ack, confirm, reject, resolve, note, "
                                 "reopen, report, open, show, suppressions)");
    const char *cmd = argv[optind++];
    int nargs = argc - optind;
    char **args = argv + optind;
    if (strcmp(cmd, "drill") == 0) {
        d.json = o.json;
        d.operator_name = o.operator_name ? o.operator_name : getenv("CANH_OPERATOR");
        int rc = ctl_drill_check(&d, nargs, args);
        if (rc)
            return rc;
        redisContext *r = connect_redis(&o);
        if (!r)
            return EXIT_REDIS;
        rc = ctl_drill_run(r, &d, nargs, args);
        redisFree(r);
        return rc;
    }

    const struct ctl_action *act = ctl_action_find(cmd);
    bool is_show = strcmp(cmd, "show") == 0, is_open = strcmp(cmd, "open") == 0;
    bool is_supp = strcmp(cmd, "suppressions") == 0;
    if (!act && !is_show && !is_open && !is_supp)
        return usage_error("unknown command '%s'", cmd);

    const char *note = NULL, *extra = NULL;
    if (act && strcmp(act->verb, "report") == 0) {
        /* report sent ID --kind initial|final [--number N] */
        if (nargs != 2 || strcmp(args[0], "sent") != 0)
            return usage_error("%s", "report takes 'sent' and an incident id");
        args++;
        nargs--;
        if (!o.kind || (strcmp(o.kind, "initial") != 0 && strcmp(o.kind, "final") != 0))
            return usage_error("%s", "report sent needs --kind initial or --kind final");
        extra = o.kind;
        note = o.number ? o.number : "";
        if (strlen(note) > 128)
            return usage_error("%s", "--number is longer than 128 bytes");
    }
    if (act && strcmp(act->verb, "report") == 0) {
        if (!valid_id(args[0]))
            return usage_error("'%s' is not an incident id (like 20261123-081614-3fa2c1d7)",
                               args[0]);
    } else if (act || is_show) {
        int want = strcmp(cmd, "note") == 0 ? 2 : 1;
        if (nargs != want)
            return usage_error(want == 2 ? "%s takes an incident id and the note's text"
                                         : "%s takes one incident id",
                               cmd);
        if (!valid_id(args[0]))
            return usage_error("'%s' is not an incident id (like 20261123-081614-3fa2c1d7)",
                               args[0]);
        if (want == 2)
            note = args[1];
    } else if (nargs != 0) {
        return usage_error("unexpected argument '%s'", args[0]);
    }
    if (act && strcmp(act->verb, "confirm") == 0) {
        if (!o.class_ || (strcmp(o.class_, "normal") != 0 && strcmp(o.class_, "serious") != 0))
            return usage_error("%s", "confirm needs --class normal or --class serious");
        extra = o.class_;
    }
    if (act && strcmp(act->verb, "reject") == 0) {
        if (!o.why || !*o.why)
            return usage_error("%s", "reject needs --why TEXT (why it is a false positive)");
        note = o.why;
    }
    if (act && strcmp(act->verb, "note") == 0 && !*note)
        return usage_error("%s", "the note is empty");
    if (is_open && (!o.agency || !*o.agency || !o.taxonomy || !o.summary || !*o.summary))
        return usage_error("%s", "open needs --agency, --taxonomy and --summary");
    const char *texts[] = {note, o.summary, o.agency, o.target};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        if (texts[i] && strlen(texts[i]) > MAX_TEXT)
            return usage_error("%s", "a note, reason, summary, agency or target is longer "
                                     "than 2000 bytes");

    const char *operator_name = o.operator_name;
    if (!operator_name)
        operator_name = getenv("CANH_OPERATOR");
    if (!operator_name || !*operator_name)
        operator_name = getenv("USER");
    if ((act || is_open) && (!operator_name || !valid_operator(operator_name)))
        return usage_error("operator '%s' is not a name (letters, digits, . _ @ -; at most 64); "
                           "use --operator NAME",
                           operator_name ? operator_name : "");

    redisContext *r = connect_redis(&o);
    if (!r)
        return EXIT_REDIS;
    int status;
    if (act)
        status = run_transition(r, act, args[0], operator_name, note, extra);
    else if (is_open)
        status = run_open(r, &o, operator_name);
    else if (is_show)
        status = run_show(r, args[0], o.json);
    else
        status = run_suppressions(r);
    redisFree(r);
    return status;
}
