/* enrich.h — what the agent adds to a detector's finding (architecture §4.4):
 * event and finding ids, agent and agency, taxonomy and severity (the
 * rule's unless the detector chose), the target asset, the consequence
 * of Decision 05/2017 the evidence shows and the regulatory class, the
 * sensor flag of the agent's own faults, the source country from an optional MMDB file, and the EVE
 * identity fields (flow_id, in_iface, host, community_id, alert.rev). */
#ifndef CANH_ENRICH_H
#define CANH_ENRICH_H

#include <maxminddb.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/config.h"
#include "common/event.h"

struct enrich {
    const struct agent_config *cfg;
    const struct assets *assets;
    MMDB_s mmdb;
    bool has_mmdb;
    char boot_id[17]; /* 16 hex digits (64 random bits), new every start */
    uint64_t seq;     /* events emitted since start */
    uint32_t rules_rev;
    const char *exercise; /* a drill replay's id (canh.exercise), NULL: real */
};

/* Opens the MMDB when configured; a missing or unreadable DB is one
 * warning, not an error (GeoIP is optional). */
void enrich_init(struct enrich *e, const struct agent_config *cfg, const struct assets *assets);
void enrich_set_assets(struct enrich *e, const struct assets *assets);
/* The loaded rules' digest (struct ruleset), for alert.rev. */
void enrich_set_rules_digest(struct enrich *e, uint64_t digest);
void enrich_event(struct enrich *e, struct evt *ev);
/* The consequence ev's evidence shows (kind, taxonomy, impact). */
enum consequence enrich_consequence(const struct evt *ev);
/* ISO country of addr, "" when unknown; buf >= 3. */
const char *enrich_country(struct enrich *e, const struct ipaddr *addr, char *buf);
void enrich_free(struct enrich *e);

#endif
