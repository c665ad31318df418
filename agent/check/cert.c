/* cert.c — see cert.h. */
#include "agent/check/cert.h"

#include <string.h>
#include <time.h>

#include "agent/check/curl_load.h"

static int64_t asn1_unix(const ASN1_TIME *t)
{
    struct tm tm;
    if (!t || lssl.ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return (int64_t)timegm(&tm);
}

static void name_line(const X509_NAME *name, char *out, size_t size)
{
    out[0] = '\0';
    BIO *b = lssl.BIO_new(lssl.BIO_s_mem());
    if (!b)
        return;
    if (lssl.X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0) {
        int n = lssl.BIO_read(b, out, (int)size - 1);
        out[n > 0 ? n : 0] = '\0';
    }
    lssl.BIO_free(b);
}

int cert_facts_from_x509(const void *x509, struct cert_facts *out)
{
    memset(out, 0, sizeof(*out));
    X509 *x = (X509 *)x509;
    if (!x)
        return -1;
    unsigned char *der = NULL;
    int dlen = lssl.i2d_X509_PUBKEY(lssl.X509_get_X509_PUBKEY(x), &der);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    int rc = -1;
    if (dlen > 0 && lssl.EVP_Digest(der, (size_t)dlen, md, &mdlen, lssl.EVP_sha256(), NULL) == 1 &&
        mdlen == 32) {
        for (unsigned i = 0; i < 32; i++)
            snprintf(out->spki_sha256 + 2 * i, 3, "%02x", md[i]);
        name_line(lssl.X509_get_issuer_name(x), out->issuer, sizeof(out->issuer));
        name_line(lssl.X509_get_subject_name(x), out->subject, sizeof(out->subject));
        out->not_before = asn1_unix(lssl.X509_get0_notBefore(x));
        out->not_after = asn1_unix(lssl.X509_get0_notAfter(x));
        out->valid = true;
        rc = 0;
    }
    lssl.CRYPTO_free(der, __FILE__, __LINE__); /* OPENSSL_free */
    return rc;
}
