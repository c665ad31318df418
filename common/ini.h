/* ini.h — the one INI reader of canh (architecture §2, §7): agent.conf,
 * assets.conf, rules/NAME.rules and collector.conf all go through it.
 *
 * libinih does the syntax; this layer adds what every format needs and
 * inih does not give: the line of every key and section header, values
 * continued on indented lines joined into one ("a,\n  b" reads "a, b"),
 * a key set twice in a section rejected, keys outside a section rejected,
 * over-long lines rejected rather than split, a directory refused (it
 * would read as an empty file), and first-error-wins
 * reporting as "file:line: message".  A format supplies two callbacks; each
 * returns 0, or -1 with at->err filled (value_* and cfg_fail do that).
 * After the first error no callback runs again.
 */
#ifndef CANH_INI_H
#define CANH_INI_H

#include <stdint.h>

#include "common/values.h"

struct ini_format {
    /* A section begins: at->line is its header's line, at->key its name.
     * Called once per header, before its first key; may be NULL. */
    int (*section)(void *user, const char *section, const struct cfg_at *at);
    /* One key with its whole value: at->key is the key, at->line its line. */
    int (*key)(void *user, const char *section, const char *value, const struct cfg_at *at);
};

/* Reads path with fmt.  digest, when not NULL, is updated with a hash of
 * the file's text (rule-set versions).  Returns 0 or -1 with err filled. */
int ini_load(const char *path, const struct ini_format *fmt, void *user, uint64_t *digest,
             struct cfg_err *err);

/* Messages the formats share; both return -1. */
int ini_unknown_key(const struct cfg_at *at, const char *section);
/* 0 when section is one of known, else "unknown section [x] (expected ...)". */
int ini_check_section(const struct cfg_at *at, const char *section, const char *const *known,
                      size_t n_known);

#endif
