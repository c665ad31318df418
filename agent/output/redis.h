/* output_redis.h — events to a Redis stream, heartbeats to another, with
 * the spool (agent/output/spool.h) behind them for when Redis cannot take them
 * (architecture §4.5, §4.6, §8).
 *
 * hiredis's async API on the agent's libevent loop: nothing here ever
 * blocks the packet path.  An event goes straight to Redis when the link
 * is up, the spool is empty and fewer than REDIS_MAX_OUTSTANDING replies
 * are awaited; otherwise it is appended to the spool, which is replayed
 * in order, before anything newer, as soon as Redis answers again.
 */
#ifndef CANH_OUTPUT_REDIS_H
#define CANH_OUTPUT_REDIS_H

#include <event2/event.h>

#include "agent/output/output.h"
#include "common/config.h"

/* The window: events held in memory (XADDs sent and not yet answered,
 * or waiting for a connection being made), and the JSON they may hold,
 * before new events are spooled. */
#define REDIS_MAX_OUTSTANDING 16384
#define REDIS_MAX_MEMORY_BYTES (16u << 20)
/* Commands handed to hiredis and not yet written to the socket, at most
 * (plus one): what is beyond waits in the window. */
#define REDIS_MAX_UNWRITTEN_BYTES (256u << 10)
/* MAXLEN ~ of the heartbeat stream (about a day at 10 s). */
#define REDIS_HEARTBEAT_MAXLEN 10000

/* Connect to url (common/redis/url.h: "redis://[user[:password]@]host[:port]",
 * host a name, IPv4 or [IPv6], or "unix:/path"; NULL: cfg->redis_url) with
 * [output] user and password_file for what the URL leaves out, and open the
 * spool in
 * cfg->state_dir.  The connection is made on the loop, so an unreachable
 * Redis is not an error here; a bad URL, an unreadable password file or
 * an unusable state directory is (err says which, exit 1/2). */
struct output *output_redis_open(struct event_base *base, const struct agent_config *cfg,
                                 const char *url, struct cfg_err *err);

#endif
