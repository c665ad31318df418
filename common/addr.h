/* addr.h — IPv4/IPv6 addresses and prefixes in one 16-byte form.
 *
 * IPv4 is held as an IPv4-mapped IPv6 address (::ffff:a.b.c.d), so tables
 * and hashes need one key type and one comparison for both families.
 */
#ifndef CANH_ADDR_H
#define CANH_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct ipaddr {
    uint8_t b[16];
};

struct cidr {
    struct ipaddr net;
    uint8_t bits; /* prefix length on the 128-bit form (v4 /24 = 120) */
};

/* A small list of prefixes (allow lists, home networks, asset addresses). */
struct netset {
    struct cidr *v;
    size_t n;
};

#define ADDR_STRLEN 46

static inline void addr_from_v4(struct ipaddr *a, const uint8_t v4[4])
{
    memset(a->b, 0, 10);
    a->b[10] = 0xff;
    a->b[11] = 0xff;
    memcpy(a->b + 12, v4, 4);
}

static inline void addr_from_v6(struct ipaddr *a, const uint8_t v6[16]) { memcpy(a->b, v6, 16); }

static inline bool addr_is_v4(const struct ipaddr *a)
{
    static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return memcmp(a->b, prefix, 12) == 0;
}

static inline bool addr_eq(const struct ipaddr *a, const struct ipaddr *b)
{
    return memcmp(a->b, b->b, 16) == 0;
}

/* Text form: dotted quad for v4, RFC 5952 for v6.  buf >= ADDR_STRLEN. */
const char *addr_format(const struct ipaddr *a, char *buf, size_t len);
/* 0 on success, -1 when the text is not an address. */
int addr_parse(const char *text, struct ipaddr *out);

/* "198.51.100.0/24", "2001:db8::/32" or a bare address (host prefix). */
int cidr_parse(const char *text, struct cidr *out);
bool cidr_contains(const struct cidr *c, const struct ipaddr *a);
const char *cidr_format(const struct cidr *c, char *buf, size_t len);

/* Comma/space separated prefixes; on error *bad points at the bad item. */
int netset_parse(const char *text, struct netset *out, char *bad, size_t badlen);
bool netset_contains(const struct netset *s, const struct ipaddr *a);
void netset_free(struct netset *s);

#endif
