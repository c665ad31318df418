/* rconn.c — see rconn.h. */
#include "collector/rconn.h"

#include <hiredis/adapters/libevent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/units.h"

enum state { ST_DOWN, ST_CONNECTING, ST_UP };

struct conn {
    struct rconn *rc;
    redisAsyncContext *ac;
    bool connected;
    bool authed;
    size_t pending;
    uint64_t progress_us; /* last reply, or when pending became non-zero */
};

struct rconn {
    struct event_base *base;
    struct redis_target target;
    char user[64];
    char password[512];
    uint64_t timeout_us, block_us;
    rconn_event_fn ready, lost;
    void *owner;
    enum state state;
    uint64_t generation;
    uint64_t state_since_us;
    uint64_t backoff_us;
    struct conn conn[2];
    struct event *watchdog;
    struct event *retry;
    struct event *reset;
    char reset_why[160];
};

struct call {
    struct rconn *rc;
    enum rconn_which which;
    uint64_t generation;
    rconn_reply_fn fn;
    void *priv;
};

int redis_url_parse(const char *url, struct redis_target *out)
{
    memset(out, 0, sizeof(*out));
    if (strncmp(url, "unix:", 5) == 0) {
        const char *p = url + 5;
        if (strncmp(p, "//", 2) == 0)
            p += 2;
        if (*p != '/' || strlen(p) >= sizeof(out->path))
            return -1;
        out->unix_socket = true;
        strcpy(out->path, p);
        return 0;
    }
    if (strncmp(url, "redis://", 8) != 0)
        return -1;
    const char *h = url + 8;
    const char *at = strrchr(h, '@'); /* credentials belong in the config keys */
    if (at)
        return -1;
    size_t n = strcspn(h, ":/");
    if (n == 0 || n >= sizeof(out->host))
        return -1;
    memcpy(out->host, h, n);
    out->host[n] = '\0';
    out->port = 6379;
    if (h[n] == ':') {
        char *end;
        long port = strtol(h + n + 1, &end, 10);
        if (port < 1 || port > 65535 || (*end && *end != '/'))
            return -1;
        out->port = (int)port;
    }
    return 0;
}

static void schedule_reset(struct rconn *rc, const char *why)
{
    if (rc->state == ST_DOWN)
        return;
    if (!rc->reset_why[0])
        snprintf(rc->reset_why, sizeof(rc->reset_why), "%s", why);
    struct timeval now = {0, 0};
    event_add(rc->reset, &now);
}

static int which_of(struct rconn *rc, const redisAsyncContext *ac)
{
    for (int i = 0; i < 2; i++)
        if (rc->conn[i].ac == ac)
            return i;
    return -1;
}

static void on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    struct call *call = privdata;
    struct rconn *rc = call->rc;
    redisReply *reply = r;
    if (call->generation == rc->generation && rc->state != ST_DOWN) {
        struct conn *cn = &rc->conn[call->which];
        if (cn->pending)
            cn->pending--;
        cn->progress_us = units_now_us();
        if (!reply)
            schedule_reset(rc, ac && ac->errstr[0] ? ac->errstr : "connection lost");
    }
    call->fn(call->generation == rc->generation ? reply : NULL, call->priv);
    free(call);
}

static void check_ready(struct rconn *rc)
{
    if (rc->state != ST_CONNECTING)
        return;
    for (int i = 0; i < 2; i++)
        if (!rc->conn[i].connected || !rc->conn[i].authed)
            return;
    rc->state = ST_UP;
    rc->backoff_us = 0;
    if (rc->target.unix_socket)
        log_info("connected to Redis at %s", rc->target.path);
    else
        log_info("connected to Redis at %s:%d", rc->target.host, rc->target.port);
    rc->ready(rc->owner);
}

static void on_auth(redisReply *reply, void *priv)
{
    struct conn *cn = priv;
    if (!reply)
        return;
    if (reply->type == REDIS_REPLY_ERROR) {
        log_err("Redis AUTH failed: %s (check user and password_file)", reply->str);
        schedule_reset(cn->rc, "AUTH refused");
        return;
    }
    cn->authed = true;
    check_ready(cn->rc);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct rconn *rc = ac->data;
    int i = which_of(rc, ac);
    if (i < 0)
        return;
    if (status != REDIS_OK) {
        /* hiredis frees the context after this callback. */
        rc->conn[i].ac = NULL;
        schedule_reset(rc, ac->errstr[0] ? ac->errstr : "connect failed");
        return;
    }
    rc->conn[i].connected = true;
    check_ready(rc);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct rconn *rc = ac->data;
    int i = which_of(rc, ac);
    if (i < 0)
        return; /* we freed it ourselves */
    rc->conn[i].ac = NULL;
    rc->conn[i].connected = false;
    schedule_reset(rc, status == REDIS_OK ? "server closed the connection" : ac->errstr);
}

/* Runs from a timer, outside hiredis callbacks, so freeing is allowed. */
static void do_reset(evutil_socket_t fd, short what, void *arg)
{
    struct rconn *rc = arg;
    if (rc->state == ST_DOWN)
        return;
    bool was_up = rc->state == ST_UP;
    log_warn("Redis session lost: %s; reconnecting", rc->reset_why[0] ? rc->reset_why : "error");
    rc->reset_why[0] = '\0';
    rc->state = ST_DOWN;
    for (int i = 0; i < 2; i++) {
        redisAsyncContext *ac = rc->conn[i].ac;
        memset(&rc->conn[i], 0, sizeof(rc->conn[i]));
        if (ac)
            redisAsyncFree(ac);
    }
    rc->generation++;
    if (was_up && rc->lost)
        rc->lost(rc->owner);
    rc->backoff_us = rc->backoff_us ? rc->backoff_us * 2 : 200000;
    if (rc->backoff_us > 10000000)
        rc->backoff_us = 10000000;
    uint64_t delay = rc->backoff_us / 2 + (uint64_t)random() % (rc->backoff_us / 2 + 1);
    struct timeval tv = {(time_t)(delay / 1000000), (suseconds_t)(delay % 1000000)};
    event_add(rc->retry, &tv);
}

static void send_auth(struct rconn *rc, int i)
{
    struct conn *cn = &rc->conn[i];
    if (!rc->password[0]) {
        cn->authed = true;
        return;
    }
    const char *argv[3] = {"AUTH", rc->user, rc->password};
    size_t lens[3] = {4, strlen(rc->user), strlen(rc->password)};
    int argc = 3;
    if (!rc->user[0]) {
        argv[1] = rc->password;
        lens[1] = lens[2];
        argc = 2;
    }
    struct call *call = calloc(1, sizeof(*call));
    if (!call)
        return;
    *call = (struct call){rc, (enum rconn_which)i, rc->generation, on_auth, cn};
    cn->pending++;
    cn->progress_us = units_now_us();
    redisAsyncCommandArgv(cn->ac, on_reply, call, argc, argv, lens);
}

static void connect_now(evutil_socket_t fd, short what, void *arg)
{
    struct rconn *rc = arg;
    rc->state = ST_CONNECTING;
    rc->state_since_us = units_now_us();
    for (int i = 0; i < 2; i++) {
        redisAsyncContext *ac = rc->target.unix_socket
                                    ? redisAsyncConnectUnix(rc->target.path)
                                    : redisAsyncConnect(rc->target.host, rc->target.port);
        if (!ac || ac->err) {
            schedule_reset(rc, ac ? ac->errstr : "out of memory");
            if (ac)
                redisAsyncFree(ac);
            return;
        }
        ac->data = rc;
        rc->conn[i].rc = rc;
        rc->conn[i].ac = ac;
        redisLibeventAttach(ac, rc->base);
        redisAsyncSetConnectCallback(ac, on_connect);
        redisAsyncSetDisconnectCallback(ac, on_disconnect);
        send_auth(rc, i);
    }
}

static void watchdog(evutil_socket_t fd, short what, void *arg)
{
    struct rconn *rc = arg;
    uint64_t now = units_now_us();
    if (rc->state == ST_CONNECTING) {
        check_ready(rc);
        if (rc->state == ST_CONNECTING && now - rc->state_since_us > rc->timeout_us)
            schedule_reset(rc, "connect or AUTH timed out");
        return;
    }
    if (rc->state != ST_UP)
        return;
    for (int i = 0; i < 2; i++) {
        struct conn *cn = &rc->conn[i];
        uint64_t limit = rc->timeout_us + (i == RCONN_RD ? rc->block_us : 0);
        if (cn->pending && now - cn->progress_us > limit) {
            schedule_reset(rc, i == RCONN_RD ? "read timed out" : "command timed out");
            return;
        }
    }
}

struct rconn *rconn_new(struct event_base *base, const struct redis_target *target,
                        const char *user, const char *password, uint64_t timeout_us,
                        uint64_t block_us, rconn_event_fn ready, rconn_event_fn lost, void *owner)
{
    struct rconn *rc = calloc(1, sizeof(*rc));
    if (!rc)
        return NULL;
    rc->base = base;
    rc->target = *target;
    snprintf(rc->user, sizeof(rc->user), "%s", user ? user : "");
    snprintf(rc->password, sizeof(rc->password), "%s", password ? password : "");
    rc->timeout_us = timeout_us;
    rc->block_us = block_us;
    rc->ready = ready;
    rc->lost = lost;
    rc->owner = owner;
    rc->generation = 1;
    rc->watchdog = event_new(base, -1, EV_PERSIST, watchdog, rc);
    rc->retry = evtimer_new(base, connect_now, rc);
    rc->reset = evtimer_new(base, do_reset, rc);
    if (!rc->watchdog || !rc->retry || !rc->reset) {
        rconn_free(rc);
        return NULL;
    }
    struct timeval tick = {0, 100000};
    event_add(rc->watchdog, &tick);
    return rc;
}

void rconn_start(struct rconn *rc) { connect_now(-1, 0, rc); }

void rconn_free(struct rconn *rc)
{
    if (!rc)
        return;
    rc->state = ST_DOWN;
    rc->generation++;
    for (int i = 0; i < 2; i++) {
        redisAsyncContext *ac = rc->conn[i].ac;
        rc->conn[i].ac = NULL;
        if (ac)
            redisAsyncFree(ac);
    }
    if (rc->watchdog)
        event_free(rc->watchdog);
    if (rc->retry)
        event_free(rc->retry);
    if (rc->reset)
        event_free(rc->reset);
    free(rc);
}

bool rconn_up(const struct rconn *rc) { return rc->state == ST_UP; }

uint64_t rconn_generation(const struct rconn *rc) { return rc->generation; }

int rconn_command(struct rconn *rc, enum rconn_which which, rconn_reply_fn fn, void *priv, int argc,
                  const char **argv, const size_t *lens)
{
    struct conn *cn = &rc->conn[which];
    if (rc->state != ST_UP || !cn->ac)
        return -1;
    struct call *call = malloc(sizeof(*call));
    if (!call)
        return -1;
    *call = (struct call){rc, which, rc->generation, fn, priv};
    if (redisAsyncCommandArgv(cn->ac, on_reply, call, argc, argv, lens) != REDIS_OK) {
        free(call);
        return -1;
    }
    if (cn->pending++ == 0)
        cn->progress_us = units_now_us();
    return 0;
}

void rconn_fail(struct rconn *rc, const char *why) { schedule_reset(rc, why); }
