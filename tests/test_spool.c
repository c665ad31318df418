/* test_spool.c — the durable journal: order, acknowledgement, restart,
 * torn tails at every byte, the overflow policy and compaction. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/output/spool.h"
#include "testutil.h"

static char dir[256];
static char path[300];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/canh-spool-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/events.spool", dir);
}

static void teardown(void)
{
    char cmd[320];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static struct spool *open_spool(uint64_t max_bytes)
{
    char err[512];
    struct spool *s = spool_open(path, max_bytes, 16, err, sizeof(err));
    ck_assert_msg(s != NULL, "%s", err);
    return s;
}

static void record_text(char *buf, size_t len, int i)
{
    snprintf(buf, len, "{\"canh\":{\"id\":\"gw:abc123:%06d\"},\"pad\":\"%020d\"}", i, i);
}

/* Read every unacknowledged record; returns how many, checks they are
 * first..first+n-1 in order. */
static int read_all(struct spool *s, int first)
{
    uint64_t off = spool_head(s);
    const char *p;
    size_t len;
    int n = 0, rc;
    char want[256];
    while ((rc = spool_read(s, &off, &p, &len)) == 1) {
        record_text(want, sizeof(want), first + n);
        ck_assert_uint_eq(len, strlen(want));
        ck_assert_msg(memcmp(p, want, len) == 0, "record %d differs", first + n);
        n++;
    }
    ck_assert_int_eq(rc, 0);
    return n;
}

static uint64_t file_size(const char *p)
{
    struct stat st;
    ck_assert_int_eq(stat(p, &st), 0);
    return (uint64_t)st.st_size;
}

START_TEST(test_records_come_back_in_order_after_restart)
{
    struct spool *s = open_spool(1 << 20);
    char buf[256];
    for (int i = 0; i < 100; i++) {
        record_text(buf, sizeof(buf), i);
        ck_assert_int_eq(spool_append(s, buf, strlen(buf), NULL), 0);
    }
    ck_assert_int_eq(read_all(s, 0), 100);
    spool_close(s);
    s = open_spool(1 << 20);
    ck_assert_int_eq(read_all(s, 0), 100);
    struct spool_stats st;
    spool_get_stats(s, &st);
    ck_assert_uint_eq(st.records, 100);
    ck_assert_uint_eq(st.torn_bytes, 0);
    spool_close(s);
}
END_TEST

START_TEST(test_acknowledged_records_are_not_replayed)
{
    struct spool *s = open_spool(1 << 20);
    char buf[256];
    uint64_t ends[50];
    for (int i = 0; i < 50; i++) {
        record_text(buf, sizeof(buf), i);
        ck_assert_int_eq(spool_append(s, buf, strlen(buf), &ends[i]), 0);
    }
    for (int i = 0; i < 20; i++)
        spool_ack(s, ends[i]);
    ck_assert_int_eq(read_all(s, 20), 30);
    spool_sync(s);
    spool_close(s);
    s = open_spool(1 << 20);
    ck_assert_int_eq(read_all(s, 20), 30);
    /* Acknowledging the rest empties the file. */
    uint64_t off = spool_head(s);
    const char *p;
    size_t len;
    while (spool_read(s, &off, &p, &len) == 1)
        spool_ack(s, off);
    ck_assert_uint_eq(spool_head(s), spool_tail(s));
    ck_assert_uint_eq(file_size(path), 0);
    spool_close(s);
}
END_TEST

/* Power loss while the last record was being written: the file ends
 * anywhere inside it.  Every cut must keep the complete records and drop
 * the partial one with a count, never hand it out. */
START_TEST(test_torn_tail_at_every_byte_is_dropped)
{
    struct spool *s = open_spool(1 << 20);
    char buf[256];
    for (int i = 0; i < 5; i++) {
        record_text(buf, sizeof(buf), i);
        ck_assert_int_eq(spool_append(s, buf, strlen(buf), NULL), 0);
    }
    uint64_t good = spool_tail(s);
    record_text(buf, sizeof(buf), 5);
    ck_assert_int_eq(spool_append(s, buf, strlen(buf), NULL), 0);
    uint64_t full = spool_tail(s);
    spool_close(s);

    int fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    char *image = malloc(full);
    ck_assert_int_eq(read(fd, image, full), (ssize_t)full);
    close(fd);
    for (uint64_t cut = good; cut < full; cut++) {
        fd = open(path, O_WRONLY | O_TRUNC);
        ck_assert_int_eq(write(fd, image, cut), (ssize_t)cut);
        close(fd);
        s = open_spool(1 << 20);
        struct spool_stats st;
        spool_get_stats(s, &st);
        ck_assert_msg(st.records == 5, "cut at %llu: %llu records", (unsigned long long)cut,
                      (unsigned long long)st.records);
        ck_assert_uint_eq(st.torn_bytes, cut - good);
        ck_assert_int_eq(read_all(s, 0), 5);
        /* The spool stays usable: the next record follows the good ones. */
        record_text(buf, sizeof(buf), 5);
        ck_assert_int_eq(spool_append(s, buf, strlen(buf), NULL), 0);
        ck_assert_int_eq(read_all(s, 0), 6);
        spool_close(s);
    }
    free(image);
}
END_TEST

START_TEST(test_flipped_byte_is_not_handed_out)
{
    struct spool *s = open_spool(1 << 20);
    char buf[256];
    for (int i = 0; i < 3; i++) {
        record_text(buf, sizeof(buf), i);
        ck_assert_int_eq(spool_append(s, buf, strlen(buf), NULL), 0);
    }
    uint64_t size = spool_tail(s);
    spool_close(s);
    int fd = open(path, O_RDWR);
    char c;
    ck_assert_int_eq(pread(fd, &c, 1, (off_t)(size - 20)), 1);
    c ^= 0x20;
    ck_assert_int_eq(pwrite(fd, &c, 1, (off_t)(size - 20)), 1);
    close(fd);
    s = open_spool(1 << 20);
    ck_assert_int_eq(read_all(s, 0), 2);
    spool_close(s);
}
END_TEST

START_TEST(test_full_spool_refuses_newest_and_counts)
{
    char buf[256];
    record_text(buf, sizeof(buf), 0);
    uint64_t rec = strlen(buf) + SPOOL_RECORD_OVERHEAD;
    struct spool *s = open_spool(rec * 10);
    int ok = 0;
    for (int i = 0; i < 15; i++) {
        record_text(buf, sizeof(buf), i);
        if (spool_append(s, buf, strlen(buf), NULL) == 0)
            ok++;
    }
    struct spool_stats st;
    spool_get_stats(s, &st);
    ck_assert_int_eq(st.records, 10);
    ck_assert_uint_eq(st.lost_records, 15 - (uint64_t)ok);
    ck_assert_uint_ge(st.lost_records, 5);
    ck_assert_uint_gt(st.lost_bytes, 0);
    /* The oldest survive: records 0..9. */
    ck_assert_int_eq(read_all(s, 0), 10);
    spool_close(s);
}
END_TEST

START_TEST(test_compaction_keeps_unacknowledged_records)
{
    char buf[256];
    record_text(buf, sizeof(buf), 0);
    uint64_t rec = strlen(buf) + SPOOL_RECORD_OVERHEAD;
    struct spool *s = open_spool(rec * 10);
    uint64_t ends[30];
    int next_ack = 0;
    /* Keep two records unacknowledged while writing 30: the file must be
     * compacted to stay under the bound. */
    for (int i = 0; i < 30; i++) {
        record_text(buf, sizeof(buf), i);
        ck_assert_int_eq(spool_append(s, buf, strlen(buf), &ends[i]), 0);
        if (i >= 2)
            spool_ack(s, ends[next_ack++]);
        ck_assert_uint_le(file_size(path), rec * 10);
    }
    struct spool_stats st;
    spool_get_stats(s, &st);
    ck_assert_uint_eq(st.lost_records, 0);
    ck_assert_uint_gt(st.compactions, 0);
    ck_assert_int_eq(read_all(s, 28), 2);
    spool_sync(s);
    spool_close(s);
    s = open_spool(rec * 10);
    ck_assert_int_eq(read_all(s, 28), 2);
    spool_close(s);
}
END_TEST

START_TEST(test_second_opener_is_refused)
{
    struct spool *s = open_spool(1 << 20);
    char err[512];
    ck_assert_ptr_null(spool_open(path, 1 << 20, 16, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "another canh-agent"));
    spool_close(s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("spool");
    TCase *tc = tcase_create("spool");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_records_come_back_in_order_after_restart);
    tcase_add_test(tc, test_acknowledged_records_are_not_replayed);
    tcase_add_test(tc, test_torn_tail_at_every_byte_is_dropped);
    tcase_add_test(tc, test_flipped_byte_is_not_handed_out);
    tcase_add_test(tc, test_full_spool_refuses_newest_and_counts);
    tcase_add_test(tc, test_compaction_keeps_unacknowledged_records);
    tcase_add_test(tc, test_second_opener_is_refused);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
