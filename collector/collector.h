/* collector.h — one canh-collector process: its loop, session and parts.
 *
 * consume.c reads the agents' streams through the consumer group and
 * applies each entry (process.c decides, store.h's script writes), runs
 * the periodic jobs (stream discovery, claiming entries of dead consumers,
 * closing quiet incidents, watching heartbeats); escalate.c delivers the
 * queued escalations.  main.c wires them to the configuration and signals.
 */
#ifndef CANH_COLLECTOR_COLLECTOR_H
#define CANH_COLLECTOR_COLLECTOR_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/config.h"
#include "common/redis/link.h"

struct escalator;

/* The two connections of the collector's Redis link: "rd" only waits in
 * XREADGROUP ... BLOCK, "cmd" carries everything else, so a blocked read
 * never delays a write. */
enum { COLLECTOR_CMD = 0, COLLECTOR_RD = 1 };

struct collector_stats {
    uint64_t entries;      /* stream entries taken in */
    uint64_t applied;      /* events whose effects were written */
    uint64_t duplicates;   /* events already processed (DUP) */
    uint64_t deadletters;  /* garbage moved to canh:deadletter */
    uint64_t conflicts;    /* guarded writes retried */
    uint64_t heartbeats;
    uint64_t opened, escalated, closed;
    uint64_t claimed;      /* entries taken over from other consumers */
    uint64_t errors;
    uint64_t delivered[SINK_COUNT];         /* escalations delivered, per sink */
    uint64_t delivery_failures[SINK_COUNT]; /* attempts that failed (retried later) */
};

struct collector {
    const struct collector_config *cfg;
    struct event_base *base;
    struct redis_link *link;
    struct escalator *esc;
    /* Streams with the group in place, in XREADGROUP order. */
    char (*streams)[192];
    size_t n_streams, cap_streams;
    bool scanning;      /* discovery in flight */
    bool reading;       /* an XREADGROUP in flight */
    bool own_pending_done; /* this session re-read its own pending entries */
    size_t inflight;    /* entries being applied */
    size_t groups_pending;
    bool sweeping, watching, claiming;
    struct event *tick; /* drives discovery, claims, sweeps, heartbeats */
    uint64_t next_discover_us, next_claim_us, next_sweep_us, next_silent_us;
    struct collector_stats stats;
    bool stopping;
};

/* Set up (no I/O yet): parses redis_url, reads password_file; 0 or -1
 * (logged). */
int collector_init(struct collector *c, const struct collector_config *cfg, struct event_base *base);
/* Connect and run on the loop. */
void collector_start(struct collector *c);
/* Stop taking new entries; returns true when nothing is in flight. */
bool collector_stop(struct collector *c);
void collector_free(struct collector *c);

#endif
