/* sketch.h — fixed-size summaries of sets an attacker can make grow.
 *
 *   hll_*    HyperLogLog distinct counts (2^p one-byte registers, p 4..14),
 *            with the small-range (linear counting) correction so small
 *            counts — the ones thresholds care about — are near exact.
 *   cms_*    count-min sketch: "how often has this key been seen" upper
 *            bounds with fixed width x depth counters.
 *   topk_*   space-saving top-K heavy hitters over 16-byte keys
 *            (addresses) or small integers (ports), with counts and error.
 *
 * All memory is taken once at init (or embedded by the caller); no
 * function here allocates per update.
 */
#ifndef CANH_SKETCH_H
#define CANH_SKETCH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* ---- HyperLogLog ---- */
#define HLL_MAX_P 14

struct hll {
    uint8_t p;    /* registers = 1 << p */
    uint8_t *reg; /* caller-provided or hll_init-allocated */
    uint8_t owns;
};

/* Allocate 1<<p registers (p 4..14); -1 on bad p or no memory. */
int hll_init(struct hll *h, uint8_t p);
/* Use caller storage of (1 << p) bytes (e.g. inside a table entry). */
void hll_init_buf(struct hll *h, uint8_t p, uint8_t *storage);
void hll_reset(struct hll *h);
/* Add an element by its 64-bit hash (hash it with hash_bytes and a seed).
 * Returns 1 when a register grew (the estimate may have changed), else 0,
 * so callers can cache the estimate and recompute it only then. */
int hll_add_hash(struct hll *h, uint64_t hash);
/* hll_add_hash where the caller knows h->p (a constant): its shifts then
 * take no register.  p must be h->p. */
static inline int hll_add_hash_p(struct hll *h, uint64_t hash, uint8_t p)
{
    uint32_t index = (uint32_t)(hash >> (64 - p));
    uint64_t rest = hash << p;
    /* Position of the first 1 bit in the remaining 64-p bits; all-zero
     * rest gets the largest rank those bits can express. */
    uint8_t rank = rest ? (uint8_t)(__builtin_clzll(rest) + 1) : (uint8_t)(64 - p + 1);
    if (rank <= h->reg[index])
        return 0;
    h->reg[index] = rank;
    return 1;
}
double hll_estimate(const struct hll *h);
/* The estimate kept up to date as registers rise, for callers that
 * estimate after every change (the scan detectors): the sum of 2^-reg in
 * units of 2^-(53 - p) and the zero registers.  While every register is
 * at most 53 - p, the walk of hll_estimate adds only exact doubles (every
 * partial sum is a multiple of 2^-(53 - p) below 2^p), so the kept sum
 * is the walk's to the bit; a register past that (a chance of 2^-(53-p)
 * an element) sets walk and the estimate walks as before. */
struct hll_sum {
    uint64_t units;
    uint32_t zeros;
    uint32_t walk;
};
/* For 1 << p registers all zero (clear the registers with it). */
void hll_sum_clear(struct hll_sum *s, uint8_t p);
/* hll_add_hash that keeps s, which must match h's registers. */
int hll_add_hash_sum(struct hll *h, struct hll_sum *s, uint64_t hash);
/* hll_estimate(h), the same double, from s. */
double hll_estimate_sum(const struct hll *h, const struct hll_sum *s);
/* Merge src into dst (same p). */
void hll_merge(struct hll *dst, const struct hll *src);
void hll_free(struct hll *h);

/* ---- count-min ---- */
struct cms {
    uint32_t width, depth;
    uint32_t *counters; /* depth rows of width */
    uint64_t seed;
};

/* width x depth counters (depth 1..16); -1 on bad sizes or no memory. */
int cms_init(struct cms *c, uint32_t width, uint32_t depth, uint64_t seed);
/* Add n to key's count (conservative update: only the rows at the current
 * minimum grow, which still never underestimates); returns the new
 * estimate.  Counters saturate at UINT32_MAX. */
uint32_t cms_add(struct cms *c, const void *key, size_t len, uint32_t n);
uint32_t cms_estimate(const struct cms *c, const void *key, size_t len);
void cms_reset(struct cms *c);
/* Halve every counter (ageing between windows). */
void cms_decay(struct cms *c);
void cms_free(struct cms *c);

/* ---- top-K (space-saving) ---- */
struct topk_item {
    uint8_t key[16];
    uint64_t count;
    uint64_t error; /* over-estimate bound inherited on replacement */
};

/* Space-saving exactly as in Metwally et al.: a key not monitored takes
 * the slot of the least counted one — of several, the lowest slot — and
 * inherits its count as error.  Two small indexes make an update O(1)
 * amortised instead of a walk over all k items with a key compare each:
 * a 16-bit fingerprint per slot (a miss compares fingerprints, eight at
 * a time with SSE2, and keys only where they match) and the set of slots
 * at the least count (a bitmap whose lowest bit is the slot to evict; it
 * is rebuilt by a walk over the counts only when it runs empty). */
struct topk {
    uint32_t k;
    uint32_t n; /* items in use */
    struct topk_item *items;
    uint64_t min_count; /* the least count of the n items */
    uint64_t *at_min;   /* bitmap of the slots whose count is min_count */
    uint16_t *fp;       /* per slot, the fingerprint of its key */
};

/* topk_item units a caller-owned top-K of k keys takes: the k items and,
 * after them, the two indexes (fingerprints rounded up to whole groups of
 * eight, the width they are compared at). */
#define TOPK_POOL_ITEMS(k)                                                                         \
    ((k) + (((k) + 63) / 64 * 8 + ((k) + 7) / 8 * 16 + sizeof(struct topk_item) - 1) /             \
               sizeof(struct topk_item))

/* k monitored keys (1..4096); -1 on bad k or no memory. */
int topk_init(struct topk *t, uint32_t k);
/* The same over TOPK_POOL_ITEMS(k) items the caller owns (a slice of one
 * pool allocated at start, handed out when a table slot is first claimed,
 * so slots never used never become resident).  Such a top-K is never
 * topk_free'd. */
void topk_init_in(struct topk *t, struct topk_item *items, uint32_t k);

/* The update is inline below for the top-Ks the rules make (k <= 16: a
 * flood's sources and ports, an http flood's clients and URLs), which
 * take it for every packet or request; these do the rest out of line. */
/* Any key when k > 16, a key not monitored while the top-K fills. */
void topk_add_rest(struct topk *t, const uint8_t key[16], uint16_t fp, uint64_t n);
/* The least count and the set of slots at it, found again by a walk once
 * the set ran empty (every slot at the least count was raised). */
void topk_rebuild_min(struct topk *t);
/* Slot s left the least set of a top-K of k > 64 (several words). */
void topk_left_min_wide(struct topk *t, uint32_t s);

/* The 16-bit fingerprint topk_add gives a key: the high bits of a
 * multiply of its two words, never 0 (the fingerprint of a slot not in
 * use, so a lookup needs no mask of the slots in use).  Unseeded: keys an
 * attacker makes collide cost only the key compares every miss made
 * before fingerprints. */
static inline uint16_t topk_fp(const uint8_t key[16])
{
    uint64_t a, b;
    memcpy(&a, key, 8);
    memcpy(&b, key + 8, 8);
    return (uint16_t)(((a ^ (b * 0x9e3779b97f4a7c15ULL)) * 0xff51afd7ed558ccdULL) >> 48) | 1u;
}

static inline int topk_key_eq(const struct topk_item *it, const uint8_t key[16])
{
    uint64_t a[2], b[2];
    memcpy(a, it->key, 16);
    memcpy(b, key, 16);
    return ((a[0] ^ b[0]) | (a[1] ^ b[1])) == 0;
}

/* Bit i of the answer: slot i (of the first 16; fingerprints are kept in
 * whole groups of eight, and those of slots not in use are 0) has
 * fingerprint fp. */
static inline uint32_t topk_fp_match16(const struct topk *t, uint16_t fp)
{
#if defined(__SSE2__)
    __m128i want = _mm_set1_epi16((short)fp);
    __m128i low = _mm_cmpeq_epi16(_mm_loadu_si128((const __m128i *)(const void *)t->fp), want);
    __m128i high = _mm_setzero_si128();
    if (t->k > 8)
        high = _mm_cmpeq_epi16(_mm_loadu_si128((const __m128i *)(const void *)(t->fp + 8)), want);
    /* a lane's 16 bits to one byte each, so a slot is one mask bit */
    return (uint32_t)_mm_movemask_epi8(_mm_packs_epi16(low, high));
#else
    uint32_t m = 0, groups = t->k > 8 ? 16 : 8;
    for (uint32_t i = 0; i < groups; i++)
        m |= (uint32_t)(t->fp[i] == fp) << i;
    return m;
#endif
}

/* Slot s (its count min_count or not) was counted n more times. */
static inline void topk_raise(struct topk *t, uint32_t s, uint64_t n)
{
    struct topk_item *it = &t->items[s];
    uint64_t was = it->count;
    it->count = was + n;
    if (n == 0 || was != t->min_count)
        return;
    if (t->n == 1) { /* one key: it is the least whatever its count */
        t->min_count = was + n;
        return;
    }
    /* It left the least set: rebuilt once the set is empty, after as
     * many raises as it had members. */
    if (t->k > 64)
        topk_left_min_wide(t, s);
    else if ((t->at_min[0] &= ~(1ull << s)) == 0)
        topk_rebuild_min(t);
}

/* topk_add with the key's 16-bit fingerprint given (never 0): a caller
 * that already hashed the key takes its high bits.  Every add of one
 * top-K must derive it the same way; the items are topk_add's. */
static inline void topk_add_fp(struct topk *t, const uint8_t key[16], uint16_t fp, uint64_t n)
{
    if (t->k > 16) {
        topk_add_rest(t, key, fp, n);
        return;
    }
    for (uint32_t m = topk_fp_match16(t, fp); m; m &= m - 1) {
        uint32_t s = (uint32_t)__builtin_ctz(m);
        if (topk_key_eq(&t->items[s], key)) {
            topk_raise(t, s, n);
            return;
        }
    }
    if (t->n < t->k) {
        topk_add_rest(t, key, fp, n);
        return;
    }
    /* Full, and a key not monitored: the least counted key (the lowest
     * slot of those) gives up its slot and the newcomer inherits its
     * count as its possible over-estimate.  That count is min_count, so
     * the slot leaves the least set unless n is 0 or it is the only one
     * (k = 1, where the set stays and the count is the least). */
    uint64_t least = t->at_min[0];
    uint32_t s = (uint32_t)__builtin_ctzll(least);
    struct topk_item *it = &t->items[s];
    memcpy(it->key, key, 16);
    t->fp[s] = fp;
    it->error = it->count;
    it->count += n;
    if (n == 0)
        return;
    if (t->k == 1) {
        t->min_count = it->count;
        return;
    }
    if ((t->at_min[0] = least & (least - 1)) == 0)
        topk_rebuild_min(t);
}

/* Count key (16 bytes; shorter keys zero-padded by the caller) n times.
 * O(1) amortised for k up to a few hundred (see struct topk). */
static inline void topk_add(struct topk *t, const uint8_t key[16], uint64_t n)
{
    /* The one key again (the port of a one-port flood): no fingerprint. */
    if (t->n == 1 && topk_key_eq(&t->items[0], key)) {
        t->min_count = t->items[0].count += n;
        return;
    }
    topk_add_fp(t, key, topk_fp(key), n);
}

/* Items sorted by count, highest first (equal counts: lower slot first),
 * into out (up to max); returns n. */
uint32_t topk_sorted(const struct topk *t, struct topk_item *out, uint32_t max);
void topk_reset(struct topk *t);
void topk_free(struct topk *t);

#endif
