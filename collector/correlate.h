/* correlate.h — incidents that link other incidents.
 *
 * Per source address the collector keeps a small table (the hash
 * canh:src:<address>): for each (agency, taxonomy) it was seen in, the
 * incident, when it was last seen, its kind, severity and class.  From it:
 *
 *   - one source, at least combined_min_kinds taxonomy codes against one
 *     agency within the correlation window → an attack.combined incident
 *     ("Tấn công tổng hợp") for (source, agency) linking those incidents;
 *   - one source against at least province_min_agencies agencies within
 *     the window → a province-wide incident for the source linking them;
 *   - an agent whose heartbeats stop → fault.link for its agency.
 *
 * Pure functions over struct corr_state and struct incident; process.c
 * does the Redis part.
 */
#ifndef CANH_COLLECTOR_CORRELATE_H
#define CANH_COLLECTOR_CORRELATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/incident.h"
#include "collector/ingest.h"

#define CORR_MAX_ENTRIES 64

struct corr_entry {
    char agency[208];
    const struct taxonomy *taxonomy;
    char incident_id[INCIDENT_ID_LEN];
    uint64_t last_seen_us; /* event time */
    char kind[48];
    enum severity severity;
    bool serious;
    int level;
    uint64_t events;
    char agent[64]; /* who reported it ("" in entries written before issue 19) */
};

struct corr_state {
    struct corr_entry v[CORR_MAX_ENTRIES];
    size_t n;
    uint64_t ver; /* guards concurrent rewrites */
};

/* A table block (not zeroed) from this thread's pool (pool.h), and back. */
struct corr_state *corr_state_new(void);
void corr_state_free(struct corr_state *st);

/* dst = src, copying only the entries in use (a table is 25 KiB). */
void corr_state_copy(struct corr_state *dst, const struct corr_state *src);

/* HGETALL pairs of canh:src:<address>; unreadable fields are skipped. */
void corr_state_from_fields(struct corr_state *st, const char *const *fields, const size_t *lens,
                            size_t n);
void corr_state_to_fields(const struct corr_state *st,
                          void (*add)(void *user, const char *field, const char *value),
                          void *user);
/* Record that ev went into incident inc; entries older than the window
 * (event time) are dropped, and the oldest when the table is full. */
void corr_state_note(struct corr_state *st, const struct in_event *ev, const struct incident *inc,
                     uint64_t window_us);

/* Distinct taxonomy codes against agency, within the window of ts_us. */
size_t corr_kinds_for_agency(const struct corr_state *st, const char *agency, uint64_t ts_us,
                             uint64_t window_us);
/* Distinct agencies within the window of ts_us. */
size_t corr_agencies(const struct corr_state *st, uint64_t ts_us, uint64_t window_us);

void corr_combined_key(const char *src, const char *agency, char *buf, size_t len);
void corr_province_key(const char *src, char *buf, size_t len);
void corr_fault_key(const char *agent, char *buf, size_t len);

/* Open (fresh) or extend a linking incident of type COMBINED (agency set:
 * entries of that agency) or PROVINCE (agency NULL: every agency) from the
 * entries within the window.  Returns the number of children added. */
size_t corr_link(struct incident *inc, bool fresh, enum incident_type type, const char *id,
                 const char *key, const struct corr_state *st, const char *agency,
                 const struct in_event *ev, uint64_t window_us, const struct incident_policy *pol,
                 uint64_t now_us);

/* Whether an existing linking incident may take ev (open, within window). */
bool corr_link_accepts(const struct incident *inc, const struct in_event *ev, uint64_t window_us);

/* fault.link for a silent agent: last_heartbeat_us is when it last spoke. */
void corr_open_fault(struct incident *inc, const char *id, const char *key, const char *agent,
                     const char *agency, uint64_t last_heartbeat_us, enum severity severity,
                     uint64_t now_us);

#endif
