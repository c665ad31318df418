/* rules_conf.c — see rules_conf.h.  A [section] starts a rule; the keys
 * every rule has are parsed as they are read, the rest are kept as text
 * for the detector's typed getters. */
#include "common/rules_conf.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ini.h"

struct rules_parse {
    struct ruleset *rs;
};

static int rule_new(void *user, const char *section, const struct cfg_at *at)
{
    struct rules_parse *rp = user;
    for (size_t i = 0; i < rp->rs->n; i++)
        if (strcmp(rp->rs->v[i].name, section) == 0)
            return cfg_fail(at->err, at->file, at->line, "rule [%s] is already defined at %s:%d",
                            section, rp->rs->v[i].file, rp->rs->v[i].line);
    struct rule *grown = realloc(rp->rs->v, (rp->rs->n + 1) * sizeof(*grown));
    if (!grown)
        return cfg_fail(at->err, at->file, at->line, "out of memory");
    rp->rs->v = grown;
    struct rule *r = &grown[rp->rs->n++];
    memset(r, 0, sizeof(*r));
    r->name = strdup(section);
    r->file = strdup(at->file);
    const char *base = strrchr(at->file, '/');
    base = base ? base + 1 : at->file;
    size_t reflen = strlen(base) + strlen(section) + 2;
    r->ref = malloc(reflen);
    if (r->ref)
        snprintf(r->ref, reflen, "%s:%s", base, section);
    r->line = at->line;
    r->enabled = true;
    r->severity = SEV_MEDIUM;
    r->update_interval_us = 60ull * 1000000;
    r->hold_down_us = 120ull * 1000000;
    if (!r->name || !r->file || !r->ref)
        return cfg_fail(at->err, at->file, at->line, "out of memory");
    return 0;
}

/* 1 when name is not one of the keys every rule has. */
static int rule_common_key(struct rule *r, const char *value, const struct cfg_at *at)
{
    const char *name = at->key;
    if (strcmp(name, "detector") == 0) {
        r->detector = strdup(value);
        r->detector_line = at->line;
        return r->detector ? 0 : value_fail(at, "out of memory");
    }
    if (strcmp(name, "enabled") == 0)
        return value_bool(at, value, &r->enabled);
    if (strcmp(name, "taxonomy") == 0) {
        r->taxonomy = taxonomy_find(value);
        if (!r->taxonomy)
            return value_fail(at,
                              "unknown code '%s' (the codes are listed in "
                              "docs/configuration.md, Rule files)",
                              value);
        return 0;
    }
    if (strcmp(name, "severity") == 0)
        return value_severity(at, value, &r->severity);
    if (strcmp(name, "allow") == 0)
        return value_netset(at, value, &r->allow);
    if (strcmp(name, "update_interval") == 0)
        return value_duration(at, value, 1, &r->update_interval_us);
    if (strcmp(name, "hold_down") == 0)
        return value_duration(at, value, 1, &r->hold_down_us);
    return 1;
}

static int rule_key(void *user, const char *section, const char *value, const struct cfg_at *at)
{
    struct rules_parse *rp = user;
    struct rule *r = &rp->rs->v[rp->rs->n - 1];
    int common = rule_common_key(r, value, at);
    if (common <= 0)
        return common;
    struct rule_kv *grown = realloc(r->kv, (r->n_kv + 1) * sizeof(*grown));
    if (!grown)
        return value_fail(at, "out of memory");
    r->kv = grown;
    struct rule_kv *kv = &grown[r->n_kv++];
    kv->key = strdup(at->key);
    kv->value = strdup(value);
    kv->line = at->line;
    kv->used = false;
    if (!kv->key || !kv->value)
        return value_fail(at, "out of memory");
    return 0;
}

int ruleset_load_file(const char *path, struct ruleset *rs, struct cfg_err *err)
{
    static const struct ini_format format = {rule_new, rule_key};
    struct rules_parse rp = {.rs = rs};
    size_t first = rs->n; /* rules of this file start here */
    if (ini_load(path, &format, &rp, &rs->digest, err) < 0)
        return -1;
    snprintf(rs->version, sizeof(rs->version), "%016llx", (unsigned long long)rs->digest);
    for (size_t i = first; i < rs->n; i++) {
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
            return cfg_fail(err, r->file, r->detector_line,
                            "rule [%s]: unknown detector '%s' (known: %s)", r->name, r->detector,
                            list);
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

/* The key's entry, marked used, with where it was written; NULL if absent. */
static struct rule_kv *rule_kv_find(struct rule *r, const char *key, struct cfg_err *err,
                                    struct cfg_at *at)
{
    for (size_t i = 0; i < r->n_kv; i++) {
        if (strcmp(r->kv[i].key, key) == 0) {
            r->kv[i].used = true;
            *at = (struct cfg_at){err, r->file, r->kv[i].line, key};
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
    struct cfg_at at;
    struct rule_kv *kv = rule_kv_find(r, key, NULL, &at);
    return kv ? kv->value : NULL;
}

int rule_get_duration(struct rule *r, const char *key, uint64_t def, uint64_t *out_us,
                      struct cfg_err *err)
{
    struct cfg_at at;
    struct rule_kv *kv = rule_kv_find(r, key, err, &at);
    *out_us = def;
    return kv ? value_duration(&at, kv->value, 0, out_us) : 0;
}

int rule_get_rate(struct rule *r, const char *key, double def, double *out_per_s,
                  struct cfg_err *err)
{
    struct cfg_at at;
    struct rule_kv *kv = rule_kv_find(r, key, err, &at);
    *out_per_s = def;
    return kv ? value_rate(&at, kv->value, out_per_s) : 0;
}

int rule_get_count(struct rule *r, const char *key, uint64_t def, uint64_t min, uint64_t max,
                   uint64_t *out, struct cfg_err *err)
{
    struct cfg_at at;
    struct rule_kv *kv = rule_kv_find(r, key, err, &at);
    *out = def;
    return kv ? value_count(&at, kv->value, min, max, out) : 0;
}

int rule_get_size(struct rule *r, const char *key, uint64_t def, uint64_t *out_bytes,
                  struct cfg_err *err)
{
    struct cfg_at at;
    struct rule_kv *kv = rule_kv_find(r, key, err, &at);
    *out_bytes = def;
    return kv ? value_size(&at, kv->value, out_bytes) : 0;
}

int rule_get_ratio(struct rule *r, const char *key, double def, double *out, struct cfg_err *err)
{
    struct cfg_at at;
    struct rule_kv *kv = rule_kv_find(r, key, err, &at);
    *out = def;
    return kv ? value_ratio(&at, kv->value, out) : 0;
}

int rule_get_multiple(struct rule *r, const char *key, double def, double *out, struct cfg_err *err)
{
    struct cfg_at at;
    struct rule_kv *kv = rule_kv_find(r, key, err, &at);
    *out = def;
    return kv ? value_multiple(&at, kv->value, out) : 0;
}

int rule_get_bool(struct rule *r, const char *key, bool def, bool *out, struct cfg_err *err)
{
    struct cfg_at at;
    struct rule_kv *kv = rule_kv_find(r, key, err, &at);
    *out = def;
    return kv ? value_bool(&at, kv->value, out) : 0;
}
