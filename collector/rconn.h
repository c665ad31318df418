/* rconn.h — the collector's Redis session on its libevent loop.
 *
 * A session is two hiredis async connections: "rd" only waits in
 * XREADGROUP ... BLOCK, "cmd" carries everything else, so a blocked read
 * never delays a write.  hiredis 0.14 has no timeouts, so a watchdog timer
 * tears the session down when a connect or a reply is overdue; any failure
 * of either connection drops both (every pending callback then sees a NULL
 * reply) and reconnects with exponential backoff and jitter.  Owners learn
 * of it through the ready/lost callbacks and compare rconn_generation()
 * before trusting a late reply.
 */
#ifndef CANH_COLLECTOR_RCONN_H
#define CANH_COLLECTOR_RCONN_H

#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct redis_target {
    bool unix_socket;
    char host[256];
    int port;
    char path[256];
};

/* "redis://host[:port]" or "unix:/path"; -1 on anything else. */
int redis_url_parse(const char *url, struct redis_target *out);

enum rconn_which { RCONN_CMD, RCONN_RD };

struct rconn;
typedef void (*rconn_event_fn)(void *user);
/* reply is NULL when the session went down before the answer came. */
typedef void (*rconn_reply_fn)(redisReply *reply, void *priv);

struct rconn *rconn_new(struct event_base *base, const struct redis_target *target,
                        const char *user, const char *password, uint64_t timeout_us,
                        uint64_t block_us, rconn_event_fn ready, rconn_event_fn lost, void *owner);
void rconn_start(struct rconn *rc);
void rconn_free(struct rconn *rc);
bool rconn_up(const struct rconn *rc);
uint64_t rconn_generation(const struct rconn *rc);
/* Queue a command; -1 when the session is down (fn is not called). */
int rconn_command(struct rconn *rc, enum rconn_which which, rconn_reply_fn fn, void *priv, int argc,
                  const char **argv, const size_t *lens);
/* Drop the session (logged with why) and reconnect later. */
void rconn_fail(struct rconn *rc, const char *why);

#endif
