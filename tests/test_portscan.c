/* test_portscan.c — the portscan detector on synthetic packets.
 *
 * Packets are built by hand (struct pkt, as decode.c would fill it) and fed
 * to the detector's on_packet; findings are collected from its emit().
 * The captures of real nmap scans are checked in tests/golden/scan.list.
 */
#include <check.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/detect/detector.h"
#include "testutil.h"

#define SEC 1000000ull
#define T0 (1700000000ull * SEC)

static const char *const fast_rule = "[portscan]\n"
                                     "detector = portscan\n"
                                     "taxonomy = attack.other\n"
                                     "severity = medium\n"
                                     "window = 60s\n"
                                     "ports = 25\n"
                                     "update_interval = 60s\n"
                                     "hold_down = 120s\n";

static const char *const slow_rule = "[portscan_slow]\n"
                                     "detector = portscan\n"
                                     "taxonomy = attack.other\n"
                                     "window = 1h\n"
                                     "ports = 10\n"
                                     "min_span = 60s\n"
                                     "update_interval = 5m\n"
                                     "hold_down = 15m\n";

#define HARNESS_DETECTOR portscan_detector
#include "scan_harness.h"

#define SCANNER "203.0.113.7"
#define TARGET "198.51.100.10"

/* nmap-like probes of ports 1..n with flags, 1 ms apart. */
static void probe_ports(struct harness *h, uint64_t t, int n, uint8_t flags)
{
    for (int port = 1; port <= n; port++)
        feed(h, tcp(t + (uint64_t)port * 1000, SCANNER, TARGET, 40000, (uint16_t)port, flags, 0));
}

/* ---- scan types ------------------------------------------------------------ */

static void check_type(uint8_t flags, const char *want)
{
    struct harness h;
    start(&h, fast_rule, NULL);
    probe_ports(&h, T0, 100, flags);
    portscan_detector.flush(h.det, T0 + 2 * SEC);
    ck_assert_uint_eq(count(&h, "new"), 1);
    ck_assert_uint_eq(count(&h, "end"), 1);
    json_t *ev = event_at(&h, 0);
    ck_assert_str_eq(str_at(ev, NULL, "kind"), "portscan");
    ck_assert_str_eq(str_at(ev, NULL, "src"), SCANNER);
    ck_assert_str_eq(str_at(ev, NULL, "dst"), TARGET);
    ck_assert_str_eq(str_at(ev, "evidence", "scan_type"), want);
    ck_assert_int_eq(int_at(ev, "counters", "ports"), 25);
    ck_assert_int_eq(
        json_array_size(json_object_get(json_object_get(ev, "evidence"), "sample_ports")), 10);
    /* The end carries the whole scan: 100 probes, ~100 ports. */
    json_t *end = event_at(&h, count(&h, NULL) - 1);
    ck_assert_int_eq(int_at(end, "counters", "packets"), 100);
    ck_assert_int_ge(int_at(end, "counters", "ports"), 80);
    ck_assert_int_le(int_at(end, "counters", "ports"), 120);
    stop(&h);
}

START_TEST(type_syn)
{
    check_type(TCP_SYN, "syn");
}
END_TEST
START_TEST(type_fin)
{
    check_type(TCP_FIN, "fin");
}
END_TEST
START_TEST(type_null)
{
    check_type(0, "null");
}
END_TEST
START_TEST(type_xmas)
{
    check_type(TCP_FIN | TCP_PSH | TCP_URG, "xmas");
}
END_TEST
START_TEST(type_ack)
{
    check_type(TCP_ACK, "ack");
}
END_TEST
START_TEST(type_maimon)
{
    check_type(TCP_FIN | TCP_ACK, "maimon");
}
END_TEST

/* connect(): SYN to every port; open ports answer SYN|ACK and the
 * scanner's kernel completes the handshake, then resets. */
START_TEST(type_connect)
{
    struct harness h;
    start(&h, fast_rule, NULL);
    uint64_t t = T0;
    for (int port = 1; port <= 60; port++, t += 1000) {
        uint16_t sport = (uint16_t)(40000 + port);
        feed(&h, tcp(t, SCANNER, TARGET, sport, (uint16_t)port, TCP_SYN, 0));
        if (port == 22 || port == 25 || port == 53) {
            feed(&h, tcp(t + 10, TARGET, SCANNER, (uint16_t)port, sport, TCP_SYN | TCP_ACK, 0));
            feed(&h, tcp(t + 20, SCANNER, TARGET, sport, (uint16_t)port, TCP_ACK, 0));
            feed(&h, tcp(t + 30, SCANNER, TARGET, sport, (uint16_t)port, TCP_RST | TCP_ACK, 0));
        } else {
            feed(&h, tcp(t + 10, TARGET, SCANNER, (uint16_t)port, sport, TCP_RST | TCP_ACK, 0));
        }
    }
    portscan_detector.flush(h.det, t);
    ck_assert_uint_eq(count(&h, "new"), 1);
    json_t *end = event_at(&h, count(&h, NULL) - 1);
    ck_assert_str_eq(str_at(end, "evidence", "scan_type"), "connect");
    ck_assert_int_eq(int_at(end, "counters", "open_answers"), 3);
    ck_assert_int_eq(int_at(end, "counters", "closed_answers"), 57);
    stop(&h);
}
END_TEST

/* UDP scan: the target's ICMP port unreachables quote the probes. */
START_TEST(type_udp)
{
    struct harness h;
    start(&h, fast_rule, NULL);
    uint64_t t = T0;
    for (int port = 1; port <= 40; port++, t += 1000) {
        feed(&h, udp(t, SCANNER, TARGET, 55000, (uint16_t)port));
        if (port != 22)
            feed(&h, port_unreach(t + 100, TARGET, SCANNER, 55000, (uint16_t)port));
    }
    portscan_detector.flush(h.det, t);
    ck_assert_uint_eq(count(&h, "new"), 1);
    json_t *end = event_at(&h, count(&h, NULL) - 1);
    ck_assert_str_eq(str_at(end, "evidence", "scan_type"), "udp");
    ck_assert_int_eq(int_at(end, "counters", "closed_answers"), 39);
    stop(&h);
}
END_TEST

/* ---- what must stay silent ------------------------------------------------ */

START_TEST(below_threshold_is_silent)
{
    struct harness h;
    start(&h, fast_rule, NULL);
    probe_ports(&h, T0, 24, TCP_SYN);
    portscan_detector.on_tick(h.det, T0 + 300 * SEC);
    portscan_detector.flush(h.det, T0 + 300 * SEC);
    ck_assert_uint_eq(count(&h, NULL), 0);
    stop(&h);
}
END_TEST

/* Busy clients, with every address protected (no inventory), so both
 * directions are looked at: browsers opening hundreds of connections to
 * 80/443, the server's ACKs and FINs back to their ever-new ports, and a
 * DNS client whose answers come back to a new port each time. */
START_TEST(normal_clients_are_silent)
{
    struct harness h;
    char rules[2048];
    snprintf(rules, sizeof(rules), "%s\n%s", fast_rule, slow_rule);
    start(&h, rules, NULL);
    uint64_t t = T0;
    const char *server = TARGET, *client = "203.0.113.20";
    for (int c = 0; c < 400; c++, t += 250000) {
        uint16_t cport = (uint16_t)(33000 + c * 7);
        uint16_t sport = c % 3 ? 443 : 80;
        feed(&h, tcp(t, client, server, cport, sport, TCP_SYN, 0));
        feed(&h, tcp(t + 100, server, client, sport, cport, TCP_SYN | TCP_ACK, 0));
        feed(&h, tcp(t + 200, client, server, cport, sport, TCP_ACK, 0));
        feed(&h, tcp(t + 300, client, server, cport, sport, TCP_PSH | TCP_ACK, 300));
        feed(&h, tcp(t + 400, server, client, sport, cport, TCP_ACK, 0));
        feed(&h, tcp(t + 500, server, client, sport, cport, TCP_PSH | TCP_ACK, 1400));
        feed(&h, tcp(t + 600, client, server, cport, sport, TCP_ACK, 0));
        feed(&h, tcp(t + 700, server, client, sport, cport, TCP_FIN | TCP_ACK, 0));
        feed(&h, tcp(t + 800, client, server, cport, sport, TCP_FIN | TCP_ACK, 0));
        feed(&h, tcp(t + 900, server, client, sport, cport, TCP_ACK, 0));
        /* DNS lookups through the server */
        uint16_t qport = (uint16_t)(20000 + c * 13);
        feed(&h, udp(t + 1000, client, server, qport, 53));
        feed(&h, udp(t + 1100, server, client, 53, qport));
        if (c % 50 == 0)
            portscan_detector.on_tick(h.det, t);
    }
    portscan_detector.flush(h.det, t);
    ck_assert_uint_eq(count(&h, NULL), 0);
    stop(&h);
}
END_TEST

/* Issue 12: a client inside keeps 12 HTTPS connections open to one
 * server for an hour; the server's ACKs and FIN|ACKs on the client's 12
 * ephemeral ports are return traffic, not a slow ACK scan.  The same
 * after an agent restart, when the handshakes were never seen: the first
 * data segment makes the connection known. */
START_TEST(long_sessions_are_no_ack_scan)
{
    for (int seen_open = 0; seen_open < 2; seen_open++) {
        struct harness h;
        char rules[2048];
        snprintf(rules, sizeof(rules), "%s\n%s", fast_rule, slow_rule);
        start(&h, rules, "198.51.100.0/24");
        const char *server = "192.0.2.80", *client = TARGET;
        uint64_t t = T0;
        if (seen_open)
            for (int c = 0; c < 12; c++) {
                uint16_t cport = (uint16_t)(50000 + c);
                feed(&h, tcp(t, client, server, cport, 443, TCP_SYN, 0));
                feed(&h, tcp(t + 10, server, client, 443, cport, TCP_SYN | TCP_ACK, 0));
                feed(&h, tcp(t + 20, client, server, cport, 443, TCP_ACK, 0));
            }
        for (int minute = 0; minute < 60; minute++, t += 60 * SEC) {
            for (int c = 0; c < 12; c++) {
                uint16_t cport = (uint16_t)(50000 + c);
                uint64_t at = t + (uint64_t)c * SEC;
                feed(&h, tcp(at, client, server, cport, 443, TCP_PSH | TCP_ACK, 120));
                feed(&h, tcp(at + 100, server, client, 443, cport, TCP_ACK, 0));
                feed(&h, tcp(at + 200, server, client, 443, cport, TCP_PSH | TCP_ACK, 900));
                feed(&h, tcp(at + 300, client, server, cport, 443, TCP_ACK, 0));
            }
            portscan_detector.on_tick(h.det, t);
        }
        for (int c = 0; c < 12; c++) {
            uint16_t cport = (uint16_t)(50000 + c);
            feed(&h, tcp(t, server, client, 443, cport, TCP_FIN | TCP_ACK, 0));
            feed(&h, tcp(t + 10, client, server, cport, 443, TCP_FIN | TCP_ACK, 0));
            feed(&h, tcp(t + 20, server, client, 443, cport, TCP_ACK, 0));
        }
        portscan_detector.flush(h.det, t + SEC);
        ck_assert_uint_eq(count(&h, NULL), 0);
        stop(&h);
    }
}
END_TEST

/* Bare ACKs to many ports with no connection behind them stay an ACK scan. */
START_TEST(ack_scan_without_connections)
{
    struct harness h;
    start(&h, fast_rule, NULL);
    /* some real connections of the scanner first */
    for (int c = 0; c < 3; c++) {
        feed(&h, tcp(T0 + (uint64_t)c, SCANNER, TARGET, (uint16_t)(41000 + c), 80, TCP_SYN, 0));
        feed(&h, tcp(T0 + (uint64_t)c + 1, TARGET, SCANNER, 80, (uint16_t)(41000 + c),
                     TCP_SYN | TCP_ACK, 0));
    }
    probe_ports(&h, T0 + SEC, 100, TCP_ACK);
    portscan_detector.flush(h.det, T0 + 3 * SEC);
    ck_assert_uint_eq(count(&h, "new"), 1);
    ck_assert_str_eq(str_at(event_at(&h, 0), "evidence", "scan_type"), "ack");
    stop(&h);
}
END_TEST

/* Roles swapped: an agency host SYN-scanning an outside host is
 * attack.malware with direction outbound; one opening many answered
 * connections to one server (passive FTP) is not. */
START_TEST(outward_scan_is_malware)
{
    struct harness h;
    start(&h, fast_rule, "198.51.100.0/24");
    for (int port = 1; port <= 100; port++) {
        uint64_t t = T0 + (uint64_t)port * 1000;
        feed(&h, tcp(t, TARGET, SCANNER, 40000, (uint16_t)port, TCP_SYN, 0));
        feed(&h, tcp(t + 10, SCANNER, TARGET, (uint16_t)port, 40000, TCP_RST | TCP_ACK, 0));
    }
    portscan_detector.flush(h.det, T0 + SEC);
    ck_assert_uint_eq(count(&h, "new"), 1);
    json_t *ev = event_at(&h, 0);
    ck_assert_str_eq(str_at(ev, NULL, "src"), TARGET);
    ck_assert_str_eq(str_at(ev, NULL, "dst"), SCANNER);
    ck_assert_str_eq(str_at(ev, NULL, "taxonomy"), "attack.malware");
    ck_assert_str_eq(str_at(ev, "evidence", "direction"), "outbound");
    ck_assert_int_ge(int_at(ev, "counters", "closed_answers"), 24);
    stop(&h);

    start(&h, fast_rule, "198.51.100.0/24");
    for (int c = 0; c < 40; c++) {
        uint64_t t = T0 + (uint64_t)c * 100000;
        uint16_t cport = (uint16_t)(42000 + c), dport = (uint16_t)(30000 + c * 17);
        feed(&h, tcp(t, TARGET, SCANNER, cport, dport, TCP_SYN, 0));
        feed(&h, tcp(t + 10, SCANNER, TARGET, dport, cport, TCP_SYN | TCP_ACK, 0));
        feed(&h, tcp(t + 20, TARGET, SCANNER, cport, dport, TCP_ACK, 0));
        feed(&h, tcp(t + 30, SCANNER, TARGET, dport, cport, TCP_PSH | TCP_ACK, 1400));
    }
    portscan_detector.flush(h.det, T0 + 5 * SEC);
    ck_assert_uint_eq(count(&h, NULL), 0);
    ck_assert_int_eq(stat(&h, "suppressed_findings"), 1);
    stop(&h);
}
END_TEST

/* With a home network, other destinations are nobody's targets. */
START_TEST(unprotected_targets_ignored)
{
    struct harness h;
    start(&h, fast_rule, "198.51.100.0/24");
    for (int port = 1; port <= 100; port++)
        feed(&h, tcp(T0 + (uint64_t)port, SCANNER, "192.0.2.1", 40000, (uint16_t)port, TCP_SYN, 0));
    portscan_detector.flush(h.det, T0 + SEC);
    ck_assert_uint_eq(count(&h, NULL), 0);
    probe_ports(&h, T0 + 2 * SEC, 30, TCP_SYN);
    portscan_detector.flush(h.det, T0 + 3 * SEC);
    ck_assert_uint_eq(count(&h, "new"), 1);
    stop(&h);
}
END_TEST

/* ---- lifecycle ------------------------------------------------------------------ */

/* One probe a second to a new port for 5 minutes: one new, an update at
 * most every 60 s with growing counters, one end 120 s after the last
 * probe. */
START_TEST(update_interval_and_hold_down)
{
    struct harness h;
    start(&h, fast_rule, NULL);
    uint64_t t = T0;
    for (int i = 0; i < 300; i++, t += SEC) {
        feed(&h, tcp(t, SCANNER, TARGET, 40000, (uint16_t)(1000 + i), TCP_SYN, 0));
        portscan_detector.on_tick(h.det, t);
    }
    uint64_t last = t - SEC;
    ck_assert_uint_eq(count(&h, "new"), 1);
    size_t updates = count(&h, "update");
    ck_assert_uint_ge(updates, 3);
    ck_assert_uint_le(updates, 5);
    json_int_t prev_ts = 0, prev_packets = 0;
    size_t i;
    json_t *ev;
    json_array_foreach(h.events, i, ev)
    {
        json_int_t ts = json_integer_value(json_object_get(ev, "ts"));
        if (prev_ts)
            ck_assert_int_ge(ts - prev_ts, 60 * (json_int_t)SEC);
        ck_assert_int_gt(int_at(ev, "counters", "packets"), prev_packets);
        prev_ts = ts;
        prev_packets = int_at(ev, "counters", "packets");
    }
    /* Quiet: no end before hold_down, one end at it, nothing after. */
    for (t = last + SEC; t < last + 120 * SEC; t += SEC)
        portscan_detector.on_tick(h.det, t);
    ck_assert_uint_eq(count(&h, "end"), 0);
    size_t before = count(&h, NULL);
    portscan_detector.on_tick(h.det, last + 120 * SEC);
    ck_assert_uint_eq(count(&h, "end"), 1);
    ck_assert_uint_eq(count(&h, NULL), before + 1);
    portscan_detector.on_tick(h.det, last + 400 * SEC);
    portscan_detector.flush(h.det, last + 400 * SEC);
    ck_assert_uint_eq(count(&h, NULL), before + 1);
    /* The same finding id throughout. */
    json_int_t seq = json_integer_value(json_object_get(event_at(&h, 0), "seq"));
    json_array_foreach(h.events, i, ev)
        ck_assert_int_eq(json_integer_value(json_object_get(ev, "seq")), seq);
    ck_assert_int_eq(stat(&h, "findings"), 1);
    stop(&h);
}
END_TEST

/* nmap -T1: one probe every 15 s over 15 ports — the slow rule's. */
START_TEST(slow_scan_caught_by_slow_rule)
{
    struct harness h;
    char rules[2048];
    snprintf(rules, sizeof(rules), "%s\n%s", fast_rule, slow_rule);
    start(&h, rules, NULL);
    static const uint16_t ports[] = {21,  22,  23,  25,  53,   80,   110, 139,
                                     143, 443, 445, 993, 3306, 3389, 8080};
    uint64_t t = T0;
    for (int i = 0; i < 15; i++, t += 15 * SEC) {
        feed(&h, tcp(t, SCANNER, TARGET, 50123, ports[i], TCP_SYN, 0));
        portscan_detector.on_tick(h.det, t);
    }
    portscan_detector.flush(h.det, t);
    ck_assert_uint_eq(count(&h, "new"), 1);
    json_t *ev = event_at(&h, 0);
    ck_assert_str_eq(str_at(ev, NULL, "rule"), "portscan_slow");
    ck_assert_int_eq(int_at(ev, "counters", "ports"), 10);
    /* crossed at the 10th port, 135 s in */
    ck_assert_int_eq(json_integer_value(json_object_get(ev, "ts")), (json_int_t)(T0 + 135 * SEC));
    stop(&h);
}
END_TEST

/* A fast scan with both rules: the fast rule speaks, once. */
START_TEST(fast_scan_reported_once_with_both_rules)
{
    struct harness h;
    char rules[2048];
    snprintf(rules, sizeof(rules), "%s\n%s", fast_rule, slow_rule);
    start(&h, rules, NULL);
    probe_ports(&h, T0, 1000, TCP_SYN);
    portscan_detector.flush(h.det, T0 + 90 * SEC);
    ck_assert_uint_eq(count(&h, "new"), 1);
    ck_assert_uint_eq(count(&h, "end"), 1);
    ck_assert_str_eq(str_at(event_at(&h, 0), NULL, "rule"), "portscan");
    stop(&h);
}
END_TEST

START_TEST(allowed_source_counted_not_alerted)
{
    struct harness h;
    char rules[1024];
    snprintf(rules, sizeof(rules), "%sallow = 203.0.113.0/28, 10.0.0.5\n", fast_rule);
    start(&h, rules, NULL);
    probe_ports(&h, T0, 200, TCP_SYN);
    portscan_detector.flush(h.det, T0 + SEC);
    ck_assert_uint_eq(count(&h, NULL), 0);
    ck_assert_int_eq(stat(&h, "allowed_scans"), 1);
    stop(&h);
}
END_TEST

/* masscan over 50 hosts x 40 ports: at most max_targets_per_src
 * portscan findings; the rest counted. */
START_TEST(many_targets_capped_per_source)
{
    struct harness h;
    start(&h, fast_rule, NULL);
    uint64_t t = T0;
    for (int port = 1; port <= 40; port++)
        for (int host = 1; host <= 50; host++) {
            char dst[32];
            snprintf(dst, sizeof(dst), "198.51.100.%d", host);
            feed(&h, tcp(t += 100, SCANNER, dst, 61000, (uint16_t)port, TCP_SYN, 0));
        }
    portscan_detector.flush(h.det, t);
    ck_assert_uint_eq(count(&h, "new"), 8);
    ck_assert_int_eq(stat(&h, "suppressed_findings"), 42);
    stop(&h);
}
END_TEST

/* IPv6 is the same table and the same rules. */
START_TEST(ipv6_scan)
{
    struct harness h;
    start(&h, fast_rule, NULL);
    for (int port = 1; port <= 30; port++)
        feed(&h, tcp(T0 + (uint64_t)port, "2001:db8::7", "2001:db8:1::10", 40000, (uint16_t)port,
                     TCP_SYN, 0));
    portscan_detector.flush(h.det, T0 + SEC);
    ck_assert_uint_eq(count(&h, "new"), 1);
    ck_assert_str_eq(str_at(event_at(&h, 0), NULL, "dst"), "2001:db8:1::10");
    stop(&h);
}
END_TEST

/* ---- bounded memory ----------------------------------------------------------------- */

static uint32_t rng_state = 0x9e3779b9;
static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* 5,000 real scanners, 64 ports each, hidden among SYNs from 1,000,000
 * spoofed sources (each one packet to one port of the target network):
 * the table never grows, the churn is counted (in the doorkeeper, which
 * one-packet sources never get past), every real scanner is reported
 * exactly once. */
START_TEST(spoofed_sources_do_not_hide_scanners)
{
    struct harness h;
    start(&h, fast_rule, NULL);
    json_int_t capacity = stat(&h, "table_capacity");
    json_int_t bytes = stat(&h, "table_bytes");
    ck_assert_int_le(bytes, 24 << 20);
    struct pkt spoof = tcp(T0, "10.0.0.0", TARGET, 1234, 80, TCP_SYN, 0);
    struct pkt real = tcp(T0, "100.64.0.0", TARGET, 40000, 1, TCP_SYN, 0);
    struct mallinfo2 before = mallinfo2();
    uint64_t t = T0;
    uint32_t spoofed = 0, probes = 0;
    /* Scanners run in waves of 500 at once; 3 spoofed packets per probe. */
    for (uint32_t wave = 0; wave < 10; wave++) {
        for (uint32_t port = 1; port <= 64; port++) {
            for (uint32_t s = 0; s < 500; s++) {
                uint32_t id = wave * 500 + s;
                real.ts_us = t;
                real.src.b[14] = (uint8_t)(id >> 8);
                real.src.b[15] = (uint8_t)id;
                real.dport = (uint16_t)port;
                portscan_detector.on_packet(h.det, &real);
                probes++;
                for (int k = 0; k < 3 && spoofed < 1000000; k++, spoofed++) {
                    uint32_t r = rng();
                    spoof.ts_us = t;
                    memcpy(spoof.src.b + 12, &r, 4);
                    spoof.src.b[12] = 10; /* 10/8: never a real scanner */
                    spoof.dst.b[15] = (uint8_t)(r >> 24);
                    spoof.dport = (uint16_t)(r >> 8);
                    portscan_detector.on_packet(h.det, &spoof);
                }
                t += 10;
            }
            portscan_detector.on_tick(h.det, t);
        }
    }
    while (spoofed < 1000000) {
        uint32_t r = rng();
        memcpy(spoof.src.b + 12, &r, 4);
        spoof.src.b[12] = 10;
        portscan_detector.on_packet(h.det, &spoof);
        spoofed++;
    }
    struct mallinfo2 after = mallinfo2();
    ck_assert_uint_eq(probes, 320000);
    /* No allocation but the events' JSON, which the harness keeps. */
    ck_assert_uint_lt(after.uordblks - before.uordblks, 16u << 20);
    ck_assert_int_eq(stat(&h, "table_capacity"), capacity);
    ck_assert_int_eq(stat(&h, "table_bytes"), bytes);
    ck_assert_int_le(stat(&h, "table_live"), capacity);
    /* The spoofed churn stays in the doorkeeper: it is counted there. */
    ck_assert_int_gt(stat(&h, "pending_overwritten"), 0);
    ck_assert_uint_eq(count(&h, "new"), 5000);
    size_t i;
    json_t *ev;
    json_array_foreach(h.events, i, ev)
        ck_assert_int_eq(strncmp(str_at(ev, NULL, "src"), "100.64.", 7), 0);
    stop(&h);
}
END_TEST

/* A table's entries are written in the order keys arrive, not where their
 * hashes fall: the memory a few thousand scanners make resident is theirs,
 * not most pages of the table.  And however many keys come, no more
 * entries than the table's capacity are ever written. */
START_TEST(table_entries_written_follow_the_keys)
{
    struct harness h;
    start(&h,
          "[portscan]\n"
          "detector = portscan\n"
          "taxonomy = attack.other\n"
          "table_size = 4096\n"
          "ports = 25\n",
          NULL);
    json_int_t capacity = stat(&h, "table_capacity");
    json_int_t bytes = stat(&h, "table_bytes");
    ck_assert_int_eq(stat(&h, "table_entries_used"), 0);
    struct pkt p = tcp(T0, "100.64.0.0", TARGET, 40000, 1, TCP_SYN, 0);
    uint64_t t = T0;
    /* 1,000 scanners, two probes each: each admitted at its second. */
    for (uint32_t port = 1; port <= 2; port++)
        for (uint32_t id = 0; id < 1000; id++, t += 10) {
            p.ts_us = t;
            p.src.b[14] = (uint8_t)(id >> 8);
            p.src.b[15] = (uint8_t)id;
            p.dport = (uint16_t)port;
            portscan_detector.on_packet(h.det, &p);
        }
    ck_assert_int_eq(stat(&h, "table_live"), 1000);
    ck_assert_int_eq(stat(&h, "table_entries_used"), 1000);
    /* Four tables' worth more, two probes each in a row: entries are
     * reused, never more written. */
    for (uint32_t id = 0; id < 4 * (uint32_t)capacity; id++)
        for (uint32_t port = 1; port <= 2; port++, t += 10) {
            p.ts_us = t;
            p.src.b[13] = (uint8_t)(1 + (id >> 16));
            p.src.b[14] = (uint8_t)(id >> 8);
            p.src.b[15] = (uint8_t)id;
            p.dport = (uint16_t)port;
            portscan_detector.on_packet(h.det, &p);
        }
    ck_assert_int_le(stat(&h, "table_entries_used"), capacity);
    ck_assert_int_gt(stat(&h, "table_entries_used"), capacity * 9 / 10);
    ck_assert_int_eq(stat(&h, "table_live"), stat(&h, "table_entries_used"));
    ck_assert_int_eq(stat(&h, "table_bytes"), bytes);
    stop(&h);
}
END_TEST

/* ---- rules -------------------------------------------------------------------------- */

START_TEST(rule_mistakes_name_file_and_line)
{
    struct ruleset rs = {0};
    struct cfg_err err;
    const char *path = write_temp_file("bad.rules", "[portscan]\n"
                                                    "detector = portscan\n"
                                                    "taxonomy = attack.other\n"
                                                    "ports = many\n");
    ck_assert_int_eq(ruleset_load_file(path, &rs, &err), 0);
    ck_assert_int_eq(portscan_detector.check(&rs, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "bad.rules:4: ports"));
    ruleset_free(&rs);
    memset(&rs, 0, sizeof(rs));

    path = write_temp_file("bad.rules", "[portscan]\n"
                                        "detector = portscan\n"
                                        "taxonomy = attack.other\n"
                                        "[portscan_slow]\n"
                                        "detector = portscan\n"
                                        "taxonomy = attack.other\n"
                                        "table_size = 1024\n");
    ck_assert_int_eq(ruleset_load_file(path, &rs, &err), 0);
    ck_assert_int_eq(portscan_detector.check(&rs, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "bad.rules:7: table_size"));
    ruleset_free(&rs);
    memset(&rs, 0, sizeof(rs));

    path = write_temp_file("bad.rules", "[portscan]\n"
                                        "detector = portscan\n"
                                        "taxonomy = attack.other\n"
                                        "window = 60s\n"
                                        "min_span = 2m\n");
    ck_assert_int_eq(ruleset_load_file(path, &rs, &err), 0);
    ck_assert_int_eq(portscan_detector.check(&rs, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "bad.rules:5: min_span"));
    ruleset_free(&rs);
}
END_TEST

/* Reload keeps an open finding whose rule survives (no second "new"), and
 * ends one whose rule is gone. */
START_TEST(reload_keeps_or_ends_findings)
{
    struct harness h;
    start(&h, fast_rule, NULL);
    probe_ports(&h, T0, 50, TCP_SYN);
    ck_assert_uint_eq(count(&h, "new"), 1);
    struct ruleset same = {0};
    struct cfg_err err;
    ck_assert_int_eq(ruleset_load_file(write_temp_file("same.rules", fast_rule), &same, &err), 0);
    ck_assert_int_eq(portscan_detector.reload(h.det, &same, &err), 0);
    ruleset_free(&h.rules);
    h.rules = same;
    probe_ports(&h, T0 + SEC, 100, TCP_SYN);
    ck_assert_uint_eq(count(&h, "new"), 1);
    ck_assert_uint_eq(count(&h, "end"), 0);

    struct ruleset other = {0};
    ck_assert_int_eq(ruleset_load_file(write_temp_file("other.rules", slow_rule), &other, &err), 0);
    ck_assert_int_eq(portscan_detector.reload(h.det, &other, &err), 0);
    ck_assert_uint_eq(count(&h, "end"), 1);
    ck_assert_str_eq(str_at(event_at(&h, count(&h, NULL) - 1), NULL, "rule"), "portscan");
    ruleset_free(&h.rules);
    h.rules = other;
    stop(&h);
}
END_TEST

/* A pair's first probe only reaches the doorkeeper, not the table; what
 * it and the target's answer to it carried is replayed when the second
 * probe admits the pair, so the threshold fires at the same probe with the
 * same counters as if the entry had existed from the first. */
START_TEST(first_probe_replayed_on_admission)
{
    struct harness h;
    start(&h, fast_rule, NULL);
    feed(&h, tcp(T0 + 1000, SCANNER, TARGET, 40000, 1, TCP_SYN, 0));
    feed(&h, tcp(T0 + 1100, TARGET, SCANNER, 1, 40000, TCP_RST | TCP_ACK, 0));
    ck_assert_int_eq(stat(&h, "table_live"), 0);
    ck_assert_int_eq(stat(&h, "pending_live"), 1);
    for (int port = 2; port <= 24; port++) {
        feed(&h,
             tcp(T0 + (uint64_t)port * 1000, SCANNER, TARGET, 40000, (uint16_t)port, TCP_SYN, 0));
        feed(&h, tcp(T0 + (uint64_t)port * 1000 + 100, TARGET, SCANNER, (uint16_t)port, 40000,
                     TCP_RST | TCP_ACK, 0));
    }
    ck_assert_uint_eq(count(&h, "new"), 0);
    ck_assert_int_eq(stat(&h, "table_live"), 1);
    ck_assert_int_eq(stat(&h, "pending_live"), 0);
    feed(&h, tcp(T0 + 25000, SCANNER, TARGET, 40000, 25, TCP_SYN, 0));
    ck_assert_uint_eq(count(&h, "new"), 1);
    json_t *ev = event_at(&h, 0);
    ck_assert_int_eq(int_at(ev, "counters", "ports"), 25);
    ck_assert_int_eq(int_at(ev, "counters", "packets"), 25);
    ck_assert_int_eq(int_at(ev, "counters", "closed_answers"), 24);
    json_t *sample = json_object_get(json_object_get(ev, "evidence"), "sample_ports");
    ck_assert_int_eq(json_integer_value(json_array_get(sample, 0)), 1);
    stop(&h);
}
END_TEST

/* A reload restarts the rule windows of every pair, one seen only once
 * (still in the doorkeeper) too: the port before the reload no longer
 * counts towards the threshold. */
START_TEST(reload_restarts_pending_windows)
{
    struct harness h;
    start(&h, fast_rule, NULL);
    feed(&h, tcp(T0 + 1000, SCANNER, TARGET, 40000, 1, TCP_SYN, 0));
    struct ruleset same = {0};
    struct cfg_err err;
    ck_assert_int_eq(ruleset_load_file(write_temp_file("same.rules", fast_rule), &same, &err), 0);
    ck_assert_int_eq(portscan_detector.reload(h.det, &same, &err), 0);
    ruleset_free(&h.rules);
    h.rules = same;
    for (int port = 2; port <= 25; port++)
        feed(&h,
             tcp(T0 + (uint64_t)port * 1000, SCANNER, TARGET, 40000, (uint16_t)port, TCP_SYN, 0));
    ck_assert_uint_eq(count(&h, "new"), 0);
    feed(&h, tcp(T0 + 26000, SCANNER, TARGET, 40000, 26, TCP_SYN, 0));
    ck_assert_uint_eq(count(&h, "new"), 1);
    ck_assert_int_eq(int_at(event_at(&h, 0), "counters", "ports"), 26);
    stop(&h);
}
END_TEST

static Suite *portscan_suite(void)
{
    Suite *s = suite_create("portscan");
    TCase *tc = tcase_create("types");
    tcase_add_test(tc, type_syn);
    tcase_add_test(tc, long_sessions_are_no_ack_scan);
    tcase_add_test(tc, ack_scan_without_connections);
    tcase_add_test(tc, outward_scan_is_malware);
    tcase_add_test(tc, type_fin);
    tcase_add_test(tc, type_null);
    tcase_add_test(tc, type_xmas);
    tcase_add_test(tc, type_ack);
    tcase_add_test(tc, type_maimon);
    tcase_add_test(tc, type_connect);
    tcase_add_test(tc, type_udp);
    tcase_add_test(tc, ipv6_scan);
    suite_add_tcase(s, tc);
    tc = tcase_create("silence");
    tcase_add_test(tc, below_threshold_is_silent);
    tcase_add_test(tc, normal_clients_are_silent);
    tcase_add_test(tc, unprotected_targets_ignored);
    tcase_add_test(tc, allowed_source_counted_not_alerted);
    suite_add_tcase(s, tc);
    tc = tcase_create("lifecycle");
    tcase_add_test(tc, update_interval_and_hold_down);
    tcase_add_test(tc, slow_scan_caught_by_slow_rule);
    tcase_add_test(tc, fast_scan_reported_once_with_both_rules);
    tcase_add_test(tc, many_targets_capped_per_source);
    tcase_add_test(tc, reload_keeps_or_ends_findings);
    tcase_add_test(tc, first_probe_replayed_on_admission);
    tcase_add_test(tc, reload_restarts_pending_windows);
    tcase_add_test(tc, rule_mistakes_name_file_and_line);
    suite_add_tcase(s, tc);
    tc = tcase_create("memory");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, spoofed_sources_do_not_hide_scanners);
    tcase_add_test(tc, table_entries_written_follow_the_keys);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(portscan_suite());
}
