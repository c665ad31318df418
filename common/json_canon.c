/* json_canon.c — see json_canon.h.  The rules below are jansson 2.14's
 * (src/load.c lexes, src/dump.c and src/strconv.c print); a text outside
 * them is answered "no" and goes through jansson. */
#include "common/json_canon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define CANON_DEPTH 16
#define CANON_KEYS 32

size_t json_utf8_seq(const unsigned char *s, size_t avail)
{
    unsigned c = s[0];
    size_t n;
    unsigned cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n > avail)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

size_t json_canon_real(double v, int precision, char *buf, size_t size)
{
    if (v != v || v - v != 0)
        return 0;
    int n = snprintf(buf, size, "%.*g", precision ? precision : 17, v);
    if (n <= 0 || (size_t)n + 3 > size)
        return 0;
    if (!strchr(buf, '.') && !strchr(buf, 'e')) {
        memcpy(buf + n, ".0", 3);
        n += 2;
    }
    char *e = strchr(buf, 'e');
    if (e) {
        char *start = e + 1, *end = e + 2;
        if (*start == '-')
            start++;
        while (*end == '0')
            end++;
        if (end != start) {
            memmove(start, end, strlen(end) + 1);
            n = (int)strlen(buf);
        }
    }
    return (size_t)n;
}

struct canon {
    const unsigned char *p, *end;
    int precision;
};

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* The digit of an upper-case hex character (jansson prints \u00XX so). */
static int upper_hex(unsigned char c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

const unsigned char *json_ascii_run(const unsigned char *p, const unsigned char *end)
{
#ifdef __SSE2__
    while (end - p >= 16) {
        unsigned mask = json_stop_mask(_mm_loadu_si128((const __m128i *)(const void *)p));
        if (mask)
            return p + __builtin_ctz(mask);
        p += 16;
    }
#endif
    while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
        p++;
    return p;
}

const unsigned char *json_ascii_copy(unsigned char *dst, const unsigned char *p,
                                     const unsigned char *end)
{
    const unsigned char *start = p;
#ifdef __SSE2__
    /* Sixteen bytes stored as they are checked; the run's end decides how
     * many count.  A last part under sixteen is the end of the text read
     * again from sixteen bytes back. */
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        _mm_storeu_si128((__m128i *)(void *)(dst + (p - start)), v);
        unsigned mask = json_stop_mask(v);
        if (mask)
            return p + __builtin_ctz(mask);
        p += 16;
    }
    if (p < end && end - start >= 16) {
        size_t back = 16 - (size_t)(end - p);
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(end - 16));
        _mm_storeu_si128((__m128i *)(void *)(dst + (end - 16 - start)), v);
        unsigned mask = json_stop_mask(v) >> back;
        return mask ? p + __builtin_ctz(mask) : end;
    }
#endif
    while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\') {
        dst[p - start] = *p;
        p++;
    }
    return p;
}

const unsigned char *json_plain_run(const unsigned char *p, const unsigned char *end)
{
    while ((p = json_ascii_run(p, end)) < end) {
        unsigned ch = *p;
        size_t n = ch >= 0x80 ? json_utf8_seq(p, (size_t)(end - p)) : 0;
        if (!n)
            break;
        p += n;
    }
    return p;
}

/* A string at c->p ('"'): every byte as dump_string leaves it, every
 * escape one that it writes. */
static bool canon_string(struct canon *c)
{
    const unsigned char *p = c->p + 1, *end = c->end;
    while ((p = json_plain_run(p, end)) < end) {
        if (*p == '"') {
            c->p = p + 1;
            return true;
        }
        if (*p != '\\' || end - p < 2)
            return false; /* a raw control character (jansson refuses it) or bad UTF-8 */
        switch (p[1]) {
        case '"':
        case '\\':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
            p += 2;
            continue;
        case 'u': {
            /* Only the control characters without a short escape, and
             * not NUL (refused without JSON_ALLOW_NUL). */
            if (end - p < 6 || p[2] != '0' || p[3] != '0')
                return false;
            int hi = upper_hex(p[4]), lo = upper_hex(p[5]);
            if (hi < 0 || hi > 1 || lo < 0)
                return false;
            unsigned v = (unsigned)(hi * 16 + lo);
            if (v == 0 || v == '\b' || v == '\f' || v == '\n' || v == '\r' || v == '\t')
                return false;
            p += 6;
            continue;
        }
        default:
            return false; /* \/ and \u of anything else are written otherwise */
        }
    }
    return false;
}

size_t json_number_token(const unsigned char *p, const unsigned char *end, char *token, size_t size,
                         bool *real)
{
    const unsigned char *s = p;
    *real = false;
    if (p < end && *p == '-')
        p++;
    if (p == end || !is_digit(*p))
        return 0;
    if (*p == '0')
        p++;
    else
        while (p < end && is_digit(*p))
            p++;
    if (p < end && *p == '.') {
        *real = true;
        if (++p == end || !is_digit(*p))
            return 0;
        while (p < end && is_digit(*p))
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        *real = true;
        if (++p < end && (*p == '+' || *p == '-'))
            p++;
        if (p == end || !is_digit(*p))
            return 0;
        while (p < end && is_digit(*p))
            p++;
    }
    size_t len = (size_t)(p - s);
    if (len >= size)
        return 0;
    memcpy(token, s, len);
    token[len] = '\0';
    return len;
}

/* A number: an integer without leading zeros that fits (not "-0", which
 * jansson reads as 0), or a real printed as json_canon_real prints it. */
static bool canon_number(struct canon *c)
{
    bool real;
    char token[48];
    size_t len = json_number_token(c->p, c->end, token, sizeof(token), &real);
    if (!len)
        return false;
    c->p += len;
    if (!real) {
        if (token[0] == '-' && token[1] == '0')
            return false;
        errno = 0;
        (void)strtoll(token, NULL, 10);
        return errno == 0;
    }
    char printed[48];
    size_t n = json_canon_real(strtod(token, NULL), c->precision, printed, sizeof(printed));
    return n == len && memcmp(printed, token, len) == 0;
}

static bool canon_value(struct canon *c, int depth);

static bool canon_object(struct canon *c, int depth)
{
    struct {
        const unsigned char *at;
        size_t len;
    } keys[CANON_KEYS];
    size_t nkeys = 0;
    c->p++;
    if (c->p < c->end && *c->p == '}') {
        c->p++;
        return true;
    }
    for (;;) {
        const unsigned char *k = c->p;
        if (k == c->end || *k != '"' || !canon_string(c))
            return false;
        size_t klen = (size_t)(c->p - k);
        /* A repeated key: jansson keeps the last value in the first place. */
        for (size_t i = 0; i < nkeys; i++)
            if (keys[i].len == klen && memcmp(keys[i].at, k, klen) == 0)
                return false;
        if (nkeys == CANON_KEYS)
            return false;
        keys[nkeys].at = k;
        keys[nkeys++].len = klen;
        if (c->p == c->end || *c->p != ':')
            return false;
        c->p++;
        if (!canon_value(c, depth + 1) || c->p == c->end)
            return false;
        if (*c->p == '}') {
            c->p++;
            return true;
        }
        if (*c->p++ != ',')
            return false;
    }
}

static bool canon_array(struct canon *c, int depth)
{
    c->p++;
    if (c->p < c->end && *c->p == ']') {
        c->p++;
        return true;
    }
    for (;;) {
        if (!canon_value(c, depth + 1) || c->p == c->end)
            return false;
        if (*c->p == ']') {
            c->p++;
            return true;
        }
        if (*c->p++ != ',')
            return false;
    }
}

static bool canon_literal(struct canon *c, const char *word, size_t len)
{
    if ((size_t)(c->end - c->p) < len || memcmp(c->p, word, len) != 0)
        return false;
    c->p += len;
    return true;
}

static bool canon_value(struct canon *c, int depth)
{
    if (c->p == c->end || depth >= CANON_DEPTH)
        return false;
    switch (*c->p) {
    case '{':
        return canon_object(c, depth);
    case '[':
        return canon_array(c, depth);
    case '"':
        return canon_string(c);
    case 't':
        return canon_literal(c, "true", 4);
    case 'f':
        return canon_literal(c, "false", 5);
    case 'n':
        return canon_literal(c, "null", 4);
    default:
        return canon_number(c);
    }
}

bool json_canon_is_dump(const char *text, size_t len, int precision)
{
    struct canon c = {.p = (const unsigned char *)text,
                      .end = (const unsigned char *)text + len,
                      .precision = precision};
    /* json_loadb takes only an object or an array at the top. */
    if (len == 0 || (text[0] != '{' && text[0] != '['))
        return false;
    return canon_value(&c, 0) && c.p == c.end;
}
