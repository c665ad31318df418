/* scan_rules.c — see scan_rules.h. */
#include "agent/detect/scan/scan_rules.h"

#include <string.h>

#include "agent/detect/sketch.h"

const struct scan_defaults scan_rules_defaults[2] = {
    /* detector, threshold key, threshold, window, table_size, hll_precision, per_src_cap */
    [SCAN_RULES_PORTSCAN] = {"portscan", "ports", 25, 60ull * 1000000, 32768, 7, true},
    [SCAN_RULES_SWEEP] = {"sweep", "hosts", 20, 60ull * 1000000, 16384, 7, false},
};

/* Table keys are one setting for the whole detector: they belong in its
 * first rule, and writing them elsewhere is a mistake worth a message. */
static const char *const table_keys[] = {"table_size",          "hll_precision",
                                         "idle_timeout",        "emergency_idle_timeout",
                                         "max_targets_per_src", "pending_size"};

static int read_table_keys(struct rule *r, const struct scan_defaults *d, struct scan_params *p,
                           struct cfg_err *err)
{
    if (rule_get_count(r, "table_size", d->table_size, 64, 16u << 20, &p->table_size, err) < 0 ||
        rule_get_count(r, "hll_precision", d->hll_precision, 4, HLL_MAX_P, &p->hll_precision, err) <
            0 ||
        rule_get_duration(r, "idle_timeout", 600ull * 1000000, &p->idle_us, err) < 0 ||
        rule_get_duration(r, "emergency_idle_timeout", 60ull * 1000000, &p->emergency_idle_us,
                          err) < 0)
        return -1;
    /* The doorkeeper: by default twice the table, so one-packet keys churn
     * there rather than in the table (docs/rules-scan.md). */
    uint64_t pending_default = p->table_size * 2 < (16u << 20) ? p->table_size * 2 : 16u << 20;
    if (rule_get_count(r, "pending_size", pending_default, 64, 16u << 20, &p->pending_size, err) <
        0)
        return -1;
    if (d->per_src_cap &&
        rule_get_count(r, "max_targets_per_src", 8, 1, 100000, &p->max_targets_per_src, err) < 0)
        return -1;
    if (p->idle_us < 1000000)
        return cfg_fail(err, r->file, rule_key_line(r, "idle_timeout"),
                        "idle_timeout: must be at least 1s");
    return 0;
}

int scan_params_load(struct ruleset *rs, const struct scan_defaults *d, struct scan_params *out,
                     struct cfg_err *err)
{
    memset(out, 0, sizeof(*out));
    out->detector = d->detector;
    out->table_size = d->table_size;
    out->pending_size = d->table_size * 2;
    out->hll_precision = d->hll_precision;
    out->idle_us = 600ull * 1000000;
    out->emergency_idle_us = 60ull * 1000000;
    out->max_targets_per_src = d->per_src_cap ? 8 : 0;
    size_t cursor = 0;
    struct rule *r;
    while ((r = ruleset_next(rs, d->detector, &cursor))) {
        if (out->n == SCAN_MAX_RULES)
            return cfg_fail(err, r->file, r->line, "[%s]: at most %d %s rules are supported",
                            r->name, SCAN_MAX_RULES, d->detector);
        if (out->n == 0) {
            if (read_table_keys(r, d, out, err) < 0)
                return -1;
        } else {
            for (size_t k = 0; k < sizeof(table_keys) / sizeof(table_keys[0]); k++) {
                if (!d->per_src_cap && strcmp(table_keys[k], "max_targets_per_src") == 0)
                    continue;
                if (rule_get_string(r, table_keys[k]))
                    return cfg_fail(err, r->file, rule_key_line(r, table_keys[k]),
                                    "%s: a table setting; write it in the first %s rule, [%s]",
                                    table_keys[k], d->detector, out->r[0].rule->name);
            }
        }
        struct scan_rule_params *rp = &out->r[out->n];
        rp->rule = r;
        if (rule_get_duration(r, "window", d->window_us, &rp->window_us, err) < 0 ||
            rule_get_duration(r, "min_span", 0, &rp->min_span_us, err) < 0 ||
            rule_get_count(r, d->threshold_key, d->threshold, 2, 65535, &rp->threshold, err) < 0)
            return -1;
        if (rp->window_us < 1000000 || rp->window_us > 24ull * 3600 * 1000000)
            return cfg_fail(err, r->file, rule_key_line(r, "window"),
                            "window: must be between 1s and 24h");
        if (rp->min_span_us >= rp->window_us)
            return cfg_fail(err, r->file, rule_key_line(r, "min_span"),
                            "min_span: must be shorter than window");
        if (rp->window_us > out->longest_window_us)
            out->longest_window_us = rp->window_us;
        out->n++;
    }
    return 0;
}

int scan_params_find(const struct scan_params *p, const struct rule *old)
{
    for (uint32_t i = 0; i < p->n; i++)
        if (strcmp(p->r[i].rule->name, old->name) == 0)
            return (int)i;
    return -1;
}
