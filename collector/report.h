/* report.h — drafts of the initial incident report for serious candidates.
 *
 * For each incident of class serious_candidate the collector writes
 * <report dir>/<incident id>.md and .json: the fields of the initial
 * report of Circular 20/2017/TT-BTTTT (reporting unit and contact,
 * affected system and its level, time of detection, incident type in
 * Vietnamese, description, sources and targets, evidence, measures taken,
 * support requested) with the reporting deadline (detection + deadline,
 * 5 days by default).  Fields the wire cannot tell are left for the
 * response team with a marked placeholder.  Files are written to a
 * temporary name and renamed, so a reader never sees half a report.
 * report_sink_ops is the escalation sink (sinks/sink.h) that writes them.
 */
#ifndef CANH_COLLECTOR_REPORT_H
#define CANH_COLLECTOR_REPORT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/config.h"
#include "collector/incident.h"
#include "collector/sinks/sink.h"

json_t *report_json(const struct collector_config *cfg, const struct incident *inc,
                    uint64_t now_us);
/* Markdown text (malloc'd) of the same draft; NULL on no memory. */
char *report_markdown(const struct collector_config *cfg, const struct incident *inc,
                      uint64_t now_us);
/* Writes both files; 0, or -1 with errno. */
int report_write(const struct collector_config *cfg, const struct incident *inc, uint64_t now_us);

extern const struct sink_ops report_sink_ops;

#endif
