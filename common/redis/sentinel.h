/* sentinel.h — finding the master through Redis Sentinel, and the checks
 * a fresh connection passes before canh uses it.
 *
 * A sentinel:// URL (url.h) names sentinels, not a server.  Each connect
 * asks them in turn SENTINEL GET-MASTER-ADDR-BY-NAME, connects to the
 * address the first one that knows gives, and asks that server ROLE: only
 * a "master" is used (a sentinel may still name a demoted master for a
 * moment after a failover).  Every connection, sentinel or not, also
 * answers PING before use, so a Redis still loading its AOF answers
 * LOADING there and never to a pipelined command (docs/reliability.md).
 *
 * The asynchronous link (link.c) parses the replies with the functions
 * below; canh-ctl, which is synchronous, connects with
 * redis_connect_sync().
 */
#ifndef CANH_REDIS_SENTINEL_H
#define CANH_REDIS_SENTINEL_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <sys/time.h>

#include "common/redis/url.h"

/* The reply to SENTINEL GET-MASTER-ADDR-BY-NAME: 0 with host and port,
 * -1 with why (unknown master, error). */
int redis_sentinel_master_reply(const redisReply *reply, char *host, size_t host_size, int *port,
                                char *why, size_t why_len);

/* The reply to ROLE: 0 for a master, -1 with why otherwise. */
int redis_role_master_reply(const redisReply *reply, char *why, size_t why_len);

/* The reply to the PING before use: 0 when the server can serve
 * (PONG, or NOPERM from an ACL without +ping), -1 with why (LOADING...). */
int redis_ping_reply(const redisReply *reply, char *why, size_t why_len);

/* Connects to u (through its sentinels for sentinel://), sends AUTH,
 * PING and, for sentinel://, ROLE; NULL with a message in err.  u's host
 * and where name the master afterwards. */
redisContext *redis_connect_sync(struct redis_url *u, struct timeval timeout, char *err,
                                 size_t err_len);

#endif
