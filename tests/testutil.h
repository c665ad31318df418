/* testutil.h — shared helpers for the Check suites. */
#ifndef CANH_TESTUTIL_H
#define CANH_TESTUTIL_H

#include <check.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

/* FIXTURES_DIR "/" name, in a static buffer. */
const char *fixture_path(const char *name);

/* A fresh directory $TMPDIR/canh-NAME-XXXXXX (/tmp when TMPDIR is unset or
 * empty), made by mkdtemp(3) in buf: returns buf, or NULL with errno set
 * (ENAMETOOLONG when the path does not fit in len). */
char *test_temp_dir(char *buf, size_t len, const char *name);

/* Remove dir and everything below it, without a shell and without
 * following symbolic links: 0, or -1 with errno set (EINVAL for anything
 * but a directory test_temp_dir made — its last component canh-* — or a
 * path with "..", ENOENT when dir is gone); each caller decides whether
 * that fails its test. */
int test_temp_dir_remove(const char *dir);

/* Write text to a fresh file under a temp dir; returns its path (static
 * ring of a few buffers, so several may be live at once). */
const char *write_temp_file(const char *name, const char *text);

/* Replay a capture through a whole pipeline (decode, every detector,
 * enrich) with built-in defaults; rules_dir/assets may be NULL for the
 * shipped rules and no assets.  Returns a JSON array of the events (new
 * reference) or NULL when the pipeline could not start (err_out filled). */
json_t *run_pcap(const char *pcap_path, const char *rules_dir, const char *assets_file,
                 char *err_out, size_t err_len);

/* Events of the array with canh.kind == kind and canh.state == state
 * (state NULL: any). */
size_t count_events(json_t *events, const char *kind, const char *state);

/* Peak resident memory, for tests that promise memory stays flat:
 * rss_peak_reset() restarts the kernel's high-water mark (VmHWM, through
 * /proc/self/clear_refs) and returns the resident size now, in KiB;
 * rss_peak_kib() reads the mark.  Both return -1 when /proc cannot tell.
 * Under ASan the figures include shadow memory and the free quarantine, so
 * they still grow when the code under test allocates. */
long rss_peak_reset(void);
long rss_peak_kib(void);

/* A real redis-server for a suite, on a unix socket in a temp dir of its
 * own (test_temp_dir's, canh-NAME-XXXXXX), without RDB snapshots:
 *   test_redis_init(&r, "store");  test_redis_start(&r, "--appendonly yes");
 *   redisContext *c = test_redis_connect(&r);  ...  test_redis_remove(&r); */
struct test_redis {
    char dir[64], sock[96];
    pid_t pid;            /* 0 while not running */
    const char *password; /* sent with AUTH by test_redis_connect when set */
};
/* Make the dir (the test fails when it cannot, e.g. a TMPDIR too long
 * for dir[]); no server yet. */
void test_redis_init(struct test_redis *r, const char *name);
/* Start redis-server (args appended to its command line, may be NULL) and
 * wait, at most 10 s, until it answers PING (NOAUTH counts as an answer);
 * the test fails otherwise. */
void test_redis_start(struct test_redis *r, const char *args);
/* A connection, authenticated when r->password is set; NULL when Redis
 * does not answer. */
redisContext *test_redis_connect(const struct test_redis *r);
/* Stop it with sig and reap it; forgets the password. */
void test_redis_stop(struct test_redis *r, int sig);
/* Stop it (SIGTERM) and remove the dir. */
void test_redis_remove(struct test_redis *r);

/* Run every case of s (the runner owns it from here) with Check's normal
 * output: EXIT_SUCCESS when all passed, else EXIT_FAILURE.  The whole
 * main() of most suites. */
int run_suite(Suite *s);

#endif
