/* scan_table.c — see scan_table.h. */
#include "agent/detect/scan/scan_table.h"

#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "agent/detect/keyhash.h"
#include "agent/detect/table_mem.h"
#include "common/hash.h"

/* A bucket's tag line: what a lookup or an eviction choice needs of its 8
 * entries, in one cache line. */
struct scan_tags {
    uint16_t tag[SCAN_WAYS];   /* TAG_OPEN | 1 + 14 bits of the hash; 0: free */
    uint16_t score[SCAN_WAYS]; /* eviction value, saturated */
    uint32_t last[SCAN_WAYS];  /* coarse last packet (coarse_time); 0: unknown */
};

_Static_assert(sizeof(struct scan_tags) == 64, "a tag line is one cache line");

/* A doorkeeper bucket's tag line. */
struct scan_pending_tags {
    uint32_t tag[SCAN_PENDING_WAYS];   /* low 32 bits of the hash, | 1; 0: free */
    uint32_t first[SCAN_PENDING_WAYS]; /* coarse first packet */
};

_Static_assert(sizeof(struct scan_pending_tags) == 64, "a tag line is one cache line");

#define TAG_OPEN 0x8000u
#define TAG_MASK 0x7fffu
#define COARSE_SHIFT 10 /* coarse time unit: 1024 us */
#define COARSE_REBASE (1u << 31)

/* The ways of a tag line whose tag (less TAG_OPEN) is tag, as a bit mask
 * (bit i: way i), so that a lookup visits the matching ways in order
 * without a compare and a branch per way.  SSE2 compares the eight
 * 16-bit tags at once; elsewhere a loop gives the same mask. */
static inline uint32_t tag_matches(const struct scan_tags *g, uint16_t tag)
{
#if defined(__SSE2__)
    __m128i v = _mm_load_si128((const __m128i *)g->tag);
    v = _mm_and_si128(v, _mm_set1_epi16((short)TAG_MASK));
    __m128i eq = _mm_cmpeq_epi16(v, _mm_set1_epi16((short)tag));
    return (uint32_t)_mm_movemask_epi8(_mm_packs_epi16(eq, _mm_setzero_si128()));
#else
    uint32_t m = 0;
    for (uint32_t i = 0; i < SCAN_WAYS; i++)
        m |= (uint32_t)((g->tag[i] & TAG_MASK) == tag) << i;
    return m;
#endif
}

/* The same for a doorkeeper tag line's eight 32-bit tags. */
static inline uint32_t pending_tag_matches(const struct scan_pending_tags *g, uint32_t tag)
{
#if defined(__SSE2__)
    __m128i t = _mm_set1_epi32((int)tag);
    __m128i lo = _mm_cmpeq_epi32(_mm_load_si128((const __m128i *)g->tag), t);
    __m128i hi = _mm_cmpeq_epi32(_mm_load_si128((const __m128i *)g->tag + 1), t);
    return (uint32_t)_mm_movemask_epi8(
        _mm_packs_epi16(_mm_packs_epi32(lo, hi), _mm_setzero_si128()));
#else
    uint32_t m = 0;
    for (uint32_t i = 0; i < SCAN_PENDING_WAYS; i++)
        m |= (uint32_t)(g->tag[i] == tag) << i;
    return m;
#endif
}

static inline uint16_t hash_tag(uint64_t hash)
{
    /* The bucket index takes the low bits; the tag the top 14. */
    return (uint16_t)((hash >> 50) + 1);
}

/* The entry of slot i (bucket x SCAN_WAYS + way), whose tag is not 0. */
static inline struct scan_head *slot_at(const struct scan_table *t, uint32_t i)
{
    return (struct scan_head *)(t->entries + (size_t)t->entry_of[i] * t->entry_size);
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

/* now in coarse units since the epoch, plus one (0 means "unknown: ask
 * the entry"), saturated. */
static inline uint32_t coarse_time(const struct scan_table *t, uint64_t now_us)
{
    if (!t->epoch_set || now_us < t->epoch_us)
        return 0;
    uint64_t c = ((now_us - t->epoch_us) >> COARSE_SHIFT) + 1;
    return c > UINT32_MAX ? UINT32_MAX : (uint32_t)c;
}

enum liveness { LIVE, IDLE, UNSURE };

/* Idle or live after idle_us from a coarse time c alone, when c settles
 * it: c stands for a time in [lo, lo + 1023]. */
static inline enum liveness coarse_time_liveness(const struct scan_table *t, uint32_t c,
                                                 uint64_t now_us, uint64_t idle_us)
{
    if (c == 0 || c == UINT32_MAX)
        return UNSURE;
    uint64_t lo = t->epoch_us + ((uint64_t)(c - 1) << COARSE_SHIFT);
    if (now_us > lo + ((1u << COARSE_SHIFT) - 1) + idle_us)
        return IDLE;
    if (now_us <= lo + idle_us)
        return LIVE;
    return UNSURE;
}

/* An entry's liveness from the tag line alone (its coarse last time). */
static inline enum liveness coarse_liveness(const struct scan_table *t, const struct scan_tags *g,
                                            uint32_t way, uint64_t now_us, uint64_t idle_us)
{
    if (g->tag[way] & TAG_OPEN)
        return LIVE;
    return coarse_time_liveness(t, g->last[way], now_us, idle_us);
}

int scan_table_init(struct scan_table *t, uint32_t capacity, size_t entry_size,
                    uint32_t pending_cap, size_t pending_size, uint64_t seed,
                    scan_evict_fn on_evict, void *evict_ctx)
{
    memset(t, 0, sizeof(*t));
    uint32_t buckets = 1;
    while ((uint64_t)buckets * SCAN_WAYS < capacity && buckets < (1u << 24))
        buckets <<= 1;
    uint32_t pcap = SCAN_PENDING_WAYS;
    while (pcap < pending_cap && pcap < (1u << 24))
        pcap <<= 1;
    /* Entries and records hold uint64_t fields: keep them 8-byte aligned. */
    entry_size = (entry_size + 7) & ~(size_t)7;
    if (pending_size < sizeof(struct scan_pending))
        pending_size = sizeof(struct scan_pending);
    pending_size = (pending_size + 7) & ~(size_t)7;
    /* The arrays a key's hash sends it to at random — tag lines, the
     * slot index, the doorkeeper — in one zeroed region on huge pages
     * (table_mem.h): a flood of new keys then costs a few TLB entries and
     * page faults, not one per 4 KiB. */
    size_t tags_bytes = (size_t)buckets * sizeof(struct scan_tags);
    size_t index_bytes = ((size_t)buckets * SCAN_WAYS * sizeof(*t->entry_of) + 63) & ~(size_t)63;
    size_t ptags_bytes = (size_t)(pcap / SCAN_PENDING_WAYS) * sizeof(struct scan_pending_tags);
    size_t records_bytes = (size_t)pcap * pending_size;
    t->arena_bytes = tags_bytes + index_bytes + ptags_bytes + records_bytes;
    t->arena = table_mem_alloc(t->arena_bytes);
    /* Entries are written densely (entry_of), so the pages they make
     * resident follow the keys held: fresh zero pages from calloc, 4 KiB
     * at a time (on huge pages, with the detectors' register pools, they
     * measured 4.7 MiB more resident on the scanners capture for 1,450
     * fewer page faults). */
    t->entries = calloc((size_t)buckets * SCAN_WAYS, entry_size);
    if (!t->arena || !t->entries)
        goto err;
    t->tags = (struct scan_tags *)t->arena;
    t->entry_of = (uint32_t *)(t->arena + tags_bytes);
    t->pending_tags = (struct scan_pending_tags *)(t->arena + tags_bytes + index_bytes);
    t->pending = t->arena + tags_bytes + index_bytes + ptags_bytes;
    t->entry_size = entry_size;
    t->n_buckets = buckets;
    t->capacity = buckets * SCAN_WAYS;
    t->pending_size = pending_size;
    t->pending_cap = pcap;
    t->pending_mask = pcap / SCAN_PENDING_WAYS - 1;
    t->seed = seed;
    keyhash_secrets(seed, t->key_seed);
    /* keyhash32's second step for w[2] = w[3] = 0, and its length. */
    t->zero_half = keyhash_fold(t->key_seed[2], t->key_seed[3]) ^ SCAN_KEY_LEN;
    t->idle_us = 600ull * 1000000;
    t->emergency_idle_us = 60ull * 1000000;
    t->on_evict = on_evict;
    t->evict_ctx = evict_ctx;
    return 0;
err:
    scan_table_free(t);
    return -1;
}

void scan_table_free(struct scan_table *t)
{
    free(t->entries);
    table_mem_free(t->arena, t->arena_bytes);
    t->arena = NULL;
    t->entries = NULL;
    t->entry_of = NULL;
    t->tags = NULL;
    t->pending = NULL;
    t->pending_tags = NULL;
}

uint64_t scan_table_hash(const struct scan_table *t, const uint8_t key[SCAN_KEY_LEN])
{
    uint64_t h = keyhash32(t->key_seed, key); /* keyhash.h: seeded, a third of hash_bytes */
    return h ? h : 1;                         /* 0 marks a free slot */
}

static inline void *table_find(struct scan_table *t, const uint8_t key[SCAN_KEY_LEN], uint64_t hash,
                               uint64_t now_us)
{
    uint32_t b = (uint32_t)(hash & (t->n_buckets - 1));
    const struct scan_tags *g = &t->tags[b];
    uint32_t m = tag_matches(g, hash_tag(hash));
    if (!m)
        return NULL;
    /* The bucket's slot index, fetched before the tag line has arrived
     * when the branch above is predicted (a table that mostly hits): the
     * entry's address comes from it, and the three loads (tag line, index,
     * entry) would otherwise wait for each other.  A table that mostly
     * misses never gets here. */
    __builtin_prefetch(&t->entry_of[b * SCAN_WAYS]);
    for (; m; m &= m - 1) {
        uint32_t i = (uint32_t)__builtin_ctz(m);
        /* The same key has the same hash: no need to compare hashes too
         * (a tag matches a wrong key once in 16,384). */
        struct scan_head *e = slot_at(t, b * SCAN_WAYS + i);
        if (memcmp(e->key, key, SCAN_KEY_LEN) == 0)
            return is_idle(t, e, now_us) ? NULL : e;
    }
    return NULL;
}

void *scan_table_find(struct scan_table *t, const uint8_t key[SCAN_KEY_LEN], uint64_t hash,
                      uint64_t now_us)
{
    return table_find(t, key, hash, now_us);
}

/* Is way a a better eviction victim than way b (both live)?  The tag
 * line decides unless the coarse times tie. */
static bool worse_way(const struct scan_table *t, uint32_t b, const struct scan_tags *g,
                      uint32_t a_way, uint32_t b_way)
{
    bool a_open = g->tag[a_way] & TAG_OPEN, b_open = g->tag[b_way] & TAG_OPEN;
    if (a_open != b_open)
        return !a_open;
    const struct scan_head *ea = slot_at(t, b * SCAN_WAYS + a_way);
    const struct scan_head *eb = slot_at(t, b * SCAN_WAYS + b_way);
    if (!a_open) {
        uint16_t sa = g->score[a_way], sb = g->score[b_way];
        if (sa != sb)
            return sa < sb;
        if (sa == UINT16_MAX && ea->score != eb->score)
            return ea->score < eb->score;
    }
    uint32_t ca = g->last[a_way], cb = g->last[b_way];
    if (ca != cb && ca != 0 && cb != 0 && ca != UINT32_MAX && cb != UINT32_MAX)
        return ca < cb;
    return ea->last_us < eb->last_us;
}

void *scan_table_get(struct scan_table *t, const uint8_t key[SCAN_KEY_LEN], uint64_t hash,
                     uint64_t now_us, bool *created)
{
    if (!t->epoch_set) {
        t->epoch_us = now_us;
        t->epoch_set = true;
    }
    uint32_t b = (uint32_t)(hash & (t->n_buckets - 1));
    struct scan_tags *g = &t->tags[b];
    uint16_t tag = hash_tag(hash);
    uint64_t idle_us = current_idle_us(t);
    int free_way = -1, idle_way = -1, victim = -1;
    for (uint32_t i = 0; i < SCAN_WAYS; i++) {
        uint16_t tg = g->tag[i];
        if (tg == 0) {
            if (free_way < 0)
                free_way = (int)i;
            continue;
        }
        if ((tg & TAG_MASK) == tag) {
            struct scan_head *e = slot_at(t, b * SCAN_WAYS + i);
            if (e->hash == hash && memcmp(e->key, key, SCAN_KEY_LEN) == 0) {
                if (!is_idle(t, e, now_us)) {
                    *created = false;
                    return e;
                }
                idle_way = (int)i; /* its own stale state: start over in place */
                free_way = -1;
                break;
            }
        }
        enum liveness l = coarse_liveness(t, g, i, now_us, idle_us);
        if (l == UNSURE)
            l = is_idle(t, slot_at(t, b * SCAN_WAYS + i), now_us) ? IDLE : LIVE;
        if (l == IDLE) {
            if (idle_way < 0)
                idle_way = (int)i;
        } else if (victim < 0 || worse_way(t, b, g, i, (uint32_t)victim)) {
            victim = (int)i;
        }
    }
    int way = free_way >= 0 ? free_way : idle_way;
    t->inserts++;
    t->tick_inserts++;
    struct scan_head *e;
    if (way < 0) {
        way = victim;
        e = slot_at(t, b * SCAN_WAYS + (uint32_t)way);
        t->evictions++;
        t->tick_live_evictions++;
        if (finding_is_open(&e->life)) {
            t->evictions_open++;
            if (t->on_evict)
                t->on_evict(t->evict_ctx, e, now_us);
        }
    } else {
        if (way == free_way) /* a slot's first key: the next entry never used */
            t->entry_of[b * SCAN_WAYS + (uint32_t)way] = t->n_entries++;
        e = slot_at(t, b * SCAN_WAYS + (uint32_t)way);
        if (way == idle_way)
            t->idle_reused++;
    }
    if (e->linked)
        scan_table_open_unlink(t, e);
    /* Only the head: the detector resets the body fields it uses. */
    e->hash = hash;
    e->last_us = now_us;
    e->score = 0;
    e->slot = b * SCAN_WAYS + (uint32_t)way;
    e->open_prev = e->open_next = 0;
    memset(&e->life, 0, sizeof(e->life));
    memcpy(e->key, key, SCAN_KEY_LEN);
    g->tag[way] = tag;
    g->score[way] = 0;
    g->last[way] = coarse_time(t, now_us);
    *created = true;
    return e;
}

void scan_table_touch(struct scan_table *t, struct scan_head *e, uint64_t now_us)
{
    if (now_us <= e->last_us)
        return;
    e->last_us = now_us;
    t->tags[e->slot / SCAN_WAYS].last[e->slot % SCAN_WAYS] = coarse_time(t, now_us);
}

void scan_table_set_score(struct scan_table *t, struct scan_head *e, uint32_t score)
{
    e->score = score;
    t->tags[e->slot / SCAN_WAYS].score[e->slot % SCAN_WAYS] =
        (uint16_t)(score > UINT16_MAX ? UINT16_MAX : score);
}

/* ---- doorkeeper ------------------------------------------------------------ */

static inline struct scan_pending *pending_at(const struct scan_table *t, uint32_t i)
{
    return (struct scan_pending *)(t->pending + (size_t)i * t->pending_size);
}

static inline bool pending_live(const struct scan_table *t, const struct scan_pending *p,
                                uint64_t now_us)
{
    return p->hash != 0 && !(now_us > p->first_us && now_us - p->first_us > current_idle_us(t));
}

/* hash's doorkeeper bucket.  Other bits than the table's bucket index,
 * so table and doorkeeper collisions are independent. */
static inline uint32_t pending_bucket(const struct scan_table *t, uint64_t hash)
{
    return (uint32_t)(hash >> 32) & t->pending_mask;
}

void scan_table_prefetch(const struct scan_table *t, uint64_t hash)
{
    __builtin_prefetch(&t->tags[hash & (t->n_buckets - 1)]);
    uint32_t pb = pending_bucket(t, hash);
    __builtin_prefetch(&t->pending_tags[pb], 1);
    /* Which record a new key takes is known only from the tag line; the
     * bucket's are a few adjacent lines (records of 32 or 48 bytes).  A
     * table whose keys are mostly known skips them: they would push out
     * lines it uses. */
    if (t->new_share < SCAN_NEW_ONE / 2)
        return;
    const uint8_t *r = t->pending + (size_t)pb * SCAN_PENDING_WAYS * t->pending_size;
    for (size_t off = 0; off < SCAN_PENDING_WAYS * t->pending_size; off += 64)
        __builtin_prefetch(r + off, 1);
}

static inline uint32_t pending_tag(uint64_t hash)
{
    return (uint32_t)hash | 1;
}

/* The way of the first record of bucket b (tag line g) whose hash is
 * hash, or -1. */
static inline int pending_own(const struct scan_table *t, uint32_t b,
                              const struct scan_pending_tags *g, uint64_t hash)
{
    for (uint32_t m = pending_tag_matches(g, pending_tag(hash)); m; m &= m - 1) {
        uint32_t i = (uint32_t)__builtin_ctz(m);
        if (pending_at(t, b * SCAN_PENDING_WAYS + i)->hash == hash)
            return (int)i;
    }
    return -1;
}

#if defined(__SSE2__)
/* The lesser of a and b, lane by lane (signed: SSE2 has no min of 32-bit
 * lanes). */
static inline __m128i min_epi32(__m128i a, __m128i b)
{
    __m128i gt = _mm_cmpgt_epi32(a, b);
    return _mm_or_si128(_mm_and_si128(gt, b), _mm_andnot_si128(gt, a));
}
#endif

/* The first way of the least first time of a full tag line g.  SSE2: the
 * least of the eight (unsigned, by signed compares of biased values) in
 * three steps, then the mask of the ways that hold it; elsewhere a loop. */
static inline uint32_t pending_oldest(const struct scan_pending_tags *g)
{
#if defined(__SSE2__)
    __m128i bias = _mm_set1_epi32(INT32_MIN);
    __m128i lo = _mm_xor_si128(_mm_load_si128((const __m128i *)g->first), bias);
    __m128i hi = _mm_xor_si128(_mm_load_si128((const __m128i *)g->first + 1), bias);
    __m128i m = min_epi32(lo, hi);
    m = min_epi32(m, _mm_shuffle_epi32(m, _MM_SHUFFLE(1, 0, 3, 2)));
    m = min_epi32(m, _mm_shuffle_epi32(m, _MM_SHUFFLE(2, 3, 0, 1)));
    __m128i eq = _mm_packs_epi32(_mm_cmpeq_epi32(lo, m), _mm_cmpeq_epi32(hi, m));
    return (uint32_t)__builtin_ctz(
        (uint32_t)_mm_movemask_epi8(_mm_packs_epi16(eq, _mm_setzero_si128())));
#else
    uint32_t way = 0;
    for (uint32_t i = 1; i < SCAN_PENDING_WAYS; i++)
        way = g->first[i] < g->first[way] ? i : way;
    return way;
#endif
}

void *scan_table_pending_find(struct scan_table *t, uint64_t hash, uint64_t now_us)
{
    uint32_t b = pending_bucket(t, hash);
    int own = pending_own(t, b, &t->pending_tags[b], hash);
    if (own < 0)
        return NULL;
    struct scan_pending *p = pending_at(t, b * SCAN_PENDING_WAYS + (uint32_t)own);
    return pending_live(t, p, now_us) ? p : NULL;
}

/* A taken record's liveness from its coarse first time. */
static inline enum liveness pending_coarse_liveness(const struct scan_table *t,
                                                    const struct scan_pending_tags *g, uint32_t way,
                                                    uint64_t now_us)
{
    return coarse_time_liveness(t, g->first[way], now_us, current_idle_us(t));
}

/* Bit i: way i of g holds tag; bit SCAN_PENDING_WAYS + i: way i is free.
 * SSE2: both compares from the same two loads, one mask. */
static inline uint32_t pending_ways(const struct scan_pending_tags *g, uint32_t tag)
{
#if defined(__SSE2__)
    __m128i lo = _mm_load_si128((const __m128i *)g->tag);
    __m128i hi = _mm_load_si128((const __m128i *)g->tag + 1);
    __m128i t = _mm_set1_epi32((int)tag), z = _mm_setzero_si128();
    __m128i own = _mm_packs_epi32(_mm_cmpeq_epi32(lo, t), _mm_cmpeq_epi32(hi, t));
    __m128i fr = _mm_packs_epi32(_mm_cmpeq_epi32(lo, z), _mm_cmpeq_epi32(hi, z));
    return (uint32_t)_mm_movemask_epi8(_mm_packs_epi16(own, fr));
#else
    uint32_t m = 0;
    for (uint32_t i = 0; i < SCAN_PENDING_WAYS; i++)
        m |= (uint32_t)(g->tag[i] == tag) << i | (uint32_t)(g->tag[i] == 0)
                                                     << (SCAN_PENDING_WAYS + i);
    return m;
#endif
}

/* The doorkeeper half of a lookup: hash's bucket, its record's way (the
 * first whose tag and hash match) and whether that record is live, the
 * bucket's free ways. */
static inline void pending_look(struct scan_table *t, uint64_t hash, uint64_t now_us,
                                struct scan_look *lk)
{
    uint32_t b = pending_bucket(t, hash);
    uint32_t m = pending_ways(&t->pending_tags[b], pending_tag(hash));
    lk->pending = NULL;
    lk->pbucket = b;
    lk->pway = -1;
    lk->pfree = m >> SCAN_PENDING_WAYS;
    for (m &= (1u << SCAN_PENDING_WAYS) - 1; m; m &= m - 1) {
        uint32_t i = (uint32_t)__builtin_ctz(m);
        struct scan_pending *p = pending_at(t, b * SCAN_PENDING_WAYS + i);
        if (p->hash == hash) {
            lk->pway = (int)i;
            if (pending_live(t, p, now_us))
                lk->pending = p;
            return;
        }
    }
}

void *scan_table_lookup(struct scan_table *t, const uint8_t key[SCAN_KEY_LEN], uint64_t hash,
                        uint64_t now_us, struct scan_look *lk)
{
    void *e = table_find(t, key, hash, now_us);
    if (e) {
        t->new_share -= t->new_share >> 4;
        return e;
    }
    t->new_share += (SCAN_NEW_ONE - t->new_share) >> 4;
    pending_look(t, hash, now_us, lk);
    return NULL;
}

/* The record at way of bucket b (tag line g), about to be overwritten at
 * now: was it live? */
static inline bool pending_overwritten_live(const struct scan_table *t, uint32_t b,
                                            const struct scan_pending_tags *g, uint32_t way,
                                            uint64_t now_us)
{
    enum liveness l = pending_coarse_liveness(t, g, way, now_us);
    return l == LIVE ||
           (l == UNSURE && pending_live(t, pending_at(t, b * SCAN_PENDING_WAYS + way), now_us));
}

/* Inlined into the detectors' first-packet path (with link-time
 * optimisation, in a Release build): one frame less per new key. */
__attribute__((always_inline)) inline void *scan_table_pending_take(struct scan_table *t,
                                                                    const struct scan_look *lk,
                                                                    uint64_t hash, uint64_t now_us)
{
    if (!t->epoch_set) {
        t->epoch_us = now_us;
        t->epoch_set = true;
    }
    struct scan_pending_tags *g = &t->pending_tags[lk->pbucket];
    uint32_t now_c = coarse_time(t, now_us);
    /* hash's own record, else the first free one, else the oldest (the
     * first of the least first time). */
    uint32_t way;
    if (lk->pway >= 0) {
        way = (uint32_t)lk->pway;
    } else if (lk->pfree) {
        way = (uint32_t)__builtin_ctz(lk->pfree);
    } else {
        way = pending_oldest(g);
        /* Was the record given up still live?  The tag line's coarse time
         * says so without reading the record (a cache miss on a flood of
         * new keys) unless the answer depends on the microseconds.  First
         * the case of a flood, from the coarse times alone: fewer whole
         * units apart than idle_us holds, the record is live. */
        uint32_t c = g->first[way];
        if ((c != 0 && now_c != UINT32_MAX &&
             (uint64_t)(now_c - c) < current_idle_us(t) >> COARSE_SHIFT) ||
            pending_overwritten_live(t, lk->pbucket, g, way, now_us))
            t->pending_overwritten++;
    }
    struct scan_pending *p = pending_at(t, lk->pbucket * SCAN_PENDING_WAYS + way);
    p->hash = hash;
    p->first_us = now_us;
    g->tag[way] = pending_tag(hash);
    g->first[way] = now_c;
    t->pending_started++;
    return p;
}

void *scan_table_pending_start(struct scan_table *t, uint64_t hash, uint64_t now_us)
{
    struct scan_look lk;
    pending_look(t, hash, now_us, &lk);
    struct scan_pending *p = scan_table_pending_take(t, &lk, hash, now_us);
    memset((uint8_t *)p + sizeof(*p), 0, t->pending_size - sizeof(*p));
    return p;
}

/* Walks over every slot ask the tag lines first: a slot or pending
 * record whose tag is 0 is free, and its page is then never read (on a
 * kernel without a shared zero page, a read would make it resident). */
static bool slot_taken(const struct scan_table *t, uint32_t i)
{
    return t->tags[i / SCAN_WAYS].tag[i % SCAN_WAYS] != 0;
}

static bool pending_taken(const struct scan_table *t, uint32_t i)
{
    return t->pending_tags[i / SCAN_PENDING_WAYS].tag[i % SCAN_PENDING_WAYS] != 0;
}

void scan_table_pending_admit(struct scan_table *t, struct scan_pending *p)
{
    uint32_t i = (uint32_t)(((uint8_t *)p - t->pending) / t->pending_size);
    t->pending_tags[i / SCAN_PENDING_WAYS].tag[i % SCAN_PENDING_WAYS] = 0;
    p->hash = 0;
    t->admitted++;
}

void scan_table_pending_foreach(struct scan_table *t, uint64_t now_us,
                                void (*fn)(void *ctx, struct scan_pending *p), void *ctx)
{
    for (uint32_t i = 0; i < t->pending_cap; i++) {
        if (!pending_taken(t, i))
            continue;
        struct scan_pending *p = pending_at(t, i);
        if (pending_live(t, p, now_us))
            fn(ctx, p);
    }
}

/* ---- open findings ----------------------------------------------------------- */

void scan_table_open_link(struct scan_table *t, struct scan_head *e)
{
    if (e->linked)
        return;
    uint32_t idx = e->slot + 1;
    e->open_prev = 0;
    e->open_next = t->open_first;
    if (t->open_first)
        slot_at(t, t->open_first - 1)->open_prev = idx;
    t->open_first = idx;
    e->linked = 1;
    t->open_count++;
    t->tags[e->slot / SCAN_WAYS].tag[e->slot % SCAN_WAYS] |= TAG_OPEN;
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
    t->tags[e->slot / SCAN_WAYS].tag[e->slot % SCAN_WAYS] &= (uint16_t)~TAG_OPEN;
}

struct scan_head *scan_table_open_first(struct scan_table *t)
{
    return t->open_first ? slot_at(t, t->open_first - 1) : NULL;
}

struct scan_head *scan_table_open_next(struct scan_table *t, const struct scan_head *e)
{
    return e->open_next ? slot_at(t, e->open_next - 1) : NULL;
}

/* ---- clock and walks ------------------------------------------------------------ */

/* Move the epoch forward before coarse times run out of bits (after about
 * 25 days); times that fall before the new epoch become "unknown", which
 * sends the next decision about them to the entry's exact last_us. */
static void coarse_rebase(struct scan_table *t, uint64_t now_us)
{
    uint32_t now_c = coarse_time(t, now_us);
    if (now_c < COARSE_REBASE)
        return;
    uint32_t shift = now_c - (1u << 20);
    t->epoch_us += (uint64_t)shift << COARSE_SHIFT;
    for (uint32_t b = 0; b < t->n_buckets; b++)
        for (uint32_t i = 0; i < SCAN_WAYS; i++) {
            uint32_t c = t->tags[b].last[i];
            t->tags[b].last[i] = c > shift && c != UINT32_MAX ? c - shift : 0;
        }
    for (uint32_t b = 0; b < t->pending_cap / SCAN_PENDING_WAYS; b++)
        for (uint32_t i = 0; i < SCAN_PENDING_WAYS; i++) {
            uint32_t c = t->pending_tags[b].first[i];
            t->pending_tags[b].first[i] = c > shift && c != UINT32_MAX ? c - shift : 0;
        }
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
    coarse_rebase(t, now_us);
}

void scan_table_foreach(struct scan_table *t, uint64_t now_us,
                        void (*fn)(void *ctx, struct scan_head *e), void *ctx)
{
    for (uint32_t i = 0; i < t->capacity; i++) {
        if (!slot_taken(t, i))
            continue;
        struct scan_head *e = slot_at(t, i);
        if (e->hash && !is_idle(t, e, now_us))
            fn(ctx, e);
    }
}

void scan_table_stats(struct scan_table *t, uint64_t now_us, json_t *out)
{
    uint64_t live = 0, n_pending_live = 0;
    for (uint32_t i = 0; i < t->capacity; i++) {
        if (!slot_taken(t, i))
            continue;
        struct scan_head *e = slot_at(t, i);
        live += e->hash && !is_idle(t, e, now_us);
    }
    for (uint32_t i = 0; i < t->pending_cap; i++) {
        if (pending_taken(t, i))
            n_pending_live += pending_live(t, pending_at(t, i), now_us);
    }
    size_t table_bytes = (size_t)t->capacity * (t->entry_size + sizeof(*t->entry_of)) +
                         (size_t)t->n_buckets * sizeof(struct scan_tags);
    json_object_set_new(out, "table_capacity", json_integer(t->capacity));
    json_object_set_new(out, "table_live", json_integer((json_int_t)live));
    json_object_set_new(out, "table_bytes", json_integer((json_int_t)table_bytes));
    /* Entries ever written (dense): what of table_bytes the traffic used. */
    json_object_set_new(out, "table_entries_used", json_integer(t->n_entries));
    json_object_set_new(out, "open_findings", json_integer(t->open_count));
    json_object_set_new(out, "inserts", json_integer((json_int_t)t->inserts));
    json_object_set_new(out, "evictions", json_integer((json_int_t)t->evictions));
    json_object_set_new(out, "evictions_open", json_integer((json_int_t)t->evictions_open));
    json_object_set_new(out, "idle_reused", json_integer((json_int_t)t->idle_reused));
    json_object_set_new(out, "emergency", json_boolean(t->emergency));
    json_object_set_new(out, "emergency_entered", json_integer((json_int_t)t->emergency_entered));
    json_object_set_new(out, "pending_capacity", json_integer(t->pending_cap));
    json_object_set_new(out, "pending_live", json_integer((json_int_t)n_pending_live));
    json_object_set_new(
        out, "pending_bytes",
        json_integer((json_int_t)((size_t)t->pending_cap * (t->pending_size + sizeof(uint64_t)))));
    json_object_set_new(out, "pending_started", json_integer((json_int_t)t->pending_started));
    json_object_set_new(out, "pending_overwritten",
                        json_integer((json_int_t)t->pending_overwritten));
    json_object_set_new(out, "admitted", json_integer((json_int_t)t->admitted));
}
