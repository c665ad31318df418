/* route.c — see route.h. */
#include "collector/route.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/units.h"

static const char *const class_names[] = {"normal", "serious_candidate", "sensor_fault"};
#define N_CLASSES 3

static const char *const action_names[ROUTE_ACTION_COUNT] = {
    "escalated", "updated",  "closed",   "acknowledged",    "confirmed",
    "rejected",  "resolved", "reopened", "report_due_soon", "report_overdue",
};

#define N_STATES 6

void route_defaults(struct route *r, const char *name, enum sink_id sink, bool sink_set, int line)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->name, sizeof(r->name), "%s", name);
    r->line = line;
    r->sink = sink;
    r->sink_set = sink_set;
    r->min_severity = SEV_MEDIUM;
    r->max_severity = SEV_CRITICAL;
    r->rate_per_s = 1.0; /* 60 a minute */
    r->burst = 20;
    r->timeout_us = 10ull * 1000000;
    r->port = 514;
    snprintf(r->app, sizeof(r->app), "canh-collector");
    snprintf(r->sd_id, sizeof(r->sd_id), "canh@32473");
    snprintf(r->sendmail, sizeof(r->sendmail), "/usr/sbin/sendmail");
}

/* The report drafts' defaults, applied once the sink is known. */
static void report_defaults(struct route *r)
{
    r->min_severity = SEV_LOW;
    r->classes = 1u << ROUTE_CLASS_SERIOUS;
    r->rate_per_s = 0;
    r->actions = 1u << ROUTE_ESCALATED;
}

/* Splits value on sep into words, each checked by word(); the words are
 * joined again with sep (spaces around them trimmed) into dst. */
static int set_list(const struct cfg_at *at, const char *value, char sep, char *dst, size_t size)
{
    char buf[4096];
    if (strlen(value) >= sizeof(buf) || strlen(value) >= size)
        return value_fail(at, "list too long");
    strcpy(buf, value);
    dst[0] = '\0';
    size_t used = 0;
    char seps[2] = {sep, '\0'};
    for (char *save = NULL, *tok = strtok_r(buf, seps, &save); tok;
         tok = strtok_r(NULL, seps, &save)) {
        while (*tok == ' ' || *tok == '\t')
            tok++;
        size_t n = strlen(tok);
        while (n && (tok[n - 1] == ' ' || tok[n - 1] == '\t'))
            tok[--n] = '\0';
        if (!n)
            continue;
        used += (size_t)snprintf(dst + used, size - used, "%s%s", used ? seps : "", tok);
    }
    if (!used)
        return value_fail(at, "empty list; leave the key out to take any");
    return 0;
}

/* A comma list of names out of table, as bits. */
static int set_bits(const struct cfg_at *at, const char *value, const char *const *table, size_t n,
                    unsigned *out)
{
    char buf[512];
    if (strlen(value) >= sizeof(buf))
        return value_fail(at, "list too long");
    strcpy(buf, value);
    unsigned bits = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ", \t", &save); tok;
         tok = strtok_r(NULL, ", \t", &save)) {
        size_t i = 0;
        while (i < n && strcmp(tok, table[i]) != 0)
            i++;
        if (i == n) {
            char known[256] = "";
            for (size_t k = 0; k < n; k++)
                snprintf(known + strlen(known), sizeof(known) - strlen(known), "%s%s",
                         k ? ", " : "", table[k]);
            return value_fail(at, "'%s' is not one of %s", tok, known);
        }
        bits |= 1u << i;
    }
    if (!bits)
        return value_fail(at, "empty list; leave the key out to take any");
    *out = bits;
    return 0;
}

static int set_taxonomy(const struct cfg_at *at, const char *value, struct route *r)
{
    if (set_list(at, value, ',', r->taxonomy, sizeof(r->taxonomy)) < 0)
        return -1;
    /* Each entry is a code or a prefix of codes ("attack", "fault."). */
    size_t count;
    const struct taxonomy *all = taxonomy_all(&count);
    char buf[sizeof(r->taxonomy)];
    strcpy(buf, r->taxonomy);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        size_t i = 0;
        while (i < count && strncmp(all[i].code, tok, strlen(tok)) != 0)
            i++;
        if (i == count)
            return value_fail(at,
                              "'%s' is no taxonomy code nor the start of one (e.g. attack.dos, "
                              "attack., fault.)",
                              tok);
    }
    return 0;
}

/* The sink a key belongs to: it may appear only in a route of that sink. */
static int kind_key(const struct cfg_at *at, struct route *r, enum sink_id kind)
{
    if (r->sink_set && r->sink != kind)
        return value_fail(at, "is a %s key, but route %s has sink = %s", sink_name(kind), r->name,
                          sink_name(r->sink));
    if (!r->kind_key_line) {
        r->kind_key_line = at->line;
        r->kind_key = kind;
        snprintf(r->kind_key_name, sizeof(r->kind_key_name), "%s", at->key);
    }
    return 0;
}

static int route_key_sink(struct route *r, const char *value, const struct cfg_at *at)
{
    const char *name = at->key;
    if (strcmp(name, "url") == 0) {
        if (kind_key(at, r, SINK_WEBHOOK) < 0)
            return -1;
        if (strncmp(value, "http://", 7) != 0)
            return value_fail(at,
                              "'%s' must start with http:// (for https put a TLS proxy such as "
                              "stunnel in front)",
                              value);
        return value_string(at, value, r->url, sizeof(r->url));
    }
    if (strcmp(name, "secret_file") == 0) {
        if (kind_key(at, r, SINK_WEBHOOK) < 0)
            return -1;
        r->secret_line = at->line;
        return value_string(at, value, r->secret_file, sizeof(r->secret_file));
    }
    if (strcmp(name, "timeout") == 0) /* webhook: the answer; email: sendmail's exit */
        return value_duration(at, value, 1, &r->timeout_us);
    if (strcmp(name, "host") == 0)
        return kind_key(at, r, SINK_SYSLOG) < 0 ? -1
                                                : value_string(at, value, r->host, sizeof(r->host));
    if (strcmp(name, "port") == 0) {
        uint64_t port;
        if (kind_key(at, r, SINK_SYSLOG) < 0 || value_count(at, value, 1, 65535, &port) < 0)
            return -1;
        r->port = (uint16_t)port;
        return 0;
    }
    if (strcmp(name, "proto") == 0) {
        if (kind_key(at, r, SINK_SYSLOG) < 0)
            return -1;
        if (strcasecmp(value, "udp") != 0 && strcasecmp(value, "tcp") != 0)
            return value_fail(at, "'%s' is not udp or tcp", value);
        r->tcp = strcasecmp(value, "tcp") == 0;
        return 0;
    }
    if (strcmp(name, "app_name") == 0)
        return kind_key(at, r, SINK_SYSLOG) < 0 ? -1
                                                : value_string(at, value, r->app, sizeof(r->app));
    if (strcmp(name, "sd_id") == 0) {
        if (kind_key(at, r, SINK_SYSLOG) < 0)
            return -1;
        /* RFC 5424 §6.3.2/§7.2.2: a SD-NAME of at most 32 printable ASCII
         * characters without '=', ' ', ']' or '"'; one that is not an
         * IANA-registered ID carries "@" and an enterprise number. */
        const char *at_sign = strchr(value, '@');
        size_t len = strlen(value);
        bool ok = len > 0 && len <= 32 && at_sign && at_sign != value && at_sign[1] != '\0';
        for (const char *p = value; ok && *p; p++)
            ok = *p > 32 && *p < 127 && *p != '=' && *p != ']' && *p != '"';
        for (const char *p = at_sign ? at_sign + 1 : ""; ok && *p; p++)
            ok = (*p >= '0' && *p <= '9') || (*p == '.' && p[1] && p[-1] != '@');
        if (!ok)
            return value_fail(at,
                              "'%s' is not an RFC 5424 SD-ID: NAME@NUMBER (your organisation's "
                              "private enterprise number), at most 32 characters",
                              value);
        return value_string(at, value, r->sd_id, sizeof(r->sd_id));
    }
    if (strcmp(name, "to") == 0 || strcmp(name, "from") == 0) {
        if (kind_key(at, r, SINK_EMAIL) < 0)
            return -1;
        /* Headers of the message: no line breaks may slip in. */
        if (strpbrk(value, "\r\n") || !strchr(value, '@'))
            return value_fail(at, "'%s' is not an e-mail address (list)", value);
        return name[0] == 't' ? value_string(at, value, r->mail_to, sizeof(r->mail_to))
                              : value_string(at, value, r->mail_from, sizeof(r->mail_from));
    }
    if (strcmp(name, "sendmail") == 0) {
        if (kind_key(at, r, SINK_EMAIL) < 0)
            return -1;
        if (value[0] != '/')
            return value_fail(at, "'%s' is not an absolute path (e.g. /usr/sbin/sendmail)", value);
        return value_string(at, value, r->sendmail, sizeof(r->sendmail));
    }
    return ROUTE_NOT_MINE;
}

int route_key(struct route *r, const char *value, const struct cfg_at *at)
{
    const char *name = at->key;
    if (strcmp(name, "sink") == 0) {
        enum sink_id s;
        if (sink_parse(value, &s) < 0)
            return value_fail(at, "'%s' is not webhook, syslog, email or report", value);
        if (r->kind_key_line && r->kind_key != s)
            return value_fail(at, "route %s has %s (line %d), a %s key", r->name, r->kind_key_name,
                              r->kind_key_line, sink_name(r->kind_key));
        r->sink = s;
        r->sink_set = true;
        r->sink_line = at->line;
        if (s == SINK_REPORT)
            report_defaults(r);
        return 0;
    }
    if (strcmp(name, "agency") == 0)
        return set_list(at, value, '|', r->agencies, sizeof(r->agencies));
    if (strcmp(name, "district") == 0)
        return set_list(at, value, '|', r->districts, sizeof(r->districts));
    if (strcmp(name, "taxonomy") == 0)
        return set_taxonomy(at, value, r);
    if (strcmp(name, "min_severity") == 0)
        return value_severity(at, value, &r->min_severity);
    if (strcmp(name, "max_severity") == 0)
        return value_severity(at, value, &r->max_severity);
    if (strcmp(name, "class") == 0) {
        if (strcmp(value, "any") == 0) {
            r->classes = 0;
            return 0;
        }
        return set_bits(at, value, class_names, N_CLASSES, &r->classes);
    }
    if (strcmp(name, "actions") == 0)
        return set_bits(at, value, action_names, ROUTE_ACTION_COUNT, &r->actions);
    if (strcmp(name, "states") == 0) {
        const char *states[N_STATES];
        for (int s = 0; s < N_STATES; s++)
            states[s] = incident_state_name((enum incident_state)s);
        return set_bits(at, value, states, N_STATES, &r->states);
    }
    if (strcmp(name, "exercise") == 0)
        return value_bool(at, value, &r->exercise);
    if (strcmp(name, "rate") == 0) {
        if (strcmp(value, "0") == 0 || strcmp(value, "unlimited") == 0) {
            r->rate_per_s = 0;
            return 0;
        }
        double rate;
        if (units_parse_rate_per_s(value, &rate) < 0 || rate <= 0)
            return value_fail(at, "'%s' is not a rate (e.g. 30/m, 1/s) or 'unlimited'", value);
        r->rate_per_s = rate;
        return 0;
    }
    if (strcmp(name, "burst") == 0) {
        uint64_t u;
        if (value_count(at, value, 1, 100000, &u) < 0)
            return -1;
        r->burst = (uint32_t)u;
        return 0;
    }
    return route_key_sink(r, value, at);
}

int route_check(const struct route *r, const char *path, struct cfg_err *err)
{
    const char *kind = r->legacy ? "" : "route.";
    if (!r->sink_set)
        return cfg_fail(err, path, r->line,
                        "[%s%s] has no sink: set sink = webhook, syslog, email or report", kind,
                        r->name);
    if (r->min_severity > r->max_severity)
        return cfg_fail(err, path, r->line, "[%s%s] min_severity is above max_severity", kind,
                        r->name);
    switch (r->sink) {
    case SINK_WEBHOOK:
        if (!r->url[0])
            return cfg_fail(err, path, r->line, "[%s%s] a webhook route needs url", kind, r->name);
        if (!r->secret_file[0])
            return cfg_fail(err, path, r->line,
                            "[%s%s] url is set but secret_file is not: receivers need the HMAC "
                            "key",
                            kind, r->name);
        break;
    case SINK_SYSLOG:
        if (!r->host[0])
            return cfg_fail(err, path, r->line, "[%s%s] a syslog route needs host", kind, r->name);
        break;
    case SINK_EMAIL:
        if (!r->mail_to[0])
            return cfg_fail(err, path, r->line, "[%s%s] an email route needs to", kind, r->name);
        break;
    default:
        break;
    }
    return 0;
}

int route_sink_of(const struct collector_config *cfg, const char *name, enum sink_id *out)
{
    for (size_t i = 0; cfg && i < cfg->n_routes; i++)
        if (strcmp(cfg->routes[i].name, name) == 0) {
            *out = cfg->routes[i].sink;
            return 0;
        }
    return sink_parse(name, out);
}

/* ---- matching ------------------------------------------------------- */

enum route_class route_incident_class(const struct incident *inc)
{
    /* The sensor's own health (capture drops, a silent capture link, a
     * silent agent) is not the agency's overload or link failure. */
    if (inc->type == INCIDENT_FAULT ||
        (inc->taxonomy && strncmp(inc->taxonomy->code, "fault.", 6) == 0 &&
         (incident_list_contains(inc->kinds, "capture_drops", ',') ||
          incident_list_contains(inc->kinds, "link_silent", ','))))
        return ROUTE_CLASS_SENSOR_FAULT;
    /* An operator's confirmation (criterion 2 of Decision 05) decides. */
    if (inc->confirmed != CONFIRMED_NONE)
        return inc->confirmed == CONFIRMED_SERIOUS ? ROUTE_CLASS_SERIOUS : ROUTE_CLASS_NORMAL;
    return inc->serious ? ROUTE_CLASS_SERIOUS : ROUTE_CLASS_NORMAL;
}

const char *route_class_name(enum route_class c)
{
    return (unsigned)c < N_CLASSES ? class_names[c] : "normal";
}

int route_action_parse(const char *action)
{
    for (int i = 0; i < ROUTE_ACTION_COUNT; i++) {
        size_t n = strlen(action_names[i]);
        if (strncmp(action, action_names[i], n) == 0 && (action[n] == '\0' || action[n] == '-'))
            return i;
    }
    return -1;
}

/* Any of the incident's agencies ('|' list: province-wide has several)
 * satisfies test. */
static bool any_agency(const struct collector_config *cfg, const struct route *r,
                       const char *agencies, bool by_district)
{
    char agency[256];
    for (const char *p = agencies; incident_list_next(&p, '|', agency, sizeof(agency));) {
        if (by_district) {
            const char *d = collector_agency_district(cfg, agency);
            if (d && incident_list_contains(r->districts, d, '|'))
                return true;
        } else if (incident_list_contains(r->agencies, agency, '|')) {
            return true;
        }
    }
    return false;
}

static bool taxonomy_matches(const char *prefixes, const char *code)
{
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", prefixes);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        if (strncmp(code, tok, strlen(tok)) == 0)
            return true;
    return false;
}

bool route_takes(const struct collector_config *cfg, const struct route *r,
                 const struct incident *inc)
{
    /* A drill's incidents reach only the drill routes (docs/drills.md). */
    if (inc->exercise[0] && !r->exercise)
        return false;
    if (inc->severity < r->min_severity || inc->severity > r->max_severity)
        return false;
    if (r->classes && !(r->classes & (1u << route_incident_class(inc))))
        return false;
    if (r->agencies[0] && !any_agency(cfg, r, inc->agency, false))
        return false;
    if (r->districts[0] && !any_agency(cfg, r, inc->agency, true))
        return false;
    if (r->taxonomy[0] && !(inc->taxonomy && taxonomy_matches(r->taxonomy, inc->taxonomy->code)))
        return false;
    return true;
}

bool route_hears(const struct route *r, const char *action, enum incident_state state)
{
    int a = route_action_parse(action);
    if (r->actions && (a < 0 || !(r->actions & (1u << a))))
        return false;
    if (r->states && !(r->states & (1u << state)))
        return false;
    return true;
}
