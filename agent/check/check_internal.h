/* check_internal.h — what check.c (scheduling, targets, reload) and
 * verdict.c (decisions, findings) share. */
#ifndef CANH_CHECK_INTERNAL_H
#define CANH_CHECK_INTERNAL_H

#include "agent/check/baseline.h"
#include "agent/check/check.h"
#include "agent/check/fetch.h"
#include "agent/check/page.h"
#include "agent/detect/finding.h"
#include "common/assets_conf.h"

/* Consecutive failed checks before site_down opens: one lost answer is
 * not an outage. */
#define CHECK_DOWN_AFTER 2
/* A certificate that expires sooner is reported (operator.software). */
#define CHECK_EXPIRY_WARNING_S (14 * 86400)
#define CHECK_TIMEOUT_US 10000000ull
#define CHECK_MAX_IN_FLIGHT 16

enum check_kind {
    CK_PAGE_CHANGED,
    CK_DEFACEMENT,
    CK_CONTENT_INJECTED,
    CK_DNS_CHANGED,
    CK_TLS_CHANGED,
    CK_TLS_EXPIRY,
    CK_SITE_DOWN,
    CK_COUNT
};

struct check_finding {
    struct finding_life life;
    json_t *evidence; /* of the latest bad check */
    uint64_t bad_checks;
};

struct check_target {
    struct check *owner;
    char asset_name[64];
    const struct asset *asset;     /* refreshed on reload */
    const struct asset_check *cfg; /* asset->check */
    size_t url_index;
    char url[ASSET_CHECK_URL_MAX];
    char state_path[1024]; /* "" without a state dir */
    struct page_masks masks;
    uint64_t masks_id; /* hash of the check_mask list */
    struct check_baseline base;
    struct fetch *fetch;
    struct event *ev_next;
    unsigned failures_in_row;
    uint64_t checks_done; /* of this URL since the agent started */
    struct ipaddr last_ip;
    bool has_last_ip;
    struct check_finding f[CK_COUNT];
    bool keep; /* reload: still declared */
};

struct check {
    struct event_base *base;
    const struct agent_config *cfg;
    struct pipeline *pl;
    struct fetcher *fetcher;
    struct check_target **t;
    size_t n;
    struct page_markers markers;
    struct rule builtin[CK_COUNT];
    uint64_t done, failed, latency_sum_us, latency_max_us;
};

/* verdict.c */
void verdict_init_rules(struct check *c);
/* One finished fetch of t: compare, learn, emit. */
void verdict_apply(struct check_target *t, const struct fetch_result *r, uint64_t now_us);
/* End t's open findings (shutdown, URL removed). */
void verdict_end_all(struct check_target *t, uint64_t now_us);
void verdict_free(struct check_target *t);

#endif
