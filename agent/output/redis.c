/* output_redis.c — see output_redis.h.
 *
 * The connection is common/redis/link.h's: it connects, authenticates,
 * times out overdue replies and reconnects with backoff and jitter.  On
 * top of it the output moves DOWN → SYNC → READY: SYNC once the link is
 * up, READY once the stream was checked, DOWN whenever the link is lost.
 *
 * Every event the output holds in memory, and every XADD sent, is in one
 * ring in send order (Redis answers in that order).  Its front part was
 * sent and awaits replies; its back part (only while the link is being
 * made) waits to be sent.  An event from memory keeps its JSON there until
 * acknowledged; one replayed from the spool keeps only its offset.  The
 * window is REDIS_MAX_OUTSTANDING entries and REDIS_MAX_MEMORY_BYTES of
 * JSON: a pipeline deep enough that a busy Redis (or a busy machine) does
 * not push events to disk, bounded so a slow one does not grow the agent.
 *
 * The invariant that keeps events in order: an event is taken into memory
 * only when every spooled record is already on the wire, so events in
 * memory are newer than anything in the spool; the moment anything must
 * be spooled, the events in memory (older than it) are appended first, so
 * the spool followed by the memory ring is always the ordered list of
 * everything not yet acknowledged.  Events wait in memory while a
 * connection is being made for at most one sync period (500 ms, as long
 * as the spool's own fsync lag); a link that is down (waiting out its
 * backoff) sends them to the spool at once.
 *
 * When a connection drops with XADDs unanswered, Redis may have executed
 * some of them.  Before resending, SYNC reads the stream's last entry
 * (XREVRANGE + - COUNT 1): if it is one of the records about to be resent,
 * that record and those before it are dropped from the spool.  An ACL
 * that forbids the read (architecture §8's minimal one) makes this a resend,
 * and consumers drop the duplicate by canh.id.
 *
 * That check is sound only if Redis executed a prefix of what was sent on
 * the connection.  The link PINGs before use, so a Redis loading its AOF
 * answers LOADING there and never to one XADD of a pipeline while a later
 * one is executed.  Should another refusal (OOM freed in between) still
 * be followed by an executed XADD, the stream's last entry may be newer
 * than an undelivered record: it is counted (redis_out_of_order) and the
 * check is skipped until an XADD succeeds in order again (a resend, never
 * a skip).
 */
#include "agent/output/redis.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/output/spool.h"
#include "common/log.h"
#include "common/redis/link.h"
#include "common/redis/resp.h"
#include "common/units.h"

/* Agents reach the SOC over a WAN: wait longer between attempts than the
 * collector next to its Redis does. */
#define BACKOFF_MAX_US 30000000ull
#define SYNC_PERIOD_US 500000
/* fdatasync of the spool every this many appends (and every SYNC_PERIOD_US).
 * As many as the window holds in memory: a power loss can take no more
 * spooled events than it takes from the window anyway, and at 100,000
 * events/s a sync every 256 (390 a second, each one stalling the loop on
 * a busy disk) kept a spooling agent from ever catching up. */
#define SPOOL_SYNC_EVERY REDIS_MAX_OUTSTANDING
/* Records at the spool head checked against the stream after a drop or
 * a restart (bounds the one-time scan). */
#define DEDUP_SCAN_MAX 65536

enum out_state { OUT_DOWN, OUT_SYNC, OUT_READY };

struct flight {
    char *payload; /* event held in memory: our copy until acknowledged */
    size_t len;
    uint64_t spool_end; /* event from the spool: offset past its record */
    bool heartbeat;
};

struct redis_output {
    struct output base;
    struct redis_link *link;
    enum out_state state;

    char stream[128];
    char hb_stream[128];
    char maxlen[24];
    char hb_maxlen[24];
    size_t stream_len;
    /* "XADD <stream> MAXLEN ~ <n> * event" in RESP, without the JSON
     * argument: each XADD is this, the JSON's length and the JSON. */
    char xadd_head[320], hb_head[320];
    size_t xadd_head_len, hb_head_len;
    char *resp; /* reused for every XADD */
    size_t resp_cap;

    struct spool *spool;
    uint64_t read_off; /* next spool record to send */
    struct flight *ring;
    size_t ring_head, ring_count;
    size_t ring_sent;        /* the first ring_sent entries are on the wire */
    size_t events_in_flight; /* sent entries that are events, not heartbeats */
    size_t memory_held;      /* entries holding their JSON (sent or waiting) */
    size_t memory_bytes;     /* the JSON they hold */
    size_t uncertain;        /* spool-head records whose delivery is unknown */
    bool failed;             /* an XADD was refused on this connection */
    size_t after_refusal;    /* replies since the refusal on this connection */
    bool distrust_last;      /* the stream's last entry may be out of order */
    bool read_error_logged;

    struct event *ev_sync;

    uint64_t events, sent, delivered, refused, deduped, out_of_order;
    uint64_t hb_sent, hb_dropped, spool_errors;
    /* One warning per kind of spool failure, then one a minute with the
     * count meanwhile (a full disk would otherwise log every event). */
    struct spool_warn {
        int err;
        uint64_t last_us, since;
    } spool_warn[4];
};

/* Drops the link; the link logs why, once per distinct message. */
static void link_problem(struct redis_output *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void link_problem(struct redis_output *r, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    redis_link_fail(r->link, msg);
}

/* ---- the ring of events in memory and XADDs awaiting replies ------------- */

static struct flight *ring_at(struct redis_output *r, size_t i)
{
    return &r->ring[(r->ring_head + i) % REDIS_MAX_OUTSTANDING];
}

static struct flight *ring_push(struct redis_output *r)
{
    struct flight *f = ring_at(r, r->ring_count++);
    memset(f, 0, sizeof(*f));
    return f;
}

static void release_payload(struct redis_output *r, struct flight *f)
{
    if (!f->payload)
        return;
    r->memory_held--;
    r->memory_bytes -= f->len;
    free(f->payload);
    f->payload = NULL;
}

/* The oldest sent entry was answered (or its connection is gone). */
static void ring_pop(struct redis_output *r)
{
    struct flight *f = ring_at(r, 0);
    if (!f->heartbeat)
        r->events_in_flight--;
    release_payload(r, f);
    r->ring_head = (r->ring_head + 1) % REDIS_MAX_OUTSTANDING;
    r->ring_count--;
    r->ring_sent--;
}

static int spool_event(struct redis_output *r, const char *json, size_t len, uint64_t *end)
{
    int rc = spool_append(r->spool, json, len, end);
    if (rc < 0) {
        struct spool_stats st;
        spool_get_stats(r->spool, &st);
        int kind = rc == -ENOBUFS                   ? 0
                   : rc == -ENOSPC || rc == -EDQUOT ? 1
                   : rc == -EMSGSIZE                ? 2
                                                    : 3;
        struct spool_warn *w = &r->spool_warn[kind];
        uint64_t now = units_now_us();
        w->since++;
        if (!w->last_us || now - w->last_us >= 60ull * 1000000 || w->err != rc) {
            const char *why = kind == 0   ? "spool full, raise [output] spool_max_mb"
                              : kind == 1 ? "no space left on the disk of the state directory"
                              : kind == 2 ? "event larger than a spool record may be"
                                          : strerror(-rc);
            log_err("%s: %llu event(s) lost since the last warning (%s; policy: refuse the "
                    "newest): %llu events, %llu bytes lost in all",
                    spool_path(r->spool), (unsigned long long)w->since, why,
                    (unsigned long long)st.lost_records, (unsigned long long)st.lost_bytes);
            w->last_us = now;
            w->err = rc;
            w->since = 0;
        }
    }
    return rc;
}

/* Keep the invariant: before anything else is spooled, the events held
 * in memory (older than it) go to the spool, in order.  Those already
 * sent stay in the ring, now acknowledging their spool record when
 * answered; those still waiting leave the ring and are replayed from the
 * spool like any other record (a waiting heartbeat is dropped). */
static void spool_memory(struct redis_output *r)
{
    for (size_t i = 0; i < r->ring_count && r->memory_held; i++) {
        struct flight *f = ring_at(r, i);
        if (!f->payload)
            continue;
        if (f->heartbeat) {
            release_payload(r, f);
            r->hb_dropped++;
            continue;
        }
        uint64_t end = 0;
        spool_event(r, f->payload, f->len, &end);
        release_payload(r, f);
        f->spool_end = end; /* 0 when lost: the reply then acknowledges nothing */
        if (end && i < r->ring_sent)
            r->read_off = end;
    }
    r->ring_count = r->ring_sent;
}

/* ---- commands ------------------------------------------------------------ */

static void on_xadd(redisReply *reply, void *priv);

/* The XADD formatted here into one reused buffer (hiredis would format
 * and allocate it anew for each event). */
static int send_xadd(struct redis_output *r, bool heartbeat, const char *json, size_t len)
{
    const char *head = heartbeat ? r->hb_head : r->xadd_head;
    size_t head_len = heartbeat ? r->hb_head_len : r->xadd_head_len;
    size_t need = head_len + resp_bulk_size(len);
    if (need > r->resp_cap) {
        size_t cap = r->resp_cap ? r->resp_cap : 4096;
        while (cap < need)
            cap *= 2;
        char *buf = realloc(r->resp, cap);
        if (!buf)
            return -1;
        r->resp = buf;
        r->resp_cap = cap;
    }
    memcpy(r->resp, head, head_len);
    char *end = resp_put_bulk(r->resp + head_len, json, len);
    return redis_link_formatted(r->link, 0, on_xadd, r, r->resp, (size_t)(end - r->resp));
}

/* RESP of XADD's arguments before the JSON; 0 when it does not fit. */
static size_t xadd_head(char *out, size_t size, const char *stream, const char *maxlen)
{
    const char *args[] = {"XADD", stream, "MAXLEN", "~", maxlen, "*", "event"};
    size_t n_args = sizeof(args) / sizeof(args[0]);
    size_t need = resp_count_size(n_args + 1); /* + the JSON */
    for (size_t i = 0; i < n_args; i++)
        need += resp_bulk_size(strlen(args[i]));
    if (need > size)
        return 0;
    char *p = resp_put_count(out, n_args + 1);
    for (size_t i = 0; i < n_args; i++)
        p = resp_put_bulk(p, args[i], strlen(args[i]));
    return (size_t)(p - out);
}

/* Room on the wire: hiredis's unwritten buffer is kept small, the rest
 * waits in the ring (see redis_link_unsent). */
static bool wire_room(struct redis_output *r)
{
    return r->state == OUT_READY && !r->failed &&
           redis_link_unsent(r->link, 0) < REDIS_MAX_UNWRITTEN_BYTES;
}

/* Send what may go now, oldest first: spooled records while there is
 * room in the window, then what waits in memory (only once every spooled
 * record is on the wire).  Runs on every write and every reply. */
static void pump(struct redis_output *r)
{
    while (r->read_off < spool_tail(r->spool) && r->ring_count < REDIS_MAX_OUTSTANDING &&
           wire_room(r)) {
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
        if (send_xadd(r, false, json, len) < 0)
            return;
        struct flight *f = ring_push(r);
        f->spool_end = off;
        r->ring_sent++;
        r->events_in_flight++;
        r->read_off = off;
        r->sent++;
    }
    while (r->ring_sent < r->ring_count && r->read_off == spool_tail(r->spool) && wire_room(r)) {
        struct flight *f = ring_at(r, r->ring_sent);
        if (send_xadd(r, f->heartbeat, f->payload, f->len) < 0)
            return;
        r->ring_sent++;
        if (f->heartbeat) {
            release_payload(r, f); /* never spooled: no need to keep it */
        } else {
            r->events_in_flight++;
            r->sent++;
        }
    }
    /* Held back only by hiredis's unwritten bytes: go on as soon as they
     * are on the socket, not at the next reply or event (which capped the
     * window at what 256 KiB holds per round trip, ~27,000 events/s). */
    if (r->state == OUT_READY && !r->failed &&
        (r->ring_sent < r->ring_count ||
         (r->read_off < spool_tail(r->spool) && r->ring_count < REDIS_MAX_OUTSTANDING)))
        redis_link_notify_drained(r->link, 0);
}

static void on_link_drained(void *owner)
{
    pump(owner);
}

/* The link is gone: everything unacknowledged is in the spool afterwards,
 * and the replay restarts at its head. */
static void conn_lost(struct redis_output *r)
{
    spool_memory(r);
    if (r->state == OUT_DOWN)
        return;
    r->state = OUT_DOWN;
    /* After a refusal the first unanswered record is known to have failed;
     * otherwise Redis may have executed a prefix of what was in flight. */
    size_t unknown = r->failed ? 0 : r->events_in_flight;
    if (unknown > r->uncertain)
        r->uncertain = unknown;
    if (r->distrust_last)
        r->uncertain = 0;
    while (r->ring_count) {
        if (ring_at(r, 0)->heartbeat)
            r->hb_dropped++;
        ring_pop(r);
    }
    r->read_off = spool_head(r->spool);
    r->failed = false;
}

static void on_link_lost(void *owner)
{
    struct redis_output *r = owner;
    conn_lost(r);
    struct spool_stats st;
    spool_get_stats(r->spool, &st);
    log_info("%s: events go to the spool %s (%llu waiting) until Redis takes them again",
             redis_link_where(r->link), spool_path(r->spool), (unsigned long long)st.records);
}

static void go_ready(struct redis_output *r)
{
    struct spool_stats st;
    spool_get_stats(r->spool, &st);
    if (st.records)
        log_info("%s: replaying %llu spooled events", redis_link_where(r->link),
                 (unsigned long long)st.records);
    r->state = OUT_READY;
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
             redis_link_where(r->link), match, r->stream);
}

static void on_sync(redisReply *reply, void *priv)
{
    struct redis_output *r = priv;
    if (!reply || r->state != OUT_SYNC)
        return;
    if (reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOPERM", 6) != 0) {
        /* LOADING after a restart, and the like: try again later. */
        link_problem(r, "XREVRANGE %s: %s", r->stream, reply->str);
        return;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        log_info("%s: the ACL does not let the agent read the last entry of %s; events that "
                 "were in flight are sent again and consumers drop duplicates by canh.id",
                 redis_link_where(r->link), r->stream);
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

/* The link is up: check what the stream already holds, then send. */
static void on_link_ready(void *owner)
{
    struct redis_output *r = owner;
    struct spool_stats st;
    spool_get_stats(r->spool, &st);
    if (r->uncertain > st.records)
        r->uncertain = (size_t)st.records;
    if (!r->uncertain) {
        go_ready(r);
        return;
    }
    r->state = OUT_SYNC;
    const char *argv[] = {"XREVRANGE", r->stream, "+", "-", "COUNT", "1"};
    size_t argvlen[] = {9, r->stream_len, 1, 1, 5, 1};
    if (redis_link_command(r->link, 0, on_sync, r, 6, argv, argvlen) < 0)
        link_problem(r, "cannot queue XREVRANGE: out of memory");
}

static void on_xadd(redisReply *reply, void *priv)
{
    struct redis_output *r = priv;
    /* No reply: the link is going down; conn_lost sorts the ring. */
    if (!reply || !r->ring_sent)
        return;
    if (r->failed) {
        size_t i = ++r->after_refusal;
        if (i < r->ring_sent && reply->type != REDIS_REPLY_ERROR && !ring_at(r, i)->heartbeat) {
            if (!r->out_of_order++)
                log_err("%s: an XADD after a refused one was executed; its record is sent "
                        "again in order (consumers drop the duplicate by canh.id)",
                        redis_link_where(r->link));
            r->distrust_last = true;
        }
        return;
    }
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
        r->after_refusal = 0;
        r->refused++;
        link_problem(r, "XADD %s refused: %s", r->stream, reply->str);
        return;
    }
    if (f->heartbeat) {
        r->hb_sent++;
    } else {
        r->delivered++;
        r->distrust_last = false;
        if (f->spool_end)
            spool_ack(r->spool, f->spool_end);
    }
    ring_pop(r);
    pump(r);
}

static void on_sync_timer(evutil_socket_t fd, short what, void *ctx)
{
    struct redis_output *r = ctx;
    /* Events that waited a whole period for a connection go to disk. */
    if (r->state != OUT_READY && r->memory_held)
        spool_memory(r);
    if (spool_sync(r->spool) < 0 && (r->spool_errors++ & 1023) == 0)
        log_err("%s: fsync failed: %s", spool_path(r->spool), strerror(errno));
}

/* ---- the output interface ------------------------------------------------ */

/* May this record be held in memory?  Only behind every spooled record,
 * within the window, and while the link is up or being made (a link
 * waiting out its backoff will not take it soon). */
static bool memory_takes(struct redis_output *r, size_t len)
{
    if (r->read_off != spool_tail(r->spool) || r->failed ||
        r->ring_count >= REDIS_MAX_OUTSTANDING || r->memory_bytes + len > REDIS_MAX_MEMORY_BYTES)
        return false;
    return r->state == OUT_READY || redis_link_state(r->link) == REDIS_LINK_CONNECTING;
}

static int hold(struct redis_output *r, bool heartbeat, const char *json, size_t len)
{
    char *copy = malloc(len);
    if (!copy)
        return -1;
    memcpy(copy, json, len);
    struct flight *f = ring_push(r);
    f->payload = copy;
    f->len = len;
    f->heartbeat = heartbeat;
    r->memory_held++;
    r->memory_bytes += len;
    pump(r);
    return 0;
}

static int redis_write(struct output *o, const struct evt *ev, const char *json, size_t len)
{
    struct redis_output *r = (struct redis_output *)o;
    r->events++;
    if (memory_takes(r, len) && hold(r, false, json, len) == 0)
        return 0;
    spool_memory(r);
    uint64_t end;
    if (spool_event(r, json, len, &end) < 0)
        return -1;
    pump(r);
    return 0;
}

static int redis_write_stats(struct output *o, const char *json, size_t len)
{
    struct redis_output *r = (struct redis_output *)o;
    /* A heartbeat is only worth its moment: never spooled.  It goes now
     * (ahead of a spool replay: it is another stream), or waits behind
     * the events waiting in memory or for a link being made, or is
     * dropped. */
    int rc = -1;
    if (r->state == OUT_READY && !r->failed && r->ring_count < REDIS_MAX_OUTSTANDING) {
        if (r->ring_sent == r->ring_count) {
            rc = send_xadd(r, true, json, len);
            if (rc == 0) {
                ring_push(r)->heartbeat = true;
                r->ring_sent++;
            }
        } else if (r->memory_bytes + len <= REDIS_MAX_MEMORY_BYTES) {
            rc = hold(r, true, json, len);
        }
    } else if (memory_takes(r, len)) {
        /* The link is being made (its checks before use, AUTH and PING,
         * are still out): the heartbeat waits for it like an event does,
         * so a short replay's final counters reach the stream. */
        rc = hold(r, true, json, len);
    }
    if (rc < 0)
        r->hb_dropped++;
    return rc;
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
    /* Down and waiting for a retry: the spool keeps the events (those
     * that waited in memory for the connection go there now); waiting at
     * shutdown would only delay the stop. */
    if (redis_link_state(r->link) == REDIS_LINK_DOWN) {
        spool_memory(r);
        return 0;
    }
    struct spool_stats st;
    spool_get_stats(r->spool, &st);
    /* ring_count, not events_in_flight: the last heartbeat, sent at stop,
     * is waited for too, so the collector sees the final counters. */
    return r->ring_count + (size_t)st.records;
}

static void redis_stats(struct output *o, json_t *out)
{
    struct redis_output *r = (struct redis_output *)o;
    struct spool_stats st;
    spool_get_stats(r->spool, &st);
    struct redis_link_stats ls;
    redis_link_get_stats(r->link, &ls);
#define SET(key, v) json_object_set_new(out, key, json_integer((json_int_t)(v)))
    json_object_set_new(out, "redis_connected", json_boolean(r->state == OUT_READY));
    SET("redis_events", r->events);
    SET("redis_sent", r->sent);
    SET("redis_delivered", r->delivered);
    SET("redis_in_flight", r->events_in_flight);
    SET("redis_refused", r->refused + ls.auth_refused);
    SET("redis_connects", ls.connects);
    SET("redis_connection_losses", ls.losses);
    SET("redis_timeouts", ls.timeouts);
    SET("redis_duplicates_avoided", r->deduped);
    SET("redis_out_of_order", r->out_of_order);
    SET("heartbeats_sent", r->hb_sent);
    SET("heartbeats_dropped", r->hb_dropped);
    SET("spool_records", st.records);
    SET("spool_bytes", st.bytes);
    SET("spool_appended", st.appended);
    SET("spool_lost_records", st.lost_records);
    SET("spool_lost_bytes", st.lost_bytes);
    SET("spool_torn_bytes", st.torn_bytes);
    SET("spool_damaged_records", st.damaged_records);
#undef SET
}

static void redis_close(struct output *o)
{
    struct redis_output *r = (struct redis_output *)o;
    conn_lost(r);
    redis_link_free(r->link);
    struct spool_stats st;
    spool_get_stats(r->spool, &st);
    if (st.records)
        log_info("%s: %llu events not yet in Redis stay in the spool for the next start",
                 spool_path(r->spool), (unsigned long long)st.records);
    spool_close(r->spool);
    if (r->ev_sync)
        event_free(r->ev_sync);
    free(r->ring);
    free(r->resp);
    free(r);
}

/* ---- configuration ------------------------------------------------------- */

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
    struct redis_url target;
    char why[768];
    if (redis_url_parse(url, &target, why, sizeof(why)) < 0) {
        redis_url_wipe(&target);
        cfg_fail(err, file, 0, "[output] %s", why);
        return NULL;
    }
    if (redis_url_credentials(&target, cfg->redis_user, cfg->password_file, why, sizeof(why)) < 0) {
        redis_url_wipe(&target);
        cfg_fail(err, file, cfg->password_file_line, "[output] %s", why);
        return NULL;
    }
    struct redis_output *r = calloc(1, sizeof(*r));
    if (!r) {
        redis_url_wipe(&target);
        cfg_fail(err, file, 0, "out of memory");
        return NULL;
    }
    struct redis_link_options opt = {
        .connections = 1,
        .timeout_us = cfg->redis_timeout_us,
        .backoff_max_us = BACKOFF_MAX_US,
        .ready = on_link_ready,
        .lost = on_link_lost,
        .drained = on_link_drained,
        .owner = r,
    };
    r->link = redis_link_new(base, &target, &opt);
    redis_url_wipe(&target);
    if (!r->link) {
        cfg_fail(err, file, 0, "out of memory");
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
    r->stream_len = strlen(r->stream);
    r->xadd_head_len = xadd_head(r->xadd_head, sizeof(r->xadd_head), r->stream, r->maxlen);
    r->hb_head_len = xadd_head(r->hb_head, sizeof(r->hb_head), r->hb_stream, r->hb_maxlen);

    char path[512];
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
    r->read_off = spool_head(r->spool);
    r->ring = calloc(REDIS_MAX_OUTSTANDING, sizeof(*r->ring));
    r->ev_sync = event_new(base, -1, EV_PERSIST, on_sync_timer, r);
    if (!r->ring || !r->ev_sync) {
        cfg_fail(err, file, 0, "out of memory");
        goto fail;
    }
    struct timeval sync = {0, SYNC_PERIOD_US};
    event_add(r->ev_sync, &sync);

    r->base.name = "redis";
    r->base.write = redis_write;
    r->base.write_stats = redis_write_stats;
    r->base.flush = redis_flush;
    r->base.stats = redis_stats;
    r->base.close = redis_close;
    r->base.pending = redis_pending;
    r->state = OUT_DOWN;
    redis_link_start(r->link);
    return &r->base;
fail:
    redis_link_free(r->link);
    if (r->spool)
        spool_close(r->spool);
    if (r->ev_sync)
        event_free(r->ev_sync);
    free(r->ring);
    free(r);
    return NULL;
}
