/* sentinel.c — see sentinel.h. */
#include "common/redis/sentinel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int redis_sentinel_master_reply(const redisReply *reply, char *host, size_t host_size, int *port,
                                char *why, size_t why_len)
{
    if (!reply) {
        snprintf(why, why_len, "no answer");
        return -1;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        snprintf(why, why_len, "%s", reply->str);
        return -1;
    }
    if (reply->type == REDIS_REPLY_NIL) {
        snprintf(why, why_len, "does not know this master");
        return -1;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_STRING ||
        reply->element[1]->type != REDIS_REPLY_STRING || reply->element[0]->len >= host_size) {
        snprintf(why, why_len, "answered something other than an address");
        return -1;
    }
    char *end;
    long p = strtol(reply->element[1]->str, &end, 10);
    if (*end || p < 1 || p > 65535) {
        snprintf(why, why_len, "answered port %s", reply->element[1]->str);
        return -1;
    }
    memcpy(host, reply->element[0]->str, reply->element[0]->len + 1);
    *port = (int)p;
    return 0;
}

int redis_role_master_reply(const redisReply *reply, char *why, size_t why_len)
{
    if (!reply) {
        snprintf(why, why_len, "no answer to ROLE");
        return -1;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        snprintf(why, why_len, "ROLE: %s (the ACL must allow +role with sentinel://)", reply->str);
        return -1;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
        reply->element[0]->type != REDIS_REPLY_STRING) {
        snprintf(why, why_len, "ROLE answered something unexpected");
        return -1;
    }
    if (strcmp(reply->element[0]->str, "master") != 0) {
        snprintf(why, why_len, "the server is a %s, not the master (failover in progress?)",
                 reply->element[0]->str);
        return -1;
    }
    return 0;
}

int redis_ping_reply(const redisReply *reply, char *why, size_t why_len)
{
    if (!reply) {
        snprintf(why, why_len, "no answer to PING");
        return -1;
    }
    if (reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOPERM", 6) != 0) {
        snprintf(why, why_len, "not ready: %s", reply->str);
        return -1;
    }
    return 0;
}

/* One command; -1 with the reply (or the context's error) in why. */
static redisReply *command(redisContext *c, int argc, const char **argv, const size_t *lens)
{
    return redisCommandArgv(c, argc, argv, lens);
}

static int resolve_sync(struct redis_url *u, struct timeval tv, char *err, size_t err_len)
{
    char why[256] = "";
    for (unsigned i = 0; i < u->n_sentinels; i++) {
        const struct redis_url_sentinel *s = &u->sentinels[i];
        redisContext *c = redisConnectWithTimeout(s->host, s->port, tv);
        if (!c || c->err) {
            snprintf(why, sizeof(why), "sentinel %s:%d: %s", s->host, s->port,
                     c ? c->errstr : "out of memory");
            redisFree(c);
            continue;
        }
        redisSetTimeout(c, tv);
        const char *argv[] = {"SENTINEL", "GET-MASTER-ADDR-BY-NAME", u->master_name};
        size_t lens[] = {8, 23, strlen(u->master_name)};
        redisReply *r = command(c, 3, argv, lens);
        char host[256], what[200];
        int port;
        int rc = redis_sentinel_master_reply(r, host, sizeof(host), &port, what, sizeof(what));
        if (!r)
            snprintf(what, sizeof(what), "%s", c->errstr);
        freeReplyObject(r);
        redisFree(c);
        if (rc == 0) {
            redis_url_set_master(u, host, port);
            return 0;
        }
        snprintf(why, sizeof(why), "sentinel %s:%d: %s", s->host, s->port, what);
    }
    snprintf(err, err_len, "no sentinel named the master %s (last: %s)", u->master_name, why);
    return -1;
}

redisContext *redis_connect_sync(struct redis_url *u, struct timeval tv, char *err, size_t err_len)
{
    if (u->n_sentinels && resolve_sync(u, tv, err, err_len) < 0)
        return NULL;
    redisContext *c = u->unix_socket ? redisConnectUnixWithTimeout(u->path, tv)
                                     : redisConnectWithTimeout(u->host, u->port, tv);
    if (!c || c->err) {
        snprintf(err, err_len, "cannot reach Redis at %s: %s", u->where,
                 c ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    const char *argv[3];
    size_t lens[3];
    int argc = redis_url_auth_argv(u, argv, lens);
    if (argc > 0) {
        redisReply *r = command(c, argc, argv, lens);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            snprintf(err, err_len, "Redis at %s refused the login: %s", u->where,
                     r ? r->str : c->errstr);
            freeReplyObject(r);
            redisFree(c);
            return NULL;
        }
        freeReplyObject(r);
    }
    char why[256];
    const char *ping[] = {"PING"};
    size_t ping_len[] = {4};
    redisReply *r = command(c, 1, ping, ping_len);
    int rc = redis_ping_reply(r, why, sizeof(why));
    freeReplyObject(r);
    if (rc == 0 && u->n_sentinels) {
        const char *role[] = {"ROLE"};
        size_t role_len[] = {4};
        r = command(c, 1, role, role_len);
        rc = redis_role_master_reply(r, why, sizeof(why));
        freeReplyObject(r);
    }
    if (rc < 0) {
        snprintf(err, err_len, "Redis at %s: %s", u->where, why);
        redisFree(c);
        return NULL;
    }
    return c;
}
