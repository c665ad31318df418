/* gen_acl.c — canh-gen-acl: prints the Redis ACL file generated from
 * common/redis/acl.c (scripts/gen-acl writes it to
 * systemd/redis-users.acl.example; e2e_acl_commands compares them).
 *
 *   canh-gen-acl [AGENT...]         the ACL file (agents: gw-soyte gw-sotc)
 *   canh-gen-acl --commands PROG    PROG's commands (collector, ctl, tail, agent)
 */
#include <stdio.h>
#include <string.h>

#include "common/redis/acl.h"

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--commands") == 0) {
        if (redis_acl_list_commands(stdout, argv[2]) < 0) {
            fprintf(stderr, "canh-gen-acl: unknown program %s (collector, ctl, tail, agent)\n",
                    argv[2]);
            return 2;
        }
        return 0;
    }
    static const char *const examples[] = {"gw-soyte", "gw-sotc"};
    if (argc > 1)
        redis_acl_write(stdout, (const char *const *)argv + 1, (unsigned)argc - 1);
    else
        redis_acl_write(stdout, examples, 2);
    return 0;
}
