/* test_reload.c — SIGHUP semantics of the pipeline (what pipeline_reload
 * does when canh-agent gets SIGHUP): a changed threshold takes effect, an
 * ongoing finding survives the reload as the same finding, and a broken
 * rule file is refused with file:line while the running rules stay. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/pipeline.h"
#include "common/log.h"
#include "testutil.h"

#define HARNESS_NAME "reload"
#include "pipeline_harness.h"

/* The shipped rules, with [portscan]'s port threshold set to ports. */
static void write_rules(int ports, const char *extra)
{
    char cmd[512];
    copy_shipped_rules();
    snprintf(cmd, sizeof(cmd),
             "sed -i '/^\\[portscan\\]/,/^\\[/ s/^ports = .*/ports = %d/' %s/scan.rules", ports,
             rules_dir);
    ck_assert_int_eq(system(cmd), 0);
    if (extra) {
        char path[128];
        snprintf(path, sizeof(path), "%s/zz-local.rules", rules_dir);
        FILE *fp = fopen(path, "w");
        fputs(extra, fp);
        fclose(fp);
    }
}

/* n SYN probes from src to distinct ports of 198.51.100.10, 10 ms apart. */
static void scan(struct pipeline *pl, const char *src, int first_port, int n)
{
    for (int i = 0; i < n; i++) {
        struct pkt p = {0};
        clock_us += 10000;
        p.ts_us = clock_us;
        p.ip_version = 4;
        addr_parse(src, &p.src);
        addr_parse("198.51.100.10", &p.dst);
        p.proto = PROTO_TCP;
        p.ttl = 52;
        p.sport = 40000;
        p.dport = (uint16_t)(first_port + i);
        p.tcp_flags = TCP_SYN;
        p.tcp_window = 1024;
        p.ip_len = 44;
        pipeline_packet(pl, &p);
    }
}

/* Findings ("new" events) of kind portscan from src. */
static int news_from(const char *src)
{
    int n = 0;
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev)
    {
        json_t *c = json_object_get(ev, "canh");
        if (strcmp(json_string_value(json_object_get(c, "kind")), "portscan") == 0 &&
            strcmp(json_string_value(json_object_get(c, "state")), "new") == 0 &&
            strcmp(json_string_value(json_object_get(ev, "src_ip")), src) == 0)
            n++;
    }
    return n;
}

static const char *finding_of(const char *src, const char *state)
{
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev)
    {
        json_t *c = json_object_get(ev, "canh");
        if (strcmp(json_string_value(json_object_get(ev, "src_ip")), src) == 0 &&
            strcmp(json_string_value(json_object_get(c, "state")), state) == 0)
            return json_string_value(json_object_get(c, "finding_id"));
    }
    return NULL;
}

START_TEST(threshold_change_takes_effect)
{
    struct agent_config cfg;
    struct cfg_err err;
    write_rules(25, NULL);
    struct pipeline *pl = start(&cfg);
    const char *before = pipeline_rules_version(pl);
    char version[17];
    snprintf(version, sizeof(version), "%s", before);

    /* 30 ports cross the threshold of 25 ... */
    scan(pl, "203.0.113.1", 1, 30);
    ck_assert_int_eq(news_from("203.0.113.1"), 1);
    /* ... but not one of 40 after a reload. */
    write_rules(40, NULL);
    ck_assert_msg(pipeline_reload(pl, &err) == 0, "%s", err.msg);
    ck_assert_str_ne(pipeline_rules_version(pl), version);
    scan(pl, "203.0.113.2", 1, 30);
    ck_assert_int_eq(news_from("203.0.113.2"), 0);
    /* A lower threshold makes 12 ports enough. */
    write_rules(10, NULL);
    ck_assert_msg(pipeline_reload(pl, &err) == 0, "%s", err.msg);
    scan(pl, "203.0.113.3", 1, 12);
    ck_assert_int_eq(news_from("203.0.113.3"), 1);
    pipeline_free(pl);
    agent_config_free(&cfg);
}
END_TEST

START_TEST(ongoing_finding_survives_reload)
{
    struct agent_config cfg;
    struct cfg_err err;
    write_rules(25, NULL);
    struct pipeline *pl = start(&cfg);
    scan(pl, "203.0.113.9", 1, 30);
    ck_assert_int_eq(news_from("203.0.113.9"), 1);
    const char *opened = finding_of("203.0.113.9", "new");
    ck_assert_ptr_nonnull(opened);
    char id[96];
    snprintf(id, sizeof(id), "%s", opened);

    write_rules(26, NULL); /* the rule still exists, with a new threshold */
    ck_assert_msg(pipeline_reload(pl, &err) == 0, "%s", err.msg);
    scan(pl, "203.0.113.9", 31, 200);
    pipeline_finish(pl, clock_us);
    /* Still one finding: no second "new", and it ends as the same id. */
    ck_assert_int_eq(news_from("203.0.113.9"), 1);
    const char *ended = finding_of("203.0.113.9", "end");
    ck_assert_ptr_nonnull(ended);
    ck_assert_str_eq(ended, id);
    pipeline_free(pl);
    agent_config_free(&cfg);
}
END_TEST

START_TEST(broken_rules_keep_the_running_set)
{
    struct agent_config cfg;
    struct cfg_err err;
    write_rules(25, NULL);
    struct pipeline *pl = start(&cfg);
    char version[17];
    snprintf(version, sizeof(version), "%s", pipeline_rules_version(pl));

    write_rules(10, "[my_scan]\ndetector = portscan\ntaxonomy = attack.other\nports = many\n");
    ck_assert_int_eq(pipeline_reload(pl, &err), -1);
    char where[128];
    snprintf(where, sizeof(where), "%s/zz-local.rules:4:", rules_dir);
    ck_assert_msg(strstr(err.msg, where) == err.msg, "%s", err.msg);
    ck_assert_str_eq(pipeline_rules_version(pl), version);
    /* The threshold of 25 still holds: 12 ports are not a scan. */
    scan(pl, "203.0.113.20", 1, 12);
    ck_assert_int_eq(news_from("203.0.113.20"), 0);
    scan(pl, "203.0.113.21", 1, 30);
    ck_assert_int_eq(news_from("203.0.113.21"), 1);
    pipeline_free(pl);
    agent_config_free(&cfg);
}
END_TEST

int main(void)
{
    log_init("test_reload", LOG_LEVEL_ERR);
    Suite *s = suite_create("reload");
    TCase *tc = tcase_create("reload");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, threshold_change_takes_effect);
    tcase_add_test(tc, ongoing_finding_survives_reload);
    tcase_add_test(tc, broken_rules_keep_the_running_set);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
