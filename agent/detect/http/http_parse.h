/* http_parse.h — HTTP/1.x messages in the bytes flow.c hands over.
 *
 * The http detector sees each direction of a web flow as an in-order byte
 * stream; this module reads it without copying:
 *
 *   http_parse_head      a request or response head (start line and the
 *                        headers canh cares about) into slices of the input
 *   http_body_feed       the body framing (Content-Length, chunked, until
 *                        close), incremental across segments, handing the
 *                        decoded bytes to a callback
 *   http_multipart_next  the parts of a multipart/form-data body prefix
 *                        (name, filename, content type, data)
 *   http_inflate_prefix  gzip/deflate of the first bytes of a body (zlib)
 *
 * Every read is checked against the length given; nothing here allocates.
 * A head that breaks the grammar is HTTP_BAD, bytes that are not HTTP at
 * all (TLS records, SSH banners) are HTTP_NOT_HTTP, so the caller can count
 * them apart and stop looking at that direction.
 */
#ifndef CANH_HTTP_PARSE_H
#define CANH_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

/* Longest head (start line + headers) canh reads; longer is HTTP_BAD. */
#define HTTP_MAX_HEAD 16384

enum http_result {
    HTTP_OK = 0,       /* a whole head was parsed */
    HTTP_MORE = 1,     /* incomplete: wait for more bytes */
    HTTP_BAD = -1,     /* looks like HTTP but breaks the grammar */
    HTTP_NOT_HTTP = -2 /* not HTTP at all (TLS, other protocols) */
};

/* A piece of the input: never NUL-terminated, len 0 when absent. */
struct http_slice {
    const uint8_t *p;
    size_t len;
};

enum http_coding {
    HTTP_CODING_IDENTITY = 0,
    HTTP_CODING_GZIP,
    HTTP_CODING_DEFLATE,
    HTTP_CODING_OTHER
};

struct http_head {
    bool is_request;
    struct http_slice method, target; /* requests */
    int status;                       /* responses: 100..999 */
    int minor_version;                /* HTTP/1.<minor> */
    struct http_slice start_line;     /* without CRLF, for evidence */
    struct http_slice host, content_type, destination, user_agent;
    struct http_slice boundary; /* multipart boundary (without quotes) */
    bool has_length;
    uint64_t content_length;
    bool chunked;
    enum http_coding coding;
    bool connection_close;
    size_t head_len; /* bytes of the head including the blank line */
};

/* Parse a head at the start of p.  expect_request: client side of the
 * flow.  h is filled on HTTP_OK. */
enum http_result http_parse_head(const uint8_t *p, size_t len, bool expect_request,
                                 struct http_head *h);

/* ---- bodies -------------------------------------------------------- */

enum http_body_mode { HTTP_BODY_NONE, HTTP_BODY_LENGTH, HTTP_BODY_CHUNKED, HTTP_BODY_UNTIL_CLOSE };

struct http_body {
    enum http_body_mode mode;
    uint64_t remaining; /* LENGTH: bytes left; CHUNKED: of the current chunk */
    uint8_t chunk_state;
    uint64_t decoded; /* body bytes handed to the sink so far */
    uint64_t wire;    /* bytes consumed, framing included */
    bool done;
};

/* The framing of the body that follows head (RFC 9112 §6.3).  For a
 * response, request_method is the method it answers ("HEAD" has no body). */
void http_body_start(struct http_body *b, const struct http_head *head, const char *request_method);

typedef void (*http_body_sink)(void *ctx, const uint8_t *p, size_t len);

/* Consume framing and body bytes from p; returns how many were consumed
 * (less than len when the body ends inside p, or a chunk-size line is not
 * complete yet), or -1 when the chunked framing is malformed.  b->done is
 * set once the body is complete. */
long http_body_feed(struct http_body *b, const uint8_t *p, size_t len, http_body_sink sink,
                    void *ctx);
/* The connection closed: an until-close body ends here. */
void http_body_eof(struct http_body *b);

/* ---- multipart/form-data ------------------------------------------- */

struct http_part {
    struct http_slice name, filename, content_type;
    struct http_slice data; /* as much of the part as the prefix holds */
    bool complete;          /* the closing boundary was seen */
};

/* Iterate the parts of a multipart body prefix: *offset starts at 0.
 * Returns 1 with part filled, 0 when no more parts can be read. */
int http_multipart_next(const uint8_t *body, size_t len, struct http_slice boundary, size_t *offset,
                        struct http_part *part);

/* ---- content coding ------------------------------------------------ */

/* Inflate as much of in (a gzip or zlib/raw deflate prefix) as fits in
 * out.  z must have been set up once with inflateInit2(z, 15 + 32) and is
 * reset here.  Returns the bytes written, or -1 when the data is not a
 * valid stream (a truncated prefix is not an error). */
long http_inflate_prefix(z_stream *z, enum http_coding coding, const uint8_t *in, size_t in_len,
                         uint8_t *out, size_t out_cap);

/* ---- small helpers ------------------------------------------------- */

bool http_slice_eq(struct http_slice s, const char *text);  /* exact */
bool http_slice_ieq(struct http_slice s, const char *text); /* ASCII case-insensitive */
/* Case-insensitive search of needle (length nlen) in hay. */
const uint8_t *http_memcasemem(const uint8_t *hay, size_t hlen, const char *needle, size_t nlen);

#endif
