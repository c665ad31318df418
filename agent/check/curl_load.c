/* curl_load.c — see curl_load.h. */
#include "agent/check/curl_load.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct lcurl_api lcurl;

/* One row per pointer of struct lcurl_api: the symbol and where it goes. */
#define LCURL_SYM(member, symbol)                                                                  \
    {                                                                                              \
#symbol, &lcurl.member                                                                     \
    }
static const struct {
    const char *symbol;
    void *slot; /* a function pointer of lcurl */
} lcurl_syms[] = {
    LCURL_SYM(global_init, curl_global_init),
    LCURL_SYM(version_info, curl_version_info),
    LCURL_SYM(free, curl_free),
    LCURL_SYM(easy_init, curl_easy_init),
    LCURL_SYM(easy_reset, curl_easy_reset),
    LCURL_SYM(easy_cleanup, curl_easy_cleanup),
    LCURL_SYM(easy_setopt, curl_easy_setopt),
    LCURL_SYM(easy_getinfo, curl_easy_getinfo),
    LCURL_SYM(easy_strerror, curl_easy_strerror),
    LCURL_SYM(multi_init, curl_multi_init),
    LCURL_SYM(multi_cleanup, curl_multi_cleanup),
    LCURL_SYM(multi_setopt, curl_multi_setopt),
    LCURL_SYM(multi_assign, curl_multi_assign),
    LCURL_SYM(multi_add_handle, curl_multi_add_handle),
    LCURL_SYM(multi_remove_handle, curl_multi_remove_handle),
    LCURL_SYM(multi_socket_action, curl_multi_socket_action),
    LCURL_SYM(multi_info_read, curl_multi_info_read),
    LCURL_SYM(url, curl_url),
    LCURL_SYM(url_cleanup, curl_url_cleanup),
    LCURL_SYM(url_set, curl_url_set),
    LCURL_SYM(url_get, curl_url_get),
};
/* A member added to struct lcurl_api without its row fails here. */
_Static_assert(sizeof(lcurl_syms) / sizeof(lcurl_syms[0]) == sizeof(lcurl) / sizeof(void (*)(void)),
               "every pointer of struct lcurl_api has a row in lcurl_syms");

static void forget(void *handle)
{
    memset(&lcurl, 0, sizeof(lcurl));
    if (handle)
        dlclose(handle);
}

/* The library is there and has every symbol: is it one fetch.c can use? */
static int usable(char *why, size_t size)
{
    const curl_version_info_data *v = lcurl.version_info(CURLVERSION_NOW);
    if (v->version_num < LCURL_MIN_VERSION) {
        snprintf(why, size, "%s is libcurl %s; the page checks need 7.85.0 or later", LCURL_SONAME,
                 v->version);
        return -1;
    }
    /* Built against the same OpenSSL 3 the agent links (libssl.so.3):
     * fetch.c passes it an X509_STORE and reads its X509 certificates. */
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
    /* RTLD_NOW: a library with a missing dependency fails here, at start,
     * not in the middle of a check; RTLD_LOCAL: its symbols (and its
     * dependencies') stay out of the agent's namespace. */
    void *handle = dlopen(LCURL_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        snprintf(why, size, "cannot load %s (%s): install libcurl4", LCURL_SONAME, dlerror());
        return -1;
    }
    for (size_t i = 0; i < sizeof(lcurl_syms) / sizeof(lcurl_syms[0]); i++) {
        void *fn = dlsym(handle, lcurl_syms[i].symbol);
        if (!fn) {
            snprintf(why, size, "%s has no %s: not a usable libcurl", LCURL_SONAME,
                     lcurl_syms[i].symbol);
            forget(handle);
            return -1;
        }
        /* POSIX: a function's address from dlsym is stored as-is (memcpy:
         * no write through a mistyped pointer). */
        memcpy(lcurl_syms[i].slot, &fn, sizeof(fn));
    }
    if (usable(why, size) < 0) {
        forget(handle);
        return -1;
    }
    /* Never closed: curl_global_init's state lives until exit. */
    loaded = true;
    return 0;
}
