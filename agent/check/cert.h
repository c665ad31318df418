/* cert.h — the facts of a server certificate the TLS checks compare
 * (architecture §4.8): the SHA-256 of its public key (SPKI), its issuer,
 * its validity.  libcurl reports the chain as PEM text (CURLINFO_CERTINFO,
 * OpenSSL backend); libcrypto reads it.
 */
#ifndef CANH_CHECK_CERT_H
#define CANH_CHECK_CERT_H

#include <stdbool.h>
#include <stdint.h>

struct cert_facts {
    bool valid;           /* the facts below were read */
    char spki_sha256[65]; /* hex */
    char issuer[256];     /* one line, RFC 2253 */
    char subject[256];
    int64_t not_before; /* Unix seconds */
    int64_t not_after;
};

/* 0 with out filled, -1 when pem is not a certificate. */
int cert_facts_from_pem(const char *pem, struct cert_facts *out);

#endif
