/* agent_conf.h — agent.conf: [agent], [capture], [output], [geoip], [evidence],
 * [metrics]
 * (architecture §7, docs/configuration.md).  Read through common/ini.h; every
 * mistake is "file:line: message" and the loader returns -1, so the caller
 * prints it and exits 2 (or, on SIGHUP, keeps the old configuration).
 * A value written "<...>" is a placeholder of the shipped example and is
 * refused whatever the key. */
#ifndef CANH_AGENT_CONF_H
#define CANH_AGENT_CONF_H

#include <stdint.h>

#include "common/addr.h"
#include "common/values.h"

struct agent_config {
    const char *path;        /* NULL: built-in defaults */
    char instance_path[512]; /* agent-IFACE.conf read over path, "" if none */
    /* [agent] */
    char name[64];
    char agency[128];
    char state_dir[256];
    char rules_dir[256];
    char local_rules_dir[256]; /* overrides and additions, kept on upgrade */
    char assets_file[256];
    char run_as_user[64];
    struct netset home_net; /* empty: every address is "ours" */
    int serious_level;      /* asset level from which a consequence is serious */
    int log_level;          /* enum log_level */
    /* [capture] */
    char interface[64];
    uint32_t snaplen;
    uint32_t buffer_mb;
    char filter[1024];
    uint64_t drop_alert_ratio_ppm; /* capture_drops when drops/packets above */
    uint64_t link_silent_us;       /* link_silent after this long without packets */
    uint32_t fanout_group;         /* PACKET_FANOUT group 1..65535 (agent/fanout.h), 0 off */
    int fanout_mode;               /* enum fanout_mode */
    int fanout_line;               /* for the message when fanout is set without a group */
    /* [output] */
    char redis_url[256];
    char stream[128]; /* default canh:events:<name> */
    char heartbeat_stream[128];
    uint64_t maxlen;
    char redis_user[64];
    char password_file[256];
    int password_file_line; /* for --check's message when it cannot be read */
    uint64_t spool_max_bytes;
    uint64_t heartbeat_interval_us;
    uint64_t redis_timeout_us;
    /* [geoip] */
    char mmdb[256];
    /* [evidence] (agent/evidence.h); ring 0: off */
    uint64_t evidence_ring_bytes;
    uint64_t evidence_before_us, evidence_after_us;
    uint64_t evidence_finding_packets;
    uint64_t evidence_disk_bytes;
    /* [metrics] */
    char metrics_listen[128]; /* host:port of the agent's own /metrics, "" off */
    int metrics_listen_line;  /* for --check's message when it cannot be bound */
};

/* [capture] fanout: how the workers of one fanout group share a link. */
enum fanout_mode { FANOUT_HASH, FANOUT_SOURCE, FANOUT_CPU };

void agent_config_defaults(struct agent_config *c);
int agent_config_load(const char *path, struct agent_config *c, struct cfg_err *err);
/* Instance IFACE (canh-agent@IFACE.service, --instance): agent-IFACE.conf
 * in the directory of c->path, when it exists, is read over c; the capture
 * interface is IFACE; [agent] name and state_dir not set in that file
 * become NAME-IFACE and STATE_DIR/IFACE, so instances on one gateway never
 * share a stream, a spool or its lock. */
int agent_config_instance(struct agent_config *c, const char *iface, struct cfg_err *err);
void agent_config_free(struct agent_config *c);

#endif
