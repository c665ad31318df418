/* scan_table.h — the fixed-size, seeded, evicting table the scan
 * detectors (portscan, sweep) keep their per-scanner state in.
 *
 * Set-associative: a key hashes (with the agent's secret seed) to one
 * bucket of SCAN_WAYS slots, so a lookup touches at most SCAN_WAYS entries
 * and never allocates.  Memory is taken once at init: capacity x
 * entry_size bytes, whatever the traffic.
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
 * Emergency mode: when, in one tick, more than half of the new keys had
 * to evict a live entry, idle_us drops to emergency_idle_us until a tick
 * passes without such evictions.
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

#include "agent/finding.h"

#define SCAN_WAYS 8
#define SCAN_KEY_LEN 32

/* The head every entry starts with. */
struct scan_head {
    uint64_t hash;                 /* seeded hash of key; 0: slot free */
    uint64_t last_us;              /* latest packet that touched the entry */
    uint32_t score;                /* eviction value: distinct ports / hosts */
    uint32_t open_prev, open_next; /* open-finding list: slot index + 1, 0 = none */
    uint32_t linked;               /* on the open-finding list */
    struct finding_life life;
    uint8_t key[SCAN_KEY_LEN];
};

/* Called before an entry with an open finding is evicted (end it). */
typedef void (*scan_evict_fn)(void *ctx, struct scan_head *e, uint64_t now_us);

struct scan_table {
    uint8_t *slots;
    size_t entry_size;
    uint32_t n_buckets; /* power of two */
    uint32_t capacity;  /* n_buckets * SCAN_WAYS */
    uint64_t seed;
    uint64_t idle_us, emergency_idle_us;
    bool emergency;
    uint32_t open_first; /* slot index + 1 */
    uint32_t open_count;
    scan_evict_fn on_evict;
    void *evict_ctx;
    /* counters */
    uint64_t inserts, evictions, evictions_open, idle_reused, emergency_entered;
    uint64_t tick_inserts, tick_live_evictions;
};

/* capacity is rounded up to a power of two times SCAN_WAYS.  -1 on no
 * memory. */
int scan_table_init(struct scan_table *t, uint32_t capacity, size_t entry_size, uint64_t seed,
                    scan_evict_fn on_evict, void *evict_ctx);
void scan_table_free(struct scan_table *t);
/* The hash of a key (for the caller's own sketches and as lookup input). */
uint64_t scan_table_hash(const struct scan_table *t, const uint8_t key[SCAN_KEY_LEN]);
/* The live entry of key, or NULL (idle entries count as gone). */
void *scan_table_find(struct scan_table *t, const uint8_t key[SCAN_KEY_LEN], uint64_t hash,
                      uint64_t now_us);
/* The entry of key, created zeroed (head filled) when absent; *created
 * tells which.  Never NULL: a full bucket evicts by the policy above. */
void *scan_table_get(struct scan_table *t, const uint8_t key[SCAN_KEY_LEN], uint64_t hash,
                     uint64_t now_us, bool *created);
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
