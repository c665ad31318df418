/* test_incident_text.c — an announcement's incident JSON written directly
 * (collector/incident_text.h) is byte for byte jansson's compact dump of
 * incident_to_json: what canh-tail, the archive and the status page read
 * does not depend on which path wrote it. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/incident.h"
#include "collector/incident_text.h"
#include "collector/ingest.h"
#include "common/json_canon.h"
#include "testutil.h"

static const char *EVENT =
    "{\"timestamp\":\"2026-11-23T08:16:14.123456+0700\",\"event_type\":\"alert\","
    "\"src_ip\":\"203.0.113.7\",\"dest_ip\":\"198.51.100.10\",\"dest_port\":80,\"proto\":\"TCP\","
    "\"canh\":{\"v\":1,\"id\":\"gw-soyte:7f3a9c:000042\",\"finding_id\":\"gw-soyte:7f3a9c:f17\","
    "\"agent\":\"gw-soyte\",\"agency\":\"Sở Y tế\",\"kind\":\"portscan\",\"state\":\"new\","
    "\"taxonomy\":{\"code\":\"attack.other\",\"vi\":\"x\",\"en\":\"y\"},"
    "\"severity\":\"medium\",\"class\":\"normal\",\"rule\":\"scan.rules:portscan\","
    "\"asset\":{\"name\":\"portal\",\"owner\":\"Sở Y tế\",\"level\":3},"
    "\"src_geo\":{\"country\":\"VN\"},"
    "\"first_seen\":\"2026-11-23T08:15:00.000000+0700\","
    "\"last_seen\":\"2026-11-23T08:16:14.123456+0700\","
    "\"counters\":{\"packets\":1204,\"pps\":1.23457e6,\"rate\":0.1,\"ratio\":0.333333,"
    "\"tiny\":2.5e-300,\"big\":9223372036854775807},"
    "\"evidence\":{\"ports\":[22,80,443],\"path\":\"/wp-login.php?x=\\\"1\\\"\\\\\","
    "\"note\":\"tab\\there \xe1\xba\xa1 \\u0001\",\"nested\":{\"k\":[{\"a\":null,"
    "\"b\":true}]}}}}";

static const struct incident_policy POL = {
    .window_us = 1800ull * 1000000, .max_event_ids = 50, .serious_level = 3};

/* incident_format(inc) equals json_dumps(incident_to_json(inc),
 * JSON_COMPACT), also when the buffer is reused. */
static void check_same(const struct incident *inc)
{
    json_t *tree = incident_to_json(inc);
    ck_assert_ptr_nonnull(tree);
    char *want = json_dumps(tree, JSON_COMPACT);
    json_decref(tree);
    ck_assert_ptr_nonnull(want);
    struct event_text t = {0};
    ck_assert_int_eq(incident_format(inc, &t), 0);
    ck_assert_str_eq(t.buf, want);
    ck_assert_uint_eq(t.len, strlen(want));
    ck_assert_int_eq(incident_format(inc, &t), 0);
    ck_assert_str_eq(t.buf, want);
    free(want);
    event_text_free(&t);
}

/* An incident opened from EVENT with a second event merged in. */
static struct incident *opened(void)
{
    struct in_event ev;
    char reason[256];
    ck_assert_int_eq(ingest_parse_event("gw-soyte", EVENT, strlen(EVENT), &ev, reason, 256), 0);
    struct incident *inc = malloc(sizeof(*inc));
    incident_open_from_event(inc, "20261123-081614-00c0ffee", "f|k", &ev, &POL, 1764000000000000);
    ev.id = "gw-soyte:7f3a9c:000043";
    ev.src_ip = "2001:db8::7";
    incident_add_event(inc, &ev, &POL, 1764000001000000);
    ingest_event_free(&ev);
    return inc;
}

START_TEST(every_field_set)
{
    struct incident *inc = opened();
    inc->type = INCIDENT_PROVINCE;
    snprintf(inc->agency, sizeof(inc->agency), "Sở Y tế|Sở Tài chính|UBND tỉnh");
    snprintf(inc->kinds, sizeof(inc->kinds), "portscan,syn_flood,defacement");
    snprintf(inc->agents, sizeof(inc->agents), "gw-soyte,gw-stc");
    snprintf(inc->consequences, sizeof(inc->consequences), "service_interruption,data_loss");
    snprintf(inc->countries, sizeof(inc->countries), "VN,US");
    snprintf(inc->children, sizeof(inc->children), "20261123-081614-0000000a,20261123-0-b");
    snprintf(inc->combined_id, sizeof(inc->combined_id), "20261123-081614-0000c0de");
    snprintf(inc->province_id, sizeof(inc->province_id), "20261123-081614-00000bad");
    snprintf(inc->pcaps, sizeof(inc->pcaps), "evidence/gw-soyte:7f3a9c:f17.pcap");
    snprintf(inc->exercise, sizeof(inc->exercise), "drill-2026.12_a");
    snprintf(inc->drill_breach, sizeof(inc->drill_breach), "drill-2026.12_b");
    inc->serious = inc->national_critical = inc->sensor = true;
    inc->severity = SEV_CRITICAL;
    inc->status = INCIDENT_ESCALATED;
    inc->state = STATE_CONFIRMED;
    inc->closed_us = 1764000009000000;
    check_same(inc);
    for (int t = INCIDENT_FINDING; t <= INCIDENT_MANUAL; t++) {
        inc->type = (enum incident_type)t;
        check_same(inc);
    }
    for (int s = STATE_OPEN; s <= STATE_CLOSED; s++) {
        inc->state = (enum incident_state)s;
        check_same(inc);
    }
    free(inc);
}
END_TEST

START_TEST(empty_lists_and_unset_times)
{
    struct incident *inc = opened();
    inc->kinds[0] = inc->agents[0] = inc->sources[0] = inc->countries[0] = '\0';
    inc->targets[0] = inc->event_ids[0] = inc->children[0] = inc->pcaps[0] = '\0';
    inc->consequences[0] = inc->asset[0] = inc->asset_owner[0] = inc->summary[0] = '\0';
    inc->first_seen_us = inc->last_seen_us = inc->opened_us = inc->closed_us = 0;
    inc->type = INCIDENT_PROVINCE;
    inc->agency[0] = '\0';
    check_same(inc);
    /* Empty items, a separator at either end. */
    snprintf(inc->kinds, sizeof(inc->kinds), ",a,,b,");
    snprintf(inc->agency, sizeof(inc->agency), "|Sở Y tế||");
    check_same(inc);
    free(inc);
}
END_TEST

START_TEST(escapes_vietnamese_and_invalid_utf8)
{
    struct incident *inc = opened();
    snprintf(inc->summary, sizeof(inc->summary),
             "VƯỢT PHẠM VI DIỄN TẬP \"q\" \\ / \x01\b\f\n\r\t\x1f\x7f \xf0\x9f\x98\x80 đã chặn");
    snprintf(inc->asset, sizeof(inc->asset), "Cổng thông tin điện tử");
    check_same(inc);
    /* Not UTF-8: a member is left out, a list item too (jansson's NULL). */
    snprintf(inc->asset_owner, sizeof(inc->asset_owner), "bad \x80 byte");
    snprintf(inc->agency, sizeof(inc->agency), "\xc0\xaf");
    snprintf(inc->summary, sizeof(inc->summary), "truncated \xe1\xba");
    snprintf(inc->sources, sizeof(inc->sources), "203.0.113.7,\xed\xa0\x80,198.51.100.1");
    snprintf(inc->kinds, sizeof(inc->kinds), "\xf4\x90\x80\x80");
    snprintf(inc->targets, sizeof(inc->targets), "\x80,198.51.100.10,\xc3"); /* first, last */
    snprintf(inc->id, sizeof(inc->id), "\xff");
    check_same(inc);
    inc->type = INCIDENT_PROVINCE;
    snprintf(inc->agency, sizeof(inc->agency), "ok|\x80|Sở");
    check_same(inc);
    free(inc);
}
END_TEST

START_TEST(big_numbers)
{
    struct incident *inc = opened();
    inc->events = UINT64_MAX; /* json_integer((json_int_t)events): -1 */
    inc->level = -2147483647 - 1;
    check_same(inc);
    inc->events = (uint64_t)INT64_MAX;
    inc->level = 2147483647;
    inc->first_seen_us = 1;
    inc->last_seen_us = 253402300799999999ull; /* 9999-12-31 */
    inc->closed_us = UINT64_MAX / 2;
    check_same(inc);
    free(inc);
}
END_TEST

/* The evidence text: the collector's own (copied), anything else a hash
 * may hold (parsed by jansson, or "{}" when it does not parse). */
START_TEST(evidence_texts)
{
    struct incident *inc = opened();
    ck_assert_msg(json_canon_is_dump(inc->evidence, strlen(inc->evidence), 0),
                  "the collector's evidence is not in jansson's form: %s", inc->evidence);
    check_same(inc);
    const char *texts[] = {
        "",
        "{}",
        "{\"silent_s\":120}",
        "{ \"a\" : 0.1 , \"b\":1E2 }",
        "{\"a\":1,\"a\":2}",
        "{\"s\":\"\\u00e9\\/\"}",
        "[1,2]",
        "\"a string\"",
        "{\"counters\":{\"x\":1},\"evidence\":{\"cut",
        "not json",
        "{\"deep\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}",
        "{\"n\":1e400}",
        "{\"s\":\"\\u0000\"}",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        snprintf(inc->evidence, sizeof(inc->evidence), "%s", texts[i]);
        check_same(inc);
    }
    free(inc);
}
END_TEST

/* keep_evidence writes {"counters","evidence"} as json_dumps did. */
START_TEST(kept_evidence_is_jansson_dump)
{
    struct in_event ev;
    char reason[256];
    ck_assert_int_eq(ingest_parse_event("gw-soyte", EVENT, strlen(EVENT), &ev, reason, 256), 0);
    struct incident *inc = malloc(sizeof(*inc));
    incident_open_from_event(inc, "id", "f|k", &ev, &POL, 1);
    json_t *e = json_pack("{s:O,s:O}", "counters", ev.counters, "evidence", ev.evidence);
    char *want = json_dumps(e, JSON_COMPACT);
    ck_assert_str_eq(inc->evidence, want);
    free(want);
    /* No counters, no evidence: empty objects. */
    json_t *counters = ev.counters, *evidence = ev.evidence;
    ev.counters = ev.evidence = NULL;
    incident_add_event(inc, &ev, &POL, 2);
    ck_assert_str_eq(inc->evidence, "{\"counters\":{},\"evidence\":{}}");
    /* Too long for the incident: "{}". */
    json_t *big = json_array();
    for (int i = 0; i < 400; i++)
        json_array_append_new(big, json_string("198.51.100.200"));
    ev.evidence = big;
    ev.counters = counters;
    incident_add_event(inc, &ev, &POL, 3);
    ck_assert_str_eq(inc->evidence, "{}");
    check_same(inc);
    json_decref(big);
    ev.counters = counters;
    ev.evidence = evidence;
    json_decref(e);
    free(inc);
    ingest_event_free(&ev);
}
END_TEST

int main(void)
{
    setenv("TZ", "Asia/Ho_Chi_Minh", 1);
    Suite *s = suite_create("incident_text");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, every_field_set);
    tcase_add_test(tc, empty_lists_and_unset_times);
    tcase_add_test(tc, escapes_vietnamese_and_invalid_utf8);
    tcase_add_test(tc, big_numbers);
    tcase_add_test(tc, evidence_texts);
    tcase_add_test(tc, kept_evidence_is_jansson_dump);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
