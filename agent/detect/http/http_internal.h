/* http_internal.h — what the http detector's files share (private to
 * agent/detect/http/; the detector itself is http_detector in detector.h).
 *
 * Packets of web flows go through flow.c (in-order bytes per direction in
 * a small window) and http_parse.c (heads and body framing).  Requests are
 * classified when their head and the first body_inspect bytes of their
 * body are in; the verdict waits in a short per-flow queue for the
 * server's answer, so the finding carries the status (and impact) too:
 *
 *   dav_write        PUT of web content (pages, the site root, monitored
 *                    pages → defacement); MKCOL MOVE COPY PROPPATCH LOCK
 *   dav_delete       DELETE of site content (destruction)
 *   webshell_upload  a server-side script or webshell-looking content
 *                    written by PUT/MOVE/COPY or a multipart POST
 *   webshell_access  a script under an upload directory, a script that
 *                    was just uploaded, or one given a shell command
 *   defacement       HTML served with a marker ("hacked by" ...)
 *   page_changed     a monitored URL served with a body whose SHA-256
 *                    differs from the declared or learned one
 *   http_flood       request rate to one server far above its baseline
 *                    and the floor; counted per packet, so captures cut
 *                    by a small snaplen still count
 *
 * The files, one job each:
 *
 *   http.c           the detector's ops: init, packet dispatch, tick,
 *                    reload, stats, flush, free
 *   http_rules.c     the rules: one per finding kind, shared flow keys
 *   http_text.c      request paths, printable copies and excerpts
 *   pairing.c        per-flow HTTP: heads and bodies of both directions,
 *                    requests queued until their answers
 *   webshell.c       dav_write, dav_delete, webshell_upload and
 *                    webshell_access verdicts, recent uploads
 *   deface.c         defacement markers, page_changed hashing (zlib slots)
 *   http_findings.c  findings keyed by (kind, client, server) and their
 *                    lifecycle
 *   http_flood.c     http_flood: per-server request rates and baselines
 *   http_tls.c       TLS handshakes on web and TLS ports (agent/detect/tls/):
 *                    ClientHellos count as requests for http_flood, and
 *                    the names asked for join the server's findings
 *
 * Findings follow finding.h: one "new", updates at most every
 * update_interval, one "end" after hold_down of quiet.  Every table is
 * fixed at init.  SHA-256 is nettle's (Debian nettle-dev); gzip/deflate is
 * zlib's.
 */
#ifndef CANH_HTTP_INTERNAL_H
#define CANH_HTTP_INTERNAL_H

#include <jansson.h>
#include <nettle/sha2.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

#include "agent/detect/detector.h"
#include "agent/detect/finding.h"
#include "agent/detect/http/flow.h"
#include "agent/detect/http/http_parse.h"

/* ---- kinds and parameters ------------------------------------------ */

enum http_kind {
    HTTP_K_DAV_WRITE,
    HTTP_K_DAV_DELETE,
    HTTP_K_WEBSHELL_UPLOAD,
    HTTP_K_WEBSHELL_ACCESS,
    HTTP_K_DEFACEMENT,
    HTTP_K_PAGE_CHANGED,
    HTTP_K_HTTP_FLOOD,
    HTTP_K_COUNT
};

/* The finding kind of each enum http_kind, also the name of its rule. */
extern const char *const http_kind_names[HTTP_K_COUNT];

#define HTTP_MAX_WEB_PORTS 32
#define HTTP_REQ_QUEUE 4
#define HTTP_EXCERPT_LEN 96

struct http_strlist {
    char *text; /* owned copy, items NUL-separated, lower case */
    const char **v;
    size_t *len;
    size_t n;
};

struct http_params {
    struct rule *rule[HTTP_K_COUNT]; /* NULL: kind not reported */
    /* shared by every http rule */
    uint16_t web_ports[HTTP_MAX_WEB_PORTS];
    size_t n_web_ports;
    uint16_t tls_ports[HTTP_MAX_WEB_PORTS]; /* TLS (agent/detect/tls/) */
    size_t n_tls_ports;
    uint64_t max_flows, flow_window, flow_idle_us, body_inspect, max_findings;
    /* dav_write */
    struct http_strlist page_extensions;
    const struct taxonomy *nonpage_taxonomy;
    /* webshell_upload */
    struct http_strlist script_extensions, webshell_exec, webshell_input;
    /* The two bytes after the dot of every script extension that has a
     * dot (its second and third, or a one-letter one's letter and each
     * byte that may end it), so a name whose dots are followed by none
     * is passed over without comparing each extension (webshell.c);
     * script_pairs_all: an extension is "." alone, no such filter. */
    uint64_t script_pairs[65536 / 64];
    bool script_pairs_all, script_undotted;
    uint64_t max_uploads, upload_memory_us;
    /* webshell_access */
    struct http_strlist upload_dirs, command_params, command_words;
    /* defacement */
    struct http_strlist markers;
    /* page_changed */
    bool learn_pages;
    uint64_t max_pages, hash_slots;
    /* http_flood */
    double flood_rate, flood_factor, answered_ratio;
    uint64_t flood_window_us, flood_learn_us, flood_top, max_targets;
};

/* ---- per-flow state ------------------------------------------------ */

struct http_req {
    char method[12];
    char target[160];
    char host[64];
    char detail[128]; /* filename, destination or matched pattern */
    char excerpt[HTTP_EXCERPT_LEN];
    uint64_t body_bytes;
    uint16_t verdicts; /* kinds waiting for the answer */
    bool page;         /* dav_write of a page (defacement) */
    bool plain_write;  /* a write of data (REST PUT, image upload): counted */
    int8_t monitor;    /* monitored URL index on the asset, -1: none */
    uint8_t minor;
};

enum { HTTP_SIDE_HEAD, HTTP_SIDE_BODY, HTTP_SIDE_OFF };

struct http_side {
    uint8_t phase;
    uint8_t coding;
    bool collect; /* keep a body prefix for inspection */
    bool is_html;
    bool multipart;
    bool hashing; /* page_changed: SHA-256 of the decoded body */
    bool hash_failed;
    bool seen_message; /* a head was parsed on this side */
    uint16_t zslot;    /* inflate slot of the hash + 1, 0: none */
    int status;
    uint8_t boundary_len;
    char boundary[72];
    uint32_t prefix_len;
    struct http_body body;
    struct sha256_ctx sha;
};

struct http_flow {
    struct http_side side[2];
    uint8_t head, count; /* request queue: oldest at head */
    uint8_t receiving;   /* queue slot + 1 whose body is arriving, 0: none */
    /* Not cleared for a new flow (most of its size): a request slot is
     * cleared as it enters the queue, and only queued slots are read. */
    struct http_req req[HTTP_REQ_QUEUE];
    /* two body prefixes of body_inspect bytes follow */
};

/* ---- the detector -------------------------------------------------- */

struct http_counters {
    uint64_t requests, responses, malformed, not_http, tls, midstream_skipped, head_too_long;
    uint64_t queue_overflow, findings_dropped, pages_learned, page_hash_skipped;
    uint64_t inflate_errors, targets_replaced;
    uint64_t writes_not_reported; /* 2xx writes of data, not web content */
    /* TLS (agent/detect/tls/): hellos read, cut by their segment, bad */
    uint64_t tls_client_hellos, tls_server_hellos, tls_truncated, tls_malformed;
};

struct http_finding; /* http_findings.c */
struct http_target;  /* http_flood.c */
struct http_upload;  /* webshell.c */
struct http_page;    /* deface.c */
struct http_zslot;   /* deface.c */
struct tls_servers;  /* agent/detect/tls/tls_servers.h */

struct http_det {
    const struct detect_env *env;
    struct http_params p;
    struct flow_table *flows;
    struct http_finding *findings;
    uint32_t n_findings;
    struct http_target *targets;
    uint32_t n_targets;
    /* Which targets were ever claimed (the per-second walk and the finding
     * walk read only those: unclaimed slots stay out of the resident set),
     * and their top-K items, handed out at the first claim. */
    uint64_t *targets_used;
    struct topk_item *target_tops;
    struct http_upload *uploads;
    uint32_t n_uploads, next_upload;
    struct http_page *pages;
    uint32_t n_pages;
    struct http_zslot *zslots;
    uint32_t n_zslots;
    struct tls_servers *tls; /* TLS (agent/detect/tls/): names and fingerprints */
    z_stream zprefix;
    bool zprefix_ready;
    uint8_t *scratch;
    size_t scratch_cap;
    /* The first two bytes of every defacement marker, one bit a pair, so
     * a response is searched in one pass for all markers (deface.c);
     * rebuilt after a reload.  marker_short: a marker under two bytes,
     * searched for the plain way. */
    uint64_t marker_pairs[65536 / 64];
    bool markers_ready, marker_short;
    uint64_t now_us;
    /* flushed (shutdown, end of file): the second under way counts, as no
     * later one will come */
    bool input_ended;
    struct http_counters c;
    /* opened, updates, ends; suppressed: sources in a rule's allow list */
    struct finding_counts counts;
    const struct http_params *reload_to; /* set while a reload remaps */
    /* Every port that is a web port of some server (the rule's list and
     * the assets' own), so most packets are turned away before an asset
     * lookup; rebuilt on the first packet after a reload.  A byte a port: the
     * test of both ports of every TCP packet is two loads.  Its pages are
     * written only where a web port is, until a reload clears it all. */
    uint8_t web_port_map[65536];
    bool map_ready, map_built;
    bool any_rule; /* some kind of finding is reported (rules loaded) */
};

/* ---- http_rules.c -------------------------------------------------- */

/* Read every http rule of rs into p; 0, or -1 with err set. */
int http_params_load(struct ruleset *rs, struct http_params *p, struct cfg_err *err);
void http_params_free(struct http_params *p);
/* An item equal to s[0..n) (case-insensitive). */
bool http_strlist_has(const struct http_strlist *l, const char *s, size_t n);
/* The first item found in text (case-insensitive), or NULL. */
const char *http_strlist_find_in(const struct http_strlist *l, const uint8_t *text, size_t n);

/* ---- http_text.c --------------------------------------------------- */

/* The path of a request target, percent-decoded and lower-cased, without
 * scheme, authority, query or fragment; its length. */
size_t http_norm_path(const char *target, char *out, size_t cap);
/* What follows the last '/' of path. */
const char *http_last_segment(const char *path);
/* A slice as a C string, non-printable bytes as '.', truncated. */
void http_copy_slice(char *out, size_t cap, struct http_slice s);
/* Printable excerpt: white space folded, control and non-ASCII as '.'. */
void http_excerpt(char *out, size_t cap, const uint8_t *p, size_t n);
/* out[i] = tolower(in[i]) for n bytes: in the C locale, which canh never
 * leaves (no setlocale), that is 'A'..'Z' only, sixteen bytes at a time. */
void http_fold_lower(uint8_t *out, const uint8_t *in, size_t n);

/* ---- pairing.c ----------------------------------------------------- */

/* The body prefix kept for one side of a flow (body_inspect bytes). */
uint8_t *http_side_prefix(const struct http_det *d, struct flow *f, enum flow_side side);
/* Parse what is ready on one side of a flow. */
void http_pairing_process(struct http_det *d, struct flow *f, enum flow_side side);
/* flow.c's release callback: settle what the flow left unanswered. */
void http_pairing_release(void *ctx, struct flow *f, enum flow_end why, uint64_t now_us);

/* ---- webshell.c ---------------------------------------------------- */

int http_webshell_init(struct http_det *d);
void http_webshell_free(struct http_det *d);
/* Verdicts a request head earns (q->verdicts, q->detail, q->monitor). */
void http_webshell_classify_head(struct http_det *d, struct flow *f, struct http_req *q,
                                 const struct http_head *h);
/* Verdicts its body prefix earns (uploaded scripts, webshell code). */
void http_webshell_classify_body(struct http_det *d, struct flow *f, struct http_req *q,
                                 const struct http_side *s);
/* Report a request's verdicts now that its answer (status, 0: none) or
 * the end of its flow is known. */
void http_webshell_settle(struct http_det *d, struct flow *f, struct http_req *q, int status);

/* ---- deface.c ------------------------------------------------------ */

int http_deface_init(struct http_det *d);
void http_deface_free(struct http_det *d);
/* Index of path among the server's monitored URLs, -1: not monitored. */
int8_t http_deface_monitor_index(const struct http_det *d, const struct flow *f, const char *path);
/* A final response head to q: decide what of its body to keep and hash. */
void http_deface_response_head(struct http_det *d, struct http_side *s, const struct http_req *q,
                               const struct http_head *h);
/* Response body bytes for the page hash. */
void http_deface_hash_feed(struct http_det *d, struct http_side *s, const uint8_t *p, size_t n);
/* The response to q ended (complete: its whole body was seen). */
void http_deface_response_done(struct http_det *d, struct flow *f, struct http_side *s,
                               const struct http_req *q, bool complete);
/* Give back the side's inflate slot. */
void http_deface_release(struct http_det *d, struct http_side *s);

/* ---- http_findings.c ----------------------------------------------- */

/* The first member of each open-finding record (the verdict slots here,
 * the http_flood targets), so both walks share their life and news
 * callbacks. */
struct http_lifecycle {
    struct finding_life life;
    bool dirty; /* counters moved since the last emission */
};
/* A finding_source with what both walks share (det, life, news, counts);
 * the caller sets next, rule, emit and ended. */
struct finding_source http_walk_base(struct http_det *d);

/* One verdict about a flow. */
struct http_occurrence {
    enum http_kind kind;
    const struct flow *flow;
    const struct http_req *req; /* may be NULL */
    int status;                 /* 0: no answer seen */
    uint64_t response_bytes;
    bool impact;
    bool page;
    const char *detail_key; /* evidence name of req->detail */
    json_t *extra;          /* more evidence (stolen), may be NULL */
};

int http_findings_init(struct http_det *d);
void http_findings_free(struct http_det *d);
/* Open or feed the finding of an occurrence. */
void http_report(struct http_det *d, struct http_occurrence *o);
/* The open findings for finding.h's walk; remap keeps an item whose kind
 * d->reload_to still has a rule for. */
struct finding_source http_findings_source(struct http_det *d);
bool http_findings_remap(void *det, void *item);

/* ---- http_flood.c -------------------------------------------------- */

int http_flood_init(struct http_det *d);
void http_flood_free(struct http_det *d);
/* Count a packet of a web flow (request lines and status lines). */
void http_flood_on_packet(struct http_det *d, const struct pkt *p, bool to_server);
/* Close the seconds every server's clock has passed (a flood may open);
 * once input_ended, the second under way is checked too. */
void http_flood_advance(struct http_det *d);
/* TLS (agent/detect/tls/): a ClientHello to p's server counts as a
 * request, a ServerHello from it as an answer. */
void http_flood_on_handshake(struct http_det *d, const struct pkt *p, bool client_hello);
/* The open floods for finding.h's walk, and their reload remap. */
struct finding_source http_flood_source(struct http_det *d);
bool http_flood_remap(void *det, void *item);

/* ---- http_tls.c ---------------------------------------------------- */

int http_tls_init(struct http_det *d);
void http_tls_free(struct http_det *d);
/* A segment whose payload starts a TLS handshake record (0x16). */
void http_tls_on_packet(struct http_det *d, const struct pkt *p);
/* The name clients last asked server for over TLS, or NULL. */
const char *http_tls_sni(const struct http_det *d, const struct ipaddr *server);

#endif
