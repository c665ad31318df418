/* fetch.h — HTTP(S) fetches on the agent's libevent loop (architecture §4.9).
 *
 * libcurl's multi-socket interface (libcurl loaded at run time, through
 * curl_load.h's table): libcurl says which sockets to watch
 * and when to wake it (CURLMOPT_SOCKETFUNCTION, CURLMOPT_TIMERFUNCTION),
 * libevent watches them in the same loop as the capture, so a fetch never
 * blocks packet processing; name resolution runs in libcurl's resolver
 * thread.  Every fetch is a fresh one: a new DNS lookup, a new connection
 * and a full TLS handshake verified against the system store plus the
 * asset's check_ca_file, so each check sees what a first-time visitor
 * would.  Redirects are followed by hand, only within the same host; the
 * body is decompressed by libcurl (Accept-Encoding) and capped.
 */
#ifndef CANH_CHECK_FETCH_H
#define CANH_CHECK_FETCH_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/check/cert.h"

#define FETCH_BODY_MAX (1024 * 1024)
#define FETCH_MAX_REDIRECTS 5
#define FETCH_URL_MAX 512

enum fetch_outcome {
    FETCH_OK,          /* a 2xx answer (body possibly truncated at FETCH_BODY_MAX) */
    FETCH_OFFSITE,     /* a redirect to another host: not followed */
    FETCH_HTTP_ERROR,  /* a 4xx/5xx answer, or a redirect loop */
    FETCH_TLS_INVALID, /* the certificate failed verification */
    FETCH_FAILED,      /* DNS, connection, timeout, protocol */
};

struct fetch_result {
    enum fetch_outcome outcome;
    long status;                  /* final HTTP status, 0 without an answer */
    char error[256];              /* libcurl's message when not FETCH_OK */
    char primary_ip[64];          /* the address connected to, "" before connecting */
    char location[FETCH_URL_MAX]; /* FETCH_OFFSITE: where it pointed */
    const char *body;             /* borrowed for the callback */
    size_t body_len;
    bool truncated;
    struct cert_facts cert; /* https: the checked host's certificate */
    uint64_t latency_us;
};

struct fetcher;
struct fetch;
typedef void (*fetch_done_fn)(void *ctx, const struct fetch_result *r);

/* Loads libcurl on first use (curl_load.h).  NULL with why set when it
 * cannot be loaded or cannot start. */
struct fetcher *fetcher_new(struct event_base *base, char *why, size_t size);
/* Fetches in flight now. */
size_t fetcher_active(const struct fetcher *f);
/* Forget the trust stores built so far (reload: CA files may have
 * changed); they are built again at the next handshake. */
void fetcher_reset_stores(struct fetcher *f);
/* Call after every fetch is freed. */
void fetcher_free(struct fetcher *f);

struct fetch *fetch_new(struct fetcher *f, fetch_done_fn done, void *ctx);
/* Start a GET of url; done() is called once, later, from the loop.
 * ca_file: NULL or "" for the system store.  -1 when busy or on error. */
int fetch_start(struct fetch *x, const char *url, const char *ca_file, uint64_t timeout_us);
bool fetch_busy(const struct fetch *x);
/* Stop a fetch in flight; done() will not be called. */
void fetch_cancel(struct fetch *x);
/* Cancels a fetch in flight (done() is not called). */
void fetch_free(struct fetch *x);

#endif
