/* test_check_page.c — what the active page checks read from a page
 * (agent/check/page.c): masks cut dynamic fragments before the hash, the
 * title and visible text, the hosts scripts and frames load from,
 * defacement markers, the text excerpt of a change; and the baseline file
 * (agent/check/baseline.c) read back as written. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "agent/check/baseline.h"
#include "agent/check/page.h"
#include "testutil.h"

static const char *page_a =
    "<html><head><title>  Sở   Thử nghiệm </title>"
    "<script src=\"/js/site.js\"></script>"
    "<SCRIPT type=text/javascript SRC='https://CDN.Example.org:443/lib.js'>var x = '<b>';</SCRIPT>"
    "<style>body { color: red }</style></head><body>\n"
    "<!-- a comment with hacked by in it -->"
    "<p>Updated 2026-12-02 18:40:01, visitors: 10234</p>"
    "<iframe src=//maps.example.net/embed></iframe>"
    "<p>Welcome</p></body></html>";

static void analyse(const char *body, const struct asset_check *cfg, const char *markers,
                    struct page_facts *f)
{
    struct page_masks m = {0};
    struct page_markers mk = {0};
    ck_assert_int_eq(page_masks_compile(&m, cfg), 0);
    ck_assert_int_eq(page_markers_parse(&mk, markers ? markers : ""), 0);
    ck_assert_int_eq(page_analyse(body, strlen(body), &m, &mk, f), 0);
    page_masks_free(&m);
    page_markers_free(&mk);
}

START_TEST(title_text_and_hosts)
{
    static struct page_facts f;
    analyse(page_a, NULL, NULL, &f);
    ck_assert_str_eq(f.title, "Sở Thử nghiệm");
    /* Scripts, styles and comments are not visible text. */
    ck_assert_ptr_null(strstr(f.text, "var x"));
    ck_assert_ptr_null(strstr(f.text, "color"));
    ck_assert_ptr_null(strstr(f.text, "hacked"));
    ck_assert_ptr_nonnull(strstr(f.text, "Updated 2026-12-02 18:40:01, visitors: 10234 Welcome"));
    /* A relative script is the site's own; hosts are lower case, no port. */
    ck_assert_uint_eq(f.n_domains, 2);
    ck_assert(page_has_domain(&f, "cdn.example.org"));
    ck_assert(page_has_domain(&f, "maps.example.net"));
    ck_assert_uint_eq(f.size, strlen(page_a));
}
END_TEST

START_TEST(masks_make_dynamic_pages_equal)
{
    static struct page_facts one, two, unmasked_one, unmasked_two;
    static struct asset_check cfg;
    memset(&cfg, 0, sizeof(cfg));
    strcpy(cfg.mask[0], "[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}");
    strcpy(cfg.mask[1], "visitors: [0-9]+");
    cfg.n_mask = 2;
    char later[2048];
    snprintf(later, sizeof(later), "%s", page_a);
    char *d = strstr(later, "2026-12-02 18:40:01");
    memcpy(d, "2026-12-03 07:15:59", 19);
    char *v = strstr(later, "10234");
    memcpy(v, "99999", 5);
    analyse(page_a, &cfg, NULL, &one);
    analyse(later, &cfg, NULL, &two);
    ck_assert_mem_eq(one.sha256, two.sha256, 32);
    ck_assert_ptr_null(strstr(one.text, "2026"));
    analyse(page_a, NULL, NULL, &unmasked_one);
    analyse(later, NULL, NULL, &unmasked_two);
    ck_assert(memcmp(unmasked_one.sha256, unmasked_two.sha256, 32) != 0);
    ck_assert_uint_lt(one.size, unmasked_one.size);
    /* A mask that matches the empty string removes nothing and ends. */
    strcpy(cfg.mask[0], "Q*");
    cfg.n_mask = 1;
    analyse(page_a, &cfg, NULL, &one);
    ck_assert_mem_eq(one.sha256, unmasked_one.sha256, 32);
}
END_TEST

START_TEST(markers_case_insensitive)
{
    static struct page_facts f;
    analyse("<html><body><h1>HACKED BY Sh4d0w</h1><p>bị hack bởi</p></body></html>", NULL,
            "# comment\nhacked by\n\n  defaced by  \nbị hack bởi\n", &f);
    ck_assert(page_has_marker(&f, "hacked by"));
    ck_assert(page_has_marker(&f, "bị hack bởi"));
    ck_assert(!page_has_marker(&f, "defaced by"));
    ck_assert(!page_has_marker(&f, "hacked"));
}
END_TEST

START_TEST(text_diff_excerpt)
{
    char old_x[64], new_x[64];
    page_text_diff("Thông báo tuyển dụng viên chức năm 2026", "Thông báo lịch tiếp công dân", old_x,
                   new_x, sizeof(old_x));
    ck_assert_ptr_nonnull(strstr(old_x, "tuyển dụng"));
    ck_assert_ptr_nonnull(strstr(new_x, "lịch tiếp"));
    /* A long common prefix is cut, and never inside a UTF-8 sequence. */
    static char a[600], b[600];
    memset(a, 0, sizeof(a));
    for (int i = 0; i < 100; i++)
        strcat(a, "ử");
    strcpy(b, a);
    strcat(a, " cũ");
    strcat(b, " mới");
    page_text_diff(a, b, old_x, new_x, sizeof(old_x));
    ck_assert_ptr_nonnull(strstr(new_x, "mới"));
    ck_assert_int_eq((unsigned char)new_x[0] & 0xC0, 0xC0); /* starts a sequence */
}
END_TEST

START_TEST(baseline_round_trip)
{
    static struct check_baseline b, back;
    memset(&b, 0, sizeof(b));
    analyse(page_a, NULL, "hacked by\n", &b.page);
    b.have_page = true;
    b.masks_id = 0xfedcba9876543210ull;
    strcpy(b.page.markers, "hacked by\n");
    b.have_tls = true;
    b.tls.valid = true;
    strcpy(b.tls.spki_sha256, "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
    strcpy(b.tls.issuer, "CN=one CA");
    b.tls.not_after = 1893456000;
    const char *dir = write_temp_file("state-marker", "");
    char state[512], path[1024];
    snprintf(state, sizeof(state), "%.*s", (int)(strrchr(dir, '/') - dir), dir);
    baseline_path(state, "portal", "https://portal.example/", path, sizeof(path));
    ck_assert_int_eq(baseline_save(path, "portal", "https://portal.example/", &b), 0);
    ck_assert_int_eq(baseline_load(path, &back), 0);
    ck_assert(back.have_page && back.have_tls);
    ck_assert_mem_eq(back.page.sha256, b.page.sha256, 32);
    ck_assert_uint_eq(back.page.size, b.page.size);
    ck_assert_uint_eq(back.masks_id, b.masks_id);
    ck_assert_str_eq(back.page.title, b.page.title);
    ck_assert_str_eq(back.page.text, b.page.text);
    ck_assert_uint_eq(back.page.n_domains, 2);
    ck_assert(page_has_marker(&back.page, "hacked by"));
    ck_assert_str_eq(back.tls.issuer, "CN=one CA");
    ck_assert_int_eq(back.tls.not_after, 1893456000);
    /* Another URL has another file; a missing file is an empty baseline. */
    char other[1024];
    baseline_path(state, "portal", "https://portal.example/news", other, sizeof(other));
    ck_assert_str_ne(other, path);
    ck_assert_int_eq(baseline_load(other, &back), 0);
    ck_assert(!back.have_page && !back.have_tls);
}
END_TEST

static Suite *check_page_suite(void)
{
    Suite *s = suite_create("check_page");
    TCase *tc = tcase_create("page");
    tcase_add_test(tc, title_text_and_hosts);
    tcase_add_test(tc, masks_make_dynamic_pages_equal);
    tcase_add_test(tc, markers_case_insensitive);
    tcase_add_test(tc, text_diff_excerpt);
    tcase_add_test(tc, baseline_round_trip);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(check_page_suite());
}
