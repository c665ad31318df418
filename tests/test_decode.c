/* test_decode.c — decode.c on crafted frames and on real captures.
 *
 * Crafted frames check exact field values for every link type and the
 * corner cases of IPv4/IPv6/TCP/UDP/ICMP; every prefix of a valid frame
 * must decode to the reason of the layer it cuts; seeded random garbage
 * must never crash or hand on a packet whose payload lies outside the
 * frame.  The fixtures (tests/fixtures/, captured from real tools) must
 * decode without a single error.
 */
#include <check.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/decode.h"
#include "common/addr.h"
#include "testutil.h"

/* ---- frame builders (checksums are not looked at by decode.c) ---------- */

static size_t put16(uint8_t *b, uint16_t v)
{
    b[0] = (uint8_t)(v >> 8);
    b[1] = (uint8_t)v;
    return 2;
}

static size_t put32(uint8_t *b, uint32_t v)
{
    put16(b, (uint16_t)(v >> 16));
    put16(b + 2, (uint16_t)v);
    return 4;
}

static const uint8_t MAC_A[6] = {0x02, 0, 0, 0, 0, 0x0a};
static const uint8_t MAC_B[6] = {0x02, 0, 0, 0, 0, 0x0b};

/* Ethernet header with ntags (tpid, vid) pairs, then ethertype. */
static size_t put_eth(uint8_t *b, const uint16_t *tags, int ntags, uint16_t ethertype)
{
    size_t n = 0;
    memcpy(b, MAC_B, 6);
    memcpy(b + 6, MAC_A, 6);
    n = 12;
    for (int i = 0; i < ntags; i++) {
        n += put16(b + n, tags[2 * i]);
        n += put16(b + n, tags[2 * i + 1]);
    }
    n += put16(b + n, ethertype);
    return n;
}

/* IPv4 header of ihl words (options filled with NOPs). */
static size_t put_ipv4(uint8_t *b, int ihl, uint8_t proto, const char *src, const char *dst,
                       uint16_t total_len, uint16_t frag)
{
    size_t hlen = (size_t)ihl * 4;
    memset(b, 0, hlen);
    b[0] = (uint8_t)(0x40 | ihl);
    put16(b + 2, total_len);
    put16(b + 4, 0x1234);
    put16(b + 6, frag);
    b[8] = 57;
    b[9] = proto;
    struct ipaddr a;
    ck_assert_int_eq(addr_parse(src, &a), 0);
    memcpy(b + 12, a.b + 12, 4);
    ck_assert_int_eq(addr_parse(dst, &a), 0);
    memcpy(b + 16, a.b + 12, 4);
    for (size_t i = 20; i < hlen; i++)
        b[i] = 1; /* NOP */
    return hlen;
}

static size_t put_ipv6(uint8_t *b, uint8_t nh, const char *src, const char *dst, uint16_t plen)
{
    struct ipaddr a;
    memset(b, 0, 40);
    b[0] = 0x60;
    put16(b + 4, plen);
    b[6] = nh;
    b[7] = 64;
    ck_assert_int_eq(addr_parse(src, &a), 0);
    memcpy(b + 8, a.b, 16);
    ck_assert_int_eq(addr_parse(dst, &a), 0);
    memcpy(b + 24, a.b, 16);
    return 40;
}

/* An IPv6 extension header of len bytes (multiple of 8), next header nh. */
static size_t put_ext(uint8_t *b, uint8_t nh, size_t len)
{
    memset(b, 0, len);
    b[0] = nh;
    b[1] = (uint8_t)(len / 8 - 1);
    if (len > 2) {
        b[2] = 1; /* PadN over the rest */
        b[3] = (uint8_t)(len - 4);
    }
    return len;
}

static size_t put_frag6(uint8_t *b, uint8_t nh, uint16_t offset_units, bool more, uint32_t id)
{
    memset(b, 0, 8);
    b[0] = nh;
    put16(b + 2, (uint16_t)(offset_units << 3 | (more ? 1 : 0)));
    put32(b + 4, id);
    return 8;
}

static size_t put_tcp(uint8_t *b, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
                      uint8_t flags, uint16_t win, int doff)
{
    size_t hlen = (size_t)doff * 4;
    memset(b, 0, hlen);
    put16(b, sport);
    put16(b + 2, dport);
    put32(b + 4, seq);
    put32(b + 8, ack);
    b[12] = (uint8_t)(doff << 4);
    b[13] = flags;
    put16(b + 14, win);
    for (size_t i = 20; i < hlen; i++)
        b[i] = 1; /* NOP options */
    return hlen;
}

static size_t put_udp(uint8_t *b, uint16_t sport, uint16_t dport, uint16_t len)
{
    memset(b, 0, 8);
    put16(b, sport);
    put16(b + 2, dport);
    put16(b + 4, len);
    return 8;
}

static size_t put_bytes(uint8_t *b, size_t n, uint8_t v)
{
    memset(b, v, n);
    return n;
}

static void assert_addr(const struct ipaddr *a, const char *want)
{
    char buf[ADDR_STRLEN];
    addr_format(a, buf, sizeof buf);
    ck_assert_str_eq(buf, want);
}

/* Decode a whole frame (caplen == wirelen). */
static enum decode_reason dec(int dlt, const uint8_t *f, size_t len, struct pkt *p)
{
    struct decode_stats st = {0};
    enum decode_reason r = decode_frame(dlt, f, (uint32_t)len, (uint32_t)len, 42, p, &st);
    ck_assert_uint_eq(st.frames, 1);
    ck_assert_uint_eq(st.by_reason[r], 1);
    return r;
}

/* Ethernet/IPv4/TCP SYN with 4 bytes of options and 6 bytes of payload. */
static size_t frame_v4_tcp(uint8_t *f)
{
    size_t n = put_eth(f, NULL, 0, 0x0800);
    n += put_ipv4(f + n, 5, PROTO_TCP, "203.0.113.7", "198.51.100.10", 20 + 24 + 6, 0x4000);
    n += put_tcp(f + n, 40000, 443, 0x01020304, 0, TCP_SYN, 1024, 6);
    n += put_bytes(f + n, 6, 'p');
    return n;
}

/* ---- link types ------------------------------------------------------- */

START_TEST(test_ethernet_ipv4_tcp_fields)
{
    uint8_t f[128];
    struct pkt p;
    size_t n = frame_v4_tcp(f);

    ck_assert_int_eq(dec(DLT_EN10MB, f, n, &p), DECODE_OK);
    ck_assert_uint_eq(p.ts_us, 42);
    ck_assert_uint_eq(p.caplen, n);
    ck_assert_uint_eq(p.ip_version, 4);
    assert_addr(&p.src, "203.0.113.7");
    assert_addr(&p.dst, "198.51.100.10");
    ck_assert_uint_eq(p.proto, PROTO_TCP);
    ck_assert_uint_eq(p.ttl, 57);
    ck_assert_uint_eq(p.ip_id, 0x1234);
    ck_assert_uint_eq(p.ip_len, 50);
    ck_assert(!p.fragment && !p.later_fragment);
    ck_assert_uint_eq(p.sport, 40000);
    ck_assert_uint_eq(p.dport, 443);
    ck_assert_uint_eq(p.tcp_flags, TCP_SYN);
    ck_assert_uint_eq(p.tcp_seq, 0x01020304);
    ck_assert_uint_eq(p.tcp_ack, 0);
    ck_assert_uint_eq(p.tcp_window, 1024);
    ck_assert_uint_eq(p.payload_len, 6);
    ck_assert_uint_eq(p.payload_wire_len, 6);
    ck_assert_ptr_eq(p.payload, f + n - 6);
    ck_assert(!p.has_inner);
}
END_TEST

START_TEST(test_ethernet_padding_uses_ip_length)
{
    uint8_t f[60] = {0};
    struct pkt p;
    size_t n = put_eth(f, NULL, 0, 0x0800);
    n += put_ipv4(f + n, 5, PROTO_TCP, "192.0.2.1", "192.0.2.2", 40, 0);
    put_tcp(f + n, 1, 2, 0, 7, TCP_RST | TCP_ACK, 0, 5);
    memset(f + 54, 0xee, 6); /* padding that is not payload */

    ck_assert_int_eq(dec(DLT_EN10MB, f, sizeof f, &p), DECODE_OK);
    ck_assert_uint_eq(p.ip_len, 40);
    ck_assert_uint_eq(p.tcp_flags, TCP_RST | TCP_ACK);
    ck_assert_uint_eq(p.tcp_ack, 7);
    ck_assert_uint_eq(p.payload_len, 0);
    ck_assert_uint_eq(p.payload_wire_len, 0);
}
END_TEST

START_TEST(test_vlan_stacks)
{
    static const uint16_t tpids[] = {0x8100, 0x88a8, 0x9100};
    uint8_t f[256];
    struct pkt p;

    /* one tag of each kind, QinQ, and the deepest stack still accepted */
    for (int depth = 1; depth <= 8; depth++) {
        uint16_t tags[16];
        for (int i = 0; i < depth; i++) {
            tags[2 * i] = tpids[i % 3];
            tags[2 * i + 1] = (uint16_t)(100 + i);
        }
        size_t n = put_eth(f, tags, depth, 0x0800);
        n += put_ipv4(f + n, 5, PROTO_UDP, "10.0.0.1", "10.0.0.2", 28, 0);
        n += put_udp(f + n, 5353, 53, 8);
        ck_assert_int_eq(dec(DLT_EN10MB, f, n, &p), DECODE_OK);
        assert_addr(&p.dst, "10.0.0.2");
        ck_assert_uint_eq(p.dport, 53);
    }
    /* nine tags: refused, counted as its own reason */
    uint16_t deep[18];
    for (int i = 0; i < 9; i++) {
        deep[2 * i] = 0x8100;
        deep[2 * i + 1] = 1;
    }
    size_t n = put_eth(f, deep, 9, 0x0800);
    n += put_ipv4(f + n, 5, PROTO_UDP, "10.0.0.1", "10.0.0.2", 28, 0);
    n += put_udp(f + n, 1, 2, 8);
    struct decode_stats st = {0};
    ck_assert_int_eq(decode_frame(DLT_EN10MB, f, (uint32_t)n, (uint32_t)n, 0, &p, &st),
                     DECODE_VLAN_TOO_DEEP);
    ck_assert_uint_eq(st.errors, 1);
    ck_assert_uint_eq(st.by_reason[DECODE_VLAN_TOO_DEEP], 1);
    ck_assert_str_eq(decode_reason_name(DECODE_VLAN_TOO_DEEP), "vlan_too_deep");
}
END_TEST

START_TEST(test_pppoe_session)
{
    uint8_t f[128];
    struct pkt p;
    size_t n = put_eth(f, NULL, 0, 0x8864);
    f[n++] = 0x11; /* version 1, type 1 */
    f[n++] = 0;    /* session data */
    n += put16(f + n, 0x0042);
    n += put16(f + n, 2 + 40 + 8);
    n += put16(f + n, 0x0057); /* PPP: IPv6 */
    n += put_ipv6(f + n, PROTO_UDP, "2001:db8::1", "2001:db8::2", 8);
    n += put_udp(f + n, 1000, 123, 8);
    ck_assert_int_eq(dec(DLT_EN10MB, f, n, &p), DECODE_OK);
    ck_assert_uint_eq(p.ip_version, 6);
    ck_assert_uint_eq(p.dport, 123);
    /* LCP is not IP */
    put16(f + 20, 0xc021);
    ck_assert_int_eq(dec(DLT_EN10MB, f, n, &p), DECODE_NOT_IP);
}
END_TEST

START_TEST(test_not_ip_is_not_an_error)
{
    uint8_t f[64] = {0};
    struct decode_stats st = {0};
    struct pkt p;
    size_t n = put_eth(f, NULL, 0, 0x0806); /* ARP */
    ck_assert_int_eq(decode_frame(DLT_EN10MB, f, 42, 42, 0, &p, &st), DECODE_NOT_IP);
    put_eth(f, NULL, 0, 0x88cc); /* LLDP */
    ck_assert_int_eq(decode_frame(DLT_EN10MB, f, 60, 60, 0, &p, &st), DECODE_NOT_IP);
    uint16_t tag[2] = {0x8100, 5};
    n = put_eth(f, tag, 1, 0x0806); /* tagged ARP */
    ck_assert_int_eq(decode_frame(DLT_EN10MB, f, 60, 60, 0, &p, &st), DECODE_NOT_IP);
    ck_assert_uint_eq(st.frames, 3);
    ck_assert_uint_eq(st.not_ip, 3);
    ck_assert_uint_eq(st.errors, 0);
    ck_assert_uint_eq(st.decoded, 0);
    (void)n;
}
END_TEST

/* Linux cooked v1: packet type, ARPHRD, address length, 8-byte address,
 * protocol. */
static size_t put_sll(uint8_t *b, uint16_t arphrd, uint16_t proto)
{
    size_t n = 0;
    n += put16(b + n, 0); /* to us */
    n += put16(b + n, arphrd);
    n += put16(b + n, 6);
    memcpy(b + n, MAC_A, 6);
    memset(b + n + 6, 0, 2);
    n += 8;
    n += put16(b + n, proto);
    return n;
}

/* Linux cooked v2: protocol, reserved, ifindex, ARPHRD, packet type,
 * address length, 8-byte address. */
static size_t put_sll2(uint8_t *b, uint16_t arphrd, uint16_t proto)
{
    size_t n = 0;
    n += put16(b + n, proto);
    n += put16(b + n, 0);
    n += put32(b + n, 3);
    n += put16(b + n, arphrd);
    b[n++] = 4; /* outgoing */
    b[n++] = 6;
    memcpy(b + n, MAC_A, 6);
    memset(b + n + 6, 0, 2);
    n += 8;
    return n;
}

START_TEST(test_linux_cooked)
{
    uint8_t f[128];
    struct pkt p;

    size_t n = put_sll(f, 1 /* ARPHRD_ETHER */, 0x0800);
    ck_assert_uint_eq(n, 16);
    n += put_ipv4(f + n, 5, PROTO_TCP, "198.51.100.1", "198.51.100.2", 40, 0);
    n += put_tcp(f + n, 80, 51000, 9, 10, TCP_SYN | TCP_ACK, 65535, 5);
    ck_assert_int_eq(dec(DLT_LINUX_SLL, f, n, &p), DECODE_OK);
    assert_addr(&p.src, "198.51.100.1");
    ck_assert_uint_eq(p.sport, 80);
    ck_assert_uint_eq(p.tcp_flags, TCP_SYN | TCP_ACK);

    n = put_sll2(f, 772 /* ARPHRD_LOOPBACK */, 0x86dd);
    ck_assert_uint_eq(n, 20);
    n += put_ipv6(f + n, PROTO_TCP, "::1", "::1", 20);
    n += put_tcp(f + n, 1234, 8080, 1, 0, TCP_SYN, 100, 5);
    ck_assert_int_eq(dec(DLT_LINUX_SLL2, f, n, &p), DECODE_OK);
    assert_addr(&p.src, "::1");
    ck_assert_uint_eq(p.dport, 8080);

    /* cooked ARP and netlink are not IP */
    n = put_sll(f, 1, 0x0806);
    ck_assert_int_eq(dec(DLT_LINUX_SLL, f, n + 28, &p), DECODE_NOT_IP);
    n = put_sll2(f, 824 /* ARPHRD_NETLINK */, 0x0800);
    ck_assert_int_eq(dec(DLT_LINUX_SLL2, f, n + 20, &p), DECODE_NOT_IP);
    /* a cooked header cut short */
    ck_assert_int_eq(dec(DLT_LINUX_SLL2, f, 19, &p), DECODE_LINK_TRUNCATED);
    ck_assert_int_eq(dec(DLT_LINUX_SLL, f, 15, &p), DECODE_LINK_TRUNCATED);
}
END_TEST

START_TEST(test_raw_ip_link_types)
{
    uint8_t f[128];
    struct pkt p;
    size_t n4 = put_ipv4(f, 5, PROTO_UDP, "192.0.2.1", "192.0.2.2", 28, 0);
    n4 += put_udp(f + n4, 4000, 161, 8);

    /* pcap_datalink() reports LINKTYPE_RAW (101) files as DLT_RAW */
    const int raw_types[] = {DLT_RAW, 12, 14, 101, DLT_IPV4};
    for (size_t i = 0; i < sizeof raw_types / sizeof raw_types[0]; i++) {
        ck_assert_int_eq(dec(raw_types[i], f, n4, &p), DECODE_OK);
        ck_assert_uint_eq(p.ip_version, 4);
        ck_assert_uint_eq(p.dport, 161);
    }
    /* DLT_IPV6 carrying v4 is a lie: IPv6 says bad version */
    ck_assert_int_eq(dec(DLT_IPV6, f, n4, &p), DECODE_IPV6_BAD_VERSION);

    size_t n6 = put_ipv6(f, PROTO_UDP, "2001:db8::a", "2001:db8::b", 8);
    n6 += put_udp(f + n6, 4000, 53, 8);
    ck_assert_int_eq(dec(DLT_RAW, f, n6, &p), DECODE_OK);
    ck_assert_uint_eq(p.ip_version, 6);
    ck_assert_int_eq(dec(DLT_IPV6, f, n6, &p), DECODE_OK);
    assert_addr(&p.dst, "2001:db8::b");
    ck_assert_int_eq(dec(DLT_IPV4, f, n6, &p), DECODE_IPV4_BAD_VERSION);

    f[0] = 0x50;
    ck_assert_int_eq(dec(DLT_RAW, f, n6, &p), DECODE_IP_BAD_VERSION);
    ck_assert_int_eq(dec(DLT_RAW, f, 0, &p), DECODE_IPV4_TRUNCATED);
}
END_TEST

START_TEST(test_null_and_loop)
{
    uint8_t f[128];
    struct pkt p;
    size_t n;

    /* DLT_NULL: the AF in the capturing host's order, either order works */
    const uint8_t af_inet_le[4] = {2, 0, 0, 0}, af_inet_be[4] = {0, 0, 0, 2};
    memcpy(f, af_inet_le, 4);
    n = 4 + put_ipv4(f + 4, 5, PROTO_ICMP, "192.0.2.9", "192.0.2.10", 28, 0);
    f[n] = 8; /* echo request */
    memset(f + n + 1, 0, 7);
    n += 8;
    ck_assert_int_eq(dec(DLT_NULL, f, n, &p), DECODE_OK);
    ck_assert_uint_eq(p.icmp_type, 8);
    memcpy(f, af_inet_be, 4);
    ck_assert_int_eq(dec(DLT_NULL, f, n, &p), DECODE_OK);
    ck_assert_int_eq(dec(DLT_LOOP, f, n, &p), DECODE_OK);
    memcpy(f, af_inet_le, 4);
    ck_assert_int_eq(dec(DLT_LOOP, f, n, &p), DECODE_NOT_IP); /* LOOP is network order */

    /* AF_INET6 is 24, 28 or 30 depending on the BSD */
    const uint8_t af6[] = {24, 28, 30};
    n = 4 + put_ipv6(f + 4, PROTO_TCP, "2001:db8::1", "2001:db8::2", 20);
    n += put_tcp(f + n, 5555, 22, 0, 0, TCP_FIN | TCP_PSH | TCP_URG, 0, 5);
    for (size_t i = 0; i < sizeof af6; i++) {
        uint8_t le[4] = {af6[i], 0, 0, 0};
        memcpy(f, le, 4);
        ck_assert_int_eq(dec(DLT_NULL, f, n, &p), DECODE_OK);
        ck_assert_uint_eq(p.ip_version, 6);
        ck_assert_uint_eq(p.tcp_flags, TCP_FIN | TCP_PSH | TCP_URG);
        uint8_t be[4] = {0, 0, 0, af6[i]};
        memcpy(f, be, 4);
        ck_assert_int_eq(dec(DLT_LOOP, f, n, &p), DECODE_OK);
    }
    const uint8_t af_other[4] = {7, 0, 0, 0}; /* AF_ISO: not IP */
    memcpy(f, af_other, 4);
    ck_assert_int_eq(dec(DLT_NULL, f, n, &p), DECODE_NOT_IP);
    ck_assert_int_eq(dec(DLT_NULL, f, 3, &p), DECODE_LINK_TRUNCATED);
}
END_TEST

START_TEST(test_linktype_supported)
{
    const int yes[] = {DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_RAW, 101,
                       DLT_IPV4,   DLT_IPV6,      DLT_NULL,       DLT_LOOP};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        ck_assert_int_eq(decode_linktype_supported(yes[i]), 0);
    const int no[] = {DLT_IEEE802_11, DLT_IEEE802_11_RADIO, DLT_PPP, DLT_USB_LINUX, -1, 100000};
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        ck_assert_int_ne(decode_linktype_supported(no[i]), 0);
    uint8_t f[64] = {0};
    struct pkt p;
    ck_assert_int_eq(dec(DLT_IEEE802_11, f, sizeof f, &p), DECODE_NOT_IP);
}
END_TEST

START_TEST(test_reason_names)
{
    for (int r = 0; r < DECODE_REASON_COUNT; r++) {
        const char *name = decode_reason_name((enum decode_reason)r);
        ck_assert_str_ne(name, "unknown");
        for (int q = 0; q < r; q++)
            ck_assert_str_ne(name, decode_reason_name((enum decode_reason)q));
    }
    ck_assert_str_eq(decode_reason_name(DECODE_REASON_COUNT), "unknown");
    ck_assert_str_eq(decode_reason_name(DECODE_IPV4_BAD_HLEN), "ipv4_bad_hlen");
}
END_TEST

/* ---- IPv4 ----------------------------------------------------------- */

START_TEST(test_ipv4_options_and_lies)
{
    uint8_t f[128];
    struct pkt p;

    /* 12 bytes of options are skipped */
    size_t n = put_eth(f, NULL, 0, 0x0800);
    n += put_ipv4(f + n, 8, PROTO_UDP, "192.0.2.1", "192.0.2.2", 32 + 12, 0);
    n += put_udp(f + n, 7, 9, 12);
    n += put_bytes(f + n, 4, 'u');
    ck_assert_int_eq(dec(DLT_EN10MB, f, n, &p), DECODE_OK);
    ck_assert_uint_eq(p.sport, 7);
    ck_assert_uint_eq(p.dport, 9);
    ck_assert_uint_eq(p.payload_len, 4);
    ck_assert_mem_eq(p.payload, "uuuu", 4);

    f[14] = 0x44; /* IHL 4 */
    ck_assert_int_eq(dec(DLT_EN10MB, f, n, &p), DECODE_IPV4_BAD_HLEN);
    f[14] = 0x58; /* version 5 */
    ck_assert_int_eq(dec(DLT_EN10MB, f, n, &p), DECODE_IPV4_BAD_VERSION);
    f[14] = 0x48;
    put16(f + 16, (uint16_t)(n - 14 + 1)); /* total length beyond the frame */
    ck_assert_int_eq(dec(DLT_EN10MB, f, n, &p), DECODE_IPV4_BAD_TOTAL_LEN);
    put16(f + 16, 31); /* shorter than its own header */
    ck_assert_int_eq(dec(DLT_EN10MB, f, n, &p), DECODE_IPV4_BAD_TOTAL_LEN);
    /* zero: a Linux TSO / BIG TCP segment, as long as the frame */
    put16(f + 16, 0);
    ck_assert_int_eq(dec(DLT_EN10MB, f, n, &p), DECODE_OK);
    ck_assert_uint_eq(p.ip_len, n - 14);
    ck_assert_uint_eq(p.payload_len, 4);

    /* Snaplen cut the frame: the total length is fine, the payload is
     * partial and says how much is missing. */
    put16(f + 16, (uint16_t)(n - 14));
    struct decode_stats st = {0};
    ck_assert_int_eq(decode_frame(DLT_EN10MB, f, (uint32_t)n - 2, (uint32_t)n, 0, &p, &st),
                     DECODE_OK);
    ck_assert_uint_eq(p.payload_len, 2);
    ck_assert_uint_eq(p.payload_wire_len, 4);
}
END_TEST

START_TEST(test_ipv4_fragments)
{
    uint8_t f[128];
    struct pkt p;

    /* first fragment of a UDP datagram: the UDP length covers the whole
     * datagram, larger than this fragment, and that is fine */
    size_t n = put_eth(f, NULL, 0, 0x0800);
    n += put_ipv4(f + n, 5, PROTO_UDP, "203.0.113.5", "198.51.100.53", 20 + 8 + 16, 0x2000);
    n += put_udp(f + n, 53, 33333, 3000);
    n += put_bytes(f + n, 16, 'd');
    ck_assert_int_eq(dec(DLT_EN10MB, f, n, &p), DECODE_OK);
    ck_assert(p.fragment);
    ck_assert(!p.later_fragment);
    ck_assert_uint_eq(p.sport, 53);
    ck_assert_uint_eq(p.dport, 33333);
    ck_assert_uint_eq(p.payload_len, 16);

    /* a later fragment: no transport header, whatever its bytes say */
    put16(f + 20, 0x2000 | 185); /* MF, offset 1480 */
    ck_assert_int_eq(dec(DLT_EN10MB, f, n, &p), DECODE_OK);
    ck_assert(p.fragment && p.later_fragment);
    ck_assert_uint_eq(p.proto, PROTO_UDP);
    ck_assert_uint_eq(p.sport, 0);
    ck_assert_uint_eq(p.dport, 0);
    ck_assert_ptr_null(p.payload);
    put16(f + 20, 185); /* last fragment */
    ck_assert_int_eq(dec(DLT_EN10MB, f, n, &p), DECODE_OK);
    ck_assert(p.fragment && p.later_fragment);

    /* RFC 1858 tiny first fragment: 8 bytes of a TCP header */
    n = put_eth(f, NULL, 0, 0x0800);
    n += put_ipv4(f + n, 5, PROTO_TCP, "203.0.113.5", "198.51.100.80", 28, 0x2000);
    n += put_bytes(f + n, 8, 0x11);
    ck_assert_int_eq(dec(DLT_EN10MB, f, n, &p), DECODE_OK);
    ck_assert(p.fragment && p.later_fragment);
    ck_assert_uint_eq(p.tcp_flags, 0);
    /* the same 8 bytes unfragmented are a TCP header that lies */
    put16(f + 20, 0);
    ck_assert_int_eq(dec(DLT_EN10MB, f, n, &p), DECODE_TCP_BAD_HLEN);
}
END_TEST

START_TEST(test_tcp_udp_lies)
{
    uint8_t f[128];
    struct pkt p;

    size_t n = put_eth(f, NULL, 0, 0x0800);
    n += put_ipv4(f + n, 5, PROTO_TCP, "192.0.2.1", "192.0.2.2", 40, 0);
    n += put_tcp(f + n, 1, 2, 0, 0, TCP_SYN, 0, 5);
    f[34 + 12] = 0x40; /* data offset 4 */
    ck_assert_int_eq(dec(DLT_EN10MB, f, n, &p), DECODE_TCP_BAD_HLEN);
    f[34 + 12] = 0x60; /* 24 bytes of header in a 20-byte segment */
    ck_assert_int_eq(dec(DLT_EN10MB, f, n, &p), DECODE_TCP_BAD_HLEN);

    n = put_eth(f, NULL, 0, 0x0800);
    n += put_ipv4(f + n, 5, PROTO_UDP, "192.0.2.1", "192.0.2.2", 28 + 4, 0);
    n += put_udp(f + n, 1, 2, 13); /* longer than the IP payload */
    n += put_bytes(f + n, 4, 0);
    ck_assert_int_eq(dec(DLT_EN10MB, f, n, &p), DECODE_UDP_BAD_LEN);
    put16(f + 38, 7); /* shorter than its header */
    ck_assert_int_eq(dec(DLT_EN10MB, f, n, &p), DECODE_UDP_BAD_LEN);
    put16(f + 38, 10); /* shorter than the IP payload: trailing bytes ignored */
    ck_assert_int_eq(dec(DLT_EN10MB, f, n, &p), DECODE_OK);
    ck_assert_uint_eq(p.payload_len, 2);
    ck_assert_uint_eq(p.payload_wire_len, 2);
    put16(f + 16, 24); /* IP payload of 4 bytes cannot hold UDP */
    ck_assert_int_eq(dec(DLT_EN10MB, f, n, &p), DECODE_UDP_BAD_LEN);

    n = put_eth(f, NULL, 0, 0x0800);
    n += put_ipv4(f + n, 5, PROTO_ICMP, "192.0.2.1", "192.0.2.2", 24, 0);
    n += put_bytes(f + n, 4, 8);
    ck_assert_int_eq(dec(DLT_EN10MB, f, n, &p), DECODE_ICMP_BAD_LEN);
}
END_TEST

/* ---- IPv6 ----------------------------------------------------------- */

START_TEST(test_ipv6_ext_chain)
{
    uint8_t f[256];
    struct pkt p;

    /* hop-by-hop, routing, destination options, then TCP */
    size_t n = put_eth(f, NULL, 0, 0x86dd);
    size_t ip = n;
    n += put_ipv6(f + n, 0, "2001:db8:1::1", "2001:db8:2::2", 0);
    n += put_ext(f + n, 43, 8);
    n += put_ext(f + n, 60, 24);
    n += put_ext(f + n, PROTO_TCP, 16);
    n += put_tcp(f + n, 33000, 25, 77, 0, TCP_SYN, 2000, 5);
    put16(f + ip + 4, (uint16_t)(n - ip - 40));
    ck_assert_int_eq(dec(DLT_EN10MB, f, n, &p), DECODE_OK);
    ck_assert_uint_eq(p.ip_version, 6);
    assert_addr(&p.src, "2001:db8:1::1");
    assert_addr(&p.dst, "2001:db8:2::2");
    ck_assert_uint_eq(p.proto, PROTO_TCP);
    ck_assert_uint_eq(p.ttl, 64);
    ck_assert_uint_eq(p.ip_len, n - ip);
    ck_assert_uint_eq(p.sport, 33000);
    ck_assert_uint_eq(p.dport, 25);
    ck_assert_uint_eq(p.tcp_seq, 77);
    ck_assert(!p.fragment);

    /* an extension header longer than the payload */
    f[ip + 40 + 8 + 1] = 10;
    ck_assert_int_eq(dec(DLT_EN10MB, f, n, &p), DECODE_IPV6_BAD_EXT_HDR);
    /* payload length beyond the frame */
    put16(f + ip + 4, (uint16_t)(n - ip - 40 + 1));
    ck_assert_int_eq(dec(DLT_EN10MB, f, n, &p), DECODE_IPV6_BAD_PAYLOAD_LEN);

    /* AH (length in 4-byte words minus 2) then UDP */
    n = put_eth(f, NULL, 0, 0x86dd);
    n += put_ipv6(f + n, 51, "2001:db8::1", "2001:db8::2", 24 + 8);
    memset(f + n, 0, 24);
    f[n] = PROTO_UDP;
    f[n + 1] = 4; /* (4 + 2) * 4 = 24 bytes */
    n += 24;
    n += put_udp(f + n, 500, 4500, 8);
    ck_assert_int_eq(dec(DLT_EN10MB, f, n, &p), DECODE_OK);
    ck_assert_uint_eq(p.proto, PROTO_UDP);
    ck_assert_uint_eq(p.dport, 4500);

    /* ESP and no-next-header end the chain */
    n = put_eth(f, NULL, 0, 0x86dd);
    n += put_ipv6(f + n, 0, "2001:db8::1", "2001:db8::2", 8 + 16);
    n += put_ext(f + n, 50, 8);
    n += put_bytes(f + n, 16, 0xab);
    ck_assert_int_eq(dec(DLT_EN10MB, f, n, &p), DECODE_OK);
    ck_assert_uint_eq(p.proto, 50);
    ck_assert_uint_eq(p.sport, 0);
    f[14 + 40] = 59;
    ck_assert_int_eq(dec(DLT_EN10MB, f, n, &p), DECODE_OK);
    ck_assert_uint_eq(p.proto, 59);

    /* a chain of 9 headers is cut: a known evasion, not a real packet */
    n = put_eth(f, NULL, 0, 0x86dd);
    n += put_ipv6(f + n, 60, "2001:db8::1", "2001:db8::2", 9 * 8 + 8);
    for (int i = 0; i < 9; i++)
        n += put_ext(f + n, i == 8 ? PROTO_UDP : 60, 8);
    n += put_udp(f + n, 1, 2, 8);
    ck_assert_int_eq(dec(DLT_EN10MB, f, n, &p), DECODE_IPV6_BAD_EXT_HDR);
    /* 8 are fine */
    n = put_eth(f, NULL, 0, 0x86dd);
    n += put_ipv6(f + n, 60, "2001:db8::1", "2001:db8::2", 8 * 8 + 8);
    for (int i = 0; i < 8; i++)
        n += put_ext(f + n, i == 7 ? PROTO_UDP : 60, 8);
    n += put_udp(f + n, 1, 2, 8);
    ck_assert_int_eq(dec(DLT_EN10MB, f, n, &p), DECODE_OK);
    ck_assert_uint_eq(p.dport, 2);
}
END_TEST

START_TEST(test_ipv6_fragments)
{
    uint8_t f[256];
    struct pkt p;

    /* first fragment, behind a destination-options header */
    size_t n = put_eth(f, NULL, 0, 0x86dd);
    n += put_ipv6(f + n, 60, "2001:db8::1", "2001:db8::2", 8 + 8 + 8 + 32);
    n += put_ext(f + n, 44, 8);
    n += put_frag6(f + n, PROTO_UDP, 0, true, 0xcafe0001);
    n += put_udp(f + n, 40002, 161, 2008);
    n += put_bytes(f + n, 32, 'y');
    ck_assert_int_eq(dec(DLT_EN10MB, f, n, &p), DECODE_OK);
    ck_assert(p.fragment && !p.later_fragment);
    ck_assert_uint_eq(p.proto, PROTO_UDP);
    ck_assert_uint_eq(p.ip_id, 0x0001);
    ck_assert_uint_eq(p.sport, 40002);
    ck_assert_uint_eq(p.dport, 161);
    ck_assert_uint_eq(p.payload_len, 32);

    /* a later fragment */
    put16(f + 14 + 40 + 8 + 2, (uint16_t)(154 << 3));
    ck_assert_int_eq(dec(DLT_EN10MB, f, n, &p), DECODE_OK);
    ck_assert(p.fragment && p.later_fragment);
    ck_assert_uint_eq(p.proto, PROTO_UDP);
    ck_assert_uint_eq(p.dport, 0);
}
END_TEST

/* ---- ICMP errors ---------------------------------------------------- */

/* The answer of a closed UDP port to a UDP scan probe: ICMP port
 * unreachable from the victim, quoting the probe. */
static size_t frame_port_unreachable(uint8_t *f)
{
    size_t n = put_eth(f, NULL, 0, 0x0800);
    n += put_ipv4(f + n, 5, PROTO_ICMP, "198.51.100.10", "203.0.113.7", 20 + 8 + 20 + 8, 0);
    f[n] = 3;     /* destination unreachable */
    f[n + 1] = 3; /* port unreachable */
    memset(f + n + 2, 0, 6);
    n += 8;
    n += put_ipv4(f + n, 5, PROTO_UDP, "203.0.113.7", "198.51.100.10", 28, 0);
    n += put_udp(f + n, 45678, 161, 8);
    return n;
}

START_TEST(test_icmp_port_unreachable_inner)
{
    uint8_t f[128];
    struct pkt p;
    size_t n = frame_port_unreachable(f);

    ck_assert_int_eq(dec(DLT_EN10MB, f, n, &p), DECODE_OK);
    ck_assert_uint_eq(p.proto, PROTO_ICMP);
    ck_assert_uint_eq(p.icmp_type, 3);
    ck_assert_uint_eq(p.icmp_code, 3);
    ck_assert(p.has_inner);
    assert_addr(&p.inner_src, "203.0.113.7");
    assert_addr(&p.inner_dst, "198.51.100.10");
    ck_assert_uint_eq(p.inner_proto, PROTO_UDP);
    ck_assert_uint_eq(p.inner_sport, 45678);
    ck_assert_uint_eq(p.inner_dport, 161);
    ck_assert_uint_eq(p.sport, 0);

    /* time exceeded quoting a TCP SYN (traceroute -T) */
    f[34] = 11;
    f[35] = 0;
    f[42 + 9] = PROTO_TCP;
    ck_assert_int_eq(dec(DLT_EN10MB, f, n, &p), DECODE_OK);
    ck_assert(p.has_inner);
    ck_assert_uint_eq(p.inner_proto, PROTO_TCP);
    ck_assert_uint_eq(p.inner_dport, 161);

    /* an echo reply quotes nothing, whatever its data looks like */
    f[34] = 0;
    ck_assert_int_eq(dec(DLT_EN10MB, f, n, &p), DECODE_OK);
    ck_assert(!p.has_inner);

    /* a quote without the ports is not handed on half-read */
    f[34] = 3;
    struct decode_stats st = {0};
    ck_assert_int_eq(decode_frame(DLT_EN10MB, f, (uint32_t)n - 6, (uint32_t)n, 0, &p, &st),
                     DECODE_OK);
    ck_assert(!p.has_inner);
    ck_assert_uint_eq(p.inner_dport, 0);
    /* a garbage quote is ignored, the ICMP packet itself is fine */
    f[42] = 0x75;
    ck_assert_int_eq(dec(DLT_EN10MB, f, n, &p), DECODE_OK);
    ck_assert(!p.has_inner);
}
END_TEST

START_TEST(test_icmpv6_unreachable_inner)
{
    uint8_t f[256];
    struct pkt p;
    size_t n = put_eth(f, NULL, 0, 0x86dd);
    n += put_ipv6(f + n, PROTO_ICMPV6, "2001:db8::10", "2001:db8::7", 8 + 40 + 8 + 8);
    f[n] = 1;     /* destination unreachable */
    f[n + 1] = 4; /* port unreachable */
    memset(f + n + 2, 0, 6);
    n += 8;
    n += put_ipv6(f + n, 60, "2001:db8::7", "2001:db8::10", 16);
    n += put_ext(f + n, PROTO_UDP, 8);
    n += put_udp(f + n, 50000, 53, 8);

    ck_assert_int_eq(dec(DLT_EN10MB, f, n, &p), DECODE_OK);
    ck_assert_uint_eq(p.proto, PROTO_ICMPV6);
    ck_assert_uint_eq(p.icmp_type, 1);
    ck_assert_uint_eq(p.icmp_code, 4);
    ck_assert(p.has_inner);
    assert_addr(&p.inner_src, "2001:db8::7");
    assert_addr(&p.inner_dst, "2001:db8::10");
    ck_assert_uint_eq(p.inner_proto, PROTO_UDP);
    ck_assert_uint_eq(p.inner_sport, 50000);
    ck_assert_uint_eq(p.inner_dport, 53);

    /* time exceeded (3) quotes too; echo request (128) does not */
    f[54] = 3;
    ck_assert_int_eq(dec(DLT_EN10MB, f, n, &p), DECODE_OK);
    ck_assert(p.has_inner);
    f[54] = 128;
    ck_assert_int_eq(dec(DLT_EN10MB, f, n, &p), DECODE_OK);
    ck_assert(!p.has_inner);
    ck_assert_uint_eq(p.icmp_type, 128);
}
END_TEST

/* ---- truncation at every length --------------------------------------- */

/* Decode every prefix of f (wirelen n, caplen cut) and check each against
 * the reason of the layer the cut falls in: bounds[i] is where layer i
 * ends, reasons[i] what a cut inside it gives. */
static void check_prefixes(int dlt, const uint8_t *f, size_t n, const size_t *bounds,
                           const enum decode_reason *reasons, size_t nlayers)
{
    struct decode_stats st = {0};
    uint64_t errors = 0;
    for (size_t len = 0; len <= n; len++) {
        /* a copy of exactly len bytes, so ASan sees any overread */
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, f, len);
        struct pkt p;
        enum decode_reason want = DECODE_OK;
        for (size_t i = 0; i < nlayers; i++) {
            if (len < bounds[i]) {
                want = reasons[i];
                break;
            }
        }
        enum decode_reason got = decode_frame(dlt, copy, (uint32_t)len, (uint32_t)n, 0, &p, &st);
        if (got != want)
            ck_abort_msg("prefix %zu of %zu: got %s, want %s", len, n, decode_reason_name(got),
                         decode_reason_name(want));
        if (want != DECODE_OK)
            errors++;
        if (got == DECODE_OK && p.payload != NULL)
            ck_assert(p.payload >= copy && p.payload + p.payload_len <= copy + len);
        free(copy);
    }
    ck_assert_uint_eq(st.frames, n + 1);
    ck_assert_uint_eq(st.errors, errors);
    ck_assert_uint_eq(st.decoded, n + 1 - errors);
}

START_TEST(test_prefixes_ethernet_ipv4_tcp)
{
    uint8_t f[128];
    size_t n = frame_v4_tcp(f);
    const size_t bounds[] = {14, 34, 58};
    const enum decode_reason reasons[] = {DECODE_LINK_TRUNCATED, DECODE_IPV4_TRUNCATED,
                                          DECODE_TCP_TRUNCATED};
    check_prefixes(DLT_EN10MB, f, n, bounds, reasons, 3);
}
END_TEST

START_TEST(test_prefixes_qinq_ipv6_ext_udp)
{
    uint8_t f[256];
    const uint16_t tags[] = {0x88a8, 200, 0x8100, 10};
    size_t n = put_eth(f, tags, 2, 0x86dd);
    n += put_ipv6(f + n, 0, "2001:db8::1", "2001:db8::2", 8 + 16 + 8 + 5);
    n += put_ext(f + n, 60, 8);
    n += put_ext(f + n, PROTO_UDP, 16);
    n += put_udp(f + n, 1, 2, 13);
    n += put_bytes(f + n, 5, 'z');
    /* the tag stack: a cut inside it is a link truncation */
    const size_t bounds[] = {22, 62, 70, 86, 94};
    const enum decode_reason reasons[] = {DECODE_LINK_TRUNCATED, DECODE_IPV6_TRUNCATED,
                                          DECODE_IPV6_TRUNCATED, DECODE_IPV6_TRUNCATED,
                                          DECODE_UDP_TRUNCATED};
    check_prefixes(DLT_EN10MB, f, n, bounds, reasons, 5);
}
END_TEST

START_TEST(test_prefixes_other_links)
{
    uint8_t f[128];
    size_t n;

    n = put_sll2(f, 1, 0x0800);
    n += put_ipv4(f + n, 6, PROTO_UDP, "192.0.2.1", "192.0.2.2", 24 + 8 + 3, 0);
    n += put_udp(f + n, 1, 2, 11);
    n += put_bytes(f + n, 3, 'q');
    const size_t b_sll2[] = {20, 44, 52};
    const enum decode_reason r_l4[] = {DECODE_LINK_TRUNCATED, DECODE_IPV4_TRUNCATED,
                                       DECODE_UDP_TRUNCATED};
    check_prefixes(DLT_LINUX_SLL2, f, n, b_sll2, r_l4, 3);

    n = put_sll(f, 1, 0x0800);
    n += put_ipv4(f + n, 6, PROTO_UDP, "192.0.2.1", "192.0.2.2", 24 + 8 + 3, 0);
    n += put_udp(f + n, 1, 2, 11);
    n += put_bytes(f + n, 3, 'q');
    const size_t b_sll[] = {16, 40, 48};
    check_prefixes(DLT_LINUX_SLL, f, n, b_sll, r_l4, 3);

    const uint8_t af[4] = {2, 0, 0, 0};
    memcpy(f, af, 4);
    n = 4 + put_ipv4(f + 4, 5, PROTO_ICMP, "192.0.2.1", "192.0.2.2", 36, 0);
    n += put_bytes(f + n, 16, 0);
    f[24] = 8;
    const size_t b_null[] = {4, 24, 32};
    const enum decode_reason r_icmp[] = {DECODE_LINK_TRUNCATED, DECODE_IPV4_TRUNCATED,
                                         DECODE_ICMP_TRUNCATED};
    check_prefixes(DLT_NULL, f, n, b_null, r_icmp, 3);

    n = put_ipv6(f, PROTO_TCP, "2001:db8::1", "2001:db8::2", 32);
    n += put_tcp(f + n, 1, 2, 3, 4, TCP_ACK, 5, 8);
    const size_t b_raw[] = {1, 40, 72};
    const enum decode_reason r_raw[] = {DECODE_IPV4_TRUNCATED, DECODE_IPV6_TRUNCATED,
                                        DECODE_TCP_TRUNCATED};
    check_prefixes(DLT_RAW, f, n, b_raw, r_raw, 3);
}
END_TEST

START_TEST(test_prefixes_icmp_unreachable)
{
    uint8_t f[128];
    size_t n = frame_port_unreachable(f);
    const size_t bounds[] = {14, 34, 42};
    const enum decode_reason reasons[] = {DECODE_LINK_TRUNCATED, DECODE_IPV4_TRUNCATED,
                                          DECODE_ICMP_TRUNCATED};
    check_prefixes(DLT_EN10MB, f, n, bounds, reasons, 3);
    /* the quote is used only once its ports are in */
    for (size_t len = 42; len <= n; len++) {
        struct pkt p;
        decode_frame(DLT_EN10MB, f, (uint32_t)len, (uint32_t)n, 0, &p, NULL);
        ck_assert_int_eq(p.has_inner, len >= 42 + 20 + 4);
    }
}
END_TEST

/* ---- garbage ---------------------------------------------------------- */

static uint64_t rng_state;
static uint32_t rng(void)
{
    /* xorshift64*: seeded, so a failure replays */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545F4914F6CDD1DULL) >> 32);
}

static void check_invariants(const uint8_t *f, uint32_t len, enum decode_reason r,
                             const struct pkt *p)
{
    ck_assert_int_lt(r, DECODE_REASON_COUNT);
    if (r != DECODE_OK)
        return;
    ck_assert(p->ip_version == 4 || p->ip_version == 6);
    if (p->payload != NULL) {
        ck_assert(p->payload >= f && p->payload + p->payload_len <= f + len);
        ck_assert_uint_le(p->payload_len, p->payload_wire_len);
    }
    if (p->later_fragment)
        ck_assert(p->fragment && p->sport == 0 && p->dport == 0 && p->payload == NULL);
}

START_TEST(test_random_garbage_never_crashes)
{
    static const int dlts[] = {DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_RAW,
                               DLT_IPV4,   DLT_IPV6,      DLT_NULL,       DLT_LOOP};
    struct decode_stats st = {0};
    uint8_t valid[128];
    size_t vn = frame_port_unreachable(valid);
    rng_state = 0x9e3779b97f4a7c15ULL;

    for (int i = 0; i < 200000; i++) {
        uint32_t len = i % 2 == 0 ? rng() % 200 : (uint32_t)vn;
        uint8_t *f = malloc(len ? len : 1);
        if (i % 2 == 0) {
            for (uint32_t k = 0; k < len; k++)
                f[k] = (uint8_t)rng();
            /* make the link and version plausible half the time, so the
             * garbage reaches the deeper layers */
            if (len > 14 && rng() % 2) {
                f[12] = 0x08;
                f[13] = 0x00;
                f[14] = (uint8_t)(0x45 + (rng() % 2) * 0x20);
            }
        } else {
            /* a valid frame with a few bytes flipped */
            memcpy(f, valid, vn);
            for (int k = 0; k < 3; k++)
                f[rng() % vn] ^= (uint8_t)rng();
        }
        int dlt = dlts[rng() % (sizeof dlts / sizeof dlts[0])];
        uint32_t wire = len + (rng() % 4 == 0 ? rng() % 100 : 0);
        struct pkt p;
        enum decode_reason r = decode_frame(dlt, f, len, wire, 0, &p, &st);
        check_invariants(f, len, r, &p);
        free(f);
    }
    ck_assert_uint_eq(st.frames, 200000);
    ck_assert_uint_eq(st.decoded + st.not_ip + st.errors, st.frames);
    uint64_t sum = 0;
    for (int r = 0; r < DECODE_REASON_COUNT; r++)
        sum += st.by_reason[r];
    ck_assert_uint_eq(sum, st.frames);
    ck_assert_uint_gt(st.decoded, 0);
    ck_assert_uint_gt(st.errors, 0);
}
END_TEST

/* ---- the common-frame fast path against the general decoder ---------- */

/* decode.c reads untagged Ethernet/IPv4/TCP frames in one pass and leaves
 * every other frame to the layer-by-layer decoder.  The same frame with one
 * VLAN tag inserted always takes the layer-by-layer path: both must give
 * the same reason and, when decoded, the same packet. */
static void check_fast_equals_general(const uint8_t *f, uint32_t cap, uint32_t wire,
                                      struct decode_stats *fast_st, uint64_t *fast_ok)
{
    uint8_t tagged[256];
    ck_assert_uint_le(cap + 4, sizeof tagged);
    memcpy(tagged, f, cap < 12 ? cap : 12);
    if (cap >= 12) {
        put16(tagged + 12, 0x8100);
        put16(tagged + 14, 7);
        memcpy(tagged + 16, f + 12, cap - 12);
    }
    uint32_t tcap = cap >= 12 ? cap + 4 : cap, twire = cap >= 12 ? wire + 4 : wire;
    struct decode_stats st = {0};
    struct pkt a, b;
    enum decode_reason ra = decode_frame(DLT_EN10MB, f, cap, wire, 99, &a, fast_st);
    enum decode_reason rb = decode_frame(DLT_EN10MB, tagged, tcap, twire, 99, &b, &st);
    if (cap < 12) /* no ethertype at all either way */
        return;
    ck_assert_msg(ra == rb, "cap %u wire %u: %s untagged, %s tagged", cap, wire,
                  decode_reason_name(ra), decode_reason_name(rb));
    if (ra != DECODE_OK)
        return;
    (*fast_ok)++;
    ck_assert_uint_eq(a.caplen + 4, b.caplen);
    ck_assert_uint_eq(a.wirelen + 4, b.wirelen);
    ck_assert((a.payload == NULL) == (b.payload == NULL));
    if (a.payload)
        ck_assert_int_eq(a.payload - f, b.payload - tagged - 4);
    b.caplen = a.caplen;
    b.wirelen = a.wirelen;
    b.payload = a.payload;
    ck_assert_msg(memcmp(&a, &b, sizeof a) == 0, "cap %u wire %u: packets differ", cap, wire);
}

START_TEST(test_fast_path_matches_general)
{
    /* The fields the fast path looks at, and values on both sides of
     * each of its checks. */
    static const struct {
        size_t off;
        uint8_t values[8];
    } fields[] = {
        {13, {0x00, 0x06, 0xdd, 0x08}},       /* ethertype low byte */
        {14, {0x45, 0x46, 0x44, 0x4f, 0x65}}, /* version, header length */
        {16, {0x00, 0x01, 0xff}},             /* total length */
        {17, {0x00, 0x27, 0x28, 0x32, 0x38, 0x3a, 0xff}},
        {20, {0x00, 0x40, 0x20, 0x60, 0x01, 0x80}}, /* flags, fragment offset */
        {21, {0x00, 0x01, 0xff}},
        {23, {6, 17, 1, 0}},                              /* protocol */
        {46, {0x50, 0x60, 0x40, 0x00, 0x70, 0xf0, 0x80}}, /* data offset */
    };
    uint8_t base[128], f[128];
    size_t n = frame_v4_tcp(base);
    put_bytes(base + n, sizeof base - n, 0); /* Ethernet padding beyond the datagram */
    struct decode_stats st = {0};
    uint64_t ok = 0;
    rng_state = 0x243f6a8885a308d3ULL;

    for (int i = 0; i < 100000; i++) {
        memcpy(f, base, sizeof base);
        int changes = (int)(rng() % 4);
        for (int k = 0; k < changes; k++) {
            size_t which = rng() % (sizeof fields / sizeof fields[0]);
            size_t nv = 0;
            while (nv < 8 && (nv == 0 || fields[which].values[nv] != 0))
                nv++;
            f[fields[which].off] = fields[which].values[rng() % nv];
        }
        uint32_t cap = i % 3 == 0 ? (uint32_t)n : rng() % (uint32_t)(n + 12);
        uint32_t wire = cap + (rng() % 4 == 0 ? rng() % 40 : 0);
        check_fast_equals_general(f, cap, wire, &st, &ok);
    }
    ck_assert_uint_eq(st.frames, 100000);
    ck_assert_uint_eq(st.decoded + st.not_ip + st.errors, st.frames);
    /* Both paths were taken: many frames decoded, many refused. */
    ck_assert_uint_gt(ok, 20000);
    ck_assert_uint_gt(st.errors, 20000);
}
END_TEST

/* Frames the fast path must leave to the general one, with what the
 * general one says of them. */
START_TEST(test_fast_path_declines)
{
    uint8_t f[128];
    struct pkt p;
    size_t n = frame_v4_tcp(f);

    /* TSO: a zero total length takes the frame's */
    put16(f + 16, 0);
    ck_assert_int_eq(dec(DLT_EN10MB, f, n, &p), DECODE_OK);
    ck_assert_uint_eq(p.ip_len, n - 14);
    ck_assert_uint_eq(p.payload_len, 6);
    /* a first fragment: still TCP, flagged as a fragment */
    n = frame_v4_tcp(f);
    put16(f + 20, 0x2000);
    ck_assert_int_eq(dec(DLT_EN10MB, f, n, &p), DECODE_OK);
    ck_assert(p.fragment && !p.later_fragment);
    ck_assert_uint_eq(p.dport, 443);
    /* options cut by the snaplen: counted as truncated */
    n = frame_v4_tcp(f);
    struct decode_stats st = {0};
    ck_assert_int_eq(decode_frame(DLT_EN10MB, f, 14 + 20 + 22, (uint32_t)n, 0, &p, &st),
                     DECODE_TCP_TRUNCATED);
    ck_assert_uint_eq(st.errors, 1);
    /* a data offset beyond the datagram: invalid */
    f[14 + 20 + 12] = 0xf0;
    ck_assert_int_eq(dec(DLT_EN10MB, f, n, &p), DECODE_TCP_BAD_HLEN);
    /* a total length beyond the frame: invalid */
    n = frame_v4_tcp(f);
    put16(f + 16, (uint16_t)(n - 14 + 1));
    ck_assert_int_eq(dec(DLT_EN10MB, f, n, &p), DECODE_IPV4_BAD_TOTAL_LEN);
}
END_TEST

/* ---- real captures ---------------------------------------------------- */

/* What decode.c made of a capture, next to what libpcap's BPF (the
 * filters tcpdump uses) says about the same frames. */
struct fixture_tally {
    struct decode_stats st;
    uint64_t v6, fragments, later_fragments;
    uint64_t v4_syn_only, v4_udp, v4_icmp_unreach, unreach_inner;
    /* port unreachables whose quote is the probe they answer: UDP, from
     * the host the ICMP goes to, to the host it comes from */
    uint64_t port_unreach, port_unreach_matching;
    uint64_t bpf_ip, bpf_v4_syn_only, bpf_v4_udp, bpf_v4_icmp_unreach;
    /* IPv6 packets seen through extension headers, by (proto, dport) */
    uint64_t v6_ext_tcp_syn_80, v6_frag_udp_161_first, v6_hbh_icmpv6_echo;
};

/* Compile filter so that it also matches behind up to vlan_depth tags.
 * BPF's "vlan" shifts the offsets of everything after it, hence the
 * nesting: "F or (vlan and (F or (vlan and F)))". */
static void compile(pcap_t *pc, struct bpf_program *prog, int vlan_depth, const char *filter)
{
    char text[1024], inner[1024];
    snprintf(text, sizeof text, "%s", filter);
    for (int d = 0; d < vlan_depth; d++) {
        memcpy(inner, text, sizeof inner);
        int n = snprintf(text, sizeof text, "(%s) or (vlan and (%s))", filter, inner);
        ck_assert_int_lt(n, (int)sizeof text);
    }
    ck_assert_msg(pcap_compile(pc, prog, text, 1, PCAP_NETMASK_UNKNOWN) == 0, "%s: %s", text,
                  pcap_geterr(pc));
}

/* Decode every frame of a fixture; none may be an error.  vlan_depth
 * lets the BPF oracle see through that many tags. */
static void decode_fixture(const char *name, int vlan_depth, struct fixture_tally *t)
{
    char errbuf[PCAP_ERRBUF_SIZE];
    pcap_t *pc = pcap_open_offline(fixture_path(name), errbuf);
    ck_assert_msg(pc != NULL, "%s: %s", name, errbuf);
    int dlt = pcap_datalink(pc);
    ck_assert_int_eq(decode_linktype_supported(dlt), 0);
    memset(t, 0, sizeof *t);

    struct bpf_program ip, syn, udp, unreach;
    compile(pc, &ip, vlan_depth, "ip or ip6");
    compile(pc, &syn, vlan_depth, "tcp[tcpflags] == tcp-syn");
    compile(pc, &udp, vlan_depth, "ip and udp");
    compile(pc, &unreach, vlan_depth, "icmp[icmptype] == icmp-unreach");

    struct pcap_pkthdr *h;
    const u_char *data;
    int rc;
    while ((rc = pcap_next_ex(pc, &h, &data)) == 1) {
        struct pkt p;
        uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
        enum decode_reason r = decode_frame(dlt, data, h->caplen, h->len, ts, &p, &t->st);
        if (r != DECODE_OK && r != DECODE_NOT_IP)
            ck_abort_msg("%s: frame %llu: %s", name, (unsigned long long)t->st.frames,
                         decode_reason_name(r));
        check_invariants(data, h->caplen, r, &p);
        t->bpf_ip += pcap_offline_filter(&ip, h, data) != 0;
        t->bpf_v4_syn_only += pcap_offline_filter(&syn, h, data) != 0;
        t->bpf_v4_udp += pcap_offline_filter(&udp, h, data) != 0;
        t->bpf_v4_icmp_unreach += pcap_offline_filter(&unreach, h, data) != 0;
        if (r != DECODE_OK)
            continue;
        ck_assert_uint_eq(p.ts_us, ts);
        bool l4 = !p.later_fragment;
        if (p.ip_version == 4) {
            t->v4_syn_only += p.proto == PROTO_TCP && l4 && p.tcp_flags == TCP_SYN;
            t->v4_udp += p.proto == PROTO_UDP;
            t->v4_icmp_unreach += p.proto == PROTO_ICMP && l4 && p.icmp_type == 3;
        } else {
            t->v6++;
            t->v6_ext_tcp_syn_80 +=
                p.proto == PROTO_TCP && p.tcp_flags == TCP_SYN && p.dport == 80 && p.sport == 40000;
            t->v6_frag_udp_161_first +=
                p.proto == PROTO_UDP && p.fragment && l4 && p.sport == 40002 && p.dport == 161;
            t->v6_hbh_icmpv6_echo += p.proto == PROTO_ICMPV6 && p.icmp_type == 128;
        }
        t->unreach_inner += p.has_inner;
        if (p.proto == PROTO_ICMP && p.icmp_type == 3 && p.icmp_code == 3) {
            t->port_unreach++;
            t->port_unreach_matching += p.has_inner && p.inner_proto == PROTO_UDP &&
                                        addr_eq(&p.inner_src, &p.dst) &&
                                        addr_eq(&p.inner_dst, &p.src) && p.inner_dport != 0;
        }
        t->fragments += p.fragment;
        t->later_fragments += p.later_fragment;
    }
    ck_assert_msg(rc == PCAP_ERROR_BREAK, "%s: %s", name, pcap_geterr(pc)); /* end of file */
    pcap_freecode(&ip);
    pcap_freecode(&syn);
    pcap_freecode(&udp);
    pcap_freecode(&unreach);
    pcap_close(pc);

    /* no frame of a real capture is malformed, and decode agrees with BPF */
    ck_assert_uint_eq(t->st.errors, 0);
    ck_assert_uint_gt(t->st.decoded, 0);
    ck_assert_uint_eq(t->st.decoded, t->bpf_ip);
    ck_assert_uint_eq(t->v4_syn_only, t->bpf_v4_syn_only);
    ck_assert_uint_eq(t->v4_udp, t->bpf_v4_udp);
    ck_assert_uint_eq(t->v4_icmp_unreach, t->bpf_v4_icmp_unreach);
}

START_TEST(test_fixture_scan_syn)
{
    struct fixture_tally t;
    decode_fixture("scan_syn.pcap", 0, &t);
    /* nmap -sS over the 1000 top ports: a SYN to each, at least */
    ck_assert_uint_ge(t.v4_syn_only, 1000);
}
END_TEST

START_TEST(test_fixture_scan_udp)
{
    struct fixture_tally t;
    decode_fixture("scan_udp.pcap", 0, &t);
    /* closed UDP ports answer nmap -sU with port unreachables: each one
     * must yield the probe it quotes */
    ck_assert_uint_gt(t.port_unreach, 10);
    ck_assert_uint_eq(t.port_unreach_matching, t.port_unreach);
}
END_TEST

START_TEST(test_fixture_links)
{
    static const struct {
        const char *file;
        int vlan_depth;
    } links[] = {
        {"link_eth.pcap", 0},  {"link_vlan.pcap", 1},     {"link_qinq.pcap", 2},
        {"link_sll.pcap", 0},  {"link_sll2.pcap", 0},     {"link_raw.pcap", 0},
        {"link_null.pcap", 0}, {"link_pcapng.pcapng", 0},
    };
    struct fixture_tally t, eth;
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        decode_fixture(links[i].file, links[i].vlan_depth, &t);
        /* light traffic: ping, two HTTP fetches, a DNS query */
        ck_assert_msg(t.v4_udp >= 2, "%s: %llu UDP", links[i].file, (unsigned long long)t.v4_udp);
        if (i == 0)
            eth = t;
    }
    /* pcapng and DLT_NULL are conversions of link_eth.pcap: the same IP
     * packets (the NULL conversion dropped ARP) */
    decode_fixture("link_pcapng.pcapng", 0, &t);
    ck_assert_uint_eq(t.st.frames, eth.st.frames);
    ck_assert_uint_eq(t.st.decoded, eth.st.decoded);
    decode_fixture("link_null.pcap", 0, &t);
    ck_assert_uint_eq(t.st.frames, eth.st.decoded);
    ck_assert_uint_eq(t.st.decoded, eth.st.decoded);
    ck_assert_uint_eq(t.st.not_ip, 0);
    decode_fixture("link_raw.pcap", 0, &t);
    ck_assert_uint_eq(t.st.not_ip, 0);
}
END_TEST

START_TEST(test_fixture_fragments)
{
    struct fixture_tally t;
    decode_fixture("fragments.pcap", 0, &t);
    /* ping -s 3000 over v4 and v6, twice each: 3 fragments per datagram,
     * both ways; the scapy UDP datagram of 2000 bytes in 2 fragments */
    ck_assert_uint_ge(t.fragments, 8);
    ck_assert_uint_ge(t.later_fragments, 4);
    ck_assert_uint_eq(t.v6_frag_udp_161_first, 1);
    ck_assert_uint_eq(t.v6_ext_tcp_syn_80, 1);
    ck_assert_uint_ge(t.v6_hbh_icmpv6_echo, 2);
}
END_TEST

static Suite *decode_suite(void)
{
    Suite *s = suite_create("decode");
    TCase *tc = tcase_create("links");
    tcase_add_test(tc, test_ethernet_ipv4_tcp_fields);
    tcase_add_test(tc, test_ethernet_padding_uses_ip_length);
    tcase_add_test(tc, test_vlan_stacks);
    tcase_add_test(tc, test_pppoe_session);
    tcase_add_test(tc, test_not_ip_is_not_an_error);
    tcase_add_test(tc, test_linux_cooked);
    tcase_add_test(tc, test_raw_ip_link_types);
    tcase_add_test(tc, test_null_and_loop);
    tcase_add_test(tc, test_linktype_supported);
    tcase_add_test(tc, test_reason_names);
    suite_add_tcase(s, tc);

    tc = tcase_create("network");
    tcase_add_test(tc, test_ipv4_options_and_lies);
    tcase_add_test(tc, test_ipv4_fragments);
    tcase_add_test(tc, test_tcp_udp_lies);
    tcase_add_test(tc, test_ipv6_ext_chain);
    tcase_add_test(tc, test_ipv6_fragments);
    tcase_add_test(tc, test_icmp_port_unreachable_inner);
    tcase_add_test(tc, test_icmpv6_unreachable_inner);
    suite_add_tcase(s, tc);

    tc = tcase_create("malformed");
    tcase_add_test(tc, test_prefixes_ethernet_ipv4_tcp);
    tcase_add_test(tc, test_prefixes_qinq_ipv6_ext_udp);
    tcase_add_test(tc, test_prefixes_other_links);
    tcase_add_test(tc, test_prefixes_icmp_unreachable);
    tcase_add_test(tc, test_random_garbage_never_crashes);
    tcase_add_test(tc, test_fast_path_matches_general);
    tcase_add_test(tc, test_fast_path_declines);
    suite_add_tcase(s, tc);

    tc = tcase_create("fixtures");
    tcase_add_test(tc, test_fixture_scan_syn);
    tcase_add_test(tc, test_fixture_scan_udp);
    tcase_add_test(tc, test_fixture_links);
    tcase_add_test(tc, test_fixture_fragments);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(decode_suite());
}
