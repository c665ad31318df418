/* scan_detector.c — see scan_detector.h. */
#include "agent/detect/scan/scan_detector.h"

#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "agent/detect/sketch.h"
#include "common/hash.h"
#include "common/log.h"

/* ---- the finding of an entry, as finding.h's walk sees it -------------------- */

static void *open_next(void *det, void *cursor)
{
    struct scan_detector *d = det;
    return cursor ? scan_table_open_next(&d->table, cursor) : scan_table_open_first(&d->table);
}

static struct finding_life *entry_life(void *det, void *item)
{
    (void)det;
    return &((struct scan_head *)item)->life;
}

static const struct rule *entry_rule(void *det, void *item)
{
    struct scan_detector *d = det;
    return d->p.r[((struct scan_entry *)item)->rule].rule;
}

static bool entry_news(void *det, void *item)
{
    (void)det;
    const struct scan_entry *e = item;
    return e->probes != e->emitted_probes;
}

static void entry_emit(void *det, void *item, enum finding_state state, uint64_t now_us)
{
    struct scan_detector *d = det;
    struct scan_entry *e = item;
    const char *name = d->kind->defaults->detector;
    struct evt ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = name;
    ev.rule = d->p.r[e->rule].rule;
    struct event_text_writer counters, evidence;
    event_text_start(&counters, &d->counters, JSON_COMPACT);
    event_text_start(&evidence, &d->evidence, JSON_COMPACT);
    event_text_object(&counters, NULL);
    event_text_object(&evidence, NULL);
    d->kind->describe(d, e, state, &ev, &counters, &evidence);
    event_text_object_end(&counters);
    event_text_object_end(&evidence);
    bool written = event_text_finish(&counters) == 0;
    written = event_text_finish(&evidence) == 0 && written;
    ev.counters_text = d->counters.buf;
    ev.counters_len = d->counters.len;
    ev.evidence_text = d->evidence.buf;
    ev.evidence_len = d->evidence.len;
    finding_fill(&e->head.life, &ev, state, now_us);
    e->emitted_probes = e->probes;
    if (written)
        d->env->emit(d->env->emit_ctx, &ev);
    else
        log_err("%s: out of memory building an event", name);
}

/* After the end: off the open list, and a fresh window. */
static void entry_ended(void *det, void *item, uint64_t now_us)
{
    struct scan_detector *d = det;
    scan_table_open_unlink(&d->table, item);
    scan_detector_restart(d, item, now_us);
}

/* The table is about to give up an entry with an open finding: end it. */
static void on_evict(void *ctx, struct scan_head *h, uint64_t now_us)
{
    struct scan_detector *d = ctx;
    finding_source_emit(&d->findings, h, FINDING_END, now_us);
}

/* ---- entries ------------------------------------------------------------------ */

static uint8_t *regs_at(const struct scan_detector *d, uint32_t i)
{
    return d->regs + ((size_t)i << d->hll_p);
}

uint8_t *scan_detector_regs(struct scan_detector *d, struct scan_entry *e)
{
    if (!e->regs) {
        uint32_t i;
        if (d->regs_free) {
            i = d->regs_free - 1;
            memcpy(&d->regs_free, regs_at(d, i), sizeof(d->regs_free));
        } else {
            i = d->regs_used++; /* at most one block a slot: always < capacity */
        }
        memset(regs_at(d, i), 0, (size_t)1 << d->hll_p);
        hll_sum_clear(&d->sums[i], d->hll_p);
        e->regs = i + 1;
        d->regs_held++;
    }
    return regs_at(d, e->regs - 1);
}

struct hll_sum *scan_detector_sum(struct scan_detector *d, struct scan_entry *e)
{
    return &d->sums[e->regs - 1];
}

/* A restart (and a slot taken by a new key) ends the registers' use. */
static void regs_release(struct scan_detector *d, struct scan_entry *e)
{
    if (!e->regs)
        return;
    memcpy(regs_at(d, e->regs - 1), &d->regs_free, sizeof(d->regs_free));
    d->regs_free = e->regs;
    e->regs = 0;
    d->regs_held--;
}

void scan_detector_restart(struct scan_detector *d, struct scan_entry *e, uint64_t now_us)
{
    regs_release(d, e);
    memset(&e->first_us, 0, d->kind->reset_end - offsetof(struct scan_entry, first_us));
    e->first_us = now_us;
    scan_table_set_score(&d->table, &e->head, 0);
}

/* Every rule window starts again at at_us from the entry's count then. */
static void restart_windows(struct scan_entry *e, uint64_t at_us)
{
    uint32_t age_ms = (uint32_t)((at_us > e->first_us ? at_us - e->first_us : 0) / 1000);
    for (int i = 0; i < SCAN_MAX_RULES; i++) {
        e->win_start_ms[i] = age_ms;
        e->win_base[i] = (uint16_t)e->head.score;
    }
}

static uint8_t *pending_flags(const struct scan_detector *d, const struct scan_pending *pd)
{
    return (uint8_t *)pd + d->kind->pending_flags;
}

/* Admit a pending key: its entry as it would be after the first packet
 * (and the answers and reloads since). */
static struct scan_entry *admit(struct scan_detector *d, struct scan_pending *pd,
                                const uint8_t key[SCAN_KEY_LEN], uint64_t h, uint64_t now_us)
{
    bool created;
    struct scan_entry *e = scan_table_get(&d->table, key, h, now_us, &created);
    scan_detector_restart(d, e, pd->first_us);
    d->kind->replay(d, e, pd);
    if (*pending_flags(d, pd) & SCAN_PENDING_RELOADED)
        restart_windows(e, d->reload_us);
    scan_table_pending_admit(&d->table, pd);
    return e;
}

struct scan_entry *scan_detector_found(struct scan_detector *d, struct scan_entry *e,
                                       uint64_t now_us)
{
    if (!finding_is_open(&e->head.life) && now_us - e->first_us > d->p.longest_window_us) {
        /* Its windows all ran out: start over, keeping the flags its kind
         * keeps. */
        uint8_t keep = e->flags & d->kind->keep_flags;
        scan_detector_restart(d, e, now_us);
        e->flags = keep;
    }
    scan_table_touch(&d->table, &e->head, now_us);
    return e;
}

struct scan_entry *scan_detector_admit(struct scan_detector *d, struct scan_pending *pd,
                                       const uint8_t key[SCAN_KEY_LEN], uint64_t h, uint64_t now_us)
{
    struct scan_entry *e = admit(d, pd, key, h, now_us);
    scan_table_touch(&d->table, &e->head, now_us);
    return e;
}

void scan_detector_count_excess(uint8_t *reg, struct hll_sum *sum, uint8_t p, uint32_t cap,
                                uint64_t hash, uint16_t *count)
{
    struct hll h = {.p = p, .reg = reg};
    double est;
    if (sum) {
        if (!hll_add_hash_sum(&h, sum, hash))
            return;
        est = cap + hll_estimate_sum(&h, sum) + 0.5;
    } else {
        if (!hll_add_hash(&h, hash))
            return;
        est = cap + hll_estimate(&h) + 0.5;
    }
    *count = est > 65535 ? 65535 : (uint16_t)est;
}

/* Is port among exact[0..n)?  SSE2 compares eight at a time (the loads
 * stay inside exact[0..cap); lanes from n on hold stale ports and are
 * masked off); elsewhere, and for a tail of fewer than 8, a loop. */
static inline bool exact_has(const uint16_t *exact, uint32_t n, uint32_t cap, uint16_t port)
{
    uint32_t i = 0;
#if defined(__SSE2__)
    __m128i want = _mm_set1_epi16((short)port);
    for (; i < n && i + 8 <= cap; i += 8) {
        __m128i v = _mm_loadu_si128((const __m128i *)(exact + i));
        uint32_t m = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi16(v, want));
        if (n - i < 8)
            m &= (1u << (2 * (n - i))) - 1;
        if (m)
            return true;
    }
#endif
    for (; i < n; i++)
        if (exact[i] == port)
            return true;
    return false;
}

/* Inlined into the detectors' probe path (with link-time optimisation, in
 * a Release build): most calls only search exact[]. */
__attribute__((always_inline)) inline void scan_detector_count_port(struct scan_detector *d,
                                                                    uint16_t *exact, uint8_t *n,
                                                                    uint8_t cap, uint8_t *reg,
                                                                    struct hll_sum *sum, uint8_t p,
                                                                    uint16_t port, uint16_t *count)
{
    if (exact_has(exact, *n, cap, port))
        return;
    if (*n < cap) {
        exact[(*n)++] = port;
        *count = *n;
        if (*n == cap) { /* the next new port goes to the HyperLogLog */
            memset(reg, 0, (size_t)1 << p);
            if (sum)
                hll_sum_clear(sum, p);
        }
        return;
    }
    scan_detector_count_excess(reg, sum, p, cap, hash_mix64(d->table.seed ^ port), count);
}

/* A rule fired: open the finding, unless the source is allowed or the
 * detector's cap says no. */
static void rule_fired(struct scan_detector *d, struct scan_entry *e, uint32_t ri, uint64_t now_us)
{
    struct ipaddr src;
    memcpy(src.b, e->head.key, 16);
    if (netset_contains(&d->p.r[ri].rule->allow, &src)) {
        d->allowed_scans++;
        e->flags |= SCAN_ENTRY_ALLOWED;
        return;
    }
    if (d->kind->may_open && !d->kind->may_open(d, e))
        return;
    e->rule = (uint8_t)ri;
    finding_open(&e->head.life, e->first_us, now_us);
    scan_table_open_link(&d->table, &e->head);
    finding_source_emit(&d->findings, e, FINDING_NEW, now_us);
}

/* Inlined into the detectors' probe path (with link-time optimisation):
 * it runs after every probe, most often to find nothing fires. */
__attribute__((always_inline)) inline void
scan_detector_evaluate(struct scan_detector *d, struct scan_entry *e, uint64_t now_us)
{
    if (finding_is_open(&e->head.life)) {
        finding_touch(&e->head.life, now_us);
        return;
    }
    if (e->flags & (SCAN_ENTRY_ALLOWED | SCAN_ENTRY_SUPPRESSED))
        return;
    for (uint32_t i = 0; i < d->p.n; i++) {
        struct scan_window w = {e->win_start_ms[i], e->win_base[i]};
        bool fires = scan_rule_fires(&d->p.r[i], &w, e->first_us, now_us, e->head.score);
        e->win_start_ms[i] = w.start_ms;
        e->win_base[i] = w.base;
        if (fires) {
            rule_fired(d, e, i, now_us);
            break;
        }
    }
}

/* ---- clock ------------------------------------------------------------------- */

void scan_detector_tick(void *self, uint64_t now_us)
{
    struct scan_detector *d = self;
    if (now_us > d->now_us)
        d->now_us = now_us;
    scan_table_tick(&d->table, d->now_us);
    finding_walk_tick(&d->findings, d->now_us);
}

void scan_detector_flush(void *self, uint64_t now_us)
{
    struct scan_detector *d = self;
    finding_walk_flush(&d->findings, now_us > d->now_us ? now_us : d->now_us);
}

/* ---- life cycle ------------------------------------------------------------------ */

int scan_detector_init(struct scan_detector *d, const struct scan_kind *kind, struct ruleset *rules,
                       const struct detect_env *env, struct cfg_err *err)
{
    const char *name = kind->defaults->detector;
    d->kind = kind;
    d->env = env;
    if (scan_params_load(rules, kind->defaults, &d->p, err) < 0)
        return -1;
    d->hll_p = (uint8_t)d->p.hll_precision;
    /* Without rules the detector is off: keep the smallest table. */
    uint32_t capacity = d->p.n ? (uint32_t)d->p.table_size : SCAN_WAYS;
    size_t entry_size = kind->entry_size;
    uint32_t pending = d->p.n ? (uint32_t)d->p.pending_size : 64;
    uint64_t seed = kind->seed_salt ? hash_mix64(env->hash_seed ^ kind->seed_salt) : env->hash_seed;
    if (scan_table_init(&d->table, capacity, entry_size, pending, kind->pending_size, seed,
                        on_evict, d) < 0) {
        cfg_fail(err, name, 0, "out of memory for a table of %u entries", capacity);
        return -1;
    }
    /* hll_p >= 4: a block holds the free list's next index. */
    d->regs = calloc(d->table.capacity, (size_t)1 << d->hll_p);
    d->sums = calloc(d->table.capacity, sizeof(*d->sums));
    if (!d->regs || !d->sums) {
        free(d->regs);
        free(d->sums);
        d->regs = NULL;
        d->sums = NULL;
        scan_table_free(&d->table);
        cfg_fail(err, name, 0, "out of memory for a table of %u entries", capacity);
        return -1;
    }
    d->table.idle_us = d->p.idle_us;
    d->table.emergency_idle_us = d->p.emergency_idle_us;
    d->malware = taxonomy_find("attack.malware");
    d->findings = (struct finding_source){
        .det = d,
        .next = open_next,
        .life = entry_life,
        .rule = entry_rule,
        .news = entry_news,
        .emit = entry_emit,
        .ended = entry_ended,
        .counts = &d->counts,
    };
    return 0;
}

void scan_detector_free(struct scan_detector *d)
{
    event_text_free(&d->counters);
    event_text_free(&d->evidence);
    scan_table_free(&d->table);
    free(d->regs);
    d->regs = NULL;
    free(d->sums);
    d->sums = NULL;
}

/* An open finding follows its rule by name into the new set. */
static bool remap(void *det, void *item)
{
    struct scan_detector *d = det;
    struct scan_entry *e = item;
    int idx = scan_params_find(d->reload_next, d->p.r[e->rule].rule);
    if (idx < 0)
        return false;
    e->rule = (uint8_t)idx;
    return true;
}

/* Every entry's rule windows restart under the new rules. */
static void reload_entry(void *ctx, struct scan_head *h)
{
    struct scan_detector *d = ctx;
    struct scan_entry *e = (struct scan_entry *)h;
    restart_windows(e, d->now_us);
    e->flags &= d->kind->keep_flags;
}

/* A pending key's windows restart too, when it is admitted. */
static void reload_pending(void *ctx, struct scan_pending *pd)
{
    *pending_flags(ctx, pd) |= SCAN_PENDING_RELOADED;
}

int scan_detector_reload(void *self, struct ruleset *rules, struct cfg_err *err)
{
    struct scan_detector *d = self;
    struct scan_params next;
    if (scan_params_load(rules, d->kind->defaults, &next, err) < 0)
        return -1;
    if (next.table_size != d->p.table_size || next.hll_precision != d->p.hll_precision ||
        next.pending_size != d->p.pending_size)
        log_warn("%s: table_size, pending_size and hll_precision changes take effect at restart",
                 d->kind->defaults->detector);
    next.table_size = d->p.table_size;
    next.pending_size = d->p.pending_size;
    next.hll_precision = d->p.hll_precision;
    /* A rule that is gone ends its findings now, while its old rule text
     * is still alive. */
    d->reload_next = &next;
    finding_walk_reload(&d->findings, remap, d->now_us);
    d->reload_next = NULL;
    scan_table_foreach(&d->table, d->now_us, reload_entry, d);
    scan_table_pending_foreach(&d->table, d->now_us, reload_pending, d);
    d->reload_us = d->now_us;
    d->p = next;
    d->table.idle_us = next.idle_us;
    d->table.emergency_idle_us = next.emergency_idle_us;
    return 0;
}

void scan_detector_describe_outward(const struct scan_detector *d, struct evt *ev,
                                    struct event_text_writer *evidence)
{
    ev->taxonomy = d->malware;
    event_text_string(evidence, "direction", "outbound");
}

void scan_detector_stats(void *self, json_t *out)
{
    struct scan_detector *d = self;
    scan_table_stats(&d->table, d->now_us, out);
    /* The table's slots and the register pool together. */
    json_int_t pool =
        (json_int_t)d->table.capacity * (json_int_t)((1u << d->hll_p) + sizeof(*d->sums));
    json_object_set_new(
        out, "table_bytes",
        json_integer(json_integer_value(json_object_get(out, "table_bytes")) + pool));
    json_object_set_new(out, "hll_blocks_held", json_integer(d->regs_held));
    json_object_set_new(out, "probes", json_integer((json_int_t)d->probes));
    json_object_set_new(out, "answers", json_integer((json_int_t)d->answers));
    finding_counts_json(&d->counts, out);
    json_object_set_new(out, "allowed_scans", json_integer((json_int_t)d->allowed_scans));
    json_object_set_new(out, "outward_probes", json_integer((json_int_t)d->outward_probes));
}
