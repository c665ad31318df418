/* community_id.h — the Community ID v1 flow hash (corelight community-id
 * spec), the string Zeek, Suricata and most SIEMs carry as "community_id"
 * so that one connection can be found across tools.
 *
 * The id is "1:" followed by base64(sha1(seed | lower endpoint address |
 * higher endpoint address | proto | 0 | lower port | higher port)), the
 * seed and ports in network byte order; the endpoints are ordered so both
 * directions of a flow give the same id.  Only port-carrying protocols
 * (TCP, UDP, SCTP) are computed here: canh findings have no ICMP flow.
 */
#ifndef CANH_COMMUNITY_ID_H
#define CANH_COMMUNITY_ID_H

#include <stddef.h>
#include <stdint.h>

#include "common/addr.h"

/* "1:" + 28 base64 characters + NUL. */
#define COMMUNITY_ID_LEN 31

/* Writes the id of the flow into out (>= COMMUNITY_ID_LEN bytes) and
 * returns 0; -1 when there is no such flow: a protocol without ports, a
 * zero port, or one IPv4 and one IPv6 endpoint. */
int community_id_v1(uint16_t seed, const struct ipaddr *src, uint16_t src_port,
                    const struct ipaddr *dst, uint16_t dst_port, uint8_t proto, char *out);

#endif
