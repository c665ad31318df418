/* link.c — see link.h.
 *
 * Freeing a hiredis context inside one of its own callbacks is not
 * allowed, so every failure only records why and arms a zero timer
 * (reset); the reset runs from the loop, frees the contexts and
 * schedules the retry.
 */
#include "common/redis/link.h"

#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/sds.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/hash.h"
#include "common/log.h"
#include "common/redis/sentinel.h"

#define WATCHDOG_PERIOD_US 100000
#define DEFAULT_TIMEOUT_US 5000000ull
#define DEFAULT_BACKOFF_MIN_US 100000ull
#define DEFAULT_BACKOFF_MAX_US 10000000ull

struct conn {
    struct redis_link *link;
    redisAsyncContext *ac;
    bool connected;
    bool authed;
    unsigned checks_left; /* AUTH, PING, ROLE still unanswered */
    size_t pending;
    uint64_t progress_us; /* last reply, or when pending became non-zero */
    struct event *drain;  /* EV_WRITE on the socket, armed by notify_drained */
};

struct redis_link {
    struct event_base *base;
    struct redis_url url;
    struct redis_link_options opt;
    enum redis_link_state state;
    uint64_t generation;
    uint64_t state_since_us;
    uint64_t rng;
    struct conn conn[REDIS_LINK_MAX_CONNECTIONS];
    struct event *watchdog, *retry, *reset;
    /* sentinel:// : the sentinel being asked, which one, how many tried */
    redisAsyncContext *sentinel_ac;
    struct event *sentinel_step;
    unsigned sentinel_next, sentinel_tried;
    bool master_found;
    char sentinel_why[256];
    char reset_why[200];
    char last_problem[256];
    struct redis_link_stats stats;
};

struct call {
    struct redis_link *link;
    unsigned which;
    uint64_t generation;
    redis_link_reply_fn fn;
    void *priv;
};

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static struct timeval tv_us(uint64_t us)
{
    struct timeval tv = {(time_t)(us / 1000000u), (suseconds_t)(us % 1000000u)};
    return tv;
}

/* Once per distinct message at error level, then at debug. */
static void problem(struct redis_link *l, const char *msg)
{
    if (strcmp(msg, l->last_problem) == 0) {
        log_debug("%s: %s (retrying)", l->url.where, msg);
        return;
    }
    snprintf(l->last_problem, sizeof(l->last_problem), "%s", msg);
    log_err("%s: %s; retrying with backoff", l->url.where, msg);
}

static void fail(struct redis_link *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct redis_link *l, const char *fmt, ...)
{
    if (l->state == REDIS_LINK_DOWN)
        return;
    if (!l->reset_why[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(l->reset_why, sizeof(l->reset_why), fmt, ap);
        va_end(ap);
    }
    struct timeval now = {0, 0};
    event_add(l->reset, &now);
}

static int which_of(const struct redis_link *l, const redisAsyncContext *ac)
{
    for (unsigned i = 0; i < l->opt.connections; i++)
        if (l->conn[i].ac == ac)
            return (int)i;
    return -1;
}

static void on_reply(redisAsyncContext *ac, void *reply_, void *privdata)
{
    struct call *call = privdata;
    struct redis_link *l = call->link;
    redisReply *reply = reply_;
    bool current = call->generation == l->generation && l->state != REDIS_LINK_DOWN;
    if (current) {
        struct conn *cn = &l->conn[call->which];
        if (cn->pending)
            cn->pending--;
        cn->progress_us = mono_us();
        if (!reply)
            fail(l, "connection lost: %s", ac && ac->errstr[0] ? ac->errstr : "no reply");
        else if (reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "READONLY", 8) == 0)
            fail(l, "the server became a replica (%s); %s", reply->str,
                 l->url.n_sentinels ? "asking the sentinels again"
                                    : "point redis_url at the master");
    }
    call->fn(current ? reply : NULL, call->priv);
    free(call);
}

/* One command on connection which: as argv, or already in RESP (cmd,
 * cmd_len; argv NULL). */
static int queue_call(struct redis_link *l, unsigned which, redis_link_reply_fn fn, void *priv,
                      int argc, const char **argv, const size_t *lens, const char *cmd,
                      size_t cmd_len)
{
    struct conn *cn = &l->conn[which];
    struct call *call = malloc(sizeof(*call));
    if (!call)
        return -1;
    *call = (struct call){l, which, l->generation, fn, priv};
    int rc = argv ? redisAsyncCommandArgv(cn->ac, on_reply, call, argc, argv, lens)
                  : redisAsyncFormattedCommand(cn->ac, on_reply, call, cmd, cmd_len);
    if (rc != REDIS_OK) {
        free(call);
        return -1;
    }
    if (cn->pending++ == 0)
        cn->progress_us = mono_us();
    return 0;
}

static int send_call(struct redis_link *l, unsigned which, redis_link_reply_fn fn, void *priv,
                     int argc, const char **argv, const size_t *lens)
{
    return queue_call(l, which, fn, priv, argc, argv, lens, NULL, 0);
}

static void check_ready(struct redis_link *l)
{
    if (l->state != REDIS_LINK_CONNECTING)
        return;
    for (unsigned i = 0; i < l->opt.connections; i++)
        if (!l->conn[i].connected || !l->conn[i].authed)
            return;
    l->state = REDIS_LINK_UP;
    l->state_since_us = mono_us();
    l->stats.connects++;
    if (l->last_problem[0])
        log_info("%s: connected again after %u attempts", l->url.where, l->stats.attempts);
    else
        log_info("%s: connected", l->url.where);
    l->last_problem[0] = '\0';
    l->stats.attempts = 0;
    if (l->opt.ready)
        l->opt.ready(l->opt.owner);
}

/* One of the checks before use (AUTH, PING, ROLE) passed. */
static void check_passed(struct conn *cn)
{
    if (cn->checks_left && --cn->checks_left == 0) {
        cn->authed = true;
        check_ready(cn->link);
    }
}

static void on_auth(redisReply *reply, void *priv)
{
    struct conn *cn = priv;
    struct redis_link *l = cn->link;
    if (!reply)
        return;
    if (reply->type == REDIS_REPLY_ERROR) {
        l->stats.auth_refused++;
        fail(l, "AUTH%s%s refused: %s; check the user and password_file against the ACL",
             l->url.user[0] ? " as " : "", l->url.user, reply->str);
        return;
    }
    check_passed(cn);
}

/* PING before use: a Redis loading its data answers LOADING here, not to
 * the owner's first (possibly pipelined) commands. */
static void on_ping(redisReply *reply, void *priv)
{
    struct conn *cn = priv;
    char why[256];
    if (!reply)
        return;
    if (redis_ping_reply(reply, why, sizeof(why)) < 0) {
        fail(cn->link, "%s", why);
        return;
    }
    check_passed(cn);
}

static void on_role(redisReply *reply, void *priv)
{
    struct conn *cn = priv;
    char why[256];
    if (!reply)
        return;
    if (redis_role_master_reply(reply, why, sizeof(why)) < 0) {
        fail(cn->link, "%s", why);
        return;
    }
    check_passed(cn);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct redis_link *l = ac->data;
    int i = which_of(l, ac);
    if (i < 0)
        return;
    if (status != REDIS_OK) {
        l->conn[i].ac = NULL; /* hiredis frees the context after this callback */
        if (l->conn[i].drain)
            event_del(l->conn[i].drain);
        fail(l, "cannot connect: %s", ac->errstr[0] ? ac->errstr : "error");
        return;
    }
    l->conn[i].connected = true;
    check_ready(l);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct redis_link *l = ac->data;
    int i = which_of(l, ac);
    if (i < 0)
        return;           /* freed by us */
    l->conn[i].ac = NULL; /* hiredis closes the socket: stop watching it */
    l->conn[i].connected = false;
    if (l->conn[i].drain)
        event_del(l->conn[i].drain);
    fail(l, "connection lost: %s", status == REDIS_OK ? "the server closed it" : ac->errstr);
}

static void free_sentinel(struct redis_link *l)
{
    redisAsyncContext *ac = l->sentinel_ac;
    l->sentinel_ac = NULL; /* its callbacks, run by the free, then ignore it */
    if (ac)
        redisAsyncFree(ac);
}

static void free_connections(struct redis_link *l)
{
    free_sentinel(l);
    for (unsigned i = 0; i < l->opt.connections; i++) {
        redisAsyncContext *ac = l->conn[i].ac;
        if (l->conn[i].drain)
            event_free(l->conn[i].drain);
        memset(&l->conn[i], 0, sizeof(l->conn[i]));
        if (ac)
            redisAsyncFree(ac);
    }
}

static void schedule_retry(struct redis_link *l)
{
    unsigned shift = l->stats.attempts < 20 ? l->stats.attempts : 20;
    l->stats.attempts++;
    uint64_t delay = l->opt.backoff_min_us << shift;
    if (delay > l->opt.backoff_max_us)
        delay = l->opt.backoff_max_us;
    /* Equal jitter: half fixed, half random (xorshift64). */
    l->rng ^= l->rng << 13;
    l->rng ^= l->rng >> 7;
    l->rng ^= l->rng << 17;
    struct timeval tv = tv_us(delay / 2 + l->rng % (delay / 2 + 1));
    evtimer_add(l->retry, &tv);
}

static void on_reset(evutil_socket_t fd, short what, void *arg)
{
    struct redis_link *l = arg;
    if (l->state == REDIS_LINK_DOWN)
        return;
    bool was_up = l->state == REDIS_LINK_UP;
    problem(l, l->reset_why[0] ? l->reset_why : "error");
    l->reset_why[0] = '\0';
    event_del(l->sentinel_step);
    if (l->url.n_sentinels && !l->master_found) /* that sentinel hung: start at the next */
        l->sentinel_next = (l->sentinel_next + 1) % l->url.n_sentinels;
    l->state = REDIS_LINK_DOWN;
    l->state_since_us = mono_us();
    free_connections(l);
    l->generation++;
    if (was_up) {
        l->stats.losses++;
        if (l->opt.lost)
            l->opt.lost(l->opt.owner);
    }
    schedule_retry(l);
}

/* The socket is writable: hiredis's own write event, on the same
 * socket, runs in this turn or ran before it. */
static void on_drain(evutil_socket_t fd, short what, void *arg)
{
    struct conn *cn = arg;
    struct redis_link *l = cn->link;
    event_del(cn->drain);
    if (l->state == REDIS_LINK_UP && l->opt.drained)
        l->opt.drained(l->opt.owner);
}

static void connect_servers(struct redis_link *l)
{
    static const char *ping_argv[] = {"PING"}, *role_argv[] = {"ROLE"};
    static const size_t ping_len[] = {4}, role_len[] = {4};
    for (unsigned i = 0; i < l->opt.connections; i++) {
        redisAsyncContext *ac = l->url.unix_socket ? redisAsyncConnectUnix(l->url.path)
                                                   : redisAsyncConnect(l->url.host, l->url.port);
        if (!ac || ac->err) {
            fail(l, "cannot connect: %s", ac ? ac->errstr : "out of memory");
            if (ac)
                redisAsyncFree(ac);
            return;
        }
        ac->data = l;
        if (redisLibeventAttach(ac, l->base) != REDIS_OK) {
            redisAsyncFree(ac);
            fail(l, "cannot connect: the event loop refused the socket");
            return;
        }
        redisAsyncSetConnectCallback(ac, on_connect);
        redisAsyncSetDisconnectCallback(ac, on_disconnect);
        struct conn *cn = &l->conn[i];
        cn->link = l;
        cn->ac = ac;
        cn->drain = event_new(l->base, ac->c.fd, EV_WRITE, on_drain, cn);
        if (!cn->drain) {
            fail(l, "cannot connect: out of memory");
            return;
        }
        const char *argv[3];
        size_t lens[3];
        int argc = redis_url_auth_argv(&l->url, argv, lens);
        cn->checks_left = (argc > 0) + 1 + (l->url.n_sentinels > 0);
        if ((argc > 0 && send_call(l, i, on_auth, cn, argc, argv, lens) < 0) ||
            send_call(l, i, on_ping, cn, 1, ping_argv, ping_len) < 0 ||
            (l->url.n_sentinels && send_call(l, i, on_role, cn, 1, role_argv, role_len) < 0)) {
            fail(l, "cannot queue the connection checks: out of memory");
            return;
        }
    }
}

/* ---- sentinel:// : ask the sentinels in turn where the master is -------- */

static void ask_sentinel(struct redis_link *l);

static void sentinel_done(struct redis_link *l)
{
    /* An error reply and the close that may follow report one failure. */
    if (evtimer_pending(l->sentinel_step, NULL))
        return;
    struct timeval now = {0, 0};
    event_add(l->sentinel_step, &now);
}

static void on_sentinel_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    struct redis_link *l = priv;
    if (ac != l->sentinel_ac || l->state != REDIS_LINK_CONNECTING)
        return;
    const struct redis_url_sentinel *s = &l->url.sentinels[l->sentinel_next];
    char host[256], why[200];
    int port;
    if (redis_sentinel_master_reply(reply, host, sizeof(host), &port, why, sizeof(why)) == 0) {
        redis_url_set_master(&l->url, host, port);
        l->master_found = true;
    } else {
        snprintf(l->sentinel_why, sizeof(l->sentinel_why), "sentinel %s:%d: %s", s->host, s->port,
                 reply ? why : (ac->errstr[0] ? ac->errstr : "no answer"));
    }
    sentinel_done(l);
}

static void on_sentinel_connect(const redisAsyncContext *ac, int status)
{
    struct redis_link *l = ac->data;
    if (ac != l->sentinel_ac || status == REDIS_OK)
        return;
    const struct redis_url_sentinel *s = &l->url.sentinels[l->sentinel_next];
    snprintf(l->sentinel_why, sizeof(l->sentinel_why), "sentinel %s:%d: %s", s->host, s->port,
             ac->errstr[0] ? ac->errstr : "cannot connect");
    l->sentinel_ac = NULL; /* hiredis frees it after this callback */
    sentinel_done(l);
}

static void on_sentinel_disconnect(const redisAsyncContext *ac, int status)
{
    struct redis_link *l = ac->data;
    if (ac != l->sentinel_ac)
        return;
    l->sentinel_ac = NULL;
    if (!l->master_found) {
        const struct redis_url_sentinel *s = &l->url.sentinels[l->sentinel_next];
        snprintf(l->sentinel_why, sizeof(l->sentinel_why), "sentinel %s:%d: connection lost",
                 s->host, s->port);
        sentinel_done(l);
    }
}

/* From the loop (never inside a hiredis callback): the previous sentinel
 * is freed, then the master is connected or the next sentinel asked. */
static void on_sentinel_step(evutil_socket_t fd, short what, void *arg)
{
    struct redis_link *l = arg;
    free_sentinel(l);
    if (l->state != REDIS_LINK_CONNECTING)
        return;
    if (l->master_found) {
        connect_servers(l);
        return;
    }
    l->sentinel_next = (l->sentinel_next + 1) % l->url.n_sentinels;
    ask_sentinel(l);
}

static void ask_sentinel(struct redis_link *l)
{
    if (l->sentinel_tried++ == l->url.n_sentinels) {
        fail(l, "no sentinel named the master %s (last: %s)", l->url.master_name, l->sentinel_why);
        return;
    }
    const struct redis_url_sentinel *s = &l->url.sentinels[l->sentinel_next];
    redisAsyncContext *ac = redisAsyncConnect(s->host, s->port);
    if (!ac || ac->err) {
        snprintf(l->sentinel_why, sizeof(l->sentinel_why), "sentinel %s:%d: %s", s->host, s->port,
                 ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        sentinel_done(l);
        return;
    }
    ac->data = l;
    if (redisLibeventAttach(ac, l->base) != REDIS_OK) {
        redisAsyncFree(ac);
        fail(l, "cannot connect: the event loop refused the socket");
        return;
    }
    redisAsyncSetConnectCallback(ac, on_sentinel_connect);
    redisAsyncSetDisconnectCallback(ac, on_sentinel_disconnect);
    l->sentinel_ac = ac;
    const char *argv[] = {"SENTINEL", "GET-MASTER-ADDR-BY-NAME", l->url.master_name};
    size_t lens[] = {8, 23, strlen(l->url.master_name)};
    if (redisAsyncCommandArgv(ac, on_sentinel_reply, l, 3, argv, lens) != REDIS_OK)
        fail(l, "cannot queue SENTINEL GET-MASTER-ADDR-BY-NAME: out of memory");
}

static void connect_all(evutil_socket_t fd, short what, void *arg)
{
    struct redis_link *l = arg;
    l->state = REDIS_LINK_CONNECTING;
    l->state_since_us = mono_us();
    if (!l->url.n_sentinels) {
        connect_servers(l);
        return;
    }
    /* Every attempt asks again: after a failover the master moved.  Start
     * at the sentinel after the one that answered last, so a hung one does
     * not hold every attempt. */
    l->master_found = false;
    l->sentinel_tried = 0;
    l->sentinel_why[0] = '\0';
    ask_sentinel(l);
}

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
    struct redis_link *l = arg;
    uint64_t now = mono_us();
    if (l->state == REDIS_LINK_CONNECTING) {
        if (now - l->state_since_us > l->opt.timeout_us) {
            l->stats.timeouts++;
            fail(l, "no answer within %llu ms while connecting or authenticating",
                 (unsigned long long)(l->opt.timeout_us / 1000));
        }
        return;
    }
    if (l->state != REDIS_LINK_UP)
        return;
    for (unsigned i = 0; i < l->opt.connections; i++) {
        struct conn *cn = &l->conn[i];
        if (cn->pending && now - cn->progress_us > l->opt.timeout_us + l->opt.slack_us[i]) {
            l->stats.timeouts++;
            fail(l, "no reply within %llu ms",
                 (unsigned long long)((l->opt.timeout_us + l->opt.slack_us[i]) / 1000));
            return;
        }
    }
}

struct redis_link *redis_link_new(struct event_base *base, const struct redis_url *url,
                                  const struct redis_link_options *opt)
{
    struct redis_link *l = calloc(1, sizeof(*l));
    if (!l)
        return NULL;
    l->base = base;
    l->url = *url;
    l->opt = *opt;
    if (l->opt.connections < 1 || l->opt.connections > REDIS_LINK_MAX_CONNECTIONS)
        l->opt.connections = 1;
    if (!l->opt.timeout_us)
        l->opt.timeout_us = DEFAULT_TIMEOUT_US;
    if (!l->opt.backoff_min_us)
        l->opt.backoff_min_us = DEFAULT_BACKOFF_MIN_US;
    if (!l->opt.backoff_max_us)
        l->opt.backoff_max_us = DEFAULT_BACKOFF_MAX_US;
    l->generation = 1;
    l->rng = hash_random_seed() | 1;
    l->watchdog = event_new(base, -1, EV_PERSIST, on_watchdog, l);
    l->retry = evtimer_new(base, connect_all, l);
    l->reset = evtimer_new(base, on_reset, l);
    l->sentinel_step = evtimer_new(base, on_sentinel_step, l);
    if (!l->watchdog || !l->retry || !l->reset || !l->sentinel_step) {
        redis_link_free(l);
        return NULL;
    }
    struct timeval tick = tv_us(WATCHDOG_PERIOD_US);
    event_add(l->watchdog, &tick);
    return l;
}

void redis_link_start(struct redis_link *l)
{
    connect_all(-1, 0, l);
}

void redis_link_free(struct redis_link *l)
{
    if (!l)
        return;
    l->state = REDIS_LINK_DOWN;
    l->generation++;
    free_connections(l);
    struct event *evs[] = {l->watchdog, l->retry, l->reset, l->sentinel_step};
    for (size_t i = 0; i < 4; i++)
        if (evs[i])
            event_free(evs[i]);
    redis_url_wipe(&l->url);
    free(l);
}

enum redis_link_state redis_link_state(const struct redis_link *l)
{
    return l->state;
}

bool redis_link_up(const struct redis_link *l)
{
    return l->state == REDIS_LINK_UP;
}

uint64_t redis_link_generation(const struct redis_link *l)
{
    return l->generation;
}

const char *redis_link_where(const struct redis_link *l)
{
    return l->url.where;
}

void redis_link_get_stats(const struct redis_link *l, struct redis_link_stats *out)
{
    *out = l->stats;
}

int redis_link_command(struct redis_link *l, unsigned conn, redis_link_reply_fn fn, void *priv,
                       int argc, const char **argv, const size_t *lens)
{
    if (l->state != REDIS_LINK_UP || conn >= l->opt.connections || !l->conn[conn].ac)
        return -1;
    return send_call(l, conn, fn, priv, argc, argv, lens);
}

int redis_link_formatted(struct redis_link *l, unsigned conn, redis_link_reply_fn fn, void *priv,
                         const char *cmd, size_t len)
{
    if (l->state != REDIS_LINK_UP || conn >= l->opt.connections || !l->conn[conn].ac)
        return -1;
    return queue_call(l, conn, fn, priv, 0, NULL, NULL, cmd, len);
}

size_t redis_link_unsent(const struct redis_link *l, unsigned conn)
{
    if (conn >= l->opt.connections || !l->conn[conn].ac)
        return 0;
    return sdslen(l->conn[conn].ac->c.obuf);
}

void redis_link_notify_drained(struct redis_link *l, unsigned conn)
{
    if (l->state == REDIS_LINK_UP && conn < l->opt.connections && l->conn[conn].drain &&
        !event_pending(l->conn[conn].drain, EV_WRITE, NULL))
        event_add(l->conn[conn].drain, NULL);
}

void redis_link_fail(struct redis_link *l, const char *why)
{
    fail(l, "%s", why);
}
