/* scan_rules.h — the rule keys portscan and sweep share, and the per-rule
 * windows their entries keep.
 *
 * Both detectors read one threshold rule per section ("ports =" for
 * portscan, "hosts =" for sweep) with "window =" and "min_span =", and the
 * table settings (table_size, pending_size, hll_precision, idle_timeout,
 * emergency_idle_timeout) from their first rule only; docs/rules-scan.md
 * documents every key.
 */
#ifndef CANH_SCAN_RULES_H
#define CANH_SCAN_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include "common/config.h"

#define SCAN_MAX_RULES 4

struct scan_rule_params {
    struct rule *rule;
    uint64_t window_us;   /* distinct count is taken over this window */
    uint64_t min_span_us; /* the activity must have lasted this long */
    uint64_t threshold;   /* distinct ports / hosts */
};

struct scan_params {
    const char *detector;
    struct scan_rule_params r[SCAN_MAX_RULES];
    uint32_t n; /* rules, enabled or not (a disabled one never fires) */
    uint64_t table_size;
    uint64_t pending_size; /* doorkeeper records */
    uint64_t hll_precision;
    uint64_t idle_us, emergency_idle_us;
    uint64_t longest_window_us;
    uint64_t max_targets_per_src; /* portscan only; 0 elsewhere */
};

struct scan_defaults {
    const char *detector;
    const char *threshold_key; /* "ports" / "hosts" */
    uint64_t threshold, window_us, table_size, hll_precision;
    bool per_src_cap; /* read max_targets_per_src */
};

/* The two scan detectors' defaults, side by side (docs/rules-scan.md). */
enum scan_rules_kind { SCAN_RULES_PORTSCAN, SCAN_RULES_SWEEP };
extern const struct scan_defaults scan_rules_defaults[2];

/* Read every rule of the detector; -1 with err as "file:line: message". */
int scan_params_load(struct ruleset *rs, const struct scan_defaults *d, struct scan_params *out,
                     struct cfg_err *err);
/* The index of the rule named like old in p, or -1. */
int scan_params_find(const struct scan_params *p, const struct rule *old);

/* A rule's window inside an entry: start (ms after the entry's first
 * packet) and the distinct count when it started. */
struct scan_window {
    uint32_t start_ms;
    uint16_t base;
};

/* The distinct count inside rule rp's window, restarting the window when
 * it has run out.  Counts grow monotonically within an entry's life. */
static inline uint32_t scan_window_count(struct scan_window *w, const struct scan_rule_params *rp,
                                         uint64_t first_us, uint64_t now_us, uint32_t count)
{
    uint64_t age_us = now_us > first_us ? now_us - first_us : 0;
    if (age_us - (uint64_t)w->start_ms * 1000 >= rp->window_us) {
        w->start_ms = (uint32_t)(age_us / 1000);
        w->base = (uint16_t)(count > 0xffff ? 0xffff : count);
    }
    return count > w->base ? count - w->base : 0;
}

/* Does the rule fire for this count now? */
static inline bool scan_rule_fires(const struct scan_rule_params *rp, struct scan_window *w,
                                   uint64_t first_us, uint64_t now_us, uint32_t count)
{
    if (!rp->rule->enabled)
        return false;
    uint32_t in_window = scan_window_count(w, rp, first_us, now_us, count);
    return in_window >= rp->threshold && now_us - first_us >= rp->min_span_us;
}

#endif
