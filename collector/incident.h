/* incident.h — what the SOC sees: events grouped into incidents.
 *
 * Events of one attack from one source against one target (agency and
 * asset) with one taxonomy code fall into one incident while they keep
 * coming within the incident window; update and end events extend it.
 * Correlation (correlate.h) adds incidents of other types that link
 * these: attack.combined per (source, agency), province-wide per source,
 * and fault.link per silent agent.
 *
 * An incident lives in Redis as the hash canh:incident:<id> so that any
 * collector of the group can continue it; the hash field canh:ikeys[key]
 * names the open incident of each key.  This file holds the pure part:
 * keys, merging an event in, the hash fields and the JSON form.  Nothing
 * here talks to Redis, so the Check suite can test it alone.
 */
#ifndef CANH_COLLECTOR_INCIDENT_H
#define CANH_COLLECTOR_INCIDENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/ingest.h"
#include "common/taxonomy.h"
#include "common/values.h"

#define INCIDENT_ID_LEN 40
#define INCIDENT_KEY_LEN 400
#define INCIDENT_MAX_EVENT_IDS 200
#define INCIDENT_LIST_ITEMS 16 /* sources, targets, kinds kept per incident */
#define INCIDENT_MAX_CHILDREN 64
#define INCIDENT_SINKS_LEN 1100 /* route names (config.h: 32 of up to 32 bytes) */

enum incident_type {
    INCIDENT_FINDING,
    INCIDENT_COMBINED,
    INCIDENT_PROVINCE,
    INCIDENT_FAULT,
    INCIDENT_MANUAL /* opened by an operator (canh-ctl open) */
};
/* Where the collector is with it: collecting events, sent to sinks, done. */
enum incident_status { INCIDENT_OPEN, INCIDENT_ESCALATED, INCIDENT_CLOSED };
/* Where the SOC is with it (docs/collector.md, "Lifecycle").  The
 * collector writes open and closed; canh-ctl's scripts the others. */
enum incident_state {
    STATE_OPEN,
    STATE_ACKNOWLEDGED,
    STATE_CONFIRMED,
    STATE_REJECTED,
    STATE_RESOLVED,
    STATE_CLOSED
};

const char *incident_type_name(enum incident_type t);
const char *incident_status_name(enum incident_status s);
const char *incident_state_name(enum incident_state s);

/* incident_clear() names every field: a new one goes there too. */
struct incident {
    char id[INCIDENT_ID_LEN];
    enum incident_type type;
    char key[INCIDENT_KEY_LEN]; /* its field in canh:ikeys */
    const struct taxonomy *taxonomy;
    char kinds[256];   /* comma list */
    char agency[1024]; /* province-wide: the agencies, '|' separated */
    char agents[256];  /* comma list */
    char asset[64];
    char asset_owner[128];
    int level;              /* highest asset level seen, 0 unknown */
    bool national_critical; /* an asset of it is (assets.conf national_critical) */
    bool serious;
    /* Decision 05/2017 consequences its events named (consequence_name,
     * comma list), and whether it is a fault of the sensor itself
     * (capture drops, silent link, silent agent): raised to the SOC, kept
     * out of agency statistics. */
    char consequences[96];
    bool sensor;
    /* The operators' class (canh-ctl confirm --class, field
     * confirmed_class): read, never written by the collector. */
    enum { CONFIRMED_NONE, CONFIRMED_NORMAL, CONFIRMED_SERIOUS } confirmed;
    enum severity severity;
    char sources[INCIDENT_LIST_ITEMS * 48];  /* comma lists, capped */
    char countries[INCIDENT_LIST_ITEMS * 3]; /* the sources' countries the agents named */
    char targets[INCIDENT_LIST_ITEMS * 48];
    uint64_t first_seen_us, last_seen_us;      /* event time */
    uint64_t opened_us, updated_us, closed_us; /* collector wall clock */
    uint64_t events;
    char event_ids[INCIDENT_MAX_EVENT_IDS * 97]; /* first ones, comma list */
    char children[INCIDENT_MAX_CHILDREN * INCIDENT_ID_LEN];
    char combined_id[INCIDENT_ID_LEN]; /* linking incidents, written apart */
    char province_id[INCIDENT_ID_LEN];
    enum incident_status status;
    enum incident_state state;
    char sinks[INCIDENT_SINKS_LEN]; /* comma list: the routes that carry it */
    uint64_t ver;                   /* bumped by every rewrite; guards concurrent collectors */
    char summary[512];
    char evidence[4096]; /* JSON of the latest event's counters and evidence */
    /* Packet evidence files of its findings, on their agents
     * ("evidence/<finding id>.pcap" in the agent's state directory). */
    char pcaps[INCIDENT_LIST_ITEMS * 160];
    /* Drills (docs/drills.md): the drill it belongs to ("" real), or the
     * drill whose red team went outside its scope or window (a real
     * incident, "vượt phạm vi diễn tập"). */
    char exercise[EVENT_EXERCISE_MAX + 1];
    char drill_breach[EVENT_EXERCISE_MAX + 1];
};

/* An operator has taken it (acknowledged or confirmed) or opened it by
 * hand: quiet time does not close it, only resolve or reject does. */
/* An incident block (not zeroed) from this thread's pool (pool.h), and
 * back; incident_free(NULL) does nothing.  Blocks are malloc'd, so free()
 * on one is right too, only slower for the next event. */
struct incident *incident_new(void);
void incident_free(struct incident *inc);
/* Every field empty or zero, as a memset would read, without writing the
 * whole block (the strings only up to their first byte): a field added
 * to struct incident is added there too. */
void incident_clear(struct incident *inc);

bool incident_in_operator_hands(const struct incident *inc);

/* ---- comma lists ---------------------------------------------------- */
bool incident_list_contains(const char *list, const char *item, char sep);
/* Appends item unless present, the list holds max_items, or it would not
 * fit; returns true when the item is (now) in the list. */
bool incident_list_add(char *list, size_t size, const char *item, char sep, size_t max_items);
size_t incident_list_count(const char *list, char sep);
/* The next item of the list at *p into item (NUL-terminated), and *p past
 * it; false at the end.  Empty items, and items of size bytes or more,
 * are passed over.  For each agency of "A|B": while (incident_list_next(&p,
 * '|', agency, sizeof(agency))). */
bool incident_list_next(const char **p, char sep, char *item, size_t size);

/* ---- keys and ids --------------------------------------------------- */
/* "f|<taxonomy>|<source or *>|<agency>|<asset>", and "|x:<drill>" for a
 * drill's event (drill traffic never joins a real incident), "|breach:<drill>"
 * for a red-team source out of its drill's scope. */
void incident_key_for_event(const struct in_event *ev, char *buf, size_t len);
/* "20261123-081614-3fa2c1d7": wall time plus 32 random bits. */
void incident_new_id(uint64_t now_us, uint32_t random, char *buf, size_t len);

/* ---- lifecycle ------------------------------------------------------ */
struct incident_policy {
    uint64_t window_us;
    uint32_t max_event_ids;
    int serious_level;
};

/* Whether ev belongs to inc (open and within the window of event time). */
bool incident_accepts(const struct incident *inc, const struct in_event *ev,
                      const struct incident_policy *pol);
/* A new finding incident from its first event. */
void incident_open_from_event(struct incident *inc, const char *id, const char *key,
                              const struct in_event *ev, const struct incident_policy *pol,
                              uint64_t now_us);
/* Merge one more event (counts, times, lists, severity, class). */
void incident_add_event(struct incident *inc, const struct in_event *ev,
                        const struct incident_policy *pol, uint64_t now_us);
/* The class rule of architecture §6 as the collector applies it: the
 * agent judged criterion (1) on the wire; the province's serious_level
 * applies when the asset's level is known and it is not on the national
 * list. */
bool incident_event_serious(const struct in_event *ev, const struct incident_policy *pol);

/* ---- storage and output -------------------------------------------- */
/* Fill from HGETALL's field/value pairs; -1 when id or taxonomy is missing. */
int incident_from_fields(struct incident *inc, const char *const *fields, const size_t *lens,
                         size_t n);
/* Calls add(field, value) for every field of the hash except the linking
 * ones (combined_id, province_id), which are written on their own. */
void incident_to_fields(const struct incident *inc,
                        void (*add)(void *user, const char *field, const char *value), void *user);
json_t *incident_to_json(const struct incident *inc);

#endif
