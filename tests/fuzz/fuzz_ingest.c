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

/* Inputs starting with '!' fill an event template instead, one field per
 * newline-separated part, so the fuzzer reaches the checks after the JSON
 * syntax: timestamp, id, finding id, agency, state, taxonomy code,
 * first_seen, last_seen.  NULL when the input is not such a template. */
static char *from_template(const uint8_t *data, size_t size)
{
    if (size < 1 || data[0] != '!')
        return NULL;
    const char *parts[8] = {"2026-12-01T00:00:00Z", "gw:a:1", "gw:a:f1", "Sở Y tế", "new",
                            "attack.other",         "",       ""};
    char *copy = strndup((const char *)data + 1, size - 1);
    char *save = NULL, *tok = strtok_r(copy, "\n", &save);
    for (int i = 0; i < 8 && tok; i++, tok = strtok_r(NULL, "\n", &save))
        parts[i] = tok;
    json_t *canh =
        json_pack("{s:i,s:s,s:s,s:s,s:s,s:s,s:s,s:{s:s},s:s,s:s,s:s,s:s}", "v", 1, "id", parts[1],
                  "finding_id", parts[2], "agent", "gw", "agency", parts[3], "kind", "portscan",
                  "state", parts[4], "taxonomy", "code", parts[5], "severity", "medium", "class",
                  "normal", "first_seen", parts[6], "last_seen", parts[7]);
    json_t *root = json_pack("{s:s,s:s,s:s,s:o}", "timestamp", parts[0], "event_type", "alert",
                             "src_ip", "203.0.113.5", "canh", canh);
    char *text = root ? json_dumps(root, JSON_COMPACT) : NULL;
    json_decref(root);
    free(copy);
    return text;
}

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
    char *templated = from_template(data, size);
    if (templated) {
        data = (const uint8_t *)templated;
        size = strlen(templated);
    }
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
    free(templated);
    return 0;
}
