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
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"

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
    uint32_t index = (uint32_t)(hash >> (64 - h->p));
    uint64_t rest = hash << h->p;
    /* Position of the first 1 bit in the remaining 64-p bits; all-zero
     * rest gets the largest rank those bits can express. */
    uint8_t rank = rest ? (uint8_t)(__builtin_clzll(rest) + 1) : (uint8_t)(64 - h->p + 1);
    if (rank <= h->reg[index])
        return 0;
    h->reg[index] = rank;
    return 1;
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
    double raw = hll_alpha(m) * (double)m * (double)m / sum;
    if (raw <= 2.5 * m && zeros)
        return (double)m * log((double)m / zeros);
    return raw;
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

int topk_init(struct topk *t, uint32_t k)
{
    memset(t, 0, sizeof(*t));
    if (k == 0 || k > 4096)
        return -1;
    t->items = calloc(k, sizeof(*t->items));
    if (!t->items)
        return -1;
    t->k = k;
    return 0;
}

void topk_init_in(struct topk *t, struct topk_item *items, uint32_t k)
{
    t->items = items;
    t->k = k;
    t->n = 0;
}

void topk_add(struct topk *t, const uint8_t key[16], uint64_t n)
{
    uint32_t min_i = 0;
    for (uint32_t i = 0; i < t->n; i++) {
        if (memcmp(t->items[i].key, key, 16) == 0) {
            t->items[i].count += n;
            return;
        }
        if (t->items[i].count < t->items[min_i].count)
            min_i = i;
    }
    if (t->n < t->k) {
        struct topk_item *it = &t->items[t->n++];
        memcpy(it->key, key, 16);
        it->count = n;
        it->error = 0;
        return;
    }
    /* Full: the least counted key gives up its slot; the newcomer
     * inherits that count as its possible over-estimate. */
    struct topk_item *it = &t->items[min_i];
    memcpy(it->key, key, 16);
    it->error = it->count;
    it->count += n;
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
}

void topk_free(struct topk *t)
{
    free(t->items);
    t->items = NULL;
    t->k = t->n = 0;
}
