/* tls_parse.c — see tls_parse.h.  Every read is checked twice: against
 * the length its container declares (a contradiction is TLS_BAD) and
 * against the bytes the segment holds (running out is TLS_TRUNCATED).
 * A first pass reads the fields and notes where the fingerprinted lists
 * lie; the fingerprint is written only when the whole hello was read.
 */
#include "agent/detect/tls/tls_parse.h"

#include <nettle/md5.h>
#include <stdio.h>
#include <string.h>

#define REC_HANDSHAKE 0x16
#define REC_MAX (16384 + 2048) /* TLSCiphertext's largest fragment */

#define EXT_SERVER_NAME 0
#define EXT_GROUPS 10
#define EXT_POINT_FORMATS 11
#define EXT_ALPN 16
#define EXT_SUPPORTED_VERSIONS 43

struct rd {
    const uint8_t *b;
    size_t avail; /* bytes present (the segment, at most the record) */
    enum tls_result err;
};

/* Where the fingerprinted lists are (offsets into b). */
struct lists {
    size_t ciphers, n_ciphers_bytes;
    size_t ext, ext_end;
    size_t groups, groups_bytes;
    size_t formats, formats_bytes;
};

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* n bytes at pos, inside a container ending at end? */
static bool need(struct rd *r, size_t pos, size_t n, size_t end)
{
    if (r->err != TLS_OK)
        return false;
    if (pos > end || n > end - pos) {
        r->err = TLS_BAD;
        return false;
    }
    if (pos + n > r->avail) {
        r->err = TLS_TRUNCATED;
        return false;
    }
    return true;
}

/* GREASE (RFC 8701): 0x0a0a, 0x1a1a ... 0xfafa, left out of JA3. */
static bool grease(uint16_t v)
{
    return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

static void copy_name(char *out, size_t cap, const uint8_t *p, size_t n)
{
    if (n >= cap)
        n = cap - 1;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c >= 'A' && c <= 'Z')
            c = (uint8_t)(c - 'A' + 'a');
        out[i] = c > 0x20 && c < 0x7f ? (char)c : '.';
    }
    out[n] = '\0';
}

static void read_sni(struct rd *r, size_t pos, size_t end, struct tls_hello *h)
{
    if (!need(r, pos, 2, end))
        return;
    size_t list_end = pos + 2 + be16(r->b + pos);
    if (list_end > end) {
        r->err = TLS_BAD;
        return;
    }
    for (pos += 2; pos < list_end && r->err == TLS_OK;) {
        if (!need(r, pos, 3, list_end))
            return;
        uint8_t type = r->b[pos];
        size_t n = be16(r->b + pos + 1);
        if (!need(r, pos + 3, n, list_end))
            return;
        if (type == 0 && !h->sni[0])
            copy_name(h->sni, sizeof(h->sni), r->b + pos + 3, n);
        pos += 3 + n;
    }
}

static void read_alpn(struct rd *r, size_t pos, size_t end, struct tls_hello *h)
{
    if (!need(r, pos, 3, end))
        return;
    size_t list_end = pos + 2 + be16(r->b + pos);
    size_t n = r->b[pos + 2];
    if (list_end > end) {
        r->err = TLS_BAD;
        return;
    }
    if (!need(r, pos + 3, n, list_end))
        return;
    copy_name(h->alpn, sizeof(h->alpn), r->b + pos + 3, n);
}

static void read_versions(struct rd *r, size_t pos, size_t end, struct tls_hello *h)
{
    if (h->type == TLS_SERVER_HELLO) {
        if (need(r, pos, 2, end))
            h->version = be16(r->b + pos);
        return;
    }
    if (!need(r, pos, 1, end))
        return;
    size_t n = r->b[pos];
    if (n % 2 || !need(r, pos + 1, n, end))
        return;
    for (size_t i = 0; i < n; i += 2) {
        uint16_t v = be16(r->b + pos + 1 + i);
        if (!grease(v) && v > h->version)
            h->version = v;
    }
}

/* One list of 16-bit values inside an extension: a 2-byte length, then
 * the values. */
static void note_u16_list(struct rd *r, size_t pos, size_t end, size_t *at, size_t *bytes)
{
    if (!need(r, pos, 2, end))
        return;
    size_t n = be16(r->b + pos);
    if (n % 2 || !need(r, pos + 2, n, end))
        return;
    *at = pos + 2;
    *bytes = n;
}

static void read_extensions(struct rd *r, size_t pos, size_t end, struct tls_hello *h,
                            struct lists *l)
{
    if (pos == end)
        return; /* none: allowed */
    if (!need(r, pos, 2, end))
        return;
    size_t ext_end = pos + 2 + be16(r->b + pos);
    if (ext_end > end) {
        r->err = TLS_BAD;
        return;
    }
    l->ext = pos + 2;
    l->ext_end = ext_end;
    bool versions_seen = false;
    for (pos += 2; pos < ext_end && r->err == TLS_OK;) {
        if (!need(r, pos, 4, ext_end))
            return;
        uint16_t type = be16(r->b + pos);
        size_t n = be16(r->b + pos + 2);
        size_t data = pos + 4, data_end = data + n;
        /* The whole extension, read or not, must be there: a hello is
         * complete only when its last byte is. */
        if (!need(r, data, n, ext_end))
            return;
        h->n_extensions++;
        switch (type) {
        case EXT_SERVER_NAME:
            if (h->type == TLS_CLIENT_HELLO)
                read_sni(r, data, data_end, h);
            break;
        case EXT_ALPN:
            read_alpn(r, data, data_end, h);
            break;
        case EXT_SUPPORTED_VERSIONS:
            if (!versions_seen) {
                h->version = 0;
                read_versions(r, data, data_end, h);
                versions_seen = true;
            }
            break;
        case EXT_GROUPS:
            note_u16_list(r, data, data_end, &l->groups, &l->groups_bytes);
            break;
        case EXT_POINT_FORMATS:
            if (need(r, data, 1, data_end) && need(r, data + 1, r->b[data], data_end)) {
                l->formats = data + 1;
                l->formats_bytes = r->b[data];
            }
            break;
        }
        pos = data_end;
    }
    if (versions_seen && h->version == 0)
        h->version = h->legacy_version;
}

/* ---- the fingerprint ----------------------------------------------- */

struct ja3w {
    struct md5_ctx md5;
    char *text;
    size_t len, cap;
};

static void ja3_put(struct ja3w *w, const char *s, size_t n)
{
    md5_update(&w->md5, n, (const uint8_t *)s);
    size_t room = w->cap - 1 - w->len;
    size_t k = n < room ? n : room;
    memcpy(w->text + w->len, s, k);
    w->len += k;
    w->text[w->len] = '\0';
}

static void ja3_num(struct ja3w *w, unsigned v, bool *first)
{
    char buf[8];
    int n = snprintf(buf, sizeof(buf), "%s%u", *first ? "" : "-", v);
    ja3_put(w, buf, (size_t)n);
    *first = false;
}

/* bytes of 16-bit values (width 2) or of 8-bit ones (width 1). */
static void ja3_list(struct ja3w *w, const uint8_t *p, size_t bytes, size_t width)
{
    bool first = true;
    for (size_t i = 0; i + width <= bytes; i += width) {
        uint16_t v = width == 2 ? be16(p + i) : p[i];
        if (width == 2 && grease(v))
            continue;
        ja3_num(w, v, &first);
    }
}

static void ja3_extensions(struct ja3w *w, const uint8_t *b, const struct lists *l,
                           bool skip_grease)
{
    bool first = true;
    for (size_t pos = l->ext; pos + 4 <= l->ext_end; pos += 4 + be16(b + pos + 2)) {
        uint16_t type = be16(b + pos);
        if (!(skip_grease && grease(type)))
            ja3_num(w, type, &first);
    }
}

static void ja3_finish(struct ja3w *w, struct tls_hello *h)
{
    md5_digest(&w->md5, sizeof(h->ja3_md5), h->ja3_md5);
    for (size_t i = 0; i < sizeof(h->ja3_md5); i++)
        snprintf(h->ja3 + 2 * i, 3, "%02x", h->ja3_md5[i]);
    h->has_ja3 = true;
}

/* JA3: version,ciphers,extensions,groups,formats.  JA3S:
 * version,cipher,extensions. */
static void fingerprint(const uint8_t *b, const struct lists *l, struct tls_hello *h)
{
    struct ja3w w = {.text = h->ja3_text, .cap = sizeof(h->ja3_text)};
    md5_init(&w.md5);
    bool first = true;
    ja3_num(&w, h->legacy_version, &first);
    ja3_put(&w, ",", 1);
    if (h->type == TLS_CLIENT_HELLO) {
        ja3_list(&w, b + l->ciphers, l->n_ciphers_bytes, 2);
        ja3_put(&w, ",", 1);
        ja3_extensions(&w, b, l, true);
        ja3_put(&w, ",", 1);
        ja3_list(&w, b + l->groups, l->groups_bytes, 2);
        ja3_put(&w, ",", 1);
        ja3_list(&w, b + l->formats, l->formats_bytes, 1);
    } else {
        first = true;
        ja3_num(&w, h->cipher, &first);
        ja3_put(&w, ",", 1);
        ja3_extensions(&w, b, l, false);
    }
    ja3_finish(&w, h);
}

/* ---- the hellos ----------------------------------------------------- */

static void client_hello(struct rd *r, size_t pos, size_t end, struct tls_hello *h, struct lists *l)
{
    if (!need(r, pos, 2 + 32 + 1, end))
        return;
    h->legacy_version = h->version = be16(r->b + pos);
    pos += 34;
    size_t sid = r->b[pos];
    if (sid > 32) {
        r->err = TLS_BAD;
        return;
    }
    pos += 1 + sid;
    if (!need(r, pos, 2, end))
        return;
    size_t cl = be16(r->b + pos);
    if (cl % 2 || cl == 0) {
        r->err = TLS_BAD;
        return;
    }
    if (!need(r, pos + 2, cl, end))
        return;
    l->ciphers = pos + 2;
    l->n_ciphers_bytes = cl;
    h->n_ciphers = (uint16_t)(cl / 2);
    pos += 2 + cl;
    if (!need(r, pos, 1, end) || !need(r, pos + 1, r->b[pos], end))
        return;
    pos += 1 + r->b[pos];
    read_extensions(r, pos, end, h, l);
}

static void server_hello(struct rd *r, size_t pos, size_t end, struct tls_hello *h, struct lists *l)
{
    if (!need(r, pos, 2 + 32 + 1, end))
        return;
    h->legacy_version = h->version = be16(r->b + pos);
    pos += 34;
    size_t sid = r->b[pos];
    if (sid > 32) {
        r->err = TLS_BAD;
        return;
    }
    pos += 1 + sid;
    if (!need(r, pos, 3, end))
        return;
    h->cipher = be16(r->b + pos);
    pos += 3;
    read_extensions(r, pos, end, h, l);
}

enum tls_result tls_parse_hello(const uint8_t *p, size_t len, struct tls_hello *out)
{
    memset(out, 0, sizeof(*out));
    if (len < 6 || p[0] != REC_HANDSHAKE || p[1] != 3 ||
        (p[5] != TLS_CLIENT_HELLO && p[5] != TLS_SERVER_HELLO))
        return TLS_NOT_HELLO;
    size_t rec_len = be16(p + 3);
    if (rec_len < 4 || rec_len > REC_MAX)
        return TLS_NOT_HELLO;
    out->type = p[5];
    /* A hello longer than its record continues in the next record: what
     * this one holds is read, the rest counts as cut. */
    struct rd r = {.b = p, .avail = len < 5 + rec_len ? len : 5 + rec_len, .err = TLS_OK};
    if (!need(&r, 6, 3, 5 + rec_len))
        return r.err;
    size_t body = 9, end = body + ((size_t)p[6] << 16 | (size_t)p[7] << 8 | p[8]);
    struct lists l;
    memset(&l, 0, sizeof(l));
    if (out->type == TLS_CLIENT_HELLO)
        client_hello(&r, body, end, out, &l);
    else
        server_hello(&r, body, end, out, &l);
    if (r.err == TLS_OK)
        fingerprint(p, &l, out);
    return r.err;
}

const char *tls_version_name(uint16_t version, char *buf, size_t cap)
{
    switch (version) {
    case 0x0300:
        return "SSL 3.0";
    case 0x0301:
        return "TLS 1.0";
    case 0x0302:
        return "TLS 1.1";
    case 0x0303:
        return "TLS 1.2";
    case 0x0304:
        return "TLS 1.3";
    }
    snprintf(buf, cap, "0x%04x", version);
    return buf;
}
