/* config.h — agent.conf, assets.conf and rules/NAME.rules (DESIGN §7).
 *
 * All three are INI files read with libinih.  Every mistake is reported as
 * "file:line: message" in a struct cfg_err and the loader returns -1; the
 * caller prints it and exits 2 (or, on SIGHUP, keeps the old set).
 *
 * Rules are kept generic here — a section with a detector name, the common
 * keys every rule has, and the rest as key/value pairs with their lines.
 * Each detector reads its own keys through the typed rule_get_* getters,
 * which mark a key used; ruleset_check_unused() then reports any key no
 * detector asked for, so a typo never passes silently.
 */
#ifndef CANH_CONFIG_H
#define CANH_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "common/taxonomy.h"

struct cfg_err {
    char msg[768];
};

/* Formats "file:line: message" (line 0: "file: message"); returns -1. */
int cfg_fail(struct cfg_err *err, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

enum severity { SEV_NONE = 0, SEV_LOW = 1, SEV_MEDIUM = 2, SEV_HIGH = 3, SEV_CRITICAL = 4 };
const char *severity_name(enum severity s);
int severity_parse(const char *text, enum severity *out);

/* ---- agent.conf ------------------------------------------------------- */

struct agent_config {
    const char *path; /* NULL: built-in defaults */
    /* [agent] */
    char name[64];
    char agency[128];
    char state_dir[256];
    char rules_dir[256];
    char local_rules_dir[256]; /* overrides and additions, kept on upgrade */
    char assets_file[256];
    char run_as_user[64];
    struct netset home_net; /* empty: every address is "ours" */
    int serious_level;      /* asset level from which impact is serious */
    int log_level;          /* enum log_level */
    /* [capture] */
    char interface[64];
    uint32_t snaplen;
    uint32_t buffer_mb;
    char filter[1024];
    uint64_t drop_alert_ratio_ppm; /* capture_drops when drops/packets above */
    uint64_t link_silent_us;       /* link_silent after this long without packets */
    /* [output] */
    char redis_url[256];
    char stream[128]; /* default canh:events:<name> */
    char heartbeat_stream[128];
    uint64_t maxlen;
    char redis_user[64];
    char password_file[256];
    uint64_t spool_max_bytes;
    uint64_t heartbeat_interval_us;
    uint64_t redis_timeout_us;
    /* [geoip] */
    char mmdb[256];
};

void agent_config_defaults(struct agent_config *c);
int agent_config_load(const char *path, struct agent_config *c, struct cfg_err *err);
void agent_config_free(struct agent_config *c);

/* ---- assets.conf ------------------------------------------------------ */

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

/* ---- rules/NAME.rules ---------------------------------------------------- */

struct rule_kv {
    char *key;
    char *value;
    int line;
    bool used;
};

struct rule {
    char *name;     /* section name */
    char *file;     /* path it came from */
    char *ref;      /* "scan.rules:portscan" for events */
    int line;       /* line of the section header */
    char *detector; /* "portscan" */
    int detector_line;
    bool enabled;
    const struct taxonomy *taxonomy;
    enum severity severity;
    struct netset allow; /* sources counted, not alerted */
    uint64_t update_interval_us;
    uint64_t hold_down_us;
    struct rule_kv *kv; /* detector-specific keys */
    size_t n_kv;
};

struct ruleset {
    struct rule *v;
    size_t n;
    uint64_t digest;  /* of the files' text, in load order */
    char version[17]; /* digest in hex, for heartbeats */
};

/* Load one file, or every *.rules file of a directory in name order. */
int ruleset_load_file(const char *path, struct ruleset *rs, struct cfg_err *err);
int ruleset_load_dir(const char *dir, struct ruleset *rs, struct cfg_err *err);
/* Local rules over shipped ones: every *.rules of dir is loaded; a rule
 * whose name exists already replaces it, others are added.  A missing dir
 * is not an error (there are no local rules). */
int ruleset_overlay_dir(const char *dir, struct ruleset *rs, struct cfg_err *err);
/* The n-th rule (from 0) for a detector, or NULL past the last. */
struct rule *ruleset_next(struct ruleset *rs, const char *detector, size_t *cursor);
struct rule *ruleset_find(struct ruleset *rs, const char *detector, const char *name);
/* Every rule must name a known detector; every key must have been read. */
int ruleset_check_detectors(const struct ruleset *rs, const char *const *known, size_t n_known,
                            struct cfg_err *err);
int ruleset_check_unused(const struct ruleset *rs, struct cfg_err *err);
void ruleset_free(struct ruleset *rs);

/* Typed getters.  A missing key yields def and returns 0; a malformed one
 * fills err with the key's file:line and returns -1. */
int rule_get_duration(struct rule *r, const char *key, uint64_t def, uint64_t *out_us,
                      struct cfg_err *err);
int rule_get_rate(struct rule *r, const char *key, double def, double *out_per_s,
                  struct cfg_err *err);
int rule_get_count(struct rule *r, const char *key, uint64_t def, uint64_t min, uint64_t max,
                   uint64_t *out, struct cfg_err *err);
int rule_get_size(struct rule *r, const char *key, uint64_t def, uint64_t *out_bytes,
                  struct cfg_err *err);
int rule_get_ratio(struct rule *r, const char *key, double def, double *out, struct cfg_err *err);
int rule_get_bool(struct rule *r, const char *key, bool def, bool *out, struct cfg_err *err);
/* The raw text (NULL when missing); marks the key used. */
const char *rule_get_string(struct rule *r, const char *key);
/* Where key was written (for detector-side validation messages). */
int rule_key_line(const struct rule *r, const char *key);

#endif
