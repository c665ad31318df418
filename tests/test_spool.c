/* test_spool.c — the durable journal: order, acknowledgement, restart,
 * torn tails at every byte, the overflow policy and compaction. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/output/spool.h"
#include "testutil.h"

static char dir[256];
static char path[300];

static void setup(void)
{
    ck_assert_ptr_nonnull(test_temp_dir(dir, sizeof(dir), "spool"));
    snprintf(path, sizeof(path), "%s/events.spool", dir);
}

static void teardown(void)
{
    ck_assert_msg(test_temp_dir_remove(dir) == 0, "could not remove %s: %s", dir, strerror(errno));
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
    uint64_t torn_before = 0;
    for (uint64_t cut = good; cut < full; cut++) {
        fd = open(path, O_WRONLY | O_TRUNC);
        ck_assert_int_eq(write(fd, image, cut), (ssize_t)cut);
        close(fd);
        s = open_spool(1 << 20);
        struct spool_stats st;
        spool_get_stats(s, &st);
        ck_assert_msg(st.records == 5, "cut at %llu: %llu records", (unsigned long long)cut,
                      (unsigned long long)st.records);
        /* The counter is kept across restarts: it grows by this cut. */
        ck_assert_uint_eq(st.torn_bytes, torn_before + (cut - good));
        torn_before = st.torn_bytes;
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

static void flip_byte(uint64_t at)
{
    int fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    char c;
    ck_assert_int_eq(pread(fd, &c, 1, (off_t)at), 1);
    c ^= 0x01;
    ck_assert_int_eq(pwrite(fd, &c, 1, (off_t)at), 1);
    close(fd);
}

/* Bit rot in the first record must not take the 999 after it along. */
START_TEST(test_flipped_byte_in_first_record_costs_only_that_record)
{
    struct spool *s = open_spool(1 << 20);
    char buf[256];
    for (int i = 0; i < 1000; i++) {
        record_text(buf, sizeof(buf), i);
        ck_assert_int_eq(spool_append(s, buf, strlen(buf), NULL), 0);
    }
    spool_close(s);
    /* a payload byte, then (second case) the leading length itself */
    uint64_t where[] = {4 + 10, 1};
    for (int w = 0; w < 2; w++) {
        flip_byte(where[w]);
        s = open_spool(1 << 20);
        struct spool_stats st;
        spool_get_stats(s, &st);
        ck_assert_uint_eq(st.records, 999 - (uint64_t)w);
        ck_assert_uint_eq(st.lost_records, 1 + (uint64_t)w);
        ck_assert_uint_eq(st.damaged_records, 1 + (uint64_t)w);
        ck_assert_uint_eq(st.torn_bytes, 0);
        ck_assert_int_eq(read_all(s, 1 + w), 999 - w);
        /* and it keeps working: appends follow the intact records */
        record_text(buf, sizeof(buf), 1000);
        ck_assert_int_eq(spool_append(s, buf, strlen(buf), NULL), 0);
        ck_assert_int_eq(read_all(s, 1 + w), 1000 - w);
        spool_close(s);
        /* drop the record appended above again so the next case starts
         * from the same 999 - w records */
        s = open_spool(1 << 20);
        uint64_t off = spool_head(s);
        const char *p;
        size_t len;
        while (spool_read(s, &off, &p, &len) == 1)
            ;
        spool_close(s);
        ck_assert_int_eq(truncate(path, (off_t)(file_size(path) - (strlen(buf) + 12))), 0);
    }
}
END_TEST

/* Damage in the middle: the records before and after it survive. */
START_TEST(test_damage_in_the_middle_keeps_both_sides)
{
    struct spool *s = open_spool(1 << 20);
    char buf[256];
    uint64_t start10 = 0, end12 = 0;
    for (int i = 0; i < 30; i++) {
        record_text(buf, sizeof(buf), i);
        uint64_t end;
        ck_assert_int_eq(spool_append(s, buf, strlen(buf), &end), 0);
        if (i == 9)
            start10 = end;
        if (i == 12)
            end12 = end;
    }
    spool_close(s);
    /* three records (10, 11, 12) overwritten with garbage */
    int fd = open(path, O_RDWR);
    char junk[512];
    memset(junk, 0xa5, sizeof(junk));
    ck_assert_int_eq(pwrite(fd, junk, end12 - start10, (off_t)start10), (ssize_t)(end12 - start10));
    close(fd);
    s = open_spool(1 << 20);
    struct spool_stats st;
    spool_get_stats(s, &st);
    ck_assert_uint_eq(st.records, 27);
    ck_assert_uint_ge(st.lost_records, 1);
    ck_assert_uint_eq(st.lost_bytes, end12 - start10);
    uint64_t off = spool_head(s);
    const char *p;
    size_t len;
    char want[256];
    for (int i = 0; i < 30; i++) {
        if (i >= 10 && i <= 12)
            continue;
        ck_assert_int_eq(spool_read(s, &off, &p, &len), 1);
        record_text(want, sizeof(want), i);
        ck_assert_msg(len == strlen(want) && memcmp(p, want, len) == 0, "record %d", i);
    }
    ck_assert_int_eq(spool_read(s, &off, &p, &len), 0);
    spool_close(s);
}
END_TEST

/* An overflow followed by a restart stays visible (heartbeats report
 * these counters). */
START_TEST(test_lost_counters_survive_restart)
{
    char buf[256];
    record_text(buf, sizeof(buf), 0);
    uint64_t rec = strlen(buf) + SPOOL_RECORD_OVERHEAD;
    struct spool *s = open_spool(rec * 3);
    for (int i = 0; i < 5; i++) {
        record_text(buf, sizeof(buf), i);
        spool_append(s, buf, strlen(buf), NULL);
    }
    spool_close(s);
    s = open_spool(rec * 3);
    struct spool_stats st;
    spool_get_stats(s, &st);
    ck_assert_uint_eq(st.lost_records, 2);
    ck_assert_uint_eq(st.lost_bytes, 2 * rec);
    ck_assert_int_eq(spool_append(s, buf, strlen(buf), NULL), -ENOBUFS);
    spool_close(s);
    s = open_spool(rec * 3);
    spool_get_stats(s, &st);
    ck_assert_uint_eq(st.lost_records, 3);
    spool_close(s);
}
END_TEST

/* A full disk is reported as such, not as an I/O error. */
START_TEST(test_full_disk_says_no_space)
{
    ck_assert_int_eq(symlink("/dev/full", path), 0);
    struct spool *s = open_spool(1 << 20);
    char buf[256];
    record_text(buf, sizeof(buf), 0);
    int rc = spool_append(s, buf, strlen(buf), NULL);
    ck_assert_int_eq(rc, -ENOSPC);
    ck_assert_str_eq(strerror(-rc), "No space left on device");
    struct spool_stats st;
    spool_get_stats(s, &st);
    ck_assert_uint_eq(st.lost_records, 1);
    spool_close(s);
}
END_TEST

/* The disk fills in the middle of a record: the write is short, and the
 * reason is still "no space", not "Input/output error".  A 64 KiB tmpfs
 * in a mount namespace of this test's own process (check forks one per
 * test) is filled up to the page the journal's last record ends in. */
START_TEST(test_short_write_on_full_disk_says_no_space)
{
    char small[270];
    snprintf(small, sizeof(small), "%s/small", dir);
    ck_assert_int_eq(mkdir(small, 0700), 0);
    if (unshare(CLONE_NEWNS) < 0 || mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
        mount("tmpfs", small, "tmpfs", 0, "size=64k") < 0) {
        fprintf(stderr, "short_write_on_full_disk: no mount namespace (%s): not run\n",
                strerror(errno));
        return;
    }
    snprintf(path, sizeof(path), "%s/events.spool", small);
    struct spool *s = open_spool(1 << 20);
    char buf[4096];
    record_text(buf, sizeof(buf), 0);
    ck_assert_int_eq(spool_append(s, buf, strlen(buf), NULL), 0);
    /* Every other page of the file system taken. */
    char filler[300];
    snprintf(filler, sizeof(filler), "%s/filler", small);
    int fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    char page[4096] = {0};
    while (write(fd, page, sizeof(page)) > 0)
        ;
    ck_assert_int_eq(errno, ENOSPC);
    close(fd);
    /* A record that starts in the journal's last page and needs the next. */
    uint64_t used = file_size(path) % 4096;
    size_t len = 4060;
    ck_assert_uint_gt(used, 0);
    ck_assert_uint_gt(used + len + SPOOL_RECORD_OVERHEAD, 4096);
    memset(buf, 'x', len);
    memcpy(buf, "{\"pad\":\"", 8);
    memcpy(buf + len - 2, "\"}", 2);
    int rc = spool_append(s, buf, len, NULL);
    ck_assert_int_eq(rc, -ENOSPC);
    ck_assert_str_eq(strerror(-rc), "No space left on device");
    struct spool_stats st;
    spool_get_stats(s, &st);
    ck_assert_uint_eq(st.lost_records, 1);
    ck_assert_uint_eq(st.records, 1);
    spool_close(s);
    ck_assert_int_eq(umount2(small, MNT_DETACH), 0);
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

/* The replay reads while records keep coming, the file empties when
 * everything is acknowledged and is compacted when full: what is read
 * back is always what was appended at that offset (the read-ahead never
 * hands out the bytes of an earlier file layout). */
START_TEST(test_replay_reads_what_was_appended_across_drains_and_compactions)
{
    char buf[256], pad[64];
    struct spool *s = open_spool(8 << 10);
    uint64_t off = spool_head(s);
    int appended = 0, read = 0;
    for (int round = 0; round < 300; round++) {
        /* A few records of varying length, so offsets never line up with
         * those of an earlier layout. */
        for (int k = 0; k < 1 + round % 7; k++, appended++) {
            memset(pad, 'a' + appended % 26, sizeof(pad));
            snprintf(buf, sizeof(buf), "{\"n\":%d,\"pad\":\"%.*s\"}", appended, (appended * 7) % 50,
                     pad);
            ck_assert_int_eq(spool_append(s, buf, strlen(buf), NULL), 0);
        }
        /* Read and acknowledge all but a few of them: the head left
         * behind makes the file full and compacted; three rounds in a
         * hundred drain it (truncated to zero, refilled from offset 0
         * with other records where the last ones were read). */
        int keep = round % 100 >= 97 ? 0 : 1 + round % 3;
        const char *p;
        size_t len;
        while (read < appended - keep && spool_read(s, &off, &p, &len) == 1) {
            memset(pad, 'a' + read % 26, sizeof(pad));
            snprintf(buf, sizeof(buf), "{\"n\":%d,\"pad\":\"%.*s\"}", read, (read * 7) % 50, pad);
            ck_assert_uint_eq(len, strlen(buf));
            ck_assert_msg(memcmp(p, buf, len) == 0, "record %d: %.*s", read, (int)len, p);
            spool_ack(s, off);
            read++;
        }
    }
    struct spool_stats st;
    spool_get_stats(s, &st);
    ck_assert_uint_eq(st.lost_records, 0);
    ck_assert_uint_gt(st.compactions, 0);
    ck_assert_int_eq(read, appended);
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
    tcase_add_test(tc, test_flipped_byte_in_first_record_costs_only_that_record);
    tcase_add_test(tc, test_damage_in_the_middle_keeps_both_sides);
    tcase_add_test(tc, test_lost_counters_survive_restart);
    tcase_add_test(tc, test_full_disk_says_no_space);
    tcase_add_test(tc, test_short_write_on_full_disk_says_no_space);
    tcase_add_test(tc, test_full_spool_refuses_newest_and_counts);
    tcase_add_test(tc, test_compaction_keeps_unacknowledged_records);
    tcase_add_test(tc, test_replay_reads_what_was_appended_across_drains_and_compactions);
    tcase_add_test(tc, test_second_opener_is_refused);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
