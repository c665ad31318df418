/* assets_conf.h — assets.conf: one section per protected asset (architecture §7,
 * docs/configuration.md), and the lookup from an address to its asset.
 * Read through common/ini.h; mistakes are "file:line: message". */
#ifndef CANH_ASSETS_CONF_H
#define CANH_ASSETS_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "common/values.h"

#define ASSET_MAX_PORTS 16
#define ASSET_MAX_MONITOR 16

struct asset_monitor {
    char path[256];
    bool has_hash;
    uint8_t sha256[32]; /* declared baseline; otherwise learned */
};

struct asset {
    char name[64];
    char owner[128];
    char agency[128]; /* empty: the agent's agency */
    int level;        /* 1..5, Decree 85/2016 */
    struct netset addresses;
    uint16_t web_ports[ASSET_MAX_PORTS];
    size_t n_web_ports; /* 0: the default web ports */
    struct asset_monitor monitor[ASSET_MAX_MONITOR];
    size_t n_monitor;
    uint32_t capacity_mbps; /* 0: unknown */
    const char *file;
    int line;
};

struct assets {
    struct asset *v;
    size_t n;
    struct prefix_index index; /* every asset's prefixes -> index in v */
};

int assets_load(const char *path, struct assets *out, struct cfg_err *err);
/* The asset whose address list contains a (most specific prefix wins). */
const struct asset *assets_lookup(const struct assets *a, const struct ipaddr *addr);
void assets_free(struct assets *a);

#endif
