/* json_parse.c — see json_parse.h.  The grammar accepted is a subset of
 * jansson 2.14's (src/load.c): what it does not take, it leaves. */
#include "common/json_parse.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_canon.h"

#define PARSE_DEPTH 32
#define PARSE_SCRATCH 4096 /* a string with escapes, decoded */
#define PARSE_KEY 128      /* a key with escapes, kept while its value is parsed */

struct parser {
    const unsigned char *p, *end;
    char scratch[PARSE_SCRATCH];
};

static void skip_space(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

/* The escaped part of a string, from p on, decoded into scratch after the
 * used bytes already there. */
static bool decode_escaped(struct parser *ps, const unsigned char *p, size_t used, const char **out,
                           size_t *len)
{
    const unsigned char *end = ps->end;
    while (p < end) {
        unsigned c = *p;
        size_t n = 1;
        if (c == '"') {
            *out = ps->scratch;
            *len = used;
            ps->p = p + 1;
            return true;
        }
        if (c == '\\') {
            static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
            const char *e = end - p >= 2 && p[1] ? strchr(from, p[1]) : NULL;
            if (!e || used == PARSE_SCRATCH)
                return false; /* \u and anything else: jansson's */
            ps->scratch[used++] = to[e - from];
            p += 2;
            continue;
        }
        if (c < 0x20)
            return false;
        if (c >= 0x80 && !(n = json_utf8_seq(p, (size_t)(end - p))))
            return false;
        if (used + n > PARSE_SCRATCH)
            return false;
        memcpy(ps->scratch + used, p, n);
        used += n;
        p += n;
    }
    return false;
}

/* The string at ps->p ('"'): its bytes in the text when it has no
 * escape, else decoded into ps->scratch (valid until the next string). */
static bool parse_string(struct parser *ps, const char **out, size_t *len)
{
    const unsigned char *start = ps->p + 1, *end = ps->end;
    const unsigned char *p = json_plain_run(start, end);
    if (p == end)
        return false;
    if (*p == '"') {
        *out = (const char *)start;
        *len = (size_t)(p - start);
        ps->p = p + 1;
        return true;
    }
    if (*p != '\\')
        return false; /* a raw control character or bad UTF-8 */
    size_t used = (size_t)(p - start);
    if (used > PARSE_SCRATCH)
        return false;
    memcpy(ps->scratch, start, used);
    return decode_escaped(ps, p, used, out, len);
}

/* An integer as strtoll reads it, a real as strtod does; NULL for what
 * jansson refuses (too big, overflow) or misreads. */
static json_t *parse_number(struct parser *ps)
{
    bool real;
    char token[64];
    size_t len = json_number_token(ps->p, ps->end, token, sizeof(token), &real);
    if (!len)
        return NULL;
    ps->p += len;
    errno = 0;
    if (!real) {
        long long v = strtoll(token, NULL, 10);
        return errno ? NULL : json_integer((json_int_t)v);
    }
    double v = strtod(token, NULL);
    if (isinf(v))
        return NULL;
    return json_real(v);
}

static json_t *parse_value(struct parser *ps, int depth);

static json_t *parse_object(struct parser *ps, int depth)
{
    json_t *obj = json_object();
    if (!obj)
        return NULL;
    ps->p++;
    skip_space(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        return obj;
    }
    for (;;) {
        const char *key;
        size_t klen;
        char kept[PARSE_KEY];
        if (ps->p == ps->end || *ps->p != '"' || !parse_string(ps, &key, &klen))
            goto fail;
        if (key == ps->scratch) {
            if (klen > sizeof(kept))
                goto fail;
            memcpy(kept, key, klen);
            key = kept;
        }
        /* A repeated key: jansson's JSON_REJECT_DUPLICATES error. */
        if (json_object_getn(obj, key, klen))
            goto fail;
        skip_space(ps);
        if (ps->p == ps->end || *ps->p != ':')
            goto fail;
        ps->p++;
        skip_space(ps);
        json_t *value = parse_value(ps, depth + 1);
        if (!value || json_object_setn_new_nocheck(obj, key, klen, value) < 0)
            goto fail;
        skip_space(ps);
        if (ps->p == ps->end)
            goto fail;
        if (*ps->p == '}') {
            ps->p++;
            return obj;
        }
        if (*ps->p++ != ',')
            goto fail;
        skip_space(ps);
    }
fail:
    json_decref(obj);
    return NULL;
}

static json_t *parse_array(struct parser *ps, int depth)
{
    json_t *arr = json_array();
    if (!arr)
        return NULL;
    ps->p++;
    skip_space(ps);
    if (ps->p < ps->end && *ps->p == ']') {
        ps->p++;
        return arr;
    }
    for (;;) {
        json_t *value = parse_value(ps, depth + 1);
        if (!value || json_array_append_new(arr, value) < 0)
            goto fail;
        skip_space(ps);
        if (ps->p == ps->end)
            goto fail;
        if (*ps->p == ']') {
            ps->p++;
            return arr;
        }
        if (*ps->p++ != ',')
            goto fail;
        skip_space(ps);
    }
fail:
    json_decref(arr);
    return NULL;
}

static json_t *literal(struct parser *ps, const char *word, size_t len, json_t *value)
{
    if ((size_t)(ps->end - ps->p) < len || memcmp(ps->p, word, len) != 0)
        return NULL;
    ps->p += len;
    return value;
}

static json_t *parse_value(struct parser *ps, int depth)
{
    if (ps->p == ps->end || depth >= PARSE_DEPTH)
        return NULL;
    switch (*ps->p) {
    case '{':
        return parse_object(ps, depth);
    case '[':
        return parse_array(ps, depth);
    case '"': {
        const char *s;
        size_t len;
        return parse_string(ps, &s, &len) ? json_stringn_nocheck(s, len) : NULL;
    }
    case 't':
        return literal(ps, "true", 4, json_true());
    case 'f':
        return literal(ps, "false", 5, json_false());
    case 'n':
        return literal(ps, "null", 4, json_null());
    default:
        return parse_number(ps);
    }
}

json_t *json_parse_object(const char *text, size_t len)
{
    /* Not on the stack: the scratch is bigger than a frame should be. */
    static _Thread_local struct parser ps;
    ps.p = (const unsigned char *)text;
    ps.end = ps.p + len;
    skip_space(&ps);
    if (ps.p == ps.end || *ps.p != '{')
        return NULL;
    json_t *root = parse_object(&ps, 0);
    skip_space(&ps);
    if (root && ps.p != ps.end) {
        json_decref(root);
        return NULL;
    }
    return root;
}
