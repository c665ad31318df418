/* fetch.c — see fetch.h. */
#include "agent/check/fetch.h"

#include <openssl/x509_vfy.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "agent/check/curl_load.h"
#include "common/log.h"

#define FETCH_CONNECT_TIMEOUT_MS 5000
#define FETCH_MAX_STORES 16

/* A trust store built once and shared by every handshake that uses it:
 * the system's (OpenSSL's hashed certificate directory, read lazily) plus
 * an asset's check_ca_file.  libcurl would otherwise parse the CA file
 * again for each connection. */
struct fetch_store {
    char ca_file[256]; /* "": the system store alone */
    X509_STORE *store;
};

struct fetcher {
    struct event_base *base;
    CURLM *multi;
    struct event *ev_timer;
    size_t active;
    struct fetch_store stores[FETCH_MAX_STORES];
    size_t n_stores;
};

struct fetch {
    struct fetcher *owner;
    CURL *easy;
    fetch_done_fn done;
    void *ctx;
    bool busy;
    int hops;
    char host[256]; /* of the first URL: redirects stay on it */
    char ca_file[256];
    uint64_t timeout_us, started_us;
    char errbuf[CURL_ERROR_SIZE];
    char *body;
    size_t body_len, body_cap;
    bool truncated;
    struct cert_facts cert;
};

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- libcurl on libevent ---------------------------------------------- */

static void read_done(struct fetcher *f);

static void on_socket_event(evutil_socket_t fd, short what, void *arg)
{
    struct fetcher *f = arg;
    int action = (what & EV_READ ? CURL_CSELECT_IN : 0) | (what & EV_WRITE ? CURL_CSELECT_OUT : 0);
    int running;
    lcurl.multi_socket_action(f->multi, fd, action, &running);
    read_done(f);
}

static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)easy;
    struct fetcher *f = userp;
    struct event *ev = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (ev)
            event_free(ev);
        lcurl.multi_assign(f->multi, s, NULL);
        return 0;
    }
    short kind =
        EV_PERSIST | (what & CURL_POLL_IN ? EV_READ : 0) | (what & CURL_POLL_OUT ? EV_WRITE : 0);
    if (ev) {
        event_del(ev);
        event_assign(ev, f->base, s, kind, on_socket_event, f);
    } else {
        ev = event_new(f->base, s, kind, on_socket_event, f);
        if (!ev)
            return -1;
        lcurl.multi_assign(f->multi, s, ev);
    }
    return event_add(ev, NULL);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct fetcher *f = arg;
    int running;
    lcurl.multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    read_done(f);
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct fetcher *f = userp;
    if (timeout_ms < 0)
        return evtimer_del(f->ev_timer);
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    return evtimer_add(f->ev_timer, &tv);
}

struct fetcher *fetcher_new(struct event_base *base, char *why, size_t size)
{
    if (lcurl_load(why, size) < 0)
        return NULL;
    struct fetcher *f = calloc(1, sizeof(*f));
    if (!f) {
        snprintf(why, size, "out of memory");
        return NULL;
    }
    f->base = base;
    f->multi = lcurl.multi_init();
    f->ev_timer = evtimer_new(base, on_timeout, f);
    if (!f->multi || !f->ev_timer) {
        snprintf(why, size, "cannot set up libcurl's multi handle (out of memory)");
        fetcher_free(f);
        return NULL;
    }
    lcurl.multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    lcurl.multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f);
    lcurl.multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    lcurl.multi_setopt(f->multi, CURLMOPT_TIMERDATA, f);
    return f;
}

size_t fetcher_active(const struct fetcher *f)
{
    return f->active;
}

void fetcher_free(struct fetcher *f)
{
    if (!f)
        return;
    if (f->multi)
        lcurl.multi_cleanup(f->multi);
    fetcher_reset_stores(f);
    if (f->ev_timer)
        event_free(f->ev_timer);
    free(f);
}

/* ---- one fetch ---------------------------------------------------------- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    struct fetch *x = arg;
    size_t n = size * nmemb, room = FETCH_BODY_MAX - x->body_len;
    if (n > room) {
        /* Keep the first FETCH_BODY_MAX bytes and stop the transfer. */
        n = room;
        x->truncated = true;
    }
    if (x->body_len + n > x->body_cap) {
        size_t cap = x->body_cap ? x->body_cap : 16384;
        while (cap < x->body_len + n)
            cap *= 2;
        if (cap > FETCH_BODY_MAX)
            cap = FETCH_BODY_MAX;
        char *grown = realloc(x->body, cap);
        if (!grown)
            return 0;
        x->body = grown;
        x->body_cap = cap;
    }
    memcpy(x->body + x->body_len, data, n);
    x->body_len += n;
    return x->truncated ? 0 : size * nmemb;
}

/* The first header of the first hop: the TLS connection is up and its
 * certificate decoded; read it now, before the connection closes. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    (void)data;
    struct fetch *x = arg;
    struct curl_tlssessioninfo *tls = NULL;
    if (x->hops == 0 && !x->cert.valid &&
        lcurl.easy_getinfo(x->easy, CURLINFO_TLS_SSL_PTR, &tls) == CURLE_OK && tls &&
        tls->backend == CURLSSLBACKEND_OPENSSL && tls->internals) {
        X509 *peer = lssl.SSL_get1_peer_certificate(tls->internals);
        if (peer) {
            cert_facts_from_x509(peer, &x->cert);
            lssl.X509_free(peer);
        }
    }
    return size * nmemb;
}

static X509_STORE *store_for(struct fetcher *f, const char *ca_file)
{
    for (size_t i = 0; i < f->n_stores; i++)
        if (strcmp(f->stores[i].ca_file, ca_file) == 0)
            return f->stores[i].store;
    X509_STORE *s = lssl.X509_STORE_new();
    if (!s)
        return NULL;
    /* The system's hashed certificate directory is read lazily, one CA
     * by subject when a chain needs it; the whole bundle file would be
     * parsed up front (a few hundred certificates). */
    if (lssl.X509_STORE_load_path(s, lssl.X509_get_default_cert_dir()) != 1 ||
        (ca_file[0] && lssl.X509_STORE_load_file(s, ca_file) != 1)) {
        log_warn("checks: cannot load the CA file %s; its URLs will fail verification", ca_file);
    }
    if (f->n_stores == FETCH_MAX_STORES) /* more CA files than that: rotate */
        fetcher_reset_stores(f);
    struct fetch_store *fs = &f->stores[f->n_stores++];
    snprintf(fs->ca_file, sizeof(fs->ca_file), "%s", ca_file);
    fs->store = s;
    return s;
}

void fetcher_reset_stores(struct fetcher *f)
{
    for (size_t i = 0; i < f->n_stores; i++)
        lssl.X509_STORE_free(f->stores[i].store);
    f->n_stores = 0;
}

static CURLcode on_ssl_ctx(CURL *easy, void *ssl_ctx, void *arg)
{
    (void)easy;
    struct fetch *x = arg;
    X509_STORE *s = store_for(x->owner, x->ca_file);
    if (!s)
        return CURLE_OUT_OF_MEMORY;
    lssl.SSL_CTX_set1_cert_store(ssl_ctx, s);
    return CURLE_OK;
}

static int url_host(const char *url, char *host, size_t size)
{
    CURLU *u = lcurl.url();
    char *h = NULL;
    int rc = -1;
    if (u && lcurl.url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        lcurl.url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK && strlen(h) < size) {
        strcpy(host, h);
        rc = 0;
    }
    lcurl.free(h);
    lcurl.url_cleanup(u);
    return rc;
}

static int start_hop(struct fetch *x, const char *url)
{
    CURL *e = x->easy;
    lcurl.easy_reset(e);
    x->errbuf[0] = '\0';
    x->body_len = 0;
    x->truncated = false;
    long timeout_ms = (long)(x->timeout_us / 1000);
    lcurl.easy_setopt(e, CURLOPT_URL, url);
    lcurl.easy_setopt(e, CURLOPT_PRIVATE, x);
    lcurl.easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    lcurl.easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    lcurl.easy_setopt(e, CURLOPT_WRITEDATA, x);
    lcurl.easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    lcurl.easy_setopt(e, CURLOPT_HEADERDATA, x);
    lcurl.easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    lcurl.easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    lcurl.easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    lcurl.easy_setopt(e, CURLOPT_USERAGENT, "canh-agent/" CANH_VERSION " (page check)");
    lcurl.easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    lcurl.easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                      timeout_ms < FETCH_CONNECT_TIMEOUT_MS ? timeout_ms
                                                            : FETCH_CONNECT_TIMEOUT_MS);
    /* A fresh look every time: new lookup, new connection, full handshake
     * (so the certificate is seen, not a resumed session). */
    lcurl.easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    lcurl.easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    lcurl.easy_setopt(e, CURLOPT_DNS_CACHE_TIMEOUT, 0L);
    lcurl.easy_setopt(e, CURLOPT_SSL_SESSIONID_CACHE, 0L);
    lcurl.easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    lcurl.easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    /* The trust store is ours (store_for), not a file libcurl reads. */
    lcurl.easy_setopt(e, CURLOPT_CAINFO, NULL);
    lcurl.easy_setopt(e, CURLOPT_CAPATH, NULL);
    lcurl.easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
    lcurl.easy_setopt(e, CURLOPT_SSL_CTX_DATA, x);
    if (lcurl.multi_add_handle(x->owner->multi, e) != CURLM_OK)
        return -1;
    return 0;
}

int fetch_start(struct fetch *x, const char *url, const char *ca_file, uint64_t timeout_us)
{
    if (x->busy)
        return -1;
    x->hops = 0;
    x->host[0] = '\0';
    url_host(url, x->host, sizeof(x->host));
    snprintf(x->ca_file, sizeof(x->ca_file), "%s", ca_file ? ca_file : "");
    x->timeout_us = timeout_us;
    x->started_us = mono_us();
    memset(&x->cert, 0, sizeof(x->cert));
    if (start_hop(x, url) < 0)
        return -1;
    x->busy = true;
    x->owner->active++;
    return 0;
}

static void finish(struct fetch *x, struct fetch_result *r)
{
    lcurl.multi_remove_handle(x->owner->multi, x->easy);
    x->busy = false;
    x->owner->active--;
    r->latency_us = mono_us() - x->started_us;
    r->cert = x->cert;
    x->done(x->ctx, r);
    /* Pages are read once: no idle megabyte per URL between checks. */
    free(x->body);
    x->body = NULL;
    x->body_len = x->body_cap = 0;
}

static void on_done(struct fetch *x, CURLcode code)
{
    struct fetch_result r;
    memset(&r, 0, sizeof(r));
    char *ip = NULL, *location = NULL;
    lcurl.easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &r.status);
    if (lcurl.easy_getinfo(x->easy, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip)
        snprintf(r.primary_ip, sizeof(r.primary_ip), "%s", ip);
    if (code == CURLE_WRITE_ERROR && x->truncated)
        code = CURLE_OK;
    if (code != CURLE_OK) {
        snprintf(r.error, sizeof(r.error), "%s",
                 x->errbuf[0] ? x->errbuf : lcurl.easy_strerror(code));
        r.outcome = code == CURLE_PEER_FAILED_VERIFICATION ? FETCH_TLS_INVALID : FETCH_FAILED;
        finish(x, &r);
        return;
    }
    if (r.status >= 300 && r.status < 400 &&
        lcurl.easy_getinfo(x->easy, CURLINFO_REDIRECT_URL, &location) == CURLE_OK && location) {
        char host[256] = "";
        url_host(location, host, sizeof(host));
        if (strcasecmp(host, x->host) != 0) {
            r.outcome = FETCH_OFFSITE;
            snprintf(r.location, sizeof(r.location), "%s", location);
            finish(x, &r);
            return;
        }
        if (++x->hops <= FETCH_MAX_REDIRECTS) {
            char next[FETCH_URL_MAX];
            snprintf(next, sizeof(next), "%s", location);
            lcurl.multi_remove_handle(x->owner->multi, x->easy);
            if (start_hop(x, next) == 0)
                return;
        }
        r.outcome = FETCH_HTTP_ERROR;
        snprintf(r.error, sizeof(r.error), "more than %d redirects", FETCH_MAX_REDIRECTS);
        finish(x, &r);
        return;
    }
    if (r.status < 200 || r.status >= 300) {
        r.outcome = FETCH_HTTP_ERROR;
        snprintf(r.error, sizeof(r.error), "HTTP status %ld", r.status);
        finish(x, &r);
        return;
    }
    r.outcome = FETCH_OK;
    r.body = x->body ? x->body : "";
    r.body_len = x->body_len;
    r.truncated = x->truncated;
    finish(x, &r);
}

static void read_done(struct fetcher *f)
{
    CURLMsg *msg;
    int left;
    while ((msg = lcurl.multi_info_read(f->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        struct fetch *x = NULL;
        lcurl.easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        if (x)
            on_done(x, msg->data.result);
    }
}

struct fetch *fetch_new(struct fetcher *f, fetch_done_fn done, void *ctx)
{
    struct fetch *x = calloc(1, sizeof(*x));
    if (!x)
        return NULL;
    x->owner = f;
    x->done = done;
    x->ctx = ctx;
    x->easy = lcurl.easy_init();
    if (!x->easy) {
        free(x);
        return NULL;
    }
    return x;
}

bool fetch_busy(const struct fetch *x)
{
    return x->busy;
}

void fetch_cancel(struct fetch *x)
{
    if (!x->busy)
        return;
    lcurl.multi_remove_handle(x->owner->multi, x->easy);
    x->owner->active--;
    x->busy = false;
}

void fetch_free(struct fetch *x)
{
    if (!x)
        return;
    fetch_cancel(x);
    lcurl.easy_cleanup(x->easy);
    free(x->body);
    free(x);
}
