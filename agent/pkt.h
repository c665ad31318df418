/* pkt.h — one decoded packet, as every detector sees it.
 *
 * decode.c fills a struct pkt from a captured frame without copying: the
 * payload pointer points into the capture buffer and is valid only during
 * the on_packet call.  Fields a packet does not have are zero.
 */
#ifndef CANH_PKT_H
#define CANH_PKT_H

#include <stdbool.h>
#include <stdint.h>

#include "common/addr.h"

struct asset;

/* TCP flag bits as on the wire. */
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_URG 0x20
#define TCP_ECE 0x40
#define TCP_CWR 0x80

#define PROTO_ICMP 1
#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_ICMPV6 58

struct pkt {
    uint64_t ts_us;   /* capture timestamp, microseconds since the epoch */
    uint32_t caplen;  /* bytes captured of the frame */
    uint32_t wirelen; /* bytes of the frame on the wire */

    uint8_t ip_version; /* 4 or 6 */
    struct ipaddr src, dst;
    uint8_t proto;   /* transport protocol after IPv6 extension headers */
    uint8_t ttl;     /* TTL / hop limit */
    uint16_t ip_id;  /* IPv4 id (IPv6: low 16 bits of the fragment id) */
    uint32_t ip_len; /* IP datagram length from its header (wire size) */
    bool fragment;   /* part of a fragmented datagram */
    /* No transport header in this packet although proto names one: a
     * fragment with offset > 0, or a first fragment too short to hold the
     * whole transport header (RFC 1858 tiny fragments).  Ports, flags and
     * ICMP fields are then zero and mean nothing. */
    bool later_fragment;

    /* TCP / UDP */
    uint16_t sport, dport;
    uint8_t tcp_flags;
    uint32_t tcp_seq, tcp_ack;
    uint16_t tcp_window;

    /* ICMP / ICMPv6 */
    uint8_t icmp_type, icmp_code;
    /* ICMP errors quote the offending datagram: its addresses and ports,
     * when enough of it was captured (e.g. port unreachable for UDP). */
    bool has_inner;
    struct ipaddr inner_src, inner_dst;
    uint8_t inner_proto;
    uint16_t inner_sport, inner_dport;

    /* Transport payload: captured bytes and the length the headers claim. */
    const uint8_t *payload;
    uint32_t payload_len;      /* captured */
    uint32_t payload_wire_len; /* on the wire (>= payload_len) */

    /* Who the addresses are, asked once per packet by classify_packet
     * (pipeline_packet does it) instead of by every detector: an address
     * lookup is a few hash probes, and random spoofed sources miss every
     * cache.  When classified is false (a packet built by hand) detectors
     * look the addresses up themselves; see detect_src_protected(). */
    bool classified;
    bool src_protected, dst_protected;         /* classify_is_protected() of each */
    const struct asset *src_asset, *dst_asset; /* classify_asset() of each, or NULL */

    /* TCP: does the segment belong to a connection (agent/conns.h, asked
     * once per segment by the pipeline)?  A SYN|ACK: its SYN was seen.
     * Any other segment: the connection's SYN, SYN|ACK or data was seen,
     * or the segment carries data.  When conn_checked is false (a packet
     * built by hand) nothing is known and detectors assume no connection.
     * tcp_handshake_ack: the bare ACK that completes a handshake seen. */
    bool conn_checked, tcp_in_conn, tcp_handshake_ack;
};

#endif
