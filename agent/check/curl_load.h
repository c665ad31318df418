/* curl_load.h — libcurl, loaded when the first page check needs it
 * (architecture §4.9, docs/decisions.md "libcurl loaded on demand").
 *
 * libcurl's tree is most of what the dynamic loader maps and relocates
 * at start (GnuTLS, Kerberos, LDAP, ssh2, rtmp, nghttp2 …: over 30 of
 * the agent's 47 libraries), and an agent without `check =` URLs, or a
 * replay (`-r`), never uses it.  So the agent does not link it: the
 * checks reach it through the table below, filled once with dlsym from
 * dlopen("libcurl.so.4") (Debian's libcurl4, the OpenSSL build).  Each
 * pointer has the type of curl's own declaration (curl/curl.h), so a
 * call through the table is type-checked as a direct call would be.
 *
 *   if (lcurl_load(why, sizeof(why)) < 0) ...   once, before any use
 *   lcurl.easy_setopt(easy, CURLOPT_URL, url);
 */
#ifndef CANH_CHECK_CURL_LOAD_H
#define CANH_CHECK_CURL_LOAD_H

#include <curl/curl.h>
#include <stddef.h>

/* The soname loaded: libcurl4's (libcurl3-gnutls ships another one). */
#define LCURL_SONAME "libcurl.so.4"
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

/* libcurl's functions; every pointer is NULL until lcurl_load succeeds. */
extern struct lcurl_api lcurl;

/* Load libcurl and run curl_global_init, once per process (later calls
 * return the first outcome).  0, or -1 with why set: the library is
 * missing or broken, too old, or not built with OpenSSL (fetch.c hands it
 * OpenSSL trust stores and reads OpenSSL certificates). */
int lcurl_load(char *why, size_t size);

#endif
