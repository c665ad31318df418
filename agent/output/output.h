/* output.h — where events go: JSON lines, Redis (with its spool).
 *
 * Outputs see only finished events and their JSON text; they never know
 * which detector spoke.  write() must not block the packet path: an output
 * that cannot deliver now queues or spools, and says so in its stats.
 */
#ifndef CANH_OUTPUT_H
#define CANH_OUTPUT_H

#include <jansson.h>
#include <stddef.h>

#include "common/config.h"
#include "common/event.h"

struct output {
    const char *name; /* "jsonl", "redis" */
    /* json is one line without the newline; ev is the same event. */
    int (*write)(struct output *o, const struct evt *ev, const char *json, size_t len);
    /* Write a heartbeat/stats record (event_type "stats"); may be NULL. */
    int (*write_stats)(struct output *o, const char *json, size_t len);
    int (*flush)(struct output *o);
    void (*stats)(struct output *o, json_t *out);
    void (*close)(struct output *o);
    /* Events accepted but not yet delivered that could still be delivered
     * if the loop ran a little longer (shutdown waits a bounded time for
     * this to reach 0); NULL: always 0. */
    size_t (*pending)(struct output *o);
    /* SIGHUP: let go of the file and open its path again, so a file
     * renamed by logrotate is left whole and a fresh one started; the
     * old file stays in use when the new one cannot be opened.  NULL:
     * nothing to reopen. */
    int (*reopen)(struct output *o);
};

/* "jsonl:PATH" or "jsonl:-" (stdout).  NULL with err set on failure. */
struct output *output_jsonl_open(const char *path, struct cfg_err *err);

#endif
