/* config.c — see config.h.  libinih does the syntax; a counting reader feeds
 * it so every message can name the line (inih's handler is not told). */
#include "collector/config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/log.h"
#include "common/redis/secret.h"
#include "common/units.h"

static const char *const sink_names[SINK_COUNT] = {"webhook", "syslog", "report"};

const char *sink_name(enum sink_id s) { return (unsigned)s < SINK_COUNT ? sink_names[s] : "?"; }

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
    c->incident_window_us = 30ull * 60 * 1000000;
    c->max_event_ids = 50;
    c->serious_level = 3;
    c->sweep_interval_us = 5ull * 1000000;
    c->correlation_window_us = 60ull * 60 * 1000000;
    c->combined_min_kinds = 2;
    c->province_min_agencies = 2;
    c->silent_after_us = 120ull * 1000000;
    c->link_severity = SEV_MEDIUM;
    c->retry_base_us = 1000000;
    c->retry_max_us = 10ull * 60 * 1000000;
    c->poll_interval_us = 500000;
    for (int i = 0; i < SINK_COUNT; i++) {
        c->route[i].min_severity = SEV_MEDIUM;
        c->route[i].rate_per_s = 1.0; /* 60 a minute */
        c->route[i].burst = 20;
    }
    c->route[SINK_REPORT].min_severity = SEV_LOW;
    c->route[SINK_REPORT].serious_only = true;
    c->route[SINK_REPORT].rate_per_s = 0;
    c->webhook_timeout_us = 10ull * 1000000;
    c->syslog_port = 514;
    snprintf(c->syslog_app, sizeof(c->syslog_app), "canh-collector");
    c->report_deadline_us = 5ull * 86400 * 1000000;
    c->status_refresh_us = 1000000;
    c->status_max_open = 200;
    c->status_recent = 20;
}

int collector_listen_parse(const char *text, char *host, size_t host_len, uint16_t *port)
{
    const char *colon = strrchr(text, ':');
    if (!colon || colon == text)
        return -1;
    const char *h = text;
    size_t n = (size_t)(colon - text);
    if (*h == '[') { /* [::1]:8088 */
        if (n < 3 || h[n - 1] != ']')
            return -1;
        h++;
        n -= 2;
    } else if (memchr(h, ':', n)) {
        return -1; /* a bare IPv6 address needs brackets */
    }
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (n == 0 || n >= host_len || *end || colon[1] == '\0' || p < 0 || p > 65535)
        return -1;
    memcpy(host, h, n);
    host[n] = '\0';
    *port = (uint16_t)p;
    return 0;
}

/* ---- line-counting reader ------------------------------------------- */

struct parse {
    FILE *fp;
    const char *path;
    int line;
    int section_line;
    bool failed;
    struct cfg_err *err;
    struct collector_config *cfg;
};

static char *reader(char *str, int num, void *stream)
{
    struct parse *p = stream;
    if (!fgets(str, num, p->fp))
        return NULL;
    p->line++;
    const char *s = str;
    while (isspace((unsigned char)*s))
        s++;
    if (*s == '[')
        p->section_line = p->line;
    return str;
}

static int fail(struct parse *p, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct parse *p, int line, const char *fmt, ...)
{
    if (p->failed)
        return 0;
    char text[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    cfg_fail(p->err, p->path, line, "%s", text);
    p->failed = true;
    return 0;
}

static int set_string(struct parse *p, const char *key, char *dst, size_t size, const char *value)
{
    size_t n = strlen(value);
    if (n >= size)
        return fail(p, p->line, "%s is too long (at most %zu characters)", key, size - 1);
    memcpy(dst, value, n + 1);
    return 1;
}

static int set_duration(struct parse *p, const char *key, uint64_t *dst, const char *value, bool nonzero)
{
    if (units_parse_duration_us(value, dst) < 0)
        return fail(p, p->line, "%s: '%s' is not a duration (e.g. 30s, 5m, 1h, 5d)", key, value);
    if (nonzero && *dst == 0)
        return fail(p, p->line, "%s must be longer than 0", key);
    return 1;
}

static int set_count(struct parse *p, const char *key, uint32_t *dst, const char *value, uint64_t min,
                     uint64_t max)
{
    uint64_t u;
    if (units_parse_count(value, &u) < 0 || u < min || u > max)
        return fail(p, p->line, "%s: '%s' is not a whole number from %llu to %llu", key, value,
                    (unsigned long long)min, (unsigned long long)max);
    *dst = (uint32_t)u;
    return 1;
}

static int set_severity(struct parse *p, const char *key, enum severity *dst, const char *value)
{
    if (severity_parse(value, dst) < 0)
        return fail(p, p->line, "%s: '%s' is not one of low, medium, high, critical", key, value);
    return 1;
}

static int set_agents(struct parse *p, const char *value)
{
    struct collector_config *c = p->cfg;
    char buf[4096];
    if (strlen(value) >= sizeof(buf))
        return fail(p, p->line, "agents: list too long");
    strcpy(buf, value);
    c->n_agents = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
        for (const char *s = tok; *s; s++)
            if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
                return fail(p, p->line, "agents: '%s' may only use letters, digits, '-', '_' and '.'",
                            tok);
        if (strlen(tok) >= sizeof(c->agents[0]))
            return fail(p, p->line, "agents: '%s' is too long", tok);
        if (c->n_agents == COLLECTOR_MAX_AGENTS)
            return fail(p, p->line, "agents: more than %d agents listed; leave it empty to discover them",
                        COLLECTOR_MAX_AGENTS);
        strcpy(c->agents[c->n_agents++], tok);
    }
    return 1;
}

/* min_severity / class / rate / burst, shared by the sink sections. */
static int set_route(struct parse *p, enum sink_id sink, const char *name, const char *value)
{
    struct sink_route *r = &p->cfg->route[sink];
    if (strcmp(name, "min_severity") == 0)
        return set_severity(p, name, &r->min_severity, value);
    if (strcmp(name, "class") == 0) {
        if (strcmp(value, "any") == 0)
            r->serious_only = false;
        else if (strcmp(value, "serious_candidate") == 0)
            r->serious_only = true;
        else
            return fail(p, p->line, "class: '%s' is not 'any' or 'serious_candidate'", value);
        return 1;
    }
    if (strcmp(name, "rate") == 0) {
        if (strcmp(value, "0") == 0 || strcmp(value, "unlimited") == 0) {
            r->rate_per_s = 0;
            return 1;
        }
        if (units_parse_rate_per_s(value, &r->rate_per_s) < 0 || r->rate_per_s <= 0)
            return fail(p, p->line, "rate: '%s' is not a rate (e.g. 30/m, 1/s) or 'unlimited'", value);
        return 1;
    }
    if (strcmp(name, "burst") == 0)
        return set_count(p, name, &r->burst, value, 1, 100000);
    return -1; /* not a routing key */
}

static int h_collector(struct parse *p, const char *name, const char *value)
{
    struct collector_config *c = p->cfg;
    if (strcmp(name, "redis_url") == 0) {
        if (strncmp(value, "redis://", 8) != 0 && strncmp(value, "unix:", 5) != 0)
            return fail(p, p->line, "redis_url: '%s' is not redis://host:port or unix:/path", value);
        return set_string(p, name, c->redis_url, sizeof(c->redis_url), value);
    }
    if (strcmp(name, "user") == 0)
        return set_string(p, name, c->redis_user, sizeof(c->redis_user), value);
    if (strcmp(name, "password_file") == 0) {
        c->password_file_line = p->line;
        return set_string(p, name, c->password_file, sizeof(c->password_file), value);
    }
    if (strcmp(name, "consumer") == 0) {
        if (!*value)
            return fail(p, p->line, "consumer must not be empty");
        return set_string(p, name, c->consumer, sizeof(c->consumer), value);
    }
    if (strcmp(name, "agents") == 0)
        return set_agents(p, value);
    if (strcmp(name, "discover_interval") == 0)
        return set_duration(p, name, &c->discover_interval_us, value, true);
    if (strcmp(name, "batch") == 0)
        return set_count(p, name, &c->batch, value, 1, 10000);
    if (strcmp(name, "block") == 0)
        return set_duration(p, name, &c->block_us, value, true);
    if (strcmp(name, "claim_idle") == 0)
        return set_duration(p, name, &c->claim_idle_us, value, true);
    if (strcmp(name, "claim_interval") == 0)
        return set_duration(p, name, &c->claim_interval_us, value, true);
    if (strcmp(name, "dedup_ttl") == 0)
        return set_duration(p, name, &c->dedup_ttl_us, value, true);
    if (strcmp(name, "timeout") == 0)
        return set_duration(p, name, &c->timeout_us, value, true);
    if (strcmp(name, "maxlen") == 0) {
        if (units_parse_count(value, &c->maxlen) < 0 || c->maxlen < 100)
            return fail(p, p->line, "maxlen: '%s' is not a whole number of at least 100", value);
        return 1;
    }
    if (strcmp(name, "log_level") == 0) {
        enum log_level level;
        if (log_level_parse(value, &level) < 0)
            return fail(p, p->line, "log_level: '%s' is not one of error, warning, info, debug", value);
        c->log_level = (int)level;
        return 1;
    }
    return 0;
}

static int h_incidents(struct parse *p, const char *name, const char *value)
{
    struct collector_config *c = p->cfg;
    if (strcmp(name, "window") == 0)
        return set_duration(p, name, &c->incident_window_us, value, true);
    if (strcmp(name, "max_event_ids") == 0)
        return set_count(p, name, &c->max_event_ids, value, 1, 1000);
    if (strcmp(name, "serious_level") == 0) {
        uint32_t level = 3;
        int rc = set_count(p, name, &level, value, 1, 5);
        c->serious_level = (int)level;
        return rc;
    }
    if (strcmp(name, "sweep_interval") == 0)
        return set_duration(p, name, &c->sweep_interval_us, value, true);
    return 0;
}

static int h_correlation(struct parse *p, const char *name, const char *value)
{
    struct collector_config *c = p->cfg;
    if (strcmp(name, "window") == 0)
        return set_duration(p, name, &c->correlation_window_us, value, true);
    if (strcmp(name, "combined_min_kinds") == 0)
        return set_count(p, name, &c->combined_min_kinds, value, 2, 21);
    if (strcmp(name, "province_min_agencies") == 0)
        return set_count(p, name, &c->province_min_agencies, value, 2, 1000);
    if (strcmp(name, "silent_after") == 0)
        return set_duration(p, name, &c->silent_after_us, value, true);
    if (strcmp(name, "link_severity") == 0)
        return set_severity(p, name, &c->link_severity, value);
    return 0;
}

static int h_escalation(struct parse *p, const char *name, const char *value)
{
    struct collector_config *c = p->cfg;
    if (strcmp(name, "retry_base") == 0)
        return set_duration(p, name, &c->retry_base_us, value, true);
    if (strcmp(name, "retry_max") == 0)
        return set_duration(p, name, &c->retry_max_us, value, true);
    if (strcmp(name, "poll_interval") == 0)
        return set_duration(p, name, &c->poll_interval_us, value, true);
    return 0;
}

static int h_webhook(struct parse *p, const char *name, const char *value)
{
    struct collector_config *c = p->cfg;
    int rc = set_route(p, SINK_WEBHOOK, name, value);
    if (rc >= 0)
        return rc;
    if (strcmp(name, "url") == 0) {
        if (strncmp(value, "http://", 7) != 0)
            return fail(p, p->line,
                        "url: '%s' must start with http:// (for https put a TLS proxy such as stunnel "
                        "in front)",
                        value);
        c->route[SINK_WEBHOOK].enabled = true;
        return set_string(p, name, c->webhook_url, sizeof(c->webhook_url), value);
    }
    if (strcmp(name, "secret_file") == 0) {
        c->webhook_secret_line = p->line;
        return set_string(p, name, c->webhook_secret_file, sizeof(c->webhook_secret_file), value);
    }
    if (strcmp(name, "timeout") == 0)
        return set_duration(p, name, &c->webhook_timeout_us, value, true);
    return 0;
}

static int h_syslog(struct parse *p, const char *name, const char *value)
{
    struct collector_config *c = p->cfg;
    int rc = set_route(p, SINK_SYSLOG, name, value);
    if (rc >= 0)
        return rc;
    if (strcmp(name, "host") == 0) {
        c->route[SINK_SYSLOG].enabled = *value != '\0';
        return set_string(p, name, c->syslog_host, sizeof(c->syslog_host), value);
    }
    if (strcmp(name, "port") == 0) {
        uint32_t port = 514;
        rc = set_count(p, name, &port, value, 1, 65535);
        c->syslog_port = (uint16_t)port;
        return rc;
    }
    if (strcmp(name, "proto") == 0) {
        if (strcasecmp(value, "udp") == 0)
            c->syslog_tcp = false;
        else if (strcasecmp(value, "tcp") == 0)
            c->syslog_tcp = true;
        else
            return fail(p, p->line, "proto: '%s' is not udp or tcp", value);
        return 1;
    }
    if (strcmp(name, "app_name") == 0)
        return set_string(p, name, c->syslog_app, sizeof(c->syslog_app), value);
    return 0;
}

static int h_report(struct parse *p, const char *name, const char *value)
{
    struct collector_config *c = p->cfg;
    int rc = set_route(p, SINK_REPORT, name, value);
    if (rc >= 0)
        return rc;
    if (strcmp(name, "dir") == 0) {
        c->route[SINK_REPORT].enabled = *value != '\0';
        return set_string(p, name, c->report_dir, sizeof(c->report_dir), value);
    }
    if (strcmp(name, "deadline") == 0)
        return set_duration(p, name, &c->report_deadline_us, value, true);
    if (strcmp(name, "reporting_unit") == 0)
        return set_string(p, name, c->reporting_unit, sizeof(c->reporting_unit), value);
    if (strcmp(name, "contact") == 0)
        return set_string(p, name, c->contact, sizeof(c->contact), value);
    return 0;
}

static int h_status(struct parse *p, const char *name, const char *value)
{
    struct collector_config *c = p->cfg;
    if (strcmp(name, "listen") == 0) {
        char host[128];
        uint16_t port;
        if (*value && collector_listen_parse(value, host, sizeof(host), &port) < 0)
            return fail(p, p->line, "listen: '%s' is not host:port (e.g. 127.0.0.1:8088, [::1]:8088)",
                        value);
        return set_string(p, name, c->status_listen, sizeof(c->status_listen), value);
    }
    if (strcmp(name, "token_file") == 0) {
        c->status_token_line = p->line;
        return set_string(p, name, c->status_token_file, sizeof(c->status_token_file), value);
    }
    if (strcmp(name, "user") == 0) {
        if (strchr(value, ':'))
            return fail(p, p->line, "user: '%s' must not contain ':' (basic auth)", value);
        return set_string(p, name, c->status_user, sizeof(c->status_user), value);
    }
    if (strcmp(name, "password_file") == 0) {
        c->status_password_line = p->line;
        return set_string(p, name, c->status_password_file, sizeof(c->status_password_file), value);
    }
    if (strcmp(name, "refresh") == 0)
        return set_duration(p, name, &c->status_refresh_us, value, true);
    if (strcmp(name, "max_open") == 0)
        return set_count(p, name, &c->status_max_open, value, 1, 5000);
    if (strcmp(name, "recent") == 0)
        return set_count(p, name, &c->status_recent, value, 0, 500);
    return 0;
}

static const struct {
    const char *name;
    int (*handler)(struct parse *p, const char *name, const char *value);
} sections[] = {
    {"collector", h_collector}, {"incidents", h_incidents}, {"correlation", h_correlation},
    {"escalation", h_escalation}, {"webhook", h_webhook},     {"syslog", h_syslog},
    {"report", h_report},       {"status", h_status},
};

static int handler(void *user, const char *section, const char *name, const char *value)
{
    struct parse *p = user;
    if (p->failed)
        return 0;
    for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
        if (strcmp(section, sections[i].name) != 0)
            continue;
        int rc = sections[i].handler(p, name, value);
        if (rc == 0 && !p->failed)
            return fail(p, p->line, "unknown key '%s' in [%s]", name, section);
        return 1;
    }
    return fail(p, p->section_line,
                "unknown section [%s] (expected collector, incidents, correlation, escalation, "
                "webhook, syslog, report or status)",
                section);
}

int collector_config_load(const char *path, struct collector_config *c, struct cfg_err *err)
{
    struct parse p = {.path = path, .err = err, .cfg = c};
    p.fp = fopen(path, "r");
    if (!p.fp)
        return cfg_fail(err, path, 0, "cannot open: %s", strerror(errno));
    int rc = ini_parse_stream(reader, &p, handler, &p);
    fclose(p.fp);
    if (p.failed)
        return -1;
    if (rc > 0)
        return cfg_fail(err, path, rc, "syntax error (expected [section] or key = value)");
    if (rc < 0)
        return cfg_fail(err, path, 0, "cannot parse (out of memory)");
    if (c->route[SINK_WEBHOOK].enabled && !c->webhook_secret_file[0])
        return cfg_fail(err, path, 0,
                        "[webhook] url is set but secret_file is not: receivers need the HMAC key");
    if (c->retry_max_us < c->retry_base_us)
        return cfg_fail(err, path, 0, "[escalation] retry_max is shorter than retry_base");
    if (!c->status_user[0] != !c->status_password_file[0])
        return cfg_fail(err, path, c->status_password_line,
                        "[status] user and password_file go together (basic auth)");
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
    if (c->webhook_secret_file[0] &&
        secret_read_file(c->webhook_secret_file, secret, sizeof(secret), why, sizeof(why)) < 0)
        return cfg_fail(err, path, c->webhook_secret_line, "secret_file: %s", why);
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
    if (c->route[SINK_REPORT].enabled && access(c->report_dir, W_OK | X_OK) < 0)
        return cfg_fail(err, path, 0, "[report] dir %s is not a writable directory: %s", c->report_dir,
                        strerror(errno));
    return 0;
}
