/* link.h — the one Redis link of canh: hiredis's async API on a libevent
 * loop, used by the agent's output, the collector and its status page.
 *
 * A link is one or more connections to the same Redis (the collector
 * keeps one for XREADGROUP ... BLOCK so a blocked read never delays a
 * write).  It connects, sends AUTH on each connection, and is "up" once
 * all of them answered; the owner's ready callback runs then.  hiredis
 * 0.14 has no async timeouts, so a watchdog timer drops the link when a
 * connect, an AUTH or a reply is overdue.  Any failure of any connection
 * drops them all: every pending reply callback runs with a NULL reply,
 * then the lost callback (only if the link had been up), then a retry is
 * scheduled after an exponential backoff with equal jitter, so agents
 * that lost the same Redis do not all come back in the same millisecond.
 * Each drop bumps the generation; owners compare it before trusting late
 * state.  Problems are logged once per distinct message, so a Redis that
 * stays down does not flood the journal.
 */
#ifndef CANH_REDIS_LINK_H
#define CANH_REDIS_LINK_H

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/redis/url.h"

#define REDIS_LINK_MAX_CONNECTIONS 2

enum redis_link_state {
    REDIS_LINK_DOWN,       /* not started, or waiting out a backoff */
    REDIS_LINK_CONNECTING, /* connecting and authenticating */
    REDIS_LINK_UP,
};

struct redis_link;
typedef void (*redis_link_event_fn)(void *owner);
/* reply is NULL when the link went down before the answer came. */
typedef void (*redis_link_reply_fn)(redisReply *reply, void *priv);

struct redis_link_options {
    unsigned connections; /* 1 (default) or 2 */
    uint64_t timeout_us;  /* connect + AUTH, and each reply; default 5 s */
    /* More time for replies on one connection (a BLOCKing read). */
    uint64_t slack_us[REDIS_LINK_MAX_CONNECTIONS];
    uint64_t backoff_min_us, backoff_max_us; /* default 100 ms .. 10 s */
    redis_link_event_fn ready, lost;
    /* After redis_link_notify_drained: the socket took what hiredis held,
     * so more may be handed to it (NULL: never asked for). */
    redis_link_event_fn drained;
    void *owner;
};

struct redis_link_stats {
    uint64_t connects;     /* times the link came up */
    uint64_t losses;       /* times it went down after being up */
    uint64_t timeouts;     /* drops by the watchdog */
    uint64_t auth_refused; /* AUTH answered with an error */
    unsigned attempts;     /* failed attempts since the link was last up */
};

/* Copies url (credentials included); no I/O until redis_link_start(). */
struct redis_link *redis_link_new(struct event_base *base, const struct redis_url *url,
                                  const struct redis_link_options *opt);
void redis_link_start(struct redis_link *l);
/* Pending callbacks run with NULL replies; lost is not called. */
void redis_link_free(struct redis_link *l);

enum redis_link_state redis_link_state(const struct redis_link *l);
bool redis_link_up(const struct redis_link *l);
uint64_t redis_link_generation(const struct redis_link *l);
/* "redis host:port" or "redis unix:/path", for messages. */
const char *redis_link_where(const struct redis_link *l);
void redis_link_get_stats(const struct redis_link *l, struct redis_link_stats *out);

/* Queues a command on connection conn; -1 when the link is not up (fn is
 * then not called). */
int redis_link_command(struct redis_link *l, unsigned conn, redis_link_reply_fn fn, void *priv,
                       int argc, const char **argv, const size_t *lens);
/* The same with the command already in RESP (cmd, len: one "*N\r\n$..."
 * array, copied): an owner that sends one shape of command many times
 * formats it itself into a reused buffer. */
int redis_link_formatted(struct redis_link *l, unsigned conn, redis_link_reply_fn fn, void *priv,
                         const char *cmd, size_t len);
/* Bytes of commands queued on connection conn that hiredis has not yet
 * written to the socket (0 when the link is not up).  An owner that sends
 * many commands keeps this small: hiredis moves its whole buffer after
 * every partial write. */
size_t redis_link_unsent(const struct redis_link *l, unsigned conn);
/* Calls opt.drained once, from the loop, when the socket of connection
 * conn is writable again after hiredis wrote to it: an owner that keeps
 * redis_link_unsent small (and so holds commands back) hands over the
 * next ones then, instead of waiting for a reply or its next command. */
void redis_link_notify_drained(struct redis_link *l, unsigned conn);
/* Drops the link (why is logged) and reconnects later.  Safe inside a
 * reply callback: the connections are freed from the loop afterwards. */
void redis_link_fail(struct redis_link *l, const char *why);

#endif
