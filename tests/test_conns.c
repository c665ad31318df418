/* test_conns.c — which TCP segments belong to a connection (agent/conns.c).
 *
 * What the detectors rely on: a SYN|ACK nobody asked for is marked as
 * such (TCP reflection), the ACKs and FIN|ACKs of a connection seen are
 * not (no ACK scan out of return traffic), a connection open before the
 * agent started is learnt from its data, the handshake's last ACK is told
 * apart (connect scans), and the table never grows whatever the traffic.
 */
#include <check.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "agent/conns.h"
#include "testutil.h"

static struct pkt seg(const char *src, uint16_t sport, const char *dst, uint16_t dport,
                      uint8_t flags, uint32_t payload)
{
    struct pkt p;
    memset(&p, 0, sizeof(p));
    ck_assert_int_eq(addr_parse(src, &p.src), 0);
    ck_assert_int_eq(addr_parse(dst, &p.dst), 0);
    p.proto = PROTO_TCP;
    p.sport = sport;
    p.dport = dport;
    p.tcp_flags = flags;
    p.payload_len = p.payload_wire_len = payload;
    return p;
}

/* Run p through c; return it as the detectors would see it. */
static struct pkt see(struct conns *c, struct pkt p)
{
    conns_packet(c, &p);
    ck_assert(p.conn_checked);
    return p;
}

#define CLIENT "198.51.100.10"
#define SERVER "203.0.113.80"

START_TEST(handshake_and_return_traffic)
{
    struct conns c;
    ck_assert_int_eq(conns_init(&c, 1024, 42), 0);
    ck_assert(!see(&c, seg(CLIENT, 50000, SERVER, 443, TCP_SYN, 0)).tcp_in_conn);
    ck_assert(see(&c, seg(SERVER, 443, CLIENT, 50000, TCP_SYN | TCP_ACK, 0)).tcp_in_conn);
    struct pkt last = see(&c, seg(CLIENT, 50000, SERVER, 443, TCP_ACK, 0));
    ck_assert(last.tcp_in_conn && last.tcp_handshake_ack);
    /* only once */
    last = see(&c, seg(CLIENT, 50000, SERVER, 443, TCP_ACK, 0));
    ck_assert(last.tcp_in_conn && !last.tcp_handshake_ack);
    ck_assert(see(&c, seg(SERVER, 443, CLIENT, 50000, TCP_ACK, 0)).tcp_in_conn);
    ck_assert(see(&c, seg(SERVER, 443, CLIENT, 50000, TCP_FIN | TCP_ACK, 0)).tcp_in_conn);
    /* another port of the same pair: no connection */
    ck_assert(!see(&c, seg(SERVER, 443, CLIENT, 50001, TCP_ACK, 0)).tcp_in_conn);
    conns_free(&c);
}
END_TEST

START_TEST(unsolicited_synack_is_marked)
{
    struct conns c;
    ck_assert_int_eq(conns_init(&c, 1024, 42), 0);
    /* a SYN from the server's side does not solicit the server's SYN|ACK */
    see(&c, seg(SERVER, 80, CLIENT, 40000, TCP_SYN, 0));
    ck_assert(!see(&c, seg(SERVER, 80, CLIENT, 40000, TCP_SYN | TCP_ACK, 0)).tcp_in_conn);
    ck_assert(!see(&c, seg("192.0.2.9", 80, CLIENT, 40001, TCP_SYN | TCP_ACK, 0)).tcp_in_conn);
    /* the victim's RST for it, and the reflector's RST: no connection */
    ck_assert(!see(&c, seg(CLIENT, 40001, "192.0.2.9", 80, TCP_RST, 0)).tcp_in_conn);
    ck_assert(!see(&c, seg("192.0.2.9", 81, CLIENT, 40002, TCP_RST | TCP_ACK, 0)).tcp_in_conn);
    conns_free(&c);
}
END_TEST

START_TEST(data_teaches_a_connection_open_before_start)
{
    struct conns c;
    ck_assert_int_eq(conns_init(&c, 1024, 42), 0);
    ck_assert(!see(&c, seg(SERVER, 443, CLIENT, 50000, TCP_ACK, 0)).tcp_in_conn);
    ck_assert(see(&c, seg(CLIENT, 50000, SERVER, 443, TCP_PSH | TCP_ACK, 100)).tcp_in_conn);
    ck_assert(see(&c, seg(SERVER, 443, CLIENT, 50000, TCP_ACK, 0)).tcp_in_conn);
    ck_assert(!see(&c, seg(SERVER, 443, CLIENT, 50000, TCP_ACK, 0)).tcp_handshake_ack);
    conns_free(&c);
}
END_TEST

/* A million connections through a 1024-slot table: no allocation, and the
 * newest connections are still known (the old ones are forgotten). */
START_TEST(bounded_whatever_the_traffic)
{
    struct conns c;
    ck_assert_int_eq(conns_init(&c, 1024, 42), 0);
    struct pkt p = seg(CLIENT, 1, SERVER, 443, TCP_SYN, 0);
    struct mallinfo2 before = mallinfo2();
    for (uint32_t i = 0; i < 1000000; i++) {
        memcpy(p.dst.b + 12, &i, 4);
        p.sport = (uint16_t)(i * 7);
        conns_packet(&c, &p);
    }
    struct mallinfo2 after = mallinfo2();
    ck_assert_uint_eq(after.uordblks, before.uordblks);
    struct pkt a = seg(SERVER, 443, CLIENT, (uint16_t)(999999u * 7), TCP_SYN | TCP_ACK, 0);
    uint32_t last = 999999;
    memcpy(a.src.b + 12, &last, 4);
    ck_assert(see(&c, a).tcp_in_conn);
    conns_free(&c);
}
END_TEST

static Suite *conns_suite(void)
{
    Suite *s = suite_create("conns");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, handshake_and_return_traffic);
    tcase_add_test(tc, unsolicited_synack_is_marked);
    tcase_add_test(tc, data_teaches_a_connection_open_before_start);
    tcase_add_test(tc, bounded_whatever_the_traffic);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(conns_suite());
}
