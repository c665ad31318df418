/* test_json_parse.c — the collector's quick parse of an event
 * (common/json_parse.h): where it gives a tree, it is jansson's tree;
 * what it leaves to jansson, jansson answers (and a dead letter keeps
 * jansson's reason). */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_parse.h"
#include "testutil.h"

/* json_parse_object(text): NULL, or json_loadb's tree, same order. */
static json_t *parse_same(const char *text, size_t len)
{
    json_t *mine = json_parse_object(text, len);
    if (!mine)
        return NULL;
    json_t *ref = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    ck_assert_msg(ref != NULL, "jansson refuses what was parsed: %s", text);
    ck_assert(json_equal(mine, ref));
    char *a = json_dumps(mine, JSON_COMPACT), *b = json_dumps(ref, JSON_COMPACT);
    ck_assert_str_eq(a, b);
    free(a);
    free(b);
    json_decref(ref);
    return mine;
}

START_TEST(agent_events_take_the_quick_path)
{
    const char *texts[] = {
        /* an event as common/event_text.c writes it */
        "{\"timestamp\":\"2026-12-03T09:33:42.123456+0700\",\"flow_id\":1005,\"in_iface\":"
        "\"eth0\",\"event_type\":\"alert\",\"src_ip\":\"10.1.2.3\",\"src_port\":40005,"
        "\"dest_ip\":\"198.51.100.11\",\"dest_port\":80,\"proto\":\"TCP\",\"community_id\":"
        "\"1:bench00000005=\",\"host\":\"gw-1\",\"alert\":{\"action\":\"allowed\",\"gid\":1,"
        "\"signature_id\":9000001,\"rev\":1,\"signature\":\"canh portscan\",\"category\":"
        "\"Các hình thức tấn công mạng khác / Other attack\",\"severity\":2},\"canh\":{\"v\":1,"
        "\"id\":\"gw-1:bench:00000005\",\"kind\":\"portscan\",\"state\":\"new\",\"taxonomy\":"
        "{\"code\":\"attack.other\",\"vi\":\"Các hình thức\",\"en\":\"Other attack\"},"
        "\"asset\":{\"name\":\"portal\",\"owner\":\"Sở Y tế\",\"level\":2,\"national_critical\":"
        "true},\"counters\":{\"packets\":105,\"pps\":1.23457e6,\"rate\":0.1,\"neg\":-3.25,"
        "\"min\":-9223372036854775808,\"zero\":-0,\"e\":1E2},\"evidence\":{\"top_ports\":[80,"
        "443],\"sample\":\"q\\\"b\\\\s\\/n\\nr\\rt\\tb\\bf\\f \xf0\x9f\x98\x80\",\"none\":null,"
        "\"no\":false,\"empty\":{},\"list\":[],\"deep\":[[{\"x\":[1]}]]}}}",
        /* white space where JSON allows it */
        " \t\r\n{ \"a\" : [ 1 , 2 ] , \"b\" : { } , \"c\" : [ ] , \"d\" : \"\" } \n",
        "{}",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        json_t *tree = parse_same(texts[i], strlen(texts[i]));
        ck_assert_msg(tree != NULL, "left to jansson: %s", texts[i]);
        json_decref(tree);
    }
}
END_TEST

START_TEST(the_rest_is_left_to_jansson)
{
    const char *texts[] = {
        "",
        "[1,2]",                       /* not an object: jansson reads it, ingest refuses */
        "\"s\"",                       /* */
        "{\"a\":1,\"a\":2}",           /* a repeated key: jansson's error */
        "{\"a\":\"\\u00e9\"}",         /* \u: jansson decodes */
        "{\"a\\u0000b\":1}",           /* */
        "{\"a\":\"\\x\"}",             /* a bad escape */
        "{\"a\":\"tab\there\"}",       /* a raw control character */
        "{\"a\":\"\x80\"}",            /* not UTF-8 */
        "{\"a\":\"\xed\xa0\x80\"}",    /* a surrogate */
        "{\"a\":01}",                  /* */
        "{\"a\":1.}",                  /* */
        "{\"a\":-}",                   /* */
        "{\"a\":+1}",                  /* */
        "{\"a\":9223372036854775808}", /* too big for jansson */
        "{\"a\":1e400}",               /* overflow */
        "{\"a\":tru}",                 /* */
        "{\"a\":1,}",                  /* */
        "{\"a\":[1,]}",                /* */
        "{\"a\" 1}",                   /* */
        "{\"a\":1}x",                  /* after the object */
        "{\"a\":1}{}",                 /* */
        "{\"a\":1",                    /* cut */
        "{\"a\":\"b",                  /* */
        "{\"a\":\"b\\",                /* */
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        ck_assert_msg(parse_same(texts[i], strlen(texts[i])) == NULL, "taken: %s", texts[i]);
    /* A NUL inside: jansson refuses it. */
    ck_assert_ptr_null(json_parse_object("{\"a\":\"\0\"}", 8));
    ck_assert_ptr_null(json_parse_object("{}\0", 3));
    /* Nesting: 31 levels taken, 33 left. */
    char deep[80] = "";
    for (int i = 0; i < 32; i++)
        strcat(deep, i ? "[" : "{\"a\":");
    for (int i = 0; i < 31; i++)
        strcat(deep, "]");
    strcat(deep, "}");
    json_t *tree = parse_same(deep, strlen(deep));
    ck_assert_ptr_nonnull(tree);
    json_decref(tree);
    char deeper[90] = "{\"a\":[";
    strcat(deeper, deep + 5);
    deeper[strlen(deeper) - 1] = '\0';
    strcat(deeper, "]}");
    ck_assert_ptr_null(parse_same(deeper, strlen(deeper)));
    tree = json_loadb(deeper, strlen(deeper), 0, NULL);
    ck_assert_ptr_nonnull(tree); /* which jansson reads */
    json_decref(tree);
}
END_TEST

START_TEST(escaped_keys_and_long_strings)
{
    /* A key with escapes survives its value's own escapes. */
    const char *keys = "{\"k\\n1\":\"v\\t1\",\"k\\\"2\":{\"k\\\\3\":\"v\\/3\"}}";
    json_t *tree = parse_same(keys, strlen(keys));
    ck_assert_ptr_nonnull(tree);
    ck_assert_str_eq(json_string_value(json_object_get(tree, "k\n1")), "v\t1");
    json_decref(tree);
    /* An escaped string longer than the scratch: left to jansson. */
    size_t n = 5000;
    char *text = malloc(n + 16);
    strcpy(text, "{\"a\":\"\\n");
    memset(text + 8, 'x', n);
    strcpy(text + 8 + n, "\"}");
    ck_assert_ptr_null(parse_same(text, strlen(text)));
    /* Without escapes any length is read in place. */
    text[6] = 'y';
    text[7] = 'y';
    tree = parse_same(text, strlen(text));
    ck_assert_ptr_nonnull(tree);
    ck_assert_uint_eq(json_string_length(json_object_get(tree, "a")), n + 2);
    json_decref(tree);
    free(text);
}
END_TEST

/* The node table: members looked up by name, strings decoded in place
 * and NUL-terminated, each part's tree as jansson's. */
START_TEST(doc_reads_in_place)
{
    const char *src = "{\"a\":\"x\\ty\",\"n\":-12,\"r\":1.5,\"o\":{\"k\\\"\":[true,null,\"z\"]},"
                      "\"t\":true}";
    char *text = strdup(src);
    struct json_doc d = {0};
    ck_assert_int_eq(json_doc_parse(&d, text, strlen(text)), 0);
    int a = json_doc_get(&d, 0, "a"), n = json_doc_get(&d, 0, "n"), o = json_doc_get(&d, 0, "o");
    ck_assert_int_ge(a, 0);
    ck_assert_int_eq(d.nodes[a].type, JSON_STRING);
    ck_assert_str_eq(d.nodes[a].str, "x\ty");
    ck_assert_uint_eq(d.nodes[a].str_len, 3);
    ck_assert(d.nodes[a].str >= text && d.nodes[a].str < text + strlen(src)); /* in place */
    ck_assert_int_eq(d.nodes[n].type, JSON_INTEGER);
    ck_assert_int_eq(d.nodes[n].integer, -12);
    ck_assert_int_eq(json_doc_get(&d, 0, "missing"), -1);
    ck_assert_int_eq(json_doc_get(&d, a, "x"), -1); /* not an object */
    ck_assert_int_eq(json_doc_get(&d, -1, "a"), -1);
    ck_assert_int_ge(json_doc_get(&d, o, "k\""), 0);
    json_t *mine = json_doc_tree(&d, o);
    json_t *ref = json_loadb(src, strlen(src), JSON_REJECT_DUPLICATES, NULL);
    ck_assert(json_equal(mine, json_object_get(ref, "o")));
    json_decref(mine);
    mine = json_doc_tree(&d, 0);
    char *x = json_dumps(mine, JSON_COMPACT), *y = json_dumps(ref, JSON_COMPACT);
    ck_assert_str_eq(x, y);
    free(x);
    free(y);
    json_decref(mine);
    json_decref(ref);
    /* The table is reused by the next text; a refused one says so. */
    strcpy(text, "{\"a\":1,\"a\":2}");
    ck_assert_int_eq(json_doc_parse(&d, text, strlen(text)), -1);
    /* An object of more members than JSON_DOC_MAX_MEMBERS: jansson's. */
    char big[2048] = "{";
    for (int i = 0; i <= JSON_DOC_MAX_MEMBERS; i++)
        snprintf(big + strlen(big), sizeof(big) - strlen(big), "%s\"k%d\":%d", i ? "," : "", i, i);
    strcat(big, "}");
    ck_assert_int_eq(json_doc_parse(&d, big, strlen(big)), -1);
    json_doc_free(&d);
    free(text);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("json_parse");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, agent_events_take_the_quick_path);
    tcase_add_test(tc, the_rest_is_left_to_jansson);
    tcase_add_test(tc, escaped_keys_and_long_strings);
    tcase_add_test(tc, doc_reads_in_place);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
