/* ingest.h — validating what agents put in their streams.
 *
 * An entry of canh:events:<agent> carries one field "event" with the JSON
 * of architecture §5; an entry of canh:heartbeats:<agent> one field "event" with
 * an "event_type":"stats" object.  Anything that does not parse, lacks a
 * field the collector needs, has an unknown schema version or claims to
 * come from another agent than the stream's owner is refused with a short
 * reason, which goes with the raw entry to canh:deadletter.  Accepted
 * entries become a struct in_event whose strings point into its own copy
 * of the text, read in place (common/json_parse.h), or into jansson's
 * tree of it when the quick parse leaves it to jansson (freed together by
 * ingest_event_free).
 */
#ifndef CANH_COLLECTOR_INGEST_H
#define CANH_COLLECTOR_INGEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/event.h"
#include "common/taxonomy.h"
#include "common/values.h"

struct in_event {
    char *text;   /* owned: the entry's JSON, its strings decoded in place */
    json_t *root; /* owned: jansson's tree instead, for a text the quick parse leaves */
    /* owned: the bound agency and a drill id set after parsing (ingest_keep) */
    char *kept_agency, *kept_drill;
    const char *id;
    const char *finding_id;
    const char *agent;
    const char *agency; /* the agent's name when the event has none */
    const char *kind;
    const char *state; /* "new", "update", "end" */
    const struct taxonomy *taxonomy;
    enum severity severity;
    bool serious;            /* class serious_candidate */
    const char *src_ip;      /* NULL: no single source */
    const char *src_country; /* canh.src_geo.country (ISO 3166 alpha-2), NULL none */
    const char *dest_ip;     /* NULL: none */
    int dest_port;
    const char *asset_name; /* "" when the target is no declared asset */
    const char *asset_owner;
    int level;                    /* 0: unknown */
    bool national_critical;       /* canh.asset.national_critical */
    enum consequence consequence; /* canh.evidence.consequence */
    bool sensor;                  /* canh.sensor: a fault of the sensor itself */
    uint64_t ts_us, first_seen_us, last_seen_us;
    json_t *counters; /* owned (own trees of the text's), may be NULL */
    json_t *evidence;
    const char *pcap_file; /* canh.pcap.file on the agent (agent/evidence.h), NULL if none */
    /* canh.exercise: the drill it belongs to (a drill replay names it; the
     * collector's live drills set it, collector/drill.h), NULL: real. */
    const char *exercise;
    /* A red-team source outside its drill's scope or window (collector/drill.h):
     * the drill id, and the event is raised as a real high-severity incident. */
    const char *drill_breach;
};

struct in_heartbeat {
    json_t *root; /* owned */
    const char *agent;
    const char *agency; /* "" when missing */
};

/* The agent named by a stream key ("canh:events:gw01" → "gw01"), or NULL. */
const char *ingest_stream_agent(const char *stream);
/* True for canh:heartbeats:<agent> keys. */
bool ingest_is_heartbeat_stream(const char *stream);

/* 0, or -1 with a reason such as "invalid JSON at 1:17: ...". */
int ingest_parse_event(const char *stream_agent, const char *text, size_t len, struct in_event *out,
                       char *reason, size_t reason_len);
void ingest_event_free(struct in_event *ev);
/* A copy of value in *slot (ev->kept_agency or ev->kept_drill, replacing
 * what was there): a string set on the event after parsing that must
 * outlive a reload of the configuration it came from.  NULL without
 * memory. */
const char *ingest_keep(char **slot, const char *value);

/* What an entry may claim beyond its own well-formedness (issue 19): the
 * stream's agent is the only one whose word counts. */
struct ingest_policy {
    const char *bound_agency; /* [agents] binding of the stream's agent; NULL: none */
    bool bindings;            /* [agents] is configured: unbound agents are refused */
    uint64_t entry_ms;        /* the stream entry's time (its id), Redis's clock */
    uint64_t max_ahead_us;    /* event times may be this much later than the entry */
    uint64_t max_age_us;      /* and this much earlier */
    bool deadletter_misdated; /* a timestamp out of range: dead letter, not clamp */
    uint64_t *clamped;        /* counts times pulled into range */
};

/* After ingest_parse_event: canh.id and canh.finding_id must be the
 * stream agent's own ("<agent>:..."), so no agent can name (and so
 * suppress as a duplicate, or extend) another agent's event or finding;
 * the agency must be the one [agents] binds the agent to (an event
 * without one gets it); the timestamp must lie within the tolerance of
 * the entry's time, else it (with first_seen and last_seen) is taken as
 * the entry's time — or, with deadletter_misdated, refused; first_seen
 * and last_seen outside it are pulled to the timestamp.  Clamps are
 * counted.  0; 1 when the timestamp was clamped (reason says how, for the
 * log); -1 with a reason for the dead letter. */
int ingest_vet_event(const struct ingest_policy *pol, const char *stream_agent, struct in_event *ev,
                     char *reason, size_t reason_len);
/* The same binding check for a heartbeat (its agency becomes the bound
 * one). */
int ingest_vet_heartbeat(const struct ingest_policy *pol, struct in_heartbeat *hb, char *reason,
                         size_t reason_len);
/* The heartbeat as canh:agents keeps it: only the fields the status page
 * and canh-tail show, integers and short strings, agency the vetted one.
 * A new string (malloc) or NULL. */
char *ingest_heartbeat_summary(const struct in_heartbeat *hb);

int ingest_parse_heartbeat(const char *stream_agent, const char *text, size_t len,
                           struct in_heartbeat *out, char *reason, size_t reason_len);
void ingest_heartbeat_free(struct in_heartbeat *hb);

#endif
