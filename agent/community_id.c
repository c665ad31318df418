/* community_id.c — see community_id.h. */
#include "agent/community_id.h"

#include <nettle/base64.h>
#include <nettle/sha1.h>
#include <string.h>

#define PROTO_TCP_NUM 6
#define PROTO_UDP_NUM 17
#define PROTO_SCTP_NUM 132

static void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

int community_id_v1(uint16_t seed, const struct ipaddr *src, uint16_t src_port,
                    const struct ipaddr *dst, uint16_t dst_port, uint8_t proto, char *out)
{
    if (proto != PROTO_TCP_NUM && proto != PROTO_UDP_NUM && proto != PROTO_SCTP_NUM)
        return -1;
    if (!src_port || !dst_port || addr_is_v4(src) != addr_is_v4(dst))
        return -1;

    /* Both directions hash alike: the smaller (address, port) goes first.
     * IPv4-mapped forms share their first 12 bytes, so comparing all 16
     * orders IPv4 addresses as their 4 bytes would. */
    int cmp = memcmp(src->b, dst->b, sizeof(src->b));
    if (cmp > 0 || (cmp == 0 && src_port > dst_port)) {
        const struct ipaddr *a = src;
        uint16_t p = src_port;
        src = dst;
        src_port = dst_port;
        dst = a;
        dst_port = p;
    }

    size_t addr_len = addr_is_v4(src) ? 4 : 16, addr_off = 16 - addr_len;
    uint8_t buf[2 + 16 + 16 + 2 + 4], *w = buf;
    put_be16(w, seed);
    w += 2;
    memcpy(w, src->b + addr_off, addr_len);
    w += addr_len;
    memcpy(w, dst->b + addr_off, addr_len);
    w += addr_len;
    *w++ = proto;
    *w++ = 0; /* padding */
    put_be16(w, src_port);
    w += 2;
    put_be16(w, dst_port);
    w += 2;

    uint8_t digest[SHA1_DIGEST_SIZE];
    struct sha1_ctx sha;
    sha1_init(&sha);
    sha1_update(&sha, (size_t)(w - buf), buf);
    sha1_digest(&sha, sizeof(digest), digest);

    memcpy(out, "1:", 2);
    base64_encode_raw(out + 2, sizeof(digest), digest);
    out[2 + BASE64_ENCODE_RAW_LENGTH(sizeof(digest))] = '\0';
    return 0;
}
