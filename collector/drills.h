/* drills.h — the collector's view of the drills (docs/drills.md).
 *
 * canh-ctl drill create|end writes canh:drills (common/drill.h); this
 * module reads the hash again every DRILLS_REFRESH_US on the collector's
 * tick and judges each event before its incident keys are made
 * (apply.c):
 *   - an event that names a drill itself (canh.exercise: a table-top
 *     replay) stays the drill's;
 *   - an event from a drill's red-team prefixes, inside its window,
 *     against one of its targets becomes the drill's (canh.exercise is set);
 *   - an event from a red-team prefix against anything else, or outside
 *     the window (within a day of it), is a scope breach: canh.drill_breach
 *     is set and the event is raised to at least high severity, so it opens
 *     a real incident on the normal routes.
 * Drill incidents are kept apart (incident.h keys), reach only the routes
 * with exercise = yes (route.c) and are not correlated (process.c).
 */
#ifndef CANH_COLLECTOR_DRILLS_H
#define CANH_COLLECTOR_DRILLS_H

#include "collector/ingest.h"
#include "common/redis/link.h"

#define DRILLS_REFRESH_US 1000000ull

struct drills;

struct drills *drills_new(struct redis_link *link);
/* On the collector's tick, with the session up. */
void drills_tick(struct drills *d);
void drills_session_lost(struct drills *d);
/* Judges ev as above (its JSON gains canh.exercise or canh.drill_breach,
 * which ev's fields then point into).  d may be NULL. */
void drills_tag_event(const struct drills *d, struct in_event *ev);
void drills_free(struct drills *d);

#endif
