/* output_jsonl.c — one event per line to a file or stdout.
 *
 * Lines are written whole with stdio; the file is flushed at every flush()
 * call (the pipeline calls it at end of input and on the flush timer) so
 * `tail -f` shows findings promptly without a syscall per event.
 *
 * On SIGHUP (logrotate's postrotate) the pipeline calls reopen(): what is
 * buffered goes to the file as it was, renamed or not, and later lines to
 * a new file at the configured path, as Suricata's eve.json does. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/output/output.h"
#include "common/log.h"

struct jsonl_output {
    struct output base;
    FILE *fp;
    char *path; /* NULL: stdout */
    int is_stdout;
    unsigned long long lines;
    unsigned long long errors;
};

static int jsonl_line(struct jsonl_output *j, const char *json, size_t len)
{
    if (fwrite(json, 1, len, j->fp) != len || fputc('\n', j->fp) == EOF) {
        j->errors++;
        return -1;
    }
    j->lines++;
    return 0;
}

static int jsonl_write(struct output *o, const struct evt *ev, const char *json, size_t len)
{
    (void)ev;
    return jsonl_line((struct jsonl_output *)o, json, len);
}

static int jsonl_write_stats(struct output *o, const char *json, size_t len)
{
    return jsonl_line((struct jsonl_output *)o, json, len);
}

static int jsonl_flush(struct output *o)
{
    struct jsonl_output *j = (struct jsonl_output *)o;
    return fflush(j->fp) == 0 ? 0 : -1;
}

static void jsonl_stats(struct output *o, json_t *out)
{
    struct jsonl_output *j = (struct jsonl_output *)o;
    json_object_set_new(out, "jsonl_lines", json_integer((json_int_t)j->lines));
    json_object_set_new(out, "jsonl_errors", json_integer((json_int_t)j->errors));
}

static int jsonl_reopen(struct output *o)
{
    struct jsonl_output *j = (struct jsonl_output *)o;
    if (j->is_stdout)
        return 0;
    FILE *fresh = fopen(j->path, "a");
    if (!fresh) {
        log_err("jsonl: cannot reopen %s: %s; still writing to the file open before", j->path,
                strerror(errno));
        return -1;
    }
    if (fclose(j->fp) != 0) {
        j->errors++;
        log_err("jsonl: lines buffered for %s before the reopen were lost: %s", j->path,
                strerror(errno));
    }
    j->fp = fresh;
    return 0;
}

static void jsonl_close(struct output *o)
{
    struct jsonl_output *j = (struct jsonl_output *)o;
    fflush(j->fp);
    if (!j->is_stdout)
        fclose(j->fp);
    free(j->path);
    free(j);
}

struct output *output_jsonl_open(const char *path, struct cfg_err *err)
{
    struct jsonl_output *j = calloc(1, sizeof(*j));
    if (!j) {
        cfg_fail(err, path, 0, "out of memory");
        return NULL;
    }
    if (strcmp(path, "-") == 0) {
        j->fp = stdout;
        j->is_stdout = 1;
    } else {
        j->path = strdup(path);
        j->fp = j->path ? fopen(path, "a") : NULL;
        if (!j->fp) {
            cfg_fail(err, path, 0, "cannot open for appending: %s",
                     j->path ? strerror(errno) : "out of memory");
            free(j->path);
            free(j);
            return NULL;
        }
    }
    j->base.name = "jsonl";
    j->base.write = jsonl_write;
    j->base.write_stats = jsonl_write_stats;
    j->base.flush = jsonl_flush;
    j->base.stats = jsonl_stats;
    j->base.close = jsonl_close;
    j->base.reopen = jsonl_reopen;
    return &j->base;
}
