/* test_scan_table.c — the scan detectors' table and doorkeeper
 * (agent/detect/scan/scan_table.c) and the memory they sit on
 * (agent/detect/table_mem.c).
 *
 * What an operator notices: every key a scanner uses is found again
 * whatever way of its bucket it sits in, and the doorkeeper's
 * "pending_overwritten" counter (in the agent's statistics) counts exactly
 * the first packets lost while they were still live — also when the
 * answer is decided from the tag line's coarse times.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/detect/scan/scan_detector.h"
#include "agent/detect/scan/scan_table.h"
#include "agent/detect/table_mem.h"
#include "testutil.h"

#define MIB ((size_t)1 << 20)

static void key_of(uint8_t key[SCAN_KEY_LEN], uint32_t i)
{
    memset(key, 0, SCAN_KEY_LEN);
    memcpy(key, &i, sizeof(i));
    key[20] = 0xa5;
}

/* One bucket (capacity 8): eight keys fill its eight ways; each is found,
 * also once its finding is open, and a ninth key is not. */
START_TEST(every_way_is_found)
{
    struct scan_table t;
    ck_assert_int_eq(scan_table_init(&t, SCAN_WAYS, 256, 64, 32, 42, NULL, NULL), 0);
    ck_assert_uint_eq(t.n_buckets, 1);
    uint8_t key[SCAN_KEY_LEN];
    void *e[SCAN_WAYS];
    for (uint32_t i = 0; i < SCAN_WAYS; i++) {
        bool created;
        key_of(key, i);
        e[i] = scan_table_get(&t, key, scan_table_hash(&t, key), 1000 + i, &created);
        ck_assert(created);
    }
    scan_table_open_link(&t, e[3]);
    for (uint32_t i = 0; i < SCAN_WAYS; i++) {
        key_of(key, i);
        ck_assert_ptr_eq(scan_table_find(&t, key, scan_table_hash(&t, key), 2000), e[i]);
    }
    key_of(key, SCAN_WAYS);
    ck_assert_ptr_null(scan_table_find(&t, key, scan_table_hash(&t, key), 2000));
    scan_table_free(&t);
}
END_TEST

/* A hash in the doorkeeper's only bucket (pending capacity 8). */
static uint64_t pending_hash(uint32_t i)
{
    return ((uint64_t)i << 40) | ((uint64_t)i << 8) | 0x10;
}

/* Eight records fill the bucket; the ninth key's record takes the oldest's
 * place.  Overwritten "while live" is counted exactly at the idle
 * boundary, in the microsecond, where the tag line's coarse time (1,024 us
 * units) cannot tell and the record itself decides, and far from it,
 * where the tag line alone does. */
START_TEST(pending_overwrites_counted_exactly)
{
    struct scan_table t;
    ck_assert_int_eq(scan_table_init(&t, SCAN_WAYS, 256, SCAN_PENDING_WAYS, 32, 7, NULL, NULL), 0);
    t.idle_us = 10000000; /* 10 s */
    const uint64_t t0 = 1700000000000000ull;
    uint32_t next = 1;
    for (uint32_t i = 0; i < SCAN_PENDING_WAYS; i++)
        ck_assert_ptr_nonnull(scan_table_pending_start(&t, pending_hash(next++), t0 + i * 5000));
    ck_assert_uint_eq(t.pending_overwritten, 0);
    /* Well inside idle_us of the oldest (t0): live, counted. */
    scan_table_pending_start(&t, pending_hash(next++), t0 + 2000000);
    ck_assert_uint_eq(t.pending_overwritten, 1);
    /* The oldest is now t0 + 5,000: exactly idle_us later it is still live
     * (idle means more than idle_us), one microsecond more and it is not. */
    scan_table_pending_start(&t, pending_hash(next++), t0 + 5000 + 10000000);
    ck_assert_uint_eq(t.pending_overwritten, 2);
    scan_table_pending_start(&t, pending_hash(next++), t0 + 10000 + 10000000 + 1);
    ck_assert_uint_eq(t.pending_overwritten, 2);
    /* Long after every record: all idle, none counted, and the keys that
     * were overwritten are gone while the newest is found. */
    uint64_t late = t0 + 100000000;
    for (uint32_t i = 0; i < SCAN_PENDING_WAYS; i++)
        scan_table_pending_start(&t, pending_hash(next++), late + i);
    ck_assert_uint_eq(t.pending_overwritten, 2);
    ck_assert_ptr_null(scan_table_pending_find(&t, pending_hash(1), late + 10));
    ck_assert_ptr_nonnull(scan_table_pending_find(&t, pending_hash(next - 1), late + 10));
    ck_assert_uint_eq(t.pending_started, next - 1);
    scan_table_free(&t);
}
END_TEST

/* In emergency mode a record counts as live for emergency_idle_us only:
 * a first packet given up after that is not counted as lost, also when
 * the tag line's coarse times alone decide (far from the boundary). */
START_TEST(pending_overwrites_follow_emergency_idle)
{
    struct scan_table t;
    ck_assert_int_eq(scan_table_init(&t, SCAN_WAYS, 256, SCAN_PENDING_WAYS, 32, 7, NULL, NULL), 0);
    t.idle_us = 10000000;          /* 10 s */
    t.emergency_idle_us = 1000000; /* 1 s */
    const uint64_t t0 = 1700000000000000ull;
    uint32_t next = 1;
    for (uint32_t i = 0; i < SCAN_PENDING_WAYS; i++)
        scan_table_pending_start(&t, pending_hash(next++), t0 + i * 1000);
    t.emergency = true;
    /* 3 s after the oldest: live by idle_us, idle by emergency_idle_us. */
    scan_table_pending_start(&t, pending_hash(next++), t0 + 3000000);
    ck_assert_uint_eq(t.pending_overwritten, 0);
    t.emergency = false;
    scan_table_pending_start(&t, pending_hash(next++), t0 + 3000000);
    ck_assert_uint_eq(t.pending_overwritten, 1);
    scan_table_free(&t);
}
END_TEST

/* Sweep keys a source alone (its last 16 bytes zero): the shortcut hash
 * is the table's hash of that key, so the entry is found either way. */
START_TEST(source_hash_is_the_key_hash)
{
    for (uint64_t seed = 1; seed < 2000; seed += 97) {
        struct scan_table t;
        ck_assert_int_eq(
            scan_table_init(&t, SCAN_WAYS, 256, SCAN_PENDING_WAYS, 32, seed, NULL, NULL), 0);
        for (uint32_t i = 0; i < 64; i++) {
            uint8_t key[SCAN_KEY_LEN] = {0};
            memcpy(key, &i, sizeof(i));
            key[10] = 0xff; /* an IPv4-mapped address ... */
            key[11] = 0xff;
            key[15] = (uint8_t)(seed * 31 + i);
            if (i % 3 == 0)
                memset(key, (int)(i * 7 + seed), 16); /* ... or any 16 bytes */
            ck_assert_uint_eq(scan_table_hash_src(&t, key), scan_table_hash(&t, key));
        }
        scan_table_free(&t);
    }
}
END_TEST

/* The exact ports of an entry (scan_detector_count_port): a port counts
 * once, and the ports a restarted entry left past its count (they are
 * not cleared) do not make a new port look seen.  Caps of 32 (portscan),
 * 8 (sweep's ports) and one that is no multiple of 8. */
START_TEST(exact_ports_counted_once)
{
    struct scan_detector d;
    memset(&d, 0, sizeof(d));
    d.table.seed = 3;
    const uint8_t caps[] = {32, 8, 13};
    for (size_t k = 0; k < sizeof(caps); k++) {
        uint8_t cap = caps[k];
        uint16_t exact[32];
        for (int i = 0; i < 32; i++)
            exact[i] = (uint16_t)(7000 + i); /* stale, as after a restart */
        uint8_t n = 0, reg[16] = {0};
        uint16_t count = 0;
        for (uint16_t i = 0; i < cap; i++) {
            uint16_t port = (uint16_t)(7000 + cap - 1 - i); /* each one stale somewhere */
            scan_detector_count_port(&d, exact, &n, cap, reg, NULL, 4, port, &count);
            ck_assert_uint_eq(count, i + 1u);
            /* Again, and every port so far: still seen once. */
            for (uint16_t j = 0; j <= i; j++)
                scan_detector_count_port(&d, exact, &n, cap, reg, NULL, 4,
                                         (uint16_t)(7000 + cap - 1 - j), &count);
            ck_assert_uint_eq(count, i + 1u);
            ck_assert_uint_eq(n, i + 1u);
        }
        /* Past the exact ports, a new one goes to the HyperLogLog. */
        scan_detector_count_port(&d, exact, &n, cap, reg, NULL, 4, 9, &count);
        ck_assert_uint_eq(n, cap);
        ck_assert_uint_ge(count, cap + 1u);
    }
}
END_TEST

/* One event's evidence as a detector writes it (event_text.h's writer
 * into the detector's kept buffer): n ports, and the outward member or
 * not. */
static const char *write_evidence(struct event_text *t, const char *type, int n, bool outward)
{
    struct event_text_writer w;
    event_text_start(&w, t, JSON_COMPACT);
    event_text_object(&w, NULL);
    event_text_string(&w, "scan_type", type);
    event_text_array(&w, "sample_ports");
    for (int i = 0; i < n; i++)
        event_text_int(&w, NULL, 100 + i * n);
    event_text_array_end(&w);
    event_text_array(&w, "sample_hosts");
    for (int i = 0; i < n % 3; i++)
        event_text_string(&w, NULL, i ? "2001:db8::1" : "192.0.2.1");
    event_text_array_end(&w);
    if (outward)
        event_text_string(&w, "direction", "outbound");
    event_text_object_end(&w);
    ck_assert_int_eq(event_text_finish(&w), 0);
    return t->buf;
}

/* The same evidence built fresh, as json_pack would. */
static json_t *fresh_evidence(const char *type, int n, bool outward)
{
    json_t *ports = json_array(), *hosts = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(ports, json_integer(100 + i * n));
    for (int i = 0; i < n % 3; i++)
        json_array_append_new(hosts, json_string(i ? "2001:db8::1" : "192.0.2.1"));
    json_t *o = json_pack("{s:s, s:o, s:o}", "scan_type", type, "sample_ports", ports,
                          "sample_hosts", hosts);
    if (outward)
        json_object_set_new(o, "direction", json_string("outbound"));
    return o;
}

/* A detector's event objects, written as text into buffers it keeps:
 * every event reads as jansson's dump of a fresh object (same members,
 * same order), whatever the last one held, longer or shorter; and the
 * text parses back to that object (what the tree path gives consumers). */
START_TEST(event_text_reads_as_a_fresh_object)
{
    struct event_text kept = {0};
    const struct {
        const char *type;
        int n;
        bool outward;
    } seq[] = {{"syn", 10, false}, {"syn", 4, true},  {"connect", 7, false}, {"udp", 0, true},
               {"udp", 10, true},  {"fin", 2, false}, {"xmas", 3, false},    {"ack", 9, true}};
    for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
        const char *got = write_evidence(&kept, seq[i].type, seq[i].n, seq[i].outward);
        json_t *want = fresh_evidence(seq[i].type, seq[i].n, seq[i].outward);
        char *text = json_dumps(want, JSON_COMPACT);
        ck_assert_str_eq(got, text);
        ck_assert_uint_eq(kept.len, strlen(text));
        json_t *back = json_loadb(kept.buf, kept.len, 0, NULL);
        ck_assert(json_equal(back, want));
        json_decref(back);
        free(text);
        json_decref(want);
    }
    event_text_free(&kept);
}
END_TEST

/* A key's first packet through the per-packet pair (scan_table_lookup,
 * then scan_table_pending_take): the record it starts is found, then, at
 * its second packet, handed to the caller live; once idle the key starts
 * over in its own old record, and a new key in the full bucket takes the
 * record of the oldest first packet, counted as overwritten while live
 * as scan_table_pending_start counts it.  A key with an entry is found in
 * the table, the doorkeeper left alone. */
START_TEST(lookup_then_take_starts_the_right_record)
{
    struct scan_table t;
    ck_assert_int_eq(scan_table_init(&t, SCAN_WAYS, 256, SCAN_PENDING_WAYS, 32, 11, NULL, NULL), 0);
    t.idle_us = 10000000; /* 10 s */
    const uint64_t t0 = 1700000000000000ull;
    uint8_t key[SCAN_KEY_LEN];
    struct scan_look lk;
    void *rec[SCAN_PENDING_WAYS + 1];
    for (uint32_t k = 1; k <= SCAN_PENDING_WAYS; k++) {
        key_of(key, k);
        ck_assert_ptr_null(scan_table_lookup(&t, key, pending_hash(k), t0 + k * 5000, &lk));
        ck_assert_ptr_null(lk.pending);
        ck_assert_int_eq(lk.pway, -1);
        rec[k] = scan_table_pending_take(&t, &lk, pending_hash(k), t0 + k * 5000);
        ck_assert_ptr_eq(scan_table_pending_find(&t, pending_hash(k), t0 + k * 5000), rec[k]);
    }
    ck_assert_uint_eq(t.pending_started, SCAN_PENDING_WAYS);
    ck_assert_uint_eq(t.pending_overwritten, 0);
    /* The second packet of key 3 finds its live record. */
    key_of(key, 3);
    ck_assert_ptr_null(scan_table_lookup(&t, key, pending_hash(3), t0 + 100000, &lk));
    ck_assert_ptr_eq(lk.pending, rec[3]);
    /* Key 9, bucket full: the oldest (key 1, still live) makes room. */
    key_of(key, 9);
    ck_assert_ptr_null(scan_table_lookup(&t, key, pending_hash(9), t0 + 200000, &lk));
    ck_assert_ptr_eq(scan_table_pending_take(&t, &lk, pending_hash(9), t0 + 200000), rec[1]);
    ck_assert_uint_eq(t.pending_overwritten, 1);
    ck_assert_ptr_null(scan_table_pending_find(&t, pending_hash(1), t0 + 200000));
    /* Key 3 again long after: its record is idle, not handed out, and the
     * key starts over in it (nothing else is given up, nothing counted). */
    uint64_t late = t0 + 30000000;
    key_of(key, 3);
    ck_assert_ptr_null(scan_table_lookup(&t, key, pending_hash(3), late, &lk));
    ck_assert_ptr_null(lk.pending);
    ck_assert_int_ge(lk.pway, 0);
    ck_assert_ptr_eq(scan_table_pending_take(&t, &lk, pending_hash(3), late), rec[3]);
    ck_assert_uint_eq(t.pending_overwritten, 1);
    ck_assert_ptr_eq(scan_table_pending_find(&t, pending_hash(3), late), rec[3]);
    /* A key with an entry: the entry. */
    bool created;
    key_of(key, 20);
    uint64_t h = scan_table_hash(&t, key);
    void *e = scan_table_get(&t, key, h, late, &created);
    ck_assert_ptr_eq(scan_table_lookup(&t, key, h, late + 1, &lk), e);
    ck_assert_uint_eq(t.pending_started, SCAN_PENDING_WAYS + 2);
    scan_table_free(&t);
}
END_TEST

/* Whether each of keys[0..n) still has its pending record. */
static void expect_pending(struct scan_table *t, const uint32_t *keys, size_t n, bool present,
                           uint64_t now_us)
{
    for (size_t i = 0; i < n; i++) {
        void *p = scan_table_pending_find(t, pending_hash(keys[i]), now_us);
        if (present)
            ck_assert_msg(p != NULL, "key %u lost its record", keys[i]);
        else
            ck_assert_msg(p == NULL, "key %u kept its record", keys[i]);
    }
}

/* A full doorkeeper bucket gives up the record of the oldest first packet,
 * the first of them in way order when several share the oldest time (to
 * the tag line's 1,024 us), wherever in the bucket it sits, also when the
 * coarse times are past 2^31 (they are unsigned). */
START_TEST(pending_gives_up_the_first_oldest)
{
    struct scan_table t;
    ck_assert_int_eq(scan_table_init(&t, SCAN_WAYS, 256, SCAN_PENDING_WAYS, 32, 9, NULL, NULL), 0);
    t.idle_us = UINT64_MAX / 4; /* nothing goes idle: every record stays findable */
    const uint64_t t0 = 1700000000000000ull;
    /* Key 1 at t0, keys 2..8 together 50 ms later; key 1 again later still:
     * the oldest are 2..8, tied, in ways 1..7. */
    scan_table_pending_start(&t, pending_hash(1), t0);
    for (uint32_t k = 2; k <= 8; k++)
        scan_table_pending_start(&t, pending_hash(k), t0 + 50000 + k);
    scan_table_pending_start(&t, pending_hash(1), t0 + 60000);
    ck_assert_uint_eq(t.pending_started, 9);
    scan_table_pending_start(&t, pending_hash(9), t0 + 70000);
    const uint32_t gone2[] = {2}, kept2[] = {1, 3, 4, 5, 6, 7, 8, 9};
    expect_pending(&t, gone2, 1, false, t0 + 70000);
    expect_pending(&t, kept2, 8, true, t0 + 70000);
    scan_table_pending_start(&t, pending_hash(10), t0 + 80000);
    const uint32_t gone3[] = {2, 3}, kept3[] = {1, 4, 5, 6, 7, 8, 9, 10};
    expect_pending(&t, gone3, 2, false, t0 + 80000);
    expect_pending(&t, kept3, 8, true, t0 + 80000);
    scan_table_free(&t);

    /* 2^41 us (25 days) after the epoch, without a tick to rebase, the
     * coarse times pass 2^31: still later than the record of day 0. */
    ck_assert_int_eq(scan_table_init(&t, SCAN_WAYS, 256, SCAN_PENDING_WAYS, 32, 9, NULL, NULL), 0);
    t.idle_us = UINT64_MAX / 4;
    const uint64_t far = t0 + ((uint64_t)1 << 41);
    for (uint32_t k = 1; k <= 7; k++)
        scan_table_pending_start(&t, pending_hash(k), k == 1 ? t0 : far + k * 5000);
    scan_table_pending_start(&t, pending_hash(8), far + 100);
    scan_table_pending_start(&t, pending_hash(9), far + 90000);
    const uint32_t gone_old[] = {1}, kept_new[] = {2, 3, 4, 5, 6, 7, 8, 9};
    expect_pending(&t, gone_old, 1, false, far + 90000);
    expect_pending(&t, kept_new, 8, true, far + 90000);
    /* Next: key 8 (far + 100), in way 7, older than keys 2..7. */
    scan_table_pending_start(&t, pending_hash(10), far + 95000);
    const uint32_t gone8[] = {8}, kept_rest[] = {2, 3, 4, 5, 6, 7, 9, 10};
    expect_pending(&t, gone8, 1, false, far + 95000);
    expect_pending(&t, kept_rest, 8, true, far + 95000);
    scan_table_free(&t);
}
END_TEST

/* Big tables come zeroed and, from 1 MiB up, on a 2 MiB boundary (where
 * huge pages can back them), rounded to whole huge pages only when that
 * wastes at most a quarter. */
START_TEST(table_memory_zeroed_and_aligned)
{
    ck_assert_uint_eq(table_mem_size(MIB * 2 - 100000), 2 * MIB);
    ck_assert_uint_eq(table_mem_size(3 * MIB), 3 * MIB); /* 4 MiB would waste a third */
    ck_assert_uint_eq(table_mem_size(7 * MIB + 4096), 8 * MIB);
    ck_assert_uint_lt(table_mem_size(64 * 1024), MIB);
    size_t sizes[] = {100, 64 * 1024, 3 * MIB, 7 * MIB + 4096};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        uint8_t *p = table_mem_alloc(sizes[k]);
        ck_assert_ptr_nonnull(p);
        if (sizes[k] >= MIB)
            ck_assert_uint_eq((uintptr_t)p % (2 * MIB), 0);
        for (size_t i = 0; i < sizes[k]; i += 4093)
            ck_assert_uint_eq(p[i], 0);
        ck_assert_uint_eq(p[sizes[k] - 1], 0);
        memset(p, 0xff, sizes[k]); /* all of it is writable */
        table_mem_free(p, sizes[k]);
    }
}
END_TEST

static Suite *scan_table_suite(void)
{
    Suite *s = suite_create("scan_table");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, every_way_is_found);
    tcase_add_test(tc, pending_overwrites_counted_exactly);
    tcase_add_test(tc, pending_gives_up_the_first_oldest);
    tcase_add_test(tc, pending_overwrites_follow_emergency_idle);
    tcase_add_test(tc, source_hash_is_the_key_hash);
    tcase_add_test(tc, exact_ports_counted_once);
    tcase_add_test(tc, event_text_reads_as_a_fresh_object);
    tcase_add_test(tc, lookup_then_take_starts_the_right_record);
    tcase_add_test(tc, table_memory_zeroed_and_aligned);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(scan_table_suite());
}
