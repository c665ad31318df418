/* finding.c — see finding.h. */
#include "agent/detect/finding.h"

#include <string.h>

static uint64_t finding_seq_counter;

uint64_t finding_next_seq(void)
{
    return ++finding_seq_counter;
}

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

enum finding_due finding_due(const struct finding_life *f, const struct rule *r, bool news,
                             uint64_t now_us)
{
    if (finding_end_due(f, now_us, r->hold_down_us))
        return FINDING_DUE_END;
    if (news && finding_update_due(f, now_us, r->update_interval_us))
        return FINDING_DUE_UPDATE;
    return FINDING_DUE_NOTHING;
}

void finding_count(struct finding_counts *c, enum finding_state s)
{
    switch (s) {
    case FINDING_NEW:
        c->opened++;
        break;
    case FINDING_UPDATE:
        c->updates++;
        break;
    case FINDING_END:
        c->ends++;
        break;
    }
}

void finding_counts_json(const struct finding_counts *c, json_t *out)
{
    json_object_set_new(out, "findings", json_integer((json_int_t)c->opened));
    json_object_set_new(out, "updates", json_integer((json_int_t)c->updates));
    json_object_set_new(out, "ends", json_integer((json_int_t)c->ends));
    json_object_set_new(out, "suppressed_findings", json_integer((json_int_t)c->suppressed));
}

void finding_source_emit(const struct finding_source *s, void *item, enum finding_state state,
                         uint64_t now_us)
{
    s->emit(s->det, item, state, now_us);
    if (s->counts)
        finding_count(s->counts, state);
    if (state == FINDING_END && s->ended)
        s->ended(s->det, item, now_us);
}

void finding_walk_tick(const struct finding_source *s, uint64_t now_us)
{
    for (void *item = s->next(s->det, NULL), *nx; item; item = nx) {
        nx = s->next(s->det, item);
        struct finding_life *life = s->life(s->det, item);
        if (!finding_is_open(life))
            continue;
        bool news = !s->news || s->news(s->det, item);
        switch (finding_due(life, s->rule(s->det, item), news, now_us)) {
        case FINDING_DUE_END:
            finding_source_emit(s, item, FINDING_END, now_us);
            break;
        case FINDING_DUE_UPDATE:
            finding_source_emit(s, item, FINDING_UPDATE, now_us);
            break;
        case FINDING_DUE_NOTHING:
            break;
        }
    }
}

void finding_walk_flush(const struct finding_source *s, uint64_t now_us)
{
    for (void *item = s->next(s->det, NULL), *nx; item; item = nx) {
        nx = s->next(s->det, item);
        if (finding_is_open(s->life(s->det, item)))
            finding_source_emit(s, item, FINDING_END, now_us);
    }
}

void finding_walk_reload(const struct finding_source *s, bool (*remap)(void *det, void *item),
                         uint64_t now_us)
{
    for (void *item = s->next(s->det, NULL), *nx; item; item = nx) {
        nx = s->next(s->det, item);
        if (finding_is_open(s->life(s->det, item)) && !remap(s->det, item))
            finding_source_emit(s, item, FINDING_END, now_us);
    }
}
