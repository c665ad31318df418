/* main.c — canh-agent: command line, configuration, and the run.
 *
 *   canh-agent [-c agent.conf] (-r FILE | -i IFACE) [--output SPEC]...
 *   canh-agent --check [-c agent.conf]
 *   canh-agent -c agent.conf --instance IFACE   (canh-agent@IFACE.service)
 *
 * Start order matters: the capture is opened first (it may need root),
 * then privileges are dropped ([agent] user), and only then are outputs
 * opened, so the spool and JSONL files belong to the unprivileged user.
 *
 * Exit status: 0 done, 1 runtime failure (capture, output), 2 usage or
 * configuration error (messages say file:line). */
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/capture.h"
#include "agent/check/check.h"
#include "agent/drill_replay.h"
#include "agent/evidence.h"
#include "agent/output/heartbeat.h"
#include "agent/output/output.h"
#include "agent/output/redis.h"
#include "agent/pipeline.h"
#include "agent/runloop.h"
#include "agent/sys/health.h"
#include "agent/sys/metrics_http.h"
#include "agent/sys/notify.h"
#include "agent/sys/privdrop.h"
#include "common/log.h"
#include "common/units.h"

#define MAX_OUTPUT_SPECS 8

static void usage(FILE *to)
{
    fprintf(to, "usage: canh-agent [-c agent.conf] (-r FILE | -i IFACE) [--output SPEC]...\n"
                "       canh-agent --check [-c agent.conf]\n"
                "\n"
                "  -c, --config FILE    agent.conf (default: built-in defaults, shipped rules)\n"
                "  -r, --read FILE      replay a pcap/pcapng file as fast as possible\n"
                "  -i, --interface IF   capture live on IF (overrides [capture] interface)\n"
                "      --instance IF    one of several agents: capture on IF, read agent-IF.conf\n"
                "                       next to -c over it; name NAME-IF, state in STATE_DIR/IF\n"
                "  -o, --output SPEC    jsonl:PATH, jsonl:- (stdout), redis or redis:URL;\n"
                "                       repeatable\n"
                "                       (default: redis when [output] redis_url is set and\n"
                "                       capturing live; jsonl:- otherwise, and for -r)\n"
                "      --rules DIR      rules directory (overrides [agent] rules_dir)\n"
                "      --assets FILE    assets.conf (overrides [agent] assets)\n"
                "      --name NAME      agent name (overrides [agent] name)\n"
                "      --drill-replay CAPTURE --exercise ID\n"
                "                       table-top drill: replay CAPTURE as happening now to\n"
                "                       the assets of assets.conf, every event tagged with the\n"
                "                       drill ID, to [output] redis_url (docs/drills.md)\n"
                "      --check          validate config, assets and rules, then exit 0 or 2\n"
                "  -v, --verbose        debug logging;  -q, --quiet: errors only\n"
                "  -V, --version        print the version\n");
}

static int set_string(char *dst, size_t size, const char *value, const char *what)
{
    if (strlen(value) >= size) {
        log_err("%s is too long", what);
        return -1;
    }
    memcpy(dst, value, strlen(value) + 1);
    return 0;
}

/* Opens every output into outs[] (the pipeline owns them); redis ones
 * are also listed in redis_outs[] for heartbeats.  Without --output a
 * live capture goes to [output] redis_url when it is set, but a replay
 * (-r) never does: a test capture replayed on a gateway must not land in
 * the SOC's incidents unless --output redis asks for it. */
static int open_outputs(struct pipeline *pl, struct event_base *base, const char *const *specs,
                        size_t n, const struct agent_config *cfg, bool replay, struct output **outs,
                        size_t *n_outs, struct output **redis_outs, size_t *n_redis)
{
    const char *fallback = cfg->redis_url[0] && !replay ? "redis" : "jsonl:-";
    if (n == 0) {
        if (replay && cfg->redis_url[0])
            log_info("replay: events go to standard output, not to %s; give --output redis "
                     "to send them there",
                     cfg->redis_url);
        specs = &fallback;
        n = 1;
    }
    for (size_t i = 0; i < n; i++) {
        struct cfg_err err;
        struct output *out = NULL;
        if (strncmp(specs[i], "jsonl:", 6) == 0 && specs[i][6]) {
            out = output_jsonl_open(specs[i] + 6, &err);
        } else if (strcmp(specs[i], "redis") == 0 || strncmp(specs[i], "redis:", 6) == 0) {
            out = output_redis_open(base, cfg, specs[i][5] ? specs[i] + 6 : NULL, &err);
            if (out)
                redis_outs[(*n_redis)++] = out;
        } else {
            log_err("--output %s: expected jsonl:PATH, jsonl:-, redis or redis:URL", specs[i]);
            return 2;
        }
        if (!out) {
            log_err("%s", err.msg);
            return 1;
        }
        pipeline_add_output(pl, out);
        outs[(*n_outs)++] = out;
    }
    return 0;
}

static void log_summary(struct pipeline *pl, const char *source)
{
    const struct decode_stats *ds = pipeline_decode_stats(pl);
    char reasons[512] = "";
    for (int r = DECODE_NOT_IP + 1; r < DECODE_REASON_COUNT; r++) {
        if (!ds->by_reason[r])
            continue;
        size_t used = strlen(reasons);
        snprintf(reasons + used, sizeof(reasons) - used, "%s%s %llu", used ? ", " : " (",
                 decode_reason_name((enum decode_reason)r), (unsigned long long)ds->by_reason[r]);
    }
    if (reasons[0])
        strncat(reasons, ")", sizeof(reasons) - strlen(reasons) - 1);
    log_info("%s: %llu frames, %llu decoded, %llu not IP, %llu malformed%s, %llu events", source,
             (unsigned long long)ds->frames, (unsigned long long)ds->decoded,
             (unsigned long long)ds->not_ip, (unsigned long long)ds->errors, reasons,
             (unsigned long long)pipeline_events(pl));
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"config", required_argument, NULL, 'c'},
                                             {"read", required_argument, NULL, 'r'},
                                             {"interface", required_argument, NULL, 'i'},
                                             {"output", required_argument, NULL, 'o'},
                                             {"rules", required_argument, NULL, 'R'},
                                             {"assets", required_argument, NULL, 'A'},
                                             {"name", required_argument, NULL, 'N'},
                                             {"check", no_argument, NULL, 'C'},
                                             {"instance", required_argument, NULL, 'I'},
                                             {"drill-replay", required_argument, NULL, 'D'},
                                             {"exercise", required_argument, NULL, 'X'},
                                             {"verbose", no_argument, NULL, 'v'},
                                             {"quiet", no_argument, NULL, 'q'},
                                             {"version", no_argument, NULL, 'V'},
                                             {"help", no_argument, NULL, 'h'},
                                             /* Not in --help: synthetic events for tests and
                                              * benchmarks (docs/redis.md). */
                                             {"debug-events", required_argument, NULL, 'E'},
                                             {"debug-rate", required_argument, NULL, 'T'},
                                             {NULL, 0, NULL, 0}};
    const char *config_path = NULL, *read_file = NULL, *interface = NULL, *rules_dir = NULL,
               *assets_file = NULL, *name = NULL, *instance = NULL, *exercise = NULL;
    bool drill = false;
    const char *output_specs[MAX_OUTPUT_SPECS];
    size_t n_outputs = 0;
    int check_only = 0, verbosity = 0, opt;
    uint64_t debug_events = 0, debug_rate = 0;

    log_init("canh-agent", LOG_LEVEL_INFO);
    /* A Redis that vanishes mid-write must cost an error, not the process. */
    signal(SIGPIPE, SIG_IGN);
    while ((opt = getopt_long(argc, argv, "c:r:i:o:vqVh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config_path = optarg;
            break;
        case 'r':
            read_file = optarg;
            break;
        case 'i':
            interface = optarg;
            break;
        case 'o':
            if (n_outputs == MAX_OUTPUT_SPECS) {
                log_err("at most %d --output options", MAX_OUTPUT_SPECS);
                return 2;
            }
            output_specs[n_outputs++] = optarg;
            break;
        case 'R':
            rules_dir = optarg;
            break;
        case 'A':
            assets_file = optarg;
            break;
        case 'N':
            name = optarg;
            break;
        case 'I':
            instance = optarg;
            break;
        case 'D':
            read_file = optarg;
            drill = true;
            break;
        case 'X':
            exercise = optarg;
            break;
        case 'C':
            check_only = 1;
            break;
        case 'v':
            verbosity = 1;
            break;
        case 'q':
            verbosity = -1;
            break;
        case 'E':
        case 'T':
            if (units_parse_count(optarg, opt == 'E' ? &debug_events : &debug_rate) < 0) {
                log_err("--debug-%s %s: expected a count", opt == 'E' ? "events" : "rate", optarg);
                return 2;
            }
            break;
        case 'V':
            printf("canh-agent %s\n", CANH_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        log_err("unexpected argument '%s'", argv[optind]);
        usage(stderr);
        return 2;
    }

    if (drill != (exercise != NULL)) {
        log_err("--drill-replay CAPTURE and --exercise ID go together (docs/drills.md)");
        return 2;
    }
    if (exercise && !event_exercise_valid(exercise)) {
        log_err("--exercise %s: a drill id is 1-%d characters of [A-Za-z0-9._-] (canh-ctl drill "
                "list)",
                exercise, EVENT_EXERCISE_MAX);
        return 2;
    }

    struct agent_config cfg;
    struct cfg_err err;
    agent_config_defaults(&cfg);
    if (config_path && agent_config_load(config_path, &cfg, &err) < 0) {
        log_err("%s", err.msg);
        return 2;
    }
    if (instance && (interface || read_file)) {
        log_err("--instance names the interface: give no -i or -r with it");
        agent_config_free(&cfg);
        return 2;
    }
    if (instance && agent_config_instance(&cfg, instance, &err) < 0) {
        log_err("%s", err.msg);
        agent_config_free(&cfg);
        return 2;
    }
    log_set_level(verbosity > 0   ? LOG_LEVEL_DEBUG
                  : verbosity < 0 ? LOG_LEVEL_ERR
                                  : (enum log_level)cfg.log_level);
    if ((rules_dir && set_string(cfg.rules_dir, sizeof(cfg.rules_dir), rules_dir, "--rules") < 0) ||
        (assets_file &&
         set_string(cfg.assets_file, sizeof(cfg.assets_file), assets_file, "--assets") < 0) ||
        (name && set_string(cfg.name, sizeof(cfg.name), name, "--name") < 0) ||
        (interface && set_string(cfg.interface, sizeof(cfg.interface), interface, "-i") < 0))
        return 2;

    if (check_only) {
        if (pipeline_check(&cfg, &err) < 0) {
            log_err("%s", err.msg);
            agent_config_free(&cfg);
            return 2;
        }
        printf("%s%s%s: configuration, assets and rules are valid\n",
               config_path ? config_path : "built-in defaults", cfg.instance_path[0] ? " + " : "",
               cfg.instance_path);
        agent_config_free(&cfg);
        return 0;
    }
    if (read_file && cfg.interface[0] && interface) {
        log_err("give either -r FILE or -i IFACE, not both");
        return 2;
    }
    if (!read_file && !cfg.interface[0]) {
        log_err("nothing to capture: give -r FILE, -i IFACE or [capture] interface");
        usage(stderr);
        return 2;
    }

    /* A drill is rehearsed on the real reporting chain: its events go to the
     * configured Redis unless --output says otherwise. */
    if (drill && n_outputs == 0) {
        if (!cfg.redis_url[0]) {
            log_err("--drill-replay: [output] redis_url is not set; give it (or --output) so the "
                    "drill reaches the collector");
            agent_config_free(&cfg);
            return 2;
        }
        output_specs[n_outputs++] = "redis";
    }
    /* A replay has no capture interface: its events carry no in_iface. */
    if (read_file)
        cfg.interface[0] = '\0';
    struct pipeline *pl = pipeline_new(&cfg, &err);
    if (!pl) {
        log_err("%s", err.msg);
        agent_config_free(&cfg);
        return 2;
    }
    struct capture cap = {0};
    struct event_base *base = NULL;
    struct runloop *rl = NULL;
    struct health *health = NULL;
    struct check *check = NULL;
    struct heartbeat *hb = NULL;
    struct metrics_http *metrics = NULL;
    struct evidence *evidence = NULL;
    struct notify *notify = NULL;
    struct drill_replay *drill_replay = NULL;
    struct output *outs[MAX_OUTPUT_SPECS], *redis_outs[MAX_OUTPUT_SPECS];
    size_t n_outs = 0, n_redis = 0;
    int status = 0;
    char why[512];

    struct capture_opts copts = {
        .interface = read_file ? NULL : cfg.interface,
        .file = read_file,
        .snaplen = cfg.snaplen,
        .buffer_mb = cfg.buffer_mb,
        .filter = cfg.filter,
        .fanout = cfg.fanout_group && !read_file ? &cfg : NULL,
    };
    if (drill) {
        drill_replay =
            drill_replay_new(read_file, pipeline_assets(pl), units_now_us(), why, sizeof(why));
        if (!drill_replay) {
            log_err("%s", why);
            status = 2;
            goto out;
        }
        pipeline_set_exercise(pl, exercise);
    }
    int rc = capture_open(&cap, &copts);
    if (rc < 0) {
        log_err("%s", cap.errbuf);
        status = rc == -2 ? 2 : 1;
        goto out;
    }
    if (privdrop_to_user(cfg.run_as_user, cfg.state_dir, why, sizeof(why)) < 0) {
        log_err("%s", why);
        status = 1;
        goto out;
    }
    /* After the privilege drop: the files belong to the service's user. */
    if (cfg.evidence_ring_bytes) {
        evidence = evidence_new(&cfg, why, sizeof(why));
        if (!evidence) {
            log_err("%s", why);
            status = 1;
            goto out;
        }
        pipeline_set_evidence(pl, evidence);
    }
    base = event_base_new();
    if (!base) {
        log_err("cannot set up the event loop (out of memory)");
        status = 1;
        goto out;
    }
    status = open_outputs(pl, base, output_specs, n_outputs, &cfg, read_file != NULL, outs, &n_outs,
                          redis_outs, &n_redis);
    if (status)
        goto out;
    rl = runloop_new(base, &cap, pl, &cfg);
    health = health_new(base, &cfg, pl, &cap);
    hb = heartbeat_new(base, &cfg, pl, &cap, redis_outs, n_redis);
    notify = notify_new(base);
    if (!rl || !health || !hb || !notify) {
        log_err("cannot set up the event loop (out of memory)");
        status = 1;
        goto out;
    }
    /* Page checks run only on a live capture: a replay is about the past.
     * Checks configured but impossible (libcurl missing) stop the start:
     * never an agent that looks fine and checks nothing. */
    if (!read_file && !(check = check_new(base, &cfg, pl, why, sizeof(why)))) {
        log_err("page checks (check = in %s): %s", cfg.assets_file, why);
        status = 1;
        goto out;
    }
    if (cfg.metrics_listen[0] && !(metrics = metrics_http_new(base, &cfg, hb, why, sizeof(why)))) {
        log_err("%s", why);
        status = 1;
        goto out;
    }
    uint64_t drain_us = cfg.redis_timeout_us;
    if (drain_us < 1000000)
        drain_us = 1000000;
    if (drain_us > 30000000)
        drain_us = 30000000;
    struct runloop_extras extras = {
        .health = health,
        .notify = notify,
        .heartbeat = hb,
        .check = check,
        .outputs = outs,
        .n_outputs = n_outs,
        .drain_timeout_us = drain_us,
        .debug_events = debug_events,
        .debug_rate = debug_rate,
        .drill = drill_replay,
    };
    if (runloop_set_extras(rl, &extras) < 0) {
        log_err("out of memory");
        status = 1;
        goto out;
    }
    snprintf(why, sizeof(why), "watching %s, rules %s", cap.source, pipeline_rules_version(pl));
    notify_ready(notify, why);
    status = runloop_run(rl);
    log_summary(pl, cap.source);
    if (drill_replay)
        log_info("drill %s: %llu frames played against this agency's assets", exercise,
                 (unsigned long long)drill_replay_rewritten(drill_replay));
    for (size_t i = 0; i < n_redis; i++) {
        json_t *st = json_object();
        redis_outs[i]->stats(redis_outs[i], st);
        log_info("redis: %lld events, %lld delivered, %lld spooled, %lld lost, %lld left in the "
                 "spool",
                 (long long)json_integer_value(json_object_get(st, "redis_events")),
                 (long long)json_integer_value(json_object_get(st, "redis_delivered")),
                 (long long)json_integer_value(json_object_get(st, "spool_appended")),
                 (long long)json_integer_value(json_object_get(st, "spool_lost_records")),
                 (long long)json_integer_value(json_object_get(st, "spool_records")));
        json_decref(st);
    }
out:
    runloop_free(rl);
    drill_replay_free(drill_replay);
    pipeline_set_evidence(pl, NULL);
    evidence_free(evidence);
    metrics_http_free(metrics);
    heartbeat_free(hb);
    health_free(health);
    check_free(check);
    notify_free(notify);
    /* Outputs (Redis: its libevent events) go before the loop does. */
    pipeline_free(pl);
    if (cap.pcap)
        capture_close(&cap);
    if (base)
        event_base_free(base);
    agent_config_free(&cfg);
    return status;
}
