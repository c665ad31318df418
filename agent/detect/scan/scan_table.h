/* scan_table.h — the fixed-size, seeded, evicting table the scan
 * detectors (portscan, sweep) keep their per-scanner state in, and the
 * admission doorkeeper in front of it.
 *
 * Set-associative: a key hashes (with the agent's secret seed) to one
 * bucket of SCAN_WAYS slots.  Each bucket has a tag line — one 64-byte
 * cache line holding, per way, a 14-bit tag of the hash, the open-finding
 * bit, the eviction score and a coarse last-packet time — kept apart from
 * the entry bodies, so a lookup or an insert reads that one line and then
 * at most the matching (or chosen) entry, instead of 8 entries on 8 lines.
 * A slot does not own a fixed entry: the first key that lands in a slot
 * takes the next entry never used (entry_of maps slot to entry), and the
 * slot keeps it for every later key (a lookup whose tag matches fetches
 * the bucket's entry_of line before its compare is done, so the index
 * does not add a third wait to the tag line's and the entry's).  Entries
 * are therefore written densely from the start of their array, and the
 * pages a table makes resident follow the number of slots ever used, not
 * how the hash spreads them (5,000 keys touch 5,000 entries' worth of
 * pages, not most pages of a table eight times larger).  Memory is taken
 * once at init: capacity x (entry_size + 12) bytes plus the doorkeeper,
 * whatever the traffic.
 *
 * Eviction policy, when a new key finds its bucket full:
 *   1. a free slot, or an idle one (no packet for idle_us and no open
 *      finding) — idle entries are dropped lazily, here;
 *   2. otherwise the least valuable live entry: one without an open
 *      finding before one with, then the lowest score (the detector's
 *      distinct ports or hosts so far), then the oldest last packet.
 *      So a million spoofed one-packet sources churn among themselves
 *      and a real scanner, whose score grows, keeps its slot;
 *   3. an entry with an open finding is given up only when the whole
 *      bucket has one; the detector's on_evict callback ends it first.
 * The coarse times of the tag line only decide when they can: when the
 * answer depends on the microseconds (an idle boundary, a tie), the
 * entry's exact last_us decides, so the policy is the same as with exact
 * times.
 * Emergency mode: when, in one tick, more than half of the new keys had
 * to evict a live entry, idle_us drops to emergency_idle_us until a tick
 * passes without such evictions.
 *
 * Doorkeeper: most keys an attacker can make up (spoofed sources, random
 * background) send one packet.  A key's first packet therefore only
 * writes a small detector-defined "pending" record into a set-associative
 * array of SCAN_PENDING_WAYS-record buckets, each with a tag line of the
 * records' hashes and coarse first times (scan_table_pending_*); the detector admits the key into
 * the table at its second packet and replays the pending record into the new entry, so counts are
 * the same as if the entry had existed from the first packet.  A pending record is lost when
 * another key's first packet needs its slot and it is the oldest of its bucket (counted as
 * pending_overwritten), or when it goes idle like an entry.  Eight ways,
 * not one or two: a few keys active at once on one small bucket would
 * overwrite each other forever and none would ever be admitted.
 *
 * Entries with an open finding are also on an intrusive list, so a tick
 * visits only them, not the whole table.
 */
#ifndef CANH_SCAN_TABLE_H
#define CANH_SCAN_TABLE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "agent/detect/finding.h"
#include "agent/detect/keyhash.h"

#define SCAN_WAYS 8
#define SCAN_KEY_LEN 32
#define SCAN_PENDING_WAYS 8
#define SCAN_NEW_ONE 65536u /* scan_table.new_share's unit: all keys new */

/* The head every entry starts with.  Detectors read it; they change
 * last_us and score only through scan_table_touch / scan_table_set_score,
 * which keep the tag line in step. */
struct scan_head {
    uint64_t hash;                 /* seeded hash of key; 0: slot free */
    uint64_t last_us;              /* latest packet that touched the entry */
    uint32_t score;                /* eviction value: distinct ports / hosts */
    uint32_t slot;                 /* own slot index */
    uint32_t open_prev, open_next; /* open-finding list: slot index + 1, 0 = none */
    uint32_t linked;               /* on the open-finding list */
    struct finding_life life;
    uint8_t key[SCAN_KEY_LEN];
};

/* The head every pending record starts with; the detector's own fields
 * follow.  hash 0: empty. */
struct scan_pending {
    uint64_t hash;
    uint64_t first_us; /* the key's first packet (also its last) */
};

/* Called before an entry with an open finding is evicted (end it). */
typedef void (*scan_evict_fn)(void *ctx, struct scan_head *e, uint64_t now_us);

struct scan_tags;         /* a bucket's tag line (scan_table.c) */
struct scan_pending_tags; /* a doorkeeper bucket's tag line */

struct scan_table {
    uint8_t *arena; /* tags, entry_of, pending_tags, pending (table_mem.h) */
    size_t arena_bytes;
    uint8_t *entries;   /* capacity entries, handed out in order (dense) */
    uint32_t *entry_of; /* per slot (bucket x SCAN_WAYS + way): its entry, once its tag is set */
    uint32_t n_entries; /* entries handed out: the only ones ever written */
    struct scan_tags *tags; /* one per bucket */
    size_t entry_size;
    uint32_t n_buckets; /* power of two */
    uint32_t capacity;  /* n_buckets * SCAN_WAYS */
    uint64_t seed;
    uint64_t key_seed[KEYHASH_SECRETS]; /* scan_table_hash's, drawn from seed */
    uint64_t zero_half; /* its step for a last half of zeros (scan_table_hash_src) */
    uint64_t idle_us, emergency_idle_us;
    uint64_t epoch_us; /* origin of the tag lines' coarse times */
    bool epoch_set;
    bool emergency;
    uint32_t open_first; /* slot index + 1 */
    uint32_t open_count;
    scan_evict_fn on_evict;
    void *evict_ctx;
    /* doorkeeper */
    uint8_t *pending;
    struct scan_pending_tags *pending_tags; /* one per SCAN_PENDING_WAYS records */
    size_t pending_size;                    /* bytes a record */
    uint32_t pending_cap;                   /* records, power of two, SCAN_PENDING_WAYS a bucket */
    uint32_t pending_mask;                  /* pending_cap / SCAN_PENDING_WAYS - 1 */
    /* The share of lately looked-up keys that had no entry, in units of
     * 1/SCAN_NEW_ONE (a moving average over about 16 lookups, kept by
     * scan_table_lookup): high under a flood of new keys. */
    uint32_t new_share;
    /* counters */
    uint64_t inserts, evictions, evictions_open, idle_reused, emergency_entered;
    uint64_t tick_inserts, tick_live_evictions;
    uint64_t pending_started, pending_overwritten, admitted;
};

/* capacity is rounded up to a power of two times SCAN_WAYS; pending_cap
 * (records of pending_size bytes, at least sizeof(struct scan_pending))
 * up to a power of two.  -1 on no memory. */
int scan_table_init(struct scan_table *t, uint32_t capacity, size_t entry_size,
                    uint32_t pending_cap, size_t pending_size, uint64_t seed,
                    scan_evict_fn on_evict, void *evict_ctx);
void scan_table_free(struct scan_table *t);
/* The hash of a key (for the caller's own sketches and as lookup input). */
uint64_t scan_table_hash(const struct scan_table *t, const uint8_t key[SCAN_KEY_LEN]);
/* scan_table_hash of a key whose last 16 bytes are zero (a source
 * address alone, sweep's key), from its first 16: the same value, with
 * the zero half's step taken once at init. */
static inline uint64_t scan_table_hash_src(const struct scan_table *t, const uint8_t src[16])
{
    uint64_t w[2];
    memcpy(w, src, sizeof(w));
    const uint64_t *s = t->key_seed;
    uint64_t h = keyhash_fold(keyhash_fold(w[0] ^ s[0], w[1] ^ s[1]) ^ s[4], t->zero_half);
    return h ? h : 1;
}
/* Ask the CPU for the lines a lookup of hash reads first: the table's tag
 * line and the doorkeeper's; and, while most keys lately were new (a
 * flood from random sources: new_share over a half), the doorkeeper
 * bucket's records, one of which a new key writes. */
void scan_table_prefetch(const struct scan_table *t, uint64_t hash);

/* The live entry of key, or NULL (idle entries count as gone). */
void *scan_table_find(struct scan_table *t, const uint8_t key[SCAN_KEY_LEN], uint64_t hash,
                      uint64_t now_us);
/* The entry of key, created when absent (head filled, body left as it
 * was: the caller resets what it uses); *created tells which.  Never
 * NULL: a full bucket evicts by the policy above. */
void *scan_table_get(struct scan_table *t, const uint8_t key[SCAN_KEY_LEN], uint64_t hash,
                     uint64_t now_us, bool *created);
/* A packet touched e at now (last_us only grows). */
void scan_table_touch(struct scan_table *t, struct scan_head *e, uint64_t now_us);
/* e's eviction value changed. */
void scan_table_set_score(struct scan_table *t, struct scan_head *e, uint32_t score);

/* Where scan_table_lookup found a key, or found nothing: the key's live
 * pending record, and what scan_table_pending_take needs to start one
 * without searching the doorkeeper bucket again. */
struct scan_look {
    struct scan_pending *pending; /* the key's record, not idle at now, or NULL */
    uint32_t pbucket;             /* the key's doorkeeper bucket */
    int pway;                     /* the way of the key's record (idle or not), or -1 */
    uint32_t pfree;               /* the bucket's free ways, as a bit mask */
};

/* A packet's lookup of key: its live entry (as scan_table_find), or NULL
 * with *lk said for the doorkeeper (as scan_table_pending_find).  One
 * call for the two searches a packet of a key not in the table makes. */
void *scan_table_lookup(struct scan_table *t, const uint8_t key[SCAN_KEY_LEN], uint64_t hash,
                        uint64_t now_us, struct scan_look *lk);
/* scan_table_pending_start after scan_table_lookup(hash) found no entry,
 * with nothing written to the doorkeeper since: the same record, chosen
 * from *lk.  Head filled; the detector's fields are left as they were
 * (the caller writes every one). */
void *scan_table_pending_take(struct scan_table *t, const struct scan_look *lk, uint64_t hash,
                              uint64_t now_us);

/* Doorkeeper.  hash's pending record, not idle at now, or NULL. */
void *scan_table_pending_find(struct scan_table *t, uint64_t hash, uint64_t now_us);
/* A record for hash, first packet at now, the rest zeroed: hash's own
 * (stale or restarted) record, a free or idle one, or else the older of
 * its bucket's, counted as overwritten. */
void *scan_table_pending_start(struct scan_table *t, uint64_t hash, uint64_t now_us);
/* p's key was admitted into the table: free the record. */
void scan_table_pending_admit(struct scan_table *t, struct scan_pending *p);
/* Visit every live pending record (reload); not for the packet path. */
void scan_table_pending_foreach(struct scan_table *t, uint64_t now_us,
                                void (*fn)(void *ctx, struct scan_pending *p), void *ctx);

/* Open-finding list. */
void scan_table_open_link(struct scan_table *t, struct scan_head *e);
void scan_table_open_unlink(struct scan_table *t, struct scan_head *e);
/* Iterate: first, then next(e), until NULL.  Unlinking e inside the loop
 * is allowed when next was taken before. */
struct scan_head *scan_table_open_first(struct scan_table *t);
struct scan_head *scan_table_open_next(struct scan_table *t, const struct scan_head *e);
/* Once a tick: update emergency mode. */
void scan_table_tick(struct scan_table *t, uint64_t now_us);
/* Visit every live entry (reload, stats); not for the packet path. */
void scan_table_foreach(struct scan_table *t, uint64_t now_us,
                        void (*fn)(void *ctx, struct scan_head *e), void *ctx);
/* Counters and fill into out ("table_capacity", "table_live", ...). */
void scan_table_stats(struct scan_table *t, uint64_t now_us, json_t *out);

#endif
