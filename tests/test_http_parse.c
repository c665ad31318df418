/* test_http_parse.c — HTTP/1.x heads, body framing (length, chunked across
 * any split, until close), multipart parts, gzip/deflate prefixes, and
 * malformed or non-HTTP input told apart. */
#include <check.h>
#include <string.h>
#include <zlib.h>

#include <ctype.h>

#include "agent/detect/http/http_internal.h"
#include "agent/detect/http/http_parse.h"
#include "testutil.h"

static enum http_result parse(const char *text, bool req, struct http_head *h)
{
    return http_parse_head((const uint8_t *)text, strlen(text), req, h);
}

START_TEST(request_head_fields)
{
    struct http_head h;
    const char *t = "PUT /uploads/shell.php HTTP/1.1\r\nHost: portal.example\r\n"
                    "Content-Type: application/octet-stream\r\nContent-Length: 42\r\n"
                    "User-Agent: curl/7.88\r\n\r\nBODY";
    ck_assert_int_eq(parse(t, true, &h), HTTP_OK);
    ck_assert(h.is_request);
    ck_assert(http_slice_eq(h.method, "PUT"));
    ck_assert(http_slice_eq(h.target, "/uploads/shell.php"));
    ck_assert(http_slice_eq(h.host, "portal.example"));
    ck_assert(h.has_length);
    ck_assert_uint_eq(h.content_length, 42);
    ck_assert_int_eq(h.minor_version, 1);
    ck_assert_uint_eq(h.head_len, strlen(t) - 4);
    ck_assert(http_slice_eq(h.start_line, "PUT /uploads/shell.php HTTP/1.1"));
}
END_TEST

START_TEST(response_head_fields)
{
    struct http_head h;
    ck_assert_int_eq(parse("HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                           "Transfer-Encoding: chunked\r\nContent-Length: 10\r\n"
                           "Content-Encoding: gzip\r\nConnection: close\r\n\r\n",
                           false, &h),
                     HTTP_OK);
    ck_assert_int_eq(h.status, 200);
    ck_assert(h.chunked);
    ck_assert(!h.has_length); /* chunked wins over Content-Length */
    ck_assert_int_eq(h.coding, HTTP_CODING_GZIP);
    ck_assert(h.connection_close);
    /* Bare LF line ends and no reason phrase are accepted. */
    ck_assert_int_eq(parse("HTTP/1.0 404\nServer: x\n\n", false, &h), HTTP_OK);
    ck_assert_int_eq(h.status, 404);
}
END_TEST

START_TEST(incomplete_heads_need_more)
{
    struct http_head h;
    const char *t = "GET /index.html HTTP/1.1\r\nHost: a\r\n\r\n";
    for (size_t n = 0; n < strlen(t); n++)
        ck_assert_int_eq(http_parse_head((const uint8_t *)t, n, true, &h), HTTP_MORE);
    ck_assert_int_eq(http_parse_head((const uint8_t *)t, strlen(t), true, &h), HTTP_OK);
}
END_TEST

START_TEST(malformed_and_not_http)
{
    struct http_head h;
    ck_assert_int_eq(parse("GET /a HTTP/2.0\r\n\r\n", true, &h), HTTP_BAD);
    ck_assert_int_eq(parse("GET  HTTP/1.1\r\n\r\n", true, &h), HTTP_BAD);
    ck_assert_int_eq(parse("GET /a HTTP/1.1\r\nNo colon here\r\n\r\n", true, &h), HTTP_BAD);
    ck_assert_int_eq(parse("GET /a HTTP/1.1\r\nBad Name: x\r\n\r\n", true, &h), HTTP_BAD);
    ck_assert_int_eq(
        parse("POST /a HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", true, &h),
        HTTP_BAD);
    ck_assert_int_eq(parse("POST /a HTTP/1.1\r\nContent-Length: -5\r\n\r\n", true, &h), HTTP_BAD);
    ck_assert_int_eq(parse("HTTP/1.1 2x0 OK\r\n\r\n", false, &h), HTTP_BAD);
    /* A TLS ClientHello and an SSH banner are not HTTP at all. */
    const uint8_t tls[] = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03};
    ck_assert_int_eq(http_parse_head(tls, sizeof(tls), true, &h), HTTP_NOT_HTTP);
    ck_assert_int_eq(http_parse_head(tls, sizeof(tls), false, &h), HTTP_NOT_HTTP);
    ck_assert_int_eq(parse("SSH-2.0-OpenSSH_9.2\r\n", true, &h), HTTP_NOT_HTTP);
    ck_assert_int_eq(parse("SSH-2.0-OpenSSH_9.2\r\n", false, &h), HTTP_NOT_HTTP);
    /* A head that never ends is bad once it passes the limit. */
    static uint8_t big[HTTP_MAX_HEAD + 10];
    memcpy(big, "GET / HTTP/1.1\r\n", 16);
    memset(big + 16, 'a', sizeof(big) - 16);
    ck_assert_int_eq(http_parse_head(big, sizeof(big), true, &h), HTTP_BAD);
}
END_TEST

struct collect {
    char buf[256];
    size_t n;
};

static void sink(void *ctx, const uint8_t *p, size_t n)
{
    struct collect *c = ctx;
    ck_assert_uint_le(c->n + n, sizeof(c->buf));
    memcpy(c->buf + c->n, p, n);
    c->n += n;
}

static void start(struct http_body *b, const char *head, const char *method)
{
    struct http_head h;
    ck_assert_int_eq(http_parse_head((const uint8_t *)head, strlen(head), method == NULL, &h),
                     HTTP_OK);
    http_body_start(b, &h, method);
}

START_TEST(chunked_any_split)
{
    const char *wire = "5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nTrailer: x\r\n\r\nNEXT";
    size_t body_end = strlen(wire) - 4;
    /* Every way of cutting the body in two gives the same bytes. */
    for (size_t cut = 0; cut <= body_end; cut++) {
        struct http_body b;
        struct collect c = {.n = 0};
        start(&b, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "GET");
        long a = http_body_feed(&b, (const uint8_t *)wire, cut, sink, &c);
        ck_assert_int_ge(a, 0);
        long rest =
            http_body_feed(&b, (const uint8_t *)wire + a, strlen(wire) - (size_t)a, sink, &c);
        ck_assert_int_ge(rest, 0);
        ck_assert(b.done);
        ck_assert_uint_eq((size_t)(a + rest), body_end); /* NEXT is not eaten */
        ck_assert_uint_eq(c.n, 12);
        ck_assert(memcmp(c.buf, "hello, world", 12) == 0);
    }
    /* Byte by byte. */
    struct http_body b;
    struct collect c = {.n = 0};
    start(&b, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "GET");
    for (size_t i = 0; i < body_end; i++)
        ck_assert_int_eq(http_body_feed(&b, (const uint8_t *)wire + i, 1, sink, &c), 1);
    ck_assert(b.done);
    ck_assert_uint_eq(c.n, 12);
}
END_TEST

START_TEST(chunked_malformed)
{
    const char *bad[] = {"zz\r\n", "\r\n", "5\r\nhelloXX", "fffffffffffffffff\r\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct http_body b;
        start(&b, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "GET");
        ck_assert_int_eq(http_body_feed(&b, (const uint8_t *)bad[i], strlen(bad[i]), NULL, NULL),
                         -1);
    }
}
END_TEST

START_TEST(body_framing_rules)
{
    struct http_body b;
    start(&b, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", "HEAD");
    ck_assert(b.done); /* no body after HEAD */
    start(&b, "HTTP/1.1 304 Not Modified\r\n\r\n", "GET");
    ck_assert(b.done);
    start(&b, "HTTP/1.1 200 OK\r\n\r\n", "GET");
    ck_assert_int_eq(b.mode, HTTP_BODY_UNTIL_CLOSE);
    ck_assert_int_eq(http_body_feed(&b, (const uint8_t *)"abc", 3, NULL, NULL), 3);
    ck_assert(!b.done);
    http_body_eof(&b);
    ck_assert(b.done);
    start(&b, "GET / HTTP/1.1\r\n\r\n", NULL);
    ck_assert(b.done); /* a request without length has no body */
    start(&b, "POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\n", NULL);
    ck_assert_int_eq(http_body_feed(&b, (const uint8_t *)"abcdefgh", 8, NULL, NULL), 4);
    ck_assert(b.done);
}
END_TEST

START_TEST(multipart_parts)
{
    struct http_head h;
    const char *head = "POST /upload.php HTTP/1.1\r\nContent-Type: multipart/form-data; "
                       "boundary=\"----X1\"\r\nContent-Length: 999\r\n\r\n";
    ck_assert_int_eq(parse(head, true, &h), HTTP_OK);
    ck_assert(http_slice_eq(h.boundary, "----X1"));
    const char *body =
        "------X1\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nhello\r\n"
        "------X1\r\nContent-Disposition: form-data; name=\"file\"; filename=\"sh.php\"\r\n"
        "Content-Type: application/x-php\r\n\r\n<?php system($_GET['c']); ?>\r\n"
        "------X1--\r\n";
    size_t off = 0;
    struct http_part part;
    ck_assert_int_eq(
        http_multipart_next((const uint8_t *)body, strlen(body), h.boundary, &off, &part), 1);
    ck_assert(http_slice_eq(part.name, "title"));
    ck_assert_uint_eq(part.filename.len, 0);
    ck_assert(http_slice_eq(part.data, "hello"));
    ck_assert_int_eq(
        http_multipart_next((const uint8_t *)body, strlen(body), h.boundary, &off, &part), 1);
    ck_assert(http_slice_eq(part.name, "file"));
    ck_assert(http_slice_eq(part.filename, "sh.php"));
    ck_assert(http_slice_eq(part.content_type, "application/x-php"));
    ck_assert(http_slice_eq(part.data, "<?php system($_GET['c']); ?>"));
    ck_assert(part.complete);
    ck_assert_int_eq(
        http_multipart_next((const uint8_t *)body, strlen(body), h.boundary, &off, &part), 0);
    /* A prefix that ends inside the file still names it. */
    size_t cut = (size_t)(strstr(body, "system") - body);
    off = 0;
    ck_assert_int_eq(http_multipart_next((const uint8_t *)body, cut, h.boundary, &off, &part), 1);
    ck_assert_int_eq(http_multipart_next((const uint8_t *)body, cut, h.boundary, &off, &part), 1);
    ck_assert(http_slice_eq(part.filename, "sh.php"));
    ck_assert(!part.complete);
}
END_TEST

static size_t compress_with(int window_bits, const char *text, uint8_t *out, size_t cap)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    ck_assert_int_eq(deflateInit2(&z, 6, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (Bytef *)(uintptr_t)text;
    z.avail_in = (uInt)strlen(text);
    z.next_out = out;
    z.avail_out = (uInt)cap;
    ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    size_t n = cap - z.avail_out;
    deflateEnd(&z);
    return n;
}

START_TEST(inflate_prefixes)
{
    const char *html = "<html><head><title>Hacked by Nobody</title></head><body>"
                       "<h1>Security is a myth</h1></body></html>";
    uint8_t packed[512], out[512];
    z_stream z;
    memset(&z, 0, sizeof(z));
    ck_assert_int_eq(inflateInit2(&z, 15 + 32), Z_OK);
    int modes[3] = {15 + 16, 15, -15}; /* gzip, zlib, raw deflate */
    enum http_coding coding[3] = {HTTP_CODING_GZIP, HTTP_CODING_DEFLATE, HTTP_CODING_DEFLATE};
    for (int m = 0; m < 3; m++) {
        size_t n = compress_with(modes[m], html, packed, sizeof(packed));
        long got = http_inflate_prefix(&z, coding[m], packed, n, out, sizeof(out));
        ck_assert_int_eq(got, (long)strlen(html));
        ck_assert(memcmp(out, html, strlen(html)) == 0);
        /* Only the first bytes of the body: what inflates is a prefix. */
        got = http_inflate_prefix(&z, coding[m], packed, n / 2, out, sizeof(out));
        ck_assert_int_ge(got, 0);
        ck_assert(memcmp(out, html, (size_t)got) == 0);
    }
    ck_assert_int_eq(
        http_inflate_prefix(&z, HTTP_CODING_GZIP, (const uint8_t *)html, 20, out, sizeof(out)), -1);
    inflateEnd(&z);
}
END_TEST

START_TEST(case_insensitive_search)
{
    const uint8_t t[] = "xx HaCkEd By yy";
    ck_assert_ptr_eq(http_memcasemem(t, sizeof(t) - 1, "hacked by", 9), t + 3);
    ck_assert_ptr_null(http_memcasemem(t, sizeof(t) - 1, "defaced", 7));
    ck_assert_ptr_null(http_memcasemem(t, 4, "hacked by", 9));
}
END_TEST

/* The defacement search folds answers to lower case sixteen bytes at a
 * time: every byte value, every length and alignment, as tolower. */
START_TEST(fold_lower_is_tolower)
{
    uint8_t in[256 + 64], out[256 + 64], want[256 + 64];
    for (int i = 0; i < (int)sizeof(in); i++)
        in[i] = (uint8_t)(i * 7 + 3);
    for (int i = 0; i < 256; i++)
        in[i] = (uint8_t)i;
    for (size_t off = 0; off < 17; off++) {
        for (size_t n = 0; off + n <= sizeof(in); n += n < 40 ? 1 : 13) {
            memset(out, 0xAA, sizeof(out));
            memset(want, 0xAA, sizeof(want));
            for (size_t i = 0; i < n; i++)
                want[i] = (uint8_t)tolower(in[off + i]);
            http_fold_lower(out, in + off, n);
            ck_assert_msg(memcmp(out, want, sizeof(out)) == 0, "offset %zu length %zu", off, n);
        }
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("http_parse");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, request_head_fields);
    tcase_add_test(tc, response_head_fields);
    tcase_add_test(tc, incomplete_heads_need_more);
    tcase_add_test(tc, malformed_and_not_http);
    tcase_add_test(tc, chunked_any_split);
    tcase_add_test(tc, chunked_malformed);
    tcase_add_test(tc, body_framing_rules);
    tcase_add_test(tc, multipart_parts);
    tcase_add_test(tc, inflate_prefixes);
    tcase_add_test(tc, case_insensitive_search);
    tcase_add_test(tc, fold_lower_is_tolower);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(suite());
}
