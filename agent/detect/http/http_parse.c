/* http_parse.c — see http_parse.h.  RFC 9112 grammar, read leniently
 * where servers and clients are known to be sloppy (bare LF line ends,
 * missing reason phrases) and strictly where a lie would mislead a
 * detector (lengths, chunk sizes, header names). */
#include "agent/detect/http/http_parse.h"

#include <string.h>

/* ---- small helpers ------------------------------------------------- */

static inline uint8_t lower(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

bool http_slice_eq(struct http_slice s, const char *text)
{
    size_t n = strlen(text);
    return s.len == n && (n == 0 || memcmp(s.p, text, n) == 0);
}

bool http_slice_ieq(struct http_slice s, const char *text)
{
    size_t n = strlen(text);
    if (s.len != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower(s.p[i]) != lower((uint8_t)text[i]))
            return false;
    return true;
}

const uint8_t *http_memcasemem(const uint8_t *hay, size_t hlen, const char *needle, size_t nlen)
{
    if (nlen == 0)
        return hay;
    if (hlen < nlen)
        return NULL;
    uint8_t first = lower((uint8_t)needle[0]);
    for (size_t i = 0; i + nlen <= hlen; i++) {
        if (lower(hay[i]) != first)
            continue;
        size_t k = 1;
        while (k < nlen && lower(hay[i + k]) == lower((uint8_t)needle[k]))
            k++;
        if (k == nlen)
            return hay + i;
    }
    return NULL;
}

/* RFC 9110 tchar: letters, digits and !#$%&'*+-.^_`|~ (a table: every
 * byte of every header name goes through it). */
static const uint8_t tchar_table[256] = {
    /* clang-format off */
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
    ['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1,
    /* clang-format on */
};

static bool is_tchar(uint8_t c)
{
    return tchar_table[c];
}

static struct http_slice trim(const uint8_t *p, size_t len)
{
    while (len && (p[0] == ' ' || p[0] == '\t')) {
        p++;
        len--;
    }
    while (len && (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '\r'))
        len--;
    return (struct http_slice){p, len};
}

/* End of the head: offset just past the blank line, or 0 when absent. */
static size_t find_head_end(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        const uint8_t *nl = memchr(p + i, '\n', len - i);
        if (!nl)
            break;
        i = (size_t)(nl - p);
        if (i + 1 < len && p[i + 1] == '\n')
            return i + 2;
        if (i + 2 < len && p[i + 1] == '\r' && p[i + 2] == '\n')
            return i + 3;
    }
    return 0;
}

/* Do the first bytes still look like the start of an HTTP message?  Lets a
 * TLS ClientHello or an SSH banner be told apart before a whole head. */
static enum http_result plausible_start(const uint8_t *p, size_t len, bool expect_request)
{
    if (expect_request) {
        size_t i = 0;
        while (i < len && i < 24 && p[i] >= 'A' && p[i] <= 'Z')
            i++;
        if (i == len)
            return i <= 20 ? HTTP_MORE : HTTP_NOT_HTTP;
        return (i > 0 && i <= 20 && p[i] == ' ') ? HTTP_OK : HTTP_NOT_HTTP;
    }
    static const char magic[] = "HTTP/1.";
    size_t n = len < 7 ? len : 7;
    return memcmp(p, magic, n) == 0 ? (len < 7 ? HTTP_MORE : HTTP_OK) : HTTP_NOT_HTTP;
}

static bool parse_version(const uint8_t *p, size_t len, int *minor)
{
    if (len != 8 || memcmp(p, "HTTP/1.", 7) != 0 || p[7] < '0' || p[7] > '9')
        return false;
    *minor = p[7] - '0';
    return true;
}

static enum http_result parse_request_line(const uint8_t *p, size_t len, struct http_head *h)
{
    const uint8_t *sp1 = memchr(p, ' ', len);
    if (!sp1 || sp1 == p)
        return HTTP_BAD;
    for (const uint8_t *q = p; q < sp1; q++)
        if (!is_tchar(*q))
            return HTTP_BAD;
    const uint8_t *target = sp1 + 1;
    size_t rest = len - (size_t)(target - p);
    const uint8_t *sp2 = memchr(target, ' ', rest);
    if (!sp2 || sp2 == target)
        return HTTP_BAD;
    for (const uint8_t *q = target; q < sp2; q++)
        if (*q <= 0x20 || *q == 0x7f)
            return HTTP_BAD;
    const uint8_t *ver = sp2 + 1;
    if (!parse_version(ver, len - (size_t)(ver - p), &h->minor_version))
        return HTTP_BAD;
    h->is_request = true;
    h->method = (struct http_slice){p, (size_t)(sp1 - p)};
    h->target = (struct http_slice){target, (size_t)(sp2 - target)};
    return HTTP_OK;
}

static enum http_result parse_status_line(const uint8_t *p, size_t len, struct http_head *h)
{
    if (len < 12 || !parse_version(p, 8, &h->minor_version) || p[8] != ' ')
        return HTTP_BAD;
    int status = 0;
    for (int i = 9; i < 12; i++) {
        if (p[i] < '0' || p[i] > '9')
            return HTTP_BAD;
        status = status * 10 + (p[i] - '0');
    }
    if (status < 100 || (len > 12 && p[12] != ' '))
        return HTTP_BAD;
    h->is_request = false;
    h->status = status;
    return HTTP_OK;
}

/* multipart/form-data; boundary="..." */
static void parse_boundary(struct http_head *h)
{
    struct http_slice ct = h->content_type;
    if (!http_memcasemem(ct.p, ct.len, "multipart/", 10))
        return;
    const uint8_t *b = http_memcasemem(ct.p, ct.len, "boundary=", 9);
    if (!b)
        return;
    b += 9;
    size_t left = ct.len - (size_t)(b - ct.p);
    size_t n = 0;
    if (left && *b == '"') {
        b++;
        left--;
        while (n < left && b[n] != '"')
            n++;
    } else {
        while (n < left && b[n] != ';' && b[n] != ' ' && b[n] != '\t')
            n++;
    }
    /* RFC 2046: 1 to 70 characters. */
    if (n >= 1 && n <= 70)
        h->boundary = (struct http_slice){b, n};
}

/* Header names compared by length first, without strlen: most names
 * are none of the few canh reads. */
#define NAME_IS(name, text) ((name).len == sizeof(text) - 1 && http_slice_ieq((name), (text)))

static enum http_result parse_header(struct http_head *h, const uint8_t *p, size_t len)
{
    const uint8_t *colon = memchr(p, ':', len);
    if (!colon || colon == p)
        return HTTP_BAD;
    for (const uint8_t *q = p; q < colon; q++)
        if (!is_tchar(*q))
            return HTTP_BAD;
    struct http_slice name = {p, (size_t)(colon - p)};
    struct http_slice value = trim(colon + 1, len - (size_t)(colon + 1 - p));

    if (NAME_IS(name, "host")) {
        h->host = value;
    } else if (NAME_IS(name, "content-length")) {
        if (value.len == 0 || value.len > 18)
            return HTTP_BAD;
        uint64_t n = 0;
        for (size_t i = 0; i < value.len; i++) {
            if (value.p[i] < '0' || value.p[i] > '9')
                return HTTP_BAD;
            n = n * 10 + (uint64_t)(value.p[i] - '0');
        }
        /* Two different lengths are a smuggling attempt, not a message. */
        if (h->has_length && h->content_length != n)
            return HTTP_BAD;
        h->has_length = true;
        h->content_length = n;
    } else if (NAME_IS(name, "transfer-encoding")) {
        /* chunked must be the final coding (RFC 9112 §6.1). */
        h->chunked = value.len >= 7 &&
                     http_slice_ieq((struct http_slice){value.p + value.len - 7, 7}, "chunked");
    } else if (NAME_IS(name, "content-type")) {
        h->content_type = value;
    } else if (NAME_IS(name, "content-encoding")) {
        if (http_slice_ieq(value, "gzip") || http_slice_ieq(value, "x-gzip"))
            h->coding = HTTP_CODING_GZIP;
        else if (http_slice_ieq(value, "deflate"))
            h->coding = HTTP_CODING_DEFLATE;
        else if (value.len && !http_slice_ieq(value, "identity"))
            h->coding = HTTP_CODING_OTHER;
    } else if (NAME_IS(name, "connection")) {
        h->connection_close = http_memcasemem(value.p, value.len, "close", 5) != NULL;
    } else if (NAME_IS(name, "destination")) {
        h->destination = value;
    } else if (NAME_IS(name, "user-agent")) {
        h->user_agent = value;
    }
    return HTTP_OK;
}

enum http_result http_parse_head(const uint8_t *p, size_t len, bool expect_request,
                                 struct http_head *h)
{
    memset(h, 0, sizeof(*h));
    enum http_result r = plausible_start(p, len, expect_request);
    if (r != HTTP_OK)
        return r;
    size_t scan = len < HTTP_MAX_HEAD ? len : HTTP_MAX_HEAD;
    size_t end = find_head_end(p, scan);
    if (end == 0)
        return len >= HTTP_MAX_HEAD ? HTTP_BAD : HTTP_MORE;
    h->head_len = end;

    const uint8_t *line = p;
    const uint8_t *stop = p + end;
    bool first = true;
    while (line < stop) {
        const uint8_t *nl = memchr(line, '\n', (size_t)(stop - line));
        if (!nl)
            return HTTP_BAD; /* cannot happen: the head ends with a newline */
        size_t n = (size_t)(nl - line);
        if (n && line[n - 1] == '\r')
            n--;
        /* A NUL or a bare CR inside a line (memchr: vector compares). */
        if (memchr(line, 0, n) || memchr(line, '\r', n))
            return HTTP_BAD;
        if (first) {
            h->start_line = (struct http_slice){line, n};
            r = expect_request ? parse_request_line(line, n, h) : parse_status_line(line, n, h);
            if (r != HTTP_OK)
                return r;
            first = false;
        } else if (n == 0) {
            break;
        } else if (line[0] == ' ' || line[0] == '\t') {
            /* Obsolete line folding: carries nothing canh reads. */
        } else if ((r = parse_header(h, line, n)) != HTTP_OK) {
            return r;
        }
        line = nl + 1;
    }
    if (h->chunked)
        h->has_length = false; /* Transfer-Encoding overrides Content-Length */
    parse_boundary(h);
    return HTTP_OK;
}

/* ---- bodies -------------------------------------------------------- */

enum chunk_state {
    CS_SIZE,
    CS_EXT,
    CS_SIZE_LF,
    CS_DATA,
    CS_DATA_CR,
    CS_DATA_LF,
    CS_TRAILER_START,
    CS_TRAILER_LINE,
    CS_TRAILER_END_LF,
};

/* The chunk-size line has at least one hex digit: kept in the high bit of
 * chunk_state so the struct stays small. */
#define CS_HAVE_DIGIT 0x80

void http_body_start(struct http_body *b, const struct http_head *head, const char *request_method)
{
    memset(b, 0, sizeof(*b));
    if (!head->is_request) {
        bool no_body = (head->status >= 100 && head->status < 200) || head->status == 204 ||
                       head->status == 304 ||
                       (request_method && strcmp(request_method, "HEAD") == 0);
        if (no_body) {
            b->mode = HTTP_BODY_NONE;
            b->done = true;
            return;
        }
    }
    if (head->chunked) {
        b->mode = HTTP_BODY_CHUNKED;
        b->chunk_state = CS_SIZE;
    } else if (head->has_length) {
        b->mode = head->content_length ? HTTP_BODY_LENGTH : HTTP_BODY_NONE;
        b->remaining = head->content_length;
    } else {
        b->mode = head->is_request ? HTTP_BODY_NONE : HTTP_BODY_UNTIL_CLOSE;
    }
    b->done = b->mode == HTTP_BODY_NONE;
}

static int hex_value(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static long feed_chunked(struct http_body *b, const uint8_t *p, size_t len, http_body_sink sink,
                         void *ctx)
{
    size_t i = 0;
    while (i < len && !b->done) {
        uint8_t c = p[i];
        uint8_t state = b->chunk_state & 0x7f;
        switch (state) {
        case CS_SIZE: {
            int v = hex_value(c);
            if (v >= 0) {
                if (b->remaining > (UINT64_MAX >> 4))
                    return -1;
                b->remaining = b->remaining << 4 | (uint64_t)v;
                b->chunk_state |= CS_HAVE_DIGIT;
                i++;
                break;
            }
            if (!(b->chunk_state & CS_HAVE_DIGIT))
                return -1;
            if (c == ';' || c == ' ' || c == '\t')
                b->chunk_state = CS_EXT;
            else if (c == '\r')
                b->chunk_state = CS_SIZE_LF;
            else if (c == '\n')
                b->chunk_state = b->remaining ? CS_DATA : CS_TRAILER_START;
            else
                return -1;
            i++;
            break;
        }
        case CS_EXT:
            if (c == '\n')
                b->chunk_state = b->remaining ? CS_DATA : CS_TRAILER_START;
            i++;
            break;
        case CS_SIZE_LF:
            if (c != '\n')
                return -1;
            b->chunk_state = b->remaining ? CS_DATA : CS_TRAILER_START;
            i++;
            break;
        case CS_DATA: {
            size_t take = len - i;
            if (take > b->remaining)
                take = (size_t)b->remaining;
            if (sink)
                sink(ctx, p + i, take);
            b->decoded += take;
            b->remaining -= take;
            i += take;
            if (b->remaining == 0)
                b->chunk_state = CS_DATA_CR;
            break;
        }
        case CS_DATA_CR:
            if (c == '\r')
                b->chunk_state = CS_DATA_LF;
            else if (c == '\n')
                b->chunk_state = CS_SIZE;
            else
                return -1;
            i++;
            break;
        case CS_DATA_LF:
            if (c != '\n')
                return -1;
            b->chunk_state = CS_SIZE;
            i++;
            break;
        case CS_TRAILER_START:
            if (c == '\r')
                b->chunk_state = CS_TRAILER_END_LF;
            else if (c == '\n')
                b->done = true;
            else
                b->chunk_state = CS_TRAILER_LINE;
            i++;
            break;
        case CS_TRAILER_LINE:
            if (c == '\n')
                b->chunk_state = CS_TRAILER_START;
            i++;
            break;
        case CS_TRAILER_END_LF:
            if (c != '\n')
                return -1;
            b->done = true;
            i++;
            break;
        default:
            return -1;
        }
    }
    return (long)i;
}

long http_body_feed(struct http_body *b, const uint8_t *p, size_t len, http_body_sink sink,
                    void *ctx)
{
    long used = 0;
    if (b->done || len == 0)
        return 0;
    switch (b->mode) {
    case HTTP_BODY_NONE:
        b->done = true;
        return 0;
    case HTTP_BODY_LENGTH: {
        size_t take = len < b->remaining ? len : (size_t)b->remaining;
        if (sink)
            sink(ctx, p, take);
        b->remaining -= take;
        b->decoded += take;
        b->done = b->remaining == 0;
        used = (long)take;
        break;
    }
    case HTTP_BODY_UNTIL_CLOSE:
        if (sink)
            sink(ctx, p, len);
        b->decoded += len;
        used = (long)len;
        break;
    case HTTP_BODY_CHUNKED:
        used = feed_chunked(b, p, len, sink, ctx);
        if (used < 0)
            return -1;
        break;
    }
    b->wire += (uint64_t)used;
    return used;
}

void http_body_eof(struct http_body *b)
{
    if (b->mode == HTTP_BODY_UNTIL_CLOSE)
        b->done = true;
}

/* ---- multipart/form-data ------------------------------------------- */

/* Offset of "--boundary" at or after from, at a line start; len if none. */
static size_t find_delimiter(const uint8_t *body, size_t len, struct http_slice boundary,
                             size_t from)
{
    size_t need = boundary.len + 2;
    for (size_t i = from; i + need <= len; i++) {
        if (body[i] != '-' || body[i + 1] != '-' ||
            memcmp(body + i + 2, boundary.p, boundary.len) != 0)
            continue;
        if (i == 0 || body[i - 1] == '\n')
            return i;
    }
    return len;
}

/* A parameter of a Content-Disposition value: name="value" or name=token. */
static struct http_slice disposition_param(struct http_slice v, const char *param)
{
    size_t plen = strlen(param);
    size_t i = 0;
    while (i < v.len) {
        /* Move to the start of the next parameter. */
        while (i < v.len && v.p[i] != ';')
            i++;
        if (i >= v.len)
            break;
        i++;
        while (i < v.len && (v.p[i] == ' ' || v.p[i] == '\t'))
            i++;
        if (v.len - i > plen && http_slice_ieq((struct http_slice){v.p + i, plen}, param) &&
            v.p[i + plen] == '=') {
            size_t s = i + plen + 1;
            size_t e;
            if (s < v.len && v.p[s] == '"') {
                s++;
                e = s;
                while (e < v.len && v.p[e] != '"')
                    e++;
            } else {
                e = s;
                while (e < v.len && v.p[e] != ';' && v.p[e] != ' ')
                    e++;
            }
            return (struct http_slice){v.p + s, e - s};
        }
    }
    return (struct http_slice){NULL, 0};
}

int http_multipart_next(const uint8_t *body, size_t len, struct http_slice boundary, size_t *offset,
                        struct http_part *part)
{
    memset(part, 0, sizeof(*part));
    if (boundary.len == 0 || *offset >= len)
        return 0;
    size_t d = find_delimiter(body, len, boundary, *offset);
    size_t after = d + 2 + boundary.len;
    if (d >= len || after + 2 > len)
        return 0;
    if (body[after] == '-' && body[after + 1] == '-')
        return 0; /* closing delimiter */
    const uint8_t *eol = memchr(body + after, '\n', len - after);
    if (!eol)
        return 0;
    size_t hstart = (size_t)(eol - body) + 1;
    size_t hend = find_head_end(body + hstart - 1, len - hstart + 1);
    const uint8_t *line = body + hstart;
    const uint8_t *stop;
    if (hend == 0) {
        /* Headers of the part cut off by the prefix: read what is there. */
        stop = body + len;
        hend = len;
    } else {
        hend = hstart - 1 + hend;
        stop = body + hend;
    }
    while (line < stop) {
        const uint8_t *nl = memchr(line, '\n', (size_t)(stop - line));
        size_t n = nl ? (size_t)(nl - line) : (size_t)(stop - line);
        struct http_slice l = trim(line, n);
        const uint8_t *colon = memchr(l.p, ':', l.len);
        if (colon) {
            struct http_slice name = {l.p, (size_t)(colon - l.p)};
            struct http_slice value = trim(colon + 1, l.len - (size_t)(colon + 1 - l.p));
            if (http_slice_ieq(name, "content-disposition")) {
                part->name = disposition_param(value, "name");
                part->filename = disposition_param(value, "filename");
                if (!part->filename.len)
                    part->filename = disposition_param(value, "filename*");
            } else if (http_slice_ieq(name, "content-type")) {
                part->content_type = value;
            }
        }
        if (!nl)
            break;
        line = nl + 1;
    }
    if (hend >= len) {
        *offset = len;
        return 1;
    }
    size_t next = find_delimiter(body, len, boundary, hend);
    size_t data_end = next;
    if (next < len) {
        /* The CRLF before the delimiter belongs to it. */
        if (data_end > hend && body[data_end - 1] == '\n')
            data_end--;
        if (data_end > hend && body[data_end - 1] == '\r')
            data_end--;
        part->complete = true;
    }
    part->data = (struct http_slice){body + hend, data_end - hend};
    *offset = next;
    return 1;
}

/* ---- content coding ------------------------------------------------ */

static long inflate_once(z_stream *z, int window_bits, const uint8_t *in, size_t in_len,
                         uint8_t *out, size_t out_cap)
{
    if (inflateReset2(z, window_bits) != Z_OK)
        return -1;
    z->next_in = (Bytef *)(uintptr_t)in;
    z->avail_in = (uInt)(in_len > UINT32_MAX ? UINT32_MAX : in_len);
    z->next_out = out;
    z->avail_out = (uInt)(out_cap > UINT32_MAX ? UINT32_MAX : out_cap);
    int rc = inflate(z, Z_SYNC_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
        return -1;
    return (long)(out_cap - z->avail_out);
}

long http_inflate_prefix(z_stream *z, enum http_coding coding, const uint8_t *in, size_t in_len,
                         uint8_t *out, size_t out_cap)
{
    if (coding != HTTP_CODING_GZIP && coding != HTTP_CODING_DEFLATE)
        return -1;
    /* 15 + 32: zlib or gzip header, detected. */
    long n = inflate_once(z, 15 + 32, in, in_len, out, out_cap);
    /* "deflate" is meant to be zlib-wrapped, but some servers send raw
     * deflate (RFC 9110 §8.4.1.2 notes the confusion). */
    if (n < 0 && coding == HTTP_CODING_DEFLATE)
        n = inflate_once(z, -15, in, in_len, out, out_cap);
    return n;
}
