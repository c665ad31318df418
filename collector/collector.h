/* collector.h — one canh-collector process: its loop, session and parts.
 *
 * consume.c reads the agents' streams through the consumer group and
 * apply.c applies each entry (process.c decides, store.h's script writes);
 * the periodic jobs are discover.c (stream discovery), claim.c (entries of
 * dead consumers) and housekeeping.c (closing quiet incidents, watching
 * heartbeats), sharing consume_internal.h; escalate.c delivers the
 * queued escalations through the sinks (sinks/); report_due.c drafts the
 * initial and final reports the lifecycle asks for; archive.c keeps the
 * closed incidents for canh-report.  main.c wires them to
 * the configuration and signals; status/ reads the counters.
 */
#ifndef CANH_COLLECTOR_COLLECTOR_H
#define CANH_COLLECTOR_COLLECTOR_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/config.h"
#include "common/redis/link.h"

struct archive;
struct consume;
struct drills;
struct escalate;
struct report_due;

/* The two connections of the collector's Redis link: "rd" only waits in
 * XREADGROUP ... BLOCK, "cmd" carries everything else, so a blocked read
 * never delays a write. */
enum { COLLECTOR_CMD = 0, COLLECTOR_RD = 1 };

/* The reading side's counters; status/ and main.c read them. */
struct collector_stats {
    uint64_t entries;     /* stream entries taken in */
    uint64_t applied;     /* events whose effects were written */
    uint64_t duplicates;  /* events already processed (DUP) */
    uint64_t deadletters; /* garbage moved to canh:deadletter */
    uint64_t conflicts;   /* guarded writes retried */
    uint64_t heartbeats;
    uint64_t opened, escalated, closed;
    uint64_t claimed;           /* entries taken over from other consumers */
    uint64_t clamped_times;     /* first_seen/last_seen pulled to the event time */
    uint64_t oversized;         /* entries above max_entry_size/max_heartbeat_size */
    uint64_t consumers_deleted; /* dead consumers removed from the group */
    uint64_t silence_deferred;  /* silent by canh:agent_seen, but newer heartbeats wait unread */
    uint64_t updated;           /* material changes announced as "updated" */
    uint64_t suppressed;        /* events matching a rejected incident (false positives) */
    uint64_t presumed;          /* writes decided on presumed-empty state, unread */
    uint64_t presumed_misses;   /* of those, found state after all: read, decided again */
    uint64_t errors;
};

/* What the collector's parts share; the reading state stays in
 * consume_internal.h and the escalation worker's in escalate.c (its counters:
 * escalate_stats(c->esc)). */
struct collector {
    const struct collector_config *cfg; /* running; collector_reconfigure replaces it */
    struct redis_link *link;
    struct escalate *esc;
    struct report_due *reports; /* initial and final report drafts (report_due.h) */
    struct archive *archive;    /* closed incidents to [archive] dir */
    struct drills *drills;      /* the drills, judging events (drills.h) */
    struct collector_stats stats;
    struct consume *rd; /* the reading state, consume_internal.h */
};

/* Set up (no I/O yet): parses redis_url, reads password_file; 0 or -1
 * (logged). */
int collector_init(struct collector *c, const struct collector_config *cfg,
                   struct event_base *base);
/* Connect and run on the loop. */
void collector_start(struct collector *c);
/* Stop taking new entries; returns true when nothing is in flight. */
bool collector_stop(struct collector *c);
/* SIGHUP: cfg (kept by the caller until the next call) becomes the running
 * configuration, escalation sinks rebuilt from it; -1 (logged) changes
 * nothing. */
int collector_reconfigure(struct collector *c, const struct collector_config *cfg);
/* Streams read through the group now. */
size_t collector_streams(const struct collector *c);
void collector_free(struct collector *c);

#endif
