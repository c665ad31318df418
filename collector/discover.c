/* discover.c — finding the agents' streams.
 *
 * SCAN canh:* TYPE stream (or the configured agents' two streams), and
 * XGROUP CREATE ... 0 MKSTREAM on each new one, so history is read too;
 * a stream joins the XREADGROUP list once its group is in place.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/consume_internal.h"
#include "collector/ingest.h"
#include "collector/store.h"
#include "common/log.h"

#define SCAN_MAX_PAGES 1000

struct stream_group_req {
    struct collector *c;
    uint64_t generation;
    char key[192];
};

static bool have_stream(const struct collector *c, const char *key)
{
    for (size_t i = 0; i < c->rd->n_streams; i++)
        if (strcmp(c->rd->streams[i], key) == 0)
            return true;
    return false;
}

static void on_group(redisReply *reply, void *priv)
{
    struct stream_group_req *g = priv;
    struct collector *c = g->c;
    if (reply && g->generation == redis_link_generation(c->link)) {
        c->rd->groups_pending--;
        bool ok = reply->type != REDIS_REPLY_ERROR || strncmp(reply->str, "BUSYGROUP", 9) == 0;
        if (!ok) {
            log_warn("XGROUP CREATE %s: %s", g->key, reply->str);
        } else if (!have_stream(c, g->key)) {
            if (c->rd->n_streams == c->rd->cap_streams) {
                size_t cap = c->rd->cap_streams ? c->rd->cap_streams * 2 : 16;
                char(*v)[192] = realloc(c->rd->streams, cap * sizeof(*v));
                if (v) {
                    c->rd->streams = v;
                    c->rd->cap_streams = cap;
                }
            }
            if (c->rd->n_streams < c->rd->cap_streams) {
                snprintf(c->rd->streams[c->rd->n_streams++], sizeof(c->rd->streams[0]), "%s",
                         g->key);
                log_info("reading %s", g->key);
                /* A new stream's pending entries are not ours to re-read. */
            }
        }
        if (c->rd->groups_pending == 0)
            consume_maybe_read(c);
    }
    free(g);
}

static void ensure_group(struct collector *c, const char *key)
{
    if (have_stream(c, key) || strlen(key) >= 192)
        return;
    struct stream_group_req *g = calloc(1, sizeof(*g));
    if (!g)
        return;
    g->c = c;
    g->generation = redis_link_generation(c->link);
    snprintf(g->key, sizeof(g->key), "%s", key);
    const char *argv[] = {"XGROUP", "CREATE", key, STORE_GROUP, "0", "MKSTREAM"};
    size_t lens[6];
    for (int i = 0; i < 6; i++)
        lens[i] = strlen(argv[i]);
    if (redis_link_command(c->link, COLLECTOR_CMD, on_group, g, 6, argv, lens) < 0)
        free(g);
    else
        c->rd->groups_pending++;
}

struct scan_req {
    struct collector *c;
    int pages;
};

static void send_scan(struct scan_req *sr, const char *cursor);

static void on_scan(redisReply *reply, void *priv)
{
    struct scan_req *sr = priv;
    struct collector *c = sr->c;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
        if (reply)
            log_warn("SCAN failed: %s",
                     reply->type == REDIS_REPLY_ERROR ? reply->str : "bad reply");
        c->rd->scanning = false;
        free(sr);
        return;
    }
    const redisReply *keys = reply->element[1];
    for (size_t i = 0; i < keys->elements; i++) {
        const char *k = keys->element[i]->str;
        if (keys->element[i]->type == REDIS_REPLY_STRING && ingest_stream_agent(k) &&
            *ingest_stream_agent(k))
            ensure_group(c, k);
    }
    const char *cursor = reply->element[0]->str;
    if (strcmp(cursor, "0") == 0 || ++sr->pages >= SCAN_MAX_PAGES) {
        c->rd->scanning = false;
        free(sr);
        return;
    }
    send_scan(sr, cursor);
}

static void send_scan(struct scan_req *sr, const char *cursor)
{
    const char *argv[] = {"SCAN", cursor, "MATCH", "canh:*", "COUNT", "1000", "TYPE", "stream"};
    size_t lens[8];
    for (int i = 0; i < 8; i++)
        lens[i] = strlen(argv[i]);
    if (redis_link_command(sr->c->link, COLLECTOR_CMD, on_scan, sr, 8, argv, lens) < 0) {
        sr->c->rd->scanning = false;
        free(sr);
    }
}

void consume_discover(struct collector *c)
{
    if (c->cfg->n_agents) {
        char key[192];
        for (size_t i = 0; i < c->cfg->n_agents; i++) {
            snprintf(key, sizeof(key), "canh:events:%s", c->cfg->agents[i]);
            ensure_group(c, key);
            snprintf(key, sizeof(key), "canh:heartbeats:%s", c->cfg->agents[i]);
            ensure_group(c, key);
        }
        return;
    }
    struct scan_req *sr = calloc(1, sizeof(*sr));
    if (!sr)
        return;
    sr->c = c;
    c->rd->scanning = true;
    send_scan(sr, "0");
}
