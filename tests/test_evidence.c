/* test_evidence.c — the packet evidence ring and files (agent/evidence.c):
 * a ring far smaller than the traffic wraps at uneven record sizes and
 * still yields the newest frames of the attacker, in order and intact; the
 * per-finding cap; the end event's size and SHA-256 are the file's. */
#include <check.h>
#include <errno.h>
#include <nettle/sha2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/evidence.h"
#include "testutil.h"

static char dir[256];

static void setup(void)
{
    ck_assert_ptr_nonnull(test_temp_dir(dir, sizeof(dir), "evidence"));
}

static void teardown(void)
{
    ck_assert_msg(test_temp_dir_remove(dir) == 0, "could not remove %s: %s", dir, strerror(errno));
}

static struct evidence *make(struct agent_config *cfg, uint64_t ring, uint64_t cap)
{
    agent_config_defaults(cfg);
    snprintf(cfg->state_dir, sizeof(cfg->state_dir), "%s", dir);
    cfg->evidence_ring_bytes = ring;
    cfg->evidence_before_us = 1000000;
    cfg->evidence_after_us = 1000000;
    cfg->evidence_finding_packets = cap;
    cfg->evidence_disk_bytes = 1 << 20;
    char why[256];
    struct evidence *e = evidence_new(cfg, why, sizeof(why));
    ck_assert_msg(e != NULL, "%s", why);
    return e;
}

/* Frame i: its index in the first 4 bytes, then filler; length varies so
 * records wrap the ring at uneven places. */
static void frame(struct evidence *e, uint32_t i, const struct ipaddr *src,
                  const struct ipaddr *dst)
{
    uint8_t f[1600];
    uint32_t len = 60 + (i * 37) % 1400;
    memcpy(f, &i, 4);
    memset(f + 4, (int)(i & 0xff), len - 4);
    struct pkt p;
    memset(&p, 0, sizeof(p));
    p.src = *src;
    p.dst = *dst;
    evidence_frame(e, 1, 1000000000000ull + (uint64_t)i * 1000, f, len, len, &p);
}

static struct evt finding(const char *id, enum finding_state st, const struct ipaddr *src,
                          uint64_t ts_us)
{
    struct evt ev;
    memset(&ev, 0, sizeof(ev));
    ev.state = st;
    ev.has_src = true;
    ev.src = *src;
    ev.ts_us = ts_us;
    ev.first_seen_us = ts_us;
    snprintf(ev.finding_id, sizeof(ev.finding_id), "%s", id);
    return ev;
}

/* The frames of a pcap file: their indices (checking each frame's bytes). */
static size_t read_indices(const char *path, uint32_t *out, size_t max, uint64_t *bytes)
{
    FILE *fp = fopen(path, "rb");
    ck_assert_ptr_nonnull(fp);
    uint8_t hdr[24];
    ck_assert_uint_eq(fread(hdr, 1, 24, fp), 24);
    uint32_t magic;
    memcpy(&magic, hdr, 4);
    ck_assert_uint_eq(magic, 0xa1b2c3d4u);
    size_t n = 0;
    uint32_t rec[4];
    uint8_t f[1600];
    *bytes = 24;
    while (fread(rec, 1, 16, fp) == 16) {
        ck_assert_uint_le(rec[2], sizeof(f));
        ck_assert_uint_eq(fread(f, 1, rec[2], fp), rec[2]);
        uint32_t i;
        memcpy(&i, f, 4);
        ck_assert_uint_eq(rec[2], 60 + (i * 37) % 1400);
        for (uint32_t k = 4; k < rec[2]; k++)
            ck_assert_uint_eq(f[k], i & 0xff);
        ck_assert_uint_lt(n, max);
        out[n++] = i;
        *bytes += 16 + rec[2];
    }
    fclose(fp);
    return n;
}

START_TEST(test_ring_wraps_keeps_newest_attacker_frames)
{
    struct agent_config cfg;
    struct evidence *e = make(&cfg, 256 * 1024, 100000);
    struct ipaddr attacker, other, victim;
    addr_parse("203.0.113.7", &attacker);
    addr_parse("192.0.2.99", &other);
    addr_parse("198.51.100.10", &victim);
    /* 20 000 frames (~15 MB) through a 256 KiB ring; every third is
     * someone else's. */
    uint32_t i;
    for (i = 0; i < 20000; i++)
        frame(e, i, i % 3 ? &attacker : &other, &victim);
    struct evt ev = finding("gw:abcdef:f1", FINDING_NEW, &attacker, 1000000000000ull + i * 1000);
    json_t *j = json_pack("{s:{}}", "canh");
    evidence_event(e, &ev, j);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_object_get(j, "canh"), "pcap"), "file")),
                     "evidence/gw:abcdef:f1.pcap");
    json_decref(j);
    /* Answers from the victim go in too; 100 more frames, then the end. */
    for (; i < 20100; i++)
        frame(e, i, i % 3 ? &victim : &other, i % 3 ? &attacker : &victim);
    ev.state = FINDING_END;
    j = json_pack("{s:{}}", "canh");
    evidence_event(e, &ev, j);
    json_t *pcap = json_object_get(json_object_get(j, "canh"), "pcap");
    ck_assert_ptr_nonnull(pcap);

    char path[400];
    snprintf(path, sizeof(path), "%s/evidence/gw:abcdef:f1.pcap", dir);
    static uint32_t idx[30000];
    uint64_t bytes;
    size_t n = read_indices(path, idx, 30000, &bytes);
    /* The ring held the newest few hundred; none of the other host's; no
     * gap or repeat between consecutive attacker frames. */
    ck_assert_uint_gt(n, 200);
    ck_assert_uint_eq(idx[n - 1], 20099 - (20099 % 3 == 0 ? 1 : 0));
    for (size_t k = 0; k < n; k++) {
        ck_assert_uint_ne(idx[k] % 3, 0);
        if (k)
            ck_assert_uint_eq(idx[k], idx[k - 1] + (idx[k - 1] % 3 == 2 ? 2 : 1));
    }
    ck_assert_int_eq(json_integer_value(json_object_get(pcap, "packets")), (json_int_t)n);
    ck_assert_int_eq(json_integer_value(json_object_get(pcap, "bytes")), (json_int_t)bytes);
    ck_assert(!json_is_true(json_object_get(pcap, "capped")));

    /* The digest is the file's. */
    FILE *fp = fopen(path, "rb");
    struct sha256_ctx sha;
    sha256_init(&sha);
    uint8_t buf[4096], d[SHA256_DIGEST_SIZE];
    size_t got;
    while ((got = fread(buf, 1, sizeof(buf), fp)) > 0)
        sha256_update(&sha, got, buf);
    fclose(fp);
    sha256_digest(&sha, sizeof(d), d);
    char hex[65];
    for (int k = 0; k < 32; k++)
        snprintf(hex + 2 * k, 3, "%02x", d[k]);
    ck_assert_str_eq(json_string_value(json_object_get(pcap, "sha256")), hex);
    json_decref(j);
    evidence_free(e);
}
END_TEST

START_TEST(test_cap_per_finding)
{
    struct agent_config cfg;
    struct evidence *e = make(&cfg, 1 << 20, 50);
    struct ipaddr attacker, victim;
    addr_parse("2001:db8::7", &attacker);
    addr_parse("2001:db8::10", &victim);
    uint32_t i;
    for (i = 0; i < 500; i++)
        frame(e, i, &attacker, &victim);
    struct evt ev = finding("gw:abcdef:f2", FINDING_NEW, &attacker, 1000000000000ull + i * 1000);
    json_t *j = json_pack("{s:{}}", "canh");
    evidence_event(e, &ev, j);
    for (; i < 600; i++)
        frame(e, i, &attacker, &victim);
    ev.state = FINDING_END;
    evidence_event(e, &ev, j);
    json_t *pcap = json_object_get(json_object_get(j, "canh"), "pcap");
    ck_assert_int_eq(json_integer_value(json_object_get(pcap, "packets")), 50);
    ck_assert(json_is_true(json_object_get(pcap, "capped")));
    char path[400];
    snprintf(path, sizeof(path), "%s/evidence/gw:abcdef:f2.pcap", dir);
    static uint32_t idx[100];
    uint64_t bytes;
    ck_assert_uint_eq(read_indices(path, idx, 100, &bytes), 50);
    json_decref(j);
    evidence_free(e);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("evidence");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_ring_wraps_keeps_newest_attacker_frames);
    tcase_add_test(tc, test_cap_per_finding);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
