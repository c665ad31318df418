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
#define PARSE_SCRATCH 4096 /* bytes of a string with escapes, decoded */
#define PARSE_KEY 128      /* a key with escapes */

struct parser {
    unsigned char *p, *end;
    struct json_doc *d;
};

static void skip_space(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

/* The escaped part of a string, from p on, decoded in place: the decoded
 * bytes are never more than the text they come from, so they are written
 * behind the reading, from out on (used bytes there already). */
static bool decode_escaped(struct parser *ps, unsigned char *p, unsigned char *out, size_t used,
                           size_t *len)
{
    const unsigned char *end = ps->end;
    while (p < end) {
        unsigned c = *p;
        size_t n = 1;
        if (c == '"') {
            out[used] = '\0';
            *len = used;
            ps->p = p + 1;
            return true;
        }
        if (c == '\\') {
            static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
            const char *e = end - p >= 2 && p[1] ? strchr(from, p[1]) : NULL;
            if (!e || used == PARSE_SCRATCH)
                return false; /* \u and anything else: jansson's */
            out[used++] = (unsigned char)to[e - from];
            p += 2;
            continue;
        }
        if (c < 0x20)
            return false;
        if (c >= 0x80 && !(n = json_utf8_seq(p, (size_t)(end - p))))
            return false;
        if (used + n > PARSE_SCRATCH)
            return false;
        memmove(out + used, p, n);
        used += n;
        p += n;
    }
    return false;
}

/* The string at ps->p ('"'), NUL-terminated in place: *out its first
 * byte, *len its length decoded. */
static bool parse_string(struct parser *ps, const char **out, size_t *len)
{
    unsigned char *start = ps->p + 1, *end = ps->end;
    unsigned char *p = (unsigned char *)json_plain_run(start, end);
    if (p == end)
        return false;
    *out = (const char *)start;
    if (*p == '"') {
        *p = '\0';
        *len = (size_t)(p - start);
        ps->p = p + 1;
        return true;
    }
    if (*p != '\\')
        return false; /* a raw control character or bad UTF-8 */
    size_t used = (size_t)(p - start);
    if (used > PARSE_SCRATCH)
        return false;
    return decode_escaped(ps, p, start, used, len);
}

/* A new node (its index), or -1 without memory. */
static int new_node(struct json_doc *d, json_type type, const char *key)
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? 2 * d->cap : 128;
        struct json_node *v = realloc(d->nodes, cap * sizeof(*v));
        if (!v)
            return -1;
        d->nodes = v;
        d->cap = cap;
    }
    struct json_node *nd = &d->nodes[d->n];
    nd->key = key;
    nd->type = type;
    nd->first = nd->next = -1;
    return (int)d->n++;
}

/* An integer as strtoll reads it, a real as strtod does; false for what
 * jansson refuses (too big, overflow) or misreads. */
static bool parse_number(struct parser *ps, struct json_node *nd)
{
    bool real;
    char token[64];
    size_t len = json_number_token(ps->p, ps->end, token, sizeof(token), &real);
    if (!len)
        return false;
    ps->p += len;
    errno = 0;
    if (!real) {
        long long v = strtoll(token, NULL, 10);
        nd->type = JSON_INTEGER;
        nd->integer = (json_int_t)v;
        return !errno;
    }
    double v = strtod(token, NULL);
    nd->type = JSON_REAL;
    nd->real = v;
    return !isinf(v);
}

static bool literal(struct parser *ps, const char *word, size_t len)
{
    if ((size_t)(ps->end - ps->p) < len || memcmp(ps->p, word, len) != 0)
        return false;
    ps->p += len;
    return true;
}

static int parse_value(struct parser *ps, int depth, const char *key);

/* The members of the object or array at node i, its opening byte at ps->p. */
static bool parse_members(struct parser *ps, int i, int depth, bool object)
{
    const unsigned char close = object ? '}' : ']';
    int last = -1, count = 0;
    ps->p++;
    skip_space(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return true;
    }
    for (;;) {
        const char *key = NULL;
        if (object) {
            size_t klen;
            if (ps->p == ps->end || *ps->p != '"' || !parse_string(ps, &key, &klen))
                return false;
            /* escapes make the decoded key shorter than its text */
            bool escaped = (const char *)ps->p != key + klen + 1;
            if (escaped && klen > PARSE_KEY)
                return false;
            /* A repeated key: jansson's JSON_REJECT_DUPLICATES error. */
            if (++count > JSON_DOC_MAX_MEMBERS)
                return false;
            for (int k = ps->d->nodes[i].first; k >= 0; k = ps->d->nodes[k].next)
                if (strcmp(ps->d->nodes[k].key, key) == 0)
                    return false;
            skip_space(ps);
            if (ps->p == ps->end || *ps->p != ':')
                return false;
            ps->p++;
            skip_space(ps);
        }
        int v = parse_value(ps, depth + 1, key);
        if (v < 0)
            return false;
        if (last < 0)
            ps->d->nodes[i].first = v;
        else
            ps->d->nodes[last].next = v;
        last = v;
        skip_space(ps);
        if (ps->p == ps->end)
            return false;
        if (*ps->p == close) {
            ps->p++;
            return true;
        }
        if (*ps->p++ != ',')
            return false;
        skip_space(ps);
    }
}

static int parse_value(struct parser *ps, int depth, const char *key)
{
    if (ps->p == ps->end || depth >= PARSE_DEPTH)
        return -1;
    int i = new_node(ps->d, JSON_NULL, key);
    if (i < 0)
        return -1;
    struct json_node *nd = &ps->d->nodes[i];
    bool ok;
    switch (*ps->p) {
    case '{':
        nd->type = JSON_OBJECT;
        ok = parse_members(ps, i, depth, true);
        break;
    case '[':
        nd->type = JSON_ARRAY;
        ok = parse_members(ps, i, depth, false);
        break;
    case '"':
        nd->type = JSON_STRING;
        ok = parse_string(ps, &nd->str, &nd->str_len);
        break;
    case 't':
        nd->type = JSON_TRUE;
        ok = literal(ps, "true", 4);
        break;
    case 'f':
        nd->type = JSON_FALSE;
        ok = literal(ps, "false", 5);
        break;
    case 'n':
        ok = literal(ps, "null", 4);
        break;
    default:
        ok = parse_number(ps, nd);
        break;
    }
    return ok ? i : -1;
}

int json_doc_parse(struct json_doc *d, char *text, size_t len)
{
    struct parser ps = {.p = (unsigned char *)text, .end = (unsigned char *)text + len, .d = d};
    d->n = 0;
    skip_space(&ps);
    if (ps.p == ps.end || *ps.p != '{')
        return -1;
    if (parse_value(&ps, 0, NULL) != 0)
        return -1;
    skip_space(&ps);
    return ps.p == ps.end ? 0 : -1;
}

int json_doc_get(const struct json_doc *d, int obj, const char *key)
{
    if (obj < 0 || d->nodes[obj].type != JSON_OBJECT)
        return -1;
    for (int k = d->nodes[obj].first; k >= 0; k = d->nodes[k].next)
        if (strcmp(d->nodes[k].key, key) == 0)
            return k;
    return -1;
}

json_t *json_doc_tree(const struct json_doc *d, int i)
{
    if (i < 0)
        return NULL;
    const struct json_node *nd = &d->nodes[i];
    switch (nd->type) {
    case JSON_OBJECT: {
        json_t *obj = json_object();
        for (int k = nd->first; obj && k >= 0; k = d->nodes[k].next) {
            json_t *v = json_doc_tree(d, k);
            if (!v || json_object_setn_new_nocheck(obj, d->nodes[k].key, strlen(d->nodes[k].key),
                                                   v) < 0) {
                json_decref(obj);
                obj = NULL;
            }
        }
        return obj;
    }
    case JSON_ARRAY: {
        json_t *arr = json_array();
        for (int k = nd->first; arr && k >= 0; k = d->nodes[k].next)
            if (json_array_append_new(arr, json_doc_tree(d, k)) < 0) {
                json_decref(arr);
                arr = NULL;
            }
        return arr;
    }
    case JSON_STRING:
        return json_stringn_nocheck(nd->str, nd->str_len);
    case JSON_INTEGER:
        return json_integer(nd->integer);
    case JSON_REAL:
        return json_real(nd->real);
    case JSON_TRUE:
        return json_true();
    case JSON_FALSE:
        return json_false();
    default:
        return json_null();
    }
}

void json_doc_free(struct json_doc *d)
{
    free(d->nodes);
    memset(d, 0, sizeof(*d));
}

json_t *json_parse_object(const char *text, size_t len)
{
    /* Not on the stack: a node table kept for the next call. */
    static _Thread_local struct json_doc doc;
    char *copy = malloc(len + 1);
    if (!copy)
        return NULL;
    memcpy(copy, text, len);
    copy[len] = '\0';
    json_t *root = json_doc_parse(&doc, copy, len) == 0 ? json_doc_tree(&doc, 0) : NULL;
    free(copy);
    return root;
}
