/* fuzz_status.c — libFuzzer target for the status page's request handling
 * (collector/status/gate.c): the Host check, the method, who a request's
 * Authorization header or session cookie names, the route, an agency
 * viewer's limits, the CSRF check, the login form and the incident id of
 * /api/incident?id=.
 *
 * Input: a flags byte (auth = none, basic auth configured, which session
 * exists), a method byte, then records  kind(1) len(1) data(len)  setting
 * the URI (path and query, parsed by libevent as evhttp does), a header
 * (Host, Authorization, Cookie, Origin, Sec-Fetch-Site, Sec-Fetch-Mode,
 * X-CSRF-Token) or the POST body.  In a value, the bytes 0x01-0x06 stand
 * for the configured secrets (viewers' token, operator's token, agency
 * viewer's token, session id, its CSRF token, basic credentials), so the
 * fuzzer reaches what a holder of each can do.
 *
 * Invariants: nobody is known without a configured secret in the request
 * (unless auth = none); only a known principal gets past 401; an operator
 * is one by an operator's token or session; an agency's viewer reaches
 * only its lists; an ambient credential passes CSRF only with the
 * session's token; a foreign Host is 421; a valid id is short and plain.
 */
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include "collector/status/gate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW_US 1796083200000000ull
#define VALUE_MAX 1024

enum { F_URI, F_HOST, F_AUTH, F_COOKIE, F_ORIGIN, F_SITE, F_MODE, F_CSRF, F_BODY, F_COUNT };

static struct status_secrets sec;
static struct session sessions_template[STATUS_MAX_SESSIONS];
static const char *secrets[6];
static const char *allowed = "localhost, soc.example";

static void setup(void)
{
    snprintf(sec.token, sizeof(sec.token), "viewer-token-0123456789abcdef");
    snprintf(sec.basic, sizeof(sec.basic), "c29jOnMzY3JldC1wYXNzLXdvcmQ=");
    snprintf(sec.ops[0].name, sizeof(sec.ops[0].name), "an");
    snprintf(sec.ops[0].token, sizeof(sec.ops[0].token), "op-token-an-0123456789abcdef");
    snprintf(sec.ops[1].name, sizeof(sec.ops[1].name), "soyte");
    snprintf(sec.ops[1].token, sizeof(sec.ops[1].token), "agency-token-soyte-0123456789");
    snprintf(sec.ops[1].agency, sizeof(sec.ops[1].agency), "Sở Y tế");
    sec.n_ops = 2;
    struct session *se = &sessions_template[7];
    snprintf(se->id, sizeof(se->id), "%064d", 7);
    snprintf(se->csrf, sizeof(se->csrf), "%064d", 8);
    secrets[0] = sec.token;
    secrets[1] = sec.ops[0].token;
    secrets[2] = sec.ops[1].token;
    secrets[3] = se->id;
    secrets[4] = se->csrf;
    secrets[5] = sec.basic;
}

/* data with the placeholder bytes 0x01-0x06 replaced by the secrets, cut
 * at a NUL (a header value cannot hold one); false when it is too long. */
static bool expand(const uint8_t *data, size_t len, char *out, size_t out_len)
{
    size_t n = 0;
    for (size_t i = 0; i < len && data[i]; i++) {
        const char *add = data[i] >= 1 && data[i] <= 6 ? secrets[data[i] - 1] : NULL;
        size_t k = add ? strlen(add) : 1;
        if (n + k >= out_len)
            return false;
        if (add)
            memcpy(out + n, add, k);
        else
            out[n] = (char)data[i];
        n += k;
    }
    out[n] = '\0';
    return true;
}

static bool holds_secret(const char *value, int first, int last)
{
    for (int i = first; value && i <= last; i++)
        if (strstr(value, secrets[i]))
            return true;
    return false;
}

static bool reads_own(enum status_route route)
{
    return route == ROUTE_LOGOUT || route == ROUTE_ACTION || route == ROUTE_PAGE ||
           route == ROUTE_FORBIDDEN || route == ROUTE_INCIDENTS || route == ROUTE_INCIDENT ||
           route == ROUTE_AGENTS || route == ROUTE_SESSION;
}

static void check_id(const char *id)
{
    if (!status_id_valid(id))
        return;
    if (strlen(id) >= 40)
        abort();
    for (const char *p = id; *p; p++)
        if (!(*p == '-' || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
              (*p >= 'A' && *p <= 'Z')))
            abort();
}

/* POST /login: the form's token names its owner, or nobody. */
static void login(const char *body)
{
    struct evkeyvalq form;
    TAILQ_INIT(&form);
    if (evhttp_parse_query_str(body, &form) == 0) {
        const char *token = evhttp_find_header(&form, "token");
        struct principal who = {0};
        if (token && status_gate_token(&sec, token, strlen(token), &who)) {
            bool known = false;
            for (int i = 0; i < 3; i++)
                known |= strcmp(token, secrets[i]) == 0;
            if (!known || who.role == ROLE_NONE)
                abort();
        }
    }
    evhttp_clear_headers(&form);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!secrets[0])
        setup();
    if (size < 2)
        return 0;
    uint8_t flags = data[0], method = data[1];
    static char values[F_COUNT][VALUE_MAX];
    bool set[F_COUNT] = {false};
    for (size_t i = 2; i + 2 <= size;) {
        int kind = data[i] % F_COUNT;
        size_t len = data[i + 1];
        if (i + 2 + len > size)
            len = size - i - 2;
        if (!expand(data + i + 2, len, values[kind], VALUE_MAX))
            return 0;
        set[kind] = true;
        i += 2 + len;
    }

    struct session sessions[STATUS_MAX_SESSIONS];
    memcpy(sessions, sessions_template, sizeof(sessions));
    struct session *se = &sessions[7];
    switch ((flags >> 3) & 3) {
    case 0: /* no login */
        memset(se, 0, sizeof(*se));
        break;
    case 1:
        snprintf(se->name, sizeof(se->name), "an");
        se->role = ROLE_OPERATOR;
        se->expires_us = NOW_US + 1;
        break;
    case 2:
        snprintf(se->name, sizeof(se->name), "soyte");
        snprintf(se->agency, sizeof(se->agency), "Sở Y tế");
        se->role = ROLE_VIEWER;
        se->expires_us = NOW_US + 1;
        break;
    default: /* expired */
        snprintf(se->name, sizeof(se->name), "an");
        se->role = ROLE_OPERATOR;
        se->expires_us = NOW_US;
        break;
    }
    struct status_secrets no_basic;
    const struct status_secrets *use = &sec;
    if (!(flags & 2)) {
        no_basic = sec;
        no_basic.basic[0] = '\0';
        use = &no_basic;
    }
    const struct status_gate g = {.sec = use,
                                  .sessions = sessions,
                                  .allowed_hosts = allowed,
                                  .auth_none = flags & 1,
                                  .user = "soc"};

    /* The URI as evhttp parses it: a path, perhaps a query. */
    static const char *const paths[] = {
        "/",           "/index.html",    "/login",         "/logout",
        "/api/action", "/metrics",       "/api/incidents", "/api/incident?id=",
        "/api/agents", "/api/collector", "/api/session",   "/nothing"};
    char uri_text[VALUE_MAX + 32];
    snprintf(uri_text, sizeof(uri_text), "%s%s", paths[(method >> 2) % 12],
             set[F_URI] ? values[F_URI] : "");
    struct evhttp_uri *uri = evhttp_uri_parse_with_flags(uri_text, EVHTTP_URI_NONCONFORMANT);
    if (!uri)
        return 0; /* evhttp answers 400 before the page sees it */
    struct status_request r = {
        .method = (enum status_method)(method & 3),
        .path = evhttp_uri_get_path(uri),
        .host = set[F_HOST] ? values[F_HOST] : NULL,
        .authorization = set[F_AUTH] ? values[F_AUTH] : NULL,
        .cookie = set[F_COOKIE] ? values[F_COOKIE] : NULL,
        .origin = set[F_ORIGIN] ? values[F_ORIGIN] : NULL,
        .fetch_site = set[F_SITE] ? values[F_SITE] : NULL,
        .fetch_mode = set[F_MODE] ? values[F_MODE] : NULL,
        .csrf = set[F_CSRF] ? values[F_CSRF] : NULL,
    };
    struct principal who;
    enum status_route route = status_gate_route(&g, &r, NOW_US, &who);
    const char *path = r.path && *r.path ? r.path : "/";

    if (r.host && strcasecmp(r.host, "evil.example") == 0 && route != ROUTE_MISDIRECTED)
        abort(); /* DNS rebinding */
    if (route == ROUTE_LOGIN && (r.method != STATUS_POST || strcmp(path, "/login") != 0))
        abort();
    if (route >= ROUTE_LOGOUT && who.role == ROLE_NONE)
        abort();
    if (route < ROUTE_LOGOUT && who.role != ROLE_NONE)
        abort();
    if (who.role != ROLE_NONE && !g.auth_none && !holds_secret(r.authorization, 0, 5) &&
        !holds_secret(r.cookie, 3, 3))
        abort(); /* known without a secret */
    if (who.role == ROLE_OPERATOR && !holds_secret(r.authorization, 1, 1) &&
        !(holds_secret(r.cookie, 3, 3) && se->role == ROLE_OPERATOR))
        abort(); /* an operator without an operator's credential */
    if (who.agency[0] && !reads_own(route))
        abort(); /* an agency's viewer outside its lists */
    if (who.role != ROLE_NONE && status_gate_csrf_ok(&r, &who) && who.ambient &&
        (!who.session || !r.csrf || strcmp(r.csrf, who.session->csrf) != 0))
        abort(); /* an ambient credential past CSRF without the session's token */
    volatile bool sink = status_gate_basic_prompt(&g, &r) ^ status_gate_same_origin(&r);
    (void)sink;

    const char *query_text = evhttp_uri_get_query(uri);
    struct evkeyvalq query;
    TAILQ_INIT(&query);
    if (query_text && evhttp_parse_query_str(query_text, &query) == 0)
        check_id(evhttp_find_header(&query, "id"));
    evhttp_clear_headers(&query);
    if (route == ROUTE_LOGIN && set[F_BODY])
        login(values[F_BODY]);
    evhttp_uri_free(uri);
    return 0;
}
