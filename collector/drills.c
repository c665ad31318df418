/* drills.c — see drills.h. */
#include "collector/drills.h"

#include <stdlib.h>
#include <string.h>

#include "collector/collector.h"
#include "common/drill.h"
#include "common/log.h"
#include "common/units.h"

#define DRILLS_MAX 256 /* drills kept in mind; the oldest windows drop out */

struct drills {
    struct redis_link *link;
    struct drill *v; /* DRILLS_MAX */
    size_t n;
    bool busy;
    uint64_t next_us;
};

struct drills *drills_new(struct redis_link *link)
{
    struct drills *d = calloc(1, sizeof(*d));
    if (!d || !(d->v = calloc(DRILLS_MAX, sizeof(*d->v)))) {
        free(d);
        return NULL;
    }
    d->link = link;
    return d;
}

/* Keeps the drills whose guarded window is not long over. */
static void on_drills(redisReply *reply, void *priv)
{
    struct drills *d = priv;
    d->busy = false;
    if (!reply)
        return;
    if (reply->type != REDIS_REPLY_ARRAY) {
        log_warn("drills: HGETALL " DRILLS_KEY ": %s",
                 reply->type == REDIS_REPLY_ERROR ? reply->str : "not a hash");
        return;
    }
    uint64_t now = units_now_us();
    size_t n = 0;
    for (size_t i = 0; i + 1 < reply->elements && n < DRILLS_MAX; i += 2) {
        const redisReply *v = reply->element[i + 1];
        if (v->type != REDIS_REPLY_STRING)
            continue;
        json_t *j = json_loadb(v->str, v->len, 0, NULL);
        char why[160];
        if (drill_from_json(j, &d->v[n], why, sizeof(why)) < 0) {
            log_warn("drills: " DRILLS_KEY " %.64s: %s; ignored", reply->element[i]->str, why);
        } else if (d->v[n].end_us + DRILL_GUARD_AFTER_US > now) {
            n++;
        }
        json_decref(j);
    }
    if (n != d->n)
        log_info("drills: %zu drill(s) in or near their window", n);
    d->n = n;
}

void drills_tick(struct drills *d)
{
    uint64_t now = units_now_us();
    if (!d || d->busy || now < d->next_us || !redis_link_up(d->link))
        return;
    d->next_us = now + DRILLS_REFRESH_US;
    const char *argv[] = {"HGETALL", DRILLS_KEY};
    size_t lens[] = {7, strlen(DRILLS_KEY)};
    if (redis_link_command(d->link, COLLECTOR_CMD, on_drills, d, 2, argv, lens) == 0)
        d->busy = true;
}

void drills_session_lost(struct drills *d)
{
    if (d)
        d->next_us = 0;
}

void drills_tag_event(const struct drills *d, struct in_event *ev)
{
    struct ipaddr src;
    if (!d || ev->exercise || !ev->src_ip || addr_parse(ev->src_ip, &src) < 0)
        return;
    const struct drill *which;
    switch (drill_judge(d->v, d->n, &src, ev->ts_us, ev->asset_name, ev->agency, &which)) {
    case DRILL_MEMBER:
        ev->exercise = ingest_keep(&ev->kept_drill, which->id);
        break;
    case DRILL_BREACH:
        ev->drill_breach = ingest_keep(&ev->kept_drill, which->id);
        if (ev->drill_breach && ev->severity < SEV_HIGH)
            ev->severity = SEV_HIGH;
        break;
    case DRILL_NONE:
        break;
    }
}

void drills_free(struct drills *d)
{
    if (!d)
        return;
    free(d->v);
    free(d);
}
