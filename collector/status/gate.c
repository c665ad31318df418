/* gate.c — see gate.h: Host, method, credentials and route of a status
 * page request, from its header values alone.
 *
 * Credentials are compared in constant time (CRYPTO_memcmp) and every
 * candidate is compared, so the time does not tell which one matched.
 */
#include "collector/status/gate.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "collector/incident.h"

#define SESSION_COOKIE "canh_session"

/* Lengths may leak through timing, contents not. */
bool status_secret_equal(const char *given, size_t given_len, const char *want)
{
    size_t want_len = strlen(want);
    return want_len && given_len == want_len && CRYPTO_memcmp(given, want, want_len) == 0;
}

bool status_gate_token(const struct status_secrets *sec, const char *token, size_t len,
                       struct principal *who)
{
    bool found = false;
    for (size_t i = 0; i < sec->n_ops; i++) {
        if (status_secret_equal(token, len, sec->ops[i].token) && !found) {
            /* An agency's line reads, and only its agency. */
            who->role = sec->ops[i].agency[0] ? ROLE_VIEWER : ROLE_OPERATOR;
            snprintf(who->name, sizeof(who->name), "%s", sec->ops[i].name);
            snprintf(who->agency, sizeof(who->agency), "%s", sec->ops[i].agency);
            found = true;
        }
    }
    if (sec->token[0] && status_secret_equal(token, len, sec->token) && !found) {
        who->role = ROLE_VIEWER;
        snprintf(who->name, sizeof(who->name), "viewer");
        found = true;
    }
    return found;
}

/* The value of cookie name in a Cookie header, copied into out. */
static bool cookie_value(const char *h, const char *name, char *out, size_t len)
{
    size_t nlen = strlen(name);
    while (h && *h) {
        while (*h == ' ' || *h == ';')
            h++;
        const char *end = strchr(h, ';');
        size_t n = end ? (size_t)(end - h) : strlen(h);
        if (n > nlen && strncmp(h, name, nlen) == 0 && h[nlen] == '=') {
            n -= nlen + 1;
            if (n == 0 || n >= len)
                return false;
            memcpy(out, h + nlen + 1, n);
            out[n] = '\0';
            return true;
        }
        h = end;
    }
    return false;
}

static struct session *session_find(struct session *sessions, const char *id, uint64_t now_us)
{
    struct session *found = NULL;
    for (size_t i = 0; i < STATUS_MAX_SESSIONS; i++) {
        struct session *se = &sessions[i];
        if (!se->id[0])
            continue;
        if (se->expires_us <= now_us) {
            OPENSSL_cleanse(se, sizeof(*se));
            continue;
        }
        if (status_secret_equal(id, strlen(id), se->id))
            found = se;
    }
    return found;
}

void status_gate_who(const struct status_gate *g, const struct status_request *r, uint64_t now_us,
                     struct principal *who)
{
    memset(who, 0, sizeof(*who));
    if (g->auth_none) {
        who->role = ROLE_VIEWER;
        snprintf(who->name, sizeof(who->name), "anonymous");
        return;
    }
    const char *auth = r->authorization;
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
        status_gate_token(g->sec, auth + 7, strlen(auth + 7), who);
        return;
    }
    if (auth && g->sec->basic[0] && strncasecmp(auth, "Basic ", 6) == 0) {
        if (status_secret_equal(auth + 6, strlen(auth + 6), g->sec->basic)) {
            who->role = ROLE_VIEWER;
            who->ambient = true;
            snprintf(who->name, sizeof(who->name), "%s", g->user ? g->user : "");
        }
        return;
    }
    char id[80];
    if (cookie_value(r->cookie, SESSION_COOKIE, id, sizeof(id))) {
        struct session *se = session_find(g->sessions, id, now_us);
        if (se) {
            who->role = se->role;
            snprintf(who->agency, sizeof(who->agency), "%s", se->agency);
            who->session = se;
            who->ambient = true;
            snprintf(who->name, sizeof(who->name), "%s", se->name);
        }
        OPENSSL_cleanse(id, sizeof(id));
    }
}

/* ---- Host, Origin, CSRF ---------------------------------------------- */

/* host without its port: "[::1]:8088" → "::1", "localhost:8088" → "localhost". */
static bool host_name(const char *header, char *out, size_t len)
{
    const char *start = header, *end;
    if (*header == '[') {
        start = header + 1;
        end = strchr(start, ']');
        if (!end || (end[1] && end[1] != ':'))
            return false;
    } else {
        end = strchr(header, ':');
        if (!end)
            end = header + strlen(header);
    }
    size_t n = (size_t)(end - start);
    if (n == 0 || n >= len)
        return false;
    memcpy(out, start, n);
    out[n] = '\0';
    if (n > 1 && out[n - 1] == '.') /* "localhost." names the same host */
        out[n - 1] = '\0';
    return true;
}

bool status_gate_host_ok(const char *allowed_hosts, const char *host)
{
    if (!host) /* HTTP/1.0 without Host: no browser sends that */
        return true;
    char name[256];
    unsigned char addr[16];
    if (!host_name(host, name, sizeof(name)))
        return false;
    if (inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1)
        return true; /* an address literal cannot be rebound */
    char list[512];
    snprintf(list, sizeof(list), "%s", allowed_hosts ? allowed_hosts : "");
    char *save = NULL;
    for (char *tok = strtok_r(list, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save))
        if (strcasecmp(tok, name) == 0)
            return true;
    return false;
}

bool status_gate_same_origin(const struct status_request *r)
{
    const char *site = r->fetch_site;
    if (site && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0)
        return false;
    const char *origin = r->origin;
    if (!origin)
        return true; /* not a browser's cross-site request: browsers send Origin with POST */
    if (!r->host)
        return false;
    const char *rest = strncmp(origin, "http://", 7) == 0    ? origin + 7
                       : strncmp(origin, "https://", 8) == 0 ? origin + 8
                                                             : NULL;
    return rest && strcasecmp(rest, r->host) == 0;
}

bool status_gate_csrf_ok(const struct status_request *r, const struct principal *who)
{
    if (!status_gate_same_origin(r))
        return false;
    if (!who->ambient)
        return true; /* a bearer token is never added by the browser on its own */
    if (!who->session)
        return false; /* basic auth is ambient and has no CSRF token */
    return r->csrf && status_secret_equal(r->csrf, strlen(r->csrf), who->session->csrf);
}

/* ---- routes ----------------------------------------------------------- */

bool status_gate_is_page(const char *path)
{
    return strcmp(path, "/") == 0 || strcmp(path, "/index.html") == 0;
}

static const char *path_of(const struct status_request *r)
{
    return r->path && *r->path ? r->path : "/";
}

bool status_gate_basic_prompt(const struct status_gate *g, const struct status_request *r)
{
    /* A basic-auth challenge makes browsers prompt: right for someone who
     * opens /metrics, wrong for the page (it has its login form) and its
     * own fetches, which the prompt would hold. */
    const char *mode = r->fetch_mode;
    return g->sec->basic[0] && !status_gate_is_page(path_of(r)) &&
           (!mode || strcmp(mode, "navigate") == 0);
}

static const struct {
    const char *path;
    enum status_route route;
} reads[] = {
    {"/metrics", ROUTE_METRICS},         {"/api/incidents", ROUTE_INCIDENTS},
    {"/api/incident", ROUTE_INCIDENT},   {"/api/agents", ROUTE_AGENTS},
    {"/api/collector", ROUTE_COLLECTOR}, {"/api/session", ROUTE_SESSION},
};

enum status_route status_gate_route(const struct status_gate *g, const struct status_request *r,
                                    uint64_t now_us, struct principal *who)
{
    memset(who, 0, sizeof(*who));
    const char *path = path_of(r);
    bool post = r->method == STATUS_POST;
    bool action = strcmp(path, "/login") == 0 || strcmp(path, "/logout") == 0 ||
                  strcmp(path, "/api/action") == 0;
    if (!status_gate_host_ok(g->allowed_hosts, r->host))
        return ROUTE_MISDIRECTED;
    if (action ? !post : r->method != STATUS_GET && r->method != STATUS_HEAD)
        return ROUTE_METHOD;
    if (strcmp(path, "/login") == 0)
        return ROUTE_LOGIN;
    status_gate_who(g, r, now_us, who);
    if (who->role == ROLE_NONE)
        return ROUTE_UNAUTHORIZED;
    if (strcmp(path, "/logout") == 0)
        return ROUTE_LOGOUT;
    if (strcmp(path, "/api/action") == 0)
        return ROUTE_ACTION;
    if (status_gate_is_page(path))
        return ROUTE_PAGE;
    enum status_route route = ROUTE_NOT_FOUND;
    for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++)
        if (strcmp(path, reads[i].path) == 0)
            route = reads[i].route;
    /* An agency's viewer reads its incidents and agents, and who it is. */
    if (who->agency[0] && route != ROUTE_SESSION && route != ROUTE_INCIDENTS &&
        route != ROUTE_INCIDENT && route != ROUTE_AGENTS)
        return ROUTE_FORBIDDEN;
    return route;
}

bool status_id_valid(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    if (n == 0 || n >= INCIDENT_ID_LEN)
        return false;
    for (const char *p = id; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-')
            return false;
    return true;
}
