/* health.c — see health.h. */
#include "agent/sys/health.h"

#include <stdlib.h>
#include <string.h>

#include "agent/detect/finding.h"
#include "common/log.h"
#include "common/taxonomy.h"
#include "common/units.h"

#define HEALTH_CHECK_US 1000000ull

struct health_finding {
    const char *name;
    struct rule builtin; /* used when the rules have no such section */
    struct finding_life life;
};

struct health {
    const struct agent_config *cfg;
    struct pipeline *pl;
    struct capture *cap;
    struct event *ev_check;
    uint64_t started_us;

    struct health_finding drops, silent;
    uint64_t window_us, window_start_us;
    struct capture_stats window_base;
    bool have_base;
    uint64_t drops_packets, drops_dropped; /* over the open finding */
    double last_ratio;
};

static void builtin_rule(struct health_finding *f, const char *name, const char *taxonomy,
                         enum severity sev, uint64_t update_us, uint64_t hold_us)
{
    static char ref_drops[] = "built-in:capture_drops", ref_silent[] = "built-in:link_silent";
    f->name = name;
    f->builtin.name = (char *)name;
    f->builtin.ref = strcmp(name, "capture_drops") == 0 ? ref_drops : ref_silent;
    f->builtin.detector = (char *)"health";
    f->builtin.enabled = true;
    f->builtin.taxonomy = taxonomy_find(taxonomy);
    f->builtin.severity = sev;
    f->builtin.update_interval_us = update_us;
    f->builtin.hold_down_us = hold_us;
}

/* The rule to speak with now: the loaded one (it may have been reloaded
 * since the finding opened) or the built-in one. */
static const struct rule *rule_of(struct health *h, struct health_finding *f)
{
    const struct rule *r = pipeline_rule(h->pl, "health", f->name);
    return r ? r : &f->builtin;
}

static void emit(struct health *h, struct health_finding *f, enum finding_state state,
                 uint64_t now_us, json_t *counters)
{
    const struct rule *rule = rule_of(h, f);
    struct evt ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = f->name;
    ev.rule = rule;
    finding_fill(&f->life, &ev, state, now_us);
    ev.counters = counters;
    ev.evidence = json_pack("{s:s}", "interface", h->cap->source);
    if (rule->enabled)
        pipeline_emit(h->pl, &ev);
    json_decref(ev.evidence);
}

/* One finding's lifecycle step: bad says whether the fault holds now. */
static void step(struct health *h, struct health_finding *f, bool bad, uint64_t first_us,
                 uint64_t now_us, json_t *counters)
{
    const struct rule *rule = rule_of(h, f);
    if (bad) {
        if (!finding_is_open(&f->life)) {
            finding_open(&f->life, first_us, now_us);
            emit(h, f, FINDING_NEW, now_us, counters);
            return;
        }
        finding_touch(&f->life, now_us);
        if (finding_update_due(&f->life, now_us, rule->update_interval_us))
            emit(h, f, FINDING_UPDATE, now_us, counters);
    } else if (finding_end_due(&f->life, now_us, rule->hold_down_us)) {
        emit(h, f, FINDING_END, now_us, counters);
    }
}

static void check_drops(struct health *h, uint64_t now_us)
{
    struct capture_stats st;
    if (capture_stats(h->cap, &st) < 0)
        return;
    if (!h->have_base) {
        h->window_base = st;
        h->window_start_us = now_us;
        h->have_base = true;
        return;
    }
    if (now_us - h->window_start_us < h->window_us)
        return;
    /* Linux counts dropped packets in "received" too, so this is the
     * share of what reached the socket that the agent never saw. */
    uint64_t received = st.received - h->window_base.received;
    uint64_t dropped = st.dropped - h->window_base.dropped;
    h->window_base = st;
    h->window_start_us = now_us;
    double ratio = received ? (double)dropped / (double)received : 0.0;
    bool bad = dropped > 0 && ratio * 1e6 > (double)h->cfg->drop_alert_ratio_ppm;
    if (bad && !finding_is_open(&h->drops.life))
        h->drops_packets = h->drops_dropped = 0;
    if (bad) {
        h->drops_packets += received;
        h->drops_dropped += dropped;
        h->last_ratio = ratio;
    }
    json_t *c = json_pack("{s:I,s:I,s:f,s:f}", "packets", (json_int_t)h->drops_packets, "dropped",
                          (json_int_t)h->drops_dropped, "drop_ratio", h->last_ratio, "threshold",
                          (double)h->cfg->drop_alert_ratio_ppm / 1e6);
    step(h, &h->drops, bad, h->window_start_us - h->window_us, now_us, c);
    json_decref(c);
}

static void check_silence(struct health *h, uint64_t now_us)
{
    uint64_t last = pipeline_last_packet_us(h->pl);
    if (last < h->started_us)
        last = h->started_us;
    bool bad = h->cfg->link_silent_us && now_us > last && now_us - last >= h->cfg->link_silent_us;
    json_t *c =
        json_pack("{s:I}", "silent_s", (json_int_t)((now_us > last ? now_us - last : 0) / 1000000));
    step(h, &h->silent, bad, last, now_us, c);
    json_decref(c);
}

static void on_check(evutil_socket_t fd, short what, void *ctx)
{
    struct health *h = ctx;
    uint64_t now = units_now_us();
    check_drops(h, now);
    check_silence(h, now);
}

struct health *health_new(struct event_base *base, const struct agent_config *cfg,
                          struct pipeline *pl, struct capture *cap)
{
    struct health *h = calloc(1, sizeof(*h));
    if (!h)
        return NULL;
    h->cfg = cfg;
    h->pl = pl;
    h->cap = cap;
    h->started_us = units_now_us();
    h->window_us =
        cfg->heartbeat_interval_us > HEALTH_CHECK_US ? cfg->heartbeat_interval_us : HEALTH_CHECK_US;
    builtin_rule(&h->drops, "capture_drops", "fault.overload", SEV_MEDIUM, 60000000ull,
                 60000000ull);
    builtin_rule(&h->silent, "link_silent", "fault.link", SEV_HIGH, 300000000ull, 10000000ull);
    if (cap->live) {
        struct timeval tv = {HEALTH_CHECK_US / 1000000, 0};
        h->ev_check = event_new(base, -1, EV_PERSIST, on_check, h);
        if (!h->ev_check || event_add(h->ev_check, &tv) < 0) {
            health_free(h);
            return NULL;
        }
    }
    return h;
}

void health_finish(struct health *h, uint64_t now_us)
{
    if (!h)
        return;
    if (h->ev_check)
        event_del(h->ev_check);
    struct health_finding *all[] = {&h->drops, &h->silent};
    for (size_t i = 0; i < 2; i++)
        if (finding_is_open(&all[i]->life))
            emit(h, all[i], FINDING_END, now_us, NULL);
}

void health_free(struct health *h)
{
    if (!h)
        return;
    if (h->ev_check)
        event_free(h->ev_check);
    free(h);
}
