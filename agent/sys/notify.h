/* notify.h — systemd readiness and watchdog through libsystemd's
 * sd_notify (architecture §4.7).  Everything is a no-op unless NOTIFY_SOCKET is
 * set (started by systemd with Type=notify); the watchdog is pinged at
 * half of WATCHDOG_USEC from a loop timer, so a wedged loop stops the
 * pings and systemd restarts the agent.
 */
#ifndef CANH_NOTIFY_H
#define CANH_NOTIFY_H

#include <event2/event.h>

struct notify;

struct notify *notify_new(struct event_base *base);
/* READY=1 with a STATUS= line. */
void notify_ready(struct notify *n, const char *status);
/* STOPPING=1; the watchdog keeps pinging while outputs drain. */
void notify_stopping(struct notify *n);
void notify_free(struct notify *n);

#endif
