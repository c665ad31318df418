/* curl_load.h — libcurl and OpenSSL, loaded when the first page check
 * needs them (architecture §4.9; docs/decisions.md, "Agent start-up").
 *
 * libcurl's tree is most of what the dynamic loader maps and relocates
 * at start (GnuTLS, Kerberos, LDAP, ssh2, rtmp, nghttp2 …: 25 of the
 * agent's 45 libraries), and OpenSSL, which libcurl is built with and the
 * checks use beside it (trust stores, certificates), most of the symbol
 * lookups left; an agent without `check =` URLs, or a replay (`-r`),
 * uses neither.  So the agent links neither: the checks reach them
 * through the two tables below, filled once with dlsym after
 * dlopen("libcurl.so.4") (Debian's libcurl4, the OpenSSL build) and
 * dlopen("libssl.so.3") (already loaded by libcurl then; libcrypto's
 * symbols are found through it).  Each pointer has the type of the
 * library's own declaration (curl/curl.h, the openssl/ headers), so a
 * call through a table is type-checked as a direct call would be.
 *
 *   if (lcurl_load(why, sizeof(why)) < 0) ...   once, before any use
 *   lcurl.easy_setopt(easy, CURLOPT_URL, url);
 *   lssl.X509_free(peer);
 */
#ifndef CANH_CHECK_CURL_LOAD_H
#define CANH_CHECK_CURL_LOAD_H

#include <curl/curl.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stddef.h>

/* The soname loaded: libcurl4's (libcurl3-gnutls ships another one). */
#define LCURL_SONAME "libcurl.so.4"
/* OpenSSL 3: the libssl libcurl4 is built with. */
#define LSSL_SONAME "libssl.so.3"
/* CURLOPT_PROTOCOLS_STR, which fetch.c sets, came with 7.85.0. */
#define LCURL_MIN_VERSION 0x075500

struct lcurl_api {
    __typeof__(curl_global_init) *global_init;
    __typeof__(curl_version_info) *version_info;
    __typeof__(curl_free) *free;
    __typeof__(curl_easy_init) *easy_init;
    __typeof__(curl_easy_reset) *easy_reset;
    __typeof__(curl_easy_cleanup) *easy_cleanup;
    __typeof__(curl_easy_setopt) *easy_setopt;
    __typeof__(curl_easy_getinfo) *easy_getinfo;
    __typeof__(curl_easy_strerror) *easy_strerror;
    __typeof__(curl_multi_init) *multi_init;
    __typeof__(curl_multi_cleanup) *multi_cleanup;
    __typeof__(curl_multi_setopt) *multi_setopt;
    __typeof__(curl_multi_assign) *multi_assign;
    __typeof__(curl_multi_add_handle) *multi_add_handle;
    __typeof__(curl_multi_remove_handle) *multi_remove_handle;
    __typeof__(curl_multi_socket_action) *multi_socket_action;
    __typeof__(curl_multi_info_read) *multi_info_read;
    __typeof__(curl_url) *url;
    __typeof__(curl_url_cleanup) *url_cleanup;
    __typeof__(curl_url_set) *url_set;
    __typeof__(curl_url_get) *url_get;
};

/* The OpenSSL functions of fetch.c and cert.c, by their own names. */
struct lssl_api {
    __typeof__(SSL_get1_peer_certificate) *SSL_get1_peer_certificate;
    __typeof__(SSL_CTX_set1_cert_store) *SSL_CTX_set1_cert_store;
    __typeof__(X509_free) *X509_free;
    __typeof__(X509_STORE_new) *X509_STORE_new;
    __typeof__(X509_STORE_free) *X509_STORE_free;
    __typeof__(X509_STORE_load_path) *X509_STORE_load_path;
    __typeof__(X509_STORE_load_file) *X509_STORE_load_file;
    __typeof__(X509_get_default_cert_dir) *X509_get_default_cert_dir;
    __typeof__(X509_get_X509_PUBKEY) *X509_get_X509_PUBKEY;
    __typeof__(X509_get_issuer_name) *X509_get_issuer_name;
    __typeof__(X509_get_subject_name) *X509_get_subject_name;
    __typeof__(X509_get0_notBefore) *X509_get0_notBefore;
    __typeof__(X509_get0_notAfter) *X509_get0_notAfter;
    __typeof__(X509_NAME_print_ex) *X509_NAME_print_ex;
    __typeof__(i2d_X509_PUBKEY) *i2d_X509_PUBKEY;
    __typeof__(ASN1_TIME_to_tm) *ASN1_TIME_to_tm;
    __typeof__(EVP_Digest) *EVP_Digest;
    __typeof__(EVP_sha256) *EVP_sha256;
    __typeof__(BIO_new) *BIO_new;
    __typeof__(BIO_s_mem) *BIO_s_mem;
    __typeof__(BIO_read) *BIO_read;
    __typeof__(BIO_free) *BIO_free;
    __typeof__(CRYPTO_free) *CRYPTO_free; /* OPENSSL_free's function */
};

/* The loaded functions; every pointer is NULL until lcurl_load succeeds. */
extern struct lcurl_api lcurl;
extern struct lssl_api lssl;

/* Load libcurl and OpenSSL and run curl_global_init, once per process
 * (after a success later calls return at once; a failure is tried again
 * at the next call, e.g. a reload after libcurl4 was installed).  0, or
 * -1 with why set: a library is missing or broken, libcurl is too old or
 * not built with OpenSSL 3 (fetch.c hands it OpenSSL trust stores and
 * reads its OpenSSL certificates). */
int lcurl_load(char *why, size_t size);

#endif
