/* report_due.h — the initial and final reports along the lifecycle
 * (docs/reporting.md, "Deadlines").
 *
 * canh-ctl confirm asks for an initial report and canh-ctl resolve (of a
 * confirmed incident) for a final one, by adding "<id>/initial" or
 * "<id>/final" to canh:report_queue in the same script as the
 * transition.  This worker takes each request, decides with the
 * registry's policy whether the report is due (initial: confirmed
 * serious, or any confirmed incident with initial_for = confirmed;
 * final: an initial report was due), writes the draft
 * (<report dir>/<id>.initial|final.md/.json) and records it: the
 * incident hash gets report_<kind>_due_us and _drafted_us, canh:reports
 * gets the entry scored by its due time (ms), canh:log:<id> a
 * report_drafted entry.  canh-ctl report sent takes it off canh:reports.
 *
 * Deadlines follow Circular 20/2017/TT-BTTTT, Article 9: the initial
 * report [report] deadline (5 days) after detection — the time the
 * collector opened the incident, never the packets' own time, so a
 * replayed old capture is not overdue at birth — and the final report
 * the registry's final_deadline (5 days) after the response ended
 * (canh-ctl resolve).  A draft made after its deadline says so.
 */
#ifndef CANH_COLLECTOR_REPORT_DUE_H
#define CANH_COLLECTOR_REPORT_DUE_H

#include <stdbool.h>
#include <stdint.h>

#include "collector/config.h"
#include "common/redis/link.h"

struct report_due;

/* This process's drafts since start. */
struct report_due_stats {
    uint64_t drafted;
    uint64_t not_due; /* asked for, but the policy says no report */
    uint64_t failures;
    uint64_t reminded; /* due-soon and overdue reminders announced */
};

/* NULL (logged) when the registry cannot be read. */
struct report_due *report_due_new(const struct collector_config *cfg, struct redis_link *link);
/* Takes cfg always, and its registry; -1 (logged): the registry cannot
 * be read, the one loaded before stays. */
int report_due_reconfigure(struct report_due *r, const struct collector_config *cfg);
/* On the collector's tick, with the session up and not stopping. */
void report_due_tick(struct report_due *r);
void report_due_session_lost(struct report_due *r);
bool report_due_idle(const struct report_due *r);
const struct report_due_stats *report_due_stats(const struct report_due *r);
/* The registry's due_soon: how early the status page warns. */
uint64_t report_due_soon_us(const struct report_due *r);
void report_due_free(struct report_due *r);

#endif
