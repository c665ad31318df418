/* auth_internal.h — what the auth detector's files share (private to
 * agent/detect/auth/; the detector itself is auth_detector in detector.h).
 *
 * Brute force against login services (rules/auth.rules, docs/rules-auth.md):
 * per (client, server, service) it counts, in a sliding window, the
 * connections a client opens (the first data segment of each: a SYN flood
 * or a scan opens none), the failed logins the server answers where the
 * protocol is readable (FTP 530, SMTP 535, POP3 -ERR, IMAP NO, Telnet
 * "Login incorrect", MySQL 1045, PostgreSQL 28P01, MSSQL 18456, HTTP 401/403
 * or a redirect back to the login page), and HTTP POSTs to login paths.
 * Per (server, service) it counts the same from every client, and the
 * clients that took part, for distributed brute force.  A session that
 * lasts long_session after the attack began is a possible success.
 *
 *   auth.c         the detector's ops, packet dispatch, findings and walk
 *   auth_rules.c   the one rule [brute_force]: services, thresholds, sizes
 *   auth_reply.c   reading the protocols: failed-login answers, login POSTs
 *   auth_table.c   the two fixed, seeded, evicting tables
 */
#ifndef CANH_AUTH_INTERNAL_H
#define CANH_AUTH_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/detect/detector.h"
#include "agent/detect/finding.h"

/* ---- services ----------------------------------------------------- */

/* How a login service is read (its failed-login answer, if any). */
enum auth_proto {
    AUTH_P_SSH,
    AUTH_P_RDP,
    AUTH_P_TELNET,
    AUTH_P_FTP,
    AUTH_P_SMTP,       /* port 25: MTAs connect all day, only 535 counts */
    AUTH_P_SUBMISSION, /* 587: connections and 535 */
    AUTH_P_SMTPS,
    AUTH_P_POP3,
    AUTH_P_POP3S,
    AUTH_P_IMAP,
    AUTH_P_IMAPS,
    AUTH_P_MYSQL,
    AUTH_P_MSSQL,
    AUTH_P_POSTGRESQL,
    AUTH_P_VNC,
    AUTH_P_HTTP, /* login POSTs and their answers; not connections */
    AUTH_P_COUNT
};

extern const char *const auth_proto_names[AUTH_P_COUNT];

/* Connections to the service count as attempts of one client. */
bool auth_proto_counts_connections(enum auth_proto p);
/* ... and towards a distributed attack (not mail: many users poll it). */
bool auth_proto_counts_distributed(enum auth_proto p);

#define AUTH_MAX_SERVICES 64

struct auth_service {
    uint16_t port;
    uint8_t proto; /* enum auth_proto */
};

struct auth_params {
    struct rule *rule; /* NULL: not reported */
    struct auth_service services[AUTH_MAX_SERVICES];
    size_t n_services;
    char *login_paths; /* owned, items NUL-separated, lower case */
    const char **login_path;
    size_t n_login_paths;
    uint64_t window_us;
    uint64_t attempts, failures; /* one client */
    uint64_t distributed_attempts, distributed_sources;
    uint64_t long_session_us;
    uint64_t max_clients, max_targets;
};

/* ---- tables ------------------------------------------------------- */

#define AUTH_RING 16

/* A connection of a client, by its source port. */
struct auth_conn {
    uint16_t sport;
    bool login_post; /* an HTTP login POST waits for its answer */
    bool long_seen;  /* counted as a long session already */
    uint64_t start_us;
};

/* A sliding count: this window and the previous one, weighted by how much
 * of the previous still overlaps. */
struct auth_window {
    uint64_t start_us;
    uint32_t cur, prev;
};

struct auth_life {
    struct finding_life life;
    bool dirty; /* counters moved since the last emission */
};

struct auth_client {
    struct auth_life lifecycle; /* first: the walks share life/news */
    bool used;
    uint8_t service; /* index into params.services */
    struct ipaddr client, server;
    uint64_t lru_us;
    uint64_t window_epoch; /* the window of the target this client last joined */
    struct auth_window attempts, failures;
    uint64_t total_attempts, total_failures, connections, login_posts, long_sessions;
    uint64_t first_us; /* first attempt or failure since the last finding ended */
    uint16_t first_sport;
    bool possible_success, outbound;
    bool allowed; /* over the thresholds from an allowed source: counted once */
    uint8_t ring_next;
    struct auth_conn ring[AUTH_RING];
};

#define AUTH_SAMPLE_SOURCES 8

struct auth_target {
    struct auth_life lifecycle;
    bool used;
    uint8_t service;
    struct ipaddr server;
    uint64_t lru_us;
    uint64_t epoch; /* window number: clients joining it count once */
    struct auth_window attempts, sources;
    uint64_t total_attempts, total_failures, long_sessions;
    uint64_t first_us;
    uint32_t sources_seen; /* clients that joined while the finding was open */
    bool possible_success, outbound;
    uint8_t n_sample;
    struct ipaddr sample[AUTH_SAMPLE_SOURCES];
};

struct auth_table {
    struct auth_client *clients;
    uint32_t n_clients;
    struct auth_target *targets;
    uint32_t n_targets;
    uint64_t seed;
    uint64_t clients_evicted, targets_evicted;
    uint64_t not_followed; /* every place of a new key held an open finding */
    /* Entries in use, and a bit per entry that may hold an open finding
     * (set when one opens, cleared by the walk once it has ended): the
     * walks and the statistics read these, not every entry, so entries
     * never used stay out of the resident set. */
    uint32_t clients_used, targets_used;
    uint64_t *clients_open, *targets_open;
};

int auth_table_init(struct auth_table *t, uint64_t max_clients, uint64_t max_targets,
                    uint64_t seed);
void auth_table_free(struct auth_table *t);
/* Forget every entry (a reload that changed the services). */
void auth_table_clear(struct auth_table *t);
/* Entry i (of clients or of targets) now holds an open finding. */
void auth_table_mark_open(struct auth_table *t, bool targets, uint32_t i);
/* The first entry at or after i that may hold an open finding (n: none);
 * entries whose finding has ended lose their mark here. */
uint32_t auth_table_next_open(struct auth_table *t, bool targets, uint32_t i);
/* The entry of a key, or NULL when absent (create: false) or when every
 * place it may take holds an open finding (create: true; counted in
 * not_followed).  An entry with an open finding is never evicted; the
 * least recently active other one makes room (counted). */
struct auth_client *auth_client_get(struct auth_table *t, const struct ipaddr *client,
                                    const struct ipaddr *server, uint8_t service, bool create,
                                    uint64_t now_us);
struct auth_target *auth_target_get(struct auth_table *t, const struct ipaddr *server,
                                    uint8_t service, bool create, uint64_t now_us);

/* Windows: advance to now (window_us long), add n, read the estimate. */
void auth_window_add(struct auth_window *w, uint64_t now_us, uint64_t window_us, uint32_t n);
double auth_window_value(const struct auth_window *w, uint64_t now_us, uint64_t window_us);

/* ---- auth_rules.c ------------------------------------------------- */

int auth_params_load(struct ruleset *rs, struct auth_params *p, struct cfg_err *err);
void auth_params_free(struct auth_params *p);

/* ---- auth_reply.c ------------------------------------------------- */

/* A server's payload says a login failed (the protocol's own answer). */
bool auth_reply_failed(enum auth_proto proto, const uint8_t *p, size_t n);
/* A client's payload is "POST <login path>" (HTTP). */
bool auth_http_login_post(const struct auth_params *ap, const uint8_t *p, size_t n);
/* The answer to a login POST refuses it: 401, 403, or a redirect whose
 * Location is a login path again.  -1: not an HTTP answer head. */
int auth_http_login_failed(const struct auth_params *ap, const uint8_t *p, size_t n);

#endif
