/* cert.c — see cert.h. */
#include "agent/check/cert.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <string.h>
#include <time.h>

static int64_t asn1_unix(const ASN1_TIME *t)
{
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return (int64_t)timegm(&tm);
}

static void name_line(const X509_NAME *name, char *out, size_t size)
{
    out[0] = '\0';
    BIO *b = BIO_new(BIO_s_mem());
    if (!b)
        return;
    if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0) {
        int n = BIO_read(b, out, (int)size - 1);
        out[n > 0 ? n : 0] = '\0';
    }
    BIO_free(b);
}

int cert_facts_from_x509(const void *x509, struct cert_facts *out)
{
    memset(out, 0, sizeof(*out));
    X509 *x = (X509 *)x509;
    if (!x)
        return -1;
    unsigned char *der = NULL;
    int dlen = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int rc = -1;
    if (dlen > 0 && EVP_Digest(der, (size_t)dlen, md, &mdlen, EVP_sha256(), NULL) == 1 &&
        mdlen == 32) {
        for (unsigned i = 0; i < 32; i++)
            snprintf(out->spki_sha256 + 2 * i, 3, "%02x", md[i]);
        name_line(X509_get_issuer_name(x), out->issuer, sizeof(out->issuer));
        name_line(X509_get_subject_name(x), out->subject, sizeof(out->subject));
        out->not_before = asn1_unix(X509_get0_notBefore(x));
        out->not_after = asn1_unix(X509_get0_notAfter(x));
        out->valid = true;
        rc = 0;
    }
    OPENSSL_free(der);
    return rc;
}
