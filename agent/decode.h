/* decode.h — frames to struct pkt, bounds-checked on the captured length.
 *
 * Link types: Ethernet (with any stack of 802.1Q / 802.1ad tags and PPPoE
 * sessions), Linux cooked v1 and v2, raw IP (DLT_RAW, DLT_IPV4, DLT_IPV6),
 * BSD null/loopback (DLT_NULL, DLT_LOOP).  Network: IPv4 (options,
 * fragments), IPv6 (extension header chain, fragments).  Transport: TCP,
 * UDP, ICMP, ICMPv6.  Every read is checked against the captured length;
 * what is malformed is counted by reason and never handed on.
 */
#ifndef CANH_DECODE_H
#define CANH_DECODE_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/pkt.h"

/* Why a frame was not handed to the detectors.  "Truncated" means the
 * capture cut it short (snaplen); "invalid" means the headers lie. */
enum decode_reason {
    DECODE_OK = 0,
    DECODE_NOT_IP, /* ARP, LLDP ...: not an error, not counted as one */
    DECODE_LINK_TRUNCATED,
    DECODE_VLAN_TOO_DEEP,
    DECODE_IPV4_TRUNCATED,
    DECODE_IPV4_BAD_VERSION,
    DECODE_IPV4_BAD_HLEN,
    DECODE_IPV4_BAD_TOTAL_LEN,
    DECODE_IPV6_TRUNCATED,
    DECODE_IPV6_BAD_VERSION,
    DECODE_IPV6_BAD_EXT_HDR,
    DECODE_TCP_TRUNCATED,
    DECODE_TCP_BAD_HLEN,
    DECODE_UDP_TRUNCATED,
    DECODE_UDP_BAD_LEN,
    DECODE_ICMP_TRUNCATED,
    DECODE_IP_BAD_VERSION,       /* raw-IP link: version nibble neither 4 nor 6 */
    DECODE_IPV6_BAD_PAYLOAD_LEN, /* payload length beyond the frame */
    DECODE_ICMP_BAD_LEN,         /* IP payload shorter than an ICMP header */
    DECODE_REASON_COUNT
};

struct decode_stats {
    uint64_t frames;
    uint64_t decoded; /* handed to detectors */
    uint64_t not_ip;
    uint64_t errors; /* sum of by_reason except OK and NOT_IP */
    uint64_t by_reason[DECODE_REASON_COUNT];
};

/* Short stable name for a reason ("ipv4_bad_hlen"), for stats and logs. */
const char *decode_reason_name(enum decode_reason r);

/* 0 when the pcap link type is one decode_frame handles. */
int decode_linktype_supported(int dlt);

/* Decode one frame of link type dlt (a pcap DLT_* value).  Fills *out and
 * returns DECODE_OK, or returns the reason it could not; counts either way
 * in *stats.  ts_us, caplen and wirelen are copied into *out. */
enum decode_reason decode_frame(int dlt, const uint8_t *frame, uint32_t caplen, uint32_t wirelen,
                                uint64_t ts_us, struct pkt *out, struct decode_stats *stats);

#endif
