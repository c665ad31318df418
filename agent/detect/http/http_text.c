/* http_text.c — text the http detector derives from what it saw: the
 * normalised path of a request target, and printable copies and excerpts
 * of wire bytes for evidence (never trusted to be text).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/detect/http/http_internal.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* The path of a request target, percent-decoded and lower-cased, without
 * scheme, authority, query or fragment. */
size_t http_norm_path(const char *target, char *out, size_t cap)
{
    const char *s = target;
    if (strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0) {
        s = strstr(s, "://") + 3;
        s += strcspn(s, "/?#");
    }
    size_t n = 0;
    while (*s && *s != '?' && *s != '#' && n + 1 < cap) {
        int c = (unsigned char)*s;
        if (c == '%' && isxdigit((unsigned char)s[1]) && isxdigit((unsigned char)s[2])) {
            char hex[3] = {s[1], s[2], 0};
            c = (int)strtol(hex, NULL, 16);
            s += 2;
        }
        out[n++] = (char)tolower(c);
        s++;
    }
    out[n] = '\0';
    return n;
}

const char *http_last_segment(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

void http_copy_slice(char *out, size_t cap, struct http_slice s)
{
    size_t n = s.len < cap - 1 ? s.len : cap - 1;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s.p[i];
        out[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '.';
    }
    out[n] = '\0';
}

/* Printable excerpt: control bytes and non-ASCII become '.'. */
void http_excerpt(char *out, size_t cap, const uint8_t *p, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 1 < cap; i++) {
        uint8_t c = p[i];
        if (c == '\r' || c == '\n' || c == '\t')
            c = ' ';
        if (k && c == ' ' && out[k - 1] == ' ')
            continue;
        out[k++] = (c >= 0x20 && c < 0x7f) ? (char)c : '.';
    }
    out[k] = '\0';
}

void http_fold_lower(uint8_t *out, const uint8_t *in, size_t n)
{
    size_t i = 0;
#if defined(__SSE2__)
    /* c + 0x3f lands in [-128, -103] as a signed byte exactly for 'A'..'Z'. */
    const __m128i shift = _mm_set1_epi8(0x3f), top = _mm_set1_epi8(-128 + 26);
    const __m128i bit = _mm_set1_epi8(0x20);
    for (; i + 16 <= n; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(in + i));
        __m128i upper = _mm_cmplt_epi8(_mm_add_epi8(v, shift), top);
        _mm_storeu_si128((__m128i *)(void *)(out + i), _mm_add_epi8(v, _mm_and_si128(upper, bit)));
    }
#endif
    for (; i < n; i++)
        out[i] = (uint8_t)tolower(in[i]);
}
