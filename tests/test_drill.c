/* test_drill.c — drills (docs/drills.md): the record and its judgement
 * (common/drill.c), and the table-top replay's rewriting
 * (agent/drill_replay.c).
 *
 * What a SOC notices: red-team traffic inside the drill's scope and window
 * is the drill's, against anything else or after the window it is a
 * breach, other sources are untouched; a record survives Redis; a replayed
 * frame hits the agency's own asset with checksums a receiver accepts and
 * the capture ends at the moment the replay starts.
 */
#include <check.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>

#include "agent/drill_replay.h"
#include "common/assets_conf.h"
#include "common/drill.h"
#include "testutil.h"

#define HOUR_US 3600000000ull
#define T0 1796000000000000ull /* some time in 2026 */

static struct drill live_drill(void)
{
    struct drill d;
    char why[128];
    memset(&d, 0, sizeof(d));
    snprintf(d.id, sizeof(d.id), "d20261203-080000-abcd");
    snprintf(d.name, sizeof(d.name), "live");
    d.start_us = T0;
    d.end_us = T0 + 2 * HOUR_US;
    ck_assert_int_eq(drill_set_targets(&d, "portal, Sở Y tế", why, sizeof(why)), 0);
    ck_assert_int_eq(drill_set_red_team(&d, "203.0.113.0/24,2001:db8:bad::/48", why, sizeof(why)),
                     0);
    return d;
}

static enum drill_verdict judge(const struct drill *d, const char *src, uint64_t ts,
                                const char *asset, const char *agency)
{
    struct ipaddr a;
    ck_assert_int_eq(addr_parse(src, &a), 0);
    const struct drill *which;
    enum drill_verdict v = drill_judge(d, 1, &a, ts, asset, agency, &which);
    ck_assert(v == DRILL_NONE ? which == NULL : which == d);
    return v;
}

START_TEST(judgement)
{
    struct drill d = live_drill();
    uint64_t mid = T0 + HOUR_US;
    ck_assert_int_eq(judge(&d, "203.0.113.7", mid, "portal", "Sở Khác"), DRILL_MEMBER);
    ck_assert_int_eq(judge(&d, "2001:db8:bad::1", mid, "", "Sở Y tế"), DRILL_MEMBER);
    /* outside the scope, before and after the window */
    ck_assert_int_eq(judge(&d, "203.0.113.7", mid, "mail", "Sở Khác"), DRILL_BREACH);
    ck_assert_int_eq(judge(&d, "203.0.113.7", T0 + 3 * HOUR_US, "portal", ""), DRILL_BREACH);
    ck_assert_int_eq(judge(&d, "203.0.113.7", T0 - HOUR_US, "portal", ""), DRILL_BREACH);
    /* others are never touched; a week later the prefixes are nobody's */
    ck_assert_int_eq(judge(&d, "192.0.2.9", mid, "portal", "Sở Y tế"), DRILL_NONE);
    ck_assert_int_eq(judge(&d, "203.0.113.7", T0 + 7 * 24 * HOUR_US, "portal", ""), DRILL_NONE);
}
END_TEST

START_TEST(record_round_trip)
{
    struct drill d = live_drill(), back;
    snprintf(d.scenario, sizeof(d.scenario), "Quét cổng rồi dò mật khẩu");
    json_t *j = drill_to_json(&d);
    char why[128];
    ck_assert_int_eq(drill_from_json(j, &back, why, sizeof(why)), 0);
    ck_assert_str_eq(back.id, d.id);
    ck_assert_str_eq(back.scenario, d.scenario);
    ck_assert_uint_eq(back.end_us, d.end_us);
    ck_assert_uint_eq(back.n_targets, 2);
    ck_assert_str_eq(back.targets[1], "Sở Y tế");
    ck_assert_uint_eq(back.n_red_team, 2);
    /* an empty window or a bad prefix is no drill */
    json_object_set_new(j, "end_us", json_integer((json_int_t)d.start_us));
    ck_assert_int_eq(drill_from_json(j, &back, why, sizeof(why)), -1);
    json_decref(j);
    ck_assert_int_eq(drill_set_red_team(&d, "203.0.113.0/24, nonsense", why, sizeof(why)), -1);
    ck_assert_ptr_nonnull(strstr(why, "'nonsense'"));
}
END_TEST

/* Internet checksum of len bytes over an initial sum. */
static uint16_t checksum(uint32_t sum, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i + 1 < len; i += 2)
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    if (len & 1)
        sum += (uint32_t)p[len - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

static uint16_t tcp_checksum(const uint8_t *ip, size_t tcp_len)
{
    uint32_t sum = (uint32_t)(ip[12] << 8 | ip[13]) + (uint32_t)(ip[14] << 8 | ip[15]) +
                   (uint32_t)(ip[16] << 8 | ip[17]) + (uint32_t)(ip[18] << 8 | ip[19]) + 6 +
                   (uint32_t)tcp_len;
    return checksum(sum, ip + 20, tcp_len);
}

START_TEST(replay_rewrites_victims)
{
    struct assets assets;
    struct cfg_err err;
    const char *path = write_temp_file("assets.conf", "[www]\naddress = 2001:db8::5, 10.20.0.0/24\n"
                                                      "name = www\nowner = A\nlevel = 3\n\n"
                                                      "[portal]\naddress = 10.30.0.7\nname = "
                                                      "portal\nowner = A\nlevel = 4\n");
    ck_assert_msg(assets_load(path, &assets, &err) == 0, "%s", err.msg);
    char why[256];
    uint64_t now = T0;
    char capture[512];
    snprintf(capture, sizeof(capture), "%s/drills/brute_force.pcap", SOURCE_DIR);
    struct drill_replay *d = drill_replay_new(capture, &assets, now, why, sizeof(why));
    ck_assert_msg(d != NULL, "%s", why);

    /* Ethernet, IPv4 203.0.113.7 -> 198.51.100.11, TCP SYN to 22 */
    uint8_t f[14 + 20 + 20] = {0};
    f[12] = 0x08;
    uint8_t *ip = f + 14, *tcp = ip + 20;
    ip[0] = 0x45;
    ip[3] = 40;
    ip[8] = 64;
    ip[9] = 6;
    memcpy(ip + 12, (uint8_t[]){203, 0, 113, 7}, 4);
    memcpy(ip + 16, (uint8_t[]){198, 51, 100, 11}, 4);
    tcp[0] = 0x9c;
    tcp[1] = 0x40;
    tcp[3] = 22;
    tcp[12] = 0x50;
    tcp[13] = 0x02;
    uint16_t s = checksum(0, ip, 20);
    ip[10] = (uint8_t)(s >> 8);
    ip[11] = (uint8_t)s;
    s = tcp_checksum(ip, 20);
    tcp[16] = (uint8_t)(s >> 8);
    tcp[17] = (uint8_t)s;

    /* The capture's own last frame falls at now. */
    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(capture, errbuf);
    ck_assert_ptr_nonnull(p);
    struct pcap_pkthdr *h, last = {0}, out;
    const u_char *data;
    while (pcap_next_ex(p, &h, &data) == 1)
        last = *h;
    pcap_close(p);
    last.caplen = last.len = sizeof(f);
    const uint8_t *r = drill_replay_frame(d, DLT_EN10MB, &last, f, &out);
    ck_assert_uint_eq((uint64_t)out.ts.tv_sec * 1000000u + (uint64_t)out.ts.tv_usec, now);
    const uint8_t *rip = r + 14;
    /* victim .11 -> asset 11 mod 2 = portal; the source is kept */
    ck_assert_mem_eq(rip + 16, ((uint8_t[]){10, 30, 0, 7}), 4);
    ck_assert_mem_eq(rip + 12, ((uint8_t[]){203, 0, 113, 7}), 4);
    ck_assert_uint_eq(checksum(0, rip, 20), 0);
    ck_assert_uint_eq(tcp_checksum(rip, 20), 0);
    /* victim .10 -> the first asset with IPv4: www's network, first host */
    ip[19] = 10;
    r = drill_replay_frame(d, DLT_EN10MB, &last, f, &out);
    ck_assert_mem_eq(r + 14 + 16, ((uint8_t[]){10, 20, 0, 1}), 4);
    ck_assert_uint_eq(drill_replay_rewritten(d), 2);
    drill_replay_free(d);
    assets_free(&assets);
}
END_TEST

START_TEST(replay_needs_an_ipv4_asset)
{
    struct assets assets;
    struct cfg_err err;
    const char *path = write_temp_file("assets6.conf", "[www]\naddress = 2001:db8::5\nname = www\n"
                                                       "owner = A\nlevel = 3\n");
    ck_assert_msg(assets_load(path, &assets, &err) == 0, "%s", err.msg);
    char why[256], capture[512];
    snprintf(capture, sizeof(capture), "%s/drills/brute_force.pcap", SOURCE_DIR);
    ck_assert_ptr_null(drill_replay_new(capture, &assets, T0, why, sizeof(why)));
    ck_assert_ptr_nonnull(strstr(why, "no asset with an IPv4 address"));
    assets_free(&assets);
}
END_TEST

static Suite *drill_suite(void)
{
    Suite *s = suite_create("drill");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, judgement);
    tcase_add_test(tc, record_round_trip);
    tcase_add_test(tc, replay_rewrites_victims);
    tcase_add_test(tc, replay_needs_an_ipv4_asset);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(drill_suite());
}
