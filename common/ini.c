/* ini.c — see ini.h.  inih's handler is told neither the line nor whether
 * a value is continued, so a counting reader feeds it and keeps both; the
 * key being read is held until the next line shows it is complete. */
#include "common/ini.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/hash.h"

struct ini_seen {
    char *section;
    char *key;
    uint64_t hash; /* of section and key */
    int line;
};

struct ini_run {
    FILE *fp;
    const char *path;
    int line;          /* line most recently handed to inih */
    int section_line;  /* line of the most recent [section] header */
    bool line_start;   /* the next fgets begins a new line */
    bool continuation; /* the current line began with white space */
    uint64_t digest;
    const struct ini_format *fmt;
    void *user;
    struct cfg_err *err;
    int fail_line; /* 0 until the first error */
    int reported_section_line;
    /* the key being read, complete when a line that does not continue it
     * arrives */
    char *section;
    char *key;
    char *value;
    int key_line;
    int key_section_line;
    /* the keys read so far, and an open-addressed index of them (index + 1,
     * 0 empty; at most half full) to find a key set twice */
    struct ini_seen *seen;
    size_t n_seen, cap_seen;
    uint32_t *slots;
    size_t n_slots;
};

static void run_fail(struct ini_run *r, int line)
{
    r->fail_line = line > 0 ? line : 1;
}

static char *run_read(char *str, int num, void *stream)
{
    struct ini_run *r = stream;
    if (r->fail_line || !fgets(str, num, r->fp))
        return NULL;
    size_t n = strlen(str);
    bool was_start = r->line_start;
    r->line_start = n > 0 && str[n - 1] == '\n';
    if (was_start) {
        r->line++;
        r->continuation = str[0] == ' ' || str[0] == '\t';
        const char *p = str;
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '[')
            r->section_line = r->line;
    }
    r->digest = hash_bytes(str, n, r->digest);
    if (!r->line_start && n == (size_t)num - 1) {
        int ch = getc(r->fp);
        if (ch == '\n') {
            r->line_start = true; /* the line just fits */
        } else if (ch != EOF) {
            /* inih would read the rest as a line of its own */
            cfg_fail(r->err, r->path, r->line, "line longer than %d characters", num - 1);
            run_fail(r, r->line);
            return NULL;
        }
    }
    return str;
}

static void pending_clear(struct ini_run *r)
{
    free(r->section);
    free(r->key);
    free(r->value);
    r->section = r->key = r->value = NULL;
}

static uint64_t seen_hash(const char *section, const char *key)
{
    size_t ls = strlen(section);
    /* the section's own hash seeds the key's: "a" "bc" and "ab" "c" differ */
    return hash_bytes(key, strlen(key), hash_bytes(section, ls, ls));
}

/* Re-index every key into n slots (a power of two). */
static int seen_reindex(struct ini_run *r, size_t n)
{
    uint32_t *slots = calloc(n, sizeof(*slots));
    if (!slots)
        return -1;
    for (size_t i = 0; i < r->n_seen; i++) {
        size_t j = r->seen[i].hash & (n - 1);
        while (slots[j])
            j = (j + 1) & (n - 1);
        slots[j] = (uint32_t)(i + 1);
    }
    free(r->slots);
    r->slots = slots;
    r->n_slots = n;
    return 0;
}

static int check_twice(struct ini_run *r)
{
    uint64_t h = seen_hash(r->section, r->key);
    size_t j = r->n_slots ? h & (r->n_slots - 1) : 0;
    for (; r->n_slots && r->slots[j]; j = (j + 1) & (r->n_slots - 1)) {
        const struct ini_seen *s = &r->seen[r->slots[j] - 1];
        if (s->hash == h && strcmp(s->section, r->section) == 0 && strcmp(s->key, r->key) == 0)
            return cfg_fail(r->err, r->path, r->key_line,
                            "key '%s' is set twice in [%s] (first at line %d)", r->key, r->section,
                            s->line);
    }
    if (r->n_seen == r->cap_seen) {
        size_t cap = r->cap_seen ? 2 * r->cap_seen : 64;
        struct ini_seen *grown = realloc(r->seen, cap * sizeof(*grown));
        if (!grown)
            return cfg_fail(r->err, r->path, r->key_line, "out of memory");
        r->seen = grown;
        r->cap_seen = cap;
    }
    struct ini_seen *s = &r->seen[r->n_seen];
    s->section = strdup(r->section);
    s->key = strdup(r->key);
    s->hash = h;
    s->line = r->key_line;
    r->n_seen++;
    if (!s->section || !s->key)
        return cfg_fail(r->err, r->path, r->key_line, "out of memory");
    if (2 * r->n_seen > r->n_slots) { /* the new key is indexed with the rest */
        if (seen_reindex(r, r->n_slots ? 2 * r->n_slots : 128) < 0)
            return cfg_fail(r->err, r->path, r->key_line, "out of memory");
    } else {
        r->slots[j] = (uint32_t)r->n_seen;
    }
    return 0;
}

/* Hands the completed key (and its section, if new) to the format. */
static void pending_flush(struct ini_run *r)
{
    if (!r->key || r->fail_line) {
        pending_clear(r);
        return;
    }
    struct cfg_at at = {r->err, r->path, r->key_section_line, r->section};
    if (!*r->section) {
        cfg_fail(r->err, r->path, r->key_line,
                 "key '%s' is outside any [section]; put it under one", r->key);
        run_fail(r, r->key_line);
    } else if (r->key_section_line != r->reported_section_line) {
        r->reported_section_line = r->key_section_line;
        if (r->fmt->section && r->fmt->section(r->user, r->section, &at) < 0)
            run_fail(r, at.line);
    }
    if (!r->fail_line && check_twice(r) < 0)
        run_fail(r, r->key_line);
    at.line = r->key_line;
    at.key = r->key;
    if (!r->fail_line && r->fmt->key(r->user, r->section, r->value, &at) < 0)
        run_fail(r, r->key_line);
    pending_clear(r);
}

static int run_pair(void *user, const char *section, const char *name, const char *value)
{
    struct ini_run *r = user;
    if (r->fail_line)
        return 1;
    if (r->continuation && r->key && strcmp(r->key, name) == 0 &&
        strcmp(r->section, section) == 0) {
        size_t n = strlen(r->value) + strlen(value) + 3;
        char *joined = malloc(n);
        if (!joined) {
            cfg_fail(r->err, r->path, r->line, "out of memory");
            run_fail(r, r->line);
            return 1;
        }
        snprintf(joined, n, "%s, %s", r->value, value);
        free(r->value);
        r->value = joined;
        return 1;
    }
    pending_flush(r);
    if (r->fail_line)
        return 1;
    r->section = strdup(section);
    r->key = strdup(name);
    r->value = strdup(value);
    r->key_line = r->line;
    r->key_section_line = r->section_line;
    if (!r->section || !r->key || !r->value) {
        pending_clear(r);
        cfg_fail(r->err, r->path, r->line, "out of memory");
        run_fail(r, r->line);
    }
    return 1; /* errors are ours to report: inih's count only syntax */
}

int ini_load(const char *path, const struct ini_format *fmt, void *user, uint64_t *digest,
             struct cfg_err *err)
{
    struct ini_run r = {.path = path, .line_start = true, .fmt = fmt, .user = user, .err = err};
    r.reported_section_line = -1;
    r.digest = digest ? *digest : 0;
    r.fp = fopen(path, "r");
    if (!r.fp)
        return cfg_fail(err, path, 0, "cannot open: %s", strerror(errno));
    /* fopen takes a directory and fgets then reads nothing from it: the
     * file would pass as empty and every key keep its default. */
    struct stat st;
    if (fstat(fileno(r.fp), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(r.fp);
        return cfg_fail(err, path, 0, "is a directory; give the path of the file itself");
    }
    int rc = ini_parse_stream(run_read, &r, run_pair, &r);
    pending_flush(&r);
    fclose(r.fp);
    for (size_t i = 0; i < r.n_seen; i++) {
        free(r.seen[i].section);
        free(r.seen[i].key);
    }
    free(r.seen);
    free(r.slots);
    /* inih counts lines as we do; a syntax error above the first value
     * error is the first error. */
    if (rc > 0 && (!r.fail_line || rc < r.fail_line))
        return cfg_fail(err, path, rc, "syntax error (expected [section] or key = value)");
    if (r.fail_line)
        return -1;
    if (rc < 0)
        return cfg_fail(err, path, 0, "cannot parse (out of memory)");
    if (digest)
        *digest = r.digest;
    return 0;
}

int ini_unknown_key(const struct cfg_at *at, const char *section)
{
    return cfg_fail(at->err, at->file, at->line, "unknown key '%s' in [%s]", at->key, section);
}

int ini_check_section(const struct cfg_at *at, const char *section, const char *const *known,
                      size_t n_known)
{
    char list[256] = "";
    for (size_t i = 0; i < n_known; i++) {
        if (strcmp(section, known[i]) == 0)
            return 0;
        const char *sep = i == 0 ? "" : i + 1 == n_known ? " or " : ", ";
        size_t used = strlen(list);
        snprintf(list + used, sizeof(list) - used, "%s%s", sep, known[i]);
    }
    return cfg_fail(at->err, at->file, at->line, "unknown section [%s] (expected %s)", section,
                    list);
}
