/* auth_rules.c — the auth detector's one rule, [brute_force]
 * (rules/auth.rules, docs/rules-auth.md), read into struct auth_params.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/detect/auth/auth_internal.h"

const char *const auth_proto_names[AUTH_P_COUNT] = {
    "ssh",   "rdp",  "telnet", "ftp",   "smtp",  "submission", "smtps", "pop3",
    "pop3s", "imap", "imaps",  "mysql", "mssql", "postgresql", "vnc",   "http",
};

bool auth_proto_counts_connections(enum auth_proto p)
{
    return p != AUTH_P_SMTP && p != AUTH_P_HTTP;
}

bool auth_proto_counts_distributed(enum auth_proto p)
{
    switch (p) {
    case AUTH_P_SMTP:
    case AUTH_P_SUBMISSION:
    case AUTH_P_SMTPS:
    case AUTH_P_POP3:
    case AUTH_P_POP3S:
    case AUTH_P_IMAP:
    case AUTH_P_IMAPS:
    case AUTH_P_HTTP:
        return false;
    default:
        return true;
    }
}

static const char DEFAULT_SERVICES[] =
    "ssh:22, telnet:23, ftp:21, rdp:3389, smtp:25, submission:587, smtps:465, pop3:110, "
    "pop3s:995, imap:143, imaps:993, mysql:3306, mssql:1433, postgresql:5432, vnc:5900, "
    "http:80, http:8080";
static const char DEFAULT_LOGIN_PATHS[] =
    "/login, /signin, /sign-in, /logon, /auth, /wp-login.php, /administrator, /user/login, "
    "/account/login, /j_security_check";

void auth_params_free(struct auth_params *p)
{
    free(p->login_paths);
    free(p->login_path);
    memset(p, 0, sizeof(*p));
}

/* "name:port, name:port": each name a known protocol, each port once. */
static int parse_services(struct rule *r, const char *text, struct auth_params *p,
                          struct cfg_err *err)
{
    const char *file = r ? r->file : "auth";
    int line = r ? rule_key_line(r, "services") : 0;
    p->n_services = 0;
    const char *s = text;
    while (*s) {
        while (*s == ' ' || *s == ',' || *s == '\t' || *s == '\n' || *s == '\r')
            s++;
        if (!*s)
            break;
        size_t len = strcspn(s, ", \t\n\r");
        const char *colon = memchr(s, ':', len);
        if (!colon)
            return cfg_fail(err, file, line, "services: '%.*s' is not name:port", (int)len, s);
        size_t nl = (size_t)(colon - s);
        int proto = -1;
        for (int k = 0; k < AUTH_P_COUNT; k++)
            if (strlen(auth_proto_names[k]) == nl && strncasecmp(auth_proto_names[k], s, nl) == 0)
                proto = k;
        if (proto < 0)
            return cfg_fail(err, file, line,
                            "services: '%.*s' is not a service (ssh, rdp, telnet, ftp, smtp, "
                            "submission, smtps, pop3, pop3s, imap, imaps, mysql, mssql, "
                            "postgresql, vnc, http)",
                            (int)nl, s);
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (end == colon + 1 || end != s + len || port < 1 || port > 65535)
            return cfg_fail(err, file, line, "services: '%.*s' has no port from 1 to 65535",
                            (int)len, s);
        for (size_t i = 0; i < p->n_services; i++)
            if (p->services[i].port == port)
                return cfg_fail(err, file, line, "services: port %ld is listed twice", port);
        if (p->n_services == AUTH_MAX_SERVICES)
            return cfg_fail(err, file, line, "services: more than %d", AUTH_MAX_SERVICES);
        p->services[p->n_services].port = (uint16_t)port;
        p->services[p->n_services].proto = (uint8_t)proto;
        p->n_services++;
        s += len;
    }
    if (p->n_services == 0)
        return cfg_fail(err, file, line, "services: empty list");
    return 0;
}

/* Comma-separated paths, each starting with '/', lower-cased. */
static int parse_login_paths(struct rule *r, const char *text, struct auth_params *p,
                             struct cfg_err *err)
{
    const char *file = r ? r->file : "auth";
    int line = r ? rule_key_line(r, "login_paths") : 0;
    size_t tl = strlen(text), cap = 1;
    for (size_t i = 0; i < tl; i++)
        cap += text[i] == ',';
    p->login_paths = malloc(tl + 1);
    p->login_path = calloc(cap, sizeof(*p->login_path));
    if (!p->login_paths || !p->login_path)
        return cfg_fail(err, file, line, "out of memory");
    for (size_t i = 0; i <= tl; i++)
        p->login_paths[i] = (char)tolower((unsigned char)text[i]);
    char *s = p->login_paths;
    while (s) {
        char *e = strchr(s, ',');
        if (e)
            *e = '\0';
        while (isspace((unsigned char)*s))
            s++;
        size_t n = strlen(s);
        while (n && isspace((unsigned char)s[n - 1]))
            s[--n] = '\0';
        if (n && s[0] != '/')
            return cfg_fail(err, file, line, "login_paths: '%s' must start with '/'", s);
        if (n)
            p->login_path[p->n_login_paths++] = s;
        s = e ? e + 1 : NULL;
    }
    if (p->n_login_paths == 0)
        return cfg_fail(err, file, line, "login_paths: empty list");
    return 0;
}

int auth_params_load(struct ruleset *rs, struct auth_params *p, struct cfg_err *err)
{
    memset(p, 0, sizeof(*p));
    size_t cursor = 0;
    struct rule *r, *only = NULL;
    while ((r = ruleset_next(rs, "auth", &cursor))) {
        if (strcmp(r->name, "brute_force") != 0)
            return cfg_fail(err, r->file, r->line,
                            "rule [%s]: the auth detector has one rule, [brute_force]", r->name);
        only = r;
    }
    r = only;
    p->rule = r && r->enabled ? r : NULL;
    const char *sv = r ? rule_get_string(r, "services") : NULL;
    const char *lp = r ? rule_get_string(r, "login_paths") : NULL;
    if (parse_services(r, sv ? sv : DEFAULT_SERVICES, p, err) < 0 ||
        parse_login_paths(r, lp ? lp : DEFAULT_LOGIN_PATHS, p, err) < 0)
        return -1;
    p->window_us = 300ull * 1000000;
    p->attempts = 10;
    p->failures = 10;
    p->distributed_attempts = 100;
    p->distributed_sources = 10;
    p->long_session_us = 20ull * 1000000;
    p->max_clients = 4096;
    p->max_targets = 256;
    if (!r)
        return 0;
    if (rule_get_duration(r, "window", p->window_us, &p->window_us, err) < 0 ||
        rule_get_count(r, "attempts", 10, 2, 1000000, &p->attempts, err) < 0 ||
        rule_get_count(r, "failures", 10, 1, 1000000, &p->failures, err) < 0 ||
        rule_get_count(r, "distributed_attempts", 100, 2, 10000000, &p->distributed_attempts, err) <
            0 ||
        rule_get_count(r, "distributed_sources", 10, 2, 1000000, &p->distributed_sources, err) <
            0 ||
        rule_get_duration(r, "long_session", p->long_session_us, &p->long_session_us, err) < 0 ||
        rule_get_count(r, "max_clients", 4096, 16, 1u << 22, &p->max_clients, err) < 0 ||
        rule_get_count(r, "max_targets", 256, 4, 65536, &p->max_targets, err) < 0)
        return -1;
    if (p->window_us < 1000000 || p->window_us > 3600ull * 1000000)
        return cfg_fail(err, r->file, rule_key_line(r, "window"), "window: between 1s and 1h");
    if (p->long_session_us < 1000000)
        return cfg_fail(err, r->file, rule_key_line(r, "long_session"),
                        "long_session: at least 1s");
    return 0;
}
