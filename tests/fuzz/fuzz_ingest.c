/* fuzz_ingest.c — libFuzzer target for the collector's event parsing
 * (collector/ingest.c): what an agent, or anyone holding its password,
 * can put in a stream entry.
 *
 * Each input is parsed as an event and as a heartbeat of agent "gw", then
 * vetted against a binding, an entry time and the tolerances; the summary
 * of a heartbeat is built.  Invariants: an accepted event carries the
 * stream's agent, an id of that agent, the bound agency, and times inside
 * the tolerance; a summary is valid JSON that keeps only short values.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/ingest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char reason[256];
    uint64_t clamped = 0;
    const uint64_t entry_ms = 1796083200000ull;
    struct ingest_policy pol = {.bound_agency = "Sở Y tế",
                                .bindings = true,
                                .entry_ms = entry_ms,
                                .max_ahead_us = 300ull * 1000000,
                                .max_age_us = 86400ull * 1000000,
                                .deadletter_misdated = size && (data[0] & 1),
                                .clamped = &clamped};
    struct in_event ev;
    if (ingest_parse_event("gw", (const char *)data, size, &ev, reason, sizeof(reason)) == 0) {
        if (strcmp(ev.agent, "gw") != 0 || !ev.taxonomy)
            abort();
        if (ingest_vet_event(&pol, "gw", &ev, reason, sizeof(reason)) >= 0) {
            uint64_t entry_us = entry_ms * 1000;
            if (strncmp(ev.id, "gw:", 3) != 0 || strncmp(ev.finding_id, "gw:", 3) != 0 ||
                strcmp(ev.agency, "Sở Y tế") != 0)
                abort();
            if (ev.ts_us > entry_us + pol.max_ahead_us || ev.ts_us + pol.max_age_us < entry_us ||
                ev.first_seen_us > ev.ts_us || ev.last_seen_us < ev.first_seen_us)
                abort();
        }
        ingest_event_free(&ev);
    }
    struct in_heartbeat hb;
    if (ingest_parse_heartbeat("gw", (const char *)data, size, &hb, reason, sizeof(reason)) == 0) {
        if (ingest_vet_heartbeat(&pol, &hb, reason, sizeof(reason)) == 0) {
            char *summary = ingest_heartbeat_summary(&hb);
            json_t *back = summary ? json_loads(summary, 0, NULL) : NULL;
            if (!back || strlen(summary) > 8192)
                abort();
            json_decref(back);
            free(summary);
        }
        ingest_heartbeat_free(&hb);
    }
    return 0;
}
