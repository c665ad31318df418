/* tls_servers.c — see tls_servers.h.  A server's slot is found by a
 * seeded hash of its address among 4 neighbours; names live in a small
 * hash-indexed array beside the top-K of their hashes, fingerprints are
 * their own 16-byte keys.
 */
#include "agent/detect/tls/tls_servers.h"

#include <stdlib.h>
#include <string.h>

#include "agent/detect/sketch.h"
#include "common/hash.h"

#define NAME_SLOTS 16
#define NAME_MAX_LEN 128
#define PROBES 4

struct sni_name {
    uint64_t hash;
    char name[NAME_MAX_LEN];
};

struct tls_server {
    bool used;
    struct ipaddr addr;
    uint64_t last_us;
    char last_sni[NAME_MAX_LEN];
    struct topk snis, ja3s;
    struct sni_name names[NAME_SLOTS];
};

struct tls_servers {
    struct tls_server *v;
    /* The slots' top-K pools, two of TOPK_POOL_ITEMS(2 × top) a slot,
     * handed out when a slot is first claimed: untouched slots stay out of
     * the resident set. */
    struct topk_item *tops;
    uint32_t n, top;
    uint64_t seed, replaced;
};

struct tls_servers *tls_servers_new(uint32_t slots, uint32_t top, uint64_t seed)
{
    struct tls_servers *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->n = slots ? slots : 1;
    s->top = top < 1 ? 1 : top > 16 ? 16 : top;
    s->seed = seed ^ 0x746c737365727600ull;
    s->v = calloc(s->n, sizeof(*s->v));
    s->tops = calloc((size_t)s->n * 2 * TOPK_POOL_ITEMS((size_t)s->top * 2), sizeof(*s->tops));
    if (!s->v || !s->tops)
        goto err;
    return s;
err:
    tls_servers_free(s);
    return NULL;
}

void tls_servers_free(struct tls_servers *s)
{
    if (!s)
        return;
    free(s->v);
    free(s->tops);
    free(s);
}

static struct tls_server *find(const struct tls_servers *s, const struct ipaddr *a,
                               struct tls_server **victim)
{
    uint64_t h = hash_bytes(a->b, 16, s->seed);
    if (victim)
        *victim = NULL;
    for (uint32_t i = 0; i < PROBES; i++) {
        struct tls_server *t = &s->v[(h + i) % s->n];
        if (t->used && addr_eq(&t->addr, a))
            return t;
        if (victim &&
            (!*victim || ((*victim)->used && (!t->used || t->last_us < (*victim)->last_us))))
            *victim = t;
    }
    return NULL;
}

void tls_servers_client_hello(struct tls_servers *s, const struct ipaddr *server,
                              const struct tls_hello *h, uint64_t now_us)
{
    struct tls_server *victim, *t = find(s, server, &victim);
    if (!t) {
        t = victim;
        if (t->used)
            s->replaced++;
        memset(t, 0, sizeof(*t));
        size_t pool = TOPK_POOL_ITEMS((size_t)s->top * 2);
        struct topk_item *tops = s->tops + (size_t)(t - s->v) * 2 * pool;
        topk_init_in(&t->snis, tops, s->top * 2);
        topk_init_in(&t->ja3s, tops + pool, s->top * 2);
        t->used = true;
        t->addr = *server;
    }
    t->last_us = now_us;
    uint8_t key[16] = {0};
    if (h->sni[0]) {
        size_t n = strnlen(h->sni, NAME_MAX_LEN - 1);
        memcpy(t->last_sni, h->sni, n);
        t->last_sni[n] = '\0';
        uint64_t hash = hash_bytes(t->last_sni, n, s->seed);
        memcpy(key, &hash, 8);
        topk_add(&t->snis, key, 1);
        struct sni_name *nm = &t->names[hash % NAME_SLOTS];
        if (nm->hash != hash) {
            nm->hash = hash;
            memcpy(nm->name, t->last_sni, n + 1);
        }
    }
    if (h->has_ja3)
        topk_add(&t->ja3s, h->ja3_md5, 1);
}

const char *tls_servers_sni(const struct tls_servers *s, const struct ipaddr *server)
{
    const struct tls_server *t = find(s, server, NULL);
    return t && t->last_sni[0] ? t->last_sni : NULL;
}

void tls_servers_evidence(const struct tls_servers *s, const struct ipaddr *server, json_t *e)
{
    const struct tls_server *t = find(s, server, NULL);
    if (!t)
        return;
    if (t->last_sni[0])
        json_object_set_new(e, "tls_sni", json_string(t->last_sni));
    struct topk_item items[16];
    uint32_t n = topk_sorted(&t->snis, items, s->top);
    json_t *snis = json_array();
    for (uint32_t i = 0; i < n; i++) {
        uint64_t hash;
        memcpy(&hash, items[i].key, 8);
        const struct sni_name *nm = &t->names[hash % NAME_SLOTS];
        json_array_append_new(snis, json_pack("{s:s,s:I}", "sni", nm->hash == hash ? nm->name : "?",
                                              "handshakes", (json_int_t)items[i].count));
    }
    json_object_set_new(e, "top_sni", snis);
    n = topk_sorted(&t->ja3s, items, s->top);
    json_t *ja3s = json_array();
    for (uint32_t i = 0; i < n; i++) {
        char hex[33];
        for (size_t k = 0; k < 16; k++) {
            static const char digits[] = "0123456789abcdef";
            hex[2 * k] = digits[items[i].key[k] >> 4];
            hex[2 * k + 1] = digits[items[i].key[k] & 15];
        }
        hex[32] = '\0';
        json_array_append_new(
            ja3s, json_pack("{s:s,s:I}", "ja3", hex, "handshakes", (json_int_t)items[i].count));
    }
    json_object_set_new(e, "top_ja3", ja3s);
}

void tls_servers_reset_tops(struct tls_servers *s, const struct ipaddr *server)
{
    struct tls_server *t = find(s, server, NULL);
    if (!t)
        return;
    topk_reset(&t->snis);
    topk_reset(&t->ja3s);
}

uint64_t tls_servers_replaced(const struct tls_servers *s)
{
    return s->replaced;
}
