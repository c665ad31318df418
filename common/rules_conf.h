/* rules_conf.h — rules/NAME.rules: one section per rule (architecture §7,
 * docs/configuration.md, docs/rules-*.md).
 *
 * Rules are kept generic here — a section with a detector name, the common
 * keys every rule has, and the rest as key/value pairs with their lines.
 * Each detector reads its own keys through the typed rule_get_* getters,
 * which mark a key used; ruleset_check_unused() then reports any key no
 * detector asked for, so a typo never passes silently.  Files are read
 * through common/ini.h and values parsed by common/values.h, as every
 * other configuration file is.
 */
#ifndef CANH_RULES_CONF_H
#define CANH_RULES_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"
#include "common/taxonomy.h"
#include "common/values.h"

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

/* Typed getters (the value kinds of common/values.h).  A missing key
 * yields def and returns 0; a malformed one fills err with the key's
 * file:line and returns -1. */
int rule_get_duration(struct rule *r, const char *key, uint64_t def, uint64_t *out_us,
                      struct cfg_err *err);
int rule_get_rate(struct rule *r, const char *key, double def, double *out_per_s,
                  struct cfg_err *err);
int rule_get_count(struct rule *r, const char *key, uint64_t def, uint64_t min, uint64_t max,
                   uint64_t *out, struct cfg_err *err);
int rule_get_size(struct rule *r, const char *key, uint64_t def, uint64_t *out_bytes,
                  struct cfg_err *err);
/* A share from 0 to 1 ("0.8", "80%"). */
int rule_get_ratio(struct rule *r, const char *key, double def, double *out, struct cfg_err *err);
/* A factor of 0 or more ("4", "2.5"). */
int rule_get_multiple(struct rule *r, const char *key, double def, double *out,
                      struct cfg_err *err);
int rule_get_bool(struct rule *r, const char *key, bool def, bool *out, struct cfg_err *err);
/* The raw text (NULL when missing); marks the key used. */
const char *rule_get_string(struct rule *r, const char *key);
/* Where key was written (for detector-side validation messages). */
int rule_key_line(const struct rule *r, const char *key);

#endif
