/* auth.c — access control of the status page.
 *
 * Roles: a viewer reads everything; an operator also may act (the actions
 * come with the incident lifecycle) and is known by name, for the action
 * log.  Credentials, read from the files [status] names and compared in
 * constant time:
 *   token_file      the viewers' token
 *   operators_file  "name token" lines, one per operator; a line
 *                   "name token agency=NAME" is instead a viewer who sees
 *                   only that agency's incidents (status.c filters)
 *   user + password_file  HTTP basic auth, a viewer
 * sent as Authorization: Bearer <token>, or once to POST /login, which
 * answers a session cookie (HttpOnly, SameSite=Strict) and a CSRF token
 * the page echoes in X-CSRF-Token on every state-changing request.
 *
 * Before any of that the Host header must name this server: an IP literal
 * or a name of allowed_hosts.  A page reached through a rebound DNS name
 * (the attacker's name, our address) is then refused with 421.  Those
 * checks, and who a request's credential names, are gate.c's; here are
 * the credential files, login and logout.
 */
#include <ctype.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/resource.h>

#include "collector/collector.h"
#include "collector/status/status_internal.h"
#include "common/log.h"
#include "common/redis/secret.h"
#include "common/units.h"
#include "common/values.h"

#define SESSION_COOKIE "canh_session" /* also gate.c's */
#define OPERATOR_TOKEN_MIN 16

const char *status_role_name(enum status_role r)
{
    return r == ROLE_OPERATOR ? "operator" : r == ROLE_VIEWER ? "viewer" : "none";
}

/* ---- the operators file ---------------------------------------------- */

static bool operator_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 32)
        return false;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("._@-", *p))
            return false;
    return true;
}

/* "name token" per line; '#' comments and blank lines skipped. */
static int operators_read(const char *path, struct status_secrets *sec, char *why, size_t why_len)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        snprintf(why, why_len, "%s: cannot open the operators file: %m", path);
        return -1;
    }
    char line[512];
    int lineno = 0, rc = 0;
    sec->n_ops = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            snprintf(why, why_len, "%s:%d: line too long", path, lineno);
            rc = -1;
            break;
        }
        char name[128], token[300], extra[8], agency[208] = "";
        int used = 0;
        int n = sscanf(line, " %127s %299s %n%7s", name, token, &used, extra);
        if (n <= 0 || name[0] == '#')
            continue;
        if (n == 3 && strncmp(line + used, "agency=", 7) == 0) {
            snprintf(agency, sizeof(agency), "%s", line + used + 7);
            agency[strcspn(agency, "\r\n")] = '\0';
            n = agency[0] ? 2 : 0;
        }
        if (n != 2) {
            snprintf(why, why_len, "%s:%d: want 'name token' or 'name token agency=NAME'", path,
                     lineno);
            rc = -1;
            break;
        }
        if (!operator_name_ok(name)) {
            snprintf(why, why_len,
                     "%s:%d: operator name '%.40s' must be 1-32 letters, digits or ._@-", path,
                     lineno, name);
            rc = -1;
            break;
        }
        if (strlen(token) < OPERATOR_TOKEN_MIN || strlen(token) >= sizeof(sec->ops[0].token)) {
            snprintf(why, why_len, "%s:%d: the token of %s must be %d to 255 characters", path,
                     lineno, name, OPERATOR_TOKEN_MIN);
            rc = -1;
            break;
        }
        for (size_t i = 0; i < sec->n_ops && rc == 0; i++) {
            if (strcmp(sec->ops[i].name, name) == 0 || strcmp(sec->ops[i].token, token) == 0) {
                snprintf(why, why_len, "%s:%d: %s twice (names and tokens must be unique)", path,
                         lineno, strcmp(sec->ops[i].name, name) == 0 ? name : "a token");
                rc = -1;
            }
        }
        if (rc == 0 && sec->n_ops == STATUS_MAX_OPERATORS) {
            snprintf(why, why_len, "%s:%d: more than %d operators", path, lineno,
                     STATUS_MAX_OPERATORS);
            rc = -1;
        }
        if (rc < 0)
            break;
        snprintf(sec->ops[sec->n_ops].name, sizeof(sec->ops[0].name), "%s", name);
        snprintf(sec->ops[sec->n_ops].token, sizeof(sec->ops[0].token), "%s", token);
        snprintf(sec->ops[sec->n_ops].agency, sizeof(sec->ops[0].agency), "%s", agency);
        sec->n_ops++;
        OPENSSL_cleanse(token, sizeof(token));
    }
    OPENSSL_cleanse(line, sizeof(line));
    fclose(f);
    if (rc == 0 && sec->n_ops == 0) {
        snprintf(why, why_len, "%s: no operator in the operators file", path);
        rc = -1;
    }
    return rc;
}

void status_secrets_wipe(struct status_secrets *sec)
{
    OPENSSL_cleanse(sec, sizeof(*sec));
}

int status_load_secrets(const struct collector_config *cfg, struct status_secrets *sec, char *why,
                        size_t why_len)
{
    memset(sec, 0, sizeof(*sec));
    char reason[512];
    if (cfg->status_token_file[0] &&
        secret_read_file(cfg->status_token_file, sec->token, sizeof(sec->token), reason,
                         sizeof(reason)) < 0) {
        snprintf(why, why_len, "token_file: %s", reason);
        return -1;
    }
    if (cfg->status_operators_file[0] &&
        operators_read(cfg->status_operators_file, sec, why, why_len) < 0) {
        status_secrets_wipe(sec);
        return -1;
    }
    for (size_t i = 0; i < sec->n_ops; i++) {
        if (sec->token[0] && strcmp(sec->ops[i].token, sec->token) == 0) {
            snprintf(why, why_len, "%s: %s has the viewers' token (token_file)",
                     cfg->status_operators_file, sec->ops[i].name);
            status_secrets_wipe(sec);
            return -1;
        }
    }
    if (cfg->status_user[0]) {
        char password[512], pair[600];
        if (secret_read_file(cfg->status_password_file, password, sizeof(password), reason,
                             sizeof(reason)) < 0) {
            snprintf(why, why_len, "password_file: %s", reason);
            status_secrets_wipe(sec);
            return -1;
        }
        int n = snprintf(pair, sizeof(pair), "%s:%s", cfg->status_user, password);
        OPENSSL_cleanse(password, sizeof(password));
        if (n < 0 || (size_t)n >= sizeof(pair) ||
            (size_t)(4 * ((n + 2) / 3) + 1) > sizeof(sec->basic)) {
            snprintf(why, why_len, "password_file: too long");
            status_secrets_wipe(sec);
            return -1;
        }
        EVP_EncodeBlock((unsigned char *)sec->basic, (const unsigned char *)pair, n);
        OPENSSL_cleanse(pair, sizeof(pair));
    }
    return 0;
}

/* ---- the gate's checks on an evhttp request ------------------------- */

bool status_same_origin(struct evhttp_request *req)
{
    struct status_request r;
    status_request_of(req, &r);
    return status_gate_same_origin(&r);
}

bool status_csrf_ok(struct evhttp_request *req, const struct principal *who)
{
    struct status_request r;
    status_request_of(req, &r);
    return status_gate_csrf_ok(&r, who);
}

/* ---- login and logout ------------------------------------------------- */

const char *status_peer(struct evhttp_request *req)
{
    static char buf[80];
    char *addr = NULL;
    ev_uint16_t port = 0;
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    if (conn)
        evhttp_connection_get_peer(conn, &addr, &port);
    snprintf(buf, sizeof(buf), "%s", addr ? addr : "?");
    return buf;
}

static int random_hex(char *out, size_t bytes)
{
    unsigned char raw[32];
    if (bytes > sizeof(raw) || RAND_bytes(raw, (int)bytes) != 1)
        return -1;
    for (size_t i = 0; i < bytes; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    OPENSSL_cleanse(raw, sizeof(raw));
    return 0;
}

static struct session *session_new(struct status *s, const struct principal *who, uint64_t now_us)
{
    /* A free slot, else the login closest to its end gives way. */
    struct session *slot = &s->sessions[0];
    for (size_t i = 0; i < STATUS_MAX_SESSIONS; i++) {
        struct session *se = &s->sessions[i];
        if (!se->id[0] || se->expires_us <= now_us) {
            slot = se;
            break;
        }
        if (se->expires_us < slot->expires_us)
            slot = se;
    }
    OPENSSL_cleanse(slot, sizeof(*slot));
    if (random_hex(slot->id, 32) < 0 || random_hex(slot->csrf, 32) < 0) {
        OPENSSL_cleanse(slot, sizeof(*slot));
        return NULL;
    }
    snprintf(slot->name, sizeof(slot->name), "%s", who->name);
    slot->role = who->role;
    snprintf(slot->agency, sizeof(slot->agency), "%s", who->agency);
    slot->expires_us = now_us + STATUS_SESSION_US;
    return slot;
}

void status_sessions_clear(struct status *s)
{
    OPENSSL_cleanse(s->sessions, sizeof(s->sessions));
}

static void send_json_text(struct evhttp_request *req, int code, const char *reason,
                           const char *json)
{
    status_send_body(req, code, reason, "application/json; charset=utf-8", json, strlen(json));
}

void status_login(struct status *s, struct evhttp_request *req)
{
    if (!status_same_origin(req)) {
        s->forbidden++;
        send_json_text(req, 403, "Forbidden", "{\"error\":\"cross-site login refused\"}");
        return;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    char body[1024];
    struct principal who = {0};
    if (len < sizeof(body)) {
        evbuffer_copyout(in, body, len);
        body[len] = '\0';
        struct evkeyvalq form;
        TAILQ_INIT(&form);
        if (evhttp_parse_query_str(body, &form) == 0) {
            const char *token = evhttp_find_header(&form, "token");
            if (token)
                status_gate_token(&s->sec, token, strlen(token), &who);
        }
        evhttp_clear_headers(&form);
        OPENSSL_cleanse(body, sizeof(body));
    }
    if (who.role == ROLE_NONE) {
        s->login_failures++;
        log_warn("status page: failed login from %s", status_peer(req));
        evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
                          "Bearer realm=\"canh status\"");
        send_json_text(req, 401, "Unauthorized", "{\"error\":\"unknown token\"}");
        return;
    }
    struct session *se = session_new(s, &who, units_now_us());
    if (!se) {
        send_json_text(req, 500, "Internal Server Error", "{\"error\":\"no randomness\"}");
        return;
    }
    s->logins++;
    log_info("status page: %s (%s) logged in from %s", who.name, status_role_name(who.role),
             status_peer(req));
    char cookie[200];
    snprintf(cookie, sizeof(cookie), "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%llu",
             SESSION_COOKIE, se->id, (unsigned long long)(STATUS_SESSION_US / 1000000));
    evhttp_add_header(evhttp_request_get_output_headers(req), "Set-Cookie", cookie);
    OPENSSL_cleanse(cookie, sizeof(cookie));
    who.session = se;
    status_send_session(s, req, &who);
}

void status_logout(struct status *s, struct evhttp_request *req, const struct principal *who)
{
    if (!status_csrf_ok(req, who)) {
        s->forbidden++;
        send_json_text(req, 403, "Forbidden", "{\"error\":\"missing or wrong X-CSRF-Token\"}");
        return;
    }
    if (who->session) {
        log_info("status page: %s logged out", who->name);
        OPENSSL_cleanse((struct session *)who->session, sizeof(struct session));
    }
    char cookie[120];
    snprintf(cookie, sizeof(cookie), "%s=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
             SESSION_COOKIE);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Set-Cookie", cookie);
    send_json_text(req, 200, "OK", "{\"logged_out\":true}");
}

/* ---- --check ----------------------------------------------------------- */

int status_check(const struct collector_config *cfg, struct cfg_err *err)
{
    const char *path = cfg->path ? cfg->path : "collector.conf";
    if (!cfg->status_listen[0])
        return 0;
    struct status_secrets *sec = calloc(1, sizeof(*sec));
    char why[600];
    if (!sec)
        return cfg_fail(err, path, 0, "out of memory");
    int rc = cfg->status_operators_file[0]
                 ? operators_read(cfg->status_operators_file, sec, why, sizeof(why))
                 : 0;
    status_secrets_wipe(sec);
    free(sec);
    if (rc < 0)
        return cfg_fail(err, path, cfg->status_operators_line, "operators_file: %s", why);
    struct rlimit lim;
    uint64_t need = (uint64_t)cfg->status_max_connections + STATUS_FD_RESERVE;
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_max != RLIM_INFINITY &&
        (uint64_t)lim.rlim_max < need)
        return cfg_fail(err, path,
                        cfg->status_max_connections_line ? cfg->status_max_connections_line
                                                         : cfg->status_listen_line,
                        "max_connections: %u status connections plus %d descriptors kept for "
                        "Redis and the sinks exceed the open-file limit %llu (LimitNOFILE= in "
                        "canh-collector.service, ulimit -n)",
                        cfg->status_max_connections, STATUS_FD_RESERVE,
                        (unsigned long long)lim.rlim_max);
    return 0;
}
