/* claim.c — taking over idle pending entries.
 *
 * XAUTOCLAIM, stream by stream, of entries idle longer than claim_idle: a
 * dead collector's, or our own that failed; each is applied as if read.
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
        for (size_t e = 0; e < entries->elements; e++)
            consume_take_entry(c, c->rd->streams[cr->stream], entries->element[e]);
        if (entries->elements)
            log_info("claimed %zu idle entries of %s", entries->elements,
                     c->rd->streams[cr->stream]);
        c->stats.claimed += entries->elements;
        next = reply->element[0]->str;
    } else if (reply->type == REDIS_REPLY_ERROR) {
        log_warn("XAUTOCLAIM: %s", reply->str);
    }
    if (strcmp(next, "0-0") != 0 && ++cr->pages < CLAIM_MAX_PAGES) {
        send_claim(cr, next);
        return;
    }
    cr->stream++;
    cr->pages = 0;
    if (cr->stream < c->rd->n_streams) {
        send_claim(cr, "0-0");
        return;
    }
    c->rd->claiming = false;
    free(cr);
}

static void send_claim(struct claim_req *cr, const char *cursor)
{
    struct collector *c = cr->c;
    struct argv_builder b = {0};
    ab_add(&b, "XAUTOCLAIM");
    ab_add(&b, c->rd->streams[cr->stream]);
    ab_add(&b, STORE_GROUP);
    ab_add(&b, c->cfg->consumer);
    ab_num(&b, c->cfg->claim_idle_us / 1000);
    ab_add(&b, cursor);
    ab_add(&b, "COUNT");
    ab_num(&b, c->cfg->batch);
    if (send_cmd(c, COLLECTOR_CMD, on_claim, cr, &b) < 0) {
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
