/* scan_table.c — see scan_table.h. */
#include "agent/detect/scan_table.h"

#include <stdlib.h>
#include <string.h>

#include "common/hash.h"

static inline struct scan_head *slot_at(const struct scan_table *t, uint32_t i)
{
    return (struct scan_head *)(t->slots + (size_t)i * t->entry_size);
}

static inline uint32_t slot_index(const struct scan_table *t, const struct scan_head *e)
{
    return (uint32_t)(((const uint8_t *)e - t->slots) / t->entry_size);
}

static inline uint64_t current_idle_us(const struct scan_table *t)
{
    return t->emergency && t->emergency_idle_us < t->idle_us ? t->emergency_idle_us : t->idle_us;
}

static inline bool is_idle(const struct scan_table *t, const struct scan_head *e, uint64_t now_us)
{
    return !finding_is_open(&e->life) && now_us > e->last_us &&
           now_us - e->last_us > current_idle_us(t);
}

int scan_table_init(struct scan_table *t, uint32_t capacity, size_t entry_size, uint64_t seed,
                    scan_evict_fn on_evict, void *evict_ctx)
{
    memset(t, 0, sizeof(*t));
    uint32_t buckets = 1;
    while ((uint64_t)buckets * SCAN_WAYS < capacity && buckets < (1u << 24))
        buckets <<= 1;
    /* Entries hold uint64_t fields: keep every slot 8-byte aligned. */
    entry_size = (entry_size + 7) & ~(size_t)7;
    t->slots = calloc((size_t)buckets * SCAN_WAYS, entry_size);
    if (!t->slots)
        return -1;
    t->entry_size = entry_size;
    t->n_buckets = buckets;
    t->capacity = buckets * SCAN_WAYS;
    t->seed = seed;
    t->idle_us = 600ull * 1000000;
    t->emergency_idle_us = 60ull * 1000000;
    t->on_evict = on_evict;
    t->evict_ctx = evict_ctx;
    return 0;
}

void scan_table_free(struct scan_table *t)
{
    free(t->slots);
    t->slots = NULL;
}

uint64_t scan_table_hash(const struct scan_table *t, const uint8_t key[SCAN_KEY_LEN])
{
    uint64_t h = hash_bytes(key, SCAN_KEY_LEN, t->seed);
    return h ? h : 1; /* 0 marks a free slot */
}

void *scan_table_find(struct scan_table *t, const uint8_t key[SCAN_KEY_LEN], uint64_t hash,
                      uint64_t now_us)
{
    uint32_t base = (uint32_t)(hash & (t->n_buckets - 1)) * SCAN_WAYS;
    for (uint32_t i = 0; i < SCAN_WAYS; i++) {
        struct scan_head *e = slot_at(t, base + i);
        if (e->hash == hash && memcmp(e->key, key, SCAN_KEY_LEN) == 0)
            return is_idle(t, e, now_us) ? NULL : e;
    }
    return NULL;
}

/* Is a a better eviction victim than b? */
static bool worse_entry(const struct scan_head *a, const struct scan_head *b)
{
    bool a_open = finding_is_open(&a->life), b_open = finding_is_open(&b->life);
    if (a_open != b_open)
        return !a_open;
    if (!a_open && a->score != b->score)
        return a->score < b->score;
    return a->last_us < b->last_us;
}

void *scan_table_get(struct scan_table *t, const uint8_t key[SCAN_KEY_LEN], uint64_t hash,
                     uint64_t now_us, bool *created)
{
    uint32_t base = (uint32_t)(hash & (t->n_buckets - 1)) * SCAN_WAYS;
    struct scan_head *free_slot = NULL, *idle_slot = NULL, *victim = NULL;
    for (uint32_t i = 0; i < SCAN_WAYS; i++) {
        struct scan_head *e = slot_at(t, base + i);
        if (e->hash == 0) {
            if (!free_slot)
                free_slot = e;
            continue;
        }
        if (e->hash == hash && memcmp(e->key, key, SCAN_KEY_LEN) == 0) {
            if (!is_idle(t, e, now_us)) {
                *created = false;
                return e;
            }
            idle_slot = e; /* its own stale state: start over in place */
            free_slot = NULL;
            break;
        }
        if (is_idle(t, e, now_us)) {
            if (!idle_slot)
                idle_slot = e;
        } else if (!victim || worse_entry(e, victim)) {
            victim = e;
        }
    }
    struct scan_head *e = free_slot ? free_slot : idle_slot;
    t->inserts++;
    t->tick_inserts++;
    if (!e) {
        e = victim;
        t->evictions++;
        t->tick_live_evictions++;
        if (finding_is_open(&e->life)) {
            t->evictions_open++;
            if (t->on_evict)
                t->on_evict(t->evict_ctx, e, now_us);
        }
    } else if (e == idle_slot) {
        t->idle_reused++;
    }
    if (e->linked)
        scan_table_open_unlink(t, e);
    memset(e, 0, t->entry_size);
    e->hash = hash;
    e->last_us = now_us;
    memcpy(e->key, key, SCAN_KEY_LEN);
    *created = true;
    return e;
}

void scan_table_open_link(struct scan_table *t, struct scan_head *e)
{
    if (e->linked)
        return;
    uint32_t idx = slot_index(t, e) + 1;
    e->open_prev = 0;
    e->open_next = t->open_first;
    if (t->open_first)
        slot_at(t, t->open_first - 1)->open_prev = idx;
    t->open_first = idx;
    e->linked = 1;
    t->open_count++;
}

void scan_table_open_unlink(struct scan_table *t, struct scan_head *e)
{
    if (!e->linked)
        return;
    if (e->open_prev)
        slot_at(t, e->open_prev - 1)->open_next = e->open_next;
    else
        t->open_first = e->open_next;
    if (e->open_next)
        slot_at(t, e->open_next - 1)->open_prev = e->open_prev;
    e->open_prev = e->open_next = 0;
    e->linked = 0;
    t->open_count--;
}

struct scan_head *scan_table_open_first(struct scan_table *t)
{
    return t->open_first ? slot_at(t, t->open_first - 1) : NULL;
}

struct scan_head *scan_table_open_next(struct scan_table *t, const struct scan_head *e)
{
    return e->open_next ? slot_at(t, e->open_next - 1) : NULL;
}

void scan_table_tick(struct scan_table *t, uint64_t now_us)
{
    bool pressure = t->tick_inserts > 0 && t->tick_live_evictions * 2 > t->tick_inserts;
    if (pressure && !t->emergency) {
        t->emergency = true;
        t->emergency_entered++;
    } else if (!pressure && t->tick_live_evictions == 0) {
        t->emergency = false;
    }
    t->tick_inserts = t->tick_live_evictions = 0;
}

void scan_table_foreach(struct scan_table *t, uint64_t now_us,
                        void (*fn)(void *ctx, struct scan_head *e), void *ctx)
{
    for (uint32_t i = 0; i < t->capacity; i++) {
        struct scan_head *e = slot_at(t, i);
        if (e->hash && !is_idle(t, e, now_us))
            fn(ctx, e);
    }
}

void scan_table_stats(struct scan_table *t, uint64_t now_us, json_t *out)
{
    uint64_t live = 0;
    for (uint32_t i = 0; i < t->capacity; i++) {
        struct scan_head *e = slot_at(t, i);
        live += e->hash && !is_idle(t, e, now_us);
    }
    json_object_set_new(out, "table_capacity", json_integer(t->capacity));
    json_object_set_new(out, "table_live", json_integer((json_int_t)live));
    json_object_set_new(out, "table_bytes",
                        json_integer((json_int_t)((size_t)t->capacity * t->entry_size)));
    json_object_set_new(out, "open_findings", json_integer(t->open_count));
    json_object_set_new(out, "inserts", json_integer((json_int_t)t->inserts));
    json_object_set_new(out, "evictions", json_integer((json_int_t)t->evictions));
    json_object_set_new(out, "evictions_open", json_integer((json_int_t)t->evictions_open));
    json_object_set_new(out, "idle_reused", json_integer((json_int_t)t->idle_reused));
    json_object_set_new(out, "emergency", json_boolean(t->emergency));
    json_object_set_new(out, "emergency_entered", json_integer((json_int_t)t->emergency_entered));
}
