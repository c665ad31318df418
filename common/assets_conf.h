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
#define ASSET_MAX_CHECK 16
#define ASSET_MAX_MASKS 8
#define ASSET_CHECK_URL_MAX 512
#define ASSET_CHECK_DEFAULT_INTERVAL_US 60000000ull

/* Active page checks of one asset (agent/check/, docs/configuration.md):
 * the check_* keys.  Allocated only for assets that have them. */
struct asset_check {
    char url[ASSET_MAX_CHECK][ASSET_CHECK_URL_MAX];
    size_t n_url;
    /* check_baseline: one per URL, in check's order ("learn" for none). */
    bool has_baseline[ASSET_MAX_CHECK];
    uint8_t baseline[ASSET_MAX_CHECK][32];
    size_t n_baseline;
    int baseline_line;
    uint64_t interval_us;
    char ca_file[256];    /* empty: the system store */
    struct netset expect; /* check_expect_addresses; n == 0: not checked */
    /* check_mask: POSIX extended regular expressions, validated at load. */
    char mask[ASSET_MAX_MASKS][256];
    size_t n_mask;
    int line; /* of the first check_* key */
};

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
    /* On the list of nationally important information systems (Decision
     * 05/2017/QĐ-TTg): serious whatever its level once it suffers a
     * listed consequence (architecture §6). */
    bool national_critical;
    struct netset addresses;
    uint16_t web_ports[ASSET_MAX_PORTS];
    size_t n_web_ports; /* 0: the default web ports */
    struct asset_monitor monitor[ASSET_MAX_MONITOR];
    size_t n_monitor;
    uint32_t capacity_mbps;    /* 0: unknown */
    struct asset_check *check; /* NULL: no active checks */
    const char *file;
    int line;
};

struct assets {
    struct asset *v;
    size_t n;
    struct prefix_index index; /* every asset's prefixes -> index in v */
};

int assets_load(const char *path, struct assets *out, struct cfg_err *err);
/* The asset whose address list contains a (most specific prefix wins).
 * Inline: asked for both addresses of every packet. */
static inline const struct asset *assets_lookup(const struct assets *a, const struct ipaddr *addr)
{
    int32_t i = prefix_index_lookup(&a->index, addr);
    return i >= 0 ? &a->v[i] : NULL;
}
void assets_free(struct assets *a);

#endif
