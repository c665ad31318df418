/* agent_conf.c — see agent_conf.h.  One table maps every key to its field
 * and its kind of value; common/values.c parses and words the mistakes. */
#include "common/agent_conf.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/ini.h"
#include "common/log.h"

enum field_kind {
    F_STRING,
    F_NAME,
    F_DURATION,
    F_MB,
    F_COUNT,
    F_LEVEL,
    F_NETSET,
    F_LOGLEVEL,
    F_RATIO_PPM,
    F_LISTEN,
    F_FANOUT_GROUP,
    F_FANOUT_MODE
};

struct field {
    const char *section;
    const char *key;
    enum field_kind kind;
    size_t offset;
    size_t size; /* strings: buffer size; counts: 4 or 8 */
};

#define FIELD(sec, key, kind, member)                                                              \
    {                                                                                              \
        sec, key, kind, offsetof(struct agent_config, member),                                     \
            sizeof(((struct agent_config *)0)->member)                                             \
    }

static const struct field agent_fields[] = {
    FIELD("agent", "name", F_NAME, name),
    FIELD("agent", "agency", F_STRING, agency),
    FIELD("agent", "state_dir", F_STRING, state_dir),
    FIELD("agent", "rules_dir", F_STRING, rules_dir),
    FIELD("agent", "local_rules_dir", F_STRING, local_rules_dir),
    FIELD("agent", "assets", F_STRING, assets_file),
    FIELD("agent", "user", F_STRING, run_as_user),
    FIELD("agent", "home_net", F_NETSET, home_net),
    FIELD("agent", "serious_level", F_LEVEL, serious_level),
    FIELD("agent", "log_level", F_LOGLEVEL, log_level),
    FIELD("capture", "interface", F_STRING, interface),
    FIELD("capture", "snaplen", F_COUNT, snaplen),
    FIELD("capture", "buffer_mb", F_COUNT, buffer_mb),
    FIELD("capture", "filter", F_STRING, filter),
    FIELD("capture", "drop_alert_ratio", F_RATIO_PPM, drop_alert_ratio_ppm),
    FIELD("capture", "link_silent", F_DURATION, link_silent_us),
    FIELD("capture", "fanout_group", F_FANOUT_GROUP, fanout_group),
    FIELD("capture", "fanout", F_FANOUT_MODE, fanout_mode),
    FIELD("output", "redis_url", F_STRING, redis_url),
    FIELD("output", "stream", F_STRING, stream),
    FIELD("output", "heartbeat_stream", F_STRING, heartbeat_stream),
    FIELD("output", "maxlen", F_COUNT, maxlen),
    FIELD("output", "user", F_STRING, redis_user),
    FIELD("output", "password_file", F_STRING, password_file),
    FIELD("output", "spool_max_mb", F_MB, spool_max_bytes),
    FIELD("output", "heartbeat_interval", F_DURATION, heartbeat_interval_us),
    FIELD("output", "timeout", F_DURATION, redis_timeout_us),
    FIELD("geoip", "mmdb", F_STRING, mmdb),
    FIELD("evidence", "ring_mb", F_MB, evidence_ring_bytes),
    FIELD("evidence", "before", F_DURATION, evidence_before_us),
    FIELD("evidence", "after", F_DURATION, evidence_after_us),
    FIELD("evidence", "finding_packets", F_COUNT, evidence_finding_packets),
    FIELD("evidence", "disk_mb", F_MB, evidence_disk_bytes),
    FIELD("metrics", "listen", F_LISTEN, metrics_listen),
};

static const char *const agent_sections[] = {"agent", "capture",  "output",
                                             "geoip", "evidence", "metrics"};

void agent_config_defaults(struct agent_config *c)
{
    memset(c, 0, sizeof(*c));
    char host[64] = "canh";
    gethostname(host, sizeof(host) - 1);
    /* Redis keys and ids use the name: keep it to a safe alphabet. */
    for (char *p = host; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
            *p = '-';
    snprintf(c->name, sizeof(c->name), "%s", host);
    snprintf(c->state_dir, sizeof(c->state_dir), "/var/lib/canh");
    snprintf(c->local_rules_dir, sizeof(c->local_rules_dir), "/etc/canh/rules.d");
    c->serious_level = 4; /* Decision 05/2017: levels 4 and 5 */
    c->log_level = LOG_LEVEL_INFO;
    c->snaplen = 65535;
    c->buffer_mb = 16;
    c->drop_alert_ratio_ppm = 10000; /* 1 % */
    c->link_silent_us = 300ull * 1000000;
    c->maxlen = 1000000;
    c->spool_max_bytes = 256ull << 20;
    c->heartbeat_interval_us = 10ull * 1000000;
    c->redis_timeout_us = 5ull * 1000000;
    c->evidence_before_us = 10ull * 1000000;
    c->evidence_after_us = 10ull * 1000000;
    c->evidence_finding_packets = 10000;
    c->evidence_disk_bytes = 256ull << 20;
}

static int field_set(struct agent_config *cfg, const struct field *f, const char *value,
                     const struct cfg_at *at)
{
    char *base = (char *)cfg + f->offset;
    uint64_t u;
    double ratio;
    switch (f->kind) {
    case F_NAME:
        return value_name(at, value, base, f->size);
    case F_STRING:
        return value_string(at, value, base, f->size);
    case F_DURATION:
        return value_duration(at, value, 0, (uint64_t *)base);
    case F_MB:
        return value_mb(at, value, (uint64_t *)base);
    case F_COUNT:
        if (value_count(at, value, 0, f->size == sizeof(uint32_t) ? UINT32_MAX : UINT64_MAX, &u) <
            0)
            return -1;
        if (f->size == sizeof(uint32_t))
            *(uint32_t *)base = (uint32_t)u;
        else
            *(uint64_t *)base = u;
        return 0;
    case F_LEVEL:
        return value_level(at, value, (int *)base);
    case F_LOGLEVEL:
        return value_log_level(at, value, (int *)base);
    case F_RATIO_PPM:
        if (value_ratio(at, value, &ratio) < 0)
            return -1;
        *(uint64_t *)base = (uint64_t)(ratio * 1e6 + 0.5);
        return 0;
    case F_NETSET:
        return value_netset(at, value, (struct netset *)base);
    case F_LISTEN:
        return value_listen(at, value, base, f->size);
    case F_FANOUT_GROUP:
        if (value_count(at, value, 1, 65535, &u) < 0)
            return -1;
        *(uint32_t *)base = (uint32_t)u;
        return 0;
    case F_FANOUT_MODE:
        cfg->fanout_line = at->line;
        if (strcmp(value, "hash") == 0)
            *(int *)base = FANOUT_HASH;
        else if (strcmp(value, "source") == 0)
            *(int *)base = FANOUT_SOURCE;
        else if (strcmp(value, "cpu") == 0)
            *(int *)base = FANOUT_CPU;
        else
            return value_fail(at, "'%s': expected hash, source or cpu", value);
        return 0;
    }
    return 0;
}

static int agent_section(void *user, const char *section, const struct cfg_at *at)
{
    return ini_check_section(at, section, agent_sections,
                             sizeof(agent_sections) / sizeof(agent_sections[0]));
}

static int agent_key(void *user, const char *section, const char *value, const struct cfg_at *at)
{
    /* The shipped /etc/canh/agent.conf names no agency: its identity keys
     * read "<...>" until the admin sets them, and the agent refuses to
     * start on a placeholder rather than report under a made-up name. */
    size_t len = strlen(value);
    if (len >= 2 && value[0] == '<' && value[len - 1] == '>')
        return value_fail(at, "%s is a placeholder; set this gateway's own value", value);
    for (size_t i = 0; i < sizeof(agent_fields) / sizeof(agent_fields[0]); i++) {
        const struct field *f = &agent_fields[i];
        if (strcmp(section, f->section) != 0 || strcmp(at->key, f->key) != 0)
            continue;
        if (f->offset == offsetof(struct agent_config, password_file))
            ((struct agent_config *)user)->password_file_line = at->line;
        if (f->offset == offsetof(struct agent_config, metrics_listen))
            ((struct agent_config *)user)->metrics_listen_line = at->line;
        return field_set(user, f, value, at);
    }
    return ini_unknown_key(at, section);
}

static const struct ini_format agent_format = {agent_section, agent_key};

int agent_config_load(const char *path, struct agent_config *c, struct cfg_err *err)
{
    if (ini_load(path, &agent_format, c, NULL, err) < 0)
        return -1;
    c->path = path;
    if (c->fanout_line && !c->fanout_group)
        return cfg_fail(err, path, c->fanout_line,
                        "[capture] fanout needs fanout_group = 1..65535 (the same number on "
                        "every worker of the link)");
    return 0;
}

int agent_config_instance(struct agent_config *c, const char *iface, struct cfg_err *err)
{
    if (!value_is_name(iface))
        return cfg_fail(err, "--instance", 0,
                        "'%s': an interface name of letters, digits, '-', '_' and '.'", iface);
    char name[sizeof(c->name)], state_dir[sizeof(c->state_dir)];
    memcpy(name, c->name, sizeof(name));
    memcpy(state_dir, c->state_dir, sizeof(state_dir));
    c->name[0] = c->state_dir[0] = '\0';
    c->instance_path[0] = '\0';
    if (c->path) {
        const char *slash = strrchr(c->path, '/');
        int dir = slash ? (int)(slash - c->path + 1) : 0;
        snprintf(c->instance_path, sizeof(c->instance_path), "%.*sagent-%s.conf", dir, c->path,
                 iface);
        if (access(c->instance_path, F_OK) != 0)
            c->instance_path[0] = '\0';
        else if (ini_load(c->instance_path, &agent_format, c, NULL, err) < 0)
            return -1;
    }
    const char *from = c->instance_path[0] ? c->instance_path : "--instance";
    if (!c->name[0] &&
        snprintf(c->name, sizeof(c->name), "%s-%s", name, iface) >= (int)sizeof(c->name))
        return cfg_fail(err, from, 0, "agent name %s-%s is too long; set [agent] name", name,
                        iface);
    if (!c->state_dir[0] && snprintf(c->state_dir, sizeof(c->state_dir), "%s/%s", state_dir,
                                     iface) >= (int)sizeof(c->state_dir))
        return cfg_fail(err, from, 0, "state directory %s/%s is too long; set [agent] state_dir",
                        state_dir, iface);
    if (snprintf(c->interface, sizeof(c->interface), "%s", iface) >= (int)sizeof(c->interface))
        return cfg_fail(err, from, 0, "interface name too long");
    return 0;
}

void agent_config_free(struct agent_config *c)
{
    netset_free(&c->home_net);
}
