/* sketch.c — HyperLogLog, count-min and space-saving top-K (see sketch.h).
 *
 * The detectors keep one of these wherever an attacker could make a set
 * grow (ports of one scanner, hosts of one sweeper, sources of a flood),
 * so their memory is fixed by the rules, never by the traffic.  Nothing
 * here allocates after init, and the per-update paths do no syscalls.
 *
 * HyperLogLog follows Flajolet et al. (2007) with a 64-bit hash, so no
 * large-range correction is needed; below 2.5 m the linear-counting
 * estimate is used, which keeps the small counts that thresholds compare
 * against within a unit or two of the truth.
 */
#include "agent/detect/sketch.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* ---- HyperLogLog -------------------------------------------------------- */

int hll_init(struct hll *h, uint8_t p)
{
    memset(h, 0, sizeof(*h));
    if (p < 4 || p > HLL_MAX_P)
        return -1;
    h->reg = calloc((size_t)1 << p, 1);
    if (!h->reg)
        return -1;
    h->p = p;
    h->owns = 1;
    return 0;
}

void hll_init_buf(struct hll *h, uint8_t p, uint8_t *storage)
{
    h->p = p;
    h->reg = storage;
    h->owns = 0;
    memset(storage, 0, (size_t)1 << p);
}

void hll_reset(struct hll *h)
{
    memset(h->reg, 0, (size_t)1 << h->p);
}

int hll_add_hash(struct hll *h, uint64_t hash)
{
    return hll_add_hash_p(h, hash, h->p);
}

static double hll_alpha(uint32_t m)
{
    switch (m) {
    case 16:
        return 0.673;
    case 32:
        return 0.697;
    case 64:
        return 0.709;
    default:
        return 0.7213 / (1.0 + 1.079 / m);
    }
}

/* Per precision p, the estimate's two products that depend on p alone:
 * at [0] alpha * m * m (the raw estimate's numerator), at [zeros] for
 * every zeros in 1..m linear counting's m * log(m / zeros).  Computed once
 * by the very operations hll_finish would do (libm's log included), so
 * an estimate from the table is the same double, without a division for
 * alpha and a log() call each time a register leaves zero (the scan
 * detectors estimate after every such change).  The tables of all p
 * share one static array, p's at offset 2^p - 16 + (p - 4), filled at
 * p's first estimate (pages of unused p are never touched); state: 0
 * empty, 1 being filled (a concurrent first use then computes as
 * before), 2 ready. */
static double hll_table[(2u << HLL_MAX_P) - 16 + (HLL_MAX_P - 3)];
static uint8_t hll_table_state[HLL_MAX_P + 1];

static double *hll_table_at(uint8_t p)
{
    return hll_table + (1u << p) - 16 + (p - 4u);
}

__attribute__((noinline, cold)) static const double *hll_table_fill(uint8_t p)
{
    uint8_t empty = 0;
    if (!__atomic_compare_exchange_n(&hll_table_state[p], &empty, 1, false, __ATOMIC_ACQUIRE,
                                     __ATOMIC_RELAXED))
        return NULL;
    double *t = hll_table_at(p);
    uint32_t m = 1u << p;
    t[0] = hll_alpha(m) * (double)m * (double)m;
    for (uint32_t zeros = 1; zeros <= m; zeros++)
        t[zeros] = (double)m * log((double)m / zeros);
    __atomic_store_n(&hll_table_state[p], 2, __ATOMIC_RELEASE);
    return t;
}

static inline double hll_finish(uint8_t p, double sum, uint32_t zeros)
{
    if (p >= 4 && p <= HLL_MAX_P) {
        const double *t = __atomic_load_n(&hll_table_state[p], __ATOMIC_ACQUIRE) == 2
                              ? hll_table_at(p)
                              : hll_table_fill(p);
        if (t) {
            double raw = t[0] / sum;
            return raw <= 2.5 * (1u << p) && zeros ? t[zeros] : raw;
        }
    }
    uint32_t m = 1u << p;
    double raw = hll_alpha(m) * (double)m * (double)m / sum;
    if (raw <= 2.5 * m && zeros)
        return (double)m * log((double)m / zeros);
    return raw;
}

double hll_estimate(const struct hll *h)
{
    uint32_t m = 1u << h->p;
    /* 2^-r for every register value (at most 65 - p): the same exact
     * doubles ldexp gives, summed in the same order, without a libm call
     * per register (scan detectors estimate on every probe). */
    static const double pow2_neg[66] = {
        0x1p-0,  0x1p-1,  0x1p-2,  0x1p-3,  0x1p-4,  0x1p-5,  0x1p-6,  0x1p-7,  0x1p-8,  0x1p-9,
        0x1p-10, 0x1p-11, 0x1p-12, 0x1p-13, 0x1p-14, 0x1p-15, 0x1p-16, 0x1p-17, 0x1p-18, 0x1p-19,
        0x1p-20, 0x1p-21, 0x1p-22, 0x1p-23, 0x1p-24, 0x1p-25, 0x1p-26, 0x1p-27, 0x1p-28, 0x1p-29,
        0x1p-30, 0x1p-31, 0x1p-32, 0x1p-33, 0x1p-34, 0x1p-35, 0x1p-36, 0x1p-37, 0x1p-38, 0x1p-39,
        0x1p-40, 0x1p-41, 0x1p-42, 0x1p-43, 0x1p-44, 0x1p-45, 0x1p-46, 0x1p-47, 0x1p-48, 0x1p-49,
        0x1p-50, 0x1p-51, 0x1p-52, 0x1p-53, 0x1p-54, 0x1p-55, 0x1p-56, 0x1p-57, 0x1p-58, 0x1p-59,
        0x1p-60, 0x1p-61, 0x1p-62, 0x1p-63, 0x1p-64, 0x1p-65};
    double sum = 0;
    uint32_t zeros = 0;
    for (uint32_t i = 0; i < m; i++) {
        uint8_t r = h->reg[i] < 65 ? h->reg[i] : 65;
        sum += pow2_neg[r];
        zeros += h->reg[i] == 0;
    }
    return hll_finish(h->p, sum, zeros);
}

void hll_sum_clear(struct hll_sum *s, uint8_t p)
{
    s->units = 1ull << 53; /* 2^p registers of 2^0 = 2^(53 - p) units */
    s->zeros = 1u << p;
    s->walk = 0;
}

int hll_add_hash_sum(struct hll *h, struct hll_sum *s, uint64_t hash)
{
    uint32_t index = (uint32_t)(hash >> (64 - h->p));
    uint8_t old = h->reg[index];
    if (!hll_add_hash(h, hash))
        return 0;
    uint8_t rank = h->reg[index];
    uint8_t units_p = (uint8_t)(53 - h->p);
    if (s->walk || rank > units_p) { /* old <= units_p while walk is 0 */
        s->walk = 1;
        return 1;
    }
    s->units -= (1ull << (units_p - old)) - (1ull << (units_p - rank));
    s->zeros -= old == 0;
    return 1;
}

double hll_estimate_sum(const struct hll *h, const struct hll_sum *s)
{
    if (s->walk)
        return hll_estimate(h);
    /* units <= 2^53 and a power of two scale: both exact */
    double sum = (double)s->units * (1.0 / (double)(1ull << (53 - h->p)));
    return hll_finish(h->p, sum, s->zeros);
}

void hll_merge(struct hll *dst, const struct hll *src)
{
    if (dst->p != src->p)
        return;
    uint32_t m = 1u << dst->p;
    for (uint32_t i = 0; i < m; i++)
        if (src->reg[i] > dst->reg[i])
            dst->reg[i] = src->reg[i];
}

void hll_free(struct hll *h)
{
    if (h->owns)
        free(h->reg);
    h->reg = NULL;
    h->owns = 0;
}

/* ---- count-min ------------------------------------------------------------ */

int cms_init(struct cms *c, uint32_t width, uint32_t depth, uint64_t seed)
{
    memset(c, 0, sizeof(*c));
    if (width == 0 || depth == 0 || depth > 16)
        return -1;
    c->counters = calloc((size_t)width * depth, sizeof(uint32_t));
    if (!c->counters)
        return -1;
    c->width = width;
    c->depth = depth;
    c->seed = seed;
    return 0;
}

/* Row i's column by double hashing (Kirsch and Mitzenmacher): one seeded
 * hash of the key gives every row an independent-enough index. */
static void cms_columns(const struct cms *c, const void *key, size_t len, uint32_t *col)
{
    uint64_t h1 = hash_bytes(key, len, c->seed);
    uint64_t h2 = hash_mix64(h1 ^ 0x9e3779b97f4a7c15ULL) | 1;
    for (uint32_t i = 0; i < c->depth; i++)
        col[i] = (uint32_t)((h1 + i * h2) % c->width);
}

uint32_t cms_add(struct cms *c, const void *key, size_t len, uint32_t n)
{
    uint32_t col[16];
    cms_columns(c, key, len, col);
    uint32_t min = UINT32_MAX;
    for (uint32_t i = 0; i < c->depth; i++) {
        uint32_t v = c->counters[(size_t)i * c->width + col[i]];
        if (v < min)
            min = v;
    }
    uint32_t want = min > UINT32_MAX - n ? UINT32_MAX : min + n;
    for (uint32_t i = 0; i < c->depth; i++) {
        uint32_t *v = &c->counters[(size_t)i * c->width + col[i]];
        if (*v < want)
            *v = want;
    }
    return want;
}

uint32_t cms_estimate(const struct cms *c, const void *key, size_t len)
{
    uint32_t col[16];
    cms_columns(c, key, len, col);
    uint32_t min = UINT32_MAX;
    for (uint32_t i = 0; i < c->depth; i++) {
        uint32_t v = c->counters[(size_t)i * c->width + col[i]];
        if (v < min)
            min = v;
    }
    return min;
}

void cms_reset(struct cms *c)
{
    memset(c->counters, 0, (size_t)c->width * c->depth * sizeof(uint32_t));
}

void cms_decay(struct cms *c)
{
    size_t n = (size_t)c->width * c->depth;
    for (size_t i = 0; i < n; i++)
        c->counters[i] >>= 1;
}

void cms_free(struct cms *c)
{
    free(c->counters);
    c->counters = NULL;
}

/* ---- top-K (space-saving, Metwally et al. 2005) ----------------------------- */

static uint32_t topk_words(uint32_t k)
{
    return (k + 63) / 64;
}

void topk_init_in(struct topk *t, struct topk_item *items, uint32_t k)
{
    t->items = items;
    t->k = k;
    t->at_min = (uint64_t *)(void *)(items + k);
    t->fp = (uint16_t *)(void *)(t->at_min + topk_words(k));
    topk_reset(t);
}

int topk_init(struct topk *t, uint32_t k)
{
    memset(t, 0, sizeof(*t));
    if (k == 0 || k > 4096)
        return -1;
    struct topk_item *items = calloc(TOPK_POOL_ITEMS(k), sizeof(*items));
    if (!items)
        return -1;
    topk_init_in(t, items, k);
    return 0;
}

#if defined(__SSE2__)
/* topk_find past the first eight slots (k > 8). */
__attribute__((noinline)) static int topk_find_rest(const struct topk *t, const uint8_t key[16],
                                                    __m128i want)
{
    for (uint32_t base = 8; base < t->n; base += 8) {
        __m128i got = _mm_loadu_si128((const __m128i *)(const void *)(t->fp + base));
        uint32_t m = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi16(got, want)) & 0x5555u;
        for (; m; m &= m - 1) {
            uint32_t i = base + (uint32_t)__builtin_ctz(m) / 2;
            if (topk_key_eq(&t->items[i], key))
                return (int)i;
        }
    }
    return -1;
}
#endif

/* The slot holding key, or -1.  The first eight fingerprints are always
 * there (they are kept in whole groups of eight) and those of slots not
 * in use are 0, which no key has: they are compared without asking n. */
static inline int topk_find(const struct topk *t, const uint8_t key[16], uint16_t fp)
{
#if defined(__SSE2__)
    __m128i want = _mm_set1_epi16((short)fp);
    __m128i got = _mm_loadu_si128((const __m128i *)(const void *)t->fp);
    /* two mask bits a 16-bit lane: keep the low one of each */
    uint32_t m = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi16(got, want)) & 0x5555u;
    for (; m; m &= m - 1) {
        uint32_t i = (uint32_t)__builtin_ctz(m) / 2;
        if (topk_key_eq(&t->items[i], key))
            return (int)i;
    }
    return t->n > 8 ? topk_find_rest(t, key, want) : -1;
#else
    for (uint32_t i = 0; i < t->n; i++)
        if (t->fp[i] == fp && topk_key_eq(&t->items[i], key))
            return (int)i;
    return -1;
#endif
}

/* The least count of the items and the slots that have it: one pass,
 * the bitmap in a register when k <= 64 (every top-K the rules make). */
void topk_rebuild_min(struct topk *t)
{
    uint64_t least = t->items[0].count;
    if (t->k <= 64) {
        uint64_t set = 1;
        for (uint32_t i = 1; i < t->n; i++) {
            uint64_t c = t->items[i].count;
            if (c < least) {
                least = c;
                set = 0;
            }
            if (c == least)
                set |= 1ull << i;
        }
        t->at_min[0] = set;
    } else {
        for (uint32_t i = 1; i < t->n; i++)
            if (t->items[i].count < least)
                least = t->items[i].count;
        memset(t->at_min, 0, topk_words(t->k) * sizeof(uint64_t));
        for (uint32_t i = 0; i < t->n; i++)
            if (t->items[i].count == least)
                t->at_min[i / 64] |= 1ull << (i % 64);
    }
    t->min_count = least;
}

/* The slot of the least counted key (the lowest of several). */
static uint32_t topk_victim(const struct topk *t)
{
    if (t->k <= 64)
        return (uint32_t)__builtin_ctzll(t->at_min[0]);
    uint32_t w = 0;
    while (!t->at_min[w])
        w++;
    return w * 64 + (uint32_t)__builtin_ctzll(t->at_min[w]);
}

/* The least set over several words (k > 64): empty only when every
 * word is. */
void topk_left_min_wide(struct topk *t, uint32_t s)
{
    t->at_min[s / 64] &= ~(1ull << (s % 64));
    for (uint32_t w = 0; w < topk_words(t->k); w++)
        if (t->at_min[w])
            return;
    topk_rebuild_min(t);
}

/* The whole update, with a lookup over every slot: the inline path of
 * sketch.h leaves it the top-Ks still filling and those of k > 16. */
void topk_add_rest(struct topk *t, const uint8_t key[16], uint16_t fp, uint64_t n)
{
    int hit = topk_find(t, key, fp);
    struct topk_item *it;
    uint32_t s;
    if (hit >= 0) {
        s = (uint32_t)hit;
        it = &t->items[s];
    } else if (t->n < t->k) {
        s = t->n++;
        it = &t->items[s];
        memcpy(it->key, key, 16);
        it->count = n;
        it->error = 0;
        t->fp[s] = fp;
        if (s == 0 || n < t->min_count) {
            memset(t->at_min, 0, topk_words(t->k) * sizeof(uint64_t));
            t->min_count = n;
        }
        if (n == t->min_count)
            t->at_min[s / 64] |= 1ull << (s % 64);
        return;
    } else {
        /* Full: the least counted key (the lowest slot of those) gives up
         * its slot; the newcomer inherits that count as its possible
         * over-estimate. */
        s = topk_victim(t);
        it = &t->items[s];
        memcpy(it->key, key, 16);
        t->fp[s] = fp;
        it->error = it->count;
    }
    topk_raise(t, s, n);
}

uint32_t topk_sorted(const struct topk *t, struct topk_item *out, uint32_t max)
{
    /* Selection of the max largest: k is small and this runs when a
     * finding is emitted, not per packet. */
    uint64_t taken[4096 / 64] = {0};
    uint32_t n = t->n < max ? t->n : max;
    for (uint32_t j = 0; j < n; j++) {
        uint32_t best = UINT32_MAX;
        for (uint32_t i = 0; i < t->n; i++) {
            if (taken[i / 64] & (1ull << (i % 64)))
                continue;
            if (best == UINT32_MAX || t->items[i].count > t->items[best].count)
                best = i;
        }
        if (best == UINT32_MAX)
            return j;
        taken[best / 64] |= 1ull << (best % 64);
        out[j] = t->items[best];
    }
    return n;
}

void topk_reset(struct topk *t)
{
    t->n = 0;
    t->min_count = 0;
    memset(t->at_min, 0, topk_words(t->k) * sizeof(uint64_t));
    memset(t->fp, 0, (t->k + 7) / 8 * 8 * sizeof(uint16_t));
}

void topk_free(struct topk *t)
{
    free(t->items);
    t->items = NULL;
    t->at_min = NULL;
    t->fp = NULL;
    t->k = t->n = 0;
}
