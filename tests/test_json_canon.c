/* test_json_canon.c — "does this text already read as jansson's dump of
 * its parse" (common/json_canon.h): every "yes" is checked against
 * jansson itself, and the forms jansson writes otherwise are "no". */
#include <check.h>
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_canon.h"
#include "testutil.h"

/* jansson's dump of its own parse of text (flags: compact and precision),
 * or NULL when it refuses the text. */
static char *redump(const char *text, size_t len, int precision)
{
    json_t *tree = json_loadb(text, len, 0, NULL);
    if (!tree)
        return NULL;
    char *out = json_dumps(tree, JSON_COMPACT | JSON_REAL_PRECISION(precision));
    json_decref(tree);
    return out;
}

/* The answer for text, and when it is "yes", jansson agrees. */
static bool canon(const char *text, int precision)
{
    size_t len = strlen(text);
    bool yes = json_canon_is_dump(text, len, precision);
    if (yes) {
        char *again = redump(text, len, precision);
        ck_assert_msg(again != NULL, "jansson refuses %s", text);
        ck_assert_str_eq(again, text);
        free(again);
    }
    return yes;
}

START_TEST(jansson_output_is_recognised)
{
    const char *texts[] = {
        "{}",
        "[]",
        "{\"counters\":{\"packets\":1204,\"ports\":1000},\"evidence\":{\"scan_type\":\"syn\"}}",
        "{\"a\":[1,-2,0,9223372036854775807,-9223372036854775808],\"b\":true,\"c\":false,"
        "\"d\":null}",
        "{\"r\":[0.10000000000000001,100.0,-3.25,1.0000000000000001e300,9.9999999999999995e-8,"
        "-0.0,0.0]}",
        "{\"vi\":\"Tấn công từ chối dịch vụ — Sở Y tế\",\"emoji\":\"\xf0\x9f\x98\x80\"}",
        "{\"esc\":\"q\\\"b\\\\n\\nr\\rt\\tb\\bf\\f c\\u0001\\u001F del\x7f /\"}",
        "{\"\":\"\",\"nested\":[[[]],{\"x\":{\"y\":[{}]}}]}",
        "[\"a\",\"b\",\"a\"]",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        ck_assert_msg(canon(texts[i], 0), "not recognised: %s", texts[i]);
    /* Reals as the agent's events print them (precision 6). */
    ck_assert(canon("{\"pps\":1.23457e6,\"rate\":0.1,\"x\":2.5e-300}", 6));
    ck_assert(!canon("{\"pps\":1.23457e6}", 0));
    ck_assert(!canon("{\"rate\":0.10000000000000001}", 6));
}
END_TEST

START_TEST(other_forms_are_not)
{
    const char *texts[] = {
        "",                             /* nothing */
        "\"top\"",                      /* json_loadb takes objects and arrays only */
        "17",                           /* ditto */
        "{ }",                          /* white space */
        "{\"a\":1} ",                   /* trailing space */
        "{\"a\" :1}",                   /* */
        "[1,2]\n",                      /* */
        "{\"a\":1,\"a\":2}",            /* a repeated key: jansson keeps one */
        "{\"s\":\"\\/\"}",              /* jansson writes '/' as it is */
        "{\"s\":\"\\u00e9\"}",          /* and é as UTF-8 */
        "{\"s\":\"\\u0041\"}",          /* */
        "{\"s\":\"\\u001f\"}",          /* lower-case hex */
        "{\"s\":\"\\u000a\"}",          /* \n has a short escape */
        "{\"s\":\"\\u0000\"}",          /* NUL: refused by jansson */
        "{\"s\":\"\\ud83d\\ude00\"}",   /* a pair for what it writes as UTF-8 */
        "{\"s\":\"a\tb\"}",             /* a raw control character */
        "{\"s\":\"\x80\"}",             /* not UTF-8 */
        "{\"s\":\"\xc0\xaf\"}",         /* overlong */
        "{\"s\":\"\xed\xa0\x80\"}",     /* surrogate */
        "{\"s\":\"\xe1\xba\"}",         /* cut short */
        "{\"n\":-0}",                   /* read as 0 */
        "{\"n\":01}",                   /* */
        "{\"n\":1E2}",                  /* a real: 100.0 */
        "{\"n\":0.1}",                  /* 0.10000000000000001 */
        "{\"n\":1.0e300}",              /* */
        "{\"n\":1e+300}",               /* */
        "{\"n\":1e400}",                /* overflow: refused */
        "{\"n\":1e-400}",               /* 0.0 */
        "{\"n\":9223372036854775808}",  /* too big */
        "{\"n\":-9223372036854775809}", /* */
        "{\"n\":1.}",                   /* */
        "{\"n\":.5}",                   /* */
        "{\"n\":+1}",                   /* */
        "{\"n\":tru}",                  /* */
        "{\"n\":True}",                 /* */
        "{\"a\":1,}",                   /* */
        "[1,]",                         /* */
        "{\"a\":1",                     /* cut */
        "{\"a\"}",                      /* */
        "{1:2}",                        /* */
        "[\"unterminated]",             /* */
        "{\"a\":1}{}",                  /* two texts */
        "{\"a\":\"b\\",                 /* */
        "{\"a\":\"\\u00",               /* */
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        ck_assert_msg(!canon(texts[i], 0), "taken as jansson's form: %s", texts[i]);
    /* A NUL inside the text is not part of any canonical text. */
    ck_assert(!json_canon_is_dump("{\"a\":\"\0\"}", 8, 0));
    ck_assert(!json_canon_is_dump("{}\0", 3, 0));
}
END_TEST

START_TEST(beyond_the_checks_reach_is_no)
{
    /* 17 levels and 33 members: jansson's own form, answered "no" (the
     * caller then parses). */
    char deep[64] = "";
    for (int i = 0; i < 17; i++)
        strcat(deep, "[");
    for (int i = 0; i < 17; i++)
        strcat(deep, "]");
    ck_assert(!canon(deep, 0));
    memset(deep, 0, sizeof(deep));
    memset(deep, '[', 16);
    memset(deep + 16, ']', 16);
    ck_assert(canon(deep, 0));
    char wide[512] = "{";
    for (int i = 0; i < 33; i++) {
        char m[24];
        snprintf(m, sizeof(m), "%s\"k%d\":%d", i ? "," : "", i, i);
        strcat(wide, m);
    }
    strcat(wide, "}");
    ck_assert(!canon(wide, 0));
    char *cut = strstr(wide, ",\"k32\"");
    strcpy(cut, "}");
    ck_assert(canon(wide, 0));
}
END_TEST

START_TEST(reals_print_as_jansson_prints_them)
{
    double values[] = {0.0,     -0.0,    0.1,     1.0 / 3, 100.0,       1e20,
                       1e21,    1e-5,    1.5e-7,  -3.25,   123456789.0, 1e300,
                       -1e-300, DBL_MAX, DBL_MIN, 5e-324,  1234.56789,  9007199254740993.0,
                       0.5,     2.5e-300};
    for (int precision = 0; precision <= 17; precision += 6) {
        for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
            json_t *a = json_pack("[f]", values[i]);
            char *want = json_dumps(a, JSON_COMPACT | JSON_REAL_PRECISION(precision));
            json_decref(a);
            char got[48] = "[";
            size_t n = json_canon_real(values[i], precision, got + 1, sizeof(got) - 2);
            ck_assert_uint_gt(n, 0);
            strcat(got, "]");
            ck_assert_str_eq(got, want);
            free(want);
        }
    }
    char buf[48];
    ck_assert_uint_eq(json_canon_real(NAN, 0, buf, sizeof(buf)), 0);
    ck_assert_uint_eq(json_canon_real(INFINITY, 0, buf, sizeof(buf)), 0);
}
END_TEST

/* Trees of random shape, dumped by jansson: each text is recognised. */
static json_t *random_tree(unsigned *seed, int depth)
{
    int kind = depth >= 4 ? (int)(rand_r(seed) % 6) : (int)(rand_r(seed) % 8);
    switch (kind) {
    case 0:
        return json_integer((json_int_t)rand_r(seed) * (rand_r(seed) % 2 ? -1 : 1) *
                            (json_int_t)rand_r(seed));
    case 1:
        return json_real((double)rand_r(seed) / ((double)rand_r(seed) + 1) *
                         pow(10, (int)(rand_r(seed) % 40) - 20));
    case 2: {
        static const char *const pieces[] = {"a",    "Sở",   "\"", "\\",
                                             "\n",   "\x01", "/",  "\xe1\xba\xa1",
                                             "\x7f", " ",    "\t", "\xf0\x9f\x98\x80"};
        char s[64] = "";
        for (int i = rand_r(seed) % 6; i > 0; i--)
            strcat(s, pieces[rand_r(seed) % 12]);
        return json_string(s);
    }
    case 3:
        return rand_r(seed) % 2 ? json_true() : json_false();
    case 4:
        return json_null();
    case 5:
        return json_integer(0);
    case 6: {
        json_t *a = json_array();
        for (int i = rand_r(seed) % 5; i > 0; i--)
            json_array_append_new(a, random_tree(seed, depth + 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        for (int i = rand_r(seed) % 6; i > 0; i--) {
            char k[16];
            snprintf(k, sizeof(k), "k%u", rand_r(seed) % 8);
            json_object_set_new(o, k, random_tree(seed, depth + 1));
        }
        return o;
    }
    }
}

START_TEST(random_jansson_trees)
{
    unsigned seed = 17;
    for (int i = 0; i < 3000; i++) {
        json_t *root = json_object();
        json_object_set_new(root, "v", random_tree(&seed, 0));
        for (int precision = 0; precision <= 6; precision += 6) {
            char *text = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(precision));
            ck_assert_msg(canon(text, precision), "not recognised: %s", text);
            free(text);
        }
        json_decref(root);
    }
}
END_TEST

/* Where a string stops being plain ASCII, the sixteen-at-a-time scan
 * against a byte-by-byte one: each stop byte at each place of a run, in
 * and past the first sixteen, and random bytes. */
static const unsigned char *ascii_run_reference(const unsigned char *p, const unsigned char *end)
{
    while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
        p++;
    return p;
}

START_TEST(ascii_run_stops_where_bytes_need_care)
{
    unsigned char buf[80];
    for (unsigned stop = 0; stop < 256; stop++) {
        for (size_t at = 0; at < 40; at++) {
            memset(buf, 'a', sizeof(buf));
            buf[at] = (unsigned char)stop;
            for (size_t len = 0; len <= 40; len++) {
                const unsigned char *want = ascii_run_reference(buf, buf + len);
                ck_assert_msg(json_ascii_run(buf, buf + len) == want,
                              "byte 0x%02x at %zu of %zu: stopped at %td, want %td", stop, at, len,
                              json_ascii_run(buf, buf + len) - buf, want - buf);
            }
        }
    }
    unsigned seed = 5;
    for (int i = 0; i < 20000; i++) {
        size_t len = (size_t)rand_r(&seed) % sizeof(buf);
        for (size_t j = 0; j < len; j++) /* mostly plain, sometimes not */
            buf[j] = rand_r(&seed) % 16 ? (unsigned char)(0x20 + rand_r(&seed) % 0x5f)
                                        : (unsigned char)(rand_r(&seed) % 256);
        ck_assert(json_ascii_run(buf, buf + len) == ascii_run_reference(buf, buf + len));
    }
}
END_TEST

/* json_ascii_copy stops where json_ascii_run stops, the run's bytes are
 * copied, and nothing is written past the room it was given. */
static void check_copy(const unsigned char *src, size_t len)
{
    unsigned char dst[96];
    memset(dst, 0xA5, sizeof(dst));
    const unsigned char *stop = json_ascii_copy(dst, src, src + len);
    static unsigned char guard[96];
    if (!guard[0])
        memset(guard, 0xA5, sizeof(guard));
    if (stop != json_ascii_run(src, src + len) || memcmp(dst, src, (size_t)(stop - src)) != 0 ||
        memcmp(dst + len, guard, sizeof(dst) - len) != 0)
        ck_abort_msg("%zu bytes: stopped at %td (run %td), or wrong bytes copied, or written past "
                     "the room",
                     len, stop - src, json_ascii_run(src, src + len) - src);
}

START_TEST(ascii_copy_copies_the_run_and_no_more)
{
    unsigned char buf[80];
    for (unsigned stop = 0; stop < 256; stop += 7) {
        for (size_t at = 0; at < 40; at++) {
            for (size_t i = 0; i < sizeof(buf); i++)
                buf[i] = (unsigned char)('a' + i % 26);
            buf[at] = (unsigned char)stop;
            for (size_t len = 0; len <= 40; len++)
                check_copy(buf, len);
        }
    }
    unsigned seed = 11;
    for (int i = 0; i < 20000; i++) {
        size_t len = (size_t)rand_r(&seed) % sizeof(buf);
        for (size_t j = 0; j < len; j++)
            buf[j] = rand_r(&seed) % 24 ? (unsigned char)(0x20 + rand_r(&seed) % 0x5f)
                                        : (unsigned char)(rand_r(&seed) % 256);
        check_copy(buf, len);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("json_canon");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, jansson_output_is_recognised);
    tcase_add_test(tc, other_forms_are_not);
    tcase_add_test(tc, beyond_the_checks_reach_is_no);
    tcase_add_test(tc, reals_print_as_jansson_prints_them);
    tcase_add_test(tc, random_jansson_trees);
    tcase_add_test(tc, ascii_run_stops_where_bytes_need_care);
    tcase_add_test(tc, ascii_copy_copies_the_run_and_no_more);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
