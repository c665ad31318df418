/* action.c — POST /api/action: an operator works an incident from the page.
 *
 * The form (application/x-www-form-urlencoded) names the action (ack,
 * confirm, reject, resolve, note, reopen), the incident id, and as the
 * action needs: class (confirm: normal | serious) and note (the reason of a
 * reject, the text of a note, optional otherwise).  Only an operator (a
 * token of [status] operators_file, by bearer or login) may act, a viewer
 * gets 403; with a login cookie the session's X-CSRF-Token must come too
 * (auth.c).  The transition runs as the very script canh-ctl runs
 * (common/ctl_scripts.c), after reading the incident's routes and agencies
 * (the keys it declares), over the collector's command connection and so
 * as the collector's Redis ACL user: checked, applied, logged in
 * canh:log:<id> with the operator's name and announced on canh:incidents
 * in one atomic step.  The answer waits for Redis without blocking the
 * loop: 200 with the new state, 400 for a malformed form, 404 for an
 * unknown incident, 409 for a transition the state does not allow, 502
 * when Redis refuses (its ACL), 503 while Redis is unreachable.
 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "collector/collector.h"
#include "collector/incident.h"
#include "collector/status/status_internal.h"
#include "common/ctl_scripts.h"
#include "common/log.h"
#include "common/redis/link.h"
#include "common/units.h"

struct action_req {
    struct status_wait w; /* first: the wait list holds it */
    const struct ctl_action *a;
    char id[INCIDENT_ID_LEN];
    char operator_name[STATUS_NAME_LEN];
    char peer[80];
    char *note, *extra; /* the form's, kept while the incident's routes are read */
};

static void req_free(struct action_req *r)
{
    free(r->note);
    free(r->extra);
    free(r);
}

static void refuse(struct status *s, struct evhttp_request *req, int code, const char *reason,
                   const char *msg)
{
    s->action_failures++;
    status_reply_json(
        req, code, reason,
        json_pack("{s:s,s:o}", "error", msg, "snapshot", status_freshness(s, units_now_us())));
}

/* Script errors come back as "NOINCIDENT ..." and "BADSTATE ..." (ctl_scripts.h). */
static void refuse_reply(struct status *s, struct action_req *r, const char *msg)
{
    struct evhttp_request *req = r->w.req;
    char text[600];
    log_info("status page: %s's %s of incident %s refused: %s", r->operator_name, r->a->verb, r->id,
             msg);
    if (strncmp(msg, "NOINCIDENT ", 11) == 0) {
        refuse(s, req, 404, "Not Found", msg + 11);
    } else if (strncmp(msg, "BADSTATE ", 9) == 0) {
        refuse(s, req, 409, "Conflict", msg + 9);
    } else if (strstr(msg, "NOPERM") || strstr(msg, "can't run") || strstr(msg, "can't access") ||
               strstr(msg, "no permissions")) {
        snprintf(text, sizeof(text),
                 "Redis refused the collector's ACL user (%s); it needs the rights of "
                 "docs/redis.md for operator actions",
                 msg);
        log_warn("status page: %s", text);
        refuse(s, req, 502, "Bad Gateway", text);
    } else {
        refuse(s, req, 502, "Bad Gateway", msg);
    }
}

static void on_action(redisReply *reply, void *priv)
{
    struct action_req *r = priv;
    struct status *s = r->w.s;
    if (!s) {
        req_free(r);
        return;
    }
    status_wait_done(&r->w);
    struct evhttp_request *req = r->w.req;
    if (!reply) {
        refuse(s, req, 503, "Service Unavailable",
               "Redis connection lost: the action may or may not have been done; look at the "
               "incident's log");
    } else if (reply->type == REDIS_REPLY_ERROR) {
        refuse_reply(s, r, reply->str);
    } else {
        s->actions++;
        const char *state = reply->type == REDIS_REPLY_STRING || reply->type == REDIS_REPLY_STATUS
                                ? reply->str
                                : "";
        log_info("status page: incident %s %s by %s (from %s)", r->id, r->a->name, r->operator_name,
                 r->peer);
        status_reply_json(req, 200, "OK",
                          json_pack("{s:s,s:s,s:s,s:s}", "id", r->id, "action", r->a->name, "state",
                                    state, "operator", r->operator_name));
    }
    req_free(r);
}

/* The incident's routes and agencies are read: run the transition, which
 * declares the routes' job keys and the agencies' streams it writes. */
static void on_fields(redisReply *reply, void *priv)
{
    struct action_req *r = priv;
    struct status *s = r->w.s;
    if (!s) {
        req_free(r);
        return;
    }
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
        status_wait_done(&r->w);
        if (reply && reply->type == REDIS_REPLY_ERROR)
            refuse_reply(s, r, reply->str);
        else
            refuse(s, r->w.req, 503, "Service Unavailable", "Redis unreachable: nothing was done");
        req_free(r);
        return;
    }
    const char *routes =
        reply->element[0]->type == REDIS_REPLY_STRING ? reply->element[0]->str : "";
    const char *agencies =
        reply->element[1]->type == REDIS_REPLY_STRING ? reply->element[1]->str : "";
    struct ctl_call *call = malloc(sizeof(*call));
    if (!call) {
        status_wait_done(&r->w);
        refuse(s, r->w.req, 500, "Internal Server Error", "out of memory");
        req_free(r);
        return;
    }
    ctl_transition_call(call, r->a, r->id, r->operator_name, r->note, r->extra, routes, agencies,
                        units_now_us() / 1000, s->c->cfg->maxlen);
    size_t lens[sizeof(call->argv) / sizeof(call->argv[0])];
    for (int i = 0; i < call->argc; i++)
        lens[i] = strlen(call->argv[i]);
    if (redis_link_command(s->link, COLLECTOR_CMD, on_action, r, call->argc, call->argv, lens) <
        0) {
        status_wait_done(&r->w);
        refuse(s, r->w.req, 503, "Service Unavailable", "Redis unreachable: nothing was done");
        req_free(r);
    }
    free(call);
}

/* The form's field name, or NULL; "" when sent empty. */
static const char *field(const struct evkeyvalq *form, const char *name)
{
    return evhttp_find_header(form, name);
}

/* Checks the form; NULL when it is good, else what is wrong. */
static const char *form_problem(const struct evkeyvalq *form, const struct ctl_action **a,
                                const char **id, const char **note, const char **extra)
{
    const char *verb = field(form, "action");
    *a = ctl_action_find(verb);
    *id = field(form, "id");
    *note = field(form, "note");
    *extra = NULL;
    if (!*a || strcmp((*a)->verb, "report") == 0)
        return "action must be ack, confirm, reject, resolve, note or reopen";
    if (!status_id_valid(*id))
        return "id must be an incident id (like 20261123-081614-3fa2c1d7)";
    if (*note && strlen(*note) > CTL_MAX_TEXT)
        return "the note is longer than 2000 bytes";
    json_t *utf8 = *note ? json_string(*note) : NULL;
    if (*note && !utf8)
        return "the note is not UTF-8 text";
    json_decref(utf8);
    /* It is printed on colleagues' terminals by canh-tail and canh-ctl show. */
    for (const unsigned char *p = (const unsigned char *)(*note ? *note : ""); *p; p++)
        if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f)
            return "the note has control characters (only line breaks and tabs)";
    if (strcmp((*a)->verb, "confirm") == 0) {
        *extra = field(form, "class");
        if (!*extra || (strcmp(*extra, "normal") != 0 && strcmp(*extra, "serious") != 0))
            return "confirm needs class=normal or class=serious";
    }
    if (strcmp((*a)->verb, "reject") == 0 && (!*note || !**note))
        return "reject needs a note: why it is a false positive";
    if (strcmp((*a)->verb, "note") == 0 && (!*note || !**note))
        return "a note needs text";
    return NULL;
}

void status_act(struct status *s, struct evhttp_request *req, const struct principal *who)
{
    if (!status_csrf_ok(req, who)) {
        s->forbidden++;
        refuse(s, req, 403, "Forbidden",
               "missing or wrong X-CSRF-Token, or a cross-site request: act from the page");
        return;
    }
    if (who->role != ROLE_OPERATOR) {
        s->forbidden++;
        refuse(s, req, 403, "Forbidden",
               "viewers cannot act on incidents: log in with your operator token "
               "([status] operators_file)");
        return;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    char *body = malloc(len + 1);
    if (!body) {
        refuse(s, req, 500, "Internal Server Error", "out of memory");
        return;
    }
    evbuffer_copyout(in, body, len);
    body[len] = '\0';
    struct evkeyvalq form;
    TAILQ_INIT(&form);
    const struct ctl_action *a = NULL;
    const char *id = NULL, *note = NULL, *extra = NULL, *problem;
    if (strlen(body) != len || evhttp_parse_query_str(body, &form) < 0)
        problem = "want a form: action, id, and class or note as the action needs";
    else
        problem = form_problem(&form, &a, &id, &note, &extra);
    free(body);
    if (problem) {
        refuse(s, req, 400, "Bad Request", problem);
    } else if (!redis_link_up(s->link)) {
        refuse(s, req, 503, "Service Unavailable", "Redis unreachable: nothing was done");
    } else {
        struct action_req *r = calloc(1, sizeof(*r));
        if (r) {
            r->note = strdup(note ? note : "");
            r->extra = strdup(extra ? extra : "");
        }
        if (!r || !r->note || !r->extra) {
            if (r)
                req_free(r);
            evhttp_clear_headers(&form);
            refuse(s, req, 500, "Internal Server Error", "out of memory");
            return;
        }
        r->w.s = s;
        r->w.req = req;
        r->a = a;
        snprintf(r->id, sizeof(r->id), "%s", id);
        snprintf(r->operator_name, sizeof(r->operator_name), "%s", who->name);
        snprintf(r->peer, sizeof(r->peer), "%s", status_peer(req));
        char key[INCIDENT_ID_LEN + 16];
        snprintf(key, sizeof(key), "canh:incident:%s", r->id);
        const char *argv[] = {"HMGET", key, "sinks", "agency"};
        size_t lens[] = {5, strlen(key), 5, 6};
        if (redis_link_command(s->link, COLLECTOR_CMD, on_fields, r, 4, argv, lens) < 0) {
            req_free(r);
            refuse(s, req, 503, "Service Unavailable", "Redis unreachable: nothing was done");
        } else {
            status_wait_add(&r->w);
        }
    }
    evhttp_clear_headers(&form);
}
