/* check.c — see check.h: the URLs to check, their schedule, reload and
 * counters.  Decisions are verdict.c's. */
#include "agent/check/check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/check/check_internal.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/units.h"

/* Markers when the rules name no markers file (a custom rules dir). */
static const char builtin_markers[] = "hacked by\ndefaced by\nowned by\npwned by\n";

static void schedule(struct check_target *t, uint64_t delay_us)
{
    struct timeval tv = {(time_t)(delay_us / 1000000u), (suseconds_t)(delay_us % 1000000u)};
    evtimer_add(t->ev_next, &tv);
}

static void on_fetched(void *ctx, const struct fetch_result *r)
{
    struct check_target *t = ctx;
    verdict_apply(t, r, units_now_us());
}

static void on_due(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct check_target *t = arg;
    struct check *c = t->owner;
    /* The next check is due an interval after this one starts, whatever
     * this one takes; a check still running is not started twice. */
    schedule(t, t->cfg->interval_us);
    if (fetch_busy(t->fetch))
        return;
    if (fetcher_active(c->fetcher) >= CHECK_MAX_IN_FLIGHT) {
        evtimer_del(t->ev_next);
        schedule(t, 100000); /* retry shortly, keeping the pace of the rest */
        return;
    }
    /* The timeout does not shrink with the interval: a slow answer is a
     * late check (the next one waits for it), not a failure. */
    if (fetch_start(t->fetch, t->url, t->cfg->ca_file, CHECK_TIMEOUT_US) < 0)
        log_warn("check %s: cannot start a fetch (out of memory)", t->url);
}

/* The shared markers file the passive defacement rule names (http.rules
 * [defacement] markers_file, next to the rule file), or a short list. */
static void load_markers(struct check *c)
{
    page_markers_free(&c->markers);
    struct rule *r = pipeline_rule(c->pl, "http", "defacement");
    const char *name = r ? rule_get_string(r, "markers_file") : NULL;
    char *text = NULL;
    if (name) {
        char path[1024];
        const char *slash = strrchr(r->file, '/');
        if (name[0] == '/' || !slash)
            snprintf(path, sizeof(path), "%s", name);
        else
            snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - r->file), r->file, name);
        FILE *fp = fopen(path, "r");
        if (fp) {
            text = calloc(1, 65536);
            if (text)
                fread(text, 1, 65535, fp);
            fclose(fp);
        } else {
            log_warn("checks: cannot read the markers file %s: %s; using a short built-in list",
                     path, strerror(errno));
        }
    }
    if (page_markers_parse(&c->markers, text ? text : builtin_markers) < 0)
        log_warn("checks: out of memory loading the defacement markers");
    free(text);
}

static void target_free(struct check_target *t)
{
    if (!t)
        return;
    if (t->ev_next)
        event_free(t->ev_next);
    fetch_free(t->fetch);
    page_masks_free(&t->masks);
    verdict_free(t);
    free(t);
}

/* Point t at its (possibly reloaded) asset and re-read its baseline. */
static int target_configure(struct check_target *t, const struct asset *a, size_t url_index)
{
    t->asset = a;
    t->cfg = a->check;
    t->url_index = url_index;
    page_masks_free(&t->masks);
    if (page_masks_compile(&t->masks, a->check) < 0)
        return -1;
    t->masks_id = 0x63686b6du;
    for (size_t i = 0; i < a->check->n_mask; i++)
        t->masks_id = hash_bytes(a->check->mask[i], strlen(a->check->mask[i]) + 1, t->masks_id);
    /* Without a state dir the baseline lives in memory only, and a reload
     * keeps it (relearning could take a defaced page for the normal one). */
    const char *dir = t->owner->cfg->state_dir;
    if (dir[0]) {
        t->state_path[0] = '\0';
        memset(&t->base, 0, sizeof(t->base));
        baseline_path(dir, t->asset_name, t->url, t->state_path, sizeof(t->state_path));
        if (baseline_load(t->state_path, &t->base) < 0)
            log_warn("check %s: cannot read its baseline %s: %m; learning it again", t->url,
                     t->state_path);
    }
    /* A page hashed under other masks cannot be compared: learn it again
     * (the operator changed check_mask, usually to silence a dynamic part). */
    if (t->base.have_page && t->base.masks_id != t->masks_id) {
        log_info("check %s: check_mask changed, learning the page again", t->url);
        t->base.have_page = false;
        memset(&t->base.page, 0, sizeof(t->base.page));
    }
    /* A baseline learned under another pin is not this page's. */
    if (a->check->has_baseline[url_index] && t->base.have_page &&
        memcmp(t->base.page.sha256, a->check->baseline[url_index], 32) != 0) {
        t->base.have_page = false;
        memset(&t->base.page, 0, sizeof(t->base.page));
    }
    return 0;
}

static struct check_target *target_new(struct check *c, const struct asset *a, size_t url_index)
{
    struct check_target *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->owner = c;
    snprintf(t->asset_name, sizeof(t->asset_name), "%s", a->name);
    snprintf(t->url, sizeof(t->url), "%s", a->check->url[url_index]);
    t->fetch = fetch_new(c->fetcher, on_fetched, t);
    t->ev_next = evtimer_new(c->base, on_due, t);
    if (!t->fetch || !t->ev_next || target_configure(t, a, url_index) < 0) {
        target_free(t);
        return NULL;
    }
    return t;
}

static struct check_target *find_target(struct check *c, const char *asset, const char *url)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->t[i]->asset_name, asset) == 0 && strcmp(c->t[i]->url, url) == 0)
            return c->t[i];
    return NULL;
}

/* Build the target list from the pipeline's assets, keeping the state of
 * URLs already checked.  -1 with why set, the list unchanged, when the
 * first URLs cannot have a fetcher (libcurl) or memory runs out. */
static int sync_targets(struct check *c, uint64_t now_us, char *why, size_t size)
{
    const struct assets *as = pipeline_assets(c->pl);
    size_t want = 0;
    for (size_t i = 0; i < as->n; i++)
        if (as->v[i].check)
            want += as->v[i].check->n_url;
    /* libcurl is loaded by the first URL, not before: an agent without
     * checks never maps it (docs/performance.md, "Agent start-up"). */
    if (want && !c->fetcher) {
        c->fetcher = fetcher_new(c->base, why, size);
        if (!c->fetcher)
            return -1;
    }
    struct check_target **next = calloc(want ? want : 1, sizeof(*next));
    if (!next) {
        snprintf(why, size, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < c->n; i++)
        c->t[i]->keep = false;
    size_t n = 0;
    for (size_t i = 0; i < as->n; i++) {
        const struct asset *a = &as->v[i];
        for (size_t u = 0; a->check && u < a->check->n_url; u++) {
            struct check_target *t = find_target(c, a->name, a->check->url[u]);
            if (t && !t->keep) {
                t->keep = true;
                if (target_configure(t, a, u) < 0)
                    log_warn("check %s: masks no longer compile; checking without them", t->url);
            } else {
                t = target_new(c, a, u);
                if (!t) {
                    log_err("check %s: cannot set it up (out of memory)", a->check->url[u]);
                    continue;
                }
                t->keep = true;
                /* Spread the first checks over the interval (at most 10 s)
                 * so a hundred URLs do not start in the same millisecond. */
                uint64_t spread =
                    a->check->interval_us < 10000000u ? a->check->interval_us : 10000000u;
                schedule(t, want ? spread * n / want : 0);
            }
            next[n++] = t;
        }
    }
    for (size_t i = 0; i < c->n; i++)
        if (!c->t[i]->keep) {
            verdict_end_all(c->t[i], now_us);
            target_free(c->t[i]);
        }
    free(c->t);
    c->t = next;
    c->n = n;
    return 0;
}

static void stats_hook(void *ctx, json_t *out)
{
    check_stats(ctx, out);
}

struct check *check_new(struct event_base *base, const struct agent_config *cfg,
                        struct pipeline *pl, char *why, size_t size)
{
    struct check *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(why, size, "out of memory");
        return NULL;
    }
    c->base = base;
    c->cfg = cfg;
    c->pl = pl;
    verdict_init_rules(c);
    load_markers(c);
    if (sync_targets(c, units_now_us(), why, size) < 0) {
        check_free(c);
        return NULL;
    }
    if (c->n)
        log_info("checks: %zu URLs", c->n);
    if (c->n && !cfg->state_dir[0])
        log_warn("checks: no [agent] state_dir: page baselines are kept in memory and learned "
                 "again at each start");
    pipeline_set_stats_hook(pl, stats_hook, c);
    return c;
}

void check_reload(struct check *c)
{
    if (!c)
        return;
    load_markers(c);
    if (c->fetcher)
        fetcher_reset_stores(c->fetcher);
    char why[512];
    if (sync_targets(c, units_now_us(), why, sizeof(why)) < 0)
        log_err("checks: reload failed: %s; keeping the %zu URLs checked so far", why, c->n);
    else
        log_info("checks: %zu URLs after reload", c->n);
}

void check_finish(struct check *c, uint64_t now_us)
{
    if (!c)
        return;
    /* No check may report after its findings are closed. */
    for (size_t i = 0; i < c->n; i++) {
        evtimer_del(c->t[i]->ev_next);
        fetch_cancel(c->t[i]->fetch);
        verdict_end_all(c->t[i], now_us);
    }
    if (c->done)
        log_info("checks: %llu done, %llu failed, latency mean %.1f ms, max %.1f ms",
                 (unsigned long long)c->done, (unsigned long long)c->failed,
                 (double)c->latency_sum_us / (double)c->done / 1e3,
                 (double)c->latency_max_us / 1e3);
}

void check_stats(struct check *c, json_t *out)
{
    json_t *s = json_object();
    json_object_set_new(s, "urls", json_integer((json_int_t)c->n));
    json_object_set_new(s, "done", json_integer((json_int_t)c->done));
    json_object_set_new(s, "failed", json_integer((json_int_t)c->failed));
    json_object_set_new(s, "in_flight",
                        json_integer((json_int_t)(c->fetcher ? fetcher_active(c->fetcher) : 0)));
    json_object_set_new(
        s, "latency_ms_mean",
        json_real(c->done ? (double)c->latency_sum_us / (double)c->done / 1e3 : 0.0));
    json_object_set_new(s, "latency_ms_max", json_real((double)c->latency_max_us / 1e3));
    json_object_set_new(out, "checks", s);
}

void check_free(struct check *c)
{
    if (!c)
        return;
    pipeline_set_stats_hook(c->pl, NULL, NULL);
    for (size_t i = 0; i < c->n; i++)
        target_free(c->t[i]);
    free(c->t);
    page_markers_free(&c->markers);
    fetcher_free(c->fetcher);
    free(c);
}
