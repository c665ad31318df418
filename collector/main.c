/* main.c — canh-collector: options, configuration, signals, the loop.
 *
 * Also the service side: under systemd (Type=notify) it says READY=1 once
 * the loop runs, pings WATCHDOG=1 from a loop timer at half WatchdogSec
 * (a wedged loop stops the pings and systemd restarts it), RELOADING=1 /
 * READY=1 around a SIGHUP reload and STOPPING=1 on SIGTERM.  libsystemd's
 * sd_notify does nothing when NOTIFY_SOCKET is not set.
 *
 * SIGHUP re-reads collector.conf.  The new file is loaded and checked in
 * full before anything changes; a bad one is logged (file:line) and the
 * running configuration stays.  Incident, correlation, routing and rate
 * settings take effect at once (the parts read c->cfg on every use); the
 * escalation worker rebuilds its sinks for new addresses and secrets, the
 * old ones finishing their deliveries in flight first.  The Redis session
 * and the status page's address stay as they are until a restart (logged).
 */
#include <event2/event.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "collector/collector.h"
#include "collector/config.h"
#include "collector/status/status.h"
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
    struct status *status;
    struct event_base *base;
    struct event *stop_tick;
    struct event *watchdog;
    int grace;
    const char *path;
    bool level_forced;            /* --log-level given: a reload keeps it */
    struct collector_config *cfg; /* running */
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
    sd_notify(0, "STOPPING=1\nSTATUS=finishing the entries in flight");
    r->stop_tick = event_new(r->base, -1, EV_PERSIST, on_stop_tick, r);
    struct timeval tv = {0, 100000};
    event_add(r->stop_tick, &tv);
}

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
    sd_notify(0, "WATCHDOG=1");
}

/* ---- SIGHUP ---------------------------------------------------------- */

/* Keys only a restart applies: keep the running values, say so. */
static void keep_for_restart(const struct collector_config *old, struct collector_config *next)
{
#define KEEP_STR(field, key)                                                                       \
    if (strcmp(old->field, next->field) != 0) {                                                    \
        log_warn("reload: %s changed; it takes effect at the next restart", key);                  \
        memcpy(next->field, old->field, sizeof(next->field));                                      \
    }
#define KEEP_NUM(field, key)                                                                       \
    if (old->field != next->field) {                                                               \
        log_warn("reload: %s changed; it takes effect at the next restart", key);                  \
        next->field = old->field;                                                                  \
    }
    KEEP_STR(redis_url, "[collector] redis_url")
    KEEP_STR(redis_user, "[collector] user")
    KEEP_STR(password_file, "[collector] password_file")
    KEEP_NUM(timeout_us, "[collector] timeout")
    KEEP_NUM(block_us, "[collector] block")
    KEEP_STR(status_listen, "[status] listen")
#undef KEEP_STR
#undef KEEP_NUM
    /* The consumer name defaults to hostname-pid; the group must keep
     * seeing the same consumer, whatever the file now says. */
    memcpy(next->consumer, old->consumer, sizeof(next->consumer));
}

static void reload(struct runner *r)
{
    char mono[64];
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    snprintf(mono, sizeof(mono), "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000);
    sd_notify(0, mono);
    struct collector_config *next = NULL;
    struct cfg_err err;
    if (!r->path) {
        log_info("SIGHUP: no configuration file (-c) to re-read");
        goto done;
    }
    next = malloc(sizeof(*next));
    if (!next) {
        log_err("reload: out of memory; keeping the running configuration");
        goto done;
    }
    collector_config_defaults(next);
    if (collector_config_load(r->path, next, &err) < 0 ||
        collector_config_check_files(next, &err) < 0) {
        log_err("reload: %s; keeping the running configuration", err.msg);
        goto done;
    }
    keep_for_restart(r->cfg, next);
    struct collector_config *old = r->cfg;
    if (collector_reconfigure(r->c, next) < 0) {
        log_err("reload: the new sink settings cannot be used (see above); keeping the running "
                "configuration");
        goto done;
    }
    if (r->status && status_reload(r->status) < 0) {
        /* The secrets went away since the check a moment ago. */
        if (collector_reconfigure(r->c, old) == 0) {
            log_err("reload: status page secrets unreadable; keeping the running configuration");
            goto done;
        }
        /* The collector runs on next now: keep it, with the old secrets. */
        log_err("reload: status page secrets unreadable and the previous sink settings cannot be "
                "restored (see above); the status page keeps its old secrets");
    }
    /* Committed: from here on the new configuration is the running one. */
    r->cfg = next;
    next = old; /* no part holds it any more: freed below */
    if (!r->level_forced)
        log_set_level((enum log_level)r->cfg->log_level);
    log_info("reloaded %s", r->path);
done:
    free(next);
    sd_notify(0, "READY=1\nSTATUS=running");
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
    struct runner *r = arg;
    if (r->stop_tick)
        return;
    log_info("SIGHUP: re-reading %s", r->path ? r->path : "(no file)");
    reload(r);
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
    /* On the heap: a reload swaps in a new one and frees the old. */
    struct collector_config *cfg = malloc(sizeof(*cfg));
    if (!cfg) {
        fprintf(stderr, "canh-collector: out of memory\n");
        return 1;
    }
    struct cfg_err err;
    collector_config_defaults(cfg);
    if (path && collector_config_load(path, cfg, &err) < 0) {
        fprintf(stderr, "canh-collector: %s\n", err.msg);
        return 2;
    }
    enum log_level level = (enum log_level)cfg->log_level;
    if (level_arg && log_level_parse(level_arg, &level) < 0) {
        fprintf(stderr, "canh-collector: --log-level: '%s' is not error, warning, info or debug\n",
                level_arg);
        return 2;
    }
    log_set_level(level);
    if (collector_config_check_files(cfg, &err) < 0 ||
        collector_config_check_listen(cfg, &err) < 0 || status_check(cfg, &err) < 0) {
        fprintf(stderr, "canh-collector: %s\n", err.msg);
        return 2;
    }
    if (check) {
        printf("%s: OK\n", path ? path : "(built-in defaults)");
        free(cfg);
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    event_set_log_callback(log_libevent); /* rate-limited like our own lines */
    struct event_base *base = event_base_new();
    if (!base) {
        log_err("cannot create the event loop");
        return 1;
    }
    static struct collector c;
    if (collector_init(&c, cfg, base) < 0) {
        event_base_free(base);
        return 1;
    }
    struct runner r = {
        .c = &c, .base = base, .path = path, .level_forced = level_arg != NULL, .cfg = cfg};
    if (cfg->status_listen[0]) {
        r.status = status_new(&c, c.link, base);
        if (!r.status) {
            collector_free(&c);
            event_base_free(base);
            return 1;
        }
    }
    struct event *sigint = evsignal_new(base, SIGINT, on_signal, &r);
    struct event *sigterm = evsignal_new(base, SIGTERM, on_signal, &r);
    struct event *sighup = evsignal_new(base, SIGHUP, on_hup, &r);
    event_add(sigint, NULL);
    event_add(sigterm, NULL);
    event_add(sighup, NULL);
    uint64_t watchdog_us = 0;
    if (sd_watchdog_enabled(0, &watchdog_us) > 0 && watchdog_us) {
        r.watchdog = event_new(base, -1, EV_PERSIST, on_watchdog, &r);
        struct timeval tv = {(time_t)(watchdog_us / 2 / 1000000),
                             (suseconds_t)(watchdog_us / 2 % 1000000)};
        event_add(r.watchdog, &tv);
        log_debug("systemd watchdog: pinging every %llu ms",
                  (unsigned long long)(watchdog_us / 2000));
    }
    log_info("consumer %s of group canh-collectors, Redis %s", cfg->consumer, cfg->redis_url);
    collector_start(&c);
    /* Ready means configured and running; Redis may still be coming up —
     * the collector keeps reconnecting, and restarting would not help. */
    sd_notify(0, "READY=1\nSTATUS=running");
    event_base_dispatch(base);

    const struct collector_stats *s = &c.stats;
    log_info("stopped: %" PRIu64 " entries, %" PRIu64 " applied, %" PRIu64 " duplicates, %" PRIu64
             " dead-lettered (%" PRIu64 " oversized), %" PRIu64 " misdated times clamped, %" PRIu64
             " heartbeats, %" PRIu64 " claimed, %" PRIu64 " dead consumers deleted, %" PRIu64
             " conflicts retried, %" PRIu64 " presumed-new writes (%" PRIu64
             " missed), incidents %" PRIu64 " opened / %" PRIu64 " escalated / %" PRIu64
             " closed, %" PRIu64 " errors",
             s->entries, s->applied, s->duplicates, s->deadletters, s->oversized, s->clamped_times,
             s->heartbeats, s->claimed, s->consumers_deleted, s->conflicts, s->presumed,
             s->presumed_misses, s->opened, s->escalated, s->closed, s->errors);
    /* The collector first: its session answers pending Redis callbacks
     * (the status page's refresh among them) with NULL; then the status
     * page. */
    collector_free(&c);
    status_free(r.status);
    event_free(sigint);
    event_free(sigterm);
    event_free(sighup);
    if (r.watchdog)
        event_free(r.watchdog);
    if (r.stop_tick)
        event_free(r.stop_tick);
    event_base_free(base);
    free(r.cfg);
    return 0;
}
