/* archive.h — closed incidents kept for the periodic reports (canh-report).
 *
 * With [archive] dir set, the collector reads canh:incidents through its
 * own consumer group, canh-archive, and for every entry that ends an
 * incident (closed by quiet time, resolved or rejected by an operator)
 * appends one JSON line to <dir>/incidents-YYYY-MM.jsonl (the month, in
 * local time, the incident ended): the incident's hash as it is then (every
 * field, so fields other parts add — report due and sent times — come
 * along), its lifecycle log (canh:log:<id>), and the districts of its
 * agencies from [agencies].  The line is written and fsync'd before the
 * entry is acknowledged, so a crash repeats a line rather than losing one;
 * canh-report keeps the last line of each incident (a reopened incident
 * ends again).  Files older than [archive] retention months are removed.
 * One collector of a group should archive (the others leave dir unset),
 * or several share one directory.  Format: docs/reporting.md.
 */
#ifndef CANH_COLLECTOR_ARCHIVE_H
#define CANH_COLLECTOR_ARCHIVE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "collector/config.h"
#include "common/redis/link.h"

struct archive;

/* NULL (logged) on no memory; with no [archive] dir it does nothing. */
struct archive *archive_new(const struct collector_config *cfg, struct redis_link *link);
void archive_reconfigure(struct archive *a, const struct collector_config *cfg);
/* Read and archive what is due; call on the collector's tick while the
 * session is up. */
void archive_tick(struct archive *a);
void archive_session_lost(struct archive *a);
bool archive_idle(const struct archive *a);
void archive_free(struct archive *a);

/* "incidents-2026-11.jsonl" for the local month of t. */
void archive_file_name(time_t t, char *buf, size_t len);
/* Removes the monthly files of dir older than keep_months before the
 * month of now (keep_months 0: keep all); the number removed. */
int archive_expire(const char *dir, uint32_t keep_months, time_t now);

#endif
