/* acl.h — the one list of the Redis commands and keys each canh program
 * uses, from which the shipped ACL file (systemd/redis-users.acl.example)
 * is generated (tests/gen_acl.c, scripts/gen-acl).  The test
 * e2e_acl_commands fails when a command in the sources of the collector,
 * canh-ctl or canh-tail (C argv, Lua redis.call) is missing here, and
 * when the shipped file is not what this list generates.
 *
 * To let a program run one more command: add it (lower case, "cmd|sub"
 * for a subcommand) to the selector of that program below whose keys it
 * touches, run scripts/gen-acl, commit both files.  A Lua script's
 * redis.call() is checked against the caller's user, so its commands go
 * to the program that EVALs it.  Redis functions (FCALL) would go the same
 * way: +fcall in the selector of the keys the function declares.
 */
#ifndef CANH_REDIS_ACL_H
#define CANH_REDIS_ACL_H

#include <stdio.h>

/* Commands and key patterns ("~pat" read-write, "%R~pat" read-only,
 * "%W~pat" write-only) that one ACL selector grants together. */
struct redis_acl_selector {
    const char *const *commands; /* NULL-terminated */
    const char *const *keys;     /* NULL-terminated */
};

struct redis_acl_user {
    const char *name;
    const char *program; /* the program that logs in as it ("agent" for the template) */
    /* The first is the root selector, the others go in parentheses. */
    const struct redis_acl_selector *selectors;
    unsigned n_selectors;
};

extern const struct redis_acl_user redis_acl_users[];
extern const unsigned redis_acl_n_users;

/* Writes the ACL file: the default user off, canh-admin, the programs'
 * users, and one agent user per name in agents (gw-soyte...). */
void redis_acl_write(FILE *out, const char *const *agents, unsigned n_agents);

/* Writes the commands of program (collector, ctl, tail, agent), one a
 * line in upper case; -1 for an unknown program. */
int redis_acl_list_commands(FILE *out, const char *program);

#endif
