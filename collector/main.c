/* main.c — canh-collector: options, configuration, signals, the loop. */
#include <event2/event.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/collector.h"
#include "collector/config.h"
#include "common/log.h"

#define STOP_GRACE_TICKS 100 /* × 100 ms */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: canh-collector [-c FILE] [--check] [--log-level LEVEL]\n"
            "  -c, --config FILE   collector.conf (default: built-in defaults)\n"
            "      --check         validate the configuration and the files it names, then exit\n"
            "      --log-level L   error, warning, info or debug\n"
            "  -V, --version       print the version\n"
            "Reads canh:events:<agent> streams through the consumer group canh-collectors,\n"
            "writes incidents to canh:incidents and escalates them.  See docs/collector.md.\n");
}

struct runner {
    struct collector *c;
    struct event_base *base;
    struct event *stop_tick;
    int grace;
};

static void on_stop_tick(evutil_socket_t fd, short what, void *arg)
{
    struct runner *r = arg;
    if (collector_stop(r->c) || ++r->grace > STOP_GRACE_TICKS)
        event_base_loopexit(r->base, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct runner *r = arg;
    if (r->stop_tick)
        return;
    log_info("%s: finishing the entries in flight", sig == SIGINT ? "SIGINT" : "SIGTERM");
    r->stop_tick = event_new(r->base, -1, EV_PERSIST, on_stop_tick, r);
    struct timeval tv = {0, 100000};
    event_add(r->stop_tick, &tv);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"check", no_argument, NULL, 'k'},
                                         {"log-level", required_argument, NULL, 'l'},
                                         {"version", no_argument, NULL, 'V'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *path = NULL, *level_arg = NULL;
    bool check = false;
    int opt;
    log_init("canh-collector", LOG_LEVEL_INFO);
    while ((opt = getopt_long(argc, argv, "c:Vh", opts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            path = optarg;
            break;
        case 'k':
            check = true;
            break;
        case 'l':
            level_arg = optarg;
            break;
        case 'V':
            printf("canh-collector %s\n", CANH_VERSION);
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
        usage(stderr);
        return 2;
    }
    static struct collector_config cfg;
    struct cfg_err err;
    collector_config_defaults(&cfg);
    if (path && collector_config_load(path, &cfg, &err) < 0) {
        fprintf(stderr, "canh-collector: %s\n", err.msg);
        return 2;
    }
    enum log_level level = (enum log_level)cfg.log_level;
    if (level_arg && log_level_parse(level_arg, &level) < 0) {
        fprintf(stderr, "canh-collector: --log-level: '%s' is not error, warning, info or debug\n",
                level_arg);
        return 2;
    }
    log_set_level(level);
    if (collector_config_check_files(&cfg, &err) < 0) {
        fprintf(stderr, "canh-collector: %s\n", err.msg);
        return 2;
    }
    if (check) {
        printf("%s: OK\n", path ? path : "(built-in defaults)");
        return 0;
    }
    char password[512] = "";
    if (cfg.password_file[0])
        collector_read_secret(cfg.password_file, password, sizeof(password));

    signal(SIGPIPE, SIG_IGN);
    struct event_base *base = event_base_new();
    if (!base) {
        log_err("cannot create the event loop");
        return 1;
    }
    static struct collector c;
    if (collector_init(&c, &cfg, base, password) < 0) {
        event_base_free(base);
        return 1;
    }
    memset(password, 0, sizeof(password));
    struct runner r = {.c = &c, .base = base};
    struct event *sigint = evsignal_new(base, SIGINT, on_signal, &r);
    struct event *sigterm = evsignal_new(base, SIGTERM, on_signal, &r);
    event_add(sigint, NULL);
    event_add(sigterm, NULL);
    log_info("consumer %s of group canh-collectors, Redis %s", cfg.consumer, cfg.redis_url);
    collector_start(&c);
    event_base_dispatch(base);

    const struct collector_stats *s = &c.stats;
    log_info("stopped: %" PRIu64 " entries, %" PRIu64 " applied, %" PRIu64 " duplicates, %" PRIu64
             " dead-lettered, %" PRIu64 " heartbeats, %" PRIu64 " claimed, %" PRIu64
             " conflicts retried, incidents %" PRIu64 " opened / %" PRIu64 " escalated / %" PRIu64
             " closed, %" PRIu64 " errors",
             s->entries, s->applied, s->duplicates, s->deadletters, s->heartbeats, s->claimed,
             s->conflicts, s->opened, s->escalated, s->closed, s->errors);
    collector_free(&c);
    event_free(sigint);
    event_free(sigterm);
    if (r.stop_tick)
        event_free(r.stop_tick);
    event_base_free(base);
    return 0;
}
