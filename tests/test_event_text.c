/* test_event_text.c — the event text written directly (common/event_text.h)
 * is byte for byte jansson's dump of evt_to_json: what a consumer reads
 * does not depend on which path wrote it. */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/addr.h"
#include "common/assets_conf.h"
#include "common/event.h"
#include "common/event_text.h"
#include "common/rules_conf.h"
#include "common/text.h"
#include "testutil.h"

static struct rule rule = {.name = (char *)"portscan",
                           .ref = (char *)"scan.rules:portscan",
                           .detector = (char *)"portscan"};

static void base_event(struct evt *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->kind = "portscan";
    ev->rule = &rule;
    ev->taxonomy = taxonomy_find("recon.scan");
    if (!ev->taxonomy)
        ev->taxonomy = taxonomy_find("fault.other");
    ev->severity = SEV_MEDIUM;
    ev->ts_us = 1764720000123456ull;
    ev->first_seen_us = 1764719990000001ull;
    ev->last_seen_us = 1764720000999999ull;
    snprintf(ev->id, sizeof(ev->id), "hn-01:b00t:42");
    snprintf(ev->finding_id, sizeof(ev->finding_id), "hn-01:b00t:f7");
    ev->agent = "hn-01";
    ev->agency = "Sở Y tế";
}

/* evt_format(ev) equals jansson's dump of evt_to_json(ev). */
static void check_same(const struct evt *ev)
{
    json_t *tree = evt_to_json(ev);
    ck_assert_ptr_nonnull(tree);
    char *want = json_dumps(tree, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(tree);
    struct event_text t = {0};
    ck_assert_int_eq(evt_format(ev, &t), 0);
    ck_assert_str_eq(t.buf, want);
    ck_assert_uint_eq(t.len, strlen(want));
    /* The buffer is reused: a second event overwrites, never appends. */
    ck_assert_int_eq(evt_format(ev, &t), 0);
    ck_assert_str_eq(t.buf, want);
    free(want);
    event_text_free(&t);
}

START_TEST(minimal_event)
{
    struct evt ev;
    base_event(&ev);
    check_same(&ev);
}
END_TEST

START_TEST(every_member)
{
    struct evt ev;
    base_event(&ev);
    struct asset asset;
    memset(&asset, 0, sizeof(asset));
    snprintf(asset.name, sizeof(asset.name), "cổng thông tin");
    snprintf(asset.owner, sizeof(asset.owner), "Sở \"Y\" tế\\HN");
    asset.level = 3;
    asset.national_critical = true;
    ev.asset = &asset;
    ev.flow_id = 1234567890123ull;
    ev.in_iface = "eth0";
    ev.state = FINDING_END;
    ck_assert_int_eq(addr_parse("2001:db8::1", &ev.src), 0);
    ck_assert_int_eq(addr_parse("198.51.100.7", &ev.dst), 0);
    ev.has_src = ev.has_dst = true;
    ev.src_port = 40000;
    ev.dest_port = 443;
    ev.proto = 6;
    snprintf(ev.community_id, sizeof(ev.community_id), "1:abc+/def=");
    ev.class_ = CLASS_SERIOUS_CANDIDATE;
    snprintf(ev.src_country, sizeof(ev.src_country), "VN");
    ev.rules_rev = 77;
    ev.sensor = true;
    ev.exercise = "drill-2026.12_a";
    ev.counters = json_pack("{s:I,s:f,s:[i,i],s:s}", "packets", (json_int_t)1 << 40, "rate",
                            1234.56789, "ports", 22, 80, "note", "a/b");
    ev.evidence = json_pack("{s:s,s:{s:i}}", "path", "/wp-login.php?x=\"1\"", "nested", "k", 1);
    ev.consequence = CONSEQ_LOSS_OF_CONTROL;
    check_same(&ev);
    /* The consequence into an empty evidence object, and none at all. */
    json_decref(ev.evidence);
    ev.evidence = json_object();
    check_same(&ev);
    json_decref(ev.evidence);
    ev.evidence = NULL;
    check_same(&ev);
    ev.consequence = CONSEQ_NONE;
    check_same(&ev);
    /* An evidence object that already names a consequence: replaced in place. */
    ev.evidence = json_pack("{s:s,s:s,s:i}", "a", "x", "consequence", "old", "z", 2);
    ev.consequence = CONSEQ_SERVICE_INTERRUPTION;
    check_same(&ev);
    json_decref(ev.evidence);
    json_decref(ev.counters);
    ev.counters = NULL;
    ev.proto = 47; /* a number, not a name */
    ev.evidence = NULL;
    check_same(&ev);
}
END_TEST

START_TEST(escapes_and_invalid_utf8)
{
    struct evt ev;
    base_event(&ev);
    struct asset asset;
    memset(&asset, 0, sizeof(asset));
    /* Control characters, quotes, backslash, DEL, a 4-byte sequence. */
    snprintf(asset.name, sizeof(asset.name), "a\x01\b\f\n\r\t\x1f\"\\\x7f/\xf0\x9f\x98\x80z");
    /* Not UTF-8 (a stray continuation byte): jansson leaves the member
     * out; so must the direct writer. */
    snprintf(asset.owner, sizeof(asset.owner), "bad \x80 byte");
    asset.level = 1;
    ev.asset = &asset;
    ev.in_iface = "\xc0\xaf";   /* overlong '/' */
    ev.agency = "\xed\xa0\x80"; /* a surrogate */
    check_same(&ev);
    ev.agent = "\xf4\x90\x80\x80"; /* past U+10FFFF: host, signature, agent out */
    check_same(&ev);
    snprintf(asset.owner, sizeof(asset.owner), "truncated \xe1\xba");
    check_same(&ev);
}
END_TEST

START_TEST(detector_values_of_every_type)
{
    struct evt ev;
    base_event(&ev);
    ev.counters = json_pack("{s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:b,s:b,s:n,s:[],s:{},s:[[i],{s:f}]}",
                            "big", 1e20, "tiny", 1.5e-7, "tenth", 0.1, "whole", 100.0, "neg", -3.25,
                            "long", 123456789.0, "zero", 0.0, "third", 1.0 / 3, "yes", 1, "no", 0,
                            "none", "empty_list", "empty_obj", "deep", 5, "x", 2.5e-300);
    json_object_set_new(ev.counters, "key \"quoted\"\n\xc3\xa9",
                        json_integer(-9223372036854775807 - 1));
    ev.evidence = json_pack("{s:s}", "s", "tab\there \xe1\xba\xa1");
    ev.consequence = CONSEQ_SERVICE_INTERRUPTION;
    check_same(&ev);
    /* A string holding NUL: that object is left to jansson. */
    json_object_set_new(ev.counters, "nul", json_stringn("a\0b", 3));
    check_same(&ev);
    json_decref(ev.counters);
    json_decref(ev.evidence);
}
END_TEST

START_TEST(large_objects_grow_the_buffer)
{
    struct evt ev;
    base_event(&ev);
    json_t *list = json_array();
    for (int i = 0; i < 5000; i++)
        json_array_append_new(list, json_string("198.51.100.200"));
    ev.evidence = json_pack("{s:o}", "sources", list);
    ev.consequence = CONSEQ_LOSS_OF_INTEGRITY;
    check_same(&ev);
    json_decref(ev.evidence);
}
END_TEST

/* The writer others use (the collector's incidents): each call is the
 * json_object_set_new / json_array_append_new it stands for. */
START_TEST(writer_matches_the_tree_it_stands_for)
{
    struct event_text t = {0};
    struct event_text_writer w;
    json_t *tree = json_object();
    event_text_start(&w, &t, JSON_COMPACT);
    event_text_object(&w, NULL);
    json_t *list = json_array();
    event_text_array(&w, "list");
    /* An item that is not UTF-8 is left out, first or not. */
    event_text_stringn(&w, NULL, "\x80", 1);
    json_array_append_new(list, json_stringn("\x80", 1));
    event_text_stringn(&w, NULL, "a,b", 1);
    json_array_append_new(list, json_stringn("a,b", 1));
    event_text_stringn(&w, NULL, "n\0l", 3);
    json_array_append_new(list, json_stringn("n\0l", 3));
    event_text_array(&w, NULL);
    json_array_append_new(list, json_array());
    event_text_array_end(&w);
    event_text_null(&w, NULL);
    json_array_append_new(list, json_null());
    event_text_array_end(&w);
    json_object_set_new(tree, "list", list);
    event_text_string(&w, "bad", "\xc0\xaf");
    json_object_set_new(tree, "bad", json_string("\xc0\xaf"));
    event_text_bool(&w, "yes", true);
    json_object_set_new(tree, "yes", json_true());
    event_text_bool(&w, "no", false);
    json_object_set_new(tree, "no", json_false());
    event_text_int(&w, "min", -9223372036854775807 - 1);
    json_object_set_new(tree, "min", json_integer(-9223372036854775807 - 1));
    json_t *value = json_pack("{s:f,s:[f]}", "third", 1.0 / 3, "tenth", 0.1);
    event_text_value(&w, "value", value);
    json_object_set_new(tree, "value", value);
    event_text_value(&w, "none", NULL);
    json_object_set_new(tree, "none", json_object());
    /* A JSON text: copied when in jansson's form, else parsed and dumped. */
    const char *texts[] = {"{\"r\":0.10000000000000001}", "{ \"r\" : 0.1, \"s\":\"\\/\" }"};
    for (int i = 0; i < 2; i++) {
        char name[8];
        snprintf(name, sizeof(name), "j%d", i);
        ck_assert(event_text_json(&w, name, texts[i], strlen(texts[i])));
        json_object_set_new(tree, name, json_loads(texts[i], 0, NULL));
    }
    ck_assert(!event_text_json(&w, "cut", "{\"a\":", 5));
    event_text_object_end(&w);
    ck_assert_int_eq(event_text_finish(&w), 0);
    char *want = json_dumps(tree, JSON_COMPACT);
    ck_assert_str_eq(t.buf, want);
    free(want);
    json_decref(tree);

    /* Nested deeper than the writer holds: no text, not a wrong one. */
    event_text_start(&w, &t, JSON_COMPACT);
    for (int i = 0; i <= EVENT_TEXT_DEPTH; i++)
        event_text_array(&w, NULL);
    ck_assert_int_eq(event_text_finish(&w), -1);
    ck_assert_uint_eq(t.len, 0);
    event_text_free(&t);
}
END_TEST

/* An event's ids and texts are cut where snprintf cut them. */
START_TEST(text_cut_as_snprintf)
{
    for (size_t size = 1; size <= 24; size++) {
        char got[32], want[32];
        size_t n = text_copy(got, size, "hn-01");
        n = text_append(got, size, n, ":b00t:", 6);
        n = text_append_u64(got, size, n, 42, 6);
        snprintf(want, size, "%s:%s:%06llu", "hn-01", "b00t", 42ull);
        ck_assert_str_eq(got, want);
        ck_assert_uint_eq(n, strlen(want));
        n = text_copy(got, size, "f");
        text_append_u64(got, size, n, 18446744073709551615ull, 1);
        snprintf(want, size, "f%llu", 18446744073709551615ull);
        ck_assert_str_eq(got, want);
        text_append_u64(got, size, 0, 0, 1);
        snprintf(want, size, "%llu", 0ull);
        ck_assert_str_eq(got, want);
    }
}
END_TEST

/* IPv4 addresses written by hand read as inet_ntop writes them. */
START_TEST(ipv4_text_as_inet_ntop)
{
    unsigned seed = 7;
    for (int i = 0; i < 20000; i++) {
        uint8_t raw[4];
        for (int b = 0; b < 4; b++)
            raw[b] = i < 1024 ? (uint8_t)(b == i % 4 ? i / 4 : 0) : (uint8_t)rand_r(&seed);
        struct ipaddr a;
        addr_from_v4(&a, raw);
        char got[INET6_ADDRSTRLEN], want[INET6_ADDRSTRLEN];
        addr_format(&a, got, sizeof(got));
        inet_ntop(AF_INET, raw, want, sizeof(want));
        ck_assert_str_eq(got, want);
    }
}
END_TEST

/* One string of each length up to 40 with one odd piece at each place
 * (an escape, DEL, UTF-8 of 2, 3 and 4 bytes, a stray or cut sequence, an
 * overlong or surrogate one) in plain text: the writer's text equals
 * jansson's, and a string jansson refuses is left out as it leaves it.
 * Every path of the string writer (sixteen bytes, words, the text's last
 * word again, byte by byte) meets every kind of byte at every offset. */
START_TEST(strings_of_every_length_and_offset)
{
    static const char *pieces[] = {
        "\"",
        "\\",
        "\n",
        "\x01",
        "\x1f",
        "\x7f",
        "/",
        "\xc3\xa9",
        "\xe1\xba\xa1",
        "\xe2\x82\xac",
        "\xf0\x9f\x98\x80",
        "\x80",
        "\xc3",
        "\xe1\xba",
        "\xc0\xaf",
        "\xed\xa0\x80",
        "\xe0\x80\x80",
        "\xf4\x90\x80\x80",
        "\xff",
        "ở",
    };
    struct event_text t = {0};
    for (size_t len = 0; len <= 40; len++)
        for (size_t k = 0; k < sizeof(pieces) / sizeof(pieces[0]); k++)
            for (size_t at = 0; at <= len; at++) {
                char text[64];
                size_t plen = strlen(pieces[k]);
                for (size_t i = 0; i < len; i++)
                    text[i] = (char)('a' + (i * 7 + len) % 26);
                memmove(text + at + plen, text + at, len - at);
                memcpy(text + at, pieces[k], plen);
                size_t n = len + plen;
                json_t *tree = json_array();
                json_array_append_new(tree, json_stringn(text, n));
                json_array_append_new(tree, json_integer((json_int_t)(n * 1000003u)));
                struct event_text_writer w;
                event_text_start(&w, &t, JSON_COMPACT);
                event_text_array(&w, NULL);
                event_text_stringn(&w, NULL, text, n);
                event_text_int(&w, NULL, (long long)(n * 1000003u));
                event_text_array_end(&w);
                ck_assert_int_eq(event_text_finish(&w), 0);
                char *want = json_dumps(tree, JSON_COMPACT);
                ck_assert_msg(strcmp(t.buf, want) == 0, "len %zu piece %zu at %zu: %s != %s", len,
                              k, at, t.buf, want);
                free(want);
                json_decref(tree);
            }
    event_text_free(&t);
}
END_TEST

/* Numbers of every length and sign read as jansson prints them. */
/* One text reused for event after event, as the agent reuses it: the
 * non-ASCII strings it remembers (agency, asset owner, more distinct ones
 * than it keeps, one with escapes, one not UTF-8 and so left out) read
 * as jansson writes them every time. */
START_TEST(recurring_strings_in_a_reused_text)
{
    static const char *const agencies[] = {
        "Sở Y tế",   "Sở Tài chính", "Sở \"Giáo dục\"\tHN", "Ủy ban nhân dân tỉnh",
        "Sở Nội vụ", "S\xe1\xbb",    "Sở Tư pháp",          "Sở Y tế"};
    struct asset asset;
    memset(&asset, 0, sizeof(asset));
    snprintf(asset.name, sizeof(asset.name), "cổng thông tin");
    snprintf(asset.owner, sizeof(asset.owner), "Sở Thông tin và Truyền thông");
    asset.level = 2;
    struct event_text t = {0};
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < sizeof(agencies) / sizeof(agencies[0]); i++) {
            struct evt ev;
            base_event(&ev);
            ev.agency = agencies[i];
            ev.asset = i % 2 ? &asset : NULL;
            json_t *tree = evt_to_json(&ev);
            ck_assert_ptr_nonnull(tree);
            char *want = json_dumps(tree, JSON_COMPACT | JSON_REAL_PRECISION(6));
            json_decref(tree);
            ck_assert_int_eq(evt_format(&ev, &t), 0);
            ck_assert_str_eq(t.buf, want);
            free(want);
        }
    }
    event_text_free(&t);
}
END_TEST

START_TEST(integers_as_jansson_prints_them)
{
    struct event_text t = {0};
    long long v = 1;
    for (int digits = 1; digits <= 19; digits++, v = digits <= 19 ? v * 10 : v) {
        long long cases[] = {v, v - 1, v + 1, -v, 1 - v, v * 9 / 10 + v / 10 * 9 - 1};
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            struct event_text_writer w;
            event_text_start(&w, &t, JSON_COMPACT);
            event_text_int(&w, NULL, cases[i]);
            ck_assert_int_eq(event_text_finish(&w), 0);
            char want[32];
            snprintf(want, sizeof(want), "%lld", cases[i]);
            ck_assert_str_eq(t.buf, want);
        }
    }
    long long edges[] = {0, 9223372036854775807LL, -9223372036854775807LL - 1};
    for (size_t i = 0; i < 3; i++) {
        struct event_text_writer w;
        event_text_start(&w, &t, JSON_COMPACT);
        event_text_int(&w, NULL, edges[i]);
        ck_assert_int_eq(event_text_finish(&w), 0);
        char want[32];
        snprintf(want, sizeof(want), "%lld", edges[i]);
        ck_assert_str_eq(t.buf, want);
    }
    event_text_free(&t);
}
END_TEST

int main(void)
{
    setenv("TZ", "Asia/Ho_Chi_Minh", 1);
    Suite *s = suite_create("event_text");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, minimal_event);
    tcase_add_test(tc, every_member);
    tcase_add_test(tc, escapes_and_invalid_utf8);
    tcase_add_test(tc, detector_values_of_every_type);
    tcase_add_test(tc, large_objects_grow_the_buffer);
    tcase_add_test(tc, writer_matches_the_tree_it_stands_for);
    tcase_add_test(tc, text_cut_as_snprintf);
    tcase_add_test(tc, ipv4_text_as_inet_ntop);
    tcase_add_test(tc, strings_of_every_length_and_offset);
    tcase_add_test(tc, integers_as_jansson_prints_them);
    tcase_add_test(tc, recurring_strings_in_a_reused_text);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
