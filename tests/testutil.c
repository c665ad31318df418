/* testutil.c — see testutil.h. */
#include "testutil.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/capture.h"
#include "agent/pipeline.h"

const char *fixture_path(const char *name)
{
    static char path[1024];
    snprintf(path, sizeof(path), "%s/%s", FIXTURES_DIR, name);
    return path;
}

char *test_temp_dir(char *buf, size_t len, const char *name)
{
    const char *base = getenv("TMPDIR");
    if (!base || !base[0])
        base = "/tmp";
    int n = snprintf(buf, len, "%s/canh-%s-XXXXXX", base, name);
    if (n < 0 || (size_t)n >= len) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    return mkdtemp(buf);
}

/* nftw callback: FTW_DEPTH hands a directory over after its contents.
 * Returns errno on failure, which nftw passes back unchanged. */
static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    int rc = (type == FTW_DP || type == FTW_DNR) ? rmdir(path) : unlink(path);
    return rc == 0 ? 0 : errno;
}

int test_temp_dir_remove(const char *dir)
{
    /* A guard against an unset or clobbered buffer wiping the wrong tree
     * (the tests run as root): only a directory test_temp_dir made, whose
     * last component is canh-NAME-XXXXXX, and never a path with "..". */
    const char *last = dir ? strrchr(dir, '/') : NULL;
    if (!dir || !last || strncmp(last + 1, "canh-", 5) != 0 || strstr(dir, "..")) {
        errno = EINVAL;
        return -1;
    }
    int rc = nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (rc > 0) {
        errno = rc;
        return -1;
    }
    return rc == 0 ? 0 : -1;
}

static char temp_dir[256];

static void remove_temp_dir(void)
{
    if (test_temp_dir_remove(temp_dir) != 0)
        fprintf(stderr, "could not remove %s: %s\n", temp_dir, strerror(errno));
}

const char *write_temp_file(const char *name, const char *text)
{
    static char paths[8][512];
    static int next;
    char *dir = temp_dir;
    if (!dir[0]) {
        if (!test_temp_dir(temp_dir, sizeof(temp_dir), "test")) {
            temp_dir[0] = '\0';
            return NULL;
        }
        atexit(remove_temp_dir);
    }
    char *path = paths[next++ % 8];
    snprintf(path, 512, "%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    if (!fp)
        return NULL;
    fputs(text, fp);
    fclose(fp);
    return path;
}

static void collect(void *ctx, const struct evt *ev, json_t *json)
{
    (void)ev;
    json_array_append(ctx, json);
}

static int on_frame(void *ctx, const struct pcap_pkthdr *h, const uint8_t *frame)
{
    void **args = ctx;
    pipeline_frame(args[0], ((struct capture *)args[1])->dlt, h, frame);
    return 0;
}

json_t *run_pcap(const char *pcap_path, const char *rules_dir, const char *assets_file,
                 char *err_out, size_t err_len)
{
    struct agent_config cfg;
    struct cfg_err err;
    agent_config_defaults(&cfg);
    snprintf(cfg.name, sizeof(cfg.name), "test-agent");
    snprintf(cfg.agency, sizeof(cfg.agency), "Sở Thử nghiệm");
    cfg.local_rules_dir[0] = '\0'; /* the machine's /etc must not change results */
    if (rules_dir)
        snprintf(cfg.rules_dir, sizeof(cfg.rules_dir), "%s", rules_dir);
    if (assets_file)
        snprintf(cfg.assets_file, sizeof(cfg.assets_file), "%s", assets_file);
    struct pipeline *pl = pipeline_new(&cfg, &err);
    if (!pl) {
        snprintf(err_out, err_len, "%s", err.msg);
        return NULL;
    }
    json_t *events = json_array();
    pipeline_set_event_hook(pl, collect, events);
    struct capture cap = {0};
    struct capture_opts opts = {.file = pcap_path, .snaplen = 65535};
    if (capture_open(&cap, &opts) < 0) {
        snprintf(err_out, err_len, "%s", cap.errbuf);
        pipeline_free(pl);
        json_decref(events);
        return NULL;
    }
    void *args[2] = {pl, &cap};
    while (!cap.eof && capture_dispatch(&cap, 4096, on_frame, args) >= 0)
        ;
    pipeline_finish(pl, pipeline_last_packet_us(pl));
    capture_close(&cap);
    pipeline_free(pl);
    agent_config_free(&cfg);
    return events;
}

size_t count_events(json_t *events, const char *kind, const char *state)
{
    size_t n = 0, i;
    json_t *ev;
    json_array_foreach(events, i, ev)
    {
        json_t *c = json_object_get(ev, "canh");
        const char *k = json_string_value(json_object_get(c, "kind"));
        const char *s = json_string_value(json_object_get(c, "state"));
        if (k && strcmp(k, kind) == 0 && (!state || (s && strcmp(s, state) == 0)))
            n++;
    }
    return n;
}

/* One "Name:   123 kB" line of /proc/self/status, in KiB. */
static long status_kib(const char *name)
{
    FILE *fp = fopen("/proc/self/status", "r");
    if (!fp)
        return -1;
    char line[256];
    long kib = -1;
    size_t len = strlen(name);
    while (fgets(line, sizeof(line), fp))
        if (strncmp(line, name, len) == 0 && line[len] == ':')
            kib = atol(line + len + 1);
    fclose(fp);
    return kib;
}

long rss_peak_reset(void)
{
    FILE *fp = fopen("/proc/self/clear_refs", "w");
    if (!fp)
        return -1;
    int bad = fputs("5", fp) < 0; /* 5: reset the peak resident set size */
    bad |= fclose(fp) != 0;
    return bad ? -1 : status_kib("VmRSS");
}

long rss_peak_kib(void)
{
    return status_kib("VmHWM");
}

int run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

void test_redis_init(struct test_redis *r, const char *name)
{
    memset(r, 0, sizeof(*r));
    ck_assert_ptr_nonnull(test_temp_dir(r->dir, sizeof(r->dir), name));
    int n = snprintf(r->sock, sizeof(r->sock), "%s/redis.sock", r->dir);
    ck_assert_msg(n > 0 && (size_t)n < sizeof(r->sock), "socket path too long under %s", r->dir);
}

redisContext *test_redis_connect(const struct test_redis *r)
{
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectUnixWithTimeout(r->sock, tv);
    if (c && c->err) {
        redisFree(c);
        return NULL;
    }
    if (c && r->password)
        freeReplyObject(redisCommand(c, "AUTH %s", r->password));
    return c;
}

void test_redis_start(struct test_redis *r, const char *args)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "exec redis-server --port 0 --unixsocket %s --unixsocketperm 700 --dir %s "
             "--save '' --logfile %s/redis.log %s",
             r->sock, r->dir, r->dir, args ? args : "");
    r->pid = fork();
    ck_assert_int_ge(r->pid, 0);
    if (r->pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
        redisContext *c = test_redis_connect(r);
        if (c) {
            redisReply *reply = redisCommand(c, "PING");
            int ok = reply && (reply->type == REDIS_REPLY_STATUS ||
                               (reply->type == REDIS_REPLY_ERROR && strstr(reply->str, "NOAUTH")));
            freeReplyObject(reply);
            redisFree(c);
            if (ok)
                return;
        }
        usleep(20000);
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (now.tv_sec - start.tv_sec < 10);
    ck_abort_msg("redis-server did not start on %s", r->sock);
}

void test_redis_stop(struct test_redis *r, int sig)
{
    if (r->pid <= 0)
        return;
    kill(r->pid, sig);
    waitpid(r->pid, NULL, 0);
    r->pid = 0;
    r->password = NULL;
}

void test_redis_remove(struct test_redis *r)
{
    test_redis_stop(r, SIGTERM);
    ck_assert_msg(test_temp_dir_remove(r->dir) == 0, "could not remove %s: %s", r->dir,
                  strerror(errno));
}
