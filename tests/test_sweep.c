/* test_sweep.c — the sweep detector on synthetic packets.
 *
 * Packets are built by hand (struct pkt, as decode.c would fill it) and fed
 * to the detector's on_packet; findings are collected from its emit().
 * The captures of real nmap/masscan sweeps are checked in
 * tests/golden/scan.list.
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

static const char *const sweep_rule = "[sweep]\n"
                                      "detector = sweep\n"
                                      "taxonomy = attack.other\n"
                                      "severity = medium\n"
                                      "window = 60s\n"
                                      "hosts = 20\n"
                                      "update_interval = 60s\n"
                                      "hold_down = 120s\n";

#define HARNESS_DETECTOR sweep_detector
#include "scan_harness.h"

#define SWEEPER "203.0.113.7"

static struct pkt icmp(uint64_t ts, const char *src, const char *dst, uint8_t type)
{
    struct pkt p = tcp(ts, src, dst, 0, 0, 0, 0);
    p.proto = PROTO_ICMP;
    p.icmp_type = type;
    return p;
}

static const char *host(int i)
{
    static char buf[8][32];
    static int next;
    char *b = buf[next++ % 8];
    snprintf(b, 32, "198.51.100.%d", i);
    return b;
}

/* One finding, and what its end says. */
static json_t *only_finding(struct harness *h, uint64_t flush_at)
{
    sweep_detector.flush(h->det, flush_at);
    ck_assert_uint_eq(count(h, "new"), 1);
    ck_assert_uint_eq(count(h, "end"), 1);
    json_t *first = event_at(h, 0);
    ck_assert_str_eq(str_at(first, NULL, "kind"), "sweep");
    ck_assert_str_eq(str_at(first, NULL, "src"), SWEEPER);
    ck_assert_str_eq(str_at(first, NULL, "dst"), "");
    ck_assert_int_eq(int_at(first, "counters", "hosts"), 20);
    return event_at(h, count(h, NULL) - 1);
}

/* nmap -sn -PE over 40 hosts, with echo replies from the live ones. */
START_TEST(icmp_echo_sweep)
{
    struct harness h;
    start(&h, sweep_rule, NULL);
    uint64_t t = T0;
    for (int i = 10; i < 50; i++, t += 5000) {
        feed(&h, icmp(t, SWEEPER, host(i), 8));
        if (i % 2)
            feed(&h, icmp(t + 100, host(i), SWEEPER, 0));
    }
    json_t *end = only_finding(&h, t);
    ck_assert_str_eq(str_at(end, "evidence", "sweep_type"), "icmp");
    /* exact up to 32, estimated beyond */
    ck_assert_int_ge(int_at(end, "counters", "hosts"), 38);
    ck_assert_int_le(int_at(end, "counters", "hosts"), 42);
    ck_assert_int_eq(int_at(end, "counters", "answers"), 20);
    ck_assert_str_eq(str_at(end, "evidence", "order"), "sequential");
    ck_assert_int_eq(
        json_array_size(json_object_get(json_object_get(end, "evidence"), "sample_ports")), 0);
    stop(&h);
}
END_TEST

/* nmap -sn -PS80,443: SYNs to two ports of every host. */
START_TEST(tcp_syn_ping_sweep)
{
    struct harness h;
    start(&h, sweep_rule, NULL);
    uint64_t t = T0;
    for (int i = 10; i < 41; i++, t += 5000) {
        feed(&h, tcp(t, SWEEPER, host(i), 50000, 80, TCP_SYN, 0));
        feed(&h, tcp(t + 1, SWEEPER, host(i), 50000, 443, TCP_SYN, 0));
        feed(&h, tcp(t + 100, host(i), SWEEPER, 80, 50000, TCP_SYN | TCP_ACK, 0));
        feed(&h, tcp(t + 100, host(i), SWEEPER, 443, 50000, TCP_RST | TCP_ACK, 0));
    }
    json_t *end = only_finding(&h, t);
    ck_assert_str_eq(str_at(end, "evidence", "sweep_type"), "tcp");
    ck_assert_int_eq(int_at(end, "counters", "hosts"), 31);
    ck_assert_int_eq(int_at(end, "counters", "ports"), 2);
    stop(&h);
}
END_TEST

/* nmap -sn -PA80: bare ACKs of no connection, answered by RSTs or (behind
 * a firewall that drops them) not at all. */
START_TEST(tcp_ack_ping_sweep)
{
    for (int answered = 0; answered < 2; answered++) {
        struct harness h;
        start(&h, sweep_rule, NULL);
        uint64_t t = T0;
        for (int i = 10; i < 41; i++, t += 5000) {
            feed(&h, tcp(t, SWEEPER, host(i), 50000, 80, TCP_ACK, 0));
            if (answered)
                feed(&h, tcp(t + 100, host(i), SWEEPER, 80, 50000, TCP_RST, 0));
        }
        json_t *end = only_finding(&h, t);
        ck_assert_str_eq(str_at(end, "evidence", "sweep_type"), "tcp");
        ck_assert_str_eq(str_at(end, "evidence", "probe_type"), "ack");
        ck_assert_int_eq(int_at(end, "counters", "hosts"), 31);
        ck_assert_int_eq(int_at(end, "counters", "answers"), answered ? 31 : 0);
        stop(&h);
    }
}
END_TEST

/* TCP reflection: spoofed SYNs made 40 web servers send the victim
 * SYN|ACKs it never asked for; it answers with RSTs, and some servers send
 * RSTs too.  Nobody here is a scanner. */
START_TEST(reflection_victim_is_no_sweeper)
{
    struct harness h;
    start(&h, sweep_rule, NULL);
    uint64_t t = T0;
    for (int i = 10; i < 50; i++, t += 1000) {
        feed(&h, tcp(t, host(i), SWEEPER, 80, (uint16_t)(30000 + i), TCP_SYN | TCP_ACK, 0));
        feed(&h, tcp(t + 10, SWEEPER, host(i), (uint16_t)(30000 + i), 80, TCP_RST, 0));
        feed(&h, tcp(t + 20, host(i), SWEEPER, 80, (uint16_t)(30000 + i), TCP_RST | TCP_ACK, 0));
    }
    sweep_detector.flush(h.det, t);
    ck_assert_uint_eq(count(&h, NULL), 0);
    ck_assert_int_eq(stat(&h, "table_live"), 0);
    stop(&h);
}
END_TEST

/* Roles swapped: an agency host pinging 40 outside hosts that never answer
 * is attack.malware; a client opening answered connections to 40 sites
 * is not (counted as suppressed). */
START_TEST(outward_sweep_is_malware)
{
    struct harness h;
    start(&h, sweep_rule, "198.51.100.0/24");
    char out[32];
    uint64_t t = T0;
    for (int i = 1; i <= 40; i++, t += 1000) {
        snprintf(out, sizeof(out), "192.0.2.%d", i);
        feed(&h, tcp(t, host(10), out, 40000, 445, TCP_SYN, 0));
    }
    sweep_detector.flush(h.det, t);
    ck_assert_uint_eq(count(&h, "new"), 1);
    json_t *ev = event_at(&h, 0);
    ck_assert_str_eq(str_at(ev, NULL, "src"), host(10));
    ck_assert_str_eq(str_at(ev, NULL, "taxonomy"), "attack.malware");
    ck_assert_str_eq(str_at(ev, "evidence", "direction"), "outbound");
    stop(&h);

    start(&h, sweep_rule, "198.51.100.0/24");
    t = T0;
    for (int i = 1; i <= 40; i++, t += 1000) {
        snprintf(out, sizeof(out), "192.0.2.%d", i);
        uint16_t cport = (uint16_t)(40000 + i);
        feed(&h, tcp(t, host(10), out, cport, 443, TCP_SYN, 0));
        feed(&h, tcp(t + 10, out, host(10), 443, cport, TCP_SYN | TCP_ACK, 0));
    }
    sweep_detector.flush(h.det, t);
    ck_assert_uint_eq(count(&h, NULL), 0);
    ck_assert_int_eq(stat(&h, "suppressed_findings"), 1);
    stop(&h);
}
END_TEST

/* The ACKs and FIN|ACKs of connections seen are no probes, even when one
 * server has connections from many hosts. */
START_TEST(acks_of_connections_are_no_probes)
{
    struct harness h;
    start(&h, sweep_rule, NULL);
    uint64_t t = T0;
    const char *server = "192.0.2.80";
    for (int i = 10; i < 50; i++, t += 1000) {
        uint16_t cport = (uint16_t)(40000 + i);
        feed(&h, tcp(t, host(i), server, cport, 443, TCP_SYN, 0));
        feed(&h, tcp(t + 1, server, host(i), 443, cport, TCP_SYN | TCP_ACK, 0));
        feed(&h, tcp(t + 2, host(i), server, cport, 443, TCP_ACK, 0));
        feed(&h, tcp(t + 3, server, host(i), 443, cport, TCP_ACK, 0));
        feed(&h, tcp(t + 4, server, host(i), 443, cport, TCP_ACK | TCP_PSH, 500));
        feed(&h, tcp(t + 5, server, host(i), 443, cport, TCP_ACK | TCP_FIN, 0));
    }
    sweep_detector.flush(h.det, t);
    ck_assert_uint_eq(count(&h, NULL), 0);
    stop(&h);
}
END_TEST

START_TEST(udp_sweep)
{
    struct harness h;
    start(&h, sweep_rule, NULL);
    uint64_t t = T0;
    for (int i = 10; i < 41; i++, t += 5000) {
        feed(&h, udp(t, SWEEPER, host(i), 50000, 40125));
        feed(&h, port_unreach(t + 100, host(i), SWEEPER, 50000, 40125));
    }
    json_t *end = only_finding(&h, t);
    ck_assert_str_eq(str_at(end, "evidence", "sweep_type"), "udp");
    ck_assert_int_eq(int_at(end, "counters", "answers"), 31);
    stop(&h);
}
END_TEST

/* nmap -sn's default probes: echo, SYN 443, ACK 80, timestamp. */
START_TEST(mixed_sweep)
{
    struct harness h;
    start(&h, sweep_rule, NULL);
    uint64_t t = T0;
    for (int i = 10; i < 41; i++, t += 5000) {
        feed(&h, icmp(t, SWEEPER, host(i), 8));
        feed(&h, tcp(t + 1, SWEEPER, host(i), 50000, 443, TCP_SYN, 0));
        feed(&h, tcp(t + 2, SWEEPER, host(i), 50000, 80, TCP_ACK, 0));
        feed(&h, icmp(t + 3, SWEEPER, host(i), 13));
    }
    json_t *end = only_finding(&h, t);
    ck_assert_str_eq(str_at(end, "evidence", "sweep_type"), "mixed");
    stop(&h);
}
END_TEST

/* masscan: 256 hosts x 12 ports in a random order — one finding. */
START_TEST(masscan_random_order)
{
    struct harness h;
    start(&h, sweep_rule, NULL);
    static const uint16_t ports[] = {21, 22, 23, 25, 53, 80, 110, 443, 445, 3306, 3389, 8080};
    uint64_t t = T0;
    uint32_t x = 12345;
    for (int n = 0; n < 256 * 12; n++, t += 1000) {
        x = x * 1103515245 + 12345;
        int i = (int)((x >> 8) % 256), port = (int)((x >> 20) % 12);
        feed(&h, tcp(t, SWEEPER, host(i), 61000, ports[port], TCP_SYN, 0));
        if (n % 100 == 0)
            sweep_detector.on_tick(h.det, t);
    }
    json_t *end = only_finding(&h, t + 3 * SEC);
    ck_assert_str_eq(str_at(end, "evidence", "order"), "random");
    ck_assert_int_ge(int_at(end, "counters", "hosts"), 230);
    ck_assert_int_le(int_at(end, "counters", "hosts"), 280);
    ck_assert_int_eq(int_at(end, "counters", "ports"), 12);
    ck_assert_int_eq(int_at(end, "counters", "packets"), 256 * 12);
    stop(&h);
}
END_TEST

/* One port across a range (nmap -sS -p22 10-40). */
START_TEST(one_port_horizontal_scan)
{
    struct harness h;
    start(&h, sweep_rule, NULL);
    uint64_t t = T0;
    for (int i = 10; i < 41; i++, t += 5000)
        feed(&h, tcp(t, SWEEPER, host(i), 50000, 22, TCP_SYN, 0));
    json_t *end = only_finding(&h, t);
    ck_assert_int_eq(int_at(end, "counters", "ports"), 1);
    ck_assert_int_eq(json_integer_value(json_array_get(
                         json_object_get(json_object_get(end, "evidence"), "sample_ports"), 0)),
                     22);
    stop(&h);
}
END_TEST

START_TEST(below_threshold_is_silent)
{
    struct harness h;
    start(&h, sweep_rule, NULL);
    for (int i = 10; i < 29; i++)
        feed(&h, icmp(T0 + (uint64_t)i * 1000, SWEEPER, host(i), 8));
    /* the same 19 hosts again, much later, and 19 others after the window */
    for (int i = 10; i < 29; i++)
        feed(&h, icmp(T0 + 30 * SEC, SWEEPER, host(i), 8));
    for (int i = 100; i < 119; i++)
        feed(&h, icmp(T0 + 70 * SEC + (uint64_t)i, SWEEPER, host(i), 8));
    sweep_detector.flush(h.det, T0 + 80 * SEC);
    ck_assert_uint_eq(count(&h, NULL), 0);
    stop(&h);
}
END_TEST

/* No inventory (every address protected): a web and DNS server answering
 * 100 clients, and the clients each using it, raise nothing. */
START_TEST(busy_server_is_silent)
{
    struct harness h;
    start(&h, sweep_rule, NULL);
    uint64_t t = T0;
    const char *server = "198.51.100.10";
    for (int c = 0; c < 100; c++, t += 100000) {
        char client[32];
        snprintf(client, sizeof(client), "203.0.113.%d", 20 + c);
        uint16_t cport = (uint16_t)(40000 + c);
        feed(&h, tcp(t, client, server, cport, 443, TCP_SYN, 0));
        feed(&h, tcp(t + 1, server, client, 443, cport, TCP_SYN | TCP_ACK, 0));
        feed(&h, tcp(t + 2, client, server, cport, 443, TCP_ACK, 0));
        feed(&h, tcp(t + 3, client, server, cport, 443, TCP_PSH | TCP_ACK, 200));
        feed(&h, tcp(t + 4, server, client, 443, cport, TCP_PSH | TCP_ACK, 1400));
        feed(&h, tcp(t + 5, server, client, 443, cport, TCP_ACK, 0));
        feed(&h, tcp(t + 6, server, client, 443, cport, TCP_FIN | TCP_ACK, 0));
        feed(&h, udp(t + 7, client, server, (uint16_t)(30000 + c), 53));
        feed(&h, udp(t + 8, server, client, 53, (uint16_t)(30000 + c)));
        feed(&h, icmp(t + 9, client, server, 8));
        feed(&h, icmp(t + 10, server, client, 0));
    }
    sweep_detector.flush(h.det, t);
    ck_assert_uint_eq(count(&h, NULL), 0);
    stop(&h);
}
END_TEST

START_TEST(unprotected_hosts_ignored)
{
    struct harness h;
    start(&h, sweep_rule, "198.51.100.0/24");
    for (int i = 1; i < 100; i++) {
        char dst[32];
        snprintf(dst, sizeof(dst), "192.0.2.%d", i);
        feed(&h, icmp(T0 + (uint64_t)i, SWEEPER, dst, 8));
    }
    sweep_detector.flush(h.det, T0 + SEC);
    ck_assert_uint_eq(count(&h, NULL), 0);
    stop(&h);
}
END_TEST

START_TEST(update_interval_and_hold_down)
{
    struct harness h;
    start(&h, sweep_rule, NULL);
    uint64_t t = T0;
    /* a slow-ish sweep: one new host every second for 200 s */
    for (int i = 0; i < 200; i++, t += SEC) {
        char dst[32];
        snprintf(dst, sizeof(dst), "198.51.%d.%d", 100 + i / 250, i % 250);
        feed(&h, icmp(t, SWEEPER, dst, 8));
        sweep_detector.on_tick(h.det, t);
    }
    uint64_t last = t - SEC;
    ck_assert_uint_eq(count(&h, "new"), 1);
    ck_assert_uint_ge(count(&h, "update"), 2);
    ck_assert_uint_le(count(&h, "update"), 3);
    size_t i;
    json_t *ev;
    json_int_t prev = 0;
    json_array_foreach(h.events, i, ev)
    {
        ck_assert_int_gt(int_at(ev, "counters", "packets"), prev);
        prev = int_at(ev, "counters", "packets");
    }
    sweep_detector.on_tick(h.det, last + 119 * SEC);
    ck_assert_uint_eq(count(&h, "end"), 0);
    sweep_detector.on_tick(h.det, last + 120 * SEC);
    ck_assert_uint_eq(count(&h, "end"), 1);
    sweep_detector.flush(h.det, last + 500 * SEC);
    ck_assert_uint_eq(count(&h, "end"), 1);
    stop(&h);
}
END_TEST

START_TEST(allowed_source_counted_not_alerted)
{
    struct harness h;
    char rules[1024];
    snprintf(rules, sizeof(rules), "%sallow = %s\n", sweep_rule, SWEEPER);
    start(&h, rules, NULL);
    for (int i = 1; i < 200; i++)
        feed(&h, icmp(T0 + (uint64_t)i, SWEEPER, host(i), 8));
    sweep_detector.flush(h.det, T0 + SEC);
    ck_assert_uint_eq(count(&h, NULL), 0);
    ck_assert_int_eq(stat(&h, "allowed_scans"), 1);
    stop(&h);
}
END_TEST

static uint32_t rng_state = 0x2545f491;
static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* 1,000,000 spoofed sources, each one SYN to one host, around 100 real
 * sweepers of 64 hosts each: the table stays its size, the real sweepers
 * are all reported, no spoofed source is. */
START_TEST(spoofed_sources_do_not_hide_sweepers)
{
    struct harness h;
    start(&h, sweep_rule, NULL);
    /* Reserved: entries, their slot index, tag lines, register pool (what
     * is resident follows the entries used). */
    json_int_t bytes = stat(&h, "table_bytes");
    ck_assert_int_le(bytes, 10 << 20);
    struct pkt spoof = tcp(T0, "10.0.0.0", "198.51.100.1", 1234, 80, TCP_SYN, 0);
    struct pkt real = icmp(T0, "100.64.0.0", "198.51.100.1", 8);
    uint64_t t = T0;
    uint32_t spoofed = 0;
    for (int hst = 0; hst < 64; hst++) {
        for (int s = 0; s < 100; s++) {
            real.ts_us = t;
            real.src.b[15] = (uint8_t)s;
            real.dst.b[14] = (uint8_t)(100 + hst / 200);
            real.dst.b[15] = (uint8_t)(hst % 200);
            sweep_detector.on_packet(h.det, &real);
            for (int k = 0; k < 150 && spoofed < 1000000; k++, spoofed++) {
                uint32_t r = rng();
                spoof.ts_us = t;
                memcpy(spoof.src.b + 12, &r, 4);
                spoof.src.b[12] = 10;
                spoof.dst.b[15] = (uint8_t)(r >> 24);
                sweep_detector.on_packet(h.det, &spoof);
            }
            t += 100;
        }
        sweep_detector.on_tick(h.det, t);
    }
    ck_assert_uint_eq(spoofed, 960000);
    ck_assert_int_eq(stat(&h, "table_bytes"), bytes);
    /* The spoofed churn stays in the doorkeeper: it is counted there. */
    ck_assert_int_gt(stat(&h, "pending_overwritten"), 0);
    ck_assert_uint_eq(count(&h, "new"), 100);
    size_t i;
    json_t *ev;
    json_array_foreach(h.events, i, ev)
        ck_assert_int_eq(strncmp(str_at(ev, NULL, "src"), "100.64.", 7), 0);
    stop(&h);
}
END_TEST

/* A source's first event only reaches the doorkeeper, not the table; it
 * (here a bare ACK ping) and the answers after it are replayed when the
 * second event admits the source, so the threshold fires at the same
 * probe with the same counters. */
START_TEST(first_event_replayed_on_admission)
{
    struct harness h;
    start(&h, sweep_rule, NULL);
    uint64_t t = T0;
    feed(&h, tcp(t, SWEEPER, host(10), 40000, 80, TCP_ACK, 0));
    feed(&h, tcp(t + 100, host(10), SWEEPER, 80, 40000, TCP_RST, 0));
    feed(&h, icmp(t + 200, host(10), SWEEPER, 0));
    ck_assert_int_eq(stat(&h, "table_live"), 0);
    ck_assert_int_eq(stat(&h, "pending_live"), 1);
    for (int i = 11; i < 29; i++)
        feed(&h, icmp(t += 1000, SWEEPER, host(i), 8));
    ck_assert_uint_eq(count(&h, "new"), 0);
    ck_assert_int_eq(stat(&h, "table_live"), 1);
    feed(&h, icmp(t += 1000, SWEEPER, host(29), 8));
    ck_assert_uint_eq(count(&h, "new"), 1);
    json_t *ev = event_at(&h, 0);
    ck_assert_int_eq(int_at(ev, "counters", "hosts"), 20);
    ck_assert_int_eq(int_at(ev, "counters", "packets"), 20);
    ck_assert_int_eq(int_at(ev, "counters", "answers"), 2);
    json_t *sample = json_object_get(json_object_get(ev, "evidence"), "sample_hosts");
    ck_assert_str_eq(json_string_value(json_array_get(sample, 0)), host(10));
    stop(&h);
}
END_TEST

static Suite *sweep_suite(void)
{
    Suite *s = suite_create("sweep");
    TCase *tc = tcase_create("types");
    tcase_add_test(tc, icmp_echo_sweep);
    tcase_add_test(tc, tcp_syn_ping_sweep);
    tcase_add_test(tc, tcp_ack_ping_sweep);
    tcase_add_test(tc, reflection_victim_is_no_sweeper);
    tcase_add_test(tc, acks_of_connections_are_no_probes);
    tcase_add_test(tc, outward_sweep_is_malware);
    tcase_add_test(tc, udp_sweep);
    tcase_add_test(tc, mixed_sweep);
    tcase_add_test(tc, masscan_random_order);
    tcase_add_test(tc, one_port_horizontal_scan);
    suite_add_tcase(s, tc);
    tc = tcase_create("silence");
    tcase_add_test(tc, below_threshold_is_silent);
    tcase_add_test(tc, busy_server_is_silent);
    tcase_add_test(tc, unprotected_hosts_ignored);
    tcase_add_test(tc, allowed_source_counted_not_alerted);
    suite_add_tcase(s, tc);
    tc = tcase_create("lifecycle");
    tcase_add_test(tc, update_interval_and_hold_down);
    tcase_add_test(tc, first_event_replayed_on_admission);
    suite_add_tcase(s, tc);
    tc = tcase_create("memory");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, spoofed_sources_do_not_hide_sweepers);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(sweep_suite());
}
