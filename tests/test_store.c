/* test_store.c — the collector's write script (collector/store.c) against
 * a real redis-server: a command that repeats the one before with another
 * key (an announcement to canh:incidents and to each agency's stream)
 * sends its arguments once, and every key still gets all of them. */
#include <check.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "collector/store.h"
#include "testutil.h"

static struct test_redis srv;

static void setup(void)
{
    test_redis_init(&srv, "store");
    test_redis_start(&srv, NULL);
}

static void teardown(void)
{
    test_redis_remove(&srv);
}

/* The entry's field/value pairs of the only entry of stream key, joined
 * with '|'. */
static void stream_fields(redisContext *c, const char *key, char *out, size_t len)
{
    redisReply *r = redisCommand(c, "XRANGE %s - +", key);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->type, REDIS_REPLY_ARRAY);
    ck_assert_uint_eq(r->elements, 1);
    redisReply *fields = r->element[0]->element[1];
    out[0] = '\0';
    for (size_t i = 0; i < fields->elements; i++) {
        size_t used = strlen(out);
        snprintf(out + used, len - used, "%s%s", i ? "|" : "", fields->element[i]->str);
    }
    freeReplyObject(r);
}

static void announce(struct store_ops *o, const char *stream, const char *incident)
{
    store_begin(o, "XADD");
    store_arg(o, stream);
    store_arg(o, "MAXLEN");
    store_arg(o, "~");
    store_arg(o, "1000");
    store_arg(o, "*");
    store_arg(o, "action");
    store_arg(o, "opened");
    store_arg(o, "incident");
    store_arg(o, incident);
    store_arg(o, "operator");
    store_arg(o, "collector");
    store_end(o);
}

START_TEST(repeated_commands_send_their_arguments_once)
{
    static const char incident[] = "{\"id\":\"20261203-101500-00c0ffee\",\"agency\":\"Sở Y tế\","
                                   "\"summary\":\"portscan: packets=1204\"}";
    struct store_ops o;
    store_ops_init(&o);
    store_seen(&o, "canh:seen:gw:1", 60);
    announce(&o, "canh:incidents", incident);
    announce(&o, "canh:incidents:so-y-te", incident);
    announce(&o, "canh:incidents:so-tai-chinh", incident); /* a repeat of a repeat */
    store_cmd(&o, "HSET", "h1", "combined_id", "c1", NULL);
    store_cmd(&o, "HSET", "h2", "combined_id", "c1", NULL);
    store_cmd(&o, "HSET", "h3", "combined_id", "c2", NULL); /* not a repeat */
    store_cmd(&o, "SADD", "set1", "m", NULL);               /* a name sent as an argument */
    store_cmd(&o, "SADD", "set2", "m", NULL);
    store_cmd(&o, "HDELEQ", "h1", "combined_id", "c1", NULL);
    store_cmd(&o, "HDELEQ", "h2", "combined_id", "c1", NULL);
    store_cmd(&o, "HDELEQ", "h3", "combined_id", "c1", NULL); /* holds c2: kept */

    const char **argv;
    size_t *lens, argc;
    ck_assert_int_eq(store_apply_argv(&o, &argv, &lens, &argc), 0);
    size_t copies = 0;
    for (size_t i = 0; i < argc; i++)
        copies += lens[i] == strlen(incident) && memcmp(argv[i], incident, lens[i]) == 0;
    ck_assert_uint_eq(copies, 1);

    redisContext *c = test_redis_connect(&srv);
    ck_assert_ptr_nonnull(c);
    redisReply *r = redisCommandArgv(c, (int)argc, argv, lens);
    ck_assert_ptr_nonnull(r);
    ck_assert_msg(r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_STRING,
                  "script answered %s", r->str ? r->str : "?");
    ck_assert_str_eq(r->str, "OK");
    freeReplyObject(r);
    free(argv);
    free(lens);

    char want[1024], got[1024];
    snprintf(want, sizeof(want), "action|opened|incident|%s|operator|collector", incident);
    const char *streams[] = {"canh:incidents", "canh:incidents:so-y-te",
                             "canh:incidents:so-tai-chinh"};
    for (int i = 0; i < 3; i++) {
        stream_fields(c, streams[i], got, sizeof(got));
        ck_assert_str_eq(got, want);
    }
    r = redisCommand(c, "HGET h3 combined_id");
    ck_assert_str_eq(r->str, "c2");
    freeReplyObject(r);
    r = redisCommand(c, "EXISTS h1 h2");
    ck_assert_int_eq(r->integer, 0);
    freeReplyObject(r);
    r = redisCommand(c, "SINTERCARD 2 set1 set2");
    ck_assert_int_eq(r->integer, 1);
    freeReplyObject(r);
    r = redisCommand(c, "TTL canh:seen:gw:1");
    ck_assert_int_gt(r->integer, 0);
    freeReplyObject(r);
    redisFree(c);
    store_ops_free(&o);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("redis");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, repeated_commands_send_their_arguments_once);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
