/* consume_internal.h — the reading side of one collector, shared by the
 * files that make it up (and included by nothing else):
 *
 * consume.c   the XREADGROUP loop, the tick, init/start/stop/free
 * apply.c     applying one entry: load, decide, guarded write, ack
 * discover.c  finding the agents' streams and creating the group on each
 * claim.c     XAUTOCLAIM of entries idle longer than claim_idle
 * housekeeping.c  closing quiet incidents, watching silent agents
 */
#ifndef CANH_COLLECTOR_CONSUME_INTERNAL_H
#define CANH_COLLECTOR_CONSUME_INTERNAL_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "collector/collector.h"
#include "collector/ingest.h"
#include "collector/process.h"

/* The reading state (collector.rd): only the files above use it. */
struct consume {
    /* Streams with the group in place, in XREADGROUP order. */
    char (*streams)[192];
    size_t n_streams, cap_streams;
    bool scanning;         /* discovery in flight */
    bool reading;          /* an XREADGROUP in flight */
    bool waiting_new;      /* an XREAD BLOCK waits for new entries (consume.c) */
    bool wake_refused;     /* Redis refused XREAD: poll at the tick this session */
    bool own_pending_done; /* this session re-read its own pending entries */
    /* While not done: the id after which the next page of each stream
     * (in streams order) starts, "0" at first (consume.c). */
    char (*own_from)[48];
    size_t n_own_from;
    size_t inflight; /* entries being applied */
    /* Jobs of this collector whose state is loaded or being written, and
     * jobs waiting because they touch the same keys as one of those (in
     * arrival order): two entries of one batch about the same incident
     * or source are applied one after the other, so a single collector
     * never conflicts with itself (apply.c). */
    struct job *active, *waiting;
    size_t groups_pending;
    bool sweeping, watching, claiming;
    struct event *tick; /* drives discovery, claims, sweeps, heartbeats */
    uint64_t next_discover_us, next_claim_us, next_sweep_us, next_silent_us;
    bool idle; /* the last read found nothing new: read again at the next tick */
    bool stopping;
    /* The state this collector last read or wrote (apply.c): the next
     * event of the same keys is decided from it without reading it back;
     * the write's guards catch anyone else's change in between. */
    struct known *known;
    /* Hashes of the keys this collector's events read or wrote (apply.c,
     * fixed size): a new finding whose keys are not among them is
     * presumed to touch nothing that exists and is written at once. */
    struct recent *recent;
};

/* ---- a command with a vector built on the fly ------------------------ */

struct argv_builder {
    const char *v[600];
    size_t len[600];
    int n;
    char nums[8][24];
    int n_nums;
};

/* Only the counts: zeroing the 10 KiB of slots showed in the profile of
 * every event (docs/performance.md); a slot is read once written. */
#define AB_EMPTY(b) ((b).n = 0, (b).n_nums = 0)

static inline void ab_add(struct argv_builder *b, const char *s)
{
    if (b->n < 600) {
        b->v[b->n] = s;
        b->len[b->n++] = strlen(s);
    }
}

static inline void ab_num(struct argv_builder *b, uint64_t value)
{
    if (b->n_nums == 8)
        return;
    char *buf = b->nums[b->n_nums++];
    snprintf(buf, 24, "%" PRIu64, value);
    ab_add(b, buf);
}

static inline int send_cmd(struct collector *c, unsigned which, redis_link_reply_fn fn, void *priv,
                           struct argv_builder *b)
{
    return redis_link_command(c->link, which, fn, priv, b->n, b->v, b->len);
}

/* ---- reading entries with their size checked in the server ------------ */

/* Lua: cap(entries, max_entry, max_heartbeat, head, heartbeat) replaces
 * the fields of every entry larger than its bound (the sum of its field
 * and value lengths) by {"canh_oversize", <bytes>, "head", <first bytes of
 * its first value>}, so an oversized entry never crosses the wire whole
 * (issue 19).  The read (consume.c) and the claim (claim.c) scripts call
 * it on what XREADGROUP / XAUTOCLAIM gave them. */
#define CONSUME_CAP_LUA                                                                            \
    "local function cap(entries, max_entry, max_hb, head, hb)\n"                                   \
    "  local max = hb and max_hb or max_entry\n"                                                   \
    "  for _, e in ipairs(entries) do\n"                                                           \
    "    local f = e[2]\n"                                                                         \
    "    if type(f) == 'table' then\n"                                                             \
    "      local n = 0\n"                                                                          \
    "      for i = 1, #f do n = n + #f[i] end\n"                                                   \
    "      if n > max then\n"                                                                      \
    "        e[2] = {'canh_oversize', tostring(n), 'head', string.sub(f[2] or '', 1, head)}\n"     \
    "      end\n"                                                                                  \
    "    end\n"                                                                                    \
    "  end\n"                                                                                      \
    "end\n"                                                                                        \
    "local function is_hb(key) return string.sub(key, 1, 16) == 'canh:heartbeats:' end\n"

/* Bytes of an oversized entry kept for its dead letter. */
#define CONSUME_OVERSIZE_HEAD 1024

/* ---- one entry (or one sweep/watch subject) being applied ------------ */

enum job_kind { JOB_EVENT, JOB_HEARTBEAT, JOB_DEADLETTER, JOB_CLOSE, JOB_SILENT };

struct job {
    struct collector *c;
    enum job_kind kind;
    bool counted; /* part of the read batch (inflight) */
    char stream[192];
    char entry_id[48];
    uint64_t entry_ms;
    char *raw;
    char reason[256];
    struct in_event ev;
    struct in_heartbeat hb;
    struct process_load ld;
    char src_key[160];
    char subject[INCIDENT_KEY_LEN]; /* incident id (close) or agent (silent) */
    uint64_t last_heartbeat_us;
    int attempts;
    uint64_t khash[LOAD_MAX + 1]; /* of ld.keys and src_key, for the key gate */
    size_t n_khash;
    bool active;        /* on consume.active */
    struct job *next;   /* in consume.active or consume.waiting */
    int planned_opened; /* what the write commits if it answers OK */
    int planned_escalated;
    int planned_updated;
    int planned_suppressed;
    bool linked_others;         /* the write sets back links on other incidents */
    bool presumed;              /* decided on empty state, unread (apply.c) */
    struct process_load *after; /* the state the write leaves (events) */
};

/* consume.c: read again when nothing is in flight. */
void consume_maybe_read(struct collector *c);

/* apply.c */
/* A job for c; counted jobs belong to the read batch (rd->inflight). */
struct job *consume_job_new(struct collector *c, enum job_kind kind, bool counted);
/* Load the state j touches, decide, write; frees j when done. */
void consume_job_load(struct job *j);
/* One stream entry: [id, [field, value, ...] or nil]. */
void consume_take_entry(struct collector *c, const char *stream, const redisReply *entry);
/* Whether a job of this collector already applies (or waits to apply)
 * entry id of stream: a claim must not queue it twice. */
bool consume_entry_in_flight(const struct collector *c, const char *stream, const char *id);

/* Forget everything known (apply.c); consume.c calls it when the link
 * drops, free on exit. */
void consume_known_clear(struct consume *rd);
void consume_known_free(struct consume *rd);

/* discover.c: SCAN (or the configured agents) and XGROUP CREATE. */
void consume_discover(struct collector *c);
/* claim.c: XAUTOCLAIM over every stream read. */
void consume_claim(struct collector *c);
/* housekeeping.c */
void consume_sweep(struct collector *c);            /* close quiet incidents */
void consume_watch_heartbeats(struct collector *c); /* fault.link for silent agents */

#endif
