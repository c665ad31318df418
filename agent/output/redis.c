/* output_redis.c — see output_redis.h.
 *
 * The link moves DOWN → CONNECTING → AUTH → SYNC → READY and back to DOWN
 * on any failure, with a retry after an exponential, jittered backoff.
 * hiredis 0.14 has no async timeouts, so one watch timer aborts a connect
 * or a command that outlives [output] timeout.
 *
 * Every XADD sent is remembered in a ring in send order (Redis answers in
 * that order).  An event sent straight from memory keeps its JSON there
 * until acknowledged; one replayed from the spool keeps only its offset.
 * The invariant that keeps events in order: an event is sent from memory
 * only when every spooled record is already on the wire, so events in
 * flight from memory are newer than anything in the spool; the moment
 * anything must be spooled, those in-flight events are appended first
 * (they are older than it), so the spool followed by the memory flights
 * is always the ordered list of everything not yet acknowledged.
 *
 * When a connection drops with XADDs unanswered, Redis may have executed
 * some of them.  Before resending, SYNC reads the stream's last entry
 * (XREVRANGE + - COUNT 1): if it is one of the records about to be resent,
 * that record and those before it are dropped from the spool.  An ACL
 * that forbids the read (DESIGN §8's minimal one) makes this a resend,
 * and consumers drop the duplicate by canh.id.
 */
#include "agent/output/redis.h"

#include <errno.h>
#include <stdarg.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "agent/output/spool.h"
#include "common/hash.h"
#include "common/log.h"

#define BACKOFF_MIN_US 100000ull
#define BACKOFF_MAX_US 30000000ull
#define WATCH_PERIOD_US 100000
#define SYNC_PERIOD_US 500000
#define SPOOL_SYNC_EVERY 256
/* Records at the spool head checked against the stream after a drop or
 * a restart (bounds the one-time scan). */
#define DEDUP_SCAN_MAX 65536

enum link_state { LINK_DOWN, LINK_CONNECTING, LINK_AUTH, LINK_SYNC, LINK_READY };

struct flight {
    char *payload;      /* event sent from memory: our copy until acknowledged */
    size_t len;
    uint64_t spool_end; /* event from the spool: offset past its record */
    bool heartbeat;
    uint64_t sent_us;
};

struct redis_output {
    struct output base;
    struct event_base *evb;
    redisAsyncContext *ctx;
    enum link_state state;
    uint64_t state_since_us;

    char where[300]; /* for messages: "redis://host:port" or "unix:/path" */
    char host[256];
    int port;
    char unix_path[256];
    char user[64];
    char password[256];
    bool has_password;
    char stream[128];
    char hb_stream[128];
    char maxlen[24];
    char hb_maxlen[24];
    uint64_t timeout_us;

    struct spool *spool;
    uint64_t read_off; /* next spool record to send */
    struct flight *ring;
    size_t ring_head, ring_count;
    size_t events_in_flight; /* ring entries that are events, not heartbeats */
    size_t memory_in_flight; /* of which sent from memory (payload held) */
    size_t uncertain;        /* spool-head records whose delivery is unknown */
    bool failed;             /* an XADD was refused on this connection */
    bool closing;
    bool read_error_logged;
    bool was_ready;  /* the link has been READY since the last loss */
    unsigned attempt;
    uint64_t rng;
    char last_error[256];

    struct event *ev_retry, *ev_watch, *ev_sync;

    uint64_t events, sent, delivered, refused, connects, losses, timeouts, deduped;
    uint64_t hb_sent, hb_dropped, spool_errors;
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

static void set_state(struct redis_output *r, enum link_state s)
{
    r->state = s;
    r->state_since_us = mono_us();
}

/* Log a link problem once per distinct message, so a Redis that stays
 * down or keeps refusing does not flood the journal. */
static void link_problem(struct redis_output *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void link_problem(struct redis_output *r, const char *fmt, ...)
{
    char msg[sizeof(r->last_error)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (strcmp(msg, r->last_error) == 0) {
        log_debug("%s: %s (retrying)", r->where, msg);
        return;
    }
    snprintf(r->last_error, sizeof(r->last_error), "%s", msg);
    struct spool_stats st;
    spool_get_stats(r->spool, &st);
    log_err("%s: %s; events go to the spool %s (%llu waiting) and are sent when Redis takes "
            "them again",
            r->where, msg, spool_path(r->spool), (unsigned long long)st.records);
}

/* ---- the ring of XADDs awaiting replies --------------------------------- */

static struct flight *ring_at(struct redis_output *r, size_t i)
{
    return &r->ring[(r->ring_head + i) % REDIS_MAX_OUTSTANDING];
}

static struct flight *ring_push(struct redis_output *r)
{
    struct flight *f = ring_at(r, r->ring_count++);
    memset(f, 0, sizeof(*f));
    f->sent_us = mono_us();
    return f;
}

static void ring_pop(struct redis_output *r)
{
    struct flight *f = ring_at(r, 0);
    if (!f->heartbeat)
        r->events_in_flight--;
    if (f->payload)
        r->memory_in_flight--;
    free(f->payload);
    f->payload = NULL;
    r->ring_head = (r->ring_head + 1) % REDIS_MAX_OUTSTANDING;
    r->ring_count--;
}

static int spool_event(struct redis_output *r, const char *json, size_t len, uint64_t *end)
{
    int rc = spool_append(r->spool, json, len, end);
    if (rc < 0) {
        struct spool_stats st;
        spool_get_stats(r->spool, &st);
        /* First loss, then every power of two: visible, never a storm. */
        if ((st.lost_records & (st.lost_records - 1)) == 0)
            log_err("%s: event lost (%s; policy: refuse the newest): %llu events, %llu bytes "
                    "lost so far",
                    spool_path(r->spool),
                    rc == -ENOSPC ? "spool full, raise [output] spool_max_mb" : strerror(-rc),
                    (unsigned long long)st.lost_records, (unsigned long long)st.lost_bytes);
    }
    return rc;
}

/* Keep the invariant: before anything else is spooled, the events in
 * flight from memory (older than it) go to the spool, in order. */
static void spool_in_flight(struct redis_output *r)
{
    for (size_t i = 0; i < r->ring_count && r->memory_in_flight; i++) {
        struct flight *f = ring_at(r, i);
        if (!f->payload)
            continue;
        uint64_t end = 0;
        spool_event(r, f->payload, f->len, &end);
        free(f->payload);
        f->payload = NULL;
        r->memory_in_flight--;
        f->spool_end = end; /* 0 when lost: the reply then acknowledges nothing */
        if (end)
            r->read_off = end;
    }
}

/* ---- commands ------------------------------------------------------------ */

static void on_xadd(redisAsyncContext *ac, void *reply, void *priv);

static int send_xadd(struct redis_output *r, const char *stream, const char *maxlen,
                     const char *json, size_t len)
{
    const char *argv[] = {"XADD", stream, "MAXLEN", "~", maxlen, "*", "event", json};
    size_t argvlen[] = {4, strlen(stream), 6, 1, strlen(maxlen), 1, 5, len};
    return redisAsyncCommandArgv(r->ctx, on_xadd, r, 8, argv, argvlen) == REDIS_OK ? 0 : -1;
}

/* Send spooled records while there is room in the ring. */
static void pump(struct redis_output *r)
{
    while (r->state == LINK_READY && !r->failed && r->ring_count < REDIS_MAX_OUTSTANDING &&
           r->read_off < spool_tail(r->spool)) {
        uint64_t off = r->read_off;
        const char *json;
        size_t len;
        int rc = spool_read(r->spool, &off, &json, &len);
        if (rc <= 0) {
            if (rc < 0 && !r->read_error_logged) {
                log_err("%s: cannot read the record at offset %llu back (disk damage?); "
                        "replay stops here until the agent restarts",
                        spool_path(r->spool), (unsigned long long)r->read_off);
                r->read_error_logged = true;
            }
            return;
        }
        if (send_xadd(r, r->stream, r->maxlen, json, len) < 0)
            return;
        struct flight *f = ring_push(r);
        f->spool_end = off;
        r->events_in_flight++;
        r->read_off = off;
        r->sent++;
    }
}

static void schedule_retry(struct redis_output *r)
{
    if (r->closing)
        return;
    r->attempt++;
    unsigned shift = r->attempt - 1 < 20 ? r->attempt - 1 : 20;
    uint64_t delay = BACKOFF_MIN_US << shift;
    if (delay > BACKOFF_MAX_US)
        delay = BACKOFF_MAX_US;
    /* Equal jitter: half fixed, half random, so agents that lost the same
     * Redis do not all come back in the same millisecond. */
    r->rng ^= r->rng << 13;
    r->rng ^= r->rng >> 7;
    r->rng ^= r->rng << 17;
    uint64_t wait = delay / 2 + r->rng % (delay / 2 + 1);
    struct timeval tv = tv_us(wait);
    evtimer_add(r->ev_retry, &tv);
}

/* The connection is gone (or never came): everything unacknowledged is
 * in the spool afterwards, and the replay restarts at its head. */
static void conn_lost(struct redis_output *r)
{
    if (r->state == LINK_DOWN)
        return;
    r->ctx = NULL;
    if (r->state == LINK_READY || r->state == LINK_SYNC || r->was_ready)
        r->losses++;
    set_state(r, LINK_DOWN);
    spool_in_flight(r);
    /* After a refusal the first unanswered record is known to have failed;
     * otherwise Redis may have executed a prefix of what was in flight. */
    size_t unknown = r->failed ? 0 : r->events_in_flight;
    if (unknown > r->uncertain)
        r->uncertain = unknown;
    while (r->ring_count) {
        if (ring_at(r, 0)->heartbeat)
            r->hb_dropped++;
        ring_pop(r);
    }
    r->read_off = spool_head(r->spool);
    r->failed = false;
    r->was_ready = false;
    schedule_retry(r);
}

/* Drop the connection now, whatever it is doing (timeouts, close). */
static void abort_link(struct redis_output *r)
{
    redisAsyncContext *ac = r->ctx;
    if (ac) {
        r->ctx = NULL;
        /* Runs the pending callbacks with no reply and, for a connected
         * context, onDisconnect, which calls conn_lost. */
        redisAsyncFree(ac);
    }
    conn_lost(r);
}

static void go_ready(struct redis_output *r)
{
    struct spool_stats st;
    spool_get_stats(r->spool, &st);
    if (r->last_error[0])
        log_info("%s: connected again after %u attempts; replaying %llu spooled events", r->where,
                 r->attempt, (unsigned long long)st.records);
    else
        log_debug("%s: connected; %llu spooled events to replay", r->where,
                  (unsigned long long)st.records);
    r->last_error[0] = '\0';
    r->attempt = 0;
    r->was_ready = true;
    set_state(r, LINK_READY);
    r->read_off = spool_head(r->spool);
    pump(r);
}

/* Drop from the spool the records at its head that the stream already
 * holds (see the top of the file). */
static void drop_delivered(struct redis_output *r, const char *last, size_t last_len)
{
    uint64_t off = spool_head(r->spool);
    size_t match = 0;
    for (size_t i = 0; i < r->uncertain; i++) {
        const char *json;
        size_t len;
        if (spool_read(r->spool, &off, &json, &len) != 1)
            break;
        if (len == last_len && memcmp(json, last, len) == 0) {
            match = i + 1;
            break;
        }
    }
    if (!match)
        return;
    off = spool_head(r->spool);
    for (size_t i = 0; i < match; i++) {
        const char *json;
        size_t len;
        if (spool_read(r->spool, &off, &json, &len) != 1)
            break;
        spool_ack(r->spool, off);
    }
    r->deduped += match;
    log_info("%s: %zu events were already in %s before the connection dropped; not sending "
             "them again",
             r->where, match, r->stream);
}

static void on_sync(redisAsyncContext *ac, void *reply_, void *priv)
{
    struct redis_output *r = priv;
    redisReply *reply = reply_;
    if (!reply || r->ctx != ac)
        return;
    if (reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOPERM", 6) != 0) {
        /* LOADING after a restart, and the like: try again later. */
        link_problem(r, "XREVRANGE %s: %s", r->stream, reply->str);
        redisAsyncDisconnect(ac);
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        log_info("%s: the ACL does not let the agent read the last entry of %s; events that "
                 "were in flight are sent again and consumers drop duplicates by canh.id",
                 r->where, r->stream);
    } else if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 1) {
        redisReply *entry = reply->element[0];
        if (entry->type == REDIS_REPLY_ARRAY && entry->elements == 2 &&
            entry->element[1]->type == REDIS_REPLY_ARRAY) {
            redisReply *fields = entry->element[1];
            for (size_t i = 0; i + 1 < fields->elements; i += 2)
                if (fields->element[i]->type == REDIS_REPLY_STRING &&
                    strcmp(fields->element[i]->str, "event") == 0 &&
                    fields->element[i + 1]->type == REDIS_REPLY_STRING)
                    drop_delivered(r, fields->element[i + 1]->str, fields->element[i + 1]->len);
        }
    }
    r->uncertain = 0;
    go_ready(r);
}

static void after_auth(struct redis_output *r)
{
    struct spool_stats st;
    spool_get_stats(r->spool, &st);
    if (r->uncertain > st.records)
        r->uncertain = (size_t)st.records;
    if (!r->uncertain) {
        go_ready(r);
        return;
    }
    set_state(r, LINK_SYNC);
    const char *argv[] = {"XREVRANGE", r->stream, "+", "-", "COUNT", "1"};
    size_t argvlen[] = {9, strlen(r->stream), 1, 1, 5, 1};
    if (redisAsyncCommandArgv(r->ctx, on_sync, r, 6, argv, argvlen) != REDIS_OK)
        abort_link(r);
}

static void on_auth(redisAsyncContext *ac, void *reply_, void *priv)
{
    struct redis_output *r = priv;
    redisReply *reply = reply_;
    if (!reply || r->ctx != ac)
        return;
    if (reply->type == REDIS_REPLY_ERROR) {
        r->refused++;
        link_problem(r, "AUTH%s%s refused: %s; check [output] user and password_file against the "
                        "ACL",
                     r->user[0] ? " as " : "", r->user, reply->str);
        redisAsyncDisconnect(ac);
        return;
    }
    after_auth(r);
}

static void on_xadd(redisAsyncContext *ac, void *reply_, void *priv)
{
    struct redis_output *r = priv;
    redisReply *reply = reply_;
    /* No reply: the context is being freed; conn_lost sorts the ring. */
    if (!reply || r->ctx != ac || r->failed || !r->ring_count)
        return;
    struct flight *f = ring_at(r, 0);
    if (reply->type == REDIS_REPLY_ERROR) {
        if (f->heartbeat) {
            r->hb_dropped++;
            ring_pop(r);
            return;
        }
        /* NOAUTH, NOPERM, READONLY, OOM, LOADING, MISCONF ...: not written.
         * Keep this record and everything after it, stop, retry later. */
        r->failed = true;
        r->refused++;
        link_problem(r, "XADD %s refused: %s", r->stream, reply->str);
        redisAsyncDisconnect(ac);
        return;
    }
    if (f->heartbeat) {
        r->hb_sent++;
    } else {
        r->delivered++;
        if (f->spool_end)
            spool_ack(r->spool, f->spool_end);
    }
    ring_pop(r);
    pump(r);
}

/* ---- connection ---------------------------------------------------------- */

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct redis_output *r = ac->data;
    if (r->ctx != ac)
        return;
    if (status != REDIS_OK) {
        link_problem(r, "cannot connect: %s", ac->errstr);
        conn_lost(r); /* hiredis frees the context after this callback */
        return;
    }
    r->connects++;
    if (r->has_password) {
        set_state(r, LINK_AUTH);
        const char *argv[] = {"AUTH", r->user, r->password};
        size_t argvlen[] = {4, strlen(r->user), strlen(r->password)};
        int argc = r->user[0] ? 3 : 2;
        if (!r->user[0]) {
            argv[1] = r->password;
            argvlen[1] = argvlen[2];
        }
        if (redisAsyncCommandArgv(r->ctx, on_auth, r, argc, argv, argvlen) != REDIS_OK)
            abort_link(r);
        return;
    }
    after_auth(r);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct redis_output *r = ac->data;
    if (r->ctx != ac && r->ctx != NULL)
        return;
    if (status != REDIS_OK && r->state != LINK_DOWN)
        link_problem(r, "connection lost: %s", ac->errstr);
    r->ctx = (redisAsyncContext *)ac; /* let conn_lost see a live link */
    conn_lost(r);
}

static void connect_start(struct redis_output *r)
{
    redisAsyncContext *ac = r->unix_path[0] ? redisAsyncConnectUnix(r->unix_path)
                                            : redisAsyncConnect(r->host, r->port);
    if (!ac) {
        link_problem(r, "cannot connect: out of memory");
        schedule_retry(r);
        return;
    }
    if (ac->err) {
        link_problem(r, "cannot connect: %s", ac->errstr);
        redisAsyncFree(ac);
        schedule_retry(r);
        return;
    }
    ac->data = r;
    if (redisLibeventAttach(ac, r->evb) != REDIS_OK) {
        redisAsyncFree(ac);
        schedule_retry(r);
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    r->ctx = ac;
    set_state(r, LINK_CONNECTING);
}

static void on_retry(evutil_socket_t fd, short what, void *ctx)
{
    struct redis_output *r = ctx;
    if (r->state == LINK_DOWN && !r->closing)
        connect_start(r);
}

static void on_watch(evutil_socket_t fd, short what, void *ctx)
{
    struct redis_output *r = ctx;
    uint64_t now = mono_us();
    if ((r->state == LINK_CONNECTING || r->state == LINK_AUTH || r->state == LINK_SYNC) &&
        now - r->state_since_us > r->timeout_us) {
        r->timeouts++;
        link_problem(r, "no answer within %llu ms while %s",
                     (unsigned long long)(r->timeout_us / 1000),
                     r->state == LINK_CONNECTING ? "connecting"
                     : r->state == LINK_AUTH     ? "authenticating"
                                                 : "reading the stream");
        abort_link(r);
    } else if (r->state == LINK_READY && r->ring_count &&
               now - ring_at(r, 0)->sent_us > r->timeout_us) {
        r->timeouts++;
        link_problem(r, "no reply to XADD within %llu ms",
                     (unsigned long long)(r->timeout_us / 1000));
        abort_link(r);
    }
}

static void on_sync_timer(evutil_socket_t fd, short what, void *ctx)
{
    struct redis_output *r = ctx;
    if (spool_sync(r->spool) < 0 && (r->spool_errors++ & 1023) == 0)
        log_err("%s: fsync failed: %s", spool_path(r->spool), strerror(errno));
}

/* ---- the output interface ------------------------------------------------ */

static int redis_write(struct output *o, const struct evt *ev, const char *json, size_t len)
{
    struct redis_output *r = (struct redis_output *)o;
    r->events++;
    /* Straight from memory only when every spooled record is already on
     * the wire ahead of it, so it cannot overtake one. */
    if (r->state == LINK_READY && !r->failed && r->read_off == spool_tail(r->spool) &&
        r->ring_count < REDIS_MAX_OUTSTANDING) {
        char *copy = malloc(len);
        if (copy && send_xadd(r, r->stream, r->maxlen, json, len) == 0) {
            memcpy(copy, json, len);
            struct flight *f = ring_push(r);
            f->payload = copy;
            f->len = len;
            r->events_in_flight++;
            r->memory_in_flight++;
            r->sent++;
            return 0;
        }
        free(copy);
    }
    spool_in_flight(r);
    uint64_t end;
    if (spool_event(r, json, len, &end) < 0)
        return -1;
    pump(r);
    return 0;
}

static int redis_write_stats(struct output *o, const char *json, size_t len)
{
    struct redis_output *r = (struct redis_output *)o;
    /* A heartbeat is only worth its moment: never spooled. */
    if (r->state != LINK_READY || r->failed || r->ring_count >= REDIS_MAX_OUTSTANDING ||
        send_xadd(r, r->hb_stream, r->hb_maxlen, json, len) < 0) {
        r->hb_dropped++;
        return -1;
    }
    ring_push(r)->heartbeat = true;
    return 0;
}

static int redis_flush(struct output *o)
{
    /* hiredis writes as soon as the socket is writable; nothing is held
     * back here.  The spool is synced by its own timer. */
    return 0;
}

static size_t redis_pending(struct output *o)
{
    struct redis_output *r = (struct redis_output *)o;
    /* Down and waiting for a retry: the spool keeps the events; waiting
     * at shutdown would only delay the stop. */
    if (r->state == LINK_DOWN)
        return 0;
    struct spool_stats st;
    spool_get_stats(r->spool, &st);
    return r->events_in_flight + (size_t)st.records;
}

static void redis_stats(struct output *o, json_t *out)
{
    struct redis_output *r = (struct redis_output *)o;
    struct spool_stats st;
    spool_get_stats(r->spool, &st);
#define SET(key, v) json_object_set_new(out, key, json_integer((json_int_t)(v)))
    json_object_set_new(out, "redis_connected", json_boolean(r->state == LINK_READY));
    SET("redis_events", r->events);
    SET("redis_sent", r->sent);
    SET("redis_delivered", r->delivered);
    SET("redis_in_flight", r->events_in_flight);
    SET("redis_refused", r->refused);
    SET("redis_connects", r->connects);
    SET("redis_connection_losses", r->losses);
    SET("redis_timeouts", r->timeouts);
    SET("redis_duplicates_avoided", r->deduped);
    SET("heartbeats_sent", r->hb_sent);
    SET("heartbeats_dropped", r->hb_dropped);
    SET("spool_records", st.records);
    SET("spool_bytes", st.bytes);
    SET("spool_appended", st.appended);
    SET("spool_lost_records", st.lost_records);
    SET("spool_lost_bytes", st.lost_bytes);
    SET("spool_torn_bytes", st.torn_bytes);
#undef SET
}

static void redis_close(struct output *o)
{
    struct redis_output *r = (struct redis_output *)o;
    r->closing = true;
    if (r->ctx)
        abort_link(r);
    else if (r->state != LINK_DOWN)
        conn_lost(r);
    struct spool_stats st;
    spool_get_stats(r->spool, &st);
    if (st.records)
        log_info("%s: %llu events not yet in Redis stay in the spool for the next start",
                 spool_path(r->spool), (unsigned long long)st.records);
    spool_close(r->spool);
    struct event *evs[] = {r->ev_retry, r->ev_watch, r->ev_sync};
    for (size_t i = 0; i < 3; i++)
        if (evs[i])
            event_free(evs[i]);
    free(r->ring);
    explicit_bzero(r->password, sizeof(r->password));
    free(r);
}

/* ---- configuration ------------------------------------------------------- */

static int copy_part(char *dst, size_t size, const char *src, size_t len)
{
    if (len >= size)
        return -1;
    memcpy(dst, src, len);
    dst[len] = '\0';
    return 0;
}

static int parse_url(struct redis_output *r, const char *url, const char *file, struct cfg_err *err)
{
    if (strncmp(url, "unix:", 5) == 0) {
        const char *path = url + 5;
        if (strncmp(path, "//", 2) == 0)
            path += 2;
        if (path[0] != '/' || copy_part(r->unix_path, sizeof(r->unix_path), path, strlen(path)))
            return cfg_fail(err, file, 0, "redis_url %s: expected unix:/absolute/path", url);
        snprintf(r->where, sizeof(r->where), "redis unix:%s", r->unix_path);
        return 0;
    }
    if (strncmp(url, "redis://", 8) != 0)
        return cfg_fail(err, file, 0,
                        "redis_url %s: expected redis://[user[:password]@]host[:port] or "
                        "unix:/path (use stunnel for TLS, see docs/deployment.md)",
                        url);
    const char *p = url + 8, *at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *user_end = colon ? colon : at;
        if (copy_part(r->user, sizeof(r->user), p, (size_t)(user_end - p)) ||
            (colon && copy_part(r->password, sizeof(r->password), colon + 1,
                                (size_t)(at - colon - 1))))
            return cfg_fail(err, file, 0, "redis_url: user or password too long");
        r->has_password = colon != NULL;
        p = at + 1;
    }
    const char *host_end;
    if (*p == '[') {
        host_end = strchr(p, ']');
        if (!host_end)
            return cfg_fail(err, file, 0, "redis_url %s: unterminated [IPv6 address]", url);
        if (copy_part(r->host, sizeof(r->host), p + 1, (size_t)(host_end - p - 1)))
            return cfg_fail(err, file, 0, "redis_url: host too long");
        host_end++;
    } else {
        host_end = p + strcspn(p, ":/");
        if (copy_part(r->host, sizeof(r->host), p, (size_t)(host_end - p)))
            return cfg_fail(err, file, 0, "redis_url: host too long");
    }
    r->port = 6379;
    if (*host_end == ':') {
        char *end;
        long port = strtol(host_end + 1, &end, 10);
        if (end == host_end + 1 || port < 1 || port > 65535)
            return cfg_fail(err, file, 0, "redis_url %s: bad port", url);
        r->port = (int)port;
        host_end = end;
    }
    if (*host_end && strcmp(host_end, "/") != 0 && strcmp(host_end, "/0") != 0)
        return cfg_fail(err, file, 0,
                        "redis_url %s: only database 0 is supported (streams are per agent "
                        "already)",
                        url);
    if (!r->host[0])
        return cfg_fail(err, file, 0, "redis_url %s: no host", url);
    snprintf(r->where, sizeof(r->where), "redis %s:%d", r->host, r->port);
    return 0;
}

static int read_password(struct redis_output *r, const char *path, struct cfg_err *err)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return cfg_fail(err, path, 0,
                        "cannot read the Redis password: %s (it must be readable by the agent's "
                        "user after the privilege drop)",
                        strerror(errno));
    char line[sizeof(r->password) + 2];
    if (!fgets(line, sizeof(line), fp)) {
        fclose(fp);
        return cfg_fail(err, path, 0, "empty password file");
    }
    fclose(fp);
    line[strcspn(line, "\r\n")] = '\0';
    if (copy_part(r->password, sizeof(r->password), line, strlen(line)))
        return cfg_fail(err, path, 1, "password too long");
    explicit_bzero(line, sizeof(line));
    r->has_password = true;
    return 0;
}

struct output *output_redis_open(struct event_base *base, const struct agent_config *cfg,
                                 const char *url, struct cfg_err *err)
{
    const char *file = cfg->path ? cfg->path : "canh-agent";
    if (!url)
        url = cfg->redis_url;
    if (!url[0]) {
        cfg_fail(err, file, 0, "--output redis needs [output] redis_url (or --output redis:URL)");
        return NULL;
    }
    struct redis_output *r = calloc(1, sizeof(*r));
    if (!r) {
        cfg_fail(err, file, 0, "out of memory");
        return NULL;
    }
    r->evb = base;
    r->timeout_us = cfg->redis_timeout_us ? cfg->redis_timeout_us : 5000000;
    r->rng = hash_random_seed() | 1;
    if (parse_url(r, url, file, err) < 0)
        goto fail;
    if (cfg->redis_user[0] && !r->user[0])
        snprintf(r->user, sizeof(r->user), "%s", cfg->redis_user);
    if (cfg->password_file[0] && !r->has_password &&
        read_password(r, cfg->password_file, err) < 0)
        goto fail;
    if (r->user[0] && !r->has_password) {
        cfg_fail(err, file, 0, "[output] user %s needs a password_file", r->user);
        goto fail;
    }
    if (cfg->stream[0])
        snprintf(r->stream, sizeof(r->stream), "%s", cfg->stream);
    else
        snprintf(r->stream, sizeof(r->stream), "canh:events:%s", cfg->name);
    if (cfg->heartbeat_stream[0])
        snprintf(r->hb_stream, sizeof(r->hb_stream), "%s", cfg->heartbeat_stream);
    else
        snprintf(r->hb_stream, sizeof(r->hb_stream), "canh:heartbeats:%s", cfg->name);
    snprintf(r->maxlen, sizeof(r->maxlen), "%llu",
             (unsigned long long)(cfg->maxlen ? cfg->maxlen : 1000000));
    snprintf(r->hb_maxlen, sizeof(r->hb_maxlen), "%u", REDIS_HEARTBEAT_MAXLEN);

    char path[512], why[768];
    if (mkdir(cfg->state_dir, 0750) < 0 && errno != EEXIST) {
        cfg_fail(err, cfg->state_dir, 0,
                 "cannot create the state directory: %s; create it writable by the agent's "
                 "user or set [agent] state_dir",
                 strerror(errno));
        goto fail;
    }
    snprintf(path, sizeof(path), "%s/events.spool", cfg->state_dir);
    r->spool = spool_open(path, cfg->spool_max_bytes ? cfg->spool_max_bytes : 256ull << 20,
                          SPOOL_SYNC_EVERY, why, sizeof(why));
    if (!r->spool) {
        cfg_fail(err, path, 0, "%s", why);
        goto fail;
    }
    struct spool_stats st;
    spool_get_stats(r->spool, &st);
    if (st.records) {
        log_info("%s: %llu events from an earlier run wait to be sent", path,
                 (unsigned long long)st.records);
        /* The ack file may lag the stream by up to half a second. */
        r->uncertain = st.records < DEDUP_SCAN_MAX ? (size_t)st.records : DEDUP_SCAN_MAX;
    }
    r->ring = calloc(REDIS_MAX_OUTSTANDING, sizeof(*r->ring));
    r->ev_retry = evtimer_new(base, on_retry, r);
    r->ev_watch = event_new(base, -1, EV_PERSIST, on_watch, r);
    r->ev_sync = event_new(base, -1, EV_PERSIST, on_sync_timer, r);
    if (!r->ring || !r->ev_retry || !r->ev_watch || !r->ev_sync) {
        cfg_fail(err, file, 0, "out of memory");
        goto fail;
    }
    struct timeval watch = tv_us(WATCH_PERIOD_US), sync = tv_us(SYNC_PERIOD_US);
    event_add(r->ev_watch, &watch);
    event_add(r->ev_sync, &sync);

    r->base.name = "redis";
    r->base.write = redis_write;
    r->base.write_stats = redis_write_stats;
    r->base.flush = redis_flush;
    r->base.stats = redis_stats;
    r->base.close = redis_close;
    r->base.pending = redis_pending;
    set_state(r, LINK_DOWN);
    connect_start(r);
    return &r->base;
fail:
    if (r->spool)
        spool_close(r->spool);
    struct event *evs[] = {r->ev_retry, r->ev_watch, r->ev_sync};
    for (size_t i = 0; i < 3; i++)
        if (evs[i])
            event_free(evs[i]);
    free(r->ring);
    explicit_bzero(r->password, sizeof(r->password));
    free(r);
    return NULL;
}
