/* finding.h — the lifecycle every finding follows (architecture §4.3).
 *
 * One attack is one finding: emitted once as "new", then at most every
 * update_interval as "update" while it goes on, then once as "end" after
 * hold_down of quiet.  Detectors embed a struct finding_life in their
 * per-entity state and ask it what is due; this keeps the no-storm rule in
 * one place.
 */
#ifndef CANH_FINDING_H
#define CANH_FINDING_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/config.h"
#include "common/event.h"

struct finding_life {
    uint64_t seq;          /* 0: no finding open */
    uint64_t first_us;     /* first evidence */
    uint64_t last_us;      /* latest evidence */
    uint64_t last_emit_us; /* time of the last new/update */
};

/* A process-wide sequence for finding ids (never 0). */
uint64_t finding_next_seq(void);

static inline bool finding_is_open(const struct finding_life *f)
{
    return f->seq != 0;
}

/* Open a finding (call when the threshold is first crossed). */
void finding_open(struct finding_life *f, uint64_t first_us, uint64_t now_us);
/* Record fresh evidence at now. */
static inline void finding_touch(struct finding_life *f, uint64_t now_us)
{
    if (now_us > f->last_us)
        f->last_us = now_us;
}
/* An update is due: open, interval passed since the last emission. */
bool finding_update_due(const struct finding_life *f, uint64_t now_us, uint64_t interval_us);
/* The end is due: open and quiet for hold_down. */
bool finding_end_due(const struct finding_life *f, uint64_t now_us, uint64_t hold_down_us);

/* Fill the lifecycle fields of ev (state, seq, times) for an emission now;
 * marks the emission time, and closes the finding after FINDING_END. */
void finding_fill(struct finding_life *f, struct evt *ev, enum finding_state state,
                  uint64_t now_us);

/* ---- the walk every detector's tick, flush and reload share ----------- */

/* What the lifecycle owes an open finding now under its rule: END after
 * hold_down of quiet; UPDATE when there is news (counters moved since the
 * last emission) and update_interval has passed; otherwise nothing. */
enum finding_due { FINDING_DUE_NOTHING, FINDING_DUE_UPDATE, FINDING_DUE_END };
enum finding_due finding_due(const struct finding_life *f, const struct rule *r, bool news,
                             uint64_t now_us);

/* The counters every detector reports under the same names in stats. */
struct finding_counts {
    uint64_t opened, updates, ends;
    uint64_t suppressed; /* threshold crossed by an allowed source: counted only */
};
/* Count one emission of state s. */
void finding_count(struct finding_counts *c, enum finding_state s);
/* Adds "findings", "updates", "ends", "suppressed_findings" to out. */
void finding_counts_json(const struct finding_counts *c, json_t *out);

/* A detector's open findings as the shared walk sees them.  item is the
 * detector's own per-finding state; the walk never looks inside it. */
struct finding_source {
    void *det;
    /* The open finding after cursor (NULL: the first); NULL at the end.
     * The walk asks for the next one before it emits, so emit and ended
     * may unlink the current item. */
    void *(*next)(void *det, void *cursor);
    struct finding_life *(*life)(void *det, void *item);
    const struct rule *(*rule)(void *det, void *item);
    /* Counters moved since the last emission; NULL: always. */
    bool (*news)(void *det, void *item);
    /* Build and hand out the event of state (finding_fill does the times). */
    void (*emit)(void *det, void *item, enum finding_state state, uint64_t now_us);
    /* After END: reset the item's windows or free its slot; may be NULL. */
    void (*ended)(void *det, void *item, uint64_t now_us);
    struct finding_counts *counts;
};

/* One emission outside the walk (a finding opened on a packet, ended by
 * an eviction): emit, count it, and after END call ended, as the walk
 * does. */
void finding_source_emit(const struct finding_source *s, void *item, enum finding_state state,
                         uint64_t now_us);

/* Tick: end what is quiet, update what has news (finding_due). */
void finding_walk_tick(const struct finding_source *s, uint64_t now_us);
/* Shutdown or end of input: end every open finding. */
void finding_walk_flush(const struct finding_source *s, uint64_t now_us);
/* Reload: remap() points the item at its rule in the new set and returns
 * true, or returns false when that rule is gone: the finding ends now,
 * while the old rule text is still alive. */
void finding_walk_reload(const struct finding_source *s, bool (*remap)(void *det, void *item),
                         uint64_t now_us);

#endif
