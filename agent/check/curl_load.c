/* curl_load.c — see curl_load.h. */
#include "agent/check/curl_load.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct lcurl_api lcurl;
struct lssl_api lssl;

/* One row per pointer of a table: the symbol and the pointer it fills. */
struct sym {
    const char *name;
    void *slot;
};
#define CURL_SYM(member)                                                                           \
    {                                                                                              \
        "curl_" #member, &lcurl.member                                                             \
    }
#define SSL_SYM(name)                                                                              \
    {                                                                                              \
#name, &lssl.name                                                                          \
    }

static const struct sym curl_syms[] = {
    CURL_SYM(global_init),         CURL_SYM(version_info),     CURL_SYM(free),
    CURL_SYM(easy_init),           CURL_SYM(easy_reset),       CURL_SYM(easy_cleanup),
    CURL_SYM(easy_setopt),         CURL_SYM(easy_getinfo),     CURL_SYM(easy_strerror),
    CURL_SYM(multi_init),          CURL_SYM(multi_cleanup),    CURL_SYM(multi_setopt),
    CURL_SYM(multi_assign),        CURL_SYM(multi_add_handle), CURL_SYM(multi_remove_handle),
    CURL_SYM(multi_socket_action), CURL_SYM(multi_info_read),  {"curl_url", &lcurl.url},
    CURL_SYM(url_cleanup),         CURL_SYM(url_set),          CURL_SYM(url_get),
};
static const struct sym ssl_syms[] = {
    SSL_SYM(SSL_get1_peer_certificate),
    SSL_SYM(SSL_CTX_set1_cert_store),
    SSL_SYM(X509_free),
    SSL_SYM(X509_STORE_new),
    SSL_SYM(X509_STORE_free),
    SSL_SYM(X509_STORE_load_path),
    SSL_SYM(X509_STORE_load_file),
    SSL_SYM(X509_get_default_cert_dir),
    SSL_SYM(X509_get_X509_PUBKEY),
    SSL_SYM(X509_get_issuer_name),
    SSL_SYM(X509_get_subject_name),
    SSL_SYM(X509_get0_notBefore),
    SSL_SYM(X509_get0_notAfter),
    SSL_SYM(X509_NAME_print_ex),
    SSL_SYM(i2d_X509_PUBKEY),
    SSL_SYM(ASN1_TIME_to_tm),
    SSL_SYM(EVP_Digest),
    SSL_SYM(EVP_sha256),
    SSL_SYM(BIO_new),
    SSL_SYM(BIO_s_mem),
    SSL_SYM(BIO_read),
    SSL_SYM(BIO_free),
    SSL_SYM(CRYPTO_free),
};
#define N_ROWS(a) (sizeof(a) / sizeof((a)[0]))
/* A pointer added to a table without its row fails here. */
_Static_assert(N_ROWS(curl_syms) == sizeof(lcurl) / sizeof(void (*)(void)),
               "every pointer of struct lcurl_api has a row in curl_syms");
_Static_assert(N_ROWS(ssl_syms) == sizeof(lssl) / sizeof(void (*)(void)),
               "every pointer of struct lssl_api has a row in ssl_syms");

/* dlopen soname and fill its rows; the handle, or NULL with why set. */
static void *open_lib(const char *soname, const struct sym *rows, size_t n, char *why, size_t size)
{
    /* RTLD_NOW: a library with a missing dependency fails here, at start,
     * not in the middle of a check; RTLD_LOCAL: its symbols (and its
     * dependencies') stay out of the agent's namespace. */
    void *handle = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        snprintf(why, size, "cannot load %s (%s): install libcurl4", soname, dlerror());
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        void *fn = dlsym(handle, rows[i].name);
        if (!fn) {
            snprintf(why, size, "%s has no %s: not the library the page checks were built for",
                     soname, rows[i].name);
            dlclose(handle);
            return NULL;
        }
        /* POSIX: a function's address from dlsym is stored as-is (memcpy:
         * no write through a mistyped pointer). */
        memcpy(rows[i].slot, &fn, sizeof(fn));
    }
    return handle;
}

/* Both libraries are there with every symbol: can fetch.c use them? */
static int usable(char *why, size_t size)
{
    const curl_version_info_data *v = lcurl.version_info(CURLVERSION_NOW);
    if (v->version_num < LCURL_MIN_VERSION) {
        snprintf(why, size, "%s is libcurl %s; the page checks need 7.85.0 or later", LCURL_SONAME,
                 v->version);
        return -1;
    }
    /* Built with the OpenSSL whose functions lssl holds: fetch.c passes it
     * an X509_STORE and reads its certificates. */
    if (!v->ssl_version || strncmp(v->ssl_version, "OpenSSL/3.", 10) != 0) {
        snprintf(why, size,
                 "%s uses %s; the page checks need libcurl built with OpenSSL 3 (Debian: libcurl4)",
                 LCURL_SONAME, v->ssl_version ? v->ssl_version : "no TLS library");
        return -1;
    }
    if (lcurl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(why, size, "%s: curl_global_init failed", LCURL_SONAME);
        return -1;
    }
    return 0;
}

int lcurl_load(char *why, size_t size)
{
    static bool loaded;
    if (loaded)
        return 0;
    void *curl = open_lib(LCURL_SONAME, curl_syms, N_ROWS(curl_syms), why, size);
    void *ssl = curl ? open_lib(LSSL_SONAME, ssl_syms, N_ROWS(ssl_syms), why, size) : NULL;
    if (!ssl || usable(why, size) < 0) {
        memset(&lcurl, 0, sizeof(lcurl));
        memset(&lssl, 0, sizeof(lssl));
        if (ssl)
            dlclose(ssl);
        if (curl)
            dlclose(curl);
        return -1;
    }
    /* Never closed: curl_global_init's state lives until exit. */
    loaded = true;
    return 0;
}
