/* cert.h — the facts of a server certificate the TLS checks compare
 * (architecture §4.9): the SHA-256 of its public key (SPKI), its issuer,
 * its validity, read with libcrypto (curl_load.h's lssl) from the certificate OpenSSL already
 * decoded during the handshake (libcurl's CURLINFO_TLS_SSL_PTR): no
 * second parse.
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

/* x509: an OpenSSL X509 *.  0 with out filled, -1 on failure. */
int cert_facts_from_x509(const void *x509, struct cert_facts *out);

#endif
