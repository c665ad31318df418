/* ctl_drill.h — canh-ctl drill create|list|end|report (docs/drills.md).
 *
 * The drill records live in the hash canh:drills (common/drill.h); the
 * after-action report is read from what the collector already keeps: the
 * announcements of canh:incidents (the drill's incidents, tagged exercise,
 * and the scope breaches, tagged drill_breach) and each incident's log
 * canh:log:<id> (acknowledged, confirmed, delivered to a route,
 * report_drafted).
 */
#ifndef CANH_TOOLS_CTL_DRILL_H
#define CANH_TOOLS_CTL_DRILL_H

#include <hiredis/hiredis.h>
#include <stdbool.h>

struct drill_opts {
    const char *name, *from, *until, *duration, *scenario;
    const char *targets;  /* comma list (--target, repeatable) */
    const char *red_team; /* comma list (--red-team, repeatable) */
    const char *operator_name;
    bool json;
};

/* Checks the subcommand and its arguments (exit status 2 with a message
 * on a mistake, else 0) before anything connects. */
int ctl_drill_check(const struct drill_opts *o, int nargs, char **args);
/* Runs it on r: 0, or canh-ctl's exit status (1 Redis, 3 unknown drill). */
int ctl_drill_run(redisContext *r, const struct drill_opts *o, int nargs, char **args);

#endif
