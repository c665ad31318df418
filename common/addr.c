/* addr.c — see addr.h. */
#include "common/addr.h"

#include "common/hash.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

const char *addr_format(const struct ipaddr *a, char *buf, size_t len)
{
    if (addr_is_v4(a)) {
        /* Dotted quads by hand: inet_ntop took ~1,800 instructions, a
         * tenth of an event's text. */
        if (len < INET_ADDRSTRLEN) {
            inet_ntop(AF_INET, a->b + 12, buf, (socklen_t)len);
            return buf;
        }
        size_t n = 0;
        for (int i = 12; i < 16; i++) {
            unsigned v = a->b[i];
            if (v >= 100)
                buf[n++] = (char)('0' + v / 100);
            if (v >= 10)
                buf[n++] = (char)('0' + v / 10 % 10);
            buf[n++] = (char)('0' + v % 10);
            buf[n++] = i < 15 ? '.' : '\0';
        }
    } else {
        inet_ntop(AF_INET6, a->b, buf, (socklen_t)len);
    }
    return buf;
}

int addr_parse(const char *text, struct ipaddr *out)
{
    uint8_t raw[16];
    if (inet_pton(AF_INET, text, raw) == 1) {
        addr_from_v4(out, raw);
        return 0;
    }
    if (inet_pton(AF_INET6, text, raw) == 1) {
        addr_from_v6(out, raw);
        return 0;
    }
    return -1;
}

static void cidr_mask(struct cidr *c)
{
    for (int i = 0; i < 16; i++) {
        int keep = (int)c->bits - i * 8;
        if (keep >= 8)
            continue;
        c->net.b[i] &= keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
    }
}

int cidr_parse(const char *text, struct cidr *out)
{
    char host[ADDR_STRLEN + 8];
    const char *slash = strchr(text, '/');
    size_t hostlen = slash ? (size_t)(slash - text) : strlen(text);
    if (hostlen == 0 || hostlen >= sizeof(host))
        return -1;
    memcpy(host, text, hostlen);
    host[hostlen] = '\0';
    if (addr_parse(host, &out->net) < 0)
        return -1;
    int max = addr_is_v4(&out->net) ? 32 : 128;
    int bits = max;
    if (slash) {
        char *end;
        if (!isdigit((unsigned char)slash[1]))
            return -1;
        long v = strtol(slash + 1, &end, 10);
        if (*end != '\0' || v < 0 || v > max)
            return -1;
        bits = (int)v;
    }
    out->bits = (uint8_t)(max == 32 ? bits + 96 : bits);
    cidr_mask(out);
    return 0;
}

bool cidr_contains(const struct cidr *c, const struct ipaddr *a)
{
    int full = c->bits / 8, rest = c->bits % 8;
    if (memcmp(c->net.b, a->b, (size_t)full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a->b[full] & mask) == c->net.b[full];
}

const char *cidr_format(const struct cidr *c, char *buf, size_t len)
{
    char host[ADDR_STRLEN];
    int bits = addr_is_v4(&c->net) ? c->bits - 96 : c->bits;
    snprintf(buf, len, "%s/%d", addr_format(&c->net, host, sizeof(host)), bits);
    return buf;
}

int prefix_index_init(struct prefix_index *ix, size_t capacity)
{
    memset(ix, 0, sizeof(*ix));
    uint32_t size = 8;
    while (size < capacity * 2)
        size <<= 1;
    ix->slots = calloc(size, sizeof(*ix->slots));
    ix->cache = calloc(PREFIX_CACHE_SIZE, sizeof(*ix->cache));
    ix->filter = calloc(PREFIX_FILTER_BITS / 8, 1);
    if (!ix->slots || !ix->cache || !ix->filter) {
        prefix_index_free(ix);
        return -1;
    }
    ix->mask = size - 1;
    return 0;
}

static uint32_t prefix_slot_of(const struct ipaddr *net, uint8_t bits)
{
    /* Keys come from configuration, not from the wire: no secret seed. */
    return (uint32_t)hash_bytes(net->b, 16, bits);
}

/* Set the bits of the keys whose first fixed_bits bits are those of key
 * (key's other bits are zero: the network is masked). */
static void filter_set(struct prefix_index *ix, uint32_t key, int fixed_bits)
{
    uint32_t n =
        fixed_bits >= PREFIX_FILTER_KEY_BITS ? 1u : 1u << (PREFIX_FILTER_KEY_BITS - fixed_bits);
    for (uint32_t k = key; k < key + n; k++)
        ix->filter[k >> 3] |= (uint8_t)(1u << (k & 7));
}

static void filter_add(struct prefix_index *ix, const struct cidr *c)
{
    if (addr_is_v4(&c->net) && c->bits >= 96) {
        filter_set(ix, prefix_filter_key(&c->net), c->bits - 96);
        return;
    }
    /* A short IPv6 prefix (::/0, ::/80) may hold IPv4-mapped addresses. */
    static const struct ipaddr v4_any = {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0, 0}};
    if (c->bits <= 96 && cidr_contains(c, &v4_any))
        filter_set(ix, prefix_filter_key(&v4_any), 0);
    filter_set(ix, prefix_filter_key(&c->net), c->bits);
}

void prefix_index_add(struct prefix_index *ix, const struct cidr *c, int32_t value)
{
    uint32_t i = prefix_slot_of(&c->net, c->bits) & ix->mask;
    while (ix->slots[i].used) {
        if (ix->slots[i].bits == c->bits && addr_eq(&ix->slots[i].net, &c->net))
            return;
        i = (i + 1) & ix->mask;
    }
    ix->slots[i] = (struct prefix_slot){.net = c->net, .bits = c->bits, .used = 1, .value = value};
    filter_add(ix, c);
    memset(ix->cache, 0, PREFIX_CACHE_SIZE * sizeof(*ix->cache));
    for (int k = 0; k < ix->n_lens; k++)
        if (ix->lens[k] == c->bits)
            return;
    int k = ix->n_lens++;
    while (k > 0 && ix->lens[k - 1] < c->bits) {
        ix->lens[k] = ix->lens[k - 1];
        k--;
    }
    ix->lens[k] = c->bits;
}

/* The value of the longest prefix of the index, no longer than bits, that
 * holds net; -1 when none. */
static int32_t prefix_index_longest(const struct prefix_index *ix, const struct ipaddr *net,
                                    uint8_t bits)
{
    for (int k = 0; k < ix->n_lens; k++) {
        if (ix->lens[k] > bits)
            continue;
        struct cidr m = {.net = *net, .bits = ix->lens[k]};
        cidr_mask(&m);
        uint32_t i = prefix_slot_of(&m.net, m.bits) & ix->mask;
        while (ix->slots[i].used) {
            if (ix->slots[i].bits == m.bits && addr_eq(&ix->slots[i].net, &m.net))
                return ix->slots[i].value;
            i = (i + 1) & ix->mask;
        }
    }
    return -1;
}

static int32_t prefix_index_search(const struct prefix_index *ix, const struct ipaddr *a)
{
    return prefix_index_longest(ix, a, 128);
}

int32_t prefix_index_lookup_cidr(const struct prefix_index *ix, const struct cidr *c)
{
    return ix->slots ? prefix_index_longest(ix, &c->net, c->bits) : -1;
}

/* A cache miss: the table's answer, remembered in e.  Kept out of line so
 * that a hit costs no saved registers. */
static __attribute__((noinline)) int32_t prefix_index_fill(const struct prefix_index *ix,
                                                           struct prefix_cache_entry *e,
                                                           const struct ipaddr *a)
{
    int32_t value = prefix_index_search(ix, a);
    e->addr = *a;
    e->value = value;
    e->valid = 1;
    return value;
}

int32_t prefix_index_lookup_filtered(const struct prefix_index *ix, const struct ipaddr *a)
{
    uint32_t tail;
    memcpy(&tail, a->b + 12, 4);
    struct prefix_cache_entry *e = &ix->cache[(tail * 2654435761u) >> 24];
    if (e->valid && addr_eq(&e->addr, a))
        return e->value;
    return prefix_index_fill(ix, e, a);
}

void prefix_index_free(struct prefix_index *ix)
{
    free(ix->slots);
    free(ix->cache);
    free(ix->filter);
    memset(ix, 0, sizeof(*ix));
}

int netset_parse(const char *text, struct netset *out, char *bad, size_t badlen)
{
    memset(out, 0, sizeof(*out));
    const char *p = text;
    while (*p) {
        while (*p == ',' || isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        const char *start = p;
        while (*p && *p != ',' && !isspace((unsigned char)*p))
            p++;
        char item[ADDR_STRLEN + 8];
        size_t n = (size_t)(p - start);
        struct cidr c;
        if (n >= sizeof(item)) {
            snprintf(bad, badlen, "%.*s", (int)n, start);
            goto fail;
        }
        memcpy(item, start, n);
        item[n] = '\0';
        if (cidr_parse(item, &c) < 0) {
            snprintf(bad, badlen, "%s", item);
            goto fail;
        }
        struct cidr *grown = realloc(out->v, (out->n + 1) * sizeof(*grown));
        if (!grown) {
            snprintf(bad, badlen, "out of memory");
            goto fail;
        }
        out->v = grown;
        out->v[out->n++] = c;
    }
    if (netset_reindex(out) < 0) {
        snprintf(bad, badlen, "out of memory");
        goto fail;
    }
    return 0;
fail:
    netset_free(out);
    return -1;
}

int netset_reindex(struct netset *s)
{
    prefix_index_free(&s->index);
    if (prefix_index_init(&s->index, s->n) < 0)
        return -1;
    for (size_t i = 0; i < s->n; i++)
        prefix_index_add(&s->index, &s->v[i], (int32_t)i);
    return 0;
}

bool netset_contains(const struct netset *s, const struct ipaddr *a)
{
    if (s->n == 0)
        return false;
    if (s->index.slots)
        return prefix_index_lookup(&s->index, a) >= 0;
    for (size_t i = 0; i < s->n; i++)
        if (cidr_contains(&s->v[i], a))
            return true;
    return false;
}

void netset_free(struct netset *s)
{
    free(s->v);
    prefix_index_free(&s->index);
    s->v = NULL;
    s->n = 0;
}
