/* ingest.h — validating what agents put in their streams.
 *
 * An entry of canh:events:<agent> carries one field "event" with the JSON
 * of architecture §5; an entry of canh:heartbeats:<agent> one field "event" with
 * an "event_type":"stats" object.  Anything that does not parse, lacks a
 * field the collector needs, has an unknown schema version or claims to
 * come from another agent than the stream's owner is refused with a short
 * reason, which goes with the raw entry to canh:deadletter.  Accepted
 * entries become a struct in_event whose strings point into the parsed
 * JSON (freed together by ingest_event_free).
 */
#ifndef CANH_COLLECTOR_INGEST_H
#define CANH_COLLECTOR_INGEST_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/taxonomy.h"
#include "common/values.h"

struct in_event {
    json_t *root; /* owned */
    const char *id;
    const char *finding_id;
    const char *agent;
    const char *agency; /* the agent's name when the event has none */
    const char *kind;
    const char *state; /* "new", "update", "end" */
    const struct taxonomy *taxonomy;
    enum severity severity;
    bool serious;        /* class serious_candidate */
    const char *src_ip;  /* NULL: no single source */
    const char *dest_ip; /* NULL: none */
    int dest_port;
    const char *asset_name; /* "" when the target is no declared asset */
    const char *asset_owner;
    int level; /* 0: unknown */
    uint64_t ts_us, first_seen_us, last_seen_us;
    json_t *counters; /* borrowed from root, may be NULL */
    json_t *evidence;
    const char *pcap_file; /* canh.pcap.file on the agent (agent/evidence.h), NULL if none */
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

int ingest_parse_heartbeat(const char *stream_agent, const char *text, size_t len,
                           struct in_heartbeat *out, char *reason, size_t reason_len);
void ingest_heartbeat_free(struct in_heartbeat *hb);

#endif
