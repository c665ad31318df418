/* incident_text.h — an incident's JSON written straight into a reusable
 * buffer: the text of every announcement (canh:incidents and the agency
 * streams, collector/process.c).
 *
 * Byte for byte json_dumps(incident_to_json(inc), JSON_COMPACT)
 * (tests/test_incident_text.c compares them), written with the writer of
 * common/event_text.h; the evidence text the incident keeps is copied when
 * it already reads as jansson's dump (common/json_canon.h), which it does
 * when the collector wrote it.  jansson's tree and dump cost ~100
 * instructions a byte of a ~1.1 KiB incident, a third of the collector's
 * work per event (docs/performance.md, "Collector round 4").
 */
#ifndef CANH_COLLECTOR_INCIDENT_TEXT_H
#define CANH_COLLECTOR_INCIDENT_TEXT_H

#include "collector/incident.h"
#include "common/event_text.h"

/* Replaces t's content with inc's JSON.  0, or -1 out of memory (t is then
 * empty); t's buffer is kept for the next incident. */
int incident_format(const struct incident *inc, struct event_text *t);

#endif
