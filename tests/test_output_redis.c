/* test_output_redis.c — the Redis output against a real redis-server
 * (started here on a unix socket in a temp dir, stopped at the end):
 * delivery in order, Redis killed and restarted, CLIENT PAUSE, a wrong
 * password, the agent killed while spooling, and a reply lost after Redis
 * executed the command. */
#include <check.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/output/redis.h"
#include "common/log.h"
#include "testutil.h"

static struct test_redis srv;
static char state_dir[96];

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Start redis-server with AOF fsync always, so what it acknowledged
 * survives SIGKILL; extra is appended to the command line. */
static void srv_start(const char *extra)
{
    char args[512];
    snprintf(args, sizeof(args),
             "--appendonly yes --appendfsync always --enable-debug-command yes %s",
             extra ? extra : "");
    test_redis_start(&srv, args);
}

static void setup(void)
{
    log_init("test", LOG_LEVEL_WARN);
    test_redis_init(&srv, "redis");
    snprintf(state_dir, sizeof(state_dir), "%s/state", srv.dir);
}

static void teardown(void)
{
    test_redis_remove(&srv);
}

static void config(struct agent_config *cfg)
{
    agent_config_defaults(cfg);
    snprintf(cfg->name, sizeof(cfg->name), "gw-test");
    snprintf(cfg->state_dir, sizeof(cfg->state_dir), "%s", state_dir);
    snprintf(cfg->redis_url, sizeof(cfg->redis_url), "unix:%s", srv.sock);
}

static struct output *open_redis(struct event_base *base, const struct agent_config *cfg)
{
    struct cfg_err err;
    struct output *o = output_redis_open(base, cfg, NULL, &err);
    ck_assert_msg(o != NULL, "%s", err.msg);
    return o;
}

static void event_text(char *buf, size_t len, int i)
{
    snprintf(buf, len,
             "{\"event_type\":\"alert\",\"canh\":{\"v\":1,\"id\":\"gw-test:abc123:%06d\","
             "\"kind\":\"test\"}}",
             i);
}

static void write_events(struct output *o, int from, int to)
{
    char buf[256];
    for (int i = from; i < to; i++) {
        event_text(buf, sizeof(buf), i);
        o->write(o, NULL, buf, strlen(buf));
    }
}

static json_int_t stat_of(struct output *o, const char *key)
{
    json_t *s = json_object();
    o->stats(o, s);
    json_int_t v =
        json_is_true(json_object_get(s, key)) ? 1 : json_integer_value(json_object_get(s, key));
    json_decref(s);
    return v;
}

/* Run the loop until the output has nothing pending and the stream has
 * want entries, or ms pass. */
static long long stream_len(const char *key)
{
    redisContext *c = test_redis_connect(&srv);
    if (!c)
        return -1;
    redisReply *r = redisCommand(c, "XLEN %s", key);
    long long n = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    redisFree(c);
    return n;
}

static void run_for(struct event_base *base, int ms)
{
    uint64_t end = now_ms() + (uint64_t)ms;
    while (now_ms() < end) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        usleep(1000);
    }
}

/* 1 when redis-server does not answer a PING within 100 ms. */
static int server_stalled(void)
{
    struct timeval tv = {0, 100000};
    redisContext *c = redisConnectUnixWithTimeout(srv.sock, tv);
    if (!c || c->err || redisSetTimeout(c, tv) != REDIS_OK) {
        redisFree(c);
        return 0;
    }
    redisReply *r = redisCommand(c, "PING");
    int stalled = r == NULL && c->err == REDIS_ERR_IO; /* a read timeout */
    freeReplyObject(r);
    redisFree(c);
    return stalled;
}

/* Run the loop until the statistic name reaches at_least; 0 if ms pass
 * first.  The bound only stops a hang: a busy machine just takes longer. */
static int run_until_stat(struct event_base *base, struct output *o, const char *name,
                          long long at_least, int ms)
{
    uint64_t end = now_ms() + (uint64_t)ms;
    while (now_ms() < end) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        if (stat_of(o, name) >= at_least)
            return 1;
        usleep(1000);
    }
    return 0;
}

static int run_until_delivered(struct event_base *base, struct output *o, long long want, int ms)
{
    uint64_t end = now_ms() + (uint64_t)ms;
    uint64_t next_check = 0;
    while (now_ms() < end) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        if (now_ms() >= next_check) {
            next_check = now_ms() + 50;
            if (stat_of(o, "redis_connected") && o->pending(o) == 0 &&
                stream_len("canh:events:gw-test") >= want)
                return 1;
        }
        usleep(500);
    }
    return 0;
}

/* Every event 0..n-1 in the stream exactly once, in order. */
static void assert_stream_exact(int n)
{
    redisContext *c = test_redis_connect(&srv);
    ck_assert_ptr_nonnull(c);
    redisReply *r = redisCommand(c, "XRANGE canh:events:gw-test - +");
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
    char want[256];
    size_t i;
    for (i = 0; i < r->elements && i < (size_t)n; i++) {
        redisReply *fields = r->element[i]->element[1];
        ck_assert_uint_eq(fields->elements, 2);
        ck_assert_str_eq(fields->element[0]->str, "event");
        event_text(want, sizeof(want), (int)i);
        ck_assert_msg(strcmp(fields->element[1]->str, want) == 0,
                      "entry %zu is %s, expected %s (duplicate or gap)", i, fields->element[1]->str,
                      want);
    }
    ck_assert_msg(r->elements == (size_t)n, "%zu entries in the stream, expected %d", r->elements,
                  n);
    freeReplyObject(r);
    redisFree(c);
}

START_TEST(test_events_arrive_in_order)
{
    srv_start(NULL);
    struct event_base *base = event_base_new();
    struct agent_config cfg;
    config(&cfg);
    struct output *o = open_redis(base, &cfg);
    ck_assert(run_until_stat(base, o, "redis_connected", 1, 60000));
    write_events(o, 0, 3000);
    ck_assert(run_until_delivered(base, o, 3000, 60000));
    assert_stream_exact(3000);
    ck_assert_int_eq(stat_of(o, "spool_lost_records"), 0);
    /* A heartbeat goes to its own stream. */
    const char *hb = "{\"event_type\":\"stats\",\"canh\":{\"agent\":\"gw-test\"}}";
    ck_assert_int_eq(o->write_stats(o, hb, strlen(hb)), 0);
    ck_assert(run_until_stat(base, o, "heartbeats_sent", 1, 60000));
    ck_assert_int_eq(stream_len("canh:heartbeats:gw-test"), 1);
    ck_assert_int_eq(stat_of(o, "heartbeats_sent"), 1);
    o->close(o);
    event_base_free(base);
}
END_TEST

/* Redis up and keeping pace: events written while the connection is
 * still being made, and a burst far beyond one loop turn's worth, wait in
 * memory (the window) and reach the stream without touching the disk. */
START_TEST(test_burst_within_the_window_is_not_spooled)
{
    srv_start(NULL);
    struct event_base *base = event_base_new();
    struct agent_config cfg;
    config(&cfg);
    struct output *o = open_redis(base, &cfg);
    write_events(o, 0, 500); /* before the link is up */
    ck_assert(run_until_stat(base, o, "redis_connected", 1, 60000));
    write_events(o, 500, 12000); /* in one go, no reply read meanwhile */
    ck_assert(run_until_delivered(base, o, 12000, 60000));
    assert_stream_exact(12000);
    ck_assert_int_eq(stat_of(o, "spool_appended"), 0);
    o->close(o);
    event_base_free(base);
}
END_TEST

START_TEST(test_redis_killed_and_restarted_loses_and_repeats_nothing)
{
    srv_start(NULL);
    struct event_base *base = event_base_new();
    struct agent_config cfg;
    config(&cfg);
    struct output *o = open_redis(base, &cfg);
    ck_assert(run_until_stat(base, o, "redis_connected", 1, 60000));
    int n = 0;
    /* 200 events a millisecond-ish loop turn; Redis dies a third of the way. */
    while (n < 30000) {
        write_events(o, n, n + 200);
        n += 200;
        event_base_loop(base, EVLOOP_NONBLOCK);
        if (n == 10000)
            test_redis_stop(&srv, SIGKILL);
        if (n == 20000)
            srv_start(NULL);
    }
    ck_assert_int_gt(stat_of(o, "spool_appended"), 0);
    ck_assert(run_until_delivered(base, o, 30000, 60000));
    assert_stream_exact(30000);
    ck_assert_int_eq(stat_of(o, "spool_records"), 0);
    ck_assert_int_ge(stat_of(o, "redis_connection_losses"), 1);
    o->close(o);
    event_base_free(base);
}
END_TEST

START_TEST(test_client_pause_spools_then_drains)
{
    srv_start(NULL);
    struct event_base *base = event_base_new();
    struct agent_config cfg;
    config(&cfg);
    struct output *o = open_redis(base, &cfg);
    ck_assert(run_until_stat(base, o, "redis_connected", 1, 60000));
    /* Paused until the test says so: writing never waits for Redis, or
     * write_events would not return before the unpause (the test's
     * timeout would end it). */
    redisContext *c = test_redis_connect(&srv);
    freeReplyObject(redisCommand(c, "CLIENT PAUSE 600000 WRITE"));
    write_events(o, 0, 10000);
    ck_assert(run_until_stat(base, o, "spool_records", 1, 60000));
    ck_assert_int_eq(stream_len("canh:events:gw-test") > 0 ? 1 : 0, 0);
    freeReplyObject(redisCommand(c, "CLIENT UNPAUSE"));
    redisFree(c);
    ck_assert(run_until_delivered(base, o, 10000, 60000));
    assert_stream_exact(10000);
    ck_assert_int_eq(stat_of(o, "spool_records"), 0);
    o->close(o);
    event_base_free(base);
}
END_TEST

START_TEST(test_wrong_password_spools_without_a_storm)
{
    srv.password = "right-password";
    srv_start("--requirepass right-password");
    struct event_base *base = event_base_new();
    struct agent_config cfg;
    config(&cfg);
    snprintf(cfg.password_file, sizeof(cfg.password_file), "%s",
             write_temp_file("wrong.pass", "wrong-password\n"));
    struct output *o = open_redis(base, &cfg);
    write_events(o, 0, 100);
    ck_assert(run_until_stat(base, o, "redis_refused", 1, 60000));
    /* Watch the retries for 1.5 s (a slow machine only makes fewer). */
    run_for(base, 1500);
    ck_assert_int_eq(stat_of(o, "redis_connected"), 0);
    ck_assert_int_eq(stat_of(o, "spool_records"), 100);
    ck_assert_int_ge(stat_of(o, "redis_refused"), 1);
    /* Exponential backoff: a handful of attempts, not hundreds. */
    ck_assert_int_le(stat_of(o, "redis_connects"), 6);
    o->close(o);

    /* Fixed password: the next start replays the spool. */
    snprintf(cfg.password_file, sizeof(cfg.password_file), "%s",
             write_temp_file("right.pass", "right-password\n"));
    o = open_redis(base, &cfg);
    ck_assert(run_until_delivered(base, o, 100, 60000));
    assert_stream_exact(100);
    o->close(o);
    event_base_free(base);
}
END_TEST

/* The agent is killed (SIGKILL) while Redis is unreachable: what it had
 * spooled and synced comes out on the next start, once, in order. */
START_TEST(test_agent_killed_while_spooling_loses_nothing)
{
    int ready[2];
    ck_assert_int_eq(pipe(ready), 0);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        struct event_base *base = event_base_new();
        struct agent_config cfg;
        config(&cfg);
        struct cfg_err err;
        struct output *o = output_redis_open(base, &cfg, NULL, &err);
        if (!o)
            _exit(2);
        write_events(o, 0, 2000);
        run_for(base, 700); /* past the 500 ms fsync timer */
        ssize_t w = write(ready[1], "k", 1);
        (void)w;
        for (int i = 0; i < 100; i++)
            run_for(base, 100);
        _exit(3);
    }
    close(ready[1]);
    char c;
    ck_assert_int_eq(read(ready[0], &c, 1), 1);
    kill(child, SIGKILL);
    int status;
    waitpid(child, &status, 0);
    ck_assert(WIFSIGNALED(status));

    srv_start(NULL);
    struct event_base *base = event_base_new();
    struct agent_config cfg;
    config(&cfg);
    struct output *o = open_redis(base, &cfg);
    ck_assert_int_eq(stat_of(o, "spool_records"), 2000);
    ck_assert_int_eq(stat_of(o, "spool_torn_bytes"), 0);
    write_events(o, 2000, 2100);
    ck_assert(run_until_delivered(base, o, 2100, 60000));
    assert_stream_exact(2100);
    o->close(o);
    event_base_free(base);
}
END_TEST

/* Redis executes the XADDs but the replies never reach the agent (it
 * stalls past the command timeout and the agent hangs up): the resend
 * must not duplicate them. */
START_TEST(test_executed_but_unanswered_is_not_resent)
{
    srv_start(NULL);
    struct event_base *base = event_base_new();
    struct agent_config cfg;
    config(&cfg);
    cfg.redis_timeout_us = 300000;
    struct output *o = open_redis(base, &cfg);
    ck_assert(run_until_stat(base, o, "redis_connected", 1, 60000));
    /* Redis stalls for 5 s (far past the 300 ms timeout) from the moment
     * it stops answering a PING, which is when the events are written. */
    redisContext *sleeper = test_redis_connect(&srv);
    ck_assert_ptr_nonnull(sleeper);
    redisAppendCommand(sleeper, "DEBUG SLEEP 5");
    int done = 0;
    while (!done)
        ck_assert_int_eq(redisBufferWrite(sleeper, &done), REDIS_OK);
    uint64_t deadline = now_ms() + 60000;
    while (!server_stalled())
        ck_assert_msg(now_ms() < deadline, "redis-server did not start DEBUG SLEEP");
    write_events(o, 0, 100);
    ck_assert(run_until_delivered(base, o, 100, 60000));
    redisFree(sleeper);
    assert_stream_exact(100);
    ck_assert_int_eq(stat_of(o, "redis_timeouts") >= 1, 1);
    /* How many Redis read before the hang-up varies; that none is twice
     * in the stream (above) is the point. */
    ck_assert_int_ge(stat_of(o, "redis_duplicates_avoided"), 1);
    o->close(o);
    event_base_free(base);
}
END_TEST

START_TEST(test_bad_urls_are_refused_clearly)
{
    struct event_base *base = event_base_new();
    struct agent_config cfg;
    config(&cfg);
    struct cfg_err err;
    const char *bad[] = {"http://x", "redis://host:99999", "unix:relative", "redis://h/3"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_ptr_null(output_redis_open(base, &cfg, bad[i], &err));
        ck_assert_ptr_nonnull(strstr(err.msg, "redis_url"));
    }
    snprintf(cfg.password_file, sizeof(cfg.password_file), "/nonexistent/pass");
    ck_assert_ptr_null(output_redis_open(base, &cfg, NULL, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent/pass"));
    event_base_free(base);
}
END_TEST

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    Suite *s = suite_create("output_redis");
    TCase *tc = tcase_create("redis");
    tcase_set_timeout(tc, 120);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_events_arrive_in_order);
    tcase_add_test(tc, test_burst_within_the_window_is_not_spooled);
    tcase_add_test(tc, test_redis_killed_and_restarted_loses_and_repeats_nothing);
    tcase_add_test(tc, test_client_pause_spools_then_drains);
    tcase_add_test(tc, test_wrong_password_spools_without_a_storm);
    tcase_add_test(tc, test_agent_killed_while_spooling_loses_nothing);
    tcase_add_test(tc, test_executed_but_unanswered_is_not_resent);
    tcase_add_test(tc, test_bad_urls_are_refused_clearly);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
