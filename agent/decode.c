/* decode.c — captured frames to struct pkt views, bounds-checked.
 *
 * One pass from the link header down to the transport header: the link
 * layer (Ethernet and its VLAN/PPPoE stack, Linux cooked v1/v2, raw IP,
 * BSD null/loopback) yields the network header; IPv4 or IPv6 (with its
 * extension header chain) yields the transport header; TCP, UDP, ICMP and
 * ICMPv6 fill the fields the detectors use.  ICMP errors also yield the
 * addresses and ports of the datagram they quote, which is how a UDP scan's
 * port-unreachable answers are recognised.
 *
 * Every layer is handed two lengths: "cap", the bytes actually captured,
 * and "wire", the bytes the enclosing headers say the layer spans.  Reading
 * beyond cap is truncation (snaplen cut the frame: count it, it is not the
 * sender's fault); a header that does not fit in wire is invalid (the
 * headers lie).  All wire fields are read through the checked accessors
 * below.  No allocation, no system call: this runs once per packet.
 */
#include "agent/decode.h"

#include <pcap/dlt.h>
#include <stddef.h>
#include <string.h>

/* ---- checked big-endian accessors --------------------------------------- */

/* Each returns false, leaving *out untouched, when off + size exceeds len. */
static inline bool get_u8(const uint8_t *p, size_t len, size_t off, uint8_t *out)
{
    if (off >= len)
        return false;
    *out = p[off];
    return true;
}

static inline bool get_be16(const uint8_t *p, size_t len, size_t off, uint16_t *out)
{
    if (len < 2 || off > len - 2)
        return false;
    *out = (uint16_t)((uint16_t)p[off] << 8 | p[off + 1]);
    return true;
}

static inline bool get_be32(const uint8_t *p, size_t len, size_t off, uint32_t *out)
{
    if (len < 4 || off > len - 4)
        return false;
    *out = (uint32_t)p[off] << 24 | (uint32_t)p[off + 1] << 16 | (uint32_t)p[off + 2] << 8 |
           p[off + 3];
    return true;
}

static inline bool get_le32(const uint8_t *p, size_t len, size_t off, uint32_t *out)
{
    if (len < 4 || off > len - 4)
        return false;
    *out = (uint32_t)p[off + 3] << 24 | (uint32_t)p[off + 2] << 16 | (uint32_t)p[off + 1] << 8 |
           p[off];
    return true;
}

static inline bool has_bytes(size_t len, size_t off, size_t n)
{
    return off <= len && n <= len - off;
}

/* ---- constants -------------------------------------------------------- */

#define ETH_HLEN 14
#define SLL_HLEN 16
#define SLL2_HLEN 20
#define NULL_HLEN 4
#define VLAN_TAG_LEN 4
#define PPPOE_HLEN 8 /* 6-byte PPPoE session header + 2-byte PPP protocol */

/* Tags stacked deeper than this are not a network anyone runs: QinQ is 2,
 * and a frame with dozens of tags is an attempt to make us loop. */
#define MAX_VLAN_DEPTH 8
/* The IPv6 chain of a real packet has a handful of headers; a long chain
 * of empty options headers is a known IDS evasion, so it is cut here. */
#define MAX_IPV6_EXT_HDRS 8

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88a8
#define ETHERTYPE_QINQ_OLD 0x9100
#define ETHERTYPE_PPPOE_SESSION 0x8864
#define PPP_IPV4 0x0021
#define PPP_IPV6 0x0057

#define ARPHRD_NETLINK 824

/* pcap link types named by their LINKTYPE_ value where libpcap has no
 * DLT_ macro or where the DLT_ value differs between systems. */
#define LINKTYPE_RAW 101
#define LINKTYPE_RAW_OPENBSD 14
#define LINKTYPE_RAW_OTHER 12
#define LINKTYPE_LOOP 108

/* BSD address-family values found in DLT_NULL / DLT_LOOP headers:
 * AF_INET is 2 everywhere, AF_INET6 differs by system. */
#define BSD_AF_INET 2
#define BSD_AF_INET6_BSD 24     /* NetBSD, OpenBSD, BSD/OS */
#define BSD_AF_INET6_FREEBSD 28 /* FreeBSD, DragonFly */
#define BSD_AF_INET6_DARWIN 30  /* macOS, iOS */

/* IPv6 extension headers (next-header values) that decode.c walks. */
#define EXT_HOPOPTS 0
#define EXT_ROUTING 43
#define EXT_FRAGMENT 44
#define EXT_AH 51
#define EXT_DSTOPTS 60
#define EXT_MOBILITY 135

enum net_kind { NET_NONE, NET_IPV4, NET_IPV6, NET_SNIFF };

enum link_kind {
    LINK_UNSUPPORTED,
    LINK_ETHERNET,
    LINK_SLL,
    LINK_SLL2,
    LINK_RAW,
    LINK_IPV4,
    LINK_IPV6,
    LINK_NULL,
    LINK_LOOP
};

static enum link_kind link_kind_of(int dlt)
{
    switch (dlt) {
    case DLT_EN10MB:
        return LINK_ETHERNET;
    case DLT_LINUX_SLL:
        return LINK_SLL;
    case DLT_LINUX_SLL2:
        return LINK_SLL2;
    case DLT_IPV4:
        return LINK_IPV4;
    case DLT_IPV6:
        return LINK_IPV6;
    case DLT_NULL:
        return LINK_NULL;
    default:
        break;
    }
    /* DLT_RAW is 12 or 14 and DLT_LOOP is 108 or 12 depending on the
     * system, so these cannot be switch cases without duplicates.  12 is
     * raw IP everywhere but OpenBSD, 14 is raw IP on OpenBSD and BSD/OS. */
    if (dlt == DLT_RAW || dlt == LINKTYPE_RAW || dlt == LINKTYPE_RAW_OPENBSD ||
        dlt == LINKTYPE_RAW_OTHER)
        return LINK_RAW;
    if (dlt == DLT_LOOP || dlt == LINKTYPE_LOOP)
        return LINK_LOOP;
    return LINK_UNSUPPORTED;
}

int decode_linktype_supported(int dlt)
{
    return link_kind_of(dlt) == LINK_UNSUPPORTED ? -1 : 0;
}

static const char *const reason_names[DECODE_REASON_COUNT] = {
    [DECODE_OK] = "ok",
    [DECODE_NOT_IP] = "not_ip",
    [DECODE_LINK_TRUNCATED] = "link_truncated",
    [DECODE_VLAN_TOO_DEEP] = "vlan_too_deep",
    [DECODE_IPV4_TRUNCATED] = "ipv4_truncated",
    [DECODE_IPV4_BAD_VERSION] = "ipv4_bad_version",
    [DECODE_IPV4_BAD_HLEN] = "ipv4_bad_hlen",
    [DECODE_IPV4_BAD_TOTAL_LEN] = "ipv4_bad_total_len",
    [DECODE_IPV6_TRUNCATED] = "ipv6_truncated",
    [DECODE_IPV6_BAD_VERSION] = "ipv6_bad_version",
    [DECODE_IPV6_BAD_EXT_HDR] = "ipv6_bad_ext_hdr",
    [DECODE_TCP_TRUNCATED] = "tcp_truncated",
    [DECODE_TCP_BAD_HLEN] = "tcp_bad_hlen",
    [DECODE_UDP_TRUNCATED] = "udp_truncated",
    [DECODE_UDP_BAD_LEN] = "udp_bad_len",
    [DECODE_ICMP_TRUNCATED] = "icmp_truncated",
    [DECODE_IP_BAD_VERSION] = "ip_bad_version",
    [DECODE_IPV6_BAD_PAYLOAD_LEN] = "ipv6_bad_payload_len",
    [DECODE_ICMP_BAD_LEN] = "icmp_bad_len",
};

const char *decode_reason_name(enum decode_reason r)
{
    if ((unsigned)r >= DECODE_REASON_COUNT || reason_names[r] == NULL)
        return "unknown";
    return reason_names[r];
}

/* A span of the frame: cap bytes captured at p, of wire bytes that the
 * headers say are there (wire >= cap). */
struct span {
    const uint8_t *p;
    size_t cap;
    size_t wire;
};

/* The span after the first n bytes (n <= s.cap). */
static struct span span_skip(struct span s, size_t n)
{
    struct span r = {s.p + n, s.cap - n, s.wire - n};
    return r;
}

/* Clip a span to the wire length a header states (<= s.wire). */
static struct span span_clip(struct span s, size_t wire)
{
    struct span r = {s.p, s.cap < wire ? s.cap : wire, wire};
    return r;
}

/* ---- link layer -------------------------------------------------------- */

/* Follow an ethertype through VLAN tags and a PPPoE session header to the
 * network header.  s starts right after the ethertype field. */
static enum decode_reason link_ethertype(uint16_t ethertype, struct span *s, enum net_kind *net)
{
    int depth = 0;

    for (;;) {
        switch (ethertype) {
        case ETHERTYPE_IPV4:
            *net = NET_IPV4;
            return DECODE_OK;
        case ETHERTYPE_IPV6:
            *net = NET_IPV6;
            return DECODE_OK;
        case ETHERTYPE_VLAN:
        case ETHERTYPE_QINQ:
        case ETHERTYPE_QINQ_OLD:
            if (++depth > MAX_VLAN_DEPTH)
                return DECODE_VLAN_TOO_DEEP;
            /* tag control (2) then the next ethertype (2) */
            if (!get_be16(s->p, s->cap, 2, &ethertype))
                return DECODE_LINK_TRUNCATED;
            *s = span_skip(*s, VLAN_TAG_LEN);
            break;
        case ETHERTYPE_PPPOE_SESSION: {
            uint16_t ppp_proto;
            if (!get_be16(s->p, s->cap, 6, &ppp_proto))
                return DECODE_LINK_TRUNCATED;
            *s = span_skip(*s, PPPOE_HLEN);
            if (ppp_proto == PPP_IPV4)
                *net = NET_IPV4;
            else if (ppp_proto == PPP_IPV6)
                *net = NET_IPV6;
            else
                return DECODE_NOT_IP; /* LCP, IPCP ... */
            return DECODE_OK;
        }
        default:
            /* ARP, LLDP, 802.3 length fields, MPLS ...: not for us. */
            return DECODE_NOT_IP;
        }
    }
}

/* The address family of a DLT_NULL / DLT_LOOP header. */
static enum decode_reason link_bsd_family(uint32_t family, enum net_kind *net)
{
    switch (family) {
    case BSD_AF_INET:
        *net = NET_IPV4;
        return DECODE_OK;
    case BSD_AF_INET6_BSD:
    case BSD_AF_INET6_FREEBSD:
    case BSD_AF_INET6_DARWIN:
        *net = NET_IPV6;
        return DECODE_OK;
    default:
        return DECODE_NOT_IP;
    }
}

/* Strip the link header; on DECODE_OK *s is the network header and *net
 * says which one (NET_SNIFF: look at the version nibble). */
static enum decode_reason decode_link(enum link_kind kind, struct span *s, enum net_kind *net)
{
    uint16_t u16;
    uint32_t u32;

    switch (kind) {
    case LINK_ETHERNET:
        if (!get_be16(s->p, s->cap, 12, &u16))
            return DECODE_LINK_TRUNCATED;
        *s = span_skip(*s, ETH_HLEN);
        return link_ethertype(u16, s, net);
    case LINK_SLL: {
        uint16_t arphrd;
        if (!get_be16(s->p, s->cap, 14, &u16) || !get_be16(s->p, s->cap, 2, &arphrd))
            return DECODE_LINK_TRUNCATED;
        *s = span_skip(*s, SLL_HLEN);
        if (arphrd == ARPHRD_NETLINK) /* protocol is a netlink family */
            return DECODE_NOT_IP;
        return link_ethertype(u16, s, net);
    }
    case LINK_SLL2: {
        uint16_t arphrd;
        if (!has_bytes(s->cap, 0, SLL2_HLEN))
            return DECODE_LINK_TRUNCATED;
        if (!get_be16(s->p, s->cap, 0, &u16) || !get_be16(s->p, s->cap, 8, &arphrd))
            return DECODE_LINK_TRUNCATED;
        *s = span_skip(*s, SLL2_HLEN);
        if (arphrd == ARPHRD_NETLINK)
            return DECODE_NOT_IP;
        return link_ethertype(u16, s, net);
    }
    case LINK_RAW:
        *net = NET_SNIFF;
        return DECODE_OK;
    case LINK_IPV4:
        *net = NET_IPV4;
        return DECODE_OK;
    case LINK_IPV6:
        *net = NET_IPV6;
        return DECODE_OK;
    case LINK_NULL:
        /* Host byte order of the machine that captured, which need not be
         * ours: the AF values are small, so a value with high bits set is
         * the other byte order. */
        if (!get_le32(s->p, s->cap, 0, &u32))
            return DECODE_LINK_TRUNCATED;
        if (u32 > 0xffff)
            u32 = (u32 >> 24) | ((u32 >> 8) & 0xff00) | ((u32 << 8) & 0xff0000) | (u32 << 24);
        *s = span_skip(*s, NULL_HLEN);
        return link_bsd_family(u32, net);
    case LINK_LOOP:
        if (!get_be32(s->p, s->cap, 0, &u32))
            return DECODE_LINK_TRUNCATED;
        *s = span_skip(*s, NULL_HLEN);
        return link_bsd_family(u32, net);
    case LINK_UNSUPPORTED:
        break;
    }
    return DECODE_NOT_IP;
}

/* ---- network layer ----------------------------------------------------- */

/* What the network layer leaves for the transport decoder. */
struct l3_result {
    struct span l4;
    uint8_t proto;
    bool fragment;
    bool later_fragment; /* no transport header in this packet */
};

static enum decode_reason decode_ipv4(struct span s, struct pkt *out, struct l3_result *res)
{
    uint8_t vhl, ttl, proto;
    uint16_t total_len, id, frag;

    if (!get_u8(s.p, s.cap, 0, &vhl))
        return DECODE_IPV4_TRUNCATED;
    if (vhl >> 4 != 4)
        return DECODE_IPV4_BAD_VERSION;
    if (!has_bytes(s.cap, 0, 20))
        return DECODE_IPV4_TRUNCATED;
    size_t hlen = (size_t)(vhl & 0x0f) * 4;
    if (hlen < 20)
        return DECODE_IPV4_BAD_HLEN;
    if (!get_be16(s.p, s.cap, 2, &total_len) || !get_be16(s.p, s.cap, 4, &id) ||
        !get_be16(s.p, s.cap, 6, &frag) || !get_u8(s.p, s.cap, 8, &ttl) ||
        !get_u8(s.p, s.cap, 9, &proto))
        return DECODE_IPV4_TRUNCATED;
    /* The total length, not the frame, bounds the datagram: Ethernet pads
     * short frames to 60 bytes.  Zero is what Linux writes into segments
     * too large for the field (TSO sends, BIG TCP GRO): take the frame's,
     * as tcpdump does. */
    size_t ip_len = total_len != 0 ? total_len : s.wire;
    if (ip_len < hlen || ip_len > s.wire)
        return DECODE_IPV4_BAD_TOTAL_LEN;
    if (!has_bytes(s.cap, 0, hlen)) /* options cut by snaplen */
        return DECODE_IPV4_TRUNCATED;

    out->ip_version = 4;
    addr_from_v4(&out->src, s.p + 12);
    addr_from_v4(&out->dst, s.p + 16);
    out->proto = proto;
    out->ttl = ttl;
    out->ip_id = id;
    out->ip_len = (uint32_t)ip_len;

    uint16_t offset = frag & 0x1fff;
    bool more = (frag & 0x2000) != 0;
    res->proto = proto;
    res->fragment = more || offset != 0;
    res->later_fragment = offset != 0;
    res->l4 = span_skip(span_clip(s, ip_len), hlen);
    return DECODE_OK;
}

/* Walk an IPv6 extension header chain starting with next header nh at
 * s.  On return *proto is the upper-layer protocol (or ESP / no next
 * header, which end the chain), *s its span.  Fragment headers set the
 * fragment flags and the id.  Used for the outer packet and for the
 * datagram quoted in an ICMPv6 error. */
static enum decode_reason ipv6_ext_chain(uint8_t nh, struct span *s, uint8_t *proto,
                                         struct l3_result *res, uint32_t *frag_id)
{
    for (int n = 0;; n++) {
        size_t hlen;
        uint8_t next, len_field;

        switch (nh) {
        case EXT_HOPOPTS:
        case EXT_ROUTING:
        case EXT_DSTOPTS:
        case EXT_MOBILITY:
        case EXT_AH:
        case EXT_FRAGMENT:
            break;
        default:
            *proto = nh; /* upper layer, ESP (50) or no next header (59) */
            return DECODE_OK;
        }
        if (n >= MAX_IPV6_EXT_HDRS)
            return DECODE_IPV6_BAD_EXT_HDR;
        if (s->wire < 2)
            return DECODE_IPV6_BAD_EXT_HDR;
        if (!get_u8(s->p, s->cap, 0, &next) || !get_u8(s->p, s->cap, 1, &len_field))
            return DECODE_IPV6_TRUNCATED;
        if (nh == EXT_FRAGMENT)
            hlen = 8;
        else if (nh == EXT_AH)
            hlen = ((size_t)len_field + 2) * 4; /* RFC 4302: 32-bit words minus 2 */
        else
            hlen = ((size_t)len_field + 1) * 8; /* 8-octet units, first not counted */
        if (hlen > s->wire)
            return DECODE_IPV6_BAD_EXT_HDR;
        if (!has_bytes(s->cap, 0, hlen))
            return DECODE_IPV6_TRUNCATED;
        if (nh == EXT_FRAGMENT) {
            uint16_t off_flags;
            uint32_t id;
            if (!get_be16(s->p, s->cap, 2, &off_flags) || !get_be32(s->p, s->cap, 4, &id))
                return DECODE_IPV6_TRUNCATED;
            res->fragment = true;
            *frag_id = id;
            if ((off_flags >> 3) != 0) {
                /* A later fragment: what follows is the middle of the
                 * upper-layer data, whatever next header says. */
                res->later_fragment = true;
                *s = span_skip(*s, hlen);
                *proto = next;
                return DECODE_OK;
            }
        }
        *s = span_skip(*s, hlen);
        nh = next;
    }
}

static enum decode_reason decode_ipv6(struct span s, struct pkt *out, struct l3_result *res)
{
    uint8_t v, nh, hlim;
    uint16_t plen;
    uint32_t frag_id = 0;

    if (!get_u8(s.p, s.cap, 0, &v))
        return DECODE_IPV6_TRUNCATED;
    if (v >> 4 != 6)
        return DECODE_IPV6_BAD_VERSION;
    if (!has_bytes(s.cap, 0, 40) || !get_be16(s.p, s.cap, 4, &plen) ||
        !get_u8(s.p, s.cap, 6, &nh) || !get_u8(s.p, s.cap, 7, &hlim))
        return DECODE_IPV6_TRUNCATED;
    /* A zero payload length with a hop-by-hop header is a jumbogram
     * (RFC 2675; Linux BIG TCP): the frame's length is the datagram's. */
    size_t ip_len = plen == 0 && nh == EXT_HOPOPTS ? s.wire : (size_t)plen + 40;
    if (ip_len > s.wire)
        return DECODE_IPV6_BAD_PAYLOAD_LEN;

    out->ip_version = 6;
    addr_from_v6(&out->src, s.p + 8);
    addr_from_v6(&out->dst, s.p + 24);
    out->ttl = hlim;
    out->ip_len = (uint32_t)ip_len;

    res->l4 = span_skip(span_clip(s, ip_len), 40);
    enum decode_reason r = ipv6_ext_chain(nh, &res->l4, &res->proto, res, &frag_id);
    if (r != DECODE_OK)
        return r;
    out->proto = res->proto;
    out->ip_id = (uint16_t)(frag_id & 0xffff);
    return DECODE_OK;
}

/* ---- transport layer --------------------------------------------------- */

static bool icmp_is_error(uint8_t proto, uint8_t type)
{
    if (proto ==
        PROTO_ICMP) /* unreachable, source quench, redirect, time exceeded, param problem */
        return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
    /* ICMPv6: unreachable, packet too big, time exceeded, param problem */
    return type >= 1 && type <= 4;
}

/* The datagram an ICMP error quotes: its IP header and at least the first
 * 8 bytes of its transport header (RFC 792; ICMPv6 quotes more).  Only
 * what was captured is used and no length in it is checked, since the
 * quote is cut by design.  Sets has_inner only when the addresses and, for
 * TCP/UDP, the ports were all there: a half-read quote is ignored rather
 * than handed on with zero ports. */
static void decode_icmp_inner(struct span s, bool v6, struct pkt *out)
{
    struct ipaddr src, dst;
    uint8_t v, proto;
    bool later_fragment;
    struct span l4;
    uint16_t sport = 0, dport = 0;

    s.wire = s.cap;
    if (!get_u8(s.p, s.cap, 0, &v))
        return;
    if (!v6) {
        uint16_t frag;
        size_t hlen = (size_t)(v & 0x0f) * 4;
        if (v >> 4 != 4 || hlen < 20 || !has_bytes(s.cap, 0, hlen) ||
            !get_u8(s.p, s.cap, 9, &proto) || !get_be16(s.p, s.cap, 6, &frag))
            return;
        addr_from_v4(&src, s.p + 12);
        addr_from_v4(&dst, s.p + 16);
        later_fragment = (frag & 0x1fff) != 0;
        l4 = span_skip(s, hlen);
    } else {
        struct l3_result chain = {0};
        uint32_t frag_id;
        uint8_t nh;
        if (v >> 4 != 6 || !has_bytes(s.cap, 0, 40) || !get_u8(s.p, s.cap, 6, &nh))
            return;
        addr_from_v6(&src, s.p + 8);
        addr_from_v6(&dst, s.p + 24);
        l4 = span_skip(s, 40);
        if (ipv6_ext_chain(nh, &l4, &proto, &chain, &frag_id) != DECODE_OK)
            return;
        later_fragment = chain.later_fragment;
    }
    if ((proto == PROTO_TCP || proto == PROTO_UDP) &&
        (later_fragment || !get_be16(l4.p, l4.cap, 0, &sport) ||
         !get_be16(l4.p, l4.cap, 2, &dport)))
        return;
    out->has_inner = true;
    out->inner_src = src;
    out->inner_dst = dst;
    out->inner_proto = proto;
    out->inner_sport = sport;
    out->inner_dport = dport;
}

/* In the first fragment of a datagram (first_fragment) a transport header
 * that does not fit may continue in the next fragment (RFC 1858 tiny
 * fragments): that is no error, the packet just carries no transport header
 * (*no_l4).  Elsewhere it is a header that lies. */
static enum decode_reason decode_tcp(struct span s, bool first_fragment, bool *no_l4,
                                     struct pkt *out)
{
    uint8_t doff, flags;

    if (s.wire < 20) {
        *no_l4 = first_fragment;
        return first_fragment ? DECODE_OK : DECODE_TCP_BAD_HLEN;
    }
    if (!has_bytes(s.cap, 0, 20))
        return DECODE_TCP_TRUNCATED;
    if (!get_u8(s.p, s.cap, 12, &doff) || !get_u8(s.p, s.cap, 13, &flags))
        return DECODE_TCP_TRUNCATED;
    size_t hlen = (size_t)(doff >> 4) * 4;
    if (hlen < 20)
        return DECODE_TCP_BAD_HLEN;
    if (hlen > s.wire) {
        *no_l4 = first_fragment;
        return first_fragment ? DECODE_OK : DECODE_TCP_BAD_HLEN;
    }
    if (!has_bytes(s.cap, 0, hlen)) /* options cut by snaplen */
        return DECODE_TCP_TRUNCATED;
    if (!get_be16(s.p, s.cap, 0, &out->sport) || !get_be16(s.p, s.cap, 2, &out->dport) ||
        !get_be32(s.p, s.cap, 4, &out->tcp_seq) || !get_be32(s.p, s.cap, 8, &out->tcp_ack) ||
        !get_be16(s.p, s.cap, 14, &out->tcp_window))
        return DECODE_TCP_TRUNCATED;
    out->tcp_flags = flags;
    out->payload = s.p + hlen;
    out->payload_len = (uint32_t)(s.cap - hlen);
    out->payload_wire_len = (uint32_t)(s.wire - hlen);
    return DECODE_OK;
}

static enum decode_reason decode_udp(struct span s, bool first_fragment, bool *no_l4,
                                     struct pkt *out)
{
    uint16_t sport, dport, ulen;

    if (s.wire < 8) {
        *no_l4 = first_fragment;
        return first_fragment ? DECODE_OK : DECODE_UDP_BAD_LEN;
    }
    if (!get_be16(s.p, s.cap, 0, &sport) || !get_be16(s.p, s.cap, 2, &dport) ||
        !get_be16(s.p, s.cap, 4, &ulen) || !has_bytes(s.cap, 0, 8))
        return DECODE_UDP_TRUNCATED;
    /* The UDP length covers the whole datagram, so in a first fragment it
     * exceeds this packet; otherwise it must fit in what IP carries.
     * Shorter than the IP payload is allowed (trailing bytes are ignored
     * by receivers). */
    if (ulen < 8 || (!first_fragment && ulen > s.wire))
        return DECODE_UDP_BAD_LEN;
    size_t wire = first_fragment ? s.wire : ulen;
    size_t cap = s.cap < wire ? s.cap : wire;
    out->sport = sport;
    out->dport = dport;
    out->payload = s.p + 8;
    out->payload_len = (uint32_t)(cap - 8);
    out->payload_wire_len = (uint32_t)(wire - 8);
    return DECODE_OK;
}

static enum decode_reason decode_icmp(struct span s, uint8_t proto, bool first_fragment,
                                      bool *no_l4, struct pkt *out)
{
    if (s.wire < 8) {
        *no_l4 = first_fragment;
        return first_fragment ? DECODE_OK : DECODE_ICMP_BAD_LEN;
    }
    if (!get_u8(s.p, s.cap, 0, &out->icmp_type) || !get_u8(s.p, s.cap, 1, &out->icmp_code) ||
        !has_bytes(s.cap, 0, 8)) {
        out->icmp_type = out->icmp_code = 0;
        return DECODE_ICMP_TRUNCATED;
    }
    if (icmp_is_error(proto, out->icmp_type))
        decode_icmp_inner(span_skip(s, 8), proto == PROTO_ICMPV6, out);
    return DECODE_OK;
}

/* ---- the common frame, in one pass ------------------------------------ */

/* Almost every frame on an agency link is an untagged Ethernet frame with
 * an IPv4 datagram that has no options and is not fragmented, carrying a
 * TCP segment captured whole; a SYN flood is nothing else.  This reads it
 * at fixed offsets after one length check, and declines (returns false
 * before writing to *out) any frame that is not exactly that or that any
 * check of the general decoder would count: decode_layers decides those.  What it fills is what
 * decode_layers fills for the same frame (tests/test_decode.c and fuzz_decode.c compare the two
 * field by field). */
#define FAST_IP_OFF ETH_HLEN
#define FAST_TCP_OFF (ETH_HLEN + 20)
#define FAST_MIN_CAP (FAST_TCP_OFF + 20)

static inline uint16_t fast_be16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t fast_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The IPv4-mapped form of the 4 bytes at v4 (addr_from_v4) in one 8-byte
 * store: bytes 0-7 of *a are already zero. */
static inline void fast_addr_v4(struct ipaddr *a, const uint8_t *v4)
{
    uint32_t v;
    memcpy(&v, v4, 4);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t low = (uint64_t)v << 32 | 0xffff0000u;
#else
    uint64_t low = (uint64_t)0xffff << 32 | v;
#endif
    memcpy(a->b + 8, &low, 8);
}

static bool decode_fast_eth_ipv4_tcp(const uint8_t *f, size_t cap, size_t wire, struct pkt *out)
{
    /* Every fixed-offset read below lies within the first FAST_MIN_CAP
     * bytes (or the TCP header, checked against cap before its read). */
    if (cap < FAST_MIN_CAP)
        return false;
    const uint8_t *ip = f + FAST_IP_OFF, *tcp = f + FAST_TCP_OFF;
    /* Ethertype IPv4, version 4 with a 20-byte header, TCP, and neither
     * more-fragments nor an offset (DF may be set). */
    if (fast_be16(f + 12) != ETHERTYPE_IPV4 || ip[0] != 0x45 || ip[9] != PROTO_TCP ||
        (fast_be16(ip + 6) & 0x3fff) != 0)
        return false;
    /* A zero total length (TSO) and one beyond the frame take the general
     * path; so does one that leaves no room for a TCP header. */
    size_t ip_len = fast_be16(ip + 2), ip_wire = wire - FAST_IP_OFF;
    if (ip_len < 40 || ip_len > ip_wire)
        return false;
    size_t l4_cap = (cap - FAST_IP_OFF < ip_len ? cap - FAST_IP_OFF : ip_len) - 20;
    size_t l4_wire = ip_len - 20;
    size_t hlen = (size_t)(tcp[12] >> 4) * 4;
    if (hlen < 20 || hlen > l4_cap) /* bad or cut: counted by the general path */
        return false;

    out->ip_version = 4;
    fast_addr_v4(&out->src, ip + 12);
    fast_addr_v4(&out->dst, ip + 16);
    out->proto = PROTO_TCP;
    out->ttl = ip[8];
    out->ip_id = fast_be16(ip + 4);
    out->ip_len = (uint32_t)ip_len;
    out->sport = fast_be16(tcp);
    out->dport = fast_be16(tcp + 2);
    out->tcp_seq = fast_be32(tcp + 4);
    out->tcp_ack = fast_be32(tcp + 8);
    out->tcp_flags = tcp[13];
    out->tcp_window = fast_be16(tcp + 14);
    out->payload = tcp + hlen;
    out->payload_len = (uint32_t)(l4_cap - hlen);
    out->payload_wire_len = (uint32_t)(l4_wire - hlen);
    return true;
}

/* ---- frame ------------------------------------------------------------- */

static enum decode_reason decode_layers(int dlt, struct span s, struct pkt *out)
{
    enum net_kind net = NET_NONE;
    struct l3_result l3 = {0};
    enum decode_reason r;

    r = decode_link(link_kind_of(dlt), &s, &net);
    if (r != DECODE_OK)
        return r;
    if (net == NET_SNIFF) {
        uint8_t v;
        if (!get_u8(s.p, s.cap, 0, &v))
            return DECODE_IPV4_TRUNCATED;
        if (v >> 4 == 4)
            net = NET_IPV4;
        else if (v >> 4 == 6)
            net = NET_IPV6;
        else
            return DECODE_IP_BAD_VERSION;
    }
    r = net == NET_IPV4 ? decode_ipv4(s, out, &l3) : decode_ipv6(s, out, &l3);
    if (r != DECODE_OK)
        return r;
    out->fragment = l3.fragment;
    out->later_fragment = l3.later_fragment;
    if (l3.later_fragment)
        return DECODE_OK;

    bool first_fragment = l3.fragment, no_l4 = false;
    switch (l3.proto) {
    case PROTO_TCP:
        r = decode_tcp(l3.l4, first_fragment, &no_l4, out);
        break;
    case PROTO_UDP:
        r = decode_udp(l3.l4, first_fragment, &no_l4, out);
        break;
    case PROTO_ICMP:
    case PROTO_ICMPV6:
        /* ICMP in IPv6 or ICMPv6 in IPv4 is not a thing: decode neither. */
        if ((l3.proto == PROTO_ICMP) != (out->ip_version == 4))
            return DECODE_OK;
        r = decode_icmp(l3.l4, l3.proto, first_fragment, &no_l4, out);
        break;
    default:
        return DECODE_OK; /* GRE, ESP, SCTP ...: addresses only */
    }
    /* A first fragment too short for its transport header carries none:
     * flag it as later fragments are, so that no detector reads zero
     * ports and flags as a scan. */
    if (no_l4)
        out->later_fragment = true;
    return r;
}

enum decode_reason decode_frame(int dlt, const uint8_t *frame, uint32_t caplen, uint32_t wirelen,
                                uint64_t ts_us, struct pkt *out, struct decode_stats *stats)
{
    struct span s = {frame, caplen, wirelen > caplen ? wirelen : caplen};
    enum decode_reason r;

    /* In 56-byte parts: each is short enough for the compiler
     * to clear with vector stores, where the whole struct becomes a rep
     * stos that costs tens of cycles to start on every packet. */
    for (size_t off = 0; off < sizeof *out; off += 56)
        memset((uint8_t *)out + off, 0, sizeof *out - off < 56 ? sizeof *out - off : 56);
    out->ts_us = ts_us;
    out->caplen = caplen;
    out->wirelen = wirelen;

    if (frame == NULL)
        s.cap = s.wire = 0;
    if (dlt == DLT_EN10MB && decode_fast_eth_ipv4_tcp(s.p, s.cap, s.wire, out))
        r = DECODE_OK;
    else
        r = decode_layers(dlt, s, out);

    if (stats != NULL) {
        stats->frames++;
        stats->by_reason[r]++;
        if (r == DECODE_OK)
            stats->decoded++;
        else if (r == DECODE_NOT_IP)
            stats->not_ip++;
        else
            stats->errors++;
    }
    return r;
}
