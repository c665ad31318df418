/* config.h — collector.conf (architecture §7, §9).
 *
 * One INI file read with libinih, sections [collector], [agents],
 * [agencies], [incidents], [correlation], [escalation], [route.NAME]
 * (any number; collector/route.c reads their keys), the older single-sink
 * sections [webhook] and [syslog] (each read as one route of that name),
 * [report], [archive] and [status].  Every
 * mistake is reported as "file:line: message" in a struct cfg_err, as the
 * agent's files are; `canh-collector --check` loads it and also opens the
 * secret files it names, so a deployment error shows before the service
 * starts.  docs/collector.md lists every key with its default.
 */
#ifndef CANH_COLLECTOR_CONFIG_H
#define CANH_COLLECTOR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/values.h"

/* The kinds of escalation sink a route delivers through, besides the
 * canh:incidents stream (always on). */
enum sink_id { SINK_WEBHOOK, SINK_SYSLOG, SINK_REPORT, SINK_EMAIL, SINK_COUNT };

const char *sink_name(enum sink_id s);
/* -1 for an unknown name. */
int sink_parse(const char *name, enum sink_id *out);

#define COLLECTOR_MAX_ROUTES 32
#define ROUTE_NAME_LEN 33
#define COLLECTOR_MAX_AGENCIES 512

/* One [route.NAME]: a sink and the incidents it takes (collector/route.h
 * has the filters' meaning).  Lists are '|' separated (agency and district
 * names may hold commas), taxonomy prefixes ','. */
struct route {
    char name[ROUTE_NAME_LEN];
    int line;    /* of its section header (0: built from [webhook]/[syslog]/[report]) */
    bool legacy; /* the section [webhook], [syslog] or [report] */
    enum sink_id sink;
    bool sink_set;
    int sink_line;
    int kind_key_line; /* the first key only one sink takes (url, host, to, ...) */
    enum sink_id kind_key;
    char kind_key_name[16];
    /* filters; empty or 0: any */
    char agencies[2048];
    char districts[1024];
    char taxonomy[512];
    enum severity min_severity, max_severity;
    unsigned classes;  /* bit per enum route_class */
    unsigned actions;  /* bit per enum route_action */
    unsigned states;   /* bit per enum incident_state */
    bool exercise;     /* takes incidents tagged exercise (drills) */
    double rate_per_s; /* token bucket refill; 0 = no limit */
    uint32_t burst;    /* bucket size */
    /* webhook */
    char url[512];
    char secret_file[256];
    int secret_line;
    uint64_t timeout_us;
    /* syslog */
    char host[256];
    uint16_t port;
    bool tcp;
    char app[48];
    char sd_id[33]; /* RFC 5424 SD-ID, name@<private enterprise number> */
    /* email */
    char mail_to[512];
    char mail_from[256];
    char sendmail[512]; /* the command, split on spaces */
};

/* [agencies]: an agency and the district it belongs to. */
struct agency_district {
    char agency[208];
    char district[128];
};

#define COLLECTOR_MAX_AGENTS 256
#define COLLECTOR_MAX_BINDINGS 1024

/* [agents]: an agent (its stream's name) and the agency it watches for. */
struct agent_binding {
    char agent[64];
    char agency[208];
};

struct collector_config {
    const char *path; /* NULL: built-in defaults */
    /* [collector] */
    char redis_url[256]; /* redis://host:port or unix:/path */
    char redis_user[64];
    char password_file[256];
    int password_file_line;
    char consumer[128]; /* default hostname-pid */
    char agents[COLLECTOR_MAX_AGENTS][64];
    size_t n_agents; /* 0: discover with SCAN */
    uint64_t discover_interval_us;
    uint32_t batch;
    uint64_t block_us;
    uint64_t claim_idle_us;
    uint64_t claim_interval_us;
    uint64_t dedup_ttl_us;
    uint64_t timeout_us;
    uint64_t maxlen; /* of canh:incidents and canh:deadletter */
    int log_level;
    /* Bounds on what one agent can make the collector do (issue 19). */
    uint64_t max_clock_ahead_us; /* event times later than the entry by more: clamped */
    uint64_t max_event_age_us;   /* event times earlier than the entry by more: clamped */
    bool deadletter_misdated;    /* misdated = deadletter (default clamp) */
    uint64_t max_entry_bytes;    /* an event entry above: dead-lettered unread */
    uint64_t max_heartbeat_bytes;
    uint32_t max_inflight; /* entries being applied at once, over all streams */
    /* [agents]; none: every agent's own canh.agency is believed (legacy) */
    struct agent_binding bindings[COLLECTOR_MAX_BINDINGS];
    size_t n_bindings;
    /* [incidents] */
    uint64_t incident_window_us; /* quiet time after which an incident closes */
    uint32_t max_event_ids;      /* linked event ids kept per incident */
    int serious_level;
    uint64_t sweep_interval_us;
    uint64_t reject_suppress_us; /* a rejected incident's findings stay quiet; 0 off */
    /* [correlation] */
    uint64_t correlation_window_us;
    uint32_t combined_min_kinds;
    uint32_t province_min_agencies;
    uint64_t silent_after_us; /* heartbeats missing this long: fault.link */
    enum severity link_severity;
    /* [escalation] */
    uint64_t retry_base_us;
    uint64_t retry_max_us;
    uint64_t poll_interval_us;
    /* [route.NAME], and [webhook], [syslog], [report] dir as routes of
     * those names, in file order */
    struct route routes[COLLECTOR_MAX_ROUTES];
    size_t n_routes;
    /* [agencies] */
    struct agency_district agencies[COLLECTOR_MAX_AGENCIES];
    size_t n_agencies;
    /* [archive] (archive.h); dir empty = not archived here */
    char archive_dir[256];
    uint32_t archive_retention_months; /* 0: keep all */
    /* [report] */
    char report_dir[256];
    uint64_t report_deadline_us;
    char reporting_unit[256];
    char contact[256];
    char report_registry[256]; /* collector/registry.h; "" none */
    int report_registry_line;
    /* [status] (status.h); listen empty = no status page */
    char status_listen[128]; /* host:port */
    int status_listen_line;
    bool status_auth_none; /* auth = none: no credentials (loopback only) */
    int status_auth_line;
    char status_token_file[256]; /* the viewers' token */
    int status_token_line;
    char status_operators_file[256]; /* "name token" lines: the operators */
    int status_operators_line;
    char status_allowed_hosts[512]; /* Host names accepted besides IP literals */
    uint32_t status_max_connections;
    int status_max_connections_line;
    char status_user[64];
    char status_password_file[256];
    int status_password_line;
    uint64_t status_refresh_us;
    uint32_t status_max_open; /* open incidents listed by /api/incidents */
    uint32_t status_recent;   /* recently closed ones listed too */
};

/* The agency [agents] binds agent to: its own name's entry, or for an
 * instance "gw-soyte-eth1" the entry of "gw-soyte" (the ACL lets one
 * gateway's user write both).  NULL when [agents] does not name it. */
const char *collector_agent_agency(const struct collector_config *c, const char *agent);

/* The district [agencies] puts agency in; NULL when not listed. */
const char *collector_agency_district(const struct collector_config *c, const char *agency);
/* The route of that name; NULL when none. */
const struct route *collector_route(const struct collector_config *c, const char *name);
/* Some route delivers through that kind of sink. */
bool collector_sink_enabled(const struct collector_config *c, enum sink_id s);

/* 127.0.0.0/8, ::1 or localhost. */
bool collector_listen_loopback(const char *host);

void collector_config_defaults(struct collector_config *c);
int collector_config_load(const char *path, struct collector_config *c, struct cfg_err *err);
/* Opens the files the configuration names (password, webhook secret) and
 * checks the report directory; errors name the key's file:line. */
int collector_config_check_files(const struct collector_config *c, struct cfg_err *err);
/* Binds [status] listen once and lets it go, so --check and the start
 * report an address this host cannot listen on (not its own, a port
 * below 1024 without the capability, a port in use) at listen's line.
 * Not for SIGHUP: the running page holds the port, and listen changes
 * only at a restart. */
int collector_config_check_listen(const struct collector_config *c, struct cfg_err *err);

#endif
