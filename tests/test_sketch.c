/* test_sketch.c — HyperLogLog, count-min and top-K (agent/detect/sketch.c).
 *
 * The detectors compare these estimates against thresholds, so what a user
 * notices is their accuracy at the sizes that matter (a handful of ports,
 * a million spoofed sources) and that feeding them more never costs more
 * memory.
 */
#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "agent/detect/sketch.h"
#include "common/hash.h"
#include "testutil.h"

static const uint64_t seed = 0x5eed5eed12345678ULL;

static double hll_count(uint8_t p, uint64_t n, uint64_t salt)
{
    struct hll h;
    ck_assert_int_eq(hll_init(&h, p), 0);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t key = i ^ salt;
        hll_add_hash(&h, hash_bytes(&key, sizeof(key), seed));
    }
    double e = hll_estimate(&h);
    hll_free(&h);
    return e;
}

/* Stated error at p = 14 (standard error 1.04/sqrt(16384) = 0.81%):
 * 10 and 100 within 1 and 2 (linear counting is near exact there),
 * 10k and 1M within 3%. */
START_TEST(hll_accuracy_p14)
{
    ck_assert_double_le(fabs(hll_count(14, 10, 1) - 10), 1.0);
    ck_assert_double_le(fabs(hll_count(14, 100, 2) - 100), 2.0);
    ck_assert_double_le(fabs(hll_count(14, 10000, 3) - 10000) / 10000, 0.03);
    ck_assert_double_le(fabs(hll_count(14, 1000000, 4) - 1000000) / 1000000, 0.03);
}
END_TEST

/* The small per-scanner sketches (p = 7, 128 bytes) the scan detectors
 * embed: the thresholds they compare against (10 to 30 ports or hosts)
 * stay within a few units, and large counts within 15%. */
START_TEST(hll_small_registers_near_exact)
{
    for (uint64_t salt = 0; salt < 20; salt++) {
        ck_assert_double_le(fabs(hll_count(7, 10, salt * 7919) - 10), 1.5);
        ck_assert_double_le(fabs(hll_count(7, 25, salt * 7919) - 25), 4.0);
    }
    ck_assert_double_le(fabs(hll_count(7, 1000, 5) - 1000) / 1000, 0.15);
    ck_assert_double_le(fabs(hll_count(7, 65535, 6) - 65535) / 65535, 0.15);
}
END_TEST

/* The estimate kept as registers rise (what the scan detectors read
 * after every new port or host) is the walk's, to the bit: every p, a
 * stream past the registers' saturation, a reset half-way, and hashes
 * whose rank passes 53 - p (the kept sum gives way to the walk). */
START_TEST(hll_kept_sum_equals_walk)
{
    for (uint8_t p = 4; p <= HLL_MAX_P; p++) {
        struct hll h;
        struct hll_sum s;
        ck_assert_int_eq(hll_init(&h, p), 0);
        hll_sum_clear(&s, p);
        uint64_t n = (uint64_t)40 << p, changed = 0;
        for (uint64_t i = 0; i < n; i++) {
            uint64_t hash = hash_bytes(&i, sizeof(i), seed ^ p);
            if (i == n / 2) {
                hll_reset(&h);
                hll_sum_clear(&s, p);
            }
            if (i % 5000 == 4999) /* rank 65 - p: all bits after the index zero */
                hash &= ~0ull << (64 - p);
            if (i % 7919 == 7918) /* rank 53 - p + 1 */
                hash = (hash & (~0ull << (64 - p))) | (1ull << (64 - p - (54 - p)));
            int rose = hll_add_hash_sum(&h, &s, hash);
            changed += (uint64_t)rose;
            if (rose || i % 97 == 0) {
                double walked = hll_estimate(&h), kept = hll_estimate_sum(&h, &s);
                ck_assert_mem_eq(&walked, &kept, sizeof(walked));
            }
        }
        ck_assert_uint_gt(changed, 1u << p);
        hll_free(&h);
    }
}
END_TEST

/* While registers are mostly zero the estimate is linear counting,
 * m * ln(m / zeros): the same double as libm gives it, for every count of
 * zero registers and every precision (the agent keeps the logarithms in
 * a table). */
START_TEST(hll_linear_counting_as_libm)
{
    for (uint8_t p = 4; p <= HLL_MAX_P; p++) {
        struct hll h;
        ck_assert_int_eq(hll_init(&h, p), 0);
        uint32_t m = 1u << p;
        for (uint32_t set = 0; set < m; set++) {
            double want = (double)m * log((double)m / (m - set));
            double raw_sum = (double)(m - set) + set * 0.5; /* registers of 0 and 1 */
            double raw = (m == 16   ? 0.673
                          : m == 32 ? 0.697
                          : m == 64 ? 0.709
                                    : 0.7213 / (1.0 + 1.079 / m)) *
                         (double)m * (double)m / raw_sum;
            if (raw <= 2.5 * m)
                ck_assert(hll_estimate(&h) == want);
            h.reg[set] = 1;
        }
        hll_free(&h);
    }
}
END_TEST

START_TEST(hll_duplicates_do_not_count)
{
    struct hll h;
    ck_assert_int_eq(hll_init(&h, 10), 0);
    uint64_t key = 80;
    ck_assert_int_eq(hll_add_hash(&h, hash_bytes(&key, 8, seed)), 1);
    for (int i = 0; i < 100000; i++)
        ck_assert_int_eq(hll_add_hash(&h, hash_bytes(&key, 8, seed)), 0);
    ck_assert_double_le(fabs(hll_estimate(&h) - 1.0), 0.01);
    hll_reset(&h);
    ck_assert_double_eq(hll_estimate(&h), 0.0);
    hll_free(&h);
}
END_TEST

START_TEST(hll_merge_is_union)
{
    struct hll a, b;
    uint8_t storage[1 << 12];
    ck_assert_int_eq(hll_init(&a, 12), 0);
    hll_init_buf(&b, 12, storage);
    for (uint64_t i = 0; i < 3000; i++)
        hll_add_hash(&a, hash_bytes(&i, 8, seed));
    for (uint64_t i = 2000; i < 5000; i++)
        hll_add_hash(&b, hash_bytes(&i, 8, seed));
    hll_merge(&a, &b);
    ck_assert_double_le(fabs(hll_estimate(&a) - 5000) / 5000, 0.05);
    hll_free(&a);
    hll_free(&b); /* caller storage: nothing to free, must not crash */
    ck_assert_int_eq(hll_init(&a, 3), -1);
    ck_assert_int_eq(hll_init(&a, 15), -1);
}
END_TEST

/* A skewed stream: key k appears about N/(k+1) times (Zipf-like). */
static uint32_t skewed_key(uint32_t i)
{
    return (uint32_t)(hash_mix64(i) % 5000) % (1 + i % 50);
}

START_TEST(cms_never_underestimates)
{
    struct cms c;
    ck_assert_int_eq(cms_init(&c, 1024, 4, seed), 0);
    static uint32_t exact[5000];
    memset(exact, 0, sizeof(exact));
    for (uint32_t i = 0; i < 200000; i++) {
        uint32_t k = skewed_key(i);
        exact[k]++;
        uint32_t est = cms_add(&c, &k, sizeof(k), 1);
        ck_assert_uint_ge(est, exact[k]);
    }
    uint64_t over = 0;
    for (uint32_t k = 0; k < 5000; k++) {
        uint32_t est = cms_estimate(&c, &k, sizeof(k));
        ck_assert_uint_ge(est, exact[k]);
        over += est - exact[k];
    }
    /* Conservative update keeps the average excess small: well under
     * e * N / width = 531 per key. */
    ck_assert_uint_lt(over / 5000, 531);
    cms_decay(&c);
    uint32_t k0 = 0;
    ck_assert_uint_ge(cms_estimate(&c, &k0, sizeof(k0)), exact[0] / 2);
    cms_reset(&c);
    ck_assert_uint_eq(cms_estimate(&c, &k0, sizeof(k0)), 0);
    cms_free(&c);
    ck_assert_int_eq(cms_init(&c, 0, 4, seed), -1);
}
END_TEST

START_TEST(topk_finds_heavy_hitters)
{
    struct topk t;
    ck_assert_int_eq(topk_init(&t, 256), 0);
    /* Five heavy sources among 200,000 one-off spoofed ones, interleaved;
     * space-saving keeps every key above N/k = 230,000/256 = 900. */
    uint8_t key[16];
    for (uint32_t i = 0; i < 200000; i++) {
        memset(key, 0, sizeof(key));
        uint32_t noise = 1000 + i;
        memcpy(key, &noise, 4);
        topk_add(&t, key, 1);
        if (i % 20 == 0) {
            memset(key, 0, sizeof(key));
            key[15] = (uint8_t)(1 + (i / 20) % 5);
            topk_add(&t, key, 1 + (i / 20) % 5); /* heavy k weighs k */
        }
    }
    struct topk_item top[5];
    ck_assert_uint_eq(topk_sorted(&t, top, 5), 5);
    for (int j = 0; j < 5; j++) {
        /* heaviest first: 5, 4, 3, 2, 1 */
        ck_assert_uint_eq(top[j].key[15], 5 - j);
        ck_assert_uint_ge(top[j].count, 2000u * (5 - j));
        ck_assert_uint_le(top[j].count - top[j].error, 2000u * (5 - j));
    }
    topk_reset(&t);
    ck_assert_uint_eq(topk_sorted(&t, top, 5), 0);
    topk_free(&t);
}
END_TEST

/* Space-saving as the paper states it, by a walk over every item: the
 * least counted key (the lowest slot of equal ones) gives up its slot and
 * its count becomes the newcomer's error.  The agent's indexed top-K must
 * hold the very same items in the very same slots after every update, so
 * the evidence a finding reports (which sources, which counts, which
 * errors, in which order) does not depend on how the minimum is found. */
struct ref_topk {
    uint32_t k, n;
    struct topk_item items[160];
};

static void ref_add(struct ref_topk *t, const uint8_t key[16], uint64_t n)
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
    struct topk_item *it = &t->items[min_i];
    memcpy(it->key, key, 16);
    it->error = it->count;
    it->count += n;
}

/* A stream over a universe of keys: random picks (u keys of which a few
 * are heavy), weights 0..3, so counts tie often. */
static void topk_matches_reference_once(uint32_t k, uint32_t universe, uint32_t steps,
                                        uint64_t salt)
{
    struct topk t;
    struct ref_topk r;
    memset(&r, 0, sizeof(r));
    r.k = k;
    ck_assert_int_eq(topk_init(&t, k), 0);
    uint64_t x = salt;
    for (uint32_t i = 0; i < steps; i++) {
        x = hash_mix64(x + 0x9e3779b97f4a7c15ULL);
        uint32_t pick = (uint32_t)(x % universe);
        if ((x >> 40) % 4 == 0)
            pick %= 3; /* three heavy keys */
        uint8_t key[16] = {0};
        if ((x >> 48) % 2) {
            memcpy(key, &pick, 4); /* an address-like key */
        } else {
            key[0] = (uint8_t)(pick >> 8); /* a port-like key */
            key[1] = (uint8_t)pick;
        }
        uint64_t n = (x >> 56) % 4 == 0 ? (x >> 58) % 4 : 1;
        topk_add(&t, key, n);
        ref_add(&r, key, n);
        ck_assert_uint_eq(t.n, r.n);
        if (memcmp(t.items, r.items, r.n * sizeof(r.items[0])) != 0) {
            for (uint32_t j = 0; j < r.n; j++) {
                ck_assert_msg(memcmp(t.items[j].key, r.items[j].key, 16) == 0,
                              "k %u step %u: slot %u holds another key", k, i, j);
                ck_assert_uint_eq(t.items[j].count, r.items[j].count);
                ck_assert_uint_eq(t.items[j].error, r.items[j].error);
            }
        }
        if (i == steps / 2) { /* a window restarts */
            topk_reset(&t);
            memset(&r, 0, sizeof(r));
            r.k = k;
        }
    }
    struct topk_item got[160];
    uint32_t m = topk_sorted(&t, got, k);
    ck_assert_uint_eq(m, r.n);
    for (uint32_t j = 1; j < m; j++)
        ck_assert_uint_ge(got[j - 1].count, got[j].count);
    topk_free(&t);
}

START_TEST(topk_matches_reference)
{
    static const uint32_t ks[] = {1, 2, 7, 8, 9, 10, 16, 17, 63, 64, 65, 130};
    for (size_t i = 0; i < sizeof(ks) / sizeof(ks[0]); i++) {
        /* few keys (hits, ties), about k keys, and many (every add a miss) */
        topk_matches_reference_once(ks[i], ks[i] / 2 + 1, 20000, 1 + i);
        topk_matches_reference_once(ks[i], ks[i] + 3, 20000, 100 + i);
        topk_matches_reference_once(ks[i], 70000, 20000, 200 + i);
    }
}
END_TEST

/* A fingerprint the caller derives from its own hash of the key (the
 * flood detector's source hash) gives the very items topk_add gives,
 * also when it says nothing (one value for every key: every lookup falls
 * back to the key compare). */
static void topk_fp_given_once(uint32_t k, uint32_t universe, uint64_t salt, bool constant_fp)
{
    struct topk a, b;
    ck_assert_int_eq(topk_init(&a, k), 0);
    ck_assert_int_eq(topk_init(&b, k), 0);
    uint64_t x = salt;
    for (uint32_t i = 0; i < 20000; i++) {
        x = hash_mix64(x + 0x9e3779b97f4a7c15ULL);
        uint32_t pick = (uint32_t)(x % universe);
        if ((x >> 40) % 4 == 0)
            pick %= 3;
        uint8_t key[16] = {0};
        memcpy(key + 12, &pick, 4);
        uint64_t n = (x >> 56) % 4 == 0 ? (x >> 58) % 4 : 1;
        uint16_t fp = constant_fp ? 1 : (uint16_t)(hash_bytes(key, 16, seed) >> 48) | 1u;
        topk_add(&a, key, n);
        topk_add_fp(&b, key, fp, n);
        ck_assert_uint_eq(a.n, b.n);
        ck_assert_msg(memcmp(a.items, b.items, a.n * sizeof(a.items[0])) == 0,
                      "k %u step %u: the items differ", k, i);
        if (i == 10000) {
            topk_reset(&a);
            topk_reset(&b);
        }
    }
    topk_free(&a);
    topk_free(&b);
}

START_TEST(topk_given_fingerprint_same_items)
{
    static const uint32_t ks[] = {1, 2, 8, 9, 10, 16, 17, 64, 65};
    for (size_t i = 0; i < sizeof(ks) / sizeof(ks[0]); i++) {
        topk_fp_given_once(ks[i], ks[i] + 3, 300 + i, false);
        topk_fp_given_once(ks[i], 70000, 400 + i, false);
        topk_fp_given_once(ks[i], ks[i] * 2, 500 + i, true);
    }
}
END_TEST

/* The same through a pool the caller owns, as the detectors hold them:
 * neighbouring top-Ks in one allocation do not disturb each other. */
START_TEST(topk_pool_neighbours_independent)
{
    const uint32_t k = 8;
    struct topk_item *pool = calloc(3 * TOPK_POOL_ITEMS(k), sizeof(*pool));
    ck_assert_ptr_nonnull(pool);
    struct topk t[3];
    for (int i = 0; i < 3; i++)
        topk_init_in(&t[i], pool + i * TOPK_POOL_ITEMS(k), k);
    uint8_t key[16] = {0};
    for (uint32_t i = 0; i < 10000; i++) {
        memcpy(key, &i, 4);
        topk_add(&t[1], key, 1); /* the middle one churns */
        key[15] = (uint8_t)(i % 3);
        memset(key, 0, 4);
        topk_add(&t[0], key, 1);
        topk_add(&t[2], key, 2);
        key[15] = 0;
    }
    struct topk_item top[8];
    ck_assert_uint_eq(topk_sorted(&t[0], top, 8), 3);
    ck_assert_uint_eq(top[0].count + top[1].count + top[2].count, 10000);
    ck_assert_uint_eq(top[0].error, 0);
    ck_assert_uint_eq(topk_sorted(&t[2], top, 8), 3);
    ck_assert_uint_eq(top[0].count + top[1].count + top[2].count, 20000);
    ck_assert_uint_eq(topk_sorted(&t[1], top, 8), 8);
    /* 10,000 one-off keys over 8 slots: every count is inherited */
    ck_assert_uint_eq(top[0].count, 1250);
    ck_assert_uint_eq(top[7].count, 1250);
    ck_assert_uint_eq(top[0].error, 1249);
    free(pool);
}
END_TEST

/* Feeding a million distinct keys keeps resident memory flat. */
START_TEST(memory_is_constant)
{
    struct hll h;
    struct cms c;
    struct topk t;
    ck_assert_int_eq(hll_init(&h, 14), 0);
    ck_assert_int_eq(cms_init(&c, 4096, 4, seed), 0);
    ck_assert_int_eq(topk_init(&t, 64), 0);
    long rss_before = rss_peak_reset();
    ck_assert_msg(rss_before > 0, "cannot read /proc/self/status or reset its VmHWM");
    uint8_t key[16] = {0};
    for (uint32_t i = 0; i < 1000000; i++) {
        memcpy(key, &i, 4);
        hll_add_hash(&h, hash_bytes(key, 16, seed));
        cms_add(&c, key, 16, 1);
        topk_add(&t, key, 1);
    }
    /* The registers and counters themselves (about 100 KiB) are touched
     * for the first time here; a byte per key would be a megabyte. */
    long grew_kib = rss_peak_kib() - rss_before;
    ck_assert_msg(grew_kib < 512, "resident memory grew by %ld KiB over a million keys", grew_kib);
    ck_assert_uint_le(t.n, 64);
    hll_free(&h);
    cms_free(&c);
    topk_free(&t);
}
END_TEST

static Suite *sketch_suite(void)
{
    Suite *s = suite_create("sketch");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, hll_accuracy_p14);
    tcase_add_test(tc, hll_small_registers_near_exact);
    tcase_add_test(tc, hll_duplicates_do_not_count);
    tcase_add_test(tc, hll_linear_counting_as_libm);
    tcase_add_test(tc, hll_kept_sum_equals_walk);
    tcase_add_test(tc, hll_merge_is_union);
    tcase_add_test(tc, cms_never_underestimates);
    tcase_add_test(tc, topk_finds_heavy_hitters);
    tcase_add_test(tc, topk_matches_reference);
    tcase_add_test(tc, topk_given_fingerprint_same_items);
    tcase_add_test(tc, topk_pool_neighbours_independent);
    tcase_add_test(tc, memory_is_constant);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(sketch_suite());
}
