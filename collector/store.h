/* store.h — the collector's Redis keys and its two atomic scripts.
 *
 * Exactly-once effects rest on one rule: everything an event changes —
 * incident hashes, the key index, correlation state, the canh:incidents
 * entry, queued escalations, the dedup marker and the XACK — is written by
 * one Lua script (store_apply_lua), which Redis runs atomically.  The
 * collector reads what it needs first (store_load_lua), decides in C, and
 * sends the writes with guards: (hash, field, expected value) triples the
 * script checks before writing anything.  If another collector changed one
 * of them in between, the script writes nothing and answers CONFLICT, and
 * the collector reads again.  If the dedup marker of the event exists, it
 * only acknowledges and answers DUP.  A collector killed at any point has
 * either applied all of an event or none of it; an unacknowledged entry is
 * claimed again later and its second application is a DUP.
 */
#ifndef CANH_COLLECTOR_STORE_H
#define CANH_COLLECTOR_STORE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/redis/link.h"

#define STORE_GROUP "canh-collectors"
#define STORE_IKEYS "canh:ikeys"                     /* hash: incident key → open id */
#define STORE_INCIDENT_PREFIX "canh:incident:"       /* hash per incident */
#define STORE_INCIDENTS "canh:incidents"             /* stream: opened/escalated/closed */
#define STORE_OPEN "canh:open"                       /* zset: open id by last update (ms) */
#define STORE_ESCALATIONS "canh:escalations"         /* zset: job id by next attempt (ms) */
#define STORE_ESCALATION_PREFIX "canh:escalation:"   /* hash per job */
#define STORE_RATELIMIT_PREFIX "canh:ratelimit:"     /* hash per sink: token bucket */
#define STORE_DEADLETTER "canh:deadletter"           /* stream */
#define STORE_AGENTS "canh:agents"                   /* hash: agent → last heartbeat */
#define STORE_AGENT_SEEN "canh:agent_seen"           /* zset: agent by last heartbeat (ms) */
#define STORE_SRC_PREFIX "canh:src:"                 /* hash per source: correlation */
#define STORE_SEEN_PREFIX "canh:seen:"               /* string per processed event id */
#define STORE_LOG_PREFIX "canh:log:"                 /* stream per incident: its log */
#define STORE_SUPPRESSIONS "canh:suppressions"       /* hash: kind|source|target → until */
#define STORE_FALSE_POSITIVES "canh:false_positives" /* hash: rejected:/suppressed:<kind> */
#define STORE_REPORT_QUEUE "canh:report_queue" /* zset: <id>/<kind> to draft, by asking (ms) */
#define STORE_REPORTS "canh:reports"           /* zset: <id>/<kind> drafted, unsent, by due (ms) */

/* The strings live in chunks of at least 4 KiB that the vector owns (one
 * malloc per chunk, not per string: a write has hundreds of them). */
struct strvec_chunk;
struct strvec {
    char **v;
    size_t *len;
    size_t n, cap;
    struct strvec_chunk *chunks; /* the newest first */
};

/* Copies s to the end of sv; 0 or -1 (no memory). */
int strvec_push_str(struct strvec *sv, const char *s);
void strvec_clear(struct strvec *sv);

struct store_ops {
    char seen_key[160];
    uint64_t seen_ttl_s;
    char ack_stream[192];
    char ack_id[48];
    struct strvec guards;     /* key, field, expected ... */
    struct strvec ops;        /* opcode, nargs, args ... */
    size_t op_nargs_at;       /* slot of the open op's nargs */
    struct strvec keys, args; /* the EVALSHA vector (store_apply_argv) */
    char nkeys_text[24];
    int oom;
};

void store_ops_init(struct store_ops *o);
void store_ops_free(struct store_ops *o);

/* Skip everything if the key exists; else set it with a TTL at the end. */
void store_seen(struct store_ops *o, const char *key, uint64_t ttl_s);
/* XACK stream canh-collectors id, also on DUP. */
void store_ack(struct store_ops *o, const char *stream, const char *id);
/* HGET key field must equal expected ("" = missing). */
void store_guard(struct store_ops *o, const char *key, const char *field, const char *expected);
/* One Redis command (HSET, ZADD, XADD, ...), or HDELEQ key field value
 * (delete the field only while it holds value). */
void store_begin(struct store_ops *o, const char *op);
void store_arg(struct store_ops *o, const char *s);
void store_argf(struct store_ops *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void store_end(struct store_ops *o);
/* A whole command of string arguments, NULL-terminated. */
void store_cmd(struct store_ops *o, const char *op, ...) __attribute__((sentinel));

/* Moves the guards and commands of src to the end of o's (src is left
 * empty): lets a plan decide a later write before an earlier one. */
void store_ops_append(struct store_ops *o, struct store_ops *src);

/* The EVAL vector of store_apply_lua: EVAL, the body, numkeys, KEYS (every
 * key a guard or command touches, each once), ARGV (keys named by their
 * index); pointers stay owned by o.  store_eval(&store_apply_script, ...)
 * takes it from numkeys on.  -1 on no memory. */
int store_apply_argv(struct store_ops *o, const char ***argv, size_t **lens, size_t *argc);

/* Replies of store_apply_lua. */
enum store_result { STORE_OK, STORE_DUP, STORE_CONFLICT, STORE_ERROR };
enum store_result store_result_parse(const char *text, size_t len);

extern const char store_apply_lua[];
/* The state one entry's decision rests on, once canh:ikeys told the
 * incident ids (HMGET, apply.c).  KEYS: the dedup marker (when ARGV[1] is
 * 1), the source hash (ARGV[2] 1), the hash of each incident whose id is
 * not "", one more hash (ARGV[4+n] 1).  ARGV: has seen, has source, n, n
 * ids ("" none), has extra, its field.  Returns {seen 0/1, source hash
 * pairs, {id, hash pairs} × n[, extra value]}. */
extern const char store_load_lua[];
/* Escalation jobs due now; see escalate.c. */
extern const char store_claim_lua[];

/* ---- scripts registered once ----------------------------------------
 * A script is sent by its SHA1 (EVALSHA); Redis keeps it after the first
 * EVAL.  When Redis answers NOSCRIPT (restarted, failed over, SCRIPT
 * FLUSH) the same call is sent again as EVAL with the body, which
 * registers it again, and the caller sees only the final answer. */
struct store_script {
    const char *body;
    char sha[41]; /* computed on first use */
};
#define STORE_SCRIPT(body)                                                                         \
    {                                                                                              \
        (body), ""                                                                                 \
    }

extern struct store_script store_apply_script, store_load_script;

/* EVALSHA (EVAL after NOSCRIPT) of s on connection conn of l; argv is
 * numkeys, keys, args (copied).  -1 when the link is not up (fn is then
 * not called). */
int store_eval(struct redis_link *l, unsigned conn, struct store_script *s, redis_link_reply_fn fn,
               void *priv, int argc, const char **argv, const size_t *lens);

#endif
