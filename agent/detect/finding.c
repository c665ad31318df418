/* finding.c — see finding.h. */
#include "agent/detect/finding.h"

#include <string.h>

static uint64_t finding_seq_counter;

uint64_t finding_next_seq(void) { return ++finding_seq_counter; }

void finding_open(struct finding_life *f, uint64_t first_us, uint64_t now_us)
{
    f->seq = finding_next_seq();
    f->first_us = first_us;
    f->last_us = now_us;
    f->last_emit_us = 0;
}

bool finding_update_due(const struct finding_life *f, uint64_t now_us, uint64_t interval_us)
{
    return finding_is_open(f) && now_us >= f->last_emit_us + interval_us;
}

bool finding_end_due(const struct finding_life *f, uint64_t now_us, uint64_t hold_down_us)
{
    return finding_is_open(f) && now_us >= f->last_us + hold_down_us;
}

void finding_fill(struct finding_life *f, struct evt *ev, enum finding_state state, uint64_t now_us)
{
    ev->state = state;
    ev->finding_seq = f->seq;
    ev->ts_us = now_us;
    ev->first_seen_us = f->first_us;
    ev->last_seen_us = f->last_us;
    if (state == FINDING_END)
        f->seq = 0;
    else
        f->last_emit_us = now_us;
}
