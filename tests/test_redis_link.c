/* test_redis_link.c — common/redis/: the URL grammar, the secret-file
 * reader, and the link against a real redis-server (AUTH, a refused
 * password, reconnection after the server comes back). */
#include <check.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/redis/link.h"
#include "common/redis/secret.h"
#include "common/redis/url.h"
#include "testutil.h"

static struct redis_url u;
static char why[768];

static int parse(const char *text)
{
    return redis_url_parse(text, &u, why, sizeof(why));
}

START_TEST(test_url_hosts)
{
    ck_assert_int_eq(parse("redis://10.1.2.3:6380"), 0);
    ck_assert_str_eq(u.host, "10.1.2.3");
    ck_assert_int_eq(u.port, 6380);
    ck_assert(!u.has_password);
    ck_assert_int_eq(parse("redis://soc-redis"), 0);
    ck_assert_str_eq(u.host, "soc-redis");
    ck_assert_int_eq(u.port, 6379);
    ck_assert_int_eq(parse("redis://soc-redis:6379/0"), 0);
    ck_assert_int_eq(parse("redis://soc-redis/"), 0);
    ck_assert_int_eq(parse("redis://[::1]:6380"), 0);
    ck_assert_str_eq(u.host, "::1");
    ck_assert_int_eq(u.port, 6380);
    ck_assert_str_eq(u.where, "redis [::1]:6380");
    ck_assert_int_eq(parse("redis://[fe80::1%eth0]"), 0);
    ck_assert_str_eq(u.host, "fe80::1%eth0");
    ck_assert_int_eq(u.port, 6379);
}
END_TEST

START_TEST(test_url_credentials)
{
    ck_assert_int_eq(parse("redis://gw01:s3cr@t@10.0.0.1:6380"), 0);
    ck_assert_str_eq(u.user, "gw01");
    ck_assert_str_eq(u.password, "s3cr@t");
    ck_assert(u.has_password);
    ck_assert_str_eq(u.host, "10.0.0.1");
    ck_assert(strstr(u.where, "s3cr") == NULL);
    const char *argv[3];
    size_t lens[3];
    ck_assert_int_eq(redis_url_auth_argv(&u, argv, lens), 3);
    ck_assert_str_eq(argv[1], "gw01");
    ck_assert_int_eq(lens[2], 6);
    ck_assert_int_eq(parse("redis://:only-pw@[::1]"), 0);
    ck_assert_str_eq(u.user, "");
    ck_assert_int_eq(redis_url_auth_argv(&u, argv, lens), 2);
    ck_assert_str_eq(argv[1], "only-pw");
    ck_assert_int_eq(parse("redis://host"), 0);
    ck_assert_int_eq(redis_url_auth_argv(&u, argv, lens), 0);

    /* Configuration keys fill what the URL leaves out; the URL wins. */
    const char *pw = write_temp_file("redis.pw", "from-file\n");
    ck_assert_int_eq(parse("redis://host"), 0);
    ck_assert_int_eq(redis_url_credentials(&u, "collector", pw, why, sizeof(why)), 0);
    ck_assert_str_eq(u.user, "collector");
    ck_assert_str_eq(u.password, "from-file");
    ck_assert_int_eq(parse("redis://gw:url-pw@host"), 0);
    ck_assert_int_eq(redis_url_credentials(&u, "other", pw, why, sizeof(why)), 0);
    ck_assert_str_eq(u.user, "gw");
    ck_assert_str_eq(u.password, "url-pw");
    ck_assert_int_eq(parse("redis://gw@host"), 0);
    ck_assert_int_eq(redis_url_credentials(&u, NULL, NULL, why, sizeof(why)), -1);
    ck_assert_ptr_nonnull(strstr(why, "needs a password"));
}
END_TEST

START_TEST(test_url_unix)
{
    ck_assert_int_eq(parse("unix:/run/redis/redis.sock"), 0);
    ck_assert(u.unix_socket);
    ck_assert_str_eq(u.path, "/run/redis/redis.sock");
    ck_assert_str_eq(u.where, "redis unix:/run/redis/redis.sock");
    ck_assert_int_eq(parse("unix:///run/redis/redis.sock"), 0);
    ck_assert_str_eq(u.path, "/run/redis/redis.sock");
    ck_assert_int_eq(parse("unix:redis.sock"), -1);
    ck_assert_ptr_nonnull(strstr(why, "absolute"));
}
END_TEST

/* Each bad URL is refused with a message naming what is wrong. */
START_TEST(test_url_sentinel)
{
    ck_assert_int_eq(parse("sentinel://gw01:pw@10.0.0.1:26380,sentinel-b,[::1]:26381/canh-soc"), 0);
    ck_assert_int_eq(u.n_sentinels, 3);
    ck_assert_str_eq(u.sentinels[0].host, "10.0.0.1");
    ck_assert_int_eq(u.sentinels[0].port, 26380);
    ck_assert_str_eq(u.sentinels[1].host, "sentinel-b");
    ck_assert_int_eq(u.sentinels[1].port, 26379);
    ck_assert_str_eq(u.sentinels[2].host, "::1");
    ck_assert_int_eq(u.sentinels[2].port, 26381);
    ck_assert_str_eq(u.master_name, "canh-soc");
    /* The credentials are the master's. */
    ck_assert_str_eq(u.user, "gw01");
    ck_assert_str_eq(u.password, "pw");
    ck_assert(strstr(u.where, "pw") == NULL);
    ck_assert_ptr_nonnull(strstr(u.where, "sentinel canh-soc"));
    redis_url_set_master(&u, "10.0.0.7", 6390);
    ck_assert_str_eq(u.host, "10.0.0.7");
    ck_assert_int_eq(u.port, 6390);
    ck_assert_str_eq(u.where, "redis sentinel canh-soc master 10.0.0.7:6390");
    ck_assert_int_eq(parse("sentinel://one/m"), 0);
    ck_assert_int_eq(u.n_sentinels, 1);
    ck_assert_int_eq(parse("redis://host"), 0);
    ck_assert_int_eq(u.n_sentinels, 0);
}
END_TEST

START_TEST(test_url_errors)
{
    static const struct {
        const char *url, *says;
    } bad[] = {
        {"http://host", "expected redis://"},
        {"host:6379", "expected redis://"},
        {"rediss://host:6380", "stunnel"},
        {"redis://", "no host"},
        {"redis://:6379", "no host"},
        {"redis://host:99999", "port"},
        {"redis://host:0", "port"},
        {"redis://host:", "port"},
        {"redis://host:-1", "port"},
        {"redis://host:63x", "unexpected"},
        {"redis://host/1", "database 0"},
        {"redis://[::1", "unterminated"},
        {"redis://[nothost]:6379", "not an IPv6 address"},
        {"redis://[]", "not an IPv6 address"},
        {"redis://::1:6379", "in brackets"},
        {"redis://fe80::1", "in brackets"},
        {"redis://[::1]x", "unexpected"},
        {"redis://host,other:6379", "unexpected"},
        {"sentinel://s1:26379,s2", "master's name is missing"},
        {"sentinel://s1/", "master's name is missing"},
        {"sentinel://s1:26379/my master", "master's name must be"},
        {"sentinel://s1:0/m", "port"},
        {"sentinel://,s2/m", "no host"},
        {"sentinel://a,b,c,d,e,f,g,h,i/m", "more than 8 sentinels"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why[0] = '\0';
        ck_assert_msg(parse(bad[i].url) == -1, "%s accepted", bad[i].url);
        ck_assert_msg(strstr(why, bad[i].says) != NULL, "%s: \"%s\" does not say %s", bad[i].url,
                      why, bad[i].says);
    }
    char longer[600] = "redis://u:";
    memset(longer + strlen(longer), 'p', 520);
    strcat(longer, "@host");
    ck_assert_int_eq(parse(longer), -1);
    ck_assert_ptr_nonnull(strstr(why, "password is longer"));
    ck_assert_str_eq(u.password, "");
}
END_TEST

START_TEST(test_secret_file)
{
    char buf[16];
    ck_assert_int_eq(secret_read_file(write_temp_file("s1", "hunter2\nsecond line\n"), buf,
                                      sizeof(buf), why, sizeof(why)),
                     0);
    ck_assert_str_eq(buf, "hunter2");
    ck_assert_int_eq(
        secret_read_file(write_temp_file("s2", "crlf\r\n"), buf, sizeof(buf), why, sizeof(why)), 0);
    ck_assert_str_eq(buf, "crlf");
    ck_assert_int_eq(
        secret_read_file(write_temp_file("s3", "no-newline"), buf, sizeof(buf), why, sizeof(why)),
        0);
    ck_assert_str_eq(buf, "no-newline");
    ck_assert_int_lt(
        secret_read_file(write_temp_file("s4", "\nlater"), buf, sizeof(buf), why, sizeof(why)), 0);
    ck_assert_ptr_nonnull(strstr(why, "empty"));
    ck_assert_int_lt(
        secret_read_file(write_temp_file("s5", ""), buf, sizeof(buf), why, sizeof(why)), 0);
    ck_assert_ptr_nonnull(strstr(why, "empty"));
    ck_assert_int_lt(secret_read_file(write_temp_file("s6", "0123456789abcdef\n"), buf, sizeof(buf),
                                      why, sizeof(why)),
                     0);
    ck_assert_ptr_nonnull(strstr(why, "longer than 15"));
    ck_assert_str_eq(buf, "");
    ck_assert_int_lt(secret_read_file("/nonexistent/pw", buf, sizeof(buf), why, sizeof(why)), 0);
    ck_assert_ptr_nonnull(strstr(why, "/nonexistent/pw"));
}
END_TEST

/* ---- the link against a real redis-server ------------------------------ */

/* The server asks for a password; the link is given the right one or a
 * wrong one (a NOAUTH answer to test_redis_start's PING counts as up). */
static struct test_redis srv;
#define SERVER_ARGS "--appendonly no --requirepass right-pw"

static void link_setup(void)
{
    log_init("test", LOG_LEVEL_ERR);
    test_redis_init(&srv, "link");
    test_redis_start(&srv, SERVER_ARGS);
}

static void link_teardown(void)
{
    test_redis_remove(&srv);
}

struct owner {
    struct event_base *base;
    int ready, lost, pongs, nulls;
};

static void on_ready(void *p)
{
    struct owner *o = p;
    o->ready++;
    event_base_loopbreak(o->base);
}

static void on_lost(void *p)
{
    ((struct owner *)p)->lost++;
}

static void on_pong(redisReply *reply, void *p)
{
    struct owner *o = p;
    if (!reply)
        o->nulls++;
    else if (reply->type == REDIS_REPLY_STATUS && strcmp(reply->str, "PONG") == 0)
        o->pongs++;
    event_base_loopbreak(o->base);
}

static void run_for_ms(struct event_base *base, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
}

static struct redis_link *open_link(struct owner *o, const char *password)
{
    char url[160];
    snprintf(url, sizeof(url), "unix:%s", srv.sock);
    ck_assert_int_eq(parse(url), 0);
    ck_assert_int_eq(
        redis_url_credentials(&u, NULL, write_temp_file("link.pw", password), why, sizeof(why)), 0);
    struct redis_link_options opt = {.connections = 2,
                                     .timeout_us = 2000000,
                                     .backoff_min_us = 20000,
                                     .backoff_max_us = 100000,
                                     .ready = on_ready,
                                     .lost = on_lost,
                                     .owner = o};
    struct redis_link *l = redis_link_new(o->base, &u, &opt);
    ck_assert_ptr_nonnull(l);
    redis_link_start(l);
    return l;
}

START_TEST(test_link_auth_and_reconnect)
{
    struct owner o = {.base = event_base_new()};
    struct redis_link *l = open_link(&o, "right-pw\n");
    run_for_ms(o.base, 3000);
    ck_assert_int_eq(o.ready, 1);
    ck_assert(redis_link_up(l));
    uint64_t generation = redis_link_generation(l);
    const char *argv[] = {"PING"};
    size_t lens[] = {4};
    for (unsigned conn = 0; conn < 2; conn++) {
        ck_assert_int_eq(redis_link_command(l, conn, on_pong, &o, 1, argv, lens), 0);
        run_for_ms(o.base, 2000);
    }
    ck_assert_int_eq(o.pongs, 2);

    /* The server goes away: lost once, and up again when it is back. */
    test_redis_stop(&srv, SIGTERM);
    run_for_ms(o.base, 300);
    ck_assert_int_eq(o.lost, 1);
    ck_assert(!redis_link_up(l));
    ck_assert_int_eq(redis_link_command(l, 0, on_pong, &o, 1, argv, lens), -1);
    test_redis_start(&srv, SERVER_ARGS);
    run_for_ms(o.base, 3000);
    ck_assert_int_eq(o.ready, 2);
    ck_assert_uint_gt(redis_link_generation(l), generation);
    struct redis_link_stats st;
    redis_link_get_stats(l, &st);
    ck_assert_uint_eq(st.connects, 2);
    ck_assert_uint_eq(st.losses, 1);

    /* Freeing answers what is pending with NULL. */
    ck_assert_int_eq(redis_link_command(l, 0, on_pong, &o, 1, argv, lens), 0);
    redis_link_free(l);
    ck_assert_int_eq(o.nulls, 1);
    event_base_free(o.base);
}
END_TEST

START_TEST(test_link_wrong_password)
{
    struct owner o = {.base = event_base_new()};
    struct redis_link *l = open_link(&o, "wrong-pw\n");
    run_for_ms(o.base, 500);
    ck_assert_int_eq(o.ready, 0);
    ck_assert(!redis_link_up(l));
    struct redis_link_stats st;
    redis_link_get_stats(l, &st);
    ck_assert_uint_gt(st.auth_refused, 0);
    ck_assert_uint_gt(st.attempts, 1); /* it keeps trying, with backoff */
    ck_assert_uint_eq(st.losses, 0);
    redis_link_free(l);
    event_base_free(o.base);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("redis_link");
    TCase *tc = tcase_create("url_secret");
    tcase_add_test(tc, test_url_hosts);
    tcase_add_test(tc, test_url_credentials);
    tcase_add_test(tc, test_url_unix);
    tcase_add_test(tc, test_url_sentinel);
    tcase_add_test(tc, test_url_errors);
    tcase_add_test(tc, test_secret_file);
    suite_add_tcase(s, tc);
    TCase *live = tcase_create("link");
    tcase_add_checked_fixture(live, link_setup, link_teardown);
    tcase_add_test(live, test_link_auth_and_reconnect);
    tcase_add_test(live, test_link_wrong_password);
    suite_add_tcase(s, live);
    return run_suite(s);
}
