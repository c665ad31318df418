/* tls_parse.h — the TLS handshake's first message of each side, read
 * from the bytes of one TCP segment, no decryption (architecture §4.3).
 *
 * A ClientHello gives the name the client asks for (SNI), the versions,
 * cipher suites and extensions it offers, and from them the JA3
 * fingerprint (the MD5 of "version,ciphers,extensions,groups,formats",
 * GREASE values left out); a ServerHello gives the version and cipher the
 * server chose and its JA3S.  The parser reads one segment: a hello that
 * continues past it (a large ClientHello split over two segments) is
 * reported as truncated with what the first part held, and gets no
 * fingerprint (docs/decisions.md, "TLS hellos: one segment").
 */
#ifndef CANH_TLS_PARSE_H
#define CANH_TLS_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TLS_CLIENT_HELLO 1
#define TLS_SERVER_HELLO 2
#define TLS_SNI_MAX 255
#define TLS_JA3_TEXT_MAX 512

enum tls_result {
    TLS_OK,
    TLS_TRUNCATED, /* a hello, cut by the end of the segment */
    TLS_NOT_HELLO, /* not a TLS handshake record holding a hello */
    TLS_BAD,       /* a hello whose lengths contradict each other */
};

struct tls_hello {
    uint8_t type;            /* TLS_CLIENT_HELLO or TLS_SERVER_HELLO */
    uint16_t legacy_version; /* the hello's version field */
    /* The version offered (highest of supported_versions) or chosen;
     * legacy_version when the extension is absent. */
    uint16_t version;
    uint16_t cipher; /* ServerHello: the suite chosen */
    uint16_t n_ciphers, n_extensions;
    char sni[TLS_SNI_MAX + 1]; /* lower case, printable; "" when none */
    char alpn[32];             /* first protocol offered or chosen */
    bool has_ja3;              /* the whole hello was read */
    char ja3[33];              /* JA3 (client) or JA3S (server), MD5 hex */
    uint8_t ja3_md5[16];       /* the same, as bytes */
    /* The fingerprint's text, cut at TLS_JA3_TEXT_MAX - 1 (the hash is
     * of the whole text). */
    char ja3_text[TLS_JA3_TEXT_MAX];
};

/* Read a hello from the start of p[0..len): the record header, the
 * handshake header, the hello.  out is filled as far as the bytes go. */
enum tls_result tls_parse_hello(const uint8_t *p, size_t len, struct tls_hello *out);

/* "TLS 1.3", "TLS 1.2" ... or "0x%04x"; buf of 8 bytes at least. */
const char *tls_version_name(uint16_t version, char *buf, size_t cap);

#endif
