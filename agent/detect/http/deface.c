/* deface.c — what a web server serves that it should not: HTML with a
 * defacement marker ("hacked by" ...) in its first body_inspect bytes
 * (defacement), and monitored URLs whose body hashes to something else
 * than the declared or the learned SHA-256 (page_changed).  Compressed
 * answers are inflated: prefixes through one shared stream, hashed bodies
 * through a small pool of zlib slots, one per answer being hashed (more
 * at once are skipped and counted).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/detect/http/http_internal.h"
#include "common/hash.h"

struct http_page {
    uint64_t key, lru_us;
    bool used;
    uint8_t sha256[32];
};

struct http_zslot {
    z_stream z;
    bool ready, busy;
};

/* ---- page_changed ---------------------------------------------------- */

/* The server served what it should not (both kinds are its impact):
 * report it with the answer's status and size; evidence e is stolen. */
static void report_served(struct http_det *d, enum http_kind kind, const struct flow *f,
                          const struct http_side *s, const struct http_req *q, json_t *e)
{
    struct http_occurrence o = {.kind = kind,
                                .flow = f,
                                .req = q,
                                .status = s->status,
                                .response_bytes = s->body.decoded,
                                .impact = true,
                                .extra = e};
    http_report(d, &o);
}

int8_t http_deface_monitor_index(const struct http_det *d, const struct flow *f, const char *path)
{
    const struct asset *a = classify_asset(&d->env->inv, &f->server);
    if (!a)
        return -1;
    for (size_t i = 0; i < a->n_monitor && i < 127; i++)
        if (strcasecmp(a->monitor[i].path, path) == 0)
            return (int8_t)i;
    return -1;
}

static struct http_page *page_for(struct http_det *d, const struct flow *f, const char *path)
{
    uint64_t h = hash_bytes(f->server.b, 16, d->env->hash_seed);
    h = hash_bytes(&f->server_port, 2, h);
    uint64_t key = hash_bytes(path, strlen(path), h);
    struct http_page *victim = NULL;
    for (uint32_t i = 0; i < 4; i++) {
        struct http_page *b = &d->pages[(key + i) % d->n_pages];
        if (b->used && b->key == key)
            return b;
        if (!victim || !b->used || (victim->used && b->lru_us < victim->lru_us))
            victim = b;
    }
    memset(victim, 0, sizeof(*victim));
    victim->key = key;
    return victim;
}

static void hex32(const uint8_t *h, char *out)
{
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

static void page_done(struct http_det *d, struct flow *f, struct http_side *s,
                      const struct http_req *q)
{
    uint8_t digest[SHA256_DIGEST_SIZE];
    sha256_digest(&s->sha, sizeof(digest), digest);
    s->hashing = false;
    const struct asset *a = classify_asset(&d->env->inv, &f->server);
    char path[256];
    http_norm_path(q->target, path, sizeof(path));
    const uint8_t *old = NULL;
    bool declared = false;
    if (a && q->monitor >= 0 && (size_t)q->monitor < a->n_monitor &&
        a->monitor[q->monitor].has_hash) {
        old = a->monitor[q->monitor].sha256;
        declared = true;
    } else if (d->p.learn_pages) {
        struct http_page *b = page_for(d, f, path);
        b->lru_us = d->now_us;
        if (!b->used) {
            b->used = true;
            memcpy(b->sha256, digest, 32);
            d->c.pages_learned++;
            return;
        }
        old = b->sha256;
    }
    if (!old || memcmp(old, digest, 32) == 0)
        return;
    char oh[65], nh[65];
    hex32(old, oh);
    hex32(digest, nh);
    json_t *e = json_object();
    json_object_set_new(e, "old_sha256", json_string(oh));
    json_object_set_new(e, "new_sha256", json_string(nh));
    json_object_set_new(e, "baseline", json_string(declared ? "declared" : "learned"));
    json_object_set_new(e, "monitored_path", json_string(path));
    report_served(d, HTTP_K_PAGE_CHANGED, f, s, q, e);
}

void http_deface_release(struct http_det *d, struct http_side *s)
{
    if (s->zslot)
        d->zslots[s->zslot - 1].busy = false;
    s->zslot = 0;
}

void http_deface_hash_feed(struct http_det *d, struct http_side *s, const uint8_t *p, size_t n)
{
    if (!s->hashing || s->hash_failed)
        return;
    if (!s->zslot) {
        sha256_update(&s->sha, n, p);
        return;
    }
    z_stream *z = &d->zslots[s->zslot - 1].z;
    uint8_t out[4096];
    z->next_in = (Bytef *)(uintptr_t)p;
    z->avail_in = (uInt)n;
    /* Bounded: each round either fills out or uses all the input. */
    for (int round = 0; round < 4096 && (z->avail_in > 0); round++) {
        z->next_out = out;
        z->avail_out = sizeof(out);
        int rc = inflate(z, Z_NO_FLUSH);
        size_t got = sizeof(out) - z->avail_out;
        if (got)
            sha256_update(&s->sha, got, out);
        if (rc == Z_STREAM_END)
            break;
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            d->c.inflate_errors++;
            s->hash_failed = true;
            return;
        }
        if (got == 0 && rc == Z_BUF_ERROR)
            break;
    }
}

static bool content_is_html(struct http_slice ct)
{
    return http_memcasemem(ct.p, ct.len, "html", 4) != NULL;
}

/* The <title> of an HTML prefix, printable. */
static void html_title(const uint8_t *t, size_t n, char *out, size_t cap)
{
    out[0] = '\0';
    const uint8_t *a = http_memcasemem(t, n, "<title", 6);
    if (!a)
        return;
    const uint8_t *gt = memchr(a, '>', n - (size_t)(a - t));
    if (!gt)
        return;
    gt++;
    size_t left = n - (size_t)(gt - t);
    const uint8_t *e = http_memcasemem(gt, left, "</title", 7);
    http_excerpt(out, cap, gt, e ? (size_t)(e - gt) : left);
}

static void marker_pairs_build(struct http_det *d)
{
    const struct http_strlist *m = &d->p.markers;
    memset(d->marker_pairs, 0, sizeof(d->marker_pairs));
    d->marker_short = false;
    for (size_t i = 0; i < m->n; i++) {
        if (m->len[i] < 2) {
            d->marker_short = true;
            continue;
        }
        uint32_t pair = (uint32_t)(uint8_t)m->v[i][0] << 8 | (uint8_t)m->v[i][1];
        d->marker_pairs[pair / 64] |= 1ull << (pair % 64);
    }
    d->markers_ready = true;
}

/* The first marker, in list order, that occurs in the folded text, or
 * NULL: what a memmem per marker finds, in one pass over the text that
 * stops only where a marker's first two bytes are. */
static const char *find_marker(struct http_det *d, const uint8_t *t, size_t n)
{
    const struct http_strlist *m = &d->p.markers;
    if (!d->markers_ready)
        marker_pairs_build(d);
    if (d->marker_short) {
        for (size_t i = 0; i < m->n; i++)
            if (memmem(t, n, m->v[i], m->len[i]))
                return m->v[i];
        return NULL;
    }
    size_t best = m->n; /* the lowest index found so far */
    for (size_t at = 0; at + 1 < n && best > 0; at++) {
        uint32_t pair = (uint32_t)t[at] << 8 | t[at + 1];
        if (!(d->marker_pairs[pair / 64] & (1ull << (pair % 64))))
            continue;
        for (size_t i = 0; i < best; i++) {
            if (m->len[i] <= n - at && (uint8_t)m->v[i][0] == t[at] &&
                memcmp(t + at, m->v[i], m->len[i]) == 0) {
                best = i;
                break;
            }
        }
    }
    return best < m->n ? m->v[best] : NULL;
}

static void check_defacement(struct http_det *d, struct flow *f, struct http_side *s,
                             const struct http_req *q)
{
    if (!s->collect || s->prefix_len == 0 || !d->p.rule[HTTP_K_DEFACEMENT])
        return;
    const uint8_t *text = http_side_prefix(d, f, FLOW_TO_CLIENT);
    size_t n = s->prefix_len;
    if (s->coding == HTTP_CODING_GZIP || s->coding == HTTP_CODING_DEFLATE) {
        if (!d->zprefix_ready)
            return;
        long got = http_inflate_prefix(&d->zprefix, (enum http_coding)s->coding, text, n,
                                       d->scratch, d->scratch_cap / 2);
        if (got <= 0) {
            d->c.inflate_errors++;
            return;
        }
        text = d->scratch;
        n = (size_t)got;
    } else if (s->coding != HTTP_CODING_IDENTITY) {
        return;
    }
    if (!s->is_html) {
        size_t i = 0;
        while (i < n && isspace(text[i]))
            i++;
        if (i >= n || text[i] != '<')
            return;
    }
    /* Markers are stored lower-case: fold the text once, then a plain
     * memmem per marker. */
    uint8_t *folded = d->scratch + d->scratch_cap / 2;
    size_t fn = n < d->scratch_cap / 2 ? n : d->scratch_cap / 2;
    http_fold_lower(folded, text, fn);
    const char *marker = find_marker(d, folded, fn);
    if (!marker)
        return;
    json_t *e = json_object();
    json_object_set_new(e, "marker", json_string(marker));
    char title[128];
    html_title(text, n, title, sizeof(title));
    if (title[0])
        json_object_set_new(e, "title", json_string(title));
    char ex[HTTP_EXCERPT_LEN * 2];
    const uint8_t *at = http_memcasemem(text, n, marker, strlen(marker));
    size_t from = at && at - text > 40 ? (size_t)(at - text) - 40 : 0;
    http_excerpt(ex, sizeof(ex), text + from, n - from < 160 ? n - from : 160);
    json_object_set_new(e, "excerpt", json_string(ex));
    if (s->coding != HTTP_CODING_IDENTITY)
        json_object_set_new(e, "content_encoding",
                            json_string(s->coding == HTTP_CODING_GZIP ? "gzip" : "deflate"));
    report_served(d, HTTP_K_DEFACEMENT, f, s, q, e);
}

/* ---- the answer's life ------------------------------------------------ */

void http_deface_response_head(struct http_det *d, struct http_side *s, const struct http_req *q,
                               const struct http_head *h)
{
    s->is_html = content_is_html(h->content_type);
    s->collect = d->p.rule[HTTP_K_DEFACEMENT] && (s->is_html || h->content_type.len == 0);
    if (q->monitor < 0 || h->status != 200 || !d->p.rule[HTTP_K_PAGE_CHANGED])
        return;
    if (h->coding == HTTP_CODING_IDENTITY) {
        s->hashing = true;
    } else if (h->coding == HTTP_CODING_GZIP || h->coding == HTTP_CODING_DEFLATE) {
        for (uint32_t i = 0; i < d->n_zslots; i++) {
            if (d->zslots[i].ready && !d->zslots[i].busy &&
                inflateReset2(&d->zslots[i].z, h->coding == HTTP_CODING_GZIP ? 15 + 16 : 15) ==
                    Z_OK) {
                d->zslots[i].busy = true;
                s->zslot = (uint16_t)(i + 1);
                s->hashing = true;
                break;
            }
        }
    }
    if (s->hashing)
        sha256_init(&s->sha);
    else
        d->c.page_hash_skipped++;
}

void http_deface_response_done(struct http_det *d, struct flow *f, struct http_side *s,
                               const struct http_req *q, bool complete)
{
    check_defacement(d, f, s, q);
    if (s->hashing && complete && !s->hash_failed)
        page_done(d, f, s, q);
    s->hashing = false;
    http_deface_release(d, s);
}

int http_deface_init(struct http_det *d)
{
    d->n_pages = (uint32_t)d->p.max_pages;
    d->pages = calloc(d->n_pages, sizeof(*d->pages));
    d->n_zslots = (uint32_t)d->p.hash_slots;
    d->zslots = calloc(d->n_zslots, sizeof(*d->zslots));
    /* Compressed text grows: room for a few times the prefix. */
    d->scratch_cap = 8 * d->p.body_inspect;
    d->scratch = malloc(d->scratch_cap);
    if (!d->pages || !d->zslots || !d->scratch)
        return -1;
    for (uint32_t i = 0; i < d->n_zslots; i++)
        d->zslots[i].ready = inflateInit2(&d->zslots[i].z, 15 + 32) == Z_OK;
    d->zprefix_ready = inflateInit2(&d->zprefix, 15 + 32) == Z_OK;
    return 0;
}

void http_deface_free(struct http_det *d)
{
    free(d->pages);
    if (d->zslots)
        for (uint32_t i = 0; i < d->n_zslots; i++)
            if (d->zslots[i].ready)
                inflateEnd(&d->zslots[i].z);
    free(d->zslots);
    if (d->zprefix_ready)
        inflateEnd(&d->zprefix);
    free(d->scratch);
    d->pages = NULL;
    d->zslots = NULL;
    d->scratch = NULL;
    d->zprefix_ready = false;
}
