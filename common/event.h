/* event.h — the event model of architecture §5 and its JSON form.
 *
 * A detector fills the finding part of a struct evt (kind, lifecycle
 * state, addresses, counters, evidence); the agent's enrich step fills the
 * rest (ids, agent, taxonomy, severity, class, asset, country); outputs
 * take the JSON text.  The top level follows Suricata's EVE so EVE tooling
 * can read it; everything canh-specific lives under "canh".
 */
#ifndef CANH_EVENT_H
#define CANH_EVENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/addr.h"
#include "common/config.h"
#include "common/taxonomy.h"

#define EVENT_SCHEMA_VERSION 1

enum finding_state { FINDING_NEW, FINDING_UPDATE, FINDING_END };
enum event_class { CLASS_NORMAL, CLASS_SERIOUS_CANDIDATE };
/* The consequences of Decision 05/2017/QĐ-TTg that the wire can show
 * (architecture §6); the others (secret data disclosed, wide-area harm)
 * only people can tell. */
enum consequence {
    CONSEQ_NONE,
    CONSEQ_SERVICE_INTERRUPTION,
    CONSEQ_LOSS_OF_CONTROL,
    CONSEQ_LOSS_OF_INTEGRITY,
    CONSEQ_COUNT
};

const char *finding_state_name(enum finding_state s);
const char *event_class_name(enum event_class c);
/* "service_interruption", "loss_of_control", "loss_of_integrity"; "" none. */
const char *consequence_name(enum consequence c);
/* Vietnamese, as the reports write it; "" none. */
const char *consequence_vi(enum consequence c);
/* CONSEQ_NONE for an unknown name. */
enum consequence consequence_parse(const char *name);

struct evt {
    /* --- filled by the detector --- */
    const char *kind;        /* "portscan", "syn_flood", "dav_write" ... */
    const struct rule *rule; /* the rule that matched (taxonomy, severity) */
    enum finding_state state;
    uint64_t finding_seq; /* stable for the life of one finding */
    uint64_t ts_us;       /* packet time of this emission */
    uint64_t first_seen_us, last_seen_us;
    struct ipaddr src, dst;
    bool has_src, has_dst;           /* a distributed attack may have no one source */
    uint16_t dest_port;              /* 0: none */
    uint16_t src_port;               /* of the finding's main flow; 0: none */
    uint8_t proto;                   /* IPPROTO_*, 0: none */
    bool impact;                     /* victim-side impact seen (architecture §6 class) */
    enum severity severity;          /* SEV_NONE: the rule's (set by enrich) */
    const struct taxonomy *taxonomy; /* NULL: the rule's (set by enrich) */
    json_t *counters;                /* object; borrowed, the detector frees it */
    json_t *evidence;                /* object; borrowed */
    /* Or, when counters / evidence is NULL, the object as its JSON text,
     * exactly as jansson's compact dump writes it (a detector that writes
     * it with event_text.h's writer); borrowed.  NULL: none, "{}". */
    const char *counters_text, *evidence_text;
    size_t counters_len, evidence_len;

    /* --- filled by enrich --- */
    char id[96];         /* agent:boot_id:seq */
    char finding_id[96]; /* agent:boot_id:f<finding_seq> */
    const char *agent;
    const char *agency;
    const struct asset *asset;
    enum event_class class_;
    enum consequence consequence; /* named in canh.evidence.consequence */
    bool sensor;                  /* a fault of the sensor itself (canh.sensor) */
    char src_country[3];          /* ISO code, "" when unknown */
    uint64_t flow_id;             /* EVE flow_id: one per finding (event_flow_id) */
    const char *in_iface;         /* capture interface; NULL for a replay */
    uint32_t rules_rev;           /* EVE alert.rev: of the rules version */
    char community_id[32];        /* Community ID v1 of the main flow, "" without one */
    const char *exercise;         /* drill id (canh.exercise) of a drill replay; NULL: real */
};

/* A drill id (canh.exercise, docs/drills.md): 1 to EVENT_EXERCISE_MAX
 * characters of [A-Za-z0-9._-], so it fits Redis keys and file names. */
#define EVENT_EXERCISE_MAX 63
bool event_exercise_valid(const char *id);

/* EVE identity of a finding (docs/event.md): flow_id from the finding id,
 * so new, update and end of one finding share it; signature_id from the
 * rule's name, so a local rule that replaces a shipped one keeps its id. */
#define EVENT_SIGNATURE_GID 1
#define EVENT_SIGNATURE_ID_BASE 8600000u
#define EVENT_SIGNATURE_ID_SPAN 100000u
uint64_t event_flow_id(const char *finding_id);
uint32_t event_signature_id(const char *rule_name);
/* alert.rev of a rules version digest: positive and 31 bits wide. */
uint32_t event_rules_rev(uint64_t rules_digest);
/* EVE alert.severity: critical 1, high 2, medium 3, low 4. */
int event_eve_severity(enum severity s);
/* "alert" for a finding's new event, "finding" for its update and end. */
const char *event_type_name(enum finding_state s);

/* The JSON object of architecture §5 (new reference; the caller decrefs) of an
 * enriched event: taxonomy and severity are set. */
json_t *evt_to_json(const struct evt *ev);

/* ev's counters / evidence as a tree (new reference): the detector's
 * object, its text parsed, or an empty object when it gave neither.
 * NULL out of memory (or text jansson refuses: a detector's bug). */
json_t *evt_counters_json(const struct evt *ev);
json_t *evt_evidence_json(const struct evt *ev);

/* "TCP", "UDP", "ICMP", "IPv6-ICMP" or the number. */
const char *event_proto_name(uint8_t proto, char *buf, size_t len);

#endif
