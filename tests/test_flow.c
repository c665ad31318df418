/* test_flow.c — light TCP flow tracking: a request split byte by byte,
 * retransmitted and reordered segments, a lost segment, the window limit,
 * and a table that stays bounded by evicting idle and least recent flows. */
#include <check.h>
#include <string.h>

#include "agent/detect/http/flow.h"
#include "testutil.h"

#define SEC 1000000ull
#define T0 (1700000000ull * SEC)
#define CLIENT_ISN 1000u
#define SERVER_ISN 5000u

static struct pkt base_pkt(bool to_server, uint16_t cport)
{
    struct pkt p;
    memset(&p, 0, sizeof(p));
    const uint8_t c[4] = {203, 0, 113, 7}, s[4] = {198, 51, 100, 10};
    p.ip_version = 4;
    p.proto = PROTO_TCP;
    addr_from_v4(to_server ? &p.src : &p.dst, c);
    addr_from_v4(to_server ? &p.dst : &p.src, s);
    p.sport = to_server ? cport : 80;
    p.dport = to_server ? 80 : cport;
    p.ts_us = T0;
    return p;
}

static struct flow_table *table(uint32_t max, uint32_t window)
{
    struct flow_opts o = {.max_flows = max,
                          .window_bytes = window,
                          .idle_timeout_us = 30 * SEC,
                          .app_size = 16,
                          .seed = 42};
    struct flow_table *t = flow_table_new(&o);
    ck_assert_ptr_nonnull(t);
    return t;
}

static struct flow *open_flow(struct flow_table *t, uint16_t cport, uint64_t ts)
{
    struct pkt p = base_pkt(true, cport);
    p.ts_us = ts;
    p.tcp_flags = TCP_SYN;
    p.tcp_seq = CLIENT_ISN;
    struct flow *f = flow_lookup(t, &p, true, true);
    ck_assert_ptr_nonnull(f);
    flow_segment(t, f, &p, true);
    return f;
}

static uint32_t send_data(struct flow_table *t, struct flow *f, uint32_t offset, const char *data,
                          size_t n)
{
    struct pkt p = base_pkt(true, f->client_port);
    p.tcp_flags = TCP_ACK | TCP_PSH;
    p.tcp_seq = CLIENT_ISN + 1 + offset;
    p.payload = (const uint8_t *)data;
    p.payload_len = p.payload_wire_len = (uint32_t)n;
    return flow_segment(t, f, &p, true);
}

static const char REQ[] = "GET /index.html HTTP/1.1\r\nHost: portal\r\n\r\n";

static void expect_stream(struct flow *f, const char *want)
{
    uint32_t len;
    const uint8_t *d = flow_data(f, FLOW_TO_SERVER, &len);
    ck_assert_uint_eq(len, strlen(want));
    ck_assert(memcmp(d, want, len) == 0);
}

START_TEST(byte_by_byte)
{
    struct flow_table *t = table(16, 1024);
    struct flow *f = open_flow(t, 40000, T0);
    for (size_t i = 0; i < strlen(REQ); i++)
        ck_assert_uint_eq(send_data(t, f, (uint32_t)i, REQ + i, 1), i + 1);
    expect_stream(f, REQ);
    flow_table_free(t);
}
END_TEST

START_TEST(retransmission_and_overlap)
{
    struct flow_table *t = table(16, 1024);
    struct flow *f = open_flow(t, 40001, T0);
    send_data(t, f, 0, REQ, 10);
    send_data(t, f, 0, REQ, 10);     /* whole segment again */
    send_data(t, f, 5, REQ + 5, 15); /* half old, half new */
    send_data(t, f, 20, REQ + 20, strlen(REQ) - 20);
    expect_stream(f, REQ);
    ck_assert_uint_ge(flow_table_stats(t)->retransmitted, 2);
    /* After the application consumed, an old segment changes nothing. */
    flow_consume(f, FLOW_TO_SERVER, 4);
    send_data(t, f, 0, REQ, 10);
    expect_stream(f, REQ + 4);
    flow_table_free(t);
}
END_TEST

START_TEST(small_reordering)
{
    struct flow_table *t = table(16, 1024);
    struct flow *f = open_flow(t, 40002, T0);
    /* Three pieces in the order 3, 1, 2. */
    ck_assert_uint_eq(send_data(t, f, 30, REQ + 30, strlen(REQ) - 30), 0);
    ck_assert_uint_eq(send_data(t, f, 0, REQ, 12), 12);
    ck_assert_uint_eq(send_data(t, f, 12, REQ + 12, 18), strlen(REQ));
    expect_stream(f, REQ);
    ck_assert_uint_eq(flow_table_stats(t)->out_of_order, 1);
    flow_table_free(t);
}
END_TEST

START_TEST(consume_keeps_early_pieces)
{
    struct flow_table *t = table(16, 1024);
    struct flow *f = open_flow(t, 40003, T0);
    send_data(t, f, 0, REQ, 10);
    send_data(t, f, 20, REQ + 20, strlen(REQ) - 20); /* waits */
    flow_consume(f, FLOW_TO_SERVER, 10);             /* application read 10 */
    send_data(t, f, 10, REQ + 10, 10);               /* gap fills */
    expect_stream(f, REQ + 10);
    flow_table_free(t);
}
END_TEST

START_TEST(gap_and_overflow_stop_the_direction)
{
    struct flow_table *t = table(16, 64);
    struct flow *f = open_flow(t, 40004, T0);
    /* A segment beyond the window: the missing bytes will not come back. */
    ck_assert_uint_eq(send_data(t, f, 100, REQ, 10), 0);
    ck_assert(f->half[FLOW_TO_SERVER].dead);
    ck_assert_uint_eq(send_data(t, f, 0, REQ, 10), 0);
    ck_assert_uint_eq(flow_table_stats(t)->gaps, 1);

    /* Unconsumed data beyond the window is an overflow. */
    f = open_flow(t, 40005, T0);
    char big[100];
    memset(big, 'a', sizeof(big));
    ck_assert_uint_eq(send_data(t, f, 0, big, 60), 60);
    ck_assert_uint_eq(send_data(t, f, 60, big, 40), 0);
    ck_assert_uint_eq(flow_table_stats(t)->overflows, 1);

    /* A payload cut by the snaplen is a hole too. */
    f = open_flow(t, 40006, T0);
    struct pkt p = base_pkt(true, 40006);
    p.tcp_seq = CLIENT_ISN + 1;
    p.tcp_flags = TCP_ACK;
    p.payload = (const uint8_t *)REQ;
    p.payload_len = 10;
    p.payload_wire_len = 40;
    ck_assert_uint_eq(flow_segment(t, f, &p, true), 0);
    ck_assert_uint_eq(flow_table_stats(t)->truncated, 1);
    flow_table_free(t);
}
END_TEST

START_TEST(directions_and_close)
{
    struct flow_table *t = table(16, 1024);
    struct flow *f = open_flow(t, 40007, T0);
    struct pkt p = base_pkt(false, 40007);
    p.tcp_flags = TCP_SYN | TCP_ACK;
    p.tcp_seq = SERVER_ISN;
    ck_assert_ptr_eq(flow_lookup(t, &p, false, false), f);
    flow_segment(t, f, &p, false);
    const char resp[] = "HTTP/1.1 200 OK\r\n\r\n";
    p.tcp_flags = TCP_ACK | TCP_FIN;
    p.tcp_seq = SERVER_ISN + 1;
    p.payload = (const uint8_t *)resp;
    p.payload_len = p.payload_wire_len = sizeof(resp) - 1;
    ck_assert_uint_eq(flow_segment(t, f, &p, false), sizeof(resp) - 1);
    ck_assert(f->half[FLOW_TO_CLIENT].finished);
    ck_assert(!flow_is_closed(f));
    struct pkt fin = base_pkt(true, 40007);
    fin.tcp_flags = TCP_ACK | TCP_FIN;
    fin.tcp_seq = CLIENT_ISN + 1;
    flow_segment(t, f, &fin, true);
    ck_assert(flow_is_closed(f));
    flow_close(t, f, T0);
    ck_assert_uint_eq(flow_table_stats(t)->active, 0);
    ck_assert_ptr_null(flow_lookup(t, &fin, true, false));
    flow_table_free(t);
}
END_TEST

START_TEST(midstream_pickup)
{
    struct flow_table *t = table(16, 1024);
    struct pkt p = base_pkt(true, 40008);
    p.tcp_flags = TCP_ACK;
    p.tcp_seq = 777777;
    p.payload = (const uint8_t *)REQ;
    p.payload_len = p.payload_wire_len = sizeof(REQ) - 1;
    struct flow *f = flow_lookup(t, &p, true, true);
    ck_assert_uint_eq(flow_segment(t, f, &p, true), sizeof(REQ) - 1);
    ck_assert(f->midstream);
    flow_table_free(t);
}
END_TEST

static int released[4];
static void on_release(void *ctx, struct flow *f, enum flow_end why, uint64_t now)
{
    (void)ctx;
    (void)f;
    (void)now;
    released[why]++;
}

START_TEST(eviction_bounded)
{
    memset(released, 0, sizeof(released));
    struct flow_opts o = {.max_flows = 64,
                          .window_bytes = 256,
                          .idle_timeout_us = 30 * SEC,
                          .app_size = 8,
                          .seed = 7,
                          .on_release = on_release};
    struct flow_table *t = flow_table_new(&o);
    /* 10,000 connections through a 64-flow table. */
    for (uint32_t i = 0; i < 10000; i++)
        open_flow(t, (uint16_t)(1024 + i), T0 + i);
    const struct flow_stats *s = flow_table_stats(t);
    ck_assert_uint_eq(s->active, 64);
    ck_assert_uint_eq(s->created, 10000);
    ck_assert_uint_eq(s->evicted_pressure, 10000 - 64);
    ck_assert_int_eq(released[FLOW_END_PRESSURE], 10000 - 64);
    /* The most recent flows are the ones kept. */
    struct pkt p = base_pkt(true, (uint16_t)(1024 + 9999));
    ck_assert_ptr_nonnull(flow_lookup(t, &p, true, false));
    p = base_pkt(true, 1024);
    ck_assert_ptr_null(flow_lookup(t, &p, true, false));
    /* Idle ones go after the timeout. */
    flow_expire(t, T0 + 10000 + 10 * SEC);
    ck_assert_uint_eq(s->active, 64);
    flow_expire(t, T0 + 10000 + 31 * SEC);
    ck_assert_uint_eq(s->active, 0);
    ck_assert_uint_eq(s->evicted_idle, 64);
    ck_assert_int_eq(released[FLOW_END_IDLE], 64);
    flow_table_free(t);
}
END_TEST

START_TEST(bare_ack_creates_nothing)
{
    struct flow_table *t = table(16, 1024);
    struct pkt p = base_pkt(true, 40009);
    p.tcp_flags = TCP_ACK;
    ck_assert_ptr_null(flow_lookup(t, &p, true, false));
    ck_assert_uint_eq(flow_table_stats(t)->created, 0);
    flow_table_free(t);
}
END_TEST

/* With defer_syn, the SYN path the http detector takes for a bare SYN
 * (flow_lookup_syn) keeps the handshake as flow_lookup does: the first
 * data segment makes a flow that knows where the stream starts, and a
 * flood of other SYNs through the same table costs it no flow. */
START_TEST(deferred_syn_starts_the_stream)
{
    struct flow_opts o = {.max_flows = 16,
                          .window_bytes = 1024,
                          .idle_timeout_us = 30 * SEC,
                          .app_size = 16,
                          .seed = 42,
                          .defer_syn = true};
    struct flow_table *t = flow_table_new(&o);
    ck_assert_ptr_nonnull(t);
    struct pkt syn = base_pkt(true, 40010);
    syn.tcp_flags = TCP_SYN;
    syn.tcp_seq = CLIENT_ISN;
    ck_assert_ptr_null(flow_lookup_syn(t, &syn));
    ck_assert_ptr_null(flow_lookup_syn(t, &syn)); /* retransmitted: kept, counted once */
    ck_assert_uint_eq(flow_table_stats(t)->syns_deferred, 1);
    ck_assert_uint_eq(flow_table_stats(t)->created, 0);
    /* Spoofed SYNs from elsewhere: no flow, only handshake slots. */
    for (uint32_t i = 0; i < 1000; i++) {
        struct pkt other = base_pkt(true, (uint16_t)(1024 + i));
        const uint8_t src[4] = {10, (uint8_t)(i >> 8), (uint8_t)i, 1};
        addr_from_v4(&other.src, src);
        other.tcp_flags = TCP_SYN;
        other.tcp_seq = i;
        ck_assert_ptr_null(flow_lookup_syn(t, &other));
    }
    ck_assert_uint_eq(flow_table_stats(t)->created, 0);
    /* The data segment: a flow from the handshake, unless a spoofed SYN
     * took its slot (then picked up midstream, as flow.h says). */
    struct pkt data = base_pkt(true, 40010);
    data.tcp_flags = TCP_ACK | TCP_PSH;
    data.tcp_seq = CLIENT_ISN + 1;
    data.payload = (const uint8_t *)REQ;
    data.payload_len = data.payload_wire_len = sizeof(REQ) - 1;
    struct flow *f = flow_lookup(t, &data, true, true);
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(flow_segment(t, f, &data, true), sizeof(REQ) - 1);
    expect_stream(f, REQ);
    /* A SYN of the flow now finds it. */
    ck_assert_ptr_eq(flow_lookup_syn(t, &syn), f);
    flow_table_free(t);

    /* Without the flood in between: the flow starts at the SYN. */
    t = flow_table_new(&o);
    ck_assert_ptr_null(flow_lookup_syn(t, &syn));
    f = flow_lookup(t, &data, true, true);
    ck_assert_ptr_nonnull(f);
    flow_segment(t, f, &data, true);
    ck_assert(!f->midstream);
    ck_assert_uint_eq(f->half[FLOW_TO_SERVER].next_seq, CLIENT_ISN + 1 + sizeof(REQ) - 1);
    flow_table_free(t);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("flow");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, byte_by_byte);
    tcase_add_test(tc, retransmission_and_overlap);
    tcase_add_test(tc, small_reordering);
    tcase_add_test(tc, consume_keeps_early_pieces);
    tcase_add_test(tc, gap_and_overflow_stop_the_direction);
    tcase_add_test(tc, directions_and_close);
    tcase_add_test(tc, midstream_pickup);
    tcase_add_test(tc, eviction_bounded);
    tcase_add_test(tc, bare_ack_creates_nothing);
    tcase_add_test(tc, deferred_syn_starts_the_stream);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(suite());
}
