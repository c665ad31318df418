/* ingest.c — see ingest.h. */
#include "collector/ingest.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/event.h"
#include "common/json_parse.h"
#include "common/prom.h"
#include "common/units.h"

#define EVENTS_PREFIX "canh:events:"
#define HEARTBEATS_PREFIX "canh:heartbeats:"

const char *ingest_stream_agent(const char *stream)
{
    if (strncmp(stream, EVENTS_PREFIX, strlen(EVENTS_PREFIX)) == 0)
        return stream + strlen(EVENTS_PREFIX);
    if (strncmp(stream, HEARTBEATS_PREFIX, strlen(HEARTBEATS_PREFIX)) == 0)
        return stream + strlen(HEARTBEATS_PREFIX);
    return NULL;
}

bool ingest_is_heartbeat_stream(const char *stream)
{
    return strncmp(stream, HEARTBEATS_PREFIX, strlen(HEARTBEATS_PREFIX)) == 0;
}

static int refuse(char *reason, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int refuse(char *reason, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, len, fmt, ap);
    va_end(ap);
    return -1;
}

static const char *get_str(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static json_t *load_json(const char *text, size_t len, char *reason, size_t reason_len)
{
    /* The agents' common shape without jansson's lexer (common/json_parse.h);
     * anything else, errors included, as jansson reads it. */
    json_t *root = json_parse_object(text, len);
    if (root)
        return root;
    json_error_t jerr;
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        refuse(reason, reason_len, "invalid JSON at %d:%d: %s", jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        refuse(reason, reason_len, "not a JSON object");
        return NULL;
    }
    return root;
}

/* ---- an event's members, from either reading ---------------------------
 * The quick parse's node table, or one made of jansson's tree when the
 * text is left to jansson (its strings are the tree's). */

/* Node k follows last (-1: none yet) among parent's members. */
static void doc_link(struct json_doc *d, int parent, int *last, int k)
{
    if (*last < 0)
        d->nodes[parent].first = k;
    else
        d->nodes[*last].next = k;
    *last = k;
}

static int doc_add_tree(struct json_doc *d, json_t *v, const char *key)
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? 2 * d->cap : 128;
        struct json_node *nodes = realloc(d->nodes, cap * sizeof(*nodes));
        if (!nodes)
            return -1;
        d->nodes = nodes;
        d->cap = cap;
    }
    int i = (int)d->n++;
    d->nodes[i] = (struct json_node){.key = key, .type = json_typeof(v), .first = -1, .next = -1};
    int last = -1, k;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *name;
        json_t *member;
        json_object_foreach(v, name, member)
        {
            if ((k = doc_add_tree(d, member, name)) < 0)
                return -1;
            doc_link(d, i, &last, k);
        }
        break;
    }
    case JSON_ARRAY: {
        size_t x;
        json_t *member;
        json_array_foreach(v, x, member)
        {
            if ((k = doc_add_tree(d, member, NULL)) < 0)
                return -1;
            doc_link(d, i, &last, k);
        }
        break;
    }
    case JSON_STRING:
        d->nodes[i].str = json_string_value(v);
        d->nodes[i].str_len = json_string_length(v);
        break;
    case JSON_INTEGER:
        d->nodes[i].integer = json_integer_value(v);
        break;
    case JSON_REAL:
        d->nodes[i].real = json_real_value(v);
        break;
    default:
        break;
    }
    return i;
}

static int member(const struct json_doc *d, int obj, const char *key)
{
    return json_doc_get(d, obj, key);
}

static const char *member_str(const struct json_doc *d, int obj, const char *key)
{
    int i = json_doc_get(d, obj, key);
    return i >= 0 && d->nodes[i].type == JSON_STRING ? d->nodes[i].str : NULL;
}

static json_type member_type(const struct json_doc *d, int i)
{
    return i >= 0 ? d->nodes[i].type : JSON_NULL;
}

/* Ids and names end up in Redis keys and report file names. */
static bool safe_token(const char *s)
{
    if (!*s || strlen(s) > 95)
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("-_.:", *s))
            return false;
    return true;
}

static int parse_body(const char *stream_agent, const struct json_doc *d, struct in_event *ev,
                      char *reason, size_t rlen)
{
    const int root = 0;
    /* A finding's new event is an "alert", its update and end "finding"
     * events (docs/event.md); agents before that sent "alert" for all
     * three, which stays accepted. */
    const char *type = member_str(d, root, "event_type");
    if (!type || (strcmp(type, "alert") != 0 && strcmp(type, "finding") != 0))
        return refuse(reason, rlen, "event_type is not \"alert\" or \"finding\"");
    int c = member(d, root, "canh");
    if (member_type(d, c) != JSON_OBJECT)
        return refuse(reason, rlen, "missing object \"canh\"");
    int v = member(d, c, "v");
    if (member_type(d, v) != JSON_INTEGER)
        return refuse(reason, rlen, "missing canh.v");
    if (d->nodes[v].integer != EVENT_SCHEMA_VERSION)
        return refuse(reason, rlen, "unknown schema version canh.v=%lld",
                      (long long)d->nodes[v].integer);
#define REQUIRE(field, key)                                                                        \
    do {                                                                                           \
        ev->field = member_str(d, c, key);                                                         \
        if (!ev->field || !*ev->field)                                                             \
            return refuse(reason, rlen, "missing canh." key);                                      \
    } while (0)
    REQUIRE(id, "id");
    REQUIRE(agent, "agent");
    REQUIRE(kind, "kind");
    REQUIRE(state, "state");
#undef REQUIRE
    if (!safe_token(ev->id))
        return refuse(reason, rlen, "canh.id has characters outside [A-Za-z0-9-_.:]");
    if (stream_agent && strcmp(ev->agent, stream_agent) != 0)
        return refuse(reason, rlen, "canh.agent \"%.64s\" is not the stream's agent \"%.64s\"",
                      ev->agent, stream_agent);
    ev->finding_id = member_str(d, c, "finding_id");
    if (!ev->finding_id || !*ev->finding_id)
        ev->finding_id = ev->id;
    if (strcmp(ev->state, "new") != 0 && strcmp(ev->state, "update") != 0 &&
        strcmp(ev->state, "end") != 0)
        return refuse(reason, rlen, "canh.state \"%.32s\" is not new, update or end", ev->state);
    if (strcmp(type, "finding") == 0 && strcmp(ev->state, "new") == 0)
        return refuse(reason, rlen, "a \"finding\" event cannot open a finding (state new)");
    const char *kind = ev->kind;
    for (; *kind; kind++)
        if (!isalnum((unsigned char)*kind) && *kind != '_' && *kind != '-' && *kind != '.')
            return refuse(reason, rlen, "canh.kind has characters outside [A-Za-z0-9_.-]");
    ev->agency = member_str(d, c, "agency");
    if (!ev->agency || !*ev->agency)
        ev->agency = ev->agent;
    if (strchr(ev->agency, '|') || strlen(ev->agency) > 200)
        return refuse(reason, rlen, "canh.agency is longer than 200 bytes or contains '|'");
    const char *code = member_str(d, member(d, c, "taxonomy"), "code");
    if (!code)
        return refuse(reason, rlen, "missing canh.taxonomy.code");
    ev->taxonomy = taxonomy_find(code);
    if (!ev->taxonomy)
        return refuse(reason, rlen, "unknown taxonomy code \"%.64s\"", code);
    const char *sev = member_str(d, c, "severity");
    if (!sev || severity_parse(sev, &ev->severity) < 0)
        return refuse(reason, rlen, "canh.severity is not low, medium, high or critical");
    const char *cls = member_str(d, c, "class");
    if (!cls || (strcmp(cls, "normal") != 0 && strcmp(cls, "serious_candidate") != 0))
        return refuse(reason, rlen, "canh.class is not normal or serious_candidate");
    ev->serious = strcmp(cls, "serious_candidate") == 0;
    const char *ts = member_str(d, root, "timestamp");
    if (!ts || units_parse_time_us(ts, &ev->ts_us) < 0)
        return refuse(reason, rlen, "timestamp missing or not ISO 8601");
    const char *fs = member_str(d, c, "first_seen"), *ls = member_str(d, c, "last_seen");
    if (!fs || units_parse_time_us(fs, &ev->first_seen_us) < 0)
        ev->first_seen_us = ev->ts_us;
    if (!ls || units_parse_time_us(ls, &ev->last_seen_us) < 0)
        ev->last_seen_us = ev->ts_us;
    ev->src_ip = member_str(d, root, "src_ip");
    ev->dest_ip = member_str(d, root, "dest_ip");
    if ((ev->src_ip && (strlen(ev->src_ip) > 45 || strchr(ev->src_ip, '|'))) ||
        (ev->dest_ip && strlen(ev->dest_ip) > 45))
        return refuse(reason, rlen, "src_ip or dest_ip is not an address");
    int port = member(d, root, "dest_port");
    ev->dest_port = member_type(d, port) == JSON_INTEGER ? (int)d->nodes[port].integer : 0;
    int asset = member(d, c, "asset");
    ev->asset_name = member_str(d, asset, "name");
    ev->asset_owner = member_str(d, asset, "owner");
    if (!ev->asset_name)
        ev->asset_name = "";
    if (!ev->asset_owner)
        ev->asset_owner = "";
    if (strchr(ev->asset_name, '|'))
        return refuse(reason, rlen, "canh.asset.name contains '|'");
    int level = member(d, asset, "level");
    ev->level = member_type(d, level) == JSON_INTEGER ? (int)d->nodes[level].integer : 0;
    if (ev->level < 0 || ev->level > 5)
        ev->level = 0;
    ev->national_critical = member_type(d, member(d, asset, "national_critical")) == JSON_TRUE;
    ev->sensor = member_type(d, member(d, c, "sensor")) == JSON_TRUE;
    /* The agent's GeoIP lookup of the source (agent/enrich.c): two
     * capital letters, anything else is no country. */
    const char *cc = member_str(d, member(d, c, "src_geo"), "country");
    ev->src_country =
        cc && strlen(cc) == 2 && cc[0] >= 'A' && cc[0] <= 'Z' && cc[1] >= 'A' && cc[1] <= 'Z'
            ? cc
            : NULL;
    /* The only parts kept as trees: the incident's evidence text and
     * summary are made of them (incident.c). */
    int counters = member(d, c, "counters"), evidence = member(d, c, "evidence");
    if ((counters >= 0 && !(ev->counters = json_doc_tree(d, counters))) ||
        (evidence >= 0 && !(ev->evidence = json_doc_tree(d, evidence))))
        return refuse(reason, rlen, "out of memory");
    /* An unknown name counts as none: the class rule needs a consequence
     * the collector knows (architecture §6). */
    ev->consequence = consequence_parse(member_str(d, evidence, "consequence"));
    /* The packet evidence file: a name in the agent's state directory,
     * kept only when it cannot break the incident's comma list. */
    ev->pcap_file = member_str(d, member(d, c, "pcap"), "file");
    if (ev->pcap_file && (strchr(ev->pcap_file, ',') || strlen(ev->pcap_file) >= 160))
        ev->pcap_file = NULL;
    int exercise = member(d, c, "exercise");
    if (exercise >= 0) {
        ev->exercise = member_str(d, c, "exercise");
        if (!ev->exercise || !event_exercise_valid(ev->exercise))
            return refuse(reason, rlen, "canh.exercise is not a drill id (1-%d of [A-Za-z0-9._-])",
                          EVENT_EXERCISE_MAX);
    }
    return 0;
}

int ingest_parse_event(const char *stream_agent, const char *text, size_t len, struct in_event *out,
                       char *reason, size_t reason_len)
{
    /* The node table is kept for the next event; the text's copy goes
     * with the event (its strings are read in place). */
    static _Thread_local struct json_doc doc;
    memset(out, 0, sizeof(*out));
    if (!(out->text = malloc(len + 1)))
        return refuse(reason, reason_len, "out of memory");
    memcpy(out->text, text, len);
    out->text[len] = '\0';
    if (json_doc_parse(&doc, out->text, len) < 0) {
        /* Anything the quick parse leaves, errors included, as jansson
         * reads it. */
        free(out->text);
        out->text = NULL;
        json_error_t jerr;
        out->root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!out->root)
            return refuse(reason, reason_len, "invalid JSON at %d:%d: %s", jerr.line, jerr.column,
                          jerr.text);
        if (!json_is_object(out->root)) {
            ingest_event_free(out);
            return refuse(reason, reason_len, "not a JSON object");
        }
        doc.n = 0;
        if (doc_add_tree(&doc, out->root, NULL) < 0) {
            ingest_event_free(out);
            return refuse(reason, reason_len, "out of memory");
        }
    }
    if (parse_body(stream_agent, &doc, out, reason, reason_len) < 0) {
        ingest_event_free(out);
        return -1;
    }
    return 0;
}

void ingest_event_free(struct in_event *ev)
{
    free(ev->text);
    json_decref(ev->root);
    json_decref(ev->counters);
    json_decref(ev->evidence);
    free(ev->kept_agency);
    free(ev->kept_drill);
    memset(ev, 0, sizeof(*ev));
}

const char *ingest_keep(char **slot, const char *value)
{
    char *copy = strdup(value);
    if (!copy)
        return NULL;
    free(*slot);
    *slot = copy;
    return copy;
}

int ingest_parse_heartbeat(const char *stream_agent, const char *text, size_t len,
                           struct in_heartbeat *out, char *reason, size_t reason_len)
{
    memset(out, 0, sizeof(*out));
    out->root = load_json(text, len, reason, reason_len);
    if (!out->root)
        return -1;
    const char *type = get_str(out->root, "event_type");
    json_t *c = json_object_get(out->root, "canh");
    if (!type || strcmp(type, "stats") != 0) {
        refuse(reason, reason_len, "event_type is not \"stats\"");
        goto err;
    }
    out->agent = get_str(c, "agent");
    if (!out->agent || !*out->agent) {
        refuse(reason, reason_len, "missing canh.agent");
        goto err;
    }
    if (stream_agent && strcmp(out->agent, stream_agent) != 0) {
        refuse(reason, reason_len, "canh.agent \"%.64s\" is not the stream's agent \"%.64s\"",
               out->agent, stream_agent);
        goto err;
    }
    out->agency = get_str(c, "agency");
    if (!out->agency)
        out->agency = "";
    return 0;
err:
    ingest_heartbeat_free(out);
    return -1;
}

void ingest_heartbeat_free(struct in_heartbeat *hb)
{
    json_decref(hb->root);
    memset(hb, 0, sizeof(*hb));
}

/* ---- what the stream's agent may claim (issue 19) -------------------- */

static bool owned_by(const char *id, const char *agent)
{
    size_t n = strlen(agent);
    return strncmp(id, agent, n) == 0 && id[n] == ':';
}

/* The bound agency is copied into the event (*kept) or written into the
 * heartbeat's own JSON (root), and *agency points there: it must outlive
 * a reload that frees the configuration it came from while the entry is
 * being applied. */
static int vet_agency(const struct ingest_policy *pol, json_t *root, char **kept, const char *agent,
                      const char **agency, char *reason, size_t rlen)
{
    if (!pol->bound_agency) {
        if (pol->bindings)
            return refuse(reason, rlen,
                          "agent \"%.64s\" is not bound to an agency in collector.conf [agents]",
                          agent);
        return 0; /* no [agents]: the agent's own word (documented as unsafe) */
    }
    if (**agency && strcmp(*agency, pol->bound_agency) != 0)
        return refuse(reason, rlen,
                      "canh.agency \"%.64s\" is not agent %.64s's agency \"%.64s\" "
                      "(collector.conf [agents])",
                      *agency, agent, pol->bound_agency);
    const char *bound = NULL;
    if (kept) {
        bound = ingest_keep(kept, pol->bound_agency);
    } else {
        json_t *c = json_object_get(root, "canh");
        if (json_object_set_new(c, "agency", json_string(pol->bound_agency)) == 0)
            bound = json_string_value(json_object_get(c, "agency"));
    }
    if (!bound)
        return refuse(reason, rlen, "out of memory");
    *agency = bound;
    return 0;
}

static const char *time_text(uint64_t us, char *buf, size_t len)
{
    return units_format_time(us, buf, len);
}

int ingest_vet_event(const struct ingest_policy *pol, const char *stream_agent, struct in_event *ev,
                     char *reason, size_t rlen)
{
    if (stream_agent && !owned_by(ev->id, stream_agent))
        return refuse(reason, rlen, "canh.id \"%.64s\" is not one of agent %.64s's (%.64s:...)",
                      ev->id, stream_agent, stream_agent);
    if (stream_agent && !owned_by(ev->finding_id, stream_agent))
        return refuse(reason, rlen,
                      "canh.finding_id \"%.64s\" is not one of agent %.64s's (%.64s:...)",
                      ev->finding_id, stream_agent, stream_agent);
    /* the event's own agency, "" when it named none */
    const char *agency = ev->agency == ev->agent ? "" : ev->agency;
    if (vet_agency(pol, NULL, &ev->kept_agency, ev->agent, &agency, reason, rlen) < 0)
        return -1;
    if (*agency)
        ev->agency = agency;
    if (!pol->entry_ms)
        return 0;
    uint64_t entry_us = pol->entry_ms * 1000;
    uint64_t lo = entry_us > pol->max_age_us ? entry_us - pol->max_age_us : 0;
    uint64_t hi = entry_us + pol->max_ahead_us;
    char a[48], b[48];
    const char *which = ev->ts_us > hi   ? "max_clock_ahead after"
                        : ev->ts_us < lo ? "max_event_age before"
                                         : NULL;
    if (which) {
        if (pol->deadletter_misdated)
            return refuse(reason, rlen, "timestamp %s is more than %s the stream entry (%s)",
                          time_text(ev->ts_us, a, sizeof(a)), which,
                          time_text(entry_us, b, sizeof(b)));
        snprintf(reason, rlen,
                 "timestamp %s is more than %s the stream entry (%s); counted at the entry's time",
                 time_text(ev->ts_us, a, sizeof(a)), which, time_text(entry_us, b, sizeof(b)));
        ev->ts_us = ev->first_seen_us = ev->last_seen_us = entry_us;
        if (pol->clamped)
            (*pol->clamped)++;
        return 1;
    }
    bool clamped = false;
    if (ev->first_seen_us < lo || ev->first_seen_us > ev->ts_us) {
        ev->first_seen_us = ev->ts_us;
        clamped = true;
    }
    if (ev->last_seen_us > hi || ev->last_seen_us < ev->first_seen_us) {
        ev->last_seen_us = ev->ts_us;
        clamped = true;
    }
    if (clamped && pol->clamped)
        (*pol->clamped)++;
    return 0;
}

int ingest_vet_heartbeat(const struct ingest_policy *pol, struct in_heartbeat *hb, char *reason,
                         size_t rlen)
{
    return vet_agency(pol, hb->root, NULL, hb->agent, &hb->agency, reason, rlen);
}

#define SUMMARY_MAX_KEYS 32 /* names kept from one map of a heartbeat */
#define SUMMARY_MAX_NAME 32 /* bytes of such a name */

/* The integer (and boolean) members of src with short names into dst, at most
 * SUMMARY_MAX_KEYS of them; only the names wanted() accepts when it is given. */
static void copy_int_map(json_t *dst, json_t *src, bool (*wanted)(const char *name))
{
    const char *key;
    json_t *v;
    size_t n = 0;
    json_object_foreach(src, key, v)
    {
        if (n >= SUMMARY_MAX_KEYS || strlen(key) > SUMMARY_MAX_NAME ||
            !(json_is_integer(v) || json_is_boolean(v)))
            continue;
        if (!wanted || wanted(key)) {
            json_object_set(dst, key, v);
            n++;
        }
    }
}

char *ingest_heartbeat_summary(const struct in_heartbeat *hb)
{
    /* canh.<key> (NULL sub) or canh.<key>.<sub>, copied when an integer
     * or a string of at most 200 bytes */
    static const char *const keep[][2] = {
        {"v", NULL},
        {"version", NULL},
        {"uptime_s", NULL},
        {"interval_s", NULL},
        {"rules_version", NULL},
        {"source", NULL},
        {"packets", NULL},
        {"bytes", NULL},
        {"events", NULL},
        {"rss_bytes", NULL},
        {"decoded", NULL},
        {"decode_errors", NULL},
        {"capture", "received"},
        {"capture", "dropped"},
        {"capture", "if_dropped"},
        {"capture", "wirelen_capped"},
        {"spool", "records"},
        {"spool", "bytes"},
        {"spool", "lost_records"},
        {"spool", "lost_bytes"},
        {"spool", "torn_bytes"},
        {"spool", "damaged_records"},
        {"counters", "packets"},
        {"counters", "bytes"},
        {"counters", "pcap_drops"},
        {"counters", "events"},
        {"evidence", "files"},
        {"evidence", "disk_bytes"},
        {"evidence", "removed_files"},
        {"evidence", "write_errors"},
        {"evidence", "ring_dropped"},
        {"checks", "urls"},
        {"checks", "done"},
        {"checks", "failed"},
    };
    json_t *in = json_object_get(hb->root, "canh");
    json_t *canh = json_object();
    json_object_set_new(canh, "agent", json_string(hb->agent));
    json_object_set_new(canh, "agency", json_string(hb->agency));
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
        json_t *v = json_object_get(in, keep[i][0]);
        if (keep[i][1])
            v = json_object_get(v, keep[i][1]);
        if (!json_is_integer(v) && !(json_is_string(v) && json_string_length(v) <= 200))
            continue;
        if (!keep[i][1]) {
            json_object_set(canh, keep[i][0], v);
            continue;
        }
        json_t *sub = json_object_get(canh, keep[i][0]);
        if (!sub) {
            sub = json_object();
            json_object_set_new(canh, keep[i][0], sub);
        }
        json_object_set(sub, keep[i][1], v);
    }
    /* Two bounded maps /metrics labels by name: decode errors by reason,
     * and each detector's figures that common/prom.c reads. */
    json_t *why = json_object();
    copy_int_map(why, json_object_get(in, "decode_errors_by_reason"), NULL);
    json_object_set_new(canh, "decode_errors_by_reason", why);
    json_t *det = json_object();
    const char *name;
    json_t *member;
    size_t n_det = 0;
    json_object_foreach(json_object_get(in, "detectors"), name, member)
    {
        if (n_det++ >= SUMMARY_MAX_KEYS || strlen(name) > SUMMARY_MAX_NAME ||
            !json_is_object(member))
            continue;
        json_t *d = json_object();
        copy_int_map(d, member, prom_detector_field);
        json_object_set_new(det, name, d);
    }
    json_object_set_new(canh, "detectors", det);
    json_t *root = json_object();
    json_t *ts = json_object_get(hb->root, "timestamp");
    if (json_is_string(ts) && json_string_length(ts) <= 64)
        json_object_set(root, "timestamp", ts);
    json_object_set_new(root, "event_type", json_string("stats"));
    json_object_set_new(root, "canh", canh);
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return text;
}
