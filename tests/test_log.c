/* test_log.c — common/log.c: levels and the rate limit of repeated lines.
 *
 * What a sysadmin notices: a fault that repeats one message in a loop
 * writes a handful of lines and then says how many it held back, while
 * different messages all get through.  stderr is redirected to a file
 * and read back.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "testutil.h"

static char path[] = "/tmp/canh-test-log-XXXXXX";
static int saved_stderr = -1;

static void capture(void)
{
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    fflush(stderr);
    saved_stderr = dup(2);
    ck_assert_int_eq(dup2(fd, 2), 2);
    close(fd);
    unsetenv("JOURNAL_STREAM");
    log_init("canh-test", LOG_LEVEL_INFO);
}

/* The captured text (malloc'd); stderr restored. */
static char *release(void)
{
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    char *buf = calloc(1, 1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    unlink(path);
    strcpy(path, "/tmp/canh-test-log-XXXXXX");
    return buf;
}

static int count(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

START_TEST(repeated_line_is_held_back_and_counted)
{
    capture();
    for (int i = 0; i < 100000; i++)
        log_err("accept: Too many open files");
    log_flush();
    char *out = release();
    ck_assert_int_eq(count(out, "canh-test: error: accept: Too many open files\n"), 5);
    ck_assert_msg(strstr(out, "message repeated 99995 times in "), "%s", out);
    ck_assert_int_eq(count(out, "\n"), 6);
    free(out);
}
END_TEST

START_TEST(different_lines_all_pass)
{
    capture();
    for (int i = 0; i < 200; i++)
        log_warn("event %d dead-lettered", i);
    log_flush();
    char *out = release();
    ck_assert_int_eq(count(out, "dead-lettered\n"), 200);
    ck_assert_ptr_null(strstr(out, "repeated"));
    free(out);
}
END_TEST

START_TEST(alternating_lines_are_limited_each)
{
    capture();
    for (int i = 0; i < 1000; i++) {
        log_warn("redis: connection refused");
        log_info("status page: 64 connections");
    }
    log_flush();
    char *out = release();
    ck_assert_int_eq(count(out, "warning: redis: connection refused\n"), 5);
    ck_assert_int_eq(count(out, "canh-test: status page: 64 connections\n"), 5);
    ck_assert_int_eq(count(out, "message repeated 995 times"), 2);
    free(out);
}
END_TEST

START_TEST(levels_below_threshold_are_silent)
{
    capture();
    log_debug("not shown");
    log_set_level(LOG_LEVEL_DEBUG);
    log_debug("shown");
    char *out = release();
    ck_assert_ptr_null(strstr(out, "not shown"));
    ck_assert_ptr_nonnull(strstr(out, "debug: shown"));
    free(out);
}
END_TEST

static Suite *log_suite(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, repeated_line_is_held_back_and_counted);
    tcase_add_test(tc, different_lines_all_pass);
    tcase_add_test(tc, alternating_lines_are_limited_each);
    tcase_add_test(tc, levels_below_threshold_are_silent);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(log_suite());
}
