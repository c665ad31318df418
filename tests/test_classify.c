/* test_classify.c — classify.c: who a packet's addresses are.
 *
 * The pipeline asks one index built from assets and home_net
 * (classify_index_build); detectors and hand-built packets ask the two
 * lists apart (classify_packet).  Whatever the inventory — assets only,
 * home_net only, both, neither, prefixes nested either way, one network
 * declared by two assets, IPv4 and IPv6 — both must say the same of every
 * address: protected or not, and which asset.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/classify.h"
#include "testutil.h"

/* A small deterministic generator (xorshift), so a failure repeats. */
static uint64_t rng_state;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

/* Addresses near each other, so that random prefixes hold some of them:
 * 10.0.0.0/16 and 2001:db8::/112 with a random tail, now and then one
 * from anywhere. */
static void random_addr(struct ipaddr *a, bool v6)
{
    uint32_t r = rnd();
    if (!v6) {
        uint8_t v4[4] = {10, 0, (uint8_t)(r >> 8), (uint8_t)r};
        if (rnd() % 8 == 0)
            memcpy(v4, &r, 4);
        addr_from_v4(a, v4);
        return;
    }
    uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8};
    b[14] = (uint8_t)(r >> 8);
    b[15] = (uint8_t)r;
    if (rnd() % 8 == 0)
        for (int i = 0; i < 16; i++)
            b[i] = (uint8_t)rnd();
    addr_from_v6(a, b);
}

/* "a.b.c.d/len" or "2001:db8::x/len" around random_addr's addresses. */
static void random_prefix(char *buf, size_t len, bool v6)
{
    struct ipaddr a;
    char text[ADDR_STRLEN];
    random_addr(&a, v6);
    int bits = v6 ? 100 + (int)(rnd() % 29) : 12 + (int)(rnd() % 21);
    snprintf(buf, len, "%s/%d", addr_format(&a, text, sizeof(text)), bits);
}

/* Both ways of asking agree on n random addresses of each family and on
 * every prefix's own network. */
static void check_agree(const struct inventory *inv, int n)
{
    struct classify_index ci;
    ck_assert_int_eq(classify_index_build(&ci, inv), 0);
    ck_assert(ci.indexed);
    for (int i = 0; i < 2 * n; i++) {
        struct pkt a = {0}, b;
        bool v6 = i % 2;
        a.ip_version = v6 ? 6 : 4;
        random_addr(&a.src, v6);
        random_addr(&a.dst, v6);
        b = a;
        classify_packet(inv, &a);
        classify_packet_indexed(&ci, &b);
        ck_assert(b.classified);
        ck_assert_msg(a.src_protected == b.src_protected && a.src_asset == b.src_asset,
                      "src differs at %d", i);
        ck_assert_msg(a.dst_protected == b.dst_protected && a.dst_asset == b.dst_asset,
                      "dst differs at %d", i);
    }
    classify_index_free(&ci);
}

/* An assets file of n_assets assets, each with 1-3 random prefixes, and
 * a home_net of n_home; loaded and parsed as the agent does. */
static void random_inventory(struct assets *assets, struct netset *home, int n_assets, int n_home)
{
    char text[8192] = "", prefix[64], bad[128];
    size_t at = 0;
    for (int i = 0; i < n_assets; i++) {
        at += (size_t)snprintf(text + at, sizeof(text) - at, "[a%d]\naddress = ", i);
        int k = 1 + (int)(rnd() % 3);
        for (int j = 0; j < k; j++) {
            random_prefix(prefix, sizeof(prefix), rnd() % 3 == 0);
            at += (size_t)snprintf(text + at, sizeof(text) - at, "%s%s", j ? ", " : "", prefix);
        }
        at += (size_t)snprintf(text + at, sizeof(text) - at, "\n");
    }
    struct cfg_err err;
    memset(assets, 0, sizeof(*assets));
    if (n_assets)
        ck_assert_msg(assets_load(write_temp_file("assets.conf", text), assets, &err) == 0, "%s",
                      err.msg);
    text[0] = '\0';
    at = 0;
    for (int i = 0; i < n_home; i++) {
        random_prefix(prefix, sizeof(prefix), rnd() % 3 == 0);
        at += (size_t)snprintf(text + at, sizeof(text) - at, "%s%s", i ? ", " : "", prefix);
    }
    ck_assert_int_eq(netset_parse(text, home, bad, sizeof(bad)), 0);
}

START_TEST(index_agrees_with_the_lists)
{
    static const int shapes[][2] = {{0, 0}, {1, 0}, {6, 0}, {0, 1}, {0, 5}, {3, 2}, {12, 6}};
    rng_state = 0x9e3779b97f4a7c15ull;
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++)
        for (int round = 0; round < 20; round++) {
            struct assets assets;
            struct netset home;
            random_inventory(&assets, &home, shapes[s][0], shapes[s][1]);
            struct inventory inv = {&assets, &home};
            check_agree(&inv, 400);
            /* The lists missing altogether, as a test harness leaves them. */
            struct inventory no_home = {&assets, NULL}, no_assets = {NULL, &home};
            check_agree(&no_home, 50);
            check_agree(&no_assets, 50);
            assets_free(&assets);
            netset_free(&home);
        }
}
END_TEST

START_TEST(nested_and_shared_prefixes)
{
    /* lan holds portal's /32; dmz declares portal's network again (the
     * first asset keeps it); home_net holds both and more. */
    const char *path =
        write_temp_file("assets.conf", "[lan]\naddress = 198.51.100.0/24\n"
                                       "[portal]\naddress = 198.51.100.10/32\n"
                                       "[dmz]\naddress = 198.51.100.10, 10.1.0.0/16\n"
                                       "[v6]\naddress = 2001:db8:1::/48\n");
    struct assets assets;
    struct netset home;
    struct cfg_err err;
    char bad[64];
    ck_assert_msg(assets_load(path, &assets, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(
        netset_parse("198.51.0.0/16, 10.1.2.0/24, 2001:db8::/32", &home, bad, sizeof(bad)), 0);
    struct inventory inv = {&assets, &home};
    struct classify_index ci;
    ck_assert_int_eq(classify_index_build(&ci, &inv), 0);
    static const struct {
        const char *addr;
        const char *asset; /* NULL: none */
        bool protected_;
    } cases[] = {
        {"198.51.100.10", "portal", true}, {"198.51.100.11", "lan", true},
        {"198.51.7.1", NULL, true},        {"10.1.2.3", "dmz", true},
        {"10.1.3.3", "dmz", true},         {"10.2.0.1", NULL, false},
        {"2001:db8:1::5", "v6", true},     {"2001:db8:2::5", NULL, true},
        {"2001:db9::1", NULL, false},      {"203.0.113.9", NULL, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct pkt p = {0};
        ck_assert_int_eq(addr_parse(cases[i].addr, &p.src), 0);
        p.dst = p.src;
        p.ip_version = addr_is_v4(&p.src) ? 4 : 6;
        classify_packet_indexed(&ci, &p);
        ck_assert_msg(p.src_protected == cases[i].protected_, "%s", cases[i].addr);
        if (cases[i].asset)
            ck_assert_msg(p.src_asset && strcmp(p.src_asset->name, cases[i].asset) == 0, "%s",
                          cases[i].addr);
        else
            ck_assert_msg(p.src_asset == NULL, "%s", cases[i].addr);
        ck_assert(p.dst_asset == p.src_asset && p.dst_protected == p.src_protected);
    }
    classify_index_free(&ci);
    assets_free(&assets);
    netset_free(&home);
}
END_TEST

START_TEST(no_inventory_watches_everything)
{
    struct inventory inv = {NULL, NULL};
    struct classify_index ci;
    ck_assert_int_eq(classify_index_build(&ci, &inv), 0);
    struct pkt p = {0};
    ck_assert_int_eq(addr_parse("203.0.113.9", &p.src), 0);
    ck_assert_int_eq(addr_parse("2001:db8::1", &p.dst), 0);
    p.ip_version = 4;
    classify_packet_indexed(&ci, &p);
    ck_assert(p.src_protected && p.dst_protected && !p.src_asset && !p.dst_asset);
    classify_index_free(&ci);
}
END_TEST

static Suite *classify_suite(void)
{
    Suite *s = suite_create("classify");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, index_agrees_with_the_lists);
    tcase_add_test(tc, nested_and_shared_prefixes);
    tcase_add_test(tc, no_inventory_watches_everything);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(classify_suite());
}
