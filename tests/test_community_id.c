/* test_community_id.c — Community ID v1 against the published test
 * vectors of the community-id spec (seed 0 and 1, TCP and UDP), both
 * directions of a flow giving one id, and flows that have no id. */
#include <check.h>
#include <string.h>

#include "agent/community_id.h"
#include "testutil.h"

static struct ipaddr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    const uint8_t bytes[4] = {a, b, c, d};
    struct ipaddr x;
    addr_from_v4(&x, bytes);
    return x;
}

/* The spec's vectors for 1.2.3.4:1122 -> 5.6.7.8:3344; each must come out
 * the same from the reply direction. */
START_TEST(published_vectors_both_directions)
{
    static const struct {
        uint16_t seed;
        uint8_t proto;
        const char *want;
    } vectors[] = {
        {0, 6, "1:wCb3OG7yAFWelaUydu0D+125CLM="},
        {0, 17, "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg="},
        {1, 6, "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk="},
    };
    struct ipaddr a = v4(1, 2, 3, 4), b = v4(5, 6, 7, 8);
    char id[COMMUNITY_ID_LEN];
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        ck_assert_int_eq(community_id_v1(vectors[i].seed, &a, 1122, &b, 3344, vectors[i].proto, id),
                         0);
        ck_assert_str_eq(id, vectors[i].want);
        ck_assert_int_eq(community_id_v1(vectors[i].seed, &b, 3344, &a, 1122, vectors[i].proto, id),
                         0);
        ck_assert_str_eq(id, vectors[i].want);
    }
}
END_TEST

/* Same host on both ends: the ports decide the order. */
START_TEST(same_host_ordered_by_port)
{
    struct ipaddr a = v4(1, 2, 3, 4);
    char fwd[COMMUNITY_ID_LEN], rev[COMMUNITY_ID_LEN];
    ck_assert_int_eq(community_id_v1(0, &a, 40000, &a, 80, 6, fwd), 0);
    ck_assert_int_eq(community_id_v1(0, &a, 80, &a, 40000, 6, rev), 0);
    ck_assert_str_eq(fwd, rev);
}
END_TEST

START_TEST(no_flow_no_id)
{
    struct ipaddr a = v4(1, 2, 3, 4), v6;
    char id[COMMUNITY_ID_LEN];
    ck_assert_int_eq(addr_parse("2001:db8::1", &v6), 0);
    ck_assert_int_eq(community_id_v1(0, &a, 0, &a, 80, 6, id), -1);
    ck_assert_int_eq(community_id_v1(0, &a, 1, &a, 80, 1, id), -1);
    ck_assert_int_eq(community_id_v1(0, &a, 1, &v6, 80, 6, id), -1);
    ck_assert_int_eq(community_id_v1(0, &v6, 1, &v6, 80, 6, id), 0);
    ck_assert_int_eq((int)strlen(id), COMMUNITY_ID_LEN - 1);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("community_id");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, published_vectors_both_directions);
    tcase_add_test(tc, same_host_ordered_by_port);
    tcase_add_test(tc, no_flow_no_id);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(suite());
}
