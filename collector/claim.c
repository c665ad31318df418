/* claim.c — taking over idle pending entries.
 *
 * XAUTOCLAIM, stream by stream, of entries idle longer than claim_idle: a
 * dead collector's, or our own that failed; each is applied as if read.
 * Then the dead consumers left with nothing pending are deleted.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/consume_internal.h"
#include "collector/store.h"
#include "common/log.h"

#define CLAIM_MAX_PAGES 20

struct claim_req {
    struct collector *c;
    size_t stream;
    int pages;
};

static void send_claim(struct claim_req *cr, const char *cursor);
static void send_consumers(struct claim_req *cr);

static void next_stream(struct claim_req *cr)
{
    struct collector *c = cr->c;
    cr->stream++;
    cr->pages = 0;
    if (cr->stream < c->rd->n_streams) {
        send_claim(cr, "0-0");
        return;
    }
    c->rd->claiming = false;
    free(cr);
}

static void on_delconsumer(redisReply *reply, void *priv)
{
    struct collector *c = priv;
    if (reply && reply->type == REDIS_REPLY_ERROR)
        log_warn("XGROUP DELCONSUMER: %s", reply->str);
    else if (reply && reply->type == REDIS_REPLY_INTEGER)
        c->stats.consumers_deleted++;
}

/* XINFO CONSUMERS: each collector start is a new consumer name; the dead
 * ones, once their entries were claimed (pending 0) and idle longer than
 * claim_idle, are deleted so the group does not grow with every restart.
 * A live collector reads at least every `block`, so it is never that idle;
 * and a consumer deleted by mistake would only be created again by its
 * next read, with nothing pending lost. */
static void on_consumers(redisReply *reply, void *priv)
{
    struct claim_req *cr = priv;
    struct collector *c = cr->c;
    if (!reply) {
        c->rd->claiming = false;
        free(cr);
        return;
    }
    if (reply->type == REDIS_REPLY_ARRAY && cr->stream < c->rd->n_streams) {
        for (size_t i = 0; i < reply->elements; i++) {
            const redisReply *cons = reply->element[i];
            const char *name = NULL;
            long long pending = -1, idle_ms = -1;
            for (size_t k = 0; cons->type == REDIS_REPLY_ARRAY && k + 1 < cons->elements; k += 2) {
                const redisReply *f = cons->element[k], *v = cons->element[k + 1];
                if (f->type != REDIS_REPLY_STRING && f->type != REDIS_REPLY_STATUS)
                    continue;
                if (strcmp(f->str, "name") == 0 && v->type == REDIS_REPLY_STRING)
                    name = v->str;
                else if (strcmp(f->str, "pending") == 0 && v->type == REDIS_REPLY_INTEGER)
                    pending = v->integer;
                else if (strcmp(f->str, "idle") == 0 && v->type == REDIS_REPLY_INTEGER)
                    idle_ms = v->integer;
            }
            if (!name || pending != 0 || idle_ms < 0 ||
                (uint64_t)idle_ms <= c->cfg->claim_idle_us / 1000 ||
                strcmp(name, c->cfg->consumer) == 0)
                continue;
            log_info("%s: deleting consumer %s (idle %lld s, nothing pending)",
                     c->rd->streams[cr->stream], name, idle_ms / 1000);
            struct argv_builder b;
            AB_EMPTY(b);
            ab_add(&b, "XGROUP");
            ab_add(&b, "DELCONSUMER");
            ab_add(&b, c->rd->streams[cr->stream]);
            ab_add(&b, STORE_GROUP);
            ab_add(&b, name);
            send_cmd(c, COLLECTOR_CMD, on_delconsumer, c, &b);
        }
    } else if (reply->type == REDIS_REPLY_ERROR) {
        log_warn("XINFO CONSUMERS: %s", reply->str);
    }
    next_stream(cr);
}

static void send_consumers(struct claim_req *cr)
{
    struct collector *c = cr->c;
    struct argv_builder b;
    AB_EMPTY(b);
    ab_add(&b, "XINFO");
    ab_add(&b, "CONSUMERS");
    ab_add(&b, c->rd->streams[cr->stream]);
    ab_add(&b, STORE_GROUP);
    if (send_cmd(c, COLLECTOR_CMD, on_consumers, cr, &b) < 0) {
        c->rd->claiming = false;
        free(cr);
    }
}

static void on_claim(redisReply *reply, void *priv)
{
    struct claim_req *cr = priv;
    struct collector *c = cr->c;
    if (!reply) {
        c->rd->claiming = false;
        free(cr);
        return;
    }
    const char *next = "0-0";
    if (reply->type == REDIS_REPLY_ARRAY && reply->elements >= 2 &&
        reply->element[1]->type == REDIS_REPLY_ARRAY && cr->stream < c->rd->n_streams) {
        const redisReply *entries = reply->element[1];
        const char *stream = c->rd->streams[cr->stream];
        /* Our own entries still queued behind others of their key (a
         * burst of one finding on a slow machine) are idle to Redis too:
         * claiming them again would queue them twice, and every claim
         * would grow the queue faster than it drains — the collector
         * then never read again (issue 19). */
        size_t taken = 0;
        for (size_t e = 0; e < entries->elements; e++) {
            const redisReply *en = entries->element[e];
            if (en->type == REDIS_REPLY_ARRAY && en->elements >= 1 &&
                en->element[0]->type == REDIS_REPLY_STRING &&
                consume_entry_in_flight(c, stream, en->element[0]->str))
                continue;
            consume_take_entry(c, stream, en);
            taken++;
        }
        if (taken)
            log_info("claimed %zu idle entries of %s", taken, stream);
        c->stats.claimed += taken;
        next = reply->element[0]->str;
    } else if (reply->type == REDIS_REPLY_ERROR) {
        log_warn("XAUTOCLAIM: %s", reply->str);
    }
    if (strcmp(next, "0-0") != 0 && ++cr->pages < CLAIM_MAX_PAGES) {
        send_claim(cr, next);
        return;
    }
    if (cr->stream < c->rd->n_streams && strcmp(next, "0-0") == 0) {
        send_consumers(cr); /* every idle entry of the stream is claimed */
        return;
    }
    next_stream(cr);
}

/* XAUTOCLAIM in the server, the entries' sizes checked there as the read
 * does.  KEYS[1]: the stream; ARGV: group, consumer, min idle ms, cursor,
 * count, max entry bytes, max heartbeat bytes, head bytes. */
static const char claim_lua[] = CONSUME_CAP_LUA
    "local r = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], 'COUNT', "
    "ARGV[5])\n"
    "cap(r[2], tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), is_hb(KEYS[1]))\n"
    "return r\n";

static struct store_script claim_script = STORE_SCRIPT(claim_lua);

static void send_claim(struct claim_req *cr, const char *cursor)
{
    struct collector *c = cr->c;
    struct argv_builder b;
    AB_EMPTY(b);
    ab_add(&b, "1");
    ab_add(&b, c->rd->streams[cr->stream]);
    ab_add(&b, STORE_GROUP);
    ab_add(&b, c->cfg->consumer);
    ab_num(&b, c->cfg->claim_idle_us / 1000);
    ab_add(&b, cursor);
    ab_num(&b, c->cfg->batch);
    ab_num(&b, c->cfg->max_entry_bytes);
    ab_num(&b, c->cfg->max_heartbeat_bytes);
    ab_num(&b, CONSUME_OVERSIZE_HEAD);
    if (store_eval(c->link, COLLECTOR_CMD, &claim_script, on_claim, cr, b.n, b.v, b.len) < 0) {
        c->rd->claiming = false;
        free(cr);
    }
}

void consume_claim(struct collector *c)
{
    if (c->rd->n_streams == 0)
        return;
    struct claim_req *cr = calloc(1, sizeof(*cr));
    if (!cr)
        return;
    cr->c = c;
    c->rd->claiming = true;
    send_claim(cr, "0-0");
}
