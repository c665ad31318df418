/* acl.c — see acl.h.  The lists below ARE the ACL: keep each command in
 * the selector of the keys it touches. */
#include "common/redis/acl.h"

#include <ctype.h>
#include <string.h>

#define LIST(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Every program: PING before use, ROLE to check a master found through
 * Sentinel (common/redis/sentinel.h). */
#define LINK_COMMANDS "ping", "role"

static const struct redis_acl_selector collector[] = {
    {LIST(LINK_COMMANDS, "scan", "eval", "evalsha", "script|load", "xreadgroup", "xread", "xack",
          "xgroup|create", "xgroup|delconsumer", "xautoclaim", "xclaim", "xpending", "xlen",
          "xinfo|stream", "xinfo|groups", "xinfo|consumers"),
     LIST("~canh:events:*", "~canh:heartbeats:*")},
    /* eval here too: a script whose KEYS are all incident-side keys (the
     * status page's detail) is checked against this selector alone. */
    {LIST("eval", "evalsha", "exists", "get", "set", "del", "expire", "hget", "hgetall", "hmget",
          "hset", "hdel", "hincrby", "hlen", "hkeys", "zadd", "zrem", "zrange", "zrangebyscore",
          "zcard", "zcount", "xadd", "xlen", "xrange", "xrevrange", "lrange", "xreadgroup", "xack",
          "xgroup|create"),
     LIST("~canh:incidents", "~canh:incidents:*", "~canh:incident:*", "~canh:ikeys", "~canh:open",
          "~canh:escalations", "~canh:escalation:*", "~canh:ratelimit:*", "~canh:deadletter",
          "~canh:agents", "~canh:agent_seen", "~canh:src:*", "~canh:seen:*", "~canh:log:*",
          "~canh:suppressions", "~canh:false_positives", "~canh:report_queue", "~canh:reports",
          "~canh:drills")},
    /* A script whose KEYS span both sets (an event's write acknowledges the
     * agent's stream and writes incidents in one script) is checked against
     * this selector; its commands are still checked one by one. */
    {LIST("eval", "evalsha"),
     LIST("~canh:events:*", "~canh:heartbeats:*", "~canh:incidents", "~canh:incident:*",
          "~canh:incidents:*", "~canh:ikeys", "~canh:open", "~canh:escalations",
          "~canh:escalation:*", "~canh:ratelimit:*", "~canh:deadletter", "~canh:agents",
          "~canh:agent_seen", "~canh:src:*", "~canh:seen:*", "~canh:log:*", "~canh:suppressions",
          "~canh:false_positives", "~canh:report_queue", "~canh:reports")},
};

static const struct redis_acl_selector tail[] = {
    {LIST(LINK_COMMANDS, "scan", "xread", "xrange", "xrevrange", "xlen", "xinfo|stream", "hget",
          "hgetall", "hmget", "hlen", "zrange", "zcard"),
     LIST("%R~canh:incidents", "%R~canh:incident:*", "%R~canh:events:*", "%R~canh:heartbeats:*",
          "%R~canh:agents", "%R~canh:agent_seen", "%R~canh:open")},
};

static const struct redis_acl_selector ctl[] = {
    {LIST(LINK_COMMANDS, "eval", "exists", "hget", "hgetall", "hset", "hsetnx", "hdel", "hincrby",
          "zadd", "zrem", "xadd", "xrange"),
     LIST("~canh:incident:*", "~canh:log:*", "~canh:incidents", "~canh:incidents:*", "~canh:ikeys",
          "~canh:open", "~canh:escalations", "~canh:escalation:*", "~canh:suppressions",
          "~canh:false_positives", "~canh:report_queue", "~canh:reports", "~canh:drills")},
};

/* The agent template: AGENT is replaced by each agent's name; its
 * instances (canh-agent@IFACE) are AGENT-IFACE. */
static const struct redis_acl_selector agent[] = {
    {LIST(LINK_COMMANDS, "xadd"), LIST("%W~canh:events:AGENT", "%W~canh:heartbeats:AGENT",
                                       "%W~canh:events:AGENT-*", "%W~canh:heartbeats:AGENT-*")},
};

const struct redis_acl_user redis_acl_users[] = {
    {"canh-collector", "collector", collector, 3},
    {"canh-tail", "tail", tail, 1},
    {"canh-ctl", "ctl", ctl, 1},
    {"AGENT", "agent", agent, 1},
};
const unsigned redis_acl_n_users = sizeof(redis_acl_users) / sizeof(redis_acl_users[0]);

/* s with every "AGENT" replaced by name. */
static void put_named(FILE *out, const char *s, const char *name)
{
    for (const char *p; (p = strstr(s, "AGENT")) != NULL; s = p + 5)
        fprintf(out, "%.*s%s", (int)(p - s), s, name);
    fputs(s, out);
}

static void put_selector(FILE *out, const struct redis_acl_selector *sel, const char *name)
{
    const char *sep = "";
    for (const char *const *c = sel->commands; *c; c++, sep = " ")
        fprintf(out, "%s+%s", sep, *c);
    for (const char *const *k = sel->keys; *k; k++) {
        fputc(' ', out);
        put_named(out, *k, name);
    }
}

static void put_user(FILE *out, const struct redis_acl_user *u, const char *name)
{
    fputs("user ", out);
    put_named(out, u->name, name);
    fputs(" on #SHA256-OF-PASSWORD-", out);
    put_named(out, u->name, name);
    fputs(" resetkeys resetchannels -@all ", out);
    for (unsigned i = 0; i < u->n_selectors; i++) {
        if (i)
            fputs(" (", out);
        put_selector(out, &u->selectors[i], name);
        if (i)
            fputc(')', out);
    }
    fputc('\n', out);
}

void redis_acl_write(FILE *out, const char *const *agents, unsigned n_agents)
{
    fputs("user default off resetkeys resetchannels -@all\n"
          "user canh-admin on #SHA256-OF-PASSWORD-canh-admin ~* &* +@all\n",
          out);
    for (unsigned i = 0; i < redis_acl_n_users; i++) {
        const struct redis_acl_user *u = &redis_acl_users[i];
        if (strcmp(u->program, "agent") != 0) {
            put_user(out, u, "");
            continue;
        }
        for (unsigned a = 0; a < n_agents; a++)
            put_user(out, u, agents[a]);
    }
}

int redis_acl_list_commands(FILE *out, const char *program)
{
    for (unsigned i = 0; i < redis_acl_n_users; i++) {
        const struct redis_acl_user *u = &redis_acl_users[i];
        if (strcmp(u->program, program) != 0)
            continue;
        for (unsigned s = 0; s < u->n_selectors; s++)
            for (const char *const *c = u->selectors[s].commands; *c; c++) {
                for (const char *p = *c; *p; p++)
                    fputc(*p == '|' ? ' ' : toupper((unsigned char)*p), out);
                fputc('\n', out);
            }
        return 0;
    }
    return -1;
}
