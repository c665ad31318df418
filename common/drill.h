/* drill.h — a drill record (docs/drills.md): what canh-ctl drill create
 * writes to the Redis hash canh:drills (field: the drill id, value: this
 * JSON) and what the collector reads to tag live drill traffic.
 *
 * A drill has a window [start, end), targets (asset names or agencies, as
 * events name them in canh.asset.name and canh.agency), the red team's
 * source prefixes and a scenario text.  An event from a red-team source
 * inside the window against a target belongs to the drill; from a red-team
 * source against anything else, or outside the window (within
 * DRILL_GUARD_AFTER_US before or after it), it is a scope breach.  Pure functions:
 * no I/O.
 */
#ifndef CANH_DRILL_H
#define CANH_DRILL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "common/event.h"

#define DRILLS_KEY "canh:drills"
#define DRILL_MAX_TARGETS 32
#define DRILL_MAX_PREFIXES 32
#define DRILL_TEXT_MAX 2000
/* Red-team traffic this long before or after a drill's window still raises
 * a scope breach; further away, the prefixes are nobody's red team. */
#define DRILL_GUARD_AFTER_US (24ull * 3600 * 1000000)

struct drill {
    char id[EVENT_EXERCISE_MAX + 1];
    char name[200];
    uint64_t start_us, end_us;
    uint64_t created_us, ended_us; /* ended_us: canh-ctl drill end, 0 while running */
    char created_by[65];
    char targets[DRILL_MAX_TARGETS][129];
    size_t n_targets;
    struct cidr red_team[DRILL_MAX_PREFIXES];
    size_t n_red_team;
    char scenario[DRILL_TEXT_MAX + 1];
};

/* A new id: "d" + yyyymmdd-hhmmss (UTC) + "-" + 4 hex digits of rnd. */
void drill_new_id(uint64_t now_us, uint32_t rnd, char *buf, size_t len);

/* Fields from text: comma-separated targets and prefixes.  0, or -1 with
 * why ("red-team prefix 'x' is not an address or prefix"). */
int drill_set_targets(struct drill *d, const char *list, char *why, size_t why_len);
int drill_set_red_team(struct drill *d, const char *list, char *why, size_t why_len);

json_t *drill_to_json(const struct drill *d);
/* 0, or -1 with why when the JSON is not a drill record. */
int drill_from_json(const json_t *j, struct drill *d, char *why, size_t why_len);

bool drill_is_red_team(const struct drill *d, const struct ipaddr *src);
/* The event's asset name or agency is one of the drill's targets. */
bool drill_in_scope(const struct drill *d, const char *asset_name, const char *agency);
bool drill_in_window(const struct drill *d, uint64_t ts_us);

/* What an event from src at ts_us against asset/agency means for the
 * drills in v[0..n): */
enum drill_verdict {
    DRILL_NONE,   /* no drill's red team */
    DRILL_MEMBER, /* part of *which (exercise) */
    DRILL_BREACH  /* red team of *which outside its scope or window */
};
enum drill_verdict drill_judge(const struct drill *v, size_t n, const struct ipaddr *src,
                               uint64_t ts_us, const char *asset_name, const char *agency,
                               const struct drill **which);

#endif
