/* event.c — see event.h. */
#include "common/event.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "common/units.h"

const char *finding_state_name(enum finding_state s)
{
    switch (s) {
    case FINDING_NEW:
        return "new";
    case FINDING_UPDATE:
        return "update";
    case FINDING_END:
        return "end";
    }
    return "new";
}

static const char *const conseq_names[CONSEQ_COUNT][2] = {
    [CONSEQ_NONE] = {"", ""},
    [CONSEQ_SERVICE_INTERRUPTION] = {"service_interruption", "Gián đoạn dịch vụ"},
    [CONSEQ_LOSS_OF_CONTROL] = {"loss_of_control", "Mất quyền kiểm soát hệ thống"},
    [CONSEQ_LOSS_OF_INTEGRITY] = {"loss_of_integrity", "Mất tính toàn vẹn của dữ liệu"},
};

const char *consequence_name(enum consequence c)
{
    return c < CONSEQ_COUNT ? conseq_names[c][0] : "";
}

const char *consequence_vi(enum consequence c)
{
    return c < CONSEQ_COUNT ? conseq_names[c][1] : "";
}

enum consequence consequence_parse(const char *name)
{
    for (int c = 1; name && c < CONSEQ_COUNT; c++)
        if (strcmp(name, conseq_names[c][0]) == 0)
            return (enum consequence)c;
    return CONSEQ_NONE;
}

const char *event_class_name(enum event_class c)
{
    return c == CLASS_SERIOUS_CANDIDATE ? "serious_candidate" : "normal";
}

const char *event_proto_name(uint8_t proto, char *buf, size_t len)
{
    switch (proto) {
    case 6:
        return "TCP";
    case 17:
        return "UDP";
    case 1:
        return "ICMP";
    case 58:
        return "IPv6-ICMP";
    default:
        snprintf(buf, len, "%u", proto);
        return buf;
    }
}

/* EVE's alert.severity: 1 is the most severe, as Suricata's rule
 * priorities; each canh level keeps its own number so a SIEM can tell
 * critical from high (docs/decisions.md). */
int event_eve_severity(enum severity s)
{
    switch (s) {
    case SEV_CRITICAL:
        return 1;
    case SEV_HIGH:
        return 2;
    case SEV_MEDIUM:
        return 3;
    default:
        return 4;
    }
}

const char *event_type_name(enum finding_state s)
{
    return s == FINDING_NEW ? "alert" : "finding";
}

/* FNV-1a: byte order independent, so ids are the same on every agent. */
static uint64_t fnv1a64(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) {
        h ^= (uint8_t)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

uint64_t event_flow_id(const char *finding_id)
{
    /* 51 bits, as Suricata's flow ids, so JavaScript-based consumers
     * read the number exactly; never 0. */
    uint64_t id = fnv1a64(finding_id) & ((1ull << 51) - 1);
    return id ? id : 1;
}

uint32_t event_signature_id(const char *rule_name)
{
    uint32_t h = 0x811c9dc5u;
    for (; *rule_name; rule_name++) {
        h ^= (uint8_t)*rule_name;
        h *= 0x01000193u;
    }
    return EVENT_SIGNATURE_ID_BASE + h % EVENT_SIGNATURE_ID_SPAN;
}

uint32_t event_rules_rev(uint64_t rules_digest)
{
    uint32_t rev = (uint32_t)(rules_digest >> 33);
    return rev ? rev : 1;
}

static json_t *json_time(uint64_t ts_us)
{
    char buf[48];
    return json_string(units_format_time(ts_us, buf, sizeof(buf)));
}

static json_t *json_addr(const struct ipaddr *a)
{
    char buf[ADDR_STRLEN];
    return json_string(addr_format(a, buf, sizeof(buf)));
}

json_t *evt_to_json(const struct evt *ev)
{
    const struct taxonomy *tax = ev->taxonomy;
    enum severity sev = ev->severity;
    char buf[256];

    json_t *root = json_object();
    json_object_set_new(root, "timestamp", json_time(ev->ts_us));
    if (ev->flow_id)
        json_object_set_new(root, "flow_id", json_integer((json_int_t)ev->flow_id));
    if (ev->in_iface && ev->in_iface[0])
        json_object_set_new(root, "in_iface", json_string(ev->in_iface));
    json_object_set_new(root, "event_type", json_string(event_type_name(ev->state)));
    if (ev->has_src)
        json_object_set_new(root, "src_ip", json_addr(&ev->src));
    if (ev->src_port)
        json_object_set_new(root, "src_port", json_integer(ev->src_port));
    if (ev->has_dst)
        json_object_set_new(root, "dest_ip", json_addr(&ev->dst));
    if (ev->dest_port)
        json_object_set_new(root, "dest_port", json_integer(ev->dest_port));
    if (ev->proto)
        json_object_set_new(root, "proto",
                            json_string(event_proto_name(ev->proto, buf, sizeof(buf))));
    if (ev->community_id[0])
        json_object_set_new(root, "community_id", json_string(ev->community_id));
    if (ev->agent && ev->agent[0])
        json_object_set_new(root, "host", json_string(ev->agent));

    /* canh only watches: nothing it reports was blocked. */
    json_t *alert = json_object();
    json_object_set_new(alert, "action", json_string("allowed"));
    json_object_set_new(alert, "gid", json_integer(EVENT_SIGNATURE_GID));
    json_object_set_new(alert, "signature_id", json_integer(event_signature_id(ev->rule->name)));
    json_object_set_new(alert, "rev", json_integer(ev->rules_rev ? ev->rules_rev : 1));
    snprintf(buf, sizeof(buf), "canh %s", ev->kind);
    json_object_set_new(alert, "signature", json_string(buf));
    snprintf(buf, sizeof(buf), "%s / %s", tax->vi, tax->en);
    json_object_set_new(alert, "category", json_string(buf));
    json_object_set_new(alert, "severity", json_integer(event_eve_severity(sev)));
    json_object_set_new(root, "alert", alert);

    json_t *c = json_object();
    json_object_set_new(c, "v", json_integer(EVENT_SCHEMA_VERSION));
    json_object_set_new(c, "id", json_string(ev->id));
    json_object_set_new(c, "finding_id", json_string(ev->finding_id));
    json_object_set_new(c, "agent", json_string(ev->agent ? ev->agent : ""));
    json_object_set_new(c, "agency", json_string(ev->agency ? ev->agency : ""));
    json_object_set_new(c, "kind", json_string(ev->kind));
    json_object_set_new(c, "state", json_string(finding_state_name(ev->state)));
    json_t *t = json_object();
    json_object_set_new(t, "code", json_string(tax->code));
    json_object_set_new(t, "vi", json_string(tax->vi));
    json_object_set_new(t, "en", json_string(tax->en));
    json_object_set_new(c, "taxonomy", t);
    json_object_set_new(c, "severity", json_string(severity_name(sev)));
    json_object_set_new(c, "class", json_string(event_class_name(ev->class_)));
    json_object_set_new(c, "rule", json_string(ev->rule->ref));
    if (ev->asset) {
        json_t *a = json_object();
        json_object_set_new(a, "name", json_string(ev->asset->name));
        json_object_set_new(a, "owner", json_string(ev->asset->owner));
        json_object_set_new(a, "level", json_integer(ev->asset->level));
        if (ev->asset->national_critical)
            json_object_set_new(a, "national_critical", json_true());
        json_object_set_new(c, "asset", a);
    }
    if (ev->src_country[0]) {
        json_t *g = json_object();
        json_object_set_new(g, "country", json_string(ev->src_country));
        json_object_set_new(c, "src_geo", g);
    }
    json_object_set_new(c, "first_seen", json_time(ev->first_seen_us));
    json_object_set_new(c, "last_seen", json_time(ev->last_seen_us));
    json_t *counters = evt_counters_json(ev);
    if (!counters) {
        json_decref(c);
        json_decref(root);
        return NULL;
    }
    json_object_set_new(c, "counters", counters);
    if (ev->sensor)
        json_object_set_new(c, "sensor", json_true());
    /* The detector owns its evidence object: the consequence goes into a
     * copy of it (a few per finding, off the packet path). */
    json_t *evidence = ev->evidence ? json_copy(ev->evidence) : evt_evidence_json(ev);
    if (!evidence) {
        json_decref(c);
        json_decref(root);
        return NULL;
    }
    if (ev->consequence != CONSEQ_NONE)
        json_object_set_new(evidence, "consequence",
                            json_string(consequence_name(ev->consequence)));
    json_object_set_new(c, "evidence", evidence);
    if (ev->exercise)
        json_object_set_new(c, "exercise", json_string(ev->exercise));
    json_object_set_new(root, "canh", c);
    return root;
}

/* tree, else text parsed, else {} */
static json_t *member_json(json_t *tree, const char *text, size_t len)
{
    if (tree)
        return json_incref(tree);
    if (!text)
        return json_object();
    return json_loadb(text, len, 0, NULL);
}

json_t *evt_counters_json(const struct evt *ev)
{
    return member_json(ev->counters, ev->counters_text, ev->counters_len);
}

json_t *evt_evidence_json(const struct evt *ev)
{
    return member_json(ev->evidence, ev->evidence_text, ev->evidence_len);
}

bool event_exercise_valid(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > EVENT_EXERCISE_MAX)
        return false;
    for (; *id; id++)
        if (!isalnum((unsigned char)*id) && !strchr("._-", *id))
            return false;
    return true;
}
