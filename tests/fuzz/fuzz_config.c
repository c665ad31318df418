/* fuzz_config.c — libFuzzer target for the configuration parsers:
 * agent.conf, assets.conf, rule files and collector.conf (common/ini.c
 * over libinih, common/{agent,assets,rules}_conf.c, collector/config.c),
 * and the typed value parsers every value goes through.  The first byte
 * picks the file kind; the rest is the file.  A parser may refuse the
 * input (it must, with file:line) but never crash or leak. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "collector/config.h"
#include "common/config.h"
#include "common/log.h"

/* Every typed getter on every key, as detectors would call them. */
static void read_all_keys(struct ruleset *rs)
{
    struct cfg_err err;
    for (size_t i = 0; i < rs->n; i++) {
        struct rule *r = &rs->v[i];
        for (size_t k = 0; k < r->n_kv; k++) {
            const char *key = r->kv[k].key;
            uint64_t u;
            double d;
            bool b;
            rule_get_duration(r, key, 0, &u, &err);
            rule_get_rate(r, key, 0, &d, &err);
            rule_get_count(r, key, 0, 0, 1000000, &u, &err);
            rule_get_size(r, key, 0, &u, &err);
            rule_get_ratio(r, key, 0, &d, &err);
            rule_get_multiple(r, key, 0, &d, &err);
            rule_get_bool(r, key, false, &b, &err);
        }
    }
    ruleset_check_unused(rs, &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    if (!quiet) {
        log_init("fuzz_config", LOG_LEVEL_ERR);
        quiet = 1;
    }
    if (size < 1)
        return 0;
    int fd = memfd_create("fuzz-config", 0);
    if (fd < 0)
        return 0;
    if (write(fd, data + 1, size - 1) != (ssize_t)(size - 1)) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    struct cfg_err err;
    switch (data[0] % 4) {
    case 0: {
        struct agent_config c;
        agent_config_defaults(&c);
        agent_config_load(path, &c, &err);
        agent_config_free(&c);
        break;
    }
    case 1: {
        struct assets a;
        if (assets_load(path, &a, &err) == 0) {
            struct ipaddr probe;
            addr_parse("198.51.100.10", &probe);
            assets_lookup(&a, &probe);
            assets_free(&a);
        }
        break;
    }
    case 2: {
        struct collector_config *c = malloc(sizeof(*c));
        if (!c)
            break;
        collector_config_defaults(c);
        collector_config_load(path, c, &err);
        free(c);
        break;
    }
    default: {
        struct ruleset rs = {0};
        if (ruleset_load_file(path, &rs, &err) == 0)
            read_all_keys(&rs);
        ruleset_free(&rs);
        break;
    }
    }
    close(fd);
    return 0;
}
