/* route.h — escalation routes: the keys of a [route.NAME] section and
 * which incidents, actions and states a route takes (architecture §9).
 *
 * A route is one sink (webhook, syslog, email through the local MTA's
 * sendmail, report drafts) and its filters.  The filters on the incident
 * (agency, district through [agencies], taxonomy prefix, severity range,
 * class, exercise) are applied when process.c decides which routes carry
 * an incident; a route that carries one is told of its later actions
 * (updated, closed, and the operators' acknowledged, confirmed, ...), and
 * its action and state filters are applied by escalate.c when each such
 * delivery is due.  Nothing here does I/O: config.c calls route_key for
 * every key of a route section and route_check once the file is read.
 */
#ifndef CANH_COLLECTOR_ROUTE_H
#define CANH_COLLECTOR_ROUTE_H

#include <stdbool.h>

#include "collector/config.h"
#include "collector/incident.h"
#include "common/values.h"

/* What class filter names: the collector's class, and the sensor's own
 * faults (taxonomy fault.* of an agent's health findings or a silent
 * agent) apart from the agencies' incidents. */
enum route_class { ROUTE_CLASS_NORMAL, ROUTE_CLASS_SERIOUS, ROUTE_CLASS_SENSOR_FAULT };

/* The actions a delivery carries. */
enum route_action {
    ROUTE_ESCALATED, /* the incident first meets the route */
    ROUTE_UPDATED,
    ROUTE_CLOSED,
    ROUTE_ACKNOWLEDGED,
    ROUTE_CONFIRMED,
    ROUTE_REJECTED,
    ROUTE_RESOLVED,
    ROUTE_REOPENED,
    ROUTE_REPORT_DUE_SOON, /* a report of it is due within [reporting] due_soon */
    ROUTE_REPORT_OVERDUE,  /* ... and past its deadline, not marked sent */
    ROUTE_ACTION_COUNT
};

#define ROUTE_NOT_MINE 1

/* Defaults of a route of that sink (report drafts: serious candidates,
 * every severity, the escalated action only, no rate limit). */
void route_defaults(struct route *r, const char *name, enum sink_id sink, bool sink_set, int line);
/* One key of a route section: 0, -1 with at->err filled, ROUTE_NOT_MINE. */
int route_key(struct route *r, const char *value, const struct cfg_at *at);
/* After the file: what the route's sink needs is there, and no key of
 * another sink is; -1 with err at the offending line. */
int route_check(const struct route *r, const char *path, struct cfg_err *err);

/* The sink of the route named in cfg (a job's field "sink"); a name no
 * route has but a sink's ("webhook") reads as that sink; -1 otherwise. */
int route_sink_of(const struct collector_config *cfg, const char *name, enum sink_id *out);

enum route_class route_incident_class(const struct incident *inc);
const char *route_class_name(enum route_class c);
/* -1 for an action no route filter knows ("updated-7" reads "updated"). */
int route_action_parse(const char *action);

/* The route carries the incident (its incident filters hold). */
bool route_takes(const struct collector_config *cfg, const struct route *r,
                 const struct incident *inc);
/* The route wants a delivery of this action for an incident in state. */
bool route_hears(const struct route *r, const char *action, enum incident_state state);

#endif
