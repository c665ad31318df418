/* test_auth.c — the auth detector (brute force) on hand-built packets with
 * the shipped rules/auth.rules: one finding per attack from connections or
 * from failed logins, a long session raising a possible success, one
 * distributed finding for many sources, SYNs without data never counting,
 * the bounded table under a flood of sources, allowed sources, an agency
 * host attacking outward, the same findings from packets classified by
 * the pipeline as from hand-built ones, and rule mistakes reported with
 * file:line. */
#define HARNESS_DETECTOR auth_detector
#include "scan_harness.h"

#include "agent/detect/auth/auth_internal.h"

#include "testutil.h"
#include <stdio.h>
#include <stdlib.h>

#define SEC 1000000ull
#define T0 (1700000000ull * SEC)
#define SERVER "198.51.100.10"
#define ATTACKER "203.0.113.7"

static char *shipped_rules(void)
{
    FILE *f = fopen(SOURCE_DIR "/rules/auth.rules", "r");
    ck_assert_ptr_nonnull(f);
    static char text[8192];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    return text;
}

/* One connection from client:sport to server:port: the client's first
 * data segment (what counts), then, when reply is set, the server's
 * answer carrying it. */
static void connection(struct harness *h, uint64_t ts, const char *client, uint16_t sport,
                       uint16_t port, const char *reply)
{
    feed(h, tcp(ts, client, SERVER, sport, port, TCP_SYN, 0));
    feed(h, tcp(ts + 1000, SERVER, client, port, sport, TCP_SYN | TCP_ACK, 0));
    struct pkt p = tcp(ts + 2000, client, SERVER, sport, port, TCP_ACK | TCP_PSH, 32);
    p.payload = (const uint8_t *)"SSH-2.0-libssh_0.10.4\r\n.........";
    feed(h, p);
    if (reply) {
        struct pkt r =
            tcp(ts + 3000, SERVER, client, port, sport, TCP_ACK | TCP_PSH, (uint32_t)strlen(reply));
        r.payload = (const uint8_t *)reply;
        feed(h, r);
    }
}

static size_t count_new(struct harness *h)
{
    return count(h, "new");
}

START_TEST(ssh_connections_one_finding_and_possible_success)
{
    struct harness h;
    start(&h, shipped_rules(), NULL);
    for (int i = 0; i < 30; i++)
        connection(&h, T0 + (uint64_t)i * 2 * SEC, ATTACKER, (uint16_t)(40000 + i), 22, NULL);
    ck_assert_int_eq(count_new(&h), 1);
    json_t *ev = event_at(&h, 0);
    ck_assert_str_eq(str_at(ev, NULL, "src"), ATTACKER);
    ck_assert_str_eq(str_at(ev, "evidence", "service"), "ssh");
    ck_assert_int_eq(int_at(ev, "counters", "connections"), 10);
    ck_assert(!json_is_true(json_object_get(json_object_get(ev, "evidence"), "possible_success")));
    /* The attacker is in: a session of the attack lasts 25 s. */
    uint64_t t = T0 + 70 * SEC;
    connection(&h, t, ATTACKER, 50000, 22, NULL);
    feed(&h, tcp(t + 25 * SEC, ATTACKER, SERVER, 50000, 22, TCP_ACK | TCP_PSH, 48));
    ck_assert_int_eq(count(&h, "update"), 1);
    ev = event_at(&h, 1);
    ck_assert(json_is_true(json_object_get(json_object_get(ev, "evidence"), "possible_success")));
    ck_assert_int_eq(int_at(ev, "counters", "long_sessions"), 1);
    HARNESS_DETECTOR.flush(h.det, t + 26 * SEC);
    ck_assert_int_eq(count(&h, "end"), 1);
    ck_assert_int_eq(count_new(&h), 1);
    stop(&h);
}
END_TEST

START_TEST(ftp_failures_count_without_many_connections)
{
    struct harness h;
    start(&h, shipped_rules(), NULL);
    /* Four connections, three refusals each (as vsftpd's max_login_fails). */
    for (int i = 0; i < 4; i++) {
        uint16_t sport = (uint16_t)(41000 + i);
        uint64_t t = T0 + (uint64_t)i * 3 * SEC;
        connection(&h, t, ATTACKER, sport, 21, "220 (vsFTPd 3.0.3)\r\n");
        for (int k = 0; k < 3; k++) {
            struct pkt r = tcp(t + (uint64_t)(k + 1) * 500000, SERVER, ATTACKER, 21, sport,
                               TCP_ACK | TCP_PSH, 22);
            r.payload = (const uint8_t *)"530 Login incorrect.\r\n";
            feed(&h, r);
        }
    }
    ck_assert_int_eq(count_new(&h), 1);
    json_t *ev = event_at(&h, 0);
    ck_assert_str_eq(str_at(ev, "evidence", "service"), "ftp");
    ck_assert_int_eq(int_at(ev, "counters", "failures"), 10);
    ck_assert_int_eq(stat(&h, "failed_logins"), 12);
    stop(&h);
}
END_TEST

START_TEST(http_login_posts_refused)
{
    struct harness h;
    start(&h, shipped_rules(), NULL);
    const char *post = "POST /wp-login.php HTTP/1.1\r\nHost: portal\r\n\r\nlog=admin&pwd=x";
    const char *refused = "HTTP/1.1 302 Found\r\nLocation: http://portal/wp-login.php?e=1\r\n\r\n";
    const char *home = "POST /app/search HTTP/1.1\r\nHost: portal\r\n\r\nq=x";
    for (int i = 0; i < 12; i++) {
        uint16_t sport = (uint16_t)(42000 + i);
        uint64_t t = T0 + (uint64_t)i * SEC;
        struct pkt q = tcp(t, ATTACKER, SERVER, sport, 80, TCP_ACK | TCP_PSH,
                           (uint32_t)strlen(i % 4 ? post : home));
        q.payload = (const uint8_t *)(i % 4 ? post : home);
        feed(&h, q);
        struct pkt r = tcp(t + 1000, SERVER, ATTACKER, 80, sport, TCP_ACK | TCP_PSH,
                           (uint32_t)strlen(refused));
        r.payload = (const uint8_t *)refused;
        feed(&h, r);
    }
    /* 9 login POSTs refused (a redirect back to the login page), 3 other
     * POSTs that count for nothing: under both thresholds. */
    ck_assert_int_eq(count_new(&h), 0);
    ck_assert_int_eq(stat(&h, "login_posts"), 9);
    ck_assert_int_eq(stat(&h, "failed_logins"), 9);
    struct pkt q =
        tcp(T0 + 20 * SEC, ATTACKER, SERVER, 42100, 80, TCP_ACK | TCP_PSH, (uint32_t)strlen(post));
    q.payload = (const uint8_t *)post;
    feed(&h, q);
    ck_assert_int_eq(count_new(&h), 1);
    ck_assert_str_eq(str_at(event_at(&h, 0), "evidence", "service"), "http");
    stop(&h);
}
END_TEST

/* The pipeline hands the detector classified packets; tests and fuzz
 * targets hand it packets built by hand, which it classifies itself.
 * The same traffic (SSH and HTTP logins, SYNs and bare ACKs to a web
 * server, an agency host logging in outward, a host outside home_net)
 * must give the same findings and counters either way. */
static json_t *auth_scenario(bool classified, json_t **stats)
{
    struct harness h;
    start(&h, shipped_rules(), "198.51.100.0/24");
    const char *post = "POST /wp-login.php HTTP/1.1\r\nHost: portal\r\n\r\nlog=admin&pwd=x";
    const char *refused = "HTTP/1.1 302 Found\r\nLocation: http://portal/wp-login.php?e=1\r\n\r\n";
    for (int i = 0; i < 40; i++) {
        uint64_t t = T0 + (uint64_t)i * SEC;
        uint16_t sport = (uint16_t)(42000 + i);
        const char *client = i % 5 == 4 ? "198.51.100.20" : ATTACKER; /* an agency host */
        const char *server = i % 7 == 6 ? "203.0.113.99" : SERVER;    /* outward, or outside */
        struct pkt seq[5] = {
            tcp(t, client, server, sport, i % 2 ? 80 : 22, TCP_SYN, 0),
            tcp(t + 100, server, client, i % 2 ? 80 : 22, sport, TCP_SYN | TCP_ACK, 0),
            tcp(t + 200, client, server, sport, i % 2 ? 80 : 22, TCP_ACK, 0),
            tcp(t + 300, client, server, sport, i % 2 ? 80 : 22, TCP_ACK | TCP_PSH,
                (uint32_t)strlen(post)),
            tcp(t + 400, server, client, i % 2 ? 80 : 22, sport, TCP_ACK | TCP_PSH,
                (uint32_t)strlen(refused)),
        };
        seq[3].payload = (const uint8_t *)post;
        seq[4].payload = (const uint8_t *)refused;
        for (int k = 0; k < 5; k++) {
            if (classified)
                classify_packet(&h.env.inv, &seq[k]);
            feed(&h, seq[k]);
        }
    }
    HARNESS_DETECTOR.flush(h.det, T0 + 600 * SEC);
    json_t *events = json_incref(h.events);
    *stats = json_object();
    HARNESS_DETECTOR.stats(h.det, *stats);
    stop(&h);
    return events;
}

START_TEST(classified_packets_count_as_hand_built)
{
    json_t *stats_hand, *stats_classified;
    json_t *hand = auth_scenario(false, &stats_hand);
    json_t *classified = auth_scenario(true, &stats_classified);
    ck_assert_uint_gt(json_array_size(hand), 0);
    ck_assert_int_gt(json_integer_value(json_object_get(stats_hand, "login_posts")), 0);
    /* Finding sequence numbers run on across detector instances. */
    size_t i;
    json_t *e;
    json_array_foreach(hand, i, e) json_object_del(e, "seq");
    json_array_foreach(classified, i, e) json_object_del(e, "seq");
    ck_assert(json_equal(hand, classified));
    ck_assert(json_equal(stats_hand, stats_classified));
    json_decref(hand);
    json_decref(classified);
    json_decref(stats_hand);
    json_decref(stats_classified);
}
END_TEST

START_TEST(distributed_is_one_finding_without_source)
{
    struct harness h;
    start(&h, shipped_rules(), NULL);
    char src[32];
    int n = 0;
    for (int round = 0; round < 9; round++)
        for (int s = 0; s < 12; s++, n++) {
            snprintf(src, sizeof(src), "203.0.113.%d", 20 + s);
            connection(&h, T0 + (uint64_t)n * 200000, src, (uint16_t)(43000 + round), 22, NULL);
        }
    ck_assert_int_eq(count_new(&h), 1);
    json_t *ev = event_at(&h, 0);
    ck_assert_str_eq(str_at(ev, NULL, "src"), "::"); /* no one source */
    ck_assert(json_is_true(json_object_get(json_object_get(ev, "evidence"), "distributed")));
    ck_assert_int_eq(
        json_array_size(json_object_get(json_object_get(ev, "evidence"), "sample_sources")), 8);
    HARNESS_DETECTOR.flush(h.det, T0 + 30 * SEC);
    ck_assert_int_eq(count(&h, "end"), 1);
    stop(&h);
}
END_TEST

/* A SYN flood or a scan of port 22 opens no connection: nothing counts. */
START_TEST(syns_without_data_do_not_count)
{
    struct harness h;
    start(&h, shipped_rules(), NULL);
    for (int i = 0; i < 5000; i++)
        feed(&h,
             tcp(T0 + (uint64_t)i * 100, ATTACKER, SERVER, (uint16_t)(1024 + i), 22, TCP_SYN, 0));
    ck_assert_int_eq(count_new(&h), 0);
    ck_assert_int_eq(stat(&h, "connections"), 0);
    ck_assert_int_eq(stat(&h, "clients_active"), 0);
    stop(&h);
}
END_TEST

/* An attack that ended and came back is a second finding, and the ticks
 * end it too (the walk finds open findings through a bitmap, set when one
 * opens and cleared once it has ended). */
START_TEST(attack_again_after_its_end_is_a_second_finding)
{
    struct harness h;
    start(&h, shipped_rules(), NULL);
    for (int round = 0; round < 2; round++) {
        uint64_t t0 = T0 + (uint64_t)round * 600 * SEC;
        for (int i = 0; i < 12; i++)
            connection(&h, t0 + (uint64_t)i * 2 * SEC, ATTACKER,
                       (uint16_t)(40000 + 100 * round + i), 22, NULL);
        ck_assert_int_eq(count_new(&h), (size_t)round + 1);
        ck_assert_int_eq(count(&h, "end"), round);
        /* quiet for hold_down (120 s): the tick ends it */
        HARNESS_DETECTOR.on_tick(h.det, t0 + 24 * SEC + 121 * SEC);
        ck_assert_int_eq(count(&h, "end"), round + 1);
    }
    /* one client entry and its server's, kept after the ends */
    ck_assert_int_eq(stat(&h, "clients_active"), 1);
    ck_assert_int_eq(stat(&h, "targets_active"), 1);
    stop(&h);
}
END_TEST

/* Far more clients than the table holds: evictions are counted, memory
 * stays the table, and an attack among them is still found. */
START_TEST(table_is_bounded)
{
    struct harness h;
    start(&h,
          "[brute_force]\ndetector = auth\ntaxonomy = attack.intrusion\nmax_clients = 64\n"
          "max_targets = 4\n",
          NULL);
    char src[48], dst[48];
    for (int i = 0; i < 3000; i++) {
        /* each to its own server: no distributed attack among them */
        snprintf(src, sizeof(src), "10.%d.%d.%d", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        snprintf(dst, sizeof(dst), "192.0.2.%d", i % 200 + 1);
        struct pkt p = tcp(T0 + (uint64_t)i * 1000, src, dst, 40000, 3306, TCP_ACK | TCP_PSH, 4);
        p.payload = (const uint8_t *)"\x0a\x35\x2e\x37";
        feed(&h, p);
    }
    ck_assert_int_ge(stat(&h, "targets_evicted"), 190);
    ck_assert_int_eq(stat(&h, "clients_capacity"), 64);
    ck_assert_int_le(stat(&h, "clients_active"), 64);
    ck_assert_int_ge(stat(&h, "clients_evicted"), 2900);
    for (int i = 0; i < 10; i++)
        connection(&h, T0 + 5 * SEC + (uint64_t)i * SEC, ATTACKER, (uint16_t)(44000 + i), 3306,
                   NULL);
    size_t i;
    json_t *e;
    int mine = 0;
    json_array_foreach(h.events, i, e) mine += strcmp(str_at(e, NULL, "src"), ATTACKER) == 0;
    ck_assert_int_eq(mine, 1);
    stop(&h);
}
END_TEST

START_TEST(allowed_source_is_counted_not_reported)
{
    struct harness h;
    start(&h,
          "[brute_force]\ndetector = auth\ntaxonomy = attack.intrusion\nallow = 203.0.113.0/24\n",
          NULL);
    for (int i = 0; i < 30; i++)
        connection(&h, T0 + (uint64_t)i * SEC, ATTACKER, (uint16_t)(45000 + i), 22, NULL);
    ck_assert_int_eq(count_new(&h), 0);
    ck_assert_int_eq(stat(&h, "suppressed_findings"), 1);
    stop(&h);
}
END_TEST

/* home_net declared: a protected host guessing passwords on an outside
 * server is an agency host attacking outward. */
START_TEST(agency_host_attacking_outward)
{
    struct harness h;
    start(&h, shipped_rules(), "203.0.113.0/24");
    for (int i = 0; i < 12; i++)
        connection(&h, T0 + (uint64_t)i * SEC, ATTACKER, (uint16_t)(46000 + i), 22, NULL);
    ck_assert_int_eq(count_new(&h), 1);
    ck_assert_str_eq(str_at(event_at(&h, 0), "evidence", "direction"), "outbound");
    stop(&h);
}
END_TEST

/* The real captures through the whole agent: hydra's SSH attack is one
 * finding that, once the attacker's session lasts, is updated at once to
 * a possible success (high, a serious candidate on the level-3 portal);
 * the distributed one names no source. */
START_TEST(captures_through_the_pipeline)
{
    char err[256] = "", assets[1024], pcap[1024];
    /* fixture_path has one static buffer */
    snprintf(assets, sizeof(assets), "%s", fixture_path("assets.conf"));
    snprintf(pcap, sizeof(pcap), "%s", fixture_path("auth_ssh_hydra.pcap"));
    json_t *ev = run_pcap(pcap, NULL, assets, err, sizeof(err));
    ck_assert_msg(ev != NULL, "%s", err);
    ck_assert_int_eq(count_events(ev, "brute_force", "new"), 1);
    size_t i;
    json_t *e;
    int raised = 0;
    json_array_foreach(ev, i, e)
    {
        json_t *c = json_object_get(e, "canh");
        if (strcmp(json_string_value(json_object_get(c, "state")), "new") == 0) {
            ck_assert_str_eq(json_string_value(json_object_get(c, "severity")), "medium");
            continue;
        }
        if (json_is_true(json_object_get(json_object_get(c, "evidence"), "possible_success"))) {
            ck_assert_str_eq(json_string_value(json_object_get(c, "severity")), "high");
            ck_assert_str_eq(json_string_value(json_object_get(c, "class")), "serious_candidate");
            raised++;
        }
    }
    ck_assert_int_ge(raised, 1);
    json_decref(ev);

    snprintf(pcap, sizeof(pcap), "%s", fixture_path("auth_ssh_distributed.pcap"));
    ev = run_pcap(pcap, NULL, assets, err, sizeof(err));
    ck_assert_msg(ev != NULL, "%s", err);
    ck_assert_int_eq(count_events(ev, "brute_force", "new"), 1);
    json_array_foreach(ev, i, e) ck_assert_ptr_null(json_object_get(e, "src_ip"));
    json_decref(ev);
}
END_TEST

static bool failed(enum auth_proto proto, const void *reply, size_t n)
{
    return auth_reply_failed(proto, reply, n);
}
#define FAILED(proto, lit) failed(proto, lit, sizeof(lit) - 1)

/* Each protocol's refusal, as its servers write it, and its success. */
START_TEST(protocol_readers)
{
    ck_assert(FAILED(AUTH_P_FTP, "530 Login incorrect.\r\n"));
    ck_assert(!FAILED(AUTH_P_FTP, "230 Login successful.\r\n"));
    ck_assert(FAILED(AUTH_P_SUBMISSION, "535 5.7.8 Error: authentication failed\r\n"));
    ck_assert(!FAILED(AUTH_P_SMTP, "235 2.7.0 Authentication successful\r\n"));
    ck_assert(FAILED(AUTH_P_POP3, "-ERR [AUTH] Authentication failed.\r\n"));
    ck_assert(!FAILED(AUTH_P_POP3, "+OK Logged in.\r\n"));
    ck_assert(FAILED(AUTH_P_IMAP, "a001 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"));
    ck_assert(!FAILED(AUTH_P_IMAP, "* NO [ALERT] quota\r\n"));
    ck_assert(!FAILED(AUTH_P_IMAP, "a001 OK [CAPABILITY IMAP4rev1] Logged in\r\n"));
    ck_assert(FAILED(AUTH_P_TELNET, "\r\nLogin incorrect\r\nlogin: "));
    /* MySQL ERR packet: length 3, sequence, 0xff, 1045, #28000 */
    ck_assert(FAILED(AUTH_P_MYSQL, "\x4a\x00\x00\x02\xff\x15\x04#28000Access denied for user"));
    ck_assert(!FAILED(AUTH_P_MYSQL, "\x07\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00"));
    ck_assert(FAILED(AUTH_P_POSTGRESQL, "E\x00\x00\x00\x60SFATAL\x00VFATAL\x00"
                                        "C28P01\x00Mpassword "
                                        "authentication failed for user"));
    ck_assert(!FAILED(AUTH_P_POSTGRESQL, "R\x00\x00\x00\x08\x00\x00\x00\x00"));
    /* TDS tabular result with an ERROR token, number 18456 */
    ck_assert(FAILED(AUTH_P_MSSQL, "\x04\x01\x00\x40\x00\x00\x01\x00\xaa\x30\x00\x18\x48\x00"
                                   "\x00\x01\x0e"));
    ck_assert(!FAILED(AUTH_P_SSH, "SSH-2.0-OpenSSH_9.2p1\r\n"));
}
END_TEST

static void expect_error(const char *text, const char *where, const char *what)
{
    struct ruleset rs = {0};
    struct cfg_err err;
    const char *path = write_temp_file("bad-auth.rules", text);
    ck_assert_int_eq(ruleset_load_file(path, &rs, &err), 0);
    ck_assert_int_eq(auth_detector.check(&rs, &err), -1);
    ck_assert_msg(strstr(err.msg, where) && strstr(err.msg, what), "%s", err.msg);
    ruleset_free(&rs);
}

START_TEST(bad_rules_name_file_and_line)
{
    const char *head = "[brute_force]\ndetector = auth\ntaxonomy = attack.intrusion\n";
    char text[512];
    snprintf(text, sizeof(text), "%sservices = ssh:22,\n  gopher:70\n", head);
    expect_error(text, "bad-auth.rules:4", "'gopher' is not a service");
    snprintf(text, sizeof(text), "%sservices = ssh:22, ftp:22\n", head);
    expect_error(text, "bad-auth.rules:4", "port 22 is listed twice");
    snprintf(text, sizeof(text), "%slogin_paths = /login, signin\n", head);
    expect_error(text, "bad-auth.rules:4", "'signin' must start with '/'");
    snprintf(text, sizeof(text), "%s\nattempts = many\n", head);
    expect_error(text, "bad-auth.rules:5", "attempts");
    snprintf(text, sizeof(text), "%swindow = 2h\n", head);
    expect_error(text, "bad-auth.rules:4", "window");
    expect_error("[password_spray]\ndetector = auth\ntaxonomy = attack.intrusion\n",
                 "bad-auth.rules:1", "[brute_force]");
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("auth");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, ssh_connections_one_finding_and_possible_success);
    tcase_add_test(tc, ftp_failures_count_without_many_connections);
    tcase_add_test(tc, http_login_posts_refused);
    tcase_add_test(tc, classified_packets_count_as_hand_built);
    tcase_add_test(tc, distributed_is_one_finding_without_source);
    tcase_add_test(tc, syns_without_data_do_not_count);
    tcase_add_test(tc, table_is_bounded);
    tcase_add_test(tc, attack_again_after_its_end_is_a_second_finding);
    tcase_add_test(tc, allowed_source_is_counted_not_reported);
    tcase_add_test(tc, agency_host_attacking_outward);
    tcase_add_test(tc, protocol_readers);
    tcase_add_test(tc, bad_rules_name_file_and_line);
    tcase_add_test(tc, captures_through_the_pipeline);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(suite());
}
