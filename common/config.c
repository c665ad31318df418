/* config.c — see config.h.  libinih does the INI syntax; this file keeps
 * line numbers (inih's handler does not get them, so a counting reader
 * feeds it) and turns values into typed fields with file:line errors. */
#include "common/config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/hash.h"
#include "common/log.h"
#include "common/units.h"

int cfg_fail(struct cfg_err *err, const char *file, int line, const char *fmt, ...)
{
    char text[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (line > 0)
        snprintf(err->msg, sizeof(err->msg), "%s:%d: %s", file, line, text);
    else
        snprintf(err->msg, sizeof(err->msg), "%s: %s", file, text);
    return -1;
}

static const char *const severity_names[] = {"none", "low", "medium", "high", "critical"};

const char *severity_name(enum severity s)
{
    return (unsigned)s < 5 ? severity_names[s] : "none";
}

int severity_parse(const char *text, enum severity *out)
{
    for (int i = SEV_LOW; i <= SEV_CRITICAL; i++) {
        if (strcasecmp(text, severity_names[i]) == 0) {
            *out = (enum severity)i;
            return 0;
        }
    }
    return -1;
}

/* ---- line-counting INI reading -------------------------------------- */

struct ini_cursor {
    FILE *fp;
    const char *path;
    int line;          /* line most recently handed to inih */
    int section_line;  /* line of the most recent [section] header */
    bool continuation; /* that line began with white space */
    bool failed;       /* first error already recorded */
    struct cfg_err *err;
    uint64_t digest;   /* of the text, for rule-set versions */
};

static char *cursor_read(char *str, int num, void *stream)
{
    struct ini_cursor *c = stream;
    if (!fgets(str, num, c->fp))
        return NULL;
    c->line++;
    c->continuation = str[0] == ' ' || str[0] == '\t';
    const char *p = str;
    while (isspace((unsigned char)*p))
        p++;
    if (*p == '[')
        c->section_line = c->line;
    c->digest = hash_bytes(str, strlen(str), c->digest);
    return str;
}

/* Record the first error only; later ones are usually its consequences. */
static int cursor_fail(struct ini_cursor *c, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int cursor_fail(struct ini_cursor *c, int line, const char *fmt, ...)
{
    if (c->failed)
        return 0;
    char text[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    cfg_fail(c->err, c->path, line, "%s", text);
    c->failed = true;
    return 0;
}

/* Parse path with handler; user must begin with a struct ini_cursor. */
static int ini_run(const char *path, ini_handler handler, struct ini_cursor *c, struct cfg_err *err)
{
    c->fp = fopen(path, "r");
    c->path = path;
    c->err = err;
    if (!c->fp)
        return cfg_fail(err, path, 0, "cannot open: %s", strerror(errno));
    int rc = ini_parse_stream(cursor_read, c, handler, c);
    fclose(c->fp);
    c->fp = NULL;
    if (c->failed)
        return -1;
    if (rc > 0)
        return cfg_fail(err, path, rc, "syntax error (expected [section] or key = value)");
    if (rc < 0)
        return cfg_fail(err, path, 0, "cannot parse (out of memory)");
    return 0;
}

static int copy_string(char *dst, size_t size, const char *value)
{
    size_t n = strlen(value);
    if (n >= size)
        return -1;
    memcpy(dst, value, n + 1);
    return 0;
}

/* ---- agent.conf ------------------------------------------------------ */

enum field_kind { F_STRING, F_NAME, F_DURATION, F_SIZE, F_MB, F_COUNT, F_LEVEL, F_NETSET, F_LOGLEVEL, F_RATIO_PPM };

struct field {
    const char *section;
    const char *key;
    enum field_kind kind;
    size_t offset;
    size_t size; /* strings: buffer size */
};

#define FIELD(sec, key, kind, member)                                                              \
    {sec, key, kind, offsetof(struct agent_config, member),                                        \
     sizeof(((struct agent_config *)0)->member)}

static const struct field agent_fields[] = {
    FIELD("agent", "name", F_NAME, name),
    FIELD("agent", "agency", F_STRING, agency),
    FIELD("agent", "state_dir", F_STRING, state_dir),
    FIELD("agent", "rules_dir", F_STRING, rules_dir),
    FIELD("agent", "local_rules_dir", F_STRING, local_rules_dir),
    FIELD("agent", "assets", F_STRING, assets_file),
    FIELD("agent", "user", F_STRING, run_as_user),
    FIELD("agent", "home_net", F_NETSET, home_net),
    FIELD("agent", "serious_level", F_LEVEL, serious_level),
    FIELD("agent", "log_level", F_LOGLEVEL, log_level),
    FIELD("capture", "interface", F_STRING, interface),
    FIELD("capture", "snaplen", F_COUNT, snaplen),
    FIELD("capture", "buffer_mb", F_COUNT, buffer_mb),
    FIELD("capture", "filter", F_STRING, filter),
    FIELD("capture", "drop_alert_ratio", F_RATIO_PPM, drop_alert_ratio_ppm),
    FIELD("capture", "link_silent", F_DURATION, link_silent_us),
    FIELD("output", "redis_url", F_STRING, redis_url),
    FIELD("output", "stream", F_STRING, stream),
    FIELD("output", "heartbeat_stream", F_STRING, heartbeat_stream),
    FIELD("output", "maxlen", F_COUNT, maxlen),
    FIELD("output", "user", F_STRING, redis_user),
    FIELD("output", "password_file", F_STRING, password_file),
    FIELD("output", "spool_max_mb", F_MB, spool_max_bytes),
    FIELD("output", "heartbeat_interval", F_DURATION, heartbeat_interval_us),
    FIELD("output", "timeout", F_DURATION, redis_timeout_us),
    FIELD("geoip", "mmdb", F_STRING, mmdb),
};

void agent_config_defaults(struct agent_config *c)
{
    memset(c, 0, sizeof(*c));
    char host[64] = "canh";
    gethostname(host, sizeof(host) - 1);
    /* Redis keys and ids use the name: keep it to a safe alphabet. */
    for (char *p = host; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
            *p = '-';
    snprintf(c->name, sizeof(c->name), "%s", host);
    snprintf(c->state_dir, sizeof(c->state_dir), "/var/lib/canh");
    snprintf(c->local_rules_dir, sizeof(c->local_rules_dir), "/etc/canh/rules.d");
    c->serious_level = 3;
    c->log_level = LOG_LEVEL_INFO;
    c->snaplen = 65535;
    c->buffer_mb = 32;
    c->drop_alert_ratio_ppm = 10000; /* 1 % */
    c->link_silent_us = 300ull * 1000000;
    c->maxlen = 1000000;
    c->spool_max_bytes = 256ull << 20;
    c->heartbeat_interval_us = 10ull * 1000000;
    c->redis_timeout_us = 5ull * 1000000;
}

struct agent_parse {
    struct ini_cursor cur; /* first: inih hands this pointer back */
    struct agent_config *cfg;
};

static int agent_field_set(struct agent_parse *ap, const struct field *f, const char *value)
{
    struct ini_cursor *c = &ap->cur;
    char *base = (char *)ap->cfg + f->offset;
    uint64_t u;
    switch (f->kind) {
    case F_NAME:
        for (const char *p = value; *p; p++)
            if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
                return cursor_fail(c, c->line,
                                   "%s: '%s' may only use letters, digits, '-', '_' and '.'",
                                   f->key, value);
        if (!*value)
            return cursor_fail(c, c->line, "%s must not be empty", f->key);
        /* fall through */
    case F_STRING:
        if (copy_string(base, f->size, value) < 0)
            return cursor_fail(c, c->line, "%s is too long (at most %zu characters)", f->key,
                               f->size - 1);
        return 1;
    case F_DURATION:
        if (units_parse_duration_us(value, (uint64_t *)base) < 0)
            return cursor_fail(c, c->line, "%s: '%s' is not a duration (e.g. 30s, 5m)", f->key,
                               value);
        return 1;
    case F_MB:
        if (units_parse_count(value, &u) < 0 || u > (1u << 20))
            return cursor_fail(c, c->line, "%s: '%s' is not a size in MiB", f->key, value);
        *(uint64_t *)base = u << 20;
        return 1;
    case F_SIZE:
        if (units_parse_size_bytes(value, (uint64_t *)base) < 0)
            return cursor_fail(c, c->line, "%s: '%s' is not a size (e.g. 64MiB)", f->key, value);
        return 1;
    case F_COUNT:
        if (units_parse_count(value, &u) < 0)
            return cursor_fail(c, c->line, "%s: '%s' is not a whole number", f->key, value);
        if (f->size == sizeof(uint32_t)) {
            if (u > UINT32_MAX)
                return cursor_fail(c, c->line, "%s: %s is too large", f->key, value);
            *(uint32_t *)base = (uint32_t)u;
        } else {
            *(uint64_t *)base = u;
        }
        return 1;
    case F_LEVEL:
        if (units_parse_count(value, &u) < 0 || u < 1 || u > 5)
            return cursor_fail(c, c->line, "%s: '%s' is not a level from 1 to 5", f->key, value);
        *(int *)base = (int)u;
        return 1;
    case F_LOGLEVEL: {
        enum log_level level;
        if (log_level_parse(value, &level) < 0)
            return cursor_fail(c, c->line, "%s: '%s' is not one of error, warning, info, debug",
                               f->key, value);
        *(int *)base = (int)level;
        return 1;
    }
    case F_RATIO_PPM: {
        double ratio;
        char *end;
        ratio = strtod(value, &end);
        if (end == value || (*end != '\0' && *end != '%') || ratio < 0)
            return cursor_fail(c, c->line, "%s: '%s' is not a ratio (e.g. 0.01 or 1%%)", f->key,
                               value);
        if (*end == '%')
            ratio /= 100.0;
        if (ratio > 1)
            return cursor_fail(c, c->line, "%s: %s is above 1", f->key, value);
        *(uint64_t *)base = (uint64_t)(ratio * 1e6);
        return 1;
    }
    case F_NETSET: {
        struct netset *ns = (struct netset *)base;
        char bad[80];
        netset_free(ns);
        if (netset_parse(value, ns, bad, sizeof(bad)) < 0)
            return cursor_fail(c, c->line, "%s: '%s' is not an address or prefix", f->key, bad);
        return 1;
    }
    }
    return 1;
}

static int agent_handler(void *user, const char *section, const char *name, const char *value)
{
    struct agent_parse *ap = user;
    for (size_t i = 0; i < sizeof(agent_fields) / sizeof(agent_fields[0]); i++) {
        const struct field *f = &agent_fields[i];
        if (strcmp(section, f->section) == 0 && strcmp(name, f->key) == 0)
            return agent_field_set(ap, f, value);
    }
    static const char *const sections[] = {"agent", "capture", "output", "geoip"};
    for (size_t i = 0; i < 4; i++)
        if (strcmp(section, sections[i]) == 0)
            return cursor_fail(&ap->cur, ap->cur.line, "unknown key '%s' in [%s]", name, section);
    return cursor_fail(&ap->cur, ap->cur.section_line,
                       "unknown section [%s] (expected agent, capture, output or geoip)", section);
}

int agent_config_load(const char *path, struct agent_config *c, struct cfg_err *err)
{
    struct agent_parse ap = {.cfg = c};
    if (ini_run(path, agent_handler, &ap.cur, err) < 0)
        return -1;
    c->path = path;
    return 0;
}

void agent_config_free(struct agent_config *c) { netset_free(&c->home_net); }

/* ---- assets.conf ----------------------------------------------------- */

struct assets_parse {
    struct ini_cursor cur;
    struct assets *out;
    char *section; /* current asset's section name */
};

static int hex_nibble(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = (char)tolower((unsigned char)ch);
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

static int parse_port_list(const char *value, uint16_t *ports, size_t max, size_t *n)
{
    *n = 0;
    const char *p = value;
    while (*p) {
        while (*p == ',' || isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > 65535 || *n >= max)
            return -1;
        ports[(*n)++] = (uint16_t)v;
        p = end;
        if (*p && *p != ',' && !isspace((unsigned char)*p))
            return -1;
    }
    return 0;
}

/* "monitor = /index.html, /news/ sha256:ab12..." */
static int parse_monitor_list(struct ini_cursor *c, struct asset *a, const char *value)
{
    char *copy = strdup(value), *save = NULL;
    if (!copy)
        return cursor_fail(c, c->line, "out of memory");
    a->n_monitor = 0;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*item))
            item++;
        if (!*item)
            continue;
        if (a->n_monitor >= ASSET_MAX_MONITOR) {
            int rc = cursor_fail(c, c->line, "monitor: at most %d URLs per asset", ASSET_MAX_MONITOR);
            free(copy); /* after the message: it may quote the copy */
            return rc;
        }
        struct asset_monitor *m = &a->monitor[a->n_monitor];
        memset(m, 0, sizeof(*m));
        char *space = strpbrk(item, " \t");
        if (space) {
            *space++ = '\0';
            while (isspace((unsigned char)*space))
                space++;
            size_t hexlen = strcspn(space, " \t");
            if (strncmp(space, "sha256:", 7) != 0 || hexlen != 7 + 64) {
                int rc = cursor_fail(c, c->line, "monitor: expected 'PATH [sha256:<64 hex digits>]'");
                free(copy); /* after the message: it may quote the copy */
                return rc;
            }
            for (int i = 0; i < 32; i++) {
                int hi = hex_nibble(space[7 + 2 * i]), lo = hex_nibble(space[8 + 2 * i]);
                if (hi < 0 || lo < 0) {
                    int rc = cursor_fail(c, c->line, "monitor: '%s' is not a sha256 digest", space);
                    free(copy); /* after the message: it may quote the copy */
                    return rc;
                }
                m->sha256[i] = (uint8_t)(hi << 4 | lo);
            }
            m->has_hash = true;
        }
        if (item[0] != '/' || copy_string(m->path, sizeof(m->path), item) < 0) {
            int rc = cursor_fail(c, c->line, "monitor: '%s' is not a URL path starting with /", item);
            free(copy); /* after the message: it may quote the copy */
            return rc;
        }
        a->n_monitor++;
    }
    free(copy);
    return 1;
}

static int assets_handler(void *user, const char *section, const char *name, const char *value)
{
    struct assets_parse *ap = user;
    struct ini_cursor *c = &ap->cur;
    if (!ap->section || strcmp(ap->section, section) != 0 ||
        ap->out->v[ap->out->n - 1].line != c->section_line) {
        for (size_t i = 0; i < ap->out->n; i++)
            if (strcmp(ap->out->v[i].name, section) == 0)
                return cursor_fail(c, c->section_line, "asset [%s] is declared twice", section);
        struct asset *grown = realloc(ap->out->v, (ap->out->n + 1) * sizeof(*grown));
        if (!grown)
            return cursor_fail(c, c->line, "out of memory");
        ap->out->v = grown;
        struct asset *a = &grown[ap->out->n++];
        memset(a, 0, sizeof(*a));
        a->level = 1;
        a->file = c->path;
        a->line = c->section_line;
        if (copy_string(a->name, sizeof(a->name), section) < 0)
            return cursor_fail(c, c->section_line, "asset name '%s' is too long", section);
        free(ap->section);
        ap->section = strdup(section);
    }
    struct asset *a = &ap->out->v[ap->out->n - 1];
    uint64_t u;
    if (strcmp(name, "address") == 0) {
        char bad[80];
        netset_free(&a->addresses);
        if (netset_parse(value, &a->addresses, bad, sizeof(bad)) < 0)
            return cursor_fail(c, c->line, "address: '%s' is not an address or prefix", bad);
    } else if (strcmp(name, "name") == 0) {
        if (copy_string(a->name, sizeof(a->name), value) < 0)
            return cursor_fail(c, c->line, "name is too long");
    } else if (strcmp(name, "owner") == 0) {
        if (copy_string(a->owner, sizeof(a->owner), value) < 0)
            return cursor_fail(c, c->line, "owner is too long");
    } else if (strcmp(name, "agency") == 0) {
        if (copy_string(a->agency, sizeof(a->agency), value) < 0)
            return cursor_fail(c, c->line, "agency is too long");
    } else if (strcmp(name, "level") == 0) {
        if (units_parse_count(value, &u) < 0 || u < 1 || u > 5)
            return cursor_fail(c, c->line, "level: '%s' is not a level from 1 to 5 (Decree 85/2016)",
                               value);
        a->level = (int)u;
    } else if (strcmp(name, "web_ports") == 0) {
        if (parse_port_list(value, a->web_ports, ASSET_MAX_PORTS, &a->n_web_ports) < 0)
            return cursor_fail(c, c->line, "web_ports: '%s' is not a list of up to %d ports", value,
                               ASSET_MAX_PORTS);
    } else if (strcmp(name, "monitor") == 0) {
        return parse_monitor_list(c, a, value);
    } else if (strcmp(name, "capacity_mbps") == 0) {
        if (units_parse_count(value, &u) < 0 || u > UINT32_MAX)
            return cursor_fail(c, c->line, "capacity_mbps: '%s' is not a whole number", value);
        a->capacity_mbps = (uint32_t)u;
    } else {
        return cursor_fail(c, c->line,
                           "unknown key '%s' in asset [%s] (expected address, name, owner, agency, "
                           "level, web_ports, monitor, capacity_mbps)",
                           name, section);
    }
    return 1;
}

int assets_load(const char *path, struct assets *out, struct cfg_err *err)
{
    struct assets_parse ap = {.out = out};
    memset(out, 0, sizeof(*out));
    int rc = ini_run(path, assets_handler, &ap.cur, err);
    free(ap.section);
    size_t prefixes = 0;
    for (size_t i = 0; rc == 0 && i < out->n; i++) {
        if (out->v[i].addresses.n == 0)
            rc = cfg_fail(err, path, out->v[i].line, "asset [%s] has no address", out->v[i].name);
        prefixes += out->v[i].addresses.n;
    }
    /* One index over every asset's prefixes: a lookup is a few hash
     * probes however many assets there are.  The first asset declaring
     * a network keeps it. */
    if (rc == 0 && prefix_index_init(&out->index, prefixes) < 0)
        rc = cfg_fail(err, path, 0, "out of memory");
    for (size_t i = 0; rc == 0 && i < out->n; i++)
        for (size_t j = 0; j < out->v[i].addresses.n; j++)
            prefix_index_add(&out->index, &out->v[i].addresses.v[j], (int32_t)i);
    if (rc < 0)
        assets_free(out);
    return rc;
}

const struct asset *assets_lookup(const struct assets *a, const struct ipaddr *addr)
{
    int32_t i = prefix_index_lookup(&a->index, addr);
    return i >= 0 ? &a->v[i] : NULL;
}

void assets_free(struct assets *a)
{
    for (size_t i = 0; i < a->n; i++)
        netset_free(&a->v[i].addresses);
    free(a->v);
    prefix_index_free(&a->index);
    a->v = NULL;
    a->n = 0;
}

/* ---- rules ----------------------------------------------------------- */

struct rules_parse {
    struct ini_cursor cur;
    struct ruleset *rs;
    size_t first;  /* rules of this file start here */
    char *section; /* current rule's section */
    char *kv_key;  /* last key, for continuation lines */
};

static struct rule *rule_new(struct rules_parse *rp, const char *section)
{
    struct ini_cursor *c = &rp->cur;
    for (size_t i = 0; i < rp->rs->n; i++) {
        if (strcmp(rp->rs->v[i].name, section) == 0) {
            cursor_fail(c, c->section_line, "rule [%s] is already defined at %s:%d", section,
                        rp->rs->v[i].file, rp->rs->v[i].line);
            return NULL;
        }
    }
    struct rule *grown = realloc(rp->rs->v, (rp->rs->n + 1) * sizeof(*grown));
    if (!grown) {
        cursor_fail(c, c->line, "out of memory");
        return NULL;
    }
    rp->rs->v = grown;
    struct rule *r = &grown[rp->rs->n++];
    memset(r, 0, sizeof(*r));
    r->name = strdup(section);
    r->file = strdup(c->path);
    const char *base = strrchr(c->path, '/');
    base = base ? base + 1 : c->path;
    size_t reflen = strlen(base) + strlen(section) + 2;
    r->ref = malloc(reflen);
    if (r->ref)
        snprintf(r->ref, reflen, "%s:%s", base, section);
    r->line = c->section_line;
    r->enabled = true;
    r->severity = SEV_MEDIUM;
    r->update_interval_us = 60ull * 1000000;
    r->hold_down_us = 120ull * 1000000;
    if (!r->name || !r->file || !r->ref) {
        cursor_fail(c, c->line, "out of memory");
        return NULL;
    }
    free(rp->section);
    rp->section = strdup(section);
    return r;
}

static int rule_common_key(struct ini_cursor *c, struct rule *r, const char *name, const char *value)
{
    if (strcmp(name, "detector") == 0) {
        free(r->detector);
        r->detector = strdup(value);
        r->detector_line = c->line;
    } else if (strcmp(name, "enabled") == 0) {
        int b;
        if (units_parse_bool(value, &b) < 0)
            return cursor_fail(c, c->line, "enabled: '%s' is not yes or no", value);
        r->enabled = b;
    } else if (strcmp(name, "taxonomy") == 0) {
        r->taxonomy = taxonomy_find(value);
        if (!r->taxonomy)
            return cursor_fail(c, c->line,
                               "taxonomy: unknown code '%s' (see docs/rules.md for the codes)",
                               value);
    } else if (strcmp(name, "severity") == 0) {
        if (severity_parse(value, &r->severity) < 0)
            return cursor_fail(c, c->line,
                               "severity: '%s' is not one of low, medium, high, critical", value);
    } else if (strcmp(name, "allow") == 0) {
        char bad[80];
        struct netset more;
        if (netset_parse(value, &more, bad, sizeof(bad)) < 0)
            return cursor_fail(c, c->line, "allow: '%s' is not an address or prefix", bad);
        struct cidr *grown = realloc(r->allow.v, (r->allow.n + more.n + 1) * sizeof(*grown));
        if (!grown) {
            netset_free(&more);
            return cursor_fail(c, c->line, "out of memory");
        }
        if (more.n) /* "allow =" with nothing after it adds nothing */
            memcpy(grown + r->allow.n, more.v, more.n * sizeof(*grown));
        r->allow.v = grown;
        r->allow.n += more.n;
        netset_free(&more);
        if (netset_reindex(&r->allow) < 0)
            return cursor_fail(c, c->line, "out of memory");
    } else if (strcmp(name, "update_interval") == 0) {
        if (units_parse_duration_us(value, &r->update_interval_us) < 0 ||
            r->update_interval_us == 0)
            return cursor_fail(c, c->line, "update_interval: '%s' is not a duration (e.g. 60s)",
                               value);
    } else if (strcmp(name, "hold_down") == 0) {
        if (units_parse_duration_us(value, &r->hold_down_us) < 0 || r->hold_down_us == 0)
            return cursor_fail(c, c->line, "hold_down: '%s' is not a duration (e.g. 120s)", value);
    } else {
        return -1; /* not a common key */
    }
    return 1;
}

static int rules_handler(void *user, const char *section, const char *name, const char *value)
{
    struct rules_parse *rp = user;
    struct ini_cursor *c = &rp->cur;
    struct rule *r;
    /* A new header line starts a new rule, even one repeating a name. */
    if (!rp->section || strcmp(rp->section, section) != 0 ||
        rp->rs->v[rp->rs->n - 1].line != c->section_line) {
        r = rule_new(rp, section);
        if (!r)
            return 0;
    } else {
        r = &rp->rs->v[rp->rs->n - 1];
    }
    /* A continuation line extends the previous key's value. */
    if (c->continuation && rp->kv_key && strcmp(rp->kv_key, name) == 0 && r->n_kv > 0 &&
        strcmp(r->kv[r->n_kv - 1].key, name) == 0) {
        struct rule_kv *kv = &r->kv[r->n_kv - 1];
        size_t n = strlen(kv->value) + strlen(value) + 3;
        char *joined = malloc(n);
        if (!joined)
            return cursor_fail(c, c->line, "out of memory");
        snprintf(joined, n, "%s, %s", kv->value, value);
        free(kv->value);
        kv->value = joined;
        return 1;
    }
    int common = rule_common_key(c, r, name, value);
    if (common >= 0)
        return common;
    for (size_t i = 0; i < r->n_kv; i++)
        if (strcmp(r->kv[i].key, name) == 0)
            return cursor_fail(c, c->line, "key '%s' is set twice in rule [%s] (first at line %d)",
                               name, section, r->kv[i].line);
    struct rule_kv *grown = realloc(r->kv, (r->n_kv + 1) * sizeof(*grown));
    if (!grown)
        return cursor_fail(c, c->line, "out of memory");
    r->kv = grown;
    struct rule_kv *kv = &grown[r->n_kv++];
    kv->key = strdup(name);
    kv->value = strdup(value);
    kv->line = c->line;
    kv->used = false;
    free(rp->kv_key);
    rp->kv_key = strdup(name);
    if (!kv->key || !kv->value)
        return cursor_fail(c, c->line, "out of memory");
    return 1;
}

int ruleset_load_file(const char *path, struct ruleset *rs, struct cfg_err *err)
{
    struct rules_parse rp = {.rs = rs, .first = rs->n};
    rp.cur.digest = rs->digest;
    int rc = ini_run(path, rules_handler, &rp.cur, err);
    free(rp.section);
    free(rp.kv_key);
    if (rc < 0)
        return -1;
    rs->digest = rp.cur.digest;
    snprintf(rs->version, sizeof(rs->version), "%016llx", (unsigned long long)rs->digest);
    for (size_t i = rp.first; i < rs->n; i++) {
        struct rule *r = &rs->v[i];
        if (!r->detector)
            return cfg_fail(err, r->file, r->line, "rule [%s] has no 'detector ='", r->name);
        if (!r->taxonomy)
            return cfg_fail(err, r->file, r->line,
                            "rule [%s] has no 'taxonomy =' (e.g. attack.other for reconnaissance)",
                            r->name);
    }
    return 0;
}

static int rules_name_filter(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return d->d_name[0] != '.' && n > 6 && strcmp(d->d_name + n - 6, ".rules") == 0;
}

static void rule_free(struct rule *r)
{
    free(r->name);
    free(r->file);
    free(r->ref);
    free(r->detector);
    netset_free(&r->allow);
    for (size_t k = 0; k < r->n_kv; k++) {
        free(r->kv[k].key);
        free(r->kv[k].value);
    }
    free(r->kv);
}

/* Every *.rules file of dir in name order into rs; ENOENT tolerated when
 * missing_ok. */
static int load_rules_files(const char *dir, struct ruleset *rs, bool missing_ok,
                            struct cfg_err *err)
{
    struct dirent **names;
    int n = scandir(dir, &names, rules_name_filter, alphasort);
    if (n < 0) {
        if (missing_ok && errno == ENOENT)
            return 0;
        return cfg_fail(err, dir, 0, "cannot read rules directory: %s", strerror(errno));
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
        if (rc == 0)
            rc = ruleset_load_file(path, rs, err);
        free(names[i]);
    }
    free(names);
    return rc;
}

int ruleset_load_dir(const char *dir, struct ruleset *rs, struct cfg_err *err)
{
    if (load_rules_files(dir, rs, false, err) < 0)
        return -1;
    if (rs->n == 0)
        return cfg_fail(err, dir, 0, "no *.rules files with rules in this directory");
    return 0;
}

int ruleset_overlay_dir(const char *dir, struct ruleset *rs, struct cfg_err *err)
{
    struct ruleset local = {.digest = rs->digest};
    if (load_rules_files(dir, &local, true, err) < 0) {
        ruleset_free(&local);
        return -1;
    }
    for (size_t i = 0; i < local.n; i++) {
        struct rule *same = NULL;
        for (size_t j = 0; j < rs->n && !same; j++)
            if (strcmp(rs->v[j].name, local.v[i].name) == 0)
                same = &rs->v[j];
        if (same) {
            rule_free(same);
            *same = local.v[i];
            continue;
        }
        struct rule *grown = realloc(rs->v, (rs->n + 1) * sizeof(*grown));
        if (!grown) {
            for (size_t k = i; k < local.n; k++)
                rule_free(&local.v[k]);
            free(local.v);
            return cfg_fail(err, dir, 0, "out of memory");
        }
        rs->v = grown;
        rs->v[rs->n++] = local.v[i];
    }
    if (local.n) {
        rs->digest = local.digest;
        snprintf(rs->version, sizeof(rs->version), "%016llx", (unsigned long long)rs->digest);
    }
    free(local.v);
    return 0;
}

struct rule *ruleset_next(struct ruleset *rs, const char *detector, size_t *cursor)
{
    for (; *cursor < rs->n; (*cursor)++) {
        struct rule *r = &rs->v[*cursor];
        if (strcmp(r->detector, detector) == 0) {
            (*cursor)++;
            return r;
        }
    }
    return NULL;
}

struct rule *ruleset_find(struct ruleset *rs, const char *detector, const char *name)
{
    for (size_t i = 0; i < rs->n; i++)
        if (strcmp(rs->v[i].detector, detector) == 0 && strcmp(rs->v[i].name, name) == 0)
            return &rs->v[i];
    return NULL;
}

int ruleset_check_detectors(const struct ruleset *rs, const char *const *known, size_t n_known,
                            struct cfg_err *err)
{
    for (size_t i = 0; i < rs->n; i++) {
        const struct rule *r = &rs->v[i];
        bool found = false;
        for (size_t k = 0; k < n_known && !found; k++)
            found = strcmp(r->detector, known[k]) == 0;
        if (!found) {
            char list[256] = "";
            for (size_t k = 0; k < n_known; k++) {
                strncat(list, k ? ", " : "", sizeof(list) - strlen(list) - 1);
                strncat(list, known[k], sizeof(list) - strlen(list) - 1);
            }
            return cfg_fail(err, r->file, r->detector_line, "rule [%s]: unknown detector '%s' (known: %s)",
                            r->name, r->detector, list);
        }
    }
    return 0;
}

int ruleset_check_unused(const struct ruleset *rs, struct cfg_err *err)
{
    for (size_t i = 0; i < rs->n; i++) {
        const struct rule *r = &rs->v[i];
        for (size_t k = 0; k < r->n_kv; k++)
            if (!r->kv[k].used)
                return cfg_fail(err, r->file, r->kv[k].line,
                                "unknown key '%s' in rule [%s] (detector %s)", r->kv[k].key,
                                r->name, r->detector);
    }
    return 0;
}

void ruleset_free(struct ruleset *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        rule_free(&rs->v[i]);
    free(rs->v);
    memset(rs, 0, sizeof(*rs));
}

/* ---- typed getters ---------------------------------------------------- */

static struct rule_kv *rule_kv_find(struct rule *r, const char *key)
{
    for (size_t i = 0; i < r->n_kv; i++) {
        if (strcmp(r->kv[i].key, key) == 0) {
            r->kv[i].used = true;
            return &r->kv[i];
        }
    }
    return NULL;
}

int rule_key_line(const struct rule *r, const char *key)
{
    for (size_t i = 0; i < r->n_kv; i++)
        if (strcmp(r->kv[i].key, key) == 0)
            return r->kv[i].line;
    return r->line;
}

const char *rule_get_string(struct rule *r, const char *key)
{
    struct rule_kv *kv = rule_kv_find(r, key);
    return kv ? kv->value : NULL;
}

int rule_get_duration(struct rule *r, const char *key, uint64_t def, uint64_t *out_us,
                      struct cfg_err *err)
{
    struct rule_kv *kv = rule_kv_find(r, key);
    *out_us = def;
    if (kv && units_parse_duration_us(kv->value, out_us) < 0)
        return cfg_fail(err, r->file, kv->line, "%s: '%s' is not a duration (e.g. 500ms, 60s, 1h)",
                        key, kv->value);
    return 0;
}

int rule_get_rate(struct rule *r, const char *key, double def, double *out_per_s,
                  struct cfg_err *err)
{
    struct rule_kv *kv = rule_kv_find(r, key);
    *out_per_s = def;
    if (kv && units_parse_rate_per_s(kv->value, out_per_s) < 0)
        return cfg_fail(err, r->file, kv->line, "%s: '%s' is not a rate (e.g. 200/s, 30/m)", key,
                        kv->value);
    return 0;
}

int rule_get_count(struct rule *r, const char *key, uint64_t def, uint64_t min, uint64_t max,
                   uint64_t *out, struct cfg_err *err)
{
    struct rule_kv *kv = rule_kv_find(r, key);
    *out = def;
    if (!kv)
        return 0;
    if (units_parse_count(kv->value, out) < 0)
        return cfg_fail(err, r->file, kv->line, "%s: '%s' is not a whole number", key, kv->value);
    if (*out < min || *out > max)
        return cfg_fail(err, r->file, kv->line, "%s: %s is out of range (%llu to %llu)", key,
                        kv->value, (unsigned long long)min, (unsigned long long)max);
    return 0;
}

int rule_get_size(struct rule *r, const char *key, uint64_t def, uint64_t *out_bytes,
                  struct cfg_err *err)
{
    struct rule_kv *kv = rule_kv_find(r, key);
    *out_bytes = def;
    if (kv && units_parse_size_bytes(kv->value, out_bytes) < 0)
        return cfg_fail(err, r->file, kv->line, "%s: '%s' is not a size (e.g. 4KiB)", key,
                        kv->value);
    return 0;
}

int rule_get_ratio(struct rule *r, const char *key, double def, double *out, struct cfg_err *err)
{
    struct rule_kv *kv = rule_kv_find(r, key);
    *out = def;
    if (!kv)
        return 0;
    char *end;
    double v = strtod(kv->value, &end);
    bool percent = *end == '%';
    if (end == kv->value || (*end && !percent) || (percent && end[1]) || v < 0)
        return cfg_fail(err, r->file, kv->line, "%s: '%s' is not a ratio (e.g. 0.8 or 80%%)", key,
                        kv->value);
    *out = percent ? v / 100.0 : v;
    return 0;
}

int rule_get_bool(struct rule *r, const char *key, bool def, bool *out, struct cfg_err *err)
{
    struct rule_kv *kv = rule_kv_find(r, key);
    *out = def;
    int b;
    if (!kv)
        return 0;
    if (units_parse_bool(kv->value, &b) < 0)
        return cfg_fail(err, r->file, kv->line, "%s: '%s' is not yes or no", key, kv->value);
    *out = b;
    return 0;
}
