/* event_text.c — see event_text.h.  The order of the members below is
 * evt_to_json's (common/event.c); change both together. */
#include "common/event_text.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "common/json_canon.h"
#include "common/text.h"
#include "common/units.h"

#define EVENT_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(6))

typedef struct event_text_writer writer_t;

static bool grow(writer_t *w, size_t more)
{
    struct event_text *t = w->t;
    if (w->failed)
        return false;
    size_t cap = t->cap ? t->cap : 1024;
    while (cap < t->len + more + 1)
        cap *= 2;
    char *buf = realloc(t->buf, cap);
    if (!buf) {
        w->failed = true;
        return false;
    }
    t->buf = buf;
    t->cap = cap;
    return true;
}

/* Room for more bytes and the final NUL. */
static inline bool reserve(writer_t *w, size_t more)
{
    if (w->t->len + more + 1 <= w->t->cap && !w->failed)
        return true;
    return grow(w, more);
}

static void put(writer_t *w, const char *s, size_t n)
{
    if (!reserve(w, n))
        return;
    memcpy(w->t->buf + w->t->len, s, n);
    w->t->len += n;
}

/* Stored, not copied: quotes, commas and braces are a fifth of what an
 * event writes, and a memcpy call each was most of their cost. */
static inline void put_char(writer_t *w, char c)
{
    if (!reserve(w, 1))
        return;
    w->t->buf[w->t->len++] = c;
}

static const char two_digits[201] = "00010203040506070809"
                                    "10111213141516171819"
                                    "20212223242526272829"
                                    "30313233343536373839"
                                    "40414243444546474849"
                                    "50515253545556575859"
                                    "60616263646566676869"
                                    "70717273747576777879"
                                    "80818283848586878889"
                                    "90919293949596979899";

/* Written in place, two digits a division: counters and ids are most of
 * an event's numbers, and a digit a division with a copy after cost
 * ~150 instructions a number. */
static void put_int(writer_t *w, long long v)
{
    static const unsigned long long pow10[20] = {1ull,
                                                 10ull,
                                                 100ull,
                                                 1000ull,
                                                 10000ull,
                                                 100000ull,
                                                 1000000ull,
                                                 10000000ull,
                                                 100000000ull,
                                                 1000000000ull,
                                                 10000000000ull,
                                                 100000000000ull,
                                                 1000000000000ull,
                                                 10000000000000ull,
                                                 100000000000000ull,
                                                 1000000000000000ull,
                                                 10000000000000000ull,
                                                 100000000000000000ull,
                                                 1000000000000000000ull,
                                                 10000000000000000000ull};
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    /* Digits from the bit length: 1233 / 4096 is just above log10(2),
     * so the guess is the count or one less. */
    unsigned bits = 64 - (unsigned)__builtin_clzll(u | 1);
    size_t digits = (bits * 1233) >> 12;
    digits += (u | 1) >= pow10[digits]; /* u | 1: zero has one digit */
    if (!reserve(w, digits + 1))
        return;
    char *o = w->t->buf + w->t->len;
    if (v < 0)
        *o++ = '-';
    w->t->len = (size_t)(o - w->t->buf) + digits;
    o += digits;
    while (u >= 100) {
        unsigned r = (unsigned)(u % 100);
        u /= 100;
        o -= 2;
        memcpy(o, two_digits + 2 * r, 2);
    }
    if (u >= 10) {
        o -= 2;
        memcpy(o, two_digits + 2 * u, 2);
    } else {
        *--o = (char)('0' + u);
    }
}

/* Eight bytes that a JSON string holds as they are: no control
 * character, '"', '\\' or byte >= 0x80.  Each test is the exact "some
 * byte is zero / below n" word trick (n <= 128). */
static inline bool plain_word(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t quote = x ^ (ones * '"'), backslash = x ^ (ones * '\\');
    uint64_t stop = x | ((x - ones * 0x20) & ~x) | ((quote - ones) & ~quote) |
                    ((backslash - ones) & ~backslash);
    return (stop & high) == 0;
}

/* The UTF-8 sequence at p (up to end) that jansson dumps as it is: its
 * length, or 0 when it is not one.  Two- and three-byte sequences (all of
 * Vietnamese) here, the rest by json_utf8_seq. */
static inline size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    if (c >= 0xC2 && c <= 0xDF && end - p >= 2 && (p[1] & 0xC0) == 0x80)
        return 2;
    if (c >= 0xE0 && c <= 0xEF && end - p >= 3 && (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80) {
        unsigned cp = (c & 0x0Fu) << 12 | (p[1] & 0x3Fu) << 6 | (p[2] & 0x3Fu);
        return cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF) ? 3 : 0;
    }
    return json_utf8_seq(p, (size_t)(end - p));
}

/* 1 for the bytes a JSON string holds as they are: printable ASCII but
 * '"' and '\\' (DEL included, as jansson leaves it). */
static const unsigned char plain_byte[256] = {
    [0x20] = 1,
    [0x21] = 1,
    [0x23 ... 0x5b] = 1,
    [0x5d ... 0x7f] = 1,
};

/* put_json_string for any text: escapes, UTF-8, long runs. */
static bool put_json_string_any(writer_t *w, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    /* Room for the text as it is and its quotes, taken once; from here
     * there is always room for what is left of it (end - p) and the
     * closing quote, and only an escape, which is longer than its byte,
     * takes more.  Plain ASCII goes sixteen bytes at a time (SSE2) or
     * eight (a word); a short tail is read as the text's last eight bytes
     * again when those are plain, so a short string seldom goes byte by
     * byte.  UTF-8 is copied as it is, once checked. */
    if (!reserve(w, len + 2))
        return true; /* w->failed says it */
    unsigned char *o = (unsigned char *)w->t->buf + w->t->len;
    *o++ = '"';
    while (p < end) {
        if (end - p >= 16) {
            const unsigned char *run = p;
            p = json_ascii_copy(o, p, end);
            o += p - run;
            if (p == end)
                break;
        }
        uint64_t x;
        while (end - p >= 8) {
            memcpy(&x, p, 8);
            if (!plain_word(x))
                break;
            memcpy(o, &x, 8);
            o += 8;
            p += 8;
        }
        if (p == end)
            break;
        if (end - p < 8 && len >= 8) {
            /* The bytes before p in this word were copied as they are
             * (they are plain), so it lands on their own copies. */
            memcpy(&x, end - 8, 8);
            if (plain_word(x)) {
                memcpy(o + (end - p) - 8, &x, 8);
                o += end - p;
                break;
            }
        }
        /* Byte by byte up to the next sixteen that could be plain. */
        const unsigned char *stop = end - p > 16 ? p + 16 : end;
        while (p < stop) {
            unsigned c = *p;
            if (plain_byte[c]) {
                *o++ = (unsigned char)c;
                p++;
                continue;
            }
            if (c >= 0x80) {
                size_t n = utf8_len(p, end);
                if (!n)
                    return false;
                for (size_t i = 0; i < n; i++)
                    o[i] = p[i];
                o += n;
                p += n;
                continue;
            }
            char esc[7] = {'\\', 0};
            size_t n = 2;
            switch (c) {
            case '"':
            case '\\':
                esc[1] = (char)c;
                break;
            case '\b':
                esc[1] = 'b';
                break;
            case '\f':
                esc[1] = 'f';
                break;
            case '\n':
                esc[1] = 'n';
                break;
            case '\r':
                esc[1] = 'r';
                break;
            case '\t':
                esc[1] = 't';
                break;
            default:
                memcpy(esc + 1, "u00", 3);
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                n = 6;
            }
            p++;
            w->t->len = (size_t)((char *)o - w->t->buf);
            if (!reserve(w, n + (size_t)(end - p) + 1))
                return true;
            o = (unsigned char *)w->t->buf + w->t->len;
            memcpy(o, esc, n);
            o += n;
        }
    }
    *o++ = '"';
    w->t->len = (size_t)((char *)o - w->t->buf);
    return true;
}

/* The memo of slow-path strings (struct event_text's memo): a string of
 * up to MEMO_IN bytes holding a byte >= 0x80, and its text as
 * put_json_string_any wrote it (quotes included).  The text depends on
 * the bytes alone, so a hit is exact; slots are replaced in turn. */
#define MEMO_SLOTS 4
#define MEMO_IN 128
#define MEMO_OUT 192

struct event_text_memo {
    struct {
        size_t in_len, out_len; /* in_len 0: free */
        char in[MEMO_IN];
        char out[MEMO_OUT];
    } slot[MEMO_SLOTS];
    unsigned next; /* the slot to replace next */
};

static bool has_high_byte(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] >= 0x80)
            return true;
    return false;
}

/* put_json_string_any through the memo. */
static bool put_json_string_memo(writer_t *w, const char *s, size_t len)
{
    struct event_text *t = w->t;
    struct event_text_memo *m = t->memo;
    if (m && len <= MEMO_IN) {
        for (unsigned i = 0; i < MEMO_SLOTS; i++) {
            if (m->slot[i].in_len == len && memcmp(m->slot[i].in, s, len) == 0) {
                put(w, m->slot[i].out, m->slot[i].out_len);
                return true;
            }
        }
    }
    size_t mark = t->len;
    if (!put_json_string_any(w, s, len))
        return false;
    size_t out_len = t->len - mark;
    if (w->failed || len == 0 || len > MEMO_IN || out_len > MEMO_OUT || !has_high_byte(s, len))
        return true;
    if (!m) {
        m = t->memo = calloc(1, sizeof(*m));
        if (!m)
            return true; /* no memo: every string takes the slow path */
    }
    unsigned i = m->next;
    m->next = (i + 1) % MEMO_SLOTS;
    memcpy(m->slot[i].in, s, len);
    memcpy(m->slot[i].out, t->buf + mark, out_len);
    m->slot[i].in_len = len;
    m->slot[i].out_len = out_len;
    return true;
}

/* A JSON string as jansson dumps it; false (nothing sure written) when
 * s[0..len) is not valid UTF-8.  Most of an event's strings (names, ids,
 * times, addresses, counters' keys) are plain ASCII of at most 32 bytes:
 * those are read as two overlapping pieces that cover them, checked at
 * once and stored as they are, in a function small enough to need no
 * saved registers.  Anything else takes put_json_string_any, through
 * the memo of recent non-ASCII strings. */
static bool put_json_string(writer_t *w, const char *s, size_t len)
{
#ifdef __SSE2__
    struct event_text *t = w->t;
    if (len > 32 || t->len + len + 3 > t->cap || w->failed)
        return put_json_string_memo(w, s, len);
    const unsigned char *p = (const unsigned char *)s;
    unsigned char *o = (unsigned char *)t->buf + t->len;
    if (len >= 16) {
        __m128i head = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i tail = _mm_loadu_si128((const __m128i *)(const void *)(p + len - 16));
        if (json_stop_mask(head) | json_stop_mask(tail))
            return put_json_string_memo(w, s, len);
        _mm_storeu_si128((__m128i *)(void *)(o + 1), head);
        _mm_storeu_si128((__m128i *)(void *)(o + 1 + len - 16), tail);
    } else if (len >= 8) {
        uint64_t head, tail;
        memcpy(&head, p, 8);
        memcpy(&tail, p + len - 8, 8);
        if (json_stop_mask(_mm_set_epi64x((long long)tail, (long long)head)))
            return put_json_string_memo(w, s, len);
        memcpy(o + 1, &head, 8);
        memcpy(o + 1 + len - 8, &tail, 8);
    } else if (len >= 4) {
        uint32_t head, tail;
        memcpy(&head, p, 4);
        memcpy(&tail, p + len - 4, 4);
        if (json_stop_mask(_mm_set_epi32(0x41414141, 0x41414141, (int)tail, (int)head)))
            return put_json_string_memo(w, s, len);
        memcpy(o + 1, &head, 4);
        memcpy(o + 1 + len - 4, &tail, 4);
    } else if (len > 0) {
        /* p[0], p[len / 2] and p[len - 1] are every byte of it. */
        unsigned char a = p[0], b = p[len / 2], c = p[len - 1];
        if (json_stop_mask(_mm_set_epi8(0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41,
                                        0x41, 0x41, 0x41, (char)c, (char)b, (char)a)))
            return put_json_string_memo(w, s, len);
        o[1] = a;
        o[1 + len / 2] = b;
        o[len] = c;
    }
    o[0] = '"';
    o[len + 1] = '"';
    t->len += len + 2;
    return true;
#else
    return put_json_string_memo(w, s, len);
#endif
}

/* The comma before a member or element, and a member's name: inlined,
 * so that a literal name's length is known and its bytes are stores. */
static inline __attribute__((always_inline)) void key(writer_t *w, const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (!reserve(w, n + 4))
        return;
    char *o = w->t->buf + w->t->len;
    if (!w->first[w->depth])
        *o++ = ',';
    w->first[w->depth] = false;
    if (name) {
        *o++ = '"';
        memcpy(o, name, n);
        o += n;
        *o++ = '"';
        *o++ = ':';
    }
    w->t->len = (size_t)(o - w->t->buf);
}

static void open_obj(writer_t *w)
{
    put_char(w, '{');
    if (w->depth == EVENT_TEXT_DEPTH) {
        w->failed = true;
        return;
    }
    w->first[++w->depth] = true;
}

static void close_obj(writer_t *w)
{
    put_char(w, '}');
    if (w->depth > 0)
        w->depth--;
}

/* A string member or element; left out, as jansson leaves it out, when
 * value is NULL or not valid UTF-8. */
static inline __attribute__((always_inline)) void member_strn(writer_t *w, const char *name,
                                                              const char *value, size_t len)
{
    if (!value)
        return;
    size_t mark = w->t->len;
    bool first = w->first[w->depth];
    key(w, name);
    if (!put_json_string(w, value, len) && !w->failed) {
        w->t->len = mark;
        w->first[w->depth] = first;
    }
}

static inline __attribute__((always_inline)) void member_str(writer_t *w, const char *name,
                                                             const char *value)
{
    if (value)
        member_strn(w, name, value, strlen(value));
}

static inline __attribute__((always_inline)) void member_int(writer_t *w, const char *name,
                                                             long long value)
{
    key(w, name);
    put_int(w, value);
}

static void member_time(writer_t *w, const char *name, uint64_t ts_us)
{
    char buf[48];
    member_str(w, name, units_format_time(ts_us, buf, sizeof(buf)));
}

/* A real as jansson dumps it with w's flags (json_canon.h). */
static bool put_real(writer_t *w, double v)
{
    char text[40];
    size_t n = json_canon_real(v, (int)((w->flags >> 11) & 0x1F), text, sizeof(text));
    if (!n)
        return false; /* NaN, infinities: jansson refuses them too */
    put(w, text, n);
    return true;
}

/* A detector's value as jansson's compact dump writes it; false (with
 * something written) for what it leaves to jansson: strings holding NUL,
 * deep nesting. */
static bool put_value(writer_t *w, const json_t *v, int depth)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        if (depth > 8)
            return false;
        const char *k;
        json_t *item;
        bool first = true;
        put_char(w, '{');
        json_object_foreach((json_t *)v, k, item)
        {
            if (!first)
                put_char(w, ',');
            first = false;
            if (!put_json_string(w, k, strlen(k)))
                return false;
            put_char(w, ':');
            if (!put_value(w, item, depth + 1))
                return false;
        }
        put_char(w, '}');
        return true;
    }
    case JSON_ARRAY: {
        if (depth > 8)
            return false;
        put_char(w, '[');
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                put_char(w, ',');
            if (!put_value(w, json_array_get(v, i), depth + 1))
                return false;
        }
        put_char(w, ']');
        return true;
    }
    case JSON_STRING:
        if (strlen(json_string_value(v)) != json_string_length(v))
            return false;
        return put_json_string(w, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        put_int(w, (long long)json_integer_value(v));
        return true;
    case JSON_REAL:
        return put_real(w, json_real_value(v));
    case JSON_TRUE:
        put(w, "true", 4);
        return true;
    case JSON_FALSE:
        put(w, "false", 5);
        return true;
    case JSON_NULL:
        put(w, "null", 4);
        return true;
    }
    return false;
}

/* A tree's value (or NULL: "{}"): written here, or dumped by jansson
 * into the buffer when put_value leaves it. */
static void dump_object(writer_t *w, const json_t *obj)
{
    if (!obj) {
        put(w, "{}", 2);
        return;
    }
    size_t mark = w->t->len;
    if (put_value(w, obj, 0) || w->failed)
        return;
    w->t->len = mark;
    size_t flags = w->flags | JSON_ENCODE_ANY;
    size_t room = w->t->cap > w->t->len ? w->t->cap - w->t->len - 1 : 0;
    size_t need = json_dumpb(obj, room ? w->t->buf + w->t->len : NULL, room, flags);
    if (need == 0) {
        w->failed = true;
        return;
    }
    if (need > room) {
        if (!reserve(w, need))
            return;
        json_dumpb(obj, w->t->buf + w->t->len, need, flags);
    }
    w->t->len += need;
}

/* name:obj; with extra_key set, the member extra_key:extra_value goes
 * into the object as json_object_set_new on a copy of it would put it
 * (canh.evidence.consequence): appended, or replaced in place. */
static void member_object(writer_t *w, const char *name, const json_t *obj, const char *extra_key,
                          const char *extra_value)
{
    key(w, name);
    if (!extra_key || (obj && !json_is_object(obj))) {
        dump_object(w, obj);
        return;
    }
    if (obj && json_object_get(obj, extra_key)) {
        /* Replaced in place: rare, let jansson do it on a copy. */
        json_t *copy = json_copy((json_t *)obj);
        if (!copy || json_object_set_new(copy, extra_key, json_string(extra_value)) < 0) {
            json_decref(copy);
            w->failed = true;
            return;
        }
        dump_object(w, copy);
        json_decref(copy);
        return;
    }
    dump_object(w, obj);
    if (w->failed)
        return;
    /* "{...}" → "{...,"k":"v"}", "{}" → "{"k":"v"}" */
    w->t->len--;
    if (w->depth == EVENT_TEXT_DEPTH) {
        w->failed = true;
        return;
    }
    w->first[++w->depth] = w->t->buf[w->t->len - 1] == '{';
    member_str(w, extra_key, extra_value);
    close_obj(w);
}

/* member_object for a detector's object given as a tree (obj) or, when
 * obj is NULL, as its text: copied as it is (the writer's text, already
 * jansson's dump), or with extra_key through a tree. */
static void member_object_text(writer_t *w, const char *name, const json_t *obj, const char *text,
                               size_t len, const char *extra_key, const char *extra_value)
{
    if (obj || !text) {
        member_object(w, name, obj, extra_key, extra_value);
        return;
    }
    if (!extra_key) {
        key(w, name);
        put(w, text, len);
        return;
    }
    json_t *tree = json_loadb(text, len, 0, NULL);
    if (!tree) {
        w->failed = true;
        return;
    }
    member_object(w, name, tree, extra_key, extra_value);
    json_decref(tree);
}

/* ---- the writer's public face ------------------------------------------ */

void event_text_start(writer_t *w, struct event_text *t, size_t flags)
{
    *w = (writer_t){.t = t, .flags = flags};
    w->first[0] = true;
    t->len = 0;
}

int event_text_finish(writer_t *w)
{
    if (w->failed || !reserve(w, 0)) {
        w->t->len = 0;
        return -1;
    }
    w->t->buf[w->t->len] = '\0';
    return 0;
}

void event_text_object(writer_t *w, const char *name)
{
    key(w, name);
    open_obj(w);
}

void event_text_object_end(writer_t *w)
{
    close_obj(w);
}

void event_text_array(writer_t *w, const char *name)
{
    key(w, name);
    put_char(w, '[');
    if (w->depth == EVENT_TEXT_DEPTH) {
        w->failed = true;
        return;
    }
    w->first[++w->depth] = true;
}

void event_text_array_end(writer_t *w)
{
    put_char(w, ']');
    if (w->depth > 0)
        w->depth--;
}

void event_text_string(writer_t *w, const char *name, const char *value)
{
    member_str(w, name, value);
}

void event_text_stringn(writer_t *w, const char *name, const char *value, size_t len)
{
    member_strn(w, name, value, len);
}

void event_text_int(writer_t *w, const char *name, long long value)
{
    member_int(w, name, value);
}

void event_text_bool(writer_t *w, const char *name, bool value)
{
    key(w, name);
    if (value)
        put(w, "true", 4);
    else
        put(w, "false", 5);
}

void event_text_null(writer_t *w, const char *name)
{
    key(w, name);
    put(w, "null", 4);
}

void event_text_value(writer_t *w, const char *name, const json_t *value)
{
    key(w, name);
    dump_object(w, value);
}

bool event_text_json(writer_t *w, const char *name, const char *text, size_t len)
{
    int precision = (int)((w->flags >> 11) & 0x1F);
    if (json_canon_is_dump(text, len, precision)) {
        key(w, name);
        put(w, text, len);
        return true;
    }
    json_t *tree = json_loadb(text, len, 0, NULL);
    if (!tree)
        return false;
    event_text_value(w, name, tree);
    json_decref(tree);
    return true;
}

int evt_format(const struct evt *ev, struct event_text *t)
{
    writer_t w;
    const struct taxonomy *tax = ev->taxonomy;
    enum severity sev = ev->severity;
    char buf[256];
    event_text_start(&w, t, EVENT_FLAGS);

    open_obj(&w);
    member_time(&w, "timestamp", ev->ts_us);
    if (ev->flow_id)
        member_int(&w, "flow_id", (long long)ev->flow_id);
    if (ev->in_iface && ev->in_iface[0])
        member_str(&w, "in_iface", ev->in_iface);
    member_str(&w, "event_type", event_type_name(ev->state));
    if (ev->has_src)
        member_str(&w, "src_ip", addr_format(&ev->src, buf, sizeof(buf)));
    if (ev->src_port)
        member_int(&w, "src_port", ev->src_port);
    if (ev->has_dst)
        member_str(&w, "dest_ip", addr_format(&ev->dst, buf, sizeof(buf)));
    if (ev->dest_port)
        member_int(&w, "dest_port", ev->dest_port);
    if (ev->proto)
        member_str(&w, "proto", event_proto_name(ev->proto, buf, sizeof(buf)));
    if (ev->community_id[0])
        member_str(&w, "community_id", ev->community_id);
    if (ev->agent && ev->agent[0])
        member_str(&w, "host", ev->agent);

    key(&w, "alert");
    open_obj(&w);
    member_str(&w, "action", "allowed");
    member_int(&w, "gid", EVENT_SIGNATURE_GID);
    member_int(&w, "signature_id", event_signature_id(ev->rule->name));
    member_int(&w, "rev", ev->rules_rev ? ev->rules_rev : 1);
    /* "canh <kind>" and "<vi> / <en>", cut at buf's size as snprintf was */
    size_t n = text_append(buf, sizeof(buf), 0, "canh ", 5);
    n = text_append(buf, sizeof(buf), n, ev->kind, strlen(ev->kind));
    member_strn(&w, "signature", buf, n);
    n = text_copy(buf, sizeof(buf), tax->vi);
    n = text_append(buf, sizeof(buf), n, " / ", 3);
    n = text_append(buf, sizeof(buf), n, tax->en, strlen(tax->en));
    member_strn(&w, "category", buf, n);
    member_int(&w, "severity", event_eve_severity(sev));
    close_obj(&w);

    key(&w, "canh");
    open_obj(&w);
    member_int(&w, "v", EVENT_SCHEMA_VERSION);
    member_str(&w, "id", ev->id);
    member_str(&w, "finding_id", ev->finding_id);
    member_str(&w, "agent", ev->agent ? ev->agent : "");
    member_str(&w, "agency", ev->agency ? ev->agency : "");
    member_str(&w, "kind", ev->kind);
    member_str(&w, "state", finding_state_name(ev->state));
    key(&w, "taxonomy");
    open_obj(&w);
    member_str(&w, "code", tax->code);
    member_str(&w, "vi", tax->vi);
    member_str(&w, "en", tax->en);
    close_obj(&w);
    member_str(&w, "severity", severity_name(sev));
    member_str(&w, "class", event_class_name(ev->class_));
    member_str(&w, "rule", ev->rule->ref);
    if (ev->asset) {
        key(&w, "asset");
        open_obj(&w);
        member_str(&w, "name", ev->asset->name);
        member_str(&w, "owner", ev->asset->owner);
        member_int(&w, "level", ev->asset->level);
        if (ev->asset->national_critical) {
            key(&w, "national_critical");
            put(&w, "true", 4);
        }
        close_obj(&w);
    }
    if (ev->src_country[0]) {
        key(&w, "src_geo");
        open_obj(&w);
        member_str(&w, "country", ev->src_country);
        close_obj(&w);
    }
    member_time(&w, "first_seen", ev->first_seen_us);
    member_time(&w, "last_seen", ev->last_seen_us);
    member_object_text(&w, "counters", ev->counters, ev->counters_text, ev->counters_len, NULL,
                       NULL);
    if (ev->sensor) {
        key(&w, "sensor");
        put(&w, "true", 4);
    }
    member_object_text(&w, "evidence", ev->evidence, ev->evidence_text, ev->evidence_len,
                       ev->consequence != CONSEQ_NONE ? "consequence" : NULL,
                       consequence_name(ev->consequence));
    if (ev->exercise)
        member_str(&w, "exercise", ev->exercise);
    close_obj(&w);
    close_obj(&w);

    return event_text_finish(&w);
}

void event_text_free(struct event_text *t)
{
    free(t->memo);
    free(t->buf);
    memset(t, 0, sizeof(*t));
}
