/* assets_conf.c — see assets_conf.h.  A [section] starts an asset; its keys
 * are parsed by common/values.c, except the monitor list, which is this
 * format's own. */
#include "common/assets_conf.h"

#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ini.h"

static int hex_nibble(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = (char)tolower((unsigned char)ch);
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

/* One "PATH [sha256:<64 hex digits>]" item, cut out of a writable copy. */
static int parse_monitor_item(const struct cfg_at *at, char *item, struct asset_monitor *m)
{
    memset(m, 0, sizeof(*m));
    char *space = strpbrk(item, " \t");
    if (space) {
        *space++ = '\0';
        while (isspace((unsigned char)*space))
            space++;
        size_t hexlen = strcspn(space, " \t");
        if (strncmp(space, "sha256:", 7) != 0 || hexlen != 7 + 64)
            return value_fail(at, "expected 'PATH [sha256:<64 hex digits>]'");
        for (int i = 0; i < 32; i++) {
            int hi = hex_nibble(space[7 + 2 * i]), lo = hex_nibble(space[8 + 2 * i]);
            if (hi < 0 || lo < 0)
                return value_fail(at, "'%s' is not a sha256 digest", space);
            m->sha256[i] = (uint8_t)(hi << 4 | lo);
        }
        m->has_hash = true;
    }
    size_t n = strlen(item);
    if (item[0] != '/' || n >= sizeof(m->path))
        return value_fail(at, "'%s' is not a URL path starting with /", item);
    memcpy(m->path, item, n + 1);
    return 0;
}

/* "monitor = /index.html, /news/ sha256:ab12..." */
static int parse_monitor_list(const struct cfg_at *at, struct asset *a, const char *value)
{
    char *copy = strdup(value), *save = NULL;
    if (!copy)
        return value_fail(at, "out of memory");
    int rc = 0;
    a->n_monitor = 0;
    for (char *item = strtok_r(copy, ",", &save); item && rc == 0;
         item = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*item))
            item++;
        if (!*item)
            continue;
        if (a->n_monitor >= ASSET_MAX_MONITOR)
            rc = value_fail(at, "at most %d URLs per asset", ASSET_MAX_MONITOR);
        else if ((rc = parse_monitor_item(at, item, &a->monitor[a->n_monitor])) == 0)
            a->n_monitor++;
    }
    free(copy); /* after the message: it may quote the copy */
    return rc;
}

/* ---- active checks (check_* keys) ------------------------------------ */

static struct asset_check *check_of(const struct cfg_at *at, struct asset *a)
{
    if (!a->check) {
        a->check = calloc(1, sizeof(*a->check));
        if (!a->check) {
            value_fail(at, "out of memory");
            return NULL;
        }
        a->check->interval_us = ASSET_CHECK_DEFAULT_INTERVAL_US;
        a->check->line = at->line;
    }
    return a->check;
}

/* http:// or https://, then a host name, an IPv4 address or [IPv6], an
 * optional :port and an optional path; no spaces, no user:password. */
static int check_url_valid(const char *url, const char **why)
{
    const char *host = NULL;
    if (strncmp(url, "http://", 7) == 0)
        host = url + 7;
    else if (strncmp(url, "https://", 8) == 0)
        host = url + 8;
    if (!host)
        return *why = "is not an http:// or https:// URL", -1;
    size_t hostlen = strcspn(host, "/?#");
    if (memchr(host, '@', hostlen))
        return *why = "carries a user name; checks fetch public pages only", -1;
    const char *end = host + hostlen, *port = NULL;
    if (*host == '[') {
        const char *close = memchr(host, ']', hostlen);
        if (!close || close == host + 1)
            return *why = "has a malformed [IPv6] host", -1;
        for (const char *c = host + 1; c < close; c++)
            if (!isxdigit((unsigned char)*c) && *c != ':' && *c != '.')
                return *why = "has a malformed [IPv6] host", -1;
        port = close + 1 < end ? close + 1 : NULL;
        if (port && *port != ':')
            return *why = "has text after the [IPv6] host", -1;
    } else {
        port = memchr(host, ':', hostlen);
        const char *name_end = port ? port : end;
        if (name_end == host)
            return *why = "has no host", -1;
        for (const char *c = host; c < name_end; c++)
            if (!isalnum((unsigned char)*c) && *c != '-' && *c != '.')
                return *why = "has a host that is not a name or an address", -1;
    }
    if (port) {
        char *stop;
        long n = strtol(port + 1, &stop, 10);
        if (stop == port + 1 || stop != end || n < 1 || n > 65535)
            return *why = "has a port that is not 1..65535", -1;
    }
    for (const char *c = url; *c; c++)
        if (isspace((unsigned char)*c) || iscntrl((unsigned char)*c))
            return *why = "contains a space or a control character", -1;
    return 0;
}

/* "check = https://portal.example.gov.vn/, http://10.0.0.5/news" */
static int parse_check_urls(const struct cfg_at *at, struct asset_check *c, const char *value)
{
    char *copy = strdup(value), *save = NULL;
    if (!copy)
        return value_fail(at, "out of memory");
    int rc = 0;
    c->n_url = 0;
    for (char *item = strtok_r(copy, ",", &save); item && rc == 0;
         item = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*item))
            item++;
        size_t n = strlen(item);
        while (n && isspace((unsigned char)item[n - 1]))
            item[--n] = '\0';
        const char *why = NULL;
        if (!*item)
            continue;
        if (c->n_url >= ASSET_MAX_CHECK)
            rc = value_fail(at, "at most %d URLs per asset", ASSET_MAX_CHECK);
        else if (n >= ASSET_CHECK_URL_MAX)
            rc = value_fail(at, "URL longer than %d characters", ASSET_CHECK_URL_MAX - 1);
        else if (check_url_valid(item, &why) < 0)
            rc = value_fail(at, "'%s' %s", item, why);
        else
            memcpy(c->url[c->n_url++], item, n + 1);
    }
    free(copy);
    if (rc == 0 && c->n_url == 0)
        rc = value_fail(at, "expected one or more http:// or https:// URLs");
    return rc;
}

/* "check_baseline = sha256:<hex>, learn": one per URL of check. */
static int parse_check_baselines(const struct cfg_at *at, struct asset_check *c, const char *value)
{
    char *copy = strdup(value), *save = NULL;
    if (!copy)
        return value_fail(at, "out of memory");
    int rc = 0;
    c->n_baseline = 0;
    c->baseline_line = at->line;
    for (char *item = strtok_r(copy, ", \t", &save); item && rc == 0;
         item = strtok_r(NULL, ", \t", &save)) {
        size_t i = c->n_baseline;
        if (i >= ASSET_MAX_CHECK) {
            rc = value_fail(at, "at most %d baselines per asset", ASSET_MAX_CHECK);
            break;
        }
        c->n_baseline++;
        if (strcmp(item, "learn") == 0)
            continue;
        if (strncmp(item, "sha256:", 7) != 0 || strlen(item) != 7 + 64) {
            rc = value_fail(at, "'%s' is not 'sha256:<64 hex digits>' or 'learn'", item);
            break;
        }
        for (int k = 0; k < 32 && rc == 0; k++) {
            int hi = hex_nibble(item[7 + 2 * k]), lo = hex_nibble(item[8 + 2 * k]);
            if (hi < 0 || lo < 0)
                rc = value_fail(at, "'%s' is not a sha256 digest", item);
            else
                c->baseline[i][k] = (uint8_t)(hi << 4 | lo);
        }
        c->has_baseline[i] = true;
    }
    free(copy);
    return rc;
}

/* "check_mask = [0-9]{2}:[0-9]{2}, csrf=[a-z0-9]+": POSIX extended regular
 * expressions separated by commas; "\," is a literal comma. */
static int parse_check_masks(const struct cfg_at *at, struct asset_check *c, const char *value)
{
    c->n_mask = 0;
    const char *s = value;
    while (*s) {
        while (*s == ' ' || *s == '\t' || *s == ',')
            s++;
        if (!*s)
            break;
        if (c->n_mask >= ASSET_MAX_MASKS)
            return value_fail(at, "at most %d masks per asset", ASSET_MAX_MASKS);
        char *out = c->mask[c->n_mask];
        size_t n = 0;
        for (; *s && *s != ','; s++) {
            if (s[0] == '\\' && s[1] == ',')
                s++;
            if (n + 1 >= sizeof(c->mask[0]))
                return value_fail(at, "a mask is longer than %zu characters",
                                  sizeof(c->mask[0]) - 1);
            out[n++] = *s;
        }
        while (n && (out[n - 1] == ' ' || out[n - 1] == '\t'))
            n--;
        out[n] = '\0';
        regex_t re;
        int rc = regcomp(&re, out, REG_EXTENDED);
        if (rc != 0) {
            char why[128];
            regerror(rc, &re, why, sizeof(why));
            return value_fail(at, "mask '%s' is not a regular expression: %s", out, why);
        }
        regfree(&re);
        c->n_mask++;
    }
    if (c->n_mask == 0)
        return value_fail(at, "expected one or more regular expressions");
    return 0;
}

static int check_ca_readable(const struct cfg_at *at, const char *path)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return value_fail(at, "cannot read %s: %s", path, strerror(errno));
    fclose(fp);
    return 0;
}

static int parse_check_key(const struct cfg_at *at, struct asset *a, const char *name,
                           const char *value)
{
    struct asset_check *c = check_of(at, a);
    if (!c)
        return -1;
    if (strcmp(name, "check") == 0)
        return parse_check_urls(at, c, value);
    if (strcmp(name, "check_interval") == 0) {
        if (value_duration(at, value, 1000000, &c->interval_us) < 0)
            return -1;
        if (c->interval_us > 86400000000ull)
            return value_fail(at, "at most 1d between checks");
        return 0;
    }
    if (strcmp(name, "check_ca_file") == 0) {
        if (value_string(at, value, c->ca_file, sizeof(c->ca_file)) < 0)
            return -1;
        return check_ca_readable(at, c->ca_file);
    }
    if (strcmp(name, "check_expect_addresses") == 0)
        return value_netset(at, value, &c->expect);
    if (strcmp(name, "check_mask") == 0)
        return parse_check_masks(at, c, value);
    if (strcmp(name, "check_baseline") == 0)
        return parse_check_baselines(at, c, value);
    return 1; /* not a check key */
}

/* After the file: check_* keys need check =, baselines match the URLs. */
static int check_asset_checks(const char *path, const struct asset *a, struct cfg_err *err)
{
    const struct asset_check *c = a->check;
    if (!c)
        return 0;
    if (c->n_url == 0)
        return cfg_fail(err, path, c->line,
                        "asset [%s] has check_* keys but no 'check = URL' to apply them to",
                        a->name);
    if (c->n_baseline && c->n_baseline != c->n_url)
        return cfg_fail(err, path, c->baseline_line,
                        "check_baseline lists %zu digests for %zu URLs of check (one per URL, "
                        "'learn' for none)",
                        c->n_baseline, c->n_url);
    return 0;
}

static int assets_section(void *user, const char *section, const struct cfg_at *at)
{
    struct assets *out = user;
    for (size_t i = 0; i < out->n; i++)
        if (strcmp(out->v[i].name, section) == 0)
            return cfg_fail(at->err, at->file, at->line,
                            "asset [%s] is declared twice (first at line %d)", section,
                            out->v[i].line);
    struct asset *grown = realloc(out->v, (out->n + 1) * sizeof(*grown));
    if (!grown)
        return cfg_fail(at->err, at->file, at->line, "out of memory");
    out->v = grown;
    struct asset *a = &grown[out->n++];
    memset(a, 0, sizeof(*a));
    a->level = 1;
    a->file = at->file;
    a->line = at->line;
    if (strlen(section) >= sizeof(a->name))
        return cfg_fail(at->err, at->file, at->line, "asset name '%s' is too long", section);
    strcpy(a->name, section);
    return 0;
}

static int assets_key(void *user, const char *section, const char *value, const struct cfg_at *at)
{
    struct assets *out = user;
    struct asset *a = &out->v[out->n - 1];
    const char *name = at->key;
    uint64_t u;
    if (strcmp(name, "address") == 0)
        return value_netset(at, value, &a->addresses);
    if (strcmp(name, "name") == 0)
        return value_string(at, value, a->name, sizeof(a->name));
    if (strcmp(name, "owner") == 0)
        return value_string(at, value, a->owner, sizeof(a->owner));
    if (strcmp(name, "agency") == 0)
        return value_string(at, value, a->agency, sizeof(a->agency));
    if (strcmp(name, "level") == 0)
        return value_level(at, value, &a->level);
    if (strcmp(name, "national_critical") == 0)
        return value_bool(at, value, &a->national_critical);
    if (strcmp(name, "web_ports") == 0)
        return value_ports(at, value, a->web_ports, ASSET_MAX_PORTS, &a->n_web_ports);
    if (strcmp(name, "monitor") == 0)
        return parse_monitor_list(at, a, value);
    if (strncmp(name, "check", 5) == 0) {
        int rc = parse_check_key(at, a, name, value);
        if (rc <= 0)
            return rc;
    }
    if (strcmp(name, "capacity_mbps") == 0) {
        if (value_count(at, value, 0, UINT32_MAX, &u) < 0)
            return -1;
        a->capacity_mbps = (uint32_t)u;
        return 0;
    }
    return cfg_fail(at->err, at->file, at->line,
                    "unknown key '%s' in asset [%s] (expected address, name, owner, agency, "
                    "level, national_critical, web_ports, monitor, capacity_mbps, check, "
                    "check_interval, check_ca_file, "
                    "check_expect_addresses, check_mask, check_baseline)",
                    name, section);
}

int assets_load(const char *path, struct assets *out, struct cfg_err *err)
{
    static const struct ini_format format = {assets_section, assets_key};
    memset(out, 0, sizeof(*out));
    int rc = ini_load(path, &format, out, NULL, err);
    size_t prefixes = 0;
    for (size_t i = 0; rc == 0 && i < out->n; i++) {
        if (out->v[i].addresses.n == 0)
            rc = cfg_fail(err, path, out->v[i].line, "asset [%s] has no address", out->v[i].name);
        prefixes += out->v[i].addresses.n;
        if (rc == 0)
            rc = check_asset_checks(path, &out->v[i], err);
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

void assets_free(struct assets *a)
{
    for (size_t i = 0; i < a->n; i++) {
        netset_free(&a->v[i].addresses);
        if (a->v[i].check) {
            netset_free(&a->v[i].check->expect);
            free(a->v[i].check);
        }
    }
    free(a->v);
    prefix_index_free(&a->index);
    a->v = NULL;
    a->n = 0;
}
