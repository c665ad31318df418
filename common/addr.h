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

/* Longest-prefix lookup in a few hash probes: one open-addressing table
 * of masked networks, probed once per distinct prefix length (longest
 * first).  Built once at load time; lookups allocate nothing. */
struct prefix_slot {
    struct ipaddr net;
    uint8_t bits;
    uint8_t used;
    int32_t value;
};

#define PREFIX_CACHE_SIZE 256
/* Filter keys: the top PREFIX_FILTER_KEY_BITS bits of the IPv4 address or
 * of the IPv6 one (a separate half for each family). */
#define PREFIX_FILTER_KEY_BITS 12
#define PREFIX_FILTER_BITS (2u << PREFIX_FILTER_KEY_BITS)

/* Recent answers: most packets name the same few agency addresses, so a
 * small direct-mapped cache answers them with one 16-byte compare.  A
 * miss (or an attacker evicting entries) only costs the full lookup. */
struct prefix_cache_entry {
    struct ipaddr addr;
    int32_t value;
    uint32_t valid;
};

struct prefix_index {
    struct prefix_slot *slots;
    uint32_t mask;     /* slots - 1 (a power of two minus one) */
    uint8_t lens[129]; /* distinct prefix lengths, longest first */
    uint8_t n_lens;
    struct prefix_cache_entry *cache; /* PREFIX_CACHE_SIZE entries */
    /* One bit per address key that some prefix covers: most addresses
     * that match nothing (random spoofed sources) are turned away by one
     * bit test, before the cache, which they would only flush. */
    uint8_t *filter; /* PREFIX_FILTER_BITS / 8 bytes */
};

/* capacity: how many prefixes will be added.  -1 when out of memory. */
int prefix_index_init(struct prefix_index *ix, size_t capacity);
/* The first value added for a network stays (duplicates are ignored). */
void prefix_index_add(struct prefix_index *ix, const struct cidr *c, int32_t value);
/* prefix_index_lookup past the filter: the cache, then the table. */
int32_t prefix_index_lookup_filtered(const struct prefix_index *ix, const struct ipaddr *a);
void prefix_index_free(struct prefix_index *ix);

/* A small list of prefixes (allow lists, home networks, asset addresses). */
struct netset {
    struct cidr *v;
    size_t n;
    struct prefix_index index; /* built by netset_parse */
};

#define ADDR_STRLEN 46

static inline void addr_from_v4(struct ipaddr *a, const uint8_t v4[4])
{
    memset(a->b, 0, 10);
    a->b[10] = 0xff;
    a->b[11] = 0xff;
    memcpy(a->b + 12, v4, 4);
}

static inline void addr_from_v6(struct ipaddr *a, const uint8_t v6[16])
{
    memcpy(a->b, v6, 16);
}

static inline bool addr_is_v4(const struct ipaddr *a)
{
    /* Two word compares: this runs several times per packet. */
    static const uint8_t mapped[4] = {0, 0, 0xff, 0xff};
    uint64_t high;
    uint32_t mid, want;
    memcpy(&high, a->b, 8);
    memcpy(&mid, a->b + 8, 4);
    memcpy(&want, mapped, 4);
    return high == 0 && mid == want;
}

/* The filter's key of a (see struct prefix_index). */
static inline uint32_t prefix_filter_key(const struct ipaddr *a)
{
    const unsigned shift = 16 - PREFIX_FILTER_KEY_BITS;
    if (addr_is_v4(a))
        return (1u << PREFIX_FILTER_KEY_BITS) + (((uint32_t)a->b[12] << 8 | a->b[13]) >> shift);
    return ((uint32_t)a->b[0] << 8 | a->b[1]) >> shift;
}

/* The value of the longest prefix containing a, or -1.  Updates the
 * cache: not for concurrent use from several threads.  Inline up to the
 * filter, which turns away most addresses of a flood from random sources
 * with one bit test and no call. */
static inline int32_t prefix_index_lookup(const struct prefix_index *ix, const struct ipaddr *a)
{
    if (!ix->slots)
        return -1;
    uint32_t key = prefix_filter_key(a);
    if (!(ix->filter[key >> 3] & (1u << (key & 7))))
        return -1;
    return prefix_index_lookup_filtered(ix, a);
}

/* prefix_index_lookup for an address known to be IPv4-mapped (a packet
 * of ip_version 4): its filter key without the family test. */
static inline int32_t prefix_index_lookup_v4(const struct prefix_index *ix, const struct ipaddr *a)
{
    const unsigned shift = 16 - PREFIX_FILTER_KEY_BITS;
    uint32_t key = (1u << PREFIX_FILTER_KEY_BITS) + (((uint32_t)a->b[12] << 8 | a->b[13]) >> shift);
    if (!(ix->filter[key >> 3] & (1u << (key & 7))))
        return -1;
    return prefix_index_lookup_filtered(ix, a);
}

/* The value of the longest prefix of ix that holds all of c (one no
 * longer than c containing c's network), or -1; the cache is not used.
 * For building one index from others (agent/classify.c). */
int32_t prefix_index_lookup_cidr(const struct prefix_index *ix, const struct cidr *c);

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
/* Rebuild the index after v was changed by hand; -1 out of memory. */
int netset_reindex(struct netset *s);
void netset_free(struct netset *s);

#endif
