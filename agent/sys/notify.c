/* notify.c — see notify.h. */
#include "agent/sys/notify.h"

#include <stdint.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>

#include "common/log.h"

struct notify {
    struct event *ev_watchdog;
    int enabled;
};

static void on_watchdog(evutil_socket_t fd, short what, void *ctx)
{
    sd_notify(0, "WATCHDOG=1");
}

struct notify *notify_new(struct event_base *base)
{
    struct notify *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->enabled = getenv("NOTIFY_SOCKET") != NULL;
    uint64_t usec = 0;
    if (n->enabled && sd_watchdog_enabled(0, &usec) > 0 && usec) {
        uint64_t half = usec / 2;
        struct timeval tv = {(time_t)(half / 1000000), (suseconds_t)(half % 1000000)};
        n->ev_watchdog = event_new(base, -1, EV_PERSIST, on_watchdog, n);
        if (n->ev_watchdog)
            event_add(n->ev_watchdog, &tv);
        log_debug("systemd watchdog: pinging every %llu ms", (unsigned long long)(half / 1000));
    }
    return n;
}

void notify_ready(struct notify *n, const char *status)
{
    if (n && n->enabled)
        sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void notify_stopping(struct notify *n)
{
    if (n && n->enabled)
        sd_notify(0, "STOPPING=1\nSTATUS=stopping: flushing events");
}

void notify_free(struct notify *n)
{
    if (!n)
        return;
    if (n->ev_watchdog)
        event_free(n->ev_watchdog);
    free(n);
}
