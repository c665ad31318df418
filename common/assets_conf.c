/* assets_conf.c — see assets_conf.h.  A [section] starts an asset; its keys
 * are parsed by common/values.c, except the monitor list, which is this
 * format's own. */
#include "common/assets_conf.h"

#include <ctype.h>
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
    if (strcmp(name, "web_ports") == 0)
        return value_ports(at, value, a->web_ports, ASSET_MAX_PORTS, &a->n_web_ports);
    if (strcmp(name, "monitor") == 0)
        return parse_monitor_list(at, a, value);
    if (strcmp(name, "capacity_mbps") == 0) {
        if (value_count(at, value, 0, UINT32_MAX, &u) < 0)
            return -1;
        a->capacity_mbps = (uint32_t)u;
        return 0;
    }
    return cfg_fail(at->err, at->file, at->line,
                    "unknown key '%s' in asset [%s] (expected address, name, owner, agency, "
                    "level, web_ports, monitor, capacity_mbps)",
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
