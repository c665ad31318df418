/* incident_text.c — see incident_text.h.  The members below are
 * incident_to_json's (collector/incident.c), in its order; change both
 * together. */
#include "collector/incident_text.h"

#include <string.h>

#include "common/units.h"

/* A comma (or '|') list as an array of its items, as list_json in
 * incident.c splits it: an item that is not UTF-8 is left out. */
static void list(struct event_text_writer *w, const char *name, const char *items, char sep)
{
    event_text_array(w, name);
    for (const char *p = items; *p;) {
        const char *end = strchr(p, sep);
        size_t len = end ? (size_t)(end - p) : strlen(p);
        event_text_stringn(w, NULL, p, len);
        if (!end)
            break;
        p = end + 1;
    }
    event_text_array_end(w);
}

/* An event or collector time, null when unset. */
static void time_member(struct event_text_writer *w, const char *name, uint64_t us)
{
    char buf[48];
    if (us)
        event_text_string(w, name, units_format_time(us, buf, sizeof(buf)));
    else
        event_text_null(w, name);
}

int incident_format(const struct incident *inc, struct event_text *t)
{
    struct event_text_writer w;
    event_text_start(&w, t, JSON_COMPACT);
    event_text_object(&w, NULL);
    event_text_string(&w, "id", inc->id);
    event_text_string(&w, "type", incident_type_name(inc->type));
    event_text_object(&w, "taxonomy");
    event_text_string(&w, "code", inc->taxonomy->code);
    event_text_string(&w, "vi", inc->taxonomy->vi);
    event_text_string(&w, "en", inc->taxonomy->en);
    event_text_object_end(&w);
    list(&w, "kinds", inc->kinds, ',');
    event_text_string(&w, "class", inc->serious ? "serious_candidate" : "normal");
    event_text_string(&w, "severity", severity_name(inc->severity));
    event_text_string(&w, "status", incident_status_name(inc->status));
    event_text_string(&w, "state", incident_state_name(inc->state));
    if (inc->type == INCIDENT_PROVINCE)
        list(&w, "agencies", inc->agency, '|');
    event_text_string(&w, "agency", inc->agency);
    list(&w, "agents", inc->agents, ',');
    event_text_object(&w, "asset");
    event_text_string(&w, "name", inc->asset);
    event_text_string(&w, "owner", inc->asset_owner);
    event_text_int(&w, "level", inc->level);
    event_text_bool(&w, "national_critical", inc->national_critical);
    event_text_object_end(&w);
    list(&w, "consequences", inc->consequences, ',');
    event_text_bool(&w, "sensor", inc->sensor);
    list(&w, "sources", inc->sources, ',');
    list(&w, "countries", inc->countries, ',');
    list(&w, "targets", inc->targets, ',');
    time_member(&w, "first_seen", inc->first_seen_us);
    time_member(&w, "last_seen", inc->last_seen_us);
    time_member(&w, "opened", inc->opened_us);
    time_member(&w, "closed", inc->closed_us);
    event_text_int(&w, "events", (long long)inc->events);
    list(&w, "event_ids", inc->event_ids, ',');
    list(&w, "children", inc->children, ',');
    if (inc->combined_id[0])
        event_text_string(&w, "combined_id", inc->combined_id);
    if (inc->province_id[0])
        event_text_string(&w, "province_id", inc->province_id);
    event_text_string(&w, "summary", inc->summary);
    const char *evidence = inc->evidence[0] ? inc->evidence : "{}";
    if (!event_text_json(&w, "evidence", evidence, strlen(evidence)))
        event_text_value(&w, "evidence", NULL);
    list(&w, "pcaps", inc->pcaps, ',');
    if (inc->exercise[0])
        event_text_string(&w, "exercise", inc->exercise);
    if (inc->drill_breach[0])
        event_text_string(&w, "drill_breach", inc->drill_breach);
    event_text_object_end(&w);
    return event_text_finish(&w);
}
