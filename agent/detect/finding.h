/* finding.h — the lifecycle every finding follows (DESIGN §4.3).
 *
 * One attack is one finding: emitted once as "new", then at most every
 * update_interval as "update" while it goes on, then once as "end" after
 * hold_down of quiet.  Detectors embed a struct finding_life in their
 * per-entity state and ask it what is due; this keeps the no-storm rule in
 * one place.
 */
#ifndef CANH_FINDING_H
#define CANH_FINDING_H

#include <stdbool.h>
#include <stdint.h>

#include "common/event.h"

struct finding_life {
    uint64_t seq;          /* 0: no finding open */
    uint64_t first_us;     /* first evidence */
    uint64_t last_us;      /* latest evidence */
    uint64_t last_emit_us; /* time of the last new/update */
};

/* A process-wide sequence for finding ids (never 0). */
uint64_t finding_next_seq(void);

static inline bool finding_is_open(const struct finding_life *f) { return f->seq != 0; }

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
void finding_fill(struct finding_life *f, struct evt *ev, enum finding_state state, uint64_t now_us);

#endif
