/* gate.h — the status page's request decisions, apart from evhttp.
 *
 * What a request may do is decided from its method, path and a few
 * header values alone: the Host check (DNS rebinding), the method, who
 * sends it (bearer token, basic auth, session cookie), the route, the
 * agency viewer's limits and the CSRF check.  status.c and auth.c copy
 * the values out of the evhttp request and act on the decision; the fuzz
 * target tests/fuzz/fuzz_status.c calls the same functions with anything.
 * Nothing here allocates or does I/O.
 */
#ifndef CANH_COLLECTOR_STATUS_GATE_H
#define CANH_COLLECTOR_STATUS_GATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STATUS_MAX_OPERATORS 64
#define STATUS_MAX_SESSIONS 128
#define STATUS_NAME_LEN 64

enum status_role { ROLE_NONE, ROLE_VIEWER, ROLE_OPERATOR };

/* Who sent a request.  ambient: the browser adds the credential on its own
 * (cookie, basic auth), so a state-changing request needs the session's
 * CSRF token as well. */
struct principal {
    enum status_role role;
    char name[STATUS_NAME_LEN];
    char agency[208]; /* an agency viewer: only its incidents ("" all) */
    const struct session *session;
    bool ambient;
};

struct operator_cred {
    char name[STATUS_NAME_LEN];
    char token[256];
    char agency[208]; /* "agency=NAME" on its line: a viewer of that agency only */
};

struct status_secrets {
    char token[512];  /* the viewers' token */
    char basic[1024]; /* base64 of user:password, as the header carries it */
    struct operator_cred ops[STATUS_MAX_OPERATORS];
    size_t n_ops;
};

/* A login: the cookie's value, the CSRF token the page echoes. */
struct session {
    char id[65];
    char csrf[65];
    char name[STATUS_NAME_LEN];
    enum status_role role;
    char agency[208];
    uint64_t expires_us;
};

enum status_method { STATUS_GET, STATUS_HEAD, STATUS_POST, STATUS_OTHER };

/* A request as the gate sees it: NULL for a header not sent (the first
 * one when sent twice, as evhttp_find_header gives it). */
struct status_request {
    enum status_method method;
    const char *path; /* the URI's path, undecoded; NULL or "" is "/" */
    const char *host;
    const char *authorization;
    const char *cookie;
    const char *origin;
    const char *fetch_site; /* Sec-Fetch-Site */
    const char *fetch_mode; /* Sec-Fetch-Mode */
    const char *csrf;       /* X-CSRF-Token */
};

/* What the page's configuration says about access. */
struct status_gate {
    const struct status_secrets *sec;
    struct session *sessions; /* STATUS_MAX_SESSIONS; expired ones are wiped when met */
    const char *allowed_hosts;
    bool auth_none;   /* [status] auth = none: everyone is an anonymous viewer */
    const char *user; /* the basic-auth user's name */
};

enum status_route {
    ROUTE_MISDIRECTED,  /* 421: the Host is not this server */
    ROUTE_METHOD,       /* 405 */
    ROUTE_LOGIN,        /* POST /login: its form decides */
    ROUTE_UNAUTHORIZED, /* 401 */
    /* who is known from here on */
    ROUTE_LOGOUT,
    ROUTE_ACTION, /* POST /api/action: the CSRF check and the role are action.c's */
    ROUTE_PAGE,
    ROUTE_FORBIDDEN, /* 403: an agency's viewer outside its incidents and agents */
    ROUTE_METRICS,
    ROUTE_INCIDENTS, /* an agency's viewer gets its own (who->agency) */
    ROUTE_INCIDENT,
    ROUTE_AGENTS,
    ROUTE_COLLECTOR,
    ROUTE_SESSION,
    ROUTE_NOT_FOUND,
};

/* The route of r, with who filled in from ROUTE_LOGOUT on (role
 * ROLE_NONE before). */
enum status_route status_gate_route(const struct status_gate *g, const struct status_request *r,
                                    uint64_t now_us, struct principal *who);
/* Who sent r (role ROLE_NONE: nobody known). */
void status_gate_who(const struct status_gate *g, const struct status_request *r, uint64_t now_us,
                     struct principal *who);
/* The owner of a token (the viewers' or an operator's), as POST /login
 * and the Bearer header take it. */
bool status_gate_token(const struct status_secrets *sec, const char *token, size_t len,
                       struct principal *who);
/* The Host header names this server: absent, an IP literal, or a name of
 * allowed_hosts (comma or space separated; DNS rebinding sends the
 * attacker's name). */
bool status_gate_host_ok(const char *allowed_hosts, const char *host);
/* Not a browser's cross-site request: no foreign Sec-Fetch-Site, and an
 * Origin, when sent, naming the Host. */
bool status_gate_same_origin(const struct status_request *r);
/* A state-changing request may go on: same origin and, with an ambient
 * credential, the session's X-CSRF-Token. */
bool status_gate_csrf_ok(const struct status_request *r, const struct principal *who);
/* A 401 on path should make a browser prompt for basic auth. */
bool status_gate_basic_prompt(const struct status_gate *g, const struct status_request *r);
bool status_gate_is_page(const char *path);
/* An incident id as the collector and canh-ctl make them: letters, digits
 * and '-', shorter than INCIDENT_ID_LEN (it becomes part of key names). */
bool status_id_valid(const char *id);
/* Equal in constant time for a given length; an empty want matches nothing. */
bool status_secret_equal(const char *given, size_t given_len, const char *want);

#endif
