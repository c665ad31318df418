/* config.c — see config.h.  The file is read by common/ini.c and its values
 * parsed by common/values.c, as the agent's files are; this file knows only
 * collector.conf's sections, keys, defaults and cross-key checks. */
#include "collector/config.h"
#include "collector/registry.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "collector/route.h"
#include "common/ini.h"
#include "common/log.h"
#include "common/redis/secret.h"
#include "common/redis/url.h"
#include "common/units.h"

static const char *const sink_names[SINK_COUNT] = {"webhook", "syslog", "report", "email"};

const char *sink_name(enum sink_id s)
{
    return (unsigned)s < SINK_COUNT ? sink_names[s] : "?";
}

int sink_parse(const char *name, enum sink_id *out)
{
    for (int i = 0; i < SINK_COUNT; i++) {
        if (strcmp(name, sink_names[i]) == 0) {
            *out = (enum sink_id)i;
            return 0;
        }
    }
    return -1;
}

void collector_config_defaults(struct collector_config *c)
{
    memset(c, 0, sizeof(*c));
    char host[64] = "canh";
    gethostname(host, sizeof(host) - 1);
    snprintf(c->consumer, sizeof(c->consumer), "%s-%ld", host, (long)getpid());
    snprintf(c->redis_url, sizeof(c->redis_url), "redis://127.0.0.1:6379");
    c->discover_interval_us = 10ull * 1000000;
    c->batch = 100;
    c->block_us = 1000000;
    c->claim_idle_us = 60ull * 1000000;
    c->claim_interval_us = 30ull * 1000000;
    c->dedup_ttl_us = 7ull * 86400 * 1000000;
    c->timeout_us = 5ull * 1000000;
    c->maxlen = 100000;
    c->log_level = LOG_LEVEL_INFO;
    c->max_clock_ahead_us = 5ull * 60 * 1000000;
    c->max_event_age_us = 7ull * 86400 * 1000000;
    c->max_entry_bytes = 256ull << 10;
    c->max_heartbeat_bytes = 16ull << 10;
    c->max_inflight = 128;
    c->incident_window_us = 30ull * 60 * 1000000;
    c->max_event_ids = 50;
    c->serious_level = 4; /* Decision 05/2017: levels 4 and 5 */
    c->sweep_interval_us = 5ull * 1000000;
    c->reject_suppress_us = 7ull * 24 * 3600 * 1000000;
    c->correlation_window_us = 60ull * 60 * 1000000;
    c->combined_min_kinds = 2;
    c->province_min_agencies = 2;
    c->silent_after_us = 120ull * 1000000;
    c->link_severity = SEV_MEDIUM;
    c->retry_base_us = 1000000;
    c->retry_max_us = 10ull * 60 * 1000000;
    c->poll_interval_us = 500000;
    c->report_deadline_us = 5ull * 86400 * 1000000;
    c->archive_retention_months = 36;
    c->status_refresh_us = 1000000;
    c->status_max_open = 200;
    c->status_recent = 20;
    snprintf(c->status_allowed_hosts, sizeof(c->status_allowed_hosts), "localhost");
    c->status_max_connections = 64;
}

bool collector_listen_loopback(const char *host)
{
    unsigned char addr[16];
    if (strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0)
        return true;
    return inet_pton(AF_INET, host, addr) == 1 && addr[0] == 127;
}

/* ---- keys ------------------------------------------------------------- */

/* Each section's handler returns 0, -1 with the error filled, or
 * NOT_MINE for a key it does not know. */
#define NOT_MINE 1

static int set_count32(const struct cfg_at *at, const char *value, uint64_t min, uint64_t max,
                       uint32_t *dst)
{
    uint64_t u;
    if (value_count(at, value, min, max, &u) < 0)
        return -1;
    *dst = (uint32_t)u;
    return 0;
}

/* A path whose line --check names when the file cannot be read. */
static int set_file(const struct cfg_at *at, const char *value, char *dst, size_t size, int *line)
{
    *line = at->line;
    return value_string(at, value, dst, size);
}

static int set_agents(struct collector_config *c, const char *value, const struct cfg_at *at)
{
    char buf[4096];
    if (strlen(value) >= sizeof(buf))
        return value_fail(at, "list too long");
    strcpy(buf, value);
    c->n_agents = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ", \t", &save); tok;
         tok = strtok_r(NULL, ", \t", &save)) {
        if (c->n_agents == COLLECTOR_MAX_AGENTS)
            return value_fail(at, "more than %d agents listed; leave it empty to discover them",
                              COLLECTOR_MAX_AGENTS);
        if (value_name(at, tok, c->agents[c->n_agents], sizeof(c->agents[0])) < 0)
            return -1;
        c->n_agents++;
    }
    return 0;
}

static int h_collector(struct collector_config *c, const char *value, const struct cfg_at *at)
{
    const char *name = at->key;
    if (strcmp(name, "redis_url") == 0) {
        struct redis_url u;
        char why[768];
        int rc = redis_url_parse(value, &u, why, sizeof(why));
        redis_url_wipe(&u);
        if (rc < 0)
            return value_fail(at, "%s", why);
        return value_string(at, value, c->redis_url, sizeof(c->redis_url));
    }
    if (strcmp(name, "user") == 0)
        return value_string(at, value, c->redis_user, sizeof(c->redis_user));
    if (strcmp(name, "password_file") == 0)
        return set_file(at, value, c->password_file, sizeof(c->password_file),
                        &c->password_file_line);
    if (strcmp(name, "consumer") == 0) {
        if (!*value)
            return value_fail(at, "must not be empty");
        return value_string(at, value, c->consumer, sizeof(c->consumer));
    }
    if (strcmp(name, "agents") == 0)
        return set_agents(c, value, at);
    if (strcmp(name, "discover_interval") == 0)
        return value_duration(at, value, 1, &c->discover_interval_us);
    if (strcmp(name, "batch") == 0)
        return set_count32(at, value, 1, 10000, &c->batch);
    if (strcmp(name, "block") == 0)
        return value_duration(at, value, 1, &c->block_us);
    if (strcmp(name, "claim_idle") == 0)
        return value_duration(at, value, 1, &c->claim_idle_us);
    if (strcmp(name, "claim_interval") == 0)
        return value_duration(at, value, 1, &c->claim_interval_us);
    if (strcmp(name, "dedup_ttl") == 0)
        return value_duration(at, value, 1, &c->dedup_ttl_us);
    if (strcmp(name, "timeout") == 0)
        return value_duration(at, value, 1, &c->timeout_us);
    if (strcmp(name, "maxlen") == 0)
        return value_count(at, value, 100, UINT64_MAX, &c->maxlen);
    if (strcmp(name, "log_level") == 0)
        return value_log_level(at, value, &c->log_level);
    if (strcmp(name, "max_clock_ahead") == 0)
        return value_duration(at, value, 1, &c->max_clock_ahead_us);
    if (strcmp(name, "max_event_age") == 0)
        return value_duration(at, value, 1, &c->max_event_age_us);
    if (strcmp(name, "misdated") == 0) {
        if (strcmp(value, "clamp") != 0 && strcmp(value, "deadletter") != 0)
            return value_fail(at, "'%s' is not 'clamp' or 'deadletter'", value);
        c->deadletter_misdated = strcmp(value, "deadletter") == 0;
        return 0;
    }
    if (strcmp(name, "max_entry_size") == 0 || strcmp(name, "max_heartbeat_size") == 0) {
        uint64_t bytes;
        if (value_size(at, value, &bytes) < 0)
            return -1;
        if (bytes < 4096 || bytes > (64ull << 20))
            return value_fail(at, "'%s' is outside 4KiB..64MiB", value);
        *(name[4] == 'e' ? &c->max_entry_bytes : &c->max_heartbeat_bytes) = bytes;
        return 0;
    }
    if (strcmp(name, "max_inflight") == 0)
        return set_count32(at, value, 1, 100000, &c->max_inflight);
    return NOT_MINE;
}

/* [agents]: every key is an agent's name, its value the agency. */
static int h_agents(struct collector_config *c, const char *value, const struct cfg_at *at)
{
    if (c->n_bindings == COLLECTOR_MAX_BINDINGS)
        return value_fail(at, "more than %d agents bound", COLLECTOR_MAX_BINDINGS);
    struct agent_binding *b = &c->bindings[c->n_bindings];
    if (value_name(at, at->key, b->agent, sizeof(b->agent)) < 0)
        return -1;
    if (!*value)
        return value_fail(at, "agent %s is bound to no agency", at->key);
    if (strchr(value, '|'))
        return value_fail(at, "an agency name may not contain '|'");
    if (value_string(at, value, b->agency, sizeof(b->agency)) < 0)
        return -1;
    c->n_bindings++;
    return 0;
}

const char *collector_agent_agency(const struct collector_config *c, const char *agent)
{
    const struct agent_binding *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < c->n_bindings; i++) {
        const struct agent_binding *b = &c->bindings[i];
        size_t n = strlen(b->agent);
        if (strcmp(agent, b->agent) == 0)
            return b->agency;
        if (n > best_len && strncmp(agent, b->agent, n) == 0 && agent[n] == '-') {
            best = b;
            best_len = n;
        }
    }
    return best ? best->agency : NULL;
}

static int h_incidents(struct collector_config *c, const char *value, const struct cfg_at *at)
{
    const char *name = at->key;
    if (strcmp(name, "window") == 0)
        return value_duration(at, value, 1, &c->incident_window_us);
    if (strcmp(name, "max_event_ids") == 0)
        return set_count32(at, value, 1, 1000, &c->max_event_ids);
    if (strcmp(name, "serious_level") == 0)
        return value_level(at, value, &c->serious_level);
    if (strcmp(name, "sweep_interval") == 0)
        return value_duration(at, value, 1, &c->sweep_interval_us);
    if (strcmp(name, "reject_suppress") == 0)
        return value_duration(at, value, 0, &c->reject_suppress_us);
    return NOT_MINE;
}

static int h_correlation(struct collector_config *c, const char *value, const struct cfg_at *at)
{
    const char *name = at->key;
    if (strcmp(name, "window") == 0)
        return value_duration(at, value, 1, &c->correlation_window_us);
    if (strcmp(name, "combined_min_kinds") == 0)
        return set_count32(at, value, 2, 21, &c->combined_min_kinds);
    if (strcmp(name, "province_min_agencies") == 0)
        return set_count32(at, value, 2, 1000, &c->province_min_agencies);
    if (strcmp(name, "silent_after") == 0)
        return value_duration(at, value, 1, &c->silent_after_us);
    if (strcmp(name, "link_severity") == 0)
        return value_severity(at, value, &c->link_severity);
    return NOT_MINE;
}

static int h_escalation(struct collector_config *c, const char *value, const struct cfg_at *at)
{
    const char *name = at->key;
    if (strcmp(name, "retry_base") == 0)
        return value_duration(at, value, 1, &c->retry_base_us);
    if (strcmp(name, "retry_max") == 0)
        return value_duration(at, value, 1, &c->retry_max_us);
    if (strcmp(name, "poll_interval") == 0)
        return value_duration(at, value, 1, &c->poll_interval_us);
    return NOT_MINE;
}

static int h_archive(struct collector_config *c, const char *value, const struct cfg_at *at)
{
    const char *name = at->key;
    if (strcmp(name, "dir") == 0) {
        if (*value && value[0] != '/')
            return value_fail(at, "'%s' is not an absolute path", value);
        return value_string(at, value, c->archive_dir, sizeof(c->archive_dir));
    }
    if (strcmp(name, "retention") == 0) {
        /* Months of monthly files: "24", "24m" or "2y". */
        char *end;
        unsigned long n = strtoul(value, &end, 10);
        if (end == value || n > 1200 || (*end && strcmp(end, "m") && strcmp(end, "y")))
            return value_fail(at, "'%s' is not a number of months (24, 24m, 2y; 0 keeps all)",
                              value);
        c->archive_retention_months = (uint32_t)(*end == 'y' ? n * 12 : n);
        return 0;
    }
    return NOT_MINE;
}

/* [agencies]: every key is an agency's name, its value the district. */
static int h_agencies(struct collector_config *c, const char *value, const struct cfg_at *at)
{
    if (c->n_agencies == COLLECTOR_MAX_AGENCIES)
        return value_fail(at, "more than %d agencies listed", COLLECTOR_MAX_AGENCIES);
    struct agency_district *a = &c->agencies[c->n_agencies];
    if (strchr(at->key, '|') || strchr(value, '|'))
        return value_fail(at, "agency and district names may not contain '|'");
    if (!*value)
        return value_fail(at, "agency %s is in no district", at->key);
    if (collector_agency_district(c, at->key))
        return value_fail(at, "agency %s is listed twice", at->key);
    if (value_string(at, at->key, a->agency, sizeof(a->agency)) < 0 ||
        value_string(at, value, a->district, sizeof(a->district)) < 0)
        return -1;
    c->n_agencies++;
    return 0;
}

const char *collector_agency_district(const struct collector_config *c, const char *agency)
{
    for (size_t i = 0; i < c->n_agencies; i++)
        if (strcmp(c->agencies[i].agency, agency) == 0)
            return c->agencies[i].district;
    return NULL;
}

const struct route *collector_route(const struct collector_config *c, const char *name)
{
    for (size_t i = 0; i < c->n_routes; i++)
        if (strcmp(c->routes[i].name, name) == 0)
            return &c->routes[i];
    return NULL;
}

bool collector_sink_enabled(const struct collector_config *c, enum sink_id s)
{
    for (size_t i = 0; i < c->n_routes; i++)
        if (c->routes[i].sink == s)
            return true;
    return false;
}

/* The route a section's keys go to: [route.NAME], or the older [webhook]
 * and [syslog] sections, each one route of that name and sink. */
static struct route *section_route(struct collector_config *c, const char *section)
{
    const char *name = strncmp(section, "route.", 6) == 0 ? section + 6 : section;
    return (struct route *)collector_route(c, name);
}

static int h_route(struct collector_config *c, const char *value, const struct cfg_at *at,
                   const char *section)
{
    struct route *r = section_route(c, section);
    if (!r)
        return ini_unknown_key(at, section); /* collector_section refused it */
    if (r->legacy && strcmp(at->key, "sink") == 0)
        return value_fail(at, "[%s] is always a %s route; use [route.NAME] for another sink",
                          section, sink_name(r->sink));
    int rc = route_key(r, value, at);
    if (rc == ROUTE_NOT_MINE)
        return ini_unknown_key(at, section);
    return rc;
}

/* [report]: the drafts' settings; its filter keys are those of the
 * route "report" that [report] dir makes. */
static int h_report(struct collector_config *c, const char *value, const struct cfg_at *at)
{
    const char *name = at->key;
    if (strcmp(name, "min_severity") == 0 || strcmp(name, "class") == 0 ||
        strcmp(name, "rate") == 0 || strcmp(name, "burst") == 0)
        return h_route(c, value, at, "report");
    if (strcmp(name, "dir") == 0)
        return value_string(at, value, c->report_dir, sizeof(c->report_dir));
    if (strcmp(name, "deadline") == 0)
        return value_duration(at, value, 1, &c->report_deadline_us);
    if (strcmp(name, "reporting_unit") == 0)
        return value_string(at, value, c->reporting_unit, sizeof(c->reporting_unit));
    if (strcmp(name, "contact") == 0)
        return value_string(at, value, c->contact, sizeof(c->contact));
    if (strcmp(name, "registry") == 0) {
        c->report_registry_line = at->line;
        return value_string(at, value, c->report_registry, sizeof(c->report_registry));
    }
    return NOT_MINE;
}

static int h_status(struct collector_config *c, const char *value, const struct cfg_at *at)
{
    const char *name = at->key;
    if (strcmp(name, "listen") == 0) {
        char host[128];
        uint16_t port;
        if (*value && value_listen_split(value, host, sizeof(host), &port) < 0)
            return value_fail(at, "'%s' is not host:port (e.g. 127.0.0.1:8088, [::1]:8088)", value);
        c->status_listen_line = at->line;
        return value_string(at, value, c->status_listen, sizeof(c->status_listen));
    }
    if (strcmp(name, "auth") == 0) {
        c->status_auth_line = at->line;
        if (strcmp(value, "token") == 0 || strcmp(value, "none") == 0) {
            c->status_auth_none = strcmp(value, "none") == 0;
            return 0;
        }
        return value_fail(at, "'%s' is not token or none", value);
    }
    if (strcmp(name, "token_file") == 0)
        return set_file(at, value, c->status_token_file, sizeof(c->status_token_file),
                        &c->status_token_line);
    if (strcmp(name, "operators_file") == 0)
        return set_file(at, value, c->status_operators_file, sizeof(c->status_operators_file),
                        &c->status_operators_line);
    if (strcmp(name, "allowed_hosts") == 0)
        return value_string(at, value, c->status_allowed_hosts, sizeof(c->status_allowed_hosts));
    if (strcmp(name, "max_connections") == 0) {
        c->status_max_connections_line = at->line;
        return set_count32(at, value, 1, 4096, &c->status_max_connections);
    }
    if (strcmp(name, "user") == 0) {
        if (strchr(value, ':'))
            return value_fail(at, "'%s' must not contain ':' (basic auth)", value);
        return value_string(at, value, c->status_user, sizeof(c->status_user));
    }
    if (strcmp(name, "password_file") == 0)
        return set_file(at, value, c->status_password_file, sizeof(c->status_password_file),
                        &c->status_password_line);
    if (strcmp(name, "refresh") == 0)
        return value_duration(at, value, 1, &c->status_refresh_us);
    if (strcmp(name, "max_open") == 0)
        return set_count32(at, value, 1, 5000, &c->status_max_open);
    if (strcmp(name, "recent") == 0)
        return set_count32(at, value, 0, 500, &c->status_recent);
    return NOT_MINE;
}

static const struct {
    const char *name;
    int (*handler)(struct collector_config *c, const char *value, const struct cfg_at *at);
} sections[] = {
    {"collector", h_collector},     {"agents", h_agents},         {"incidents", h_incidents},
    {"correlation", h_correlation}, {"escalation", h_escalation}, {"agencies", h_agencies},
    {"report", h_report},           {"archive", h_archive},       {"status", h_status},
};

/* The sections that are one route each: [webhook] and [syslog] (the older
 * form), and [report], whose dir makes the route "report". */
static const struct {
    const char *section;
    enum sink_id sink;
} legacy_routes[] = {{"webhook", SINK_WEBHOOK}, {"syslog", SINK_SYSLOG}, {"report", SINK_REPORT}};

#define N_SECTIONS (sizeof(sections) / sizeof(sections[0]))

/* A route section begins: its route, checked for a clash of names. */
static int open_route(struct collector_config *c, const char *name, enum sink_id sink,
                      bool sink_set, bool legacy, const struct cfg_at *at)
{
    if (!value_is_name(name) || strlen(name) >= ROUTE_NAME_LEN)
        return cfg_fail(at->err, at->file, at->line,
                        "[route.%s]: a route name is up to %d letters, digits, '-', '_' or '.'",
                        name, ROUTE_NAME_LEN - 1);
    const struct route *old = collector_route(c, name);
    if (old)
        return cfg_fail(at->err, at->file, at->line,
                        "route %s is defined twice (line %d); [webhook] and [syslog] are the "
                        "routes named webhook and syslog",
                        name, old->line);
    if (c->n_routes == COLLECTOR_MAX_ROUTES)
        return cfg_fail(at->err, at->file, at->line, "more than %d routes", COLLECTOR_MAX_ROUTES);
    struct route *r = &c->routes[c->n_routes++];
    route_defaults(r, name, sink, sink_set, at->line);
    r->legacy = legacy;
    if (sink == SINK_REPORT && sink_set)
        route_key(r, "report", &(struct cfg_at){at->err, at->file, at->line, "sink"});
    return 0;
}

static int collector_section(void *user, const char *section, const struct cfg_at *at)
{
    struct collector_config *c = user;
    if (strncmp(section, "route.", 6) == 0)
        return open_route(c, section + 6, SINK_WEBHOOK, false, false, at);
    for (size_t i = 0; i < sizeof(legacy_routes) / sizeof(legacy_routes[0]); i++)
        if (strcmp(section, legacy_routes[i].section) == 0)
            return open_route(c, section, legacy_routes[i].sink, true, true, at);
    const char *names[N_SECTIONS + 3];
    size_t n = 0;
    for (size_t i = 0; i < N_SECTIONS; i++)
        names[n++] = sections[i].name;
    names[n++] = "webhook";
    names[n++] = "syslog";
    names[n++] = "route.NAME";
    return ini_check_section(at, section, names, n);
}

/* The older sections left without their address send nothing, as they
 * always did: their routes go.  [report] dir makes the route "report"
 * only when no [route.NAME] writes the drafts. */
static void drop_idle_legacy_routes(struct collector_config *c)
{
    bool report_routes = false;
    for (size_t i = 0; i < c->n_routes; i++)
        report_routes |= !c->routes[i].legacy && c->routes[i].sink == SINK_REPORT;
    size_t kept = 0;
    for (size_t i = 0; i < c->n_routes; i++) {
        const struct route *r = &c->routes[i];
        bool idle = r->legacy && ((r->sink == SINK_WEBHOOK && !r->url[0]) ||
                                  (r->sink == SINK_SYSLOG && !r->host[0]) ||
                                  (r->sink == SINK_REPORT && (!c->report_dir[0] || report_routes)));
        if (!idle)
            c->routes[kept++] = *r;
    }
    c->n_routes = kept;
}

static int collector_key(void *user, const char *section, const char *value,
                         const struct cfg_at *at)
{
    if (strncmp(section, "route.", 6) == 0 || strcmp(section, "webhook") == 0 ||
        strcmp(section, "syslog") == 0)
        return h_route(user, value, at, section);
    for (size_t i = 0; i < N_SECTIONS; i++) {
        if (strcmp(section, sections[i].name) != 0)
            continue;
        int rc = sections[i].handler(user, value, at);
        return rc == NOT_MINE ? ini_unknown_key(at, section) : rc;
    }
    return ini_unknown_key(at, section); /* collector_section refused it already */
}

int collector_config_load(const char *path, struct collector_config *c, struct cfg_err *err)
{
    static const struct ini_format format = {collector_section, collector_key};
    if (ini_load(path, &format, c, NULL, err) < 0)
        return -1;
    drop_idle_legacy_routes(c);
    for (size_t i = 0; i < c->n_routes; i++) {
        const struct route *r = &c->routes[i];
        if (route_check(r, path, err) < 0)
            return -1;
        if (r->sink == SINK_REPORT && !c->report_dir[0])
            return cfg_fail(err, path, r->sink_line ? r->sink_line : r->line,
                            "route %s writes report drafts, but [report] dir is not set", r->name);
    }
    if (c->retry_max_us < c->retry_base_us)
        return cfg_fail(err, path, 0, "[escalation] retry_max is shorter than retry_base");
    if (!c->status_user[0] != !c->status_password_file[0])
        return cfg_fail(err, path, c->status_password_line,
                        "[status] user and password_file go together (basic auth)");
    if (c->status_listen[0]) {
        bool creds = c->status_token_file[0] || c->status_operators_file[0] || c->status_user[0];
        char host[128];
        uint16_t port;
        bool loopback = value_listen_split(c->status_listen, host, sizeof(host), &port) == 0 &&
                        collector_listen_loopback(host);
        if (c->status_auth_none && creds)
            return cfg_fail(
                err, path, c->status_auth_line,
                "[status] auth = none, but credentials are set: remove one or the other");
        if (c->status_auth_none && !loopback)
            return cfg_fail(err, path, c->status_auth_line,
                            "[status] auth = none is refused on %s: only a loopback address may "
                            "serve the page without a token",
                            c->status_listen);
        if (!c->status_auth_none && !creds)
            return cfg_fail(err, path, c->status_listen_line,
                            "[status] the page needs a token: set token_file (the package creates "
                            "/etc/canh/status-viewer.token) or operators_file, or auth = none on "
                            "a loopback address");
    }
    c->path = path;
    return 0;
}

int collector_config_check_files(const struct collector_config *c, struct cfg_err *err)
{
    const char *path = c->path ? c->path : "collector.conf";
    char secret[512], why[600];
    if (c->password_file[0] &&
        secret_read_file(c->password_file, secret, sizeof(secret), why, sizeof(why)) < 0)
        return cfg_fail(err, path, c->password_file_line, "password_file: %s", why);
    for (size_t i = 0; i < c->n_routes; i++) {
        const struct route *r = &c->routes[i];
        if (r->sink == SINK_WEBHOOK &&
            secret_read_file(r->secret_file, secret, sizeof(secret), why, sizeof(why)) < 0)
            return cfg_fail(err, path, r->secret_line, "secret_file: %s", why);
        if (r->sink == SINK_EMAIL) {
            char prog[512];
            snprintf(prog, sizeof(prog), "%s", r->sendmail);
            prog[strcspn(prog, " \t")] = '\0';
            if (access(prog, X_OK) < 0)
                return cfg_fail(err, path, r->kind_key_line ? r->kind_key_line : r->line,
                                "[route.%s] sendmail %s cannot be run: %s (install an MTA such as "
                                "msmtp-mta, exim4 or postfix, or set sendmail = PATH)",
                                r->name, prog, strerror(errno));
        }
    }
    const struct {
        const char *key, *file;
        int line;
    } status_files[] = {{"token_file", c->status_token_file, c->status_token_line},
                        {"password_file", c->status_password_file, c->status_password_line}};
    for (size_t i = 0; i < 2; i++) {
        if (!status_files[i].file[0])
            continue;
        if (secret_read_file(status_files[i].file, secret, sizeof(secret), why, sizeof(why)) < 0)
            return cfg_fail(err, path, status_files[i].line, "%s: %s", status_files[i].key, why);
        if (strlen(secret) < 8)
            return cfg_fail(err, path, status_files[i].line,
                            "%s: %s holds fewer than 8 characters; use a long random secret",
                            status_files[i].key, status_files[i].file);
    }
    if (c->archive_dir[0] && access(c->archive_dir, W_OK | X_OK) < 0)
        return cfg_fail(err, path, 0, "[archive] dir %s is not a writable directory: %s",
                        c->archive_dir, strerror(errno));
    if (collector_sink_enabled(c, SINK_REPORT) && access(c->report_dir, W_OK | X_OK) < 0)
        return cfg_fail(err, path, 0, "[report] dir %s is not a writable directory: %s",
                        c->report_dir, strerror(errno));
    /* The registry's own mistakes name its file and line. */
    struct registry reg;
    if (c->report_registry[0] && access(c->report_registry, R_OK) < 0)
        return cfg_fail(err, path, c->report_registry_line, "registry: %s: %s", c->report_registry,
                        strerror(errno));
    if (registry_load(c->report_registry, &reg, err) < 0)
        return -1;
    registry_free(&reg);
    return 0;
}

int collector_config_check_listen(const struct collector_config *c, struct cfg_err *err)
{
    char why[256];
    if (!c->status_listen[0] || value_listen_try_bind(c->status_listen, why, sizeof(why)) == 0)
        return 0;
    return cfg_fail(err, c->path ? c->path : "collector.conf", c->status_listen_line, "listen: %s",
                    why);
}
