/* fuzz_decode.c — libFuzzer target for decode.c.
 *
 * Each input is decoded as a frame of every link type decode.c supports,
 * with the captured length the input's size and, when the first byte says
 * so, a longer wire length (snaplen-cut frames take other paths).  The
 * sanitizers catch any read past the input; the invariants below catch a
 * packet handed on in a misleading form.
 */
#include <pcap/dlt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/decode.h"

static const int link_types[] = {DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_RAW, 101,
                                 DLT_IPV4,   DLT_IPV6,      DLT_NULL,       DLT_LOOP};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* decode.c reads untagged Ethernet/IPv4/TCP frames in one pass: the same
 * frame with a VLAN tag inserted goes layer by layer and must give the
 * same reason and the same packet.  Only frames whose ethertype is IPv4
 * (the others are never read in one pass; behind a stack of tags, one
 * more may be one too many). */
static void fast_equals_general(const uint8_t *data, uint32_t caplen, uint32_t wirelen)
{
    static uint8_t tagged[65535 + 4];
    static struct decode_stats stats;
    struct pkt a, b;

    if (caplen < 14 || data[12] != 0x08 || data[13] != 0x00)
        return;
    memcpy(tagged, data, 12);
    tagged[12] = 0x81;
    tagged[13] = 0x00;
    tagged[14] = 0;
    tagged[15] = 7;
    memcpy(tagged + 16, data + 12, caplen - 12);
    enum decode_reason ra = decode_frame(DLT_EN10MB, data, caplen, wirelen, 0, &a, &stats);
    enum decode_reason rb =
        decode_frame(DLT_EN10MB, tagged, caplen + 4, wirelen + 4, 0, &b, &stats);
    if (ra != rb)
        abort();
    if (ra != DECODE_OK)
        return;
    if ((a.payload == NULL) != (b.payload == NULL) ||
        (a.payload && a.payload - data != b.payload - tagged - 4))
        abort();
    b.caplen = a.caplen;
    b.wirelen = a.wirelen;
    b.payload = a.payload;
    if (memcmp(&a, &b, sizeof a) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct decode_stats stats;
    uint32_t caplen = size > 65535 ? 65535 : (uint32_t)size;
    uint32_t wirelen = caplen;

    if (caplen > 0 && (data[0] & 1))
        wirelen = caplen + data[0];
    fast_equals_general(data, caplen, wirelen);
    for (size_t i = 0; i < sizeof link_types / sizeof link_types[0]; i++) {
        struct pkt p;
        enum decode_reason r = decode_frame(link_types[i], data, caplen, wirelen, 0, &p, &stats);
        if ((unsigned)r >= DECODE_REASON_COUNT)
            abort();
        if (r != DECODE_OK)
            continue;
        if (p.ip_version != 4 && p.ip_version != 6)
            abort();
        if (p.payload != NULL && (p.payload < data || p.payload + p.payload_len > data + caplen ||
                                  p.payload_len > p.payload_wire_len))
            abort();
        if (p.later_fragment && (!p.fragment || p.payload != NULL || p.sport || p.dport))
            abort();
    }
    return 0;
}
