/* test_incident.c — events into incidents: validation, keys, merging,
 * the hash round trip (collector/ingest.c, collector/incident.c). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/incident.h"
#include "collector/ingest.h"
#include "common/units.h"
#include "testutil.h"

static const char *EVENT =
    "{\"timestamp\":\"2026-11-23T08:16:14.123456+0700\",\"event_type\":\"alert\","
    "\"src_ip\":\"203.0.113.7\",\"dest_ip\":\"198.51.100.10\",\"dest_port\":80,\"proto\":\"TCP\","
    "\"alert\":{\"signature\":\"canh portscan\",\"category\":\"x\",\"severity\":2},"
    "\"canh\":{\"v\":1,\"id\":\"gw-soyte:7f3a9c:000042\",\"finding_id\":\"gw-soyte:7f3a9c:f17\","
    "\"agent\":\"gw-soyte\",\"agency\":\"Sở Y tế\",\"kind\":\"portscan\",\"state\":\"new\","
    "\"taxonomy\":{\"code\":\"attack.other\",\"vi\":\"Các hình thức tấn công mạng "
    "khác\",\"en\":\"Other attack\"},"
    "\"severity\":\"medium\",\"class\":\"normal\",\"rule\":\"scan.rules:portscan\","
    "\"asset\":{\"name\":\"portal\",\"owner\":\"Sở Y tế\",\"level\":3},"
    "\"first_seen\":\"2026-11-23T08:15:00.000000+0700\",\"last_seen\":\"2026-11-23T08:16:14.123456+"
    "0700\","
    "\"counters\":{\"packets\":1204,\"ports\":1000},\"evidence\":{\"scan_type\":\"syn\"}}}";

static const struct incident_policy POL = {
    .window_us = 1800ull * 1000000, .max_event_ids = 3, .serious_level = 3};

static char *edit(const char *from, const char *to)
{
    static char buf[4096];
    const char *p = strstr(EVENT, from);
    ck_assert_ptr_nonnull(p);
    snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(p - EVENT), EVENT, to, p + strlen(from));
    return buf;
}

static int parse(const char *text, struct in_event *ev, char *reason)
{
    return ingest_parse_event("gw-soyte", text, strlen(text), ev, reason, 256);
}

START_TEST(test_time_parse)
{
    uint64_t us;
    ck_assert_int_eq(units_parse_time_us("2026-11-23T08:16:14.123456+0700", &us), 0);
    ck_assert_uint_eq(us, 1795396574123456ull);
    ck_assert_int_eq(units_parse_time_us("2026-11-23T01:16:14.123456Z", &us), 0);
    ck_assert_uint_eq(us, 1795396574123456ull);
    ck_assert_int_eq(units_parse_time_us("2026-11-23T08:16:14+07:00", &us), 0);
    ck_assert_uint_eq(us, 1795396574000000ull);
    ck_assert_int_eq(units_parse_time_us("2026-11-23 08:16:14", &us), -1);
    ck_assert_int_eq(units_parse_time_us("2026-13-23T08:16:14Z", &us), -1);
}
END_TEST

START_TEST(test_event_accepted)
{
    struct in_event ev;
    char reason[256];
    ck_assert_int_eq(parse(EVENT, &ev, reason), 0);
    ck_assert_str_eq(ev.id, "gw-soyte:7f3a9c:000042");
    ck_assert_str_eq(ev.agency, "Sở Y tế");
    ck_assert_str_eq(ev.taxonomy->code, "attack.other");
    ck_assert_int_eq(ev.severity, SEV_MEDIUM);
    ck_assert_int_eq(ev.level, 3);
    ck_assert_str_eq(ev.src_ip, "203.0.113.7");
    ck_assert_uint_lt(ev.first_seen_us, ev.ts_us);
    ingest_event_free(&ev);
}
END_TEST

/* update and end are "finding" events (docs/event.md); "alert" for every
 * state, as older agents send, stays accepted. */
START_TEST(test_event_types)
{
    struct in_event ev;
    char reason[256];
    char update[4096];
    snprintf(update, sizeof(update), "%s", edit("\"state\":\"new\"", "\"state\":\"update\""));
    ck_assert_int_eq(parse(update, &ev, reason), 0);
    ingest_event_free(&ev);
    const char *at = strstr(update, "\"event_type\":\"alert\"");
    ck_assert_ptr_nonnull(at);
    char finding[4096];
    snprintf(finding, sizeof(finding), "%.*s\"event_type\":\"finding\"%s", (int)(at - update),
             update, at + strlen("\"event_type\":\"alert\""));
    ck_assert_int_eq(parse(finding, &ev, reason), 0);
    ck_assert_str_eq(ev.state, "update");
    ingest_event_free(&ev);
    ck_assert_int_eq(
        parse(edit("\"event_type\":\"alert\"", "\"event_type\":\"finding\""), &ev, reason), -1);
    ck_assert_ptr_nonnull(strstr(reason, "cannot open a finding"));
    ck_assert_int_eq(
        parse(edit("\"event_type\":\"alert\"", "\"event_type\":\"flow\""), &ev, reason), -1);
    ck_assert_ptr_nonnull(strstr(reason, "event_type"));
}
END_TEST

START_TEST(test_event_refused_with_reason)
{
    struct in_event ev;
    char reason[256];
    ck_assert_int_eq(parse("{\"event_type\":", &ev, reason), -1);
    ck_assert_ptr_nonnull(strstr(reason, "invalid JSON"));
    ck_assert_int_eq(parse(edit("\"v\":1", "\"v\":2"), &ev, reason), -1);
    ck_assert_str_eq(reason, "unknown schema version canh.v=2");
    ck_assert_int_eq(parse(edit("\"agent\":\"gw-soyte\"", "\"agent\":\"gw-x\""), &ev, reason), -1);
    ck_assert_ptr_nonnull(strstr(reason, "not the stream's agent"));
    ck_assert_int_eq(
        parse(edit("\"id\":\"gw-soyte:7f3a9c:000042\"", "\"id\":\"a b\""), &ev, reason), -1);
    ck_assert_int_eq(parse(edit("\"state\":\"new\"", "\"state\":\"old\""), &ev, reason), -1);
    ck_assert_int_eq(parse(edit("\"severity\":\"medium\"", "\"severity\":\"huge\""), &ev, reason),
                     -1);
    ck_assert_int_eq(parse(edit("\"timestamp\":\"2026", "\"timestamp\":\"x2026"), &ev, reason), -1);
    ck_assert_str_eq(reason, "timestamp missing or not ISO 8601");
}
END_TEST

START_TEST(test_key_and_merge)
{
    struct in_event ev;
    char reason[256], key[INCIDENT_KEY_LEN];
    ck_assert_int_eq(parse(EVENT, &ev, reason), 0);
    incident_key_for_event(&ev, key, sizeof(key));
    ck_assert_str_eq(key, "f|attack.other|203.0.113.7|Sở Y tế|portal");

    struct incident *inc = malloc(sizeof(*inc));
    incident_open_from_event(inc, "id1", key, &ev, &POL, 1000);
    ck_assert_uint_eq(inc->events, 1);
    ck_assert_int_eq(inc->status, INCIDENT_OPEN);
    ck_assert_str_eq(inc->summary, "portscan: scan_type=syn packets=1204 ports=1000");
    ck_assert(incident_accepts(inc, &ev, &POL));

    /* An update 20 minutes later extends it; 40 minutes after that not. */
    uint64_t t0 = ev.ts_us;
    ev.ts_us = ev.last_seen_us = t0 + 1200ull * 1000000;
    ev.id = "gw-soyte:7f3a9c:000043";
    ev.severity = SEV_HIGH;
    ck_assert(incident_accepts(inc, &ev, &POL));
    incident_add_event(inc, &ev, &POL, 2000);
    ck_assert_uint_eq(inc->events, 2);
    ck_assert_int_eq(inc->severity, SEV_HIGH);
    ck_assert_str_eq(inc->event_ids, "gw-soyte:7f3a9c:000042,gw-soyte:7f3a9c:000043");
    ev.ts_us = t0 + 3700ull * 1000000;
    ck_assert(!incident_accepts(inc, &ev, &POL));
    inc->status = INCIDENT_CLOSED;
    ev.ts_us = t0;
    ck_assert(!incident_accepts(inc, &ev, &POL));
    free(inc);
    ingest_event_free(&ev);
}
END_TEST

START_TEST(test_event_id_cap_and_class)
{
    struct in_event ev;
    char reason[256];
    ck_assert_int_eq(parse(EVENT, &ev, reason), 0);
    struct incident *inc = malloc(sizeof(*inc));
    incident_open_from_event(inc, "id1", "k", &ev, &POL, 1);
    const char *ids[] = {"a:1", "a:2", "a:3", "a:4"};
    for (int i = 0; i < 4; i++) {
        ev.id = ids[i];
        incident_add_event(inc, &ev, &POL, 2);
    }
    ck_assert_uint_eq(inc->events, 5);
    ck_assert_str_eq(inc->event_ids, "gw-soyte:7f3a9c:000042,a:1,a:2"); /* first 3 kept */
    ck_assert(!inc->serious);
    /* Serious on the wire, but the asset's level is under the SOC's threshold. */
    ev.serious = true;
    ev.level = 2;
    ck_assert(!incident_event_serious(&ev, &POL));
    ev.level = 3;
    ck_assert(incident_event_serious(&ev, &POL));
    incident_add_event(inc, &ev, &POL, 3);
    ck_assert(inc->serious);
    free(inc);
    ingest_event_free(&ev);
}
END_TEST

struct fields {
    const char *f[128];
    size_t l[128];
    char store[128][8192];
    size_t n;
};

static void collect(void *user, const char *field, const char *value)
{
    struct fields *fs = user;
    snprintf(fs->store[fs->n], sizeof(fs->store[0]), "%s", field);
    fs->f[fs->n] = fs->store[fs->n];
    fs->l[fs->n] = strlen(field);
    fs->n++;
    snprintf(fs->store[fs->n], sizeof(fs->store[0]), "%s", value);
    fs->f[fs->n] = fs->store[fs->n];
    fs->l[fs->n] = strlen(value);
    fs->n++;
}

START_TEST(test_hash_round_trip)
{
    struct in_event ev;
    char reason[256];
    ck_assert_int_eq(parse(EVENT, &ev, reason), 0);
    struct incident *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
    incident_open_from_event(a, "20261123-081614-00c0ffee", "f|k", &ev, &POL, 77);
    snprintf(a->sinks, sizeof(a->sinks), "webhook,soyte-mail");
    a->ver = 9;
    a->status = INCIDENT_ESCALATED;
    a->state = STATE_CONFIRMED;
    struct fields *fs = calloc(1, sizeof(*fs));
    incident_to_fields(a, collect, fs);
    ck_assert_int_eq(incident_from_fields(b, fs->f, fs->l, fs->n), 0);
    ck_assert_str_eq(b->id, a->id);
    ck_assert_ptr_eq(b->taxonomy, a->taxonomy);
    ck_assert_str_eq(b->agency, "Sở Y tế");
    ck_assert_uint_eq(b->first_seen_us, a->first_seen_us);
    ck_assert_str_eq(b->sinks, "webhook,soyte-mail");
    ck_assert_uint_eq(b->ver, 9);
    ck_assert_int_eq(b->status, INCIDENT_ESCALATED);
    ck_assert_int_eq(b->state, STATE_CONFIRMED);
    ck_assert_int_eq(b->severity, SEV_MEDIUM);
    ck_assert_str_eq(b->evidence, a->evidence);
    json_t *j = incident_to_json(b);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "taxonomy"), "vi")),
                     "Các hình thức tấn công mạng khác");
    ck_assert_str_eq(json_string_value(json_object_get(j, "state")), "confirmed");
    json_decref(j);
    /* A hash written before the lifecycle: closed status means closed. */
    struct fields *old = calloc(1, sizeof(*old));
    collect(old, "id", "X");
    collect(old, "taxonomy", "attack.dos");
    collect(old, "status", "closed");
    ck_assert_int_eq(incident_from_fields(b, old->f, old->l, old->n), 0);
    ck_assert_int_eq(b->state, STATE_CLOSED);
    free(old);
    free(fs);
    free(a);
    free(b);
    ingest_event_free(&ev);
}
END_TEST

START_TEST(test_lists)
{
    char list[16] = "";
    ck_assert(incident_list_add(list, sizeof(list), "a", ',', 3));
    ck_assert(incident_list_add(list, sizeof(list), "bb", ',', 3));
    ck_assert(incident_list_add(list, sizeof(list), "a", ',', 3));
    ck_assert(incident_list_add(list, sizeof(list), "c", ',', 3));
    ck_assert(!incident_list_add(list, sizeof(list), "d", ',', 3));
    ck_assert_str_eq(list, "a,bb,c");
    ck_assert(!incident_list_contains(list, "b", ','));
    ck_assert_uint_eq(incident_list_count(list, ','), 3);
}
END_TEST

/* A province-wide incident's agencies: each in order, the empty and the
 * over-long ones passed over, and nothing after the last. */
START_TEST(test_list_next)
{
    const char *p = "Sở Y tế||UBND tỉnh|0123456789abcdef|Sở TT&TT";
    char item[16];
    ck_assert(incident_list_next(&p, '|', item, sizeof(item)));
    ck_assert_str_eq(item, "Sở Y tế");
    ck_assert(incident_list_next(&p, '|', item, sizeof(item)));
    ck_assert_str_eq(item, "UBND tỉnh");
    ck_assert(incident_list_next(&p, '|', item, sizeof(item)));
    ck_assert_str_eq(item, "Sở TT&TT");
    ck_assert(!incident_list_next(&p, '|', item, sizeof(item)));
    ck_assert(!incident_list_next(&p, '|', item, sizeof(item)));
    const char *empty = "";
    ck_assert(!incident_list_next(&empty, '|', item, sizeof(item)));
    const char *one = "a|";
    ck_assert(incident_list_next(&one, '|', item, sizeof(item)));
    ck_assert_str_eq(item, "a");
    ck_assert(!incident_list_next(&one, '|', item, sizeof(item)));
}
END_TEST

/* incident_clear leaves a used block as a zeroed one reads: the hash
 * fields, the JSON and the linking fields. */
static void append_field(void *user, const char *field, const char *value)
{
    char *out = user;
    size_t used = strlen(out);
    snprintf(out + used, 16384 - used, "%s=%s\n", field, value);
}

START_TEST(test_clear_is_zero)
{
    struct incident *zero = calloc(1, sizeof(*zero)), *used = malloc(sizeof(*used));
    ck_assert_ptr_nonnull(zero);
    ck_assert_ptr_nonnull(used);
    memset(used, 0xa5, sizeof(*used));
    incident_clear(used);
    zero->taxonomy = used->taxonomy = taxonomy_find("attack.other");
    static char a[16384], b[16384];
    a[0] = b[0] = '\0';
    incident_to_fields(zero, append_field, a);
    incident_to_fields(used, append_field, b);
    ck_assert_str_eq(a, b);
    json_t *za = incident_to_json(zero), *zb = incident_to_json(used);
    char *ja = json_dumps(za, JSON_COMPACT | JSON_SORT_KEYS);
    char *jb = json_dumps(zb, JSON_COMPACT | JSON_SORT_KEYS);
    ck_assert_str_eq(ja, jb);
    json_decref(za);
    json_decref(zb);
    ck_assert_str_eq(used->combined_id, "");
    ck_assert_str_eq(used->province_id, "");
    ck_assert_int_eq(used->confirmed, CONFIRMED_NONE);
    free(ja);
    free(jb);
    free(zero);
    free(used);
}
END_TEST

/* An event the quick parse leaves to jansson (a \u escape) is read the
 * same: its fields, counters and evidence. */
START_TEST(test_event_read_by_jansson_too)
{
    struct in_event quick, slow;
    char reason[256];
    ck_assert_int_eq(parse(EVENT, &quick, reason), 0);
    ck_assert_int_eq(
        parse(edit("\"owner\":\"Sở Y tế\"", "\"owner\":\"S\\u1edf Y t\\u1ebf\""), &slow, reason),
        0);
    ck_assert_ptr_null(quick.root);
    ck_assert_ptr_nonnull(slow.root);
    ck_assert_str_eq(slow.asset_owner, "Sở Y tế");
    ck_assert_str_eq(slow.id, quick.id);
    ck_assert_str_eq(slow.agency, quick.agency);
    ck_assert_str_eq(slow.src_ip, quick.src_ip);
    ck_assert_int_eq(slow.dest_port, 80);
    ck_assert_int_eq(slow.level, 3);
    ck_assert_uint_eq(slow.ts_us, quick.ts_us);
    ck_assert(json_equal(slow.counters, quick.counters));
    ck_assert(json_equal(slow.evidence, quick.evidence));
    ck_assert_int_eq(json_integer_value(json_object_get(quick.counters, "ports")), 1000);
    ingest_event_free(&quick);
    ingest_event_free(&slow);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("incident");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_time_parse);
    tcase_add_test(tc, test_event_accepted);
    tcase_add_test(tc, test_event_types);
    tcase_add_test(tc, test_event_refused_with_reason);
    tcase_add_test(tc, test_key_and_merge);
    tcase_add_test(tc, test_event_id_cap_and_class);
    tcase_add_test(tc, test_hash_round_trip);
    tcase_add_test(tc, test_lists);
    tcase_add_test(tc, test_list_next);
    tcase_add_test(tc, test_clear_is_zero);
    tcase_add_test(tc, test_event_read_by_jansson_too);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
