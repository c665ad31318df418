/* pipeline.c — see pipeline.h.  Data flows one way: a frame is decoded
 * into a struct pkt on the stack, every detector sees it, and findings come
 * back through emit() to be enriched, serialised once and written to every
 * output. */
#include "agent/pipeline.h"

#include "agent/evidence.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/classify.h"
#include "agent/conns.h"
#include "agent/detect/detector.h"
#include "agent/enrich.h"
#include "common/event_text.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/redis/secret.h"

#define PIPELINE_MAX_OUTPUTS 8
#define PIPELINE_MAX_DETECTORS 8
#define TICK_US 1000000ull

/* Detector names a rule may use: the detectors plus the agent's own
 * health findings (capture_drops, link_silent). */
#define HEALTH_DETECTOR "health"
/* ... and the active page checks (agent/check/). */
#define CHECK_DETECTOR "check"

struct pipeline {
    const struct agent_config *cfg;
    char rules_dir[256];
    struct assets assets;
    struct ruleset rules;
    struct detect_env env;
    struct classify_index cls; /* env.inv in one index, for every packet */
    struct conns conns;        /* TCP connections seen (conns.h) */
    const struct detector_ops *const *ops;
    size_t n_ops;
    void *det[PIPELINE_MAX_DETECTORS];
    /* ops[i]->on_packet, copied: one load less per detector and packet. */
    void (*on_packet[PIPELINE_MAX_DETECTORS])(void *self, const struct pkt *p);
    /* Who is handed a packet (detector_ops.tcp_ports).  The detectors
     * without a port interest see every packet: every[0 .. n_every), in
     * registry order.  Then, for a TCP segment with a header, those with
     * an interest in its source or destination port, bit i for ops[i]:
     * by_port[0][n] for a segment without payload (DETECTOR_PORT_ANY),
     * by_port[1][n] for one with (ANY or DATA). */
    uint8_t every[PIPELINE_MAX_DETECTORS];
    size_t n_every;
    uint8_t by_port[2][65536];
    struct output *outputs[PIPELINE_MAX_OUTPUTS];
    size_t n_outputs;
    struct enrich enrich;
    pipeline_event_hook hook;
    void *hook_ctx;
    struct evidence *evidence; /* NULL: [evidence] off */
    pipeline_stats_hook stats_hook;
    void *stats_ctx;
    struct event_text text; /* the last event's JSON, reused */

    struct decode_stats dstats;
    uint64_t bytes, events; /* frames: dstats.frames */
    uint64_t last_packet_us, next_tick_us;
};

static const char *default_rules_dir(const struct agent_config *cfg)
{
    struct stat st;
    if (cfg->rules_dir[0])
        return cfg->rules_dir;
    /* Run from a build tree: the shipped rules next to the sources. */
    if (stat(CANH_SOURCE_RULES_DIR, &st) == 0 && S_ISDIR(st.st_mode))
        return CANH_SOURCE_RULES_DIR;
    return CANH_INSTALL_RULES_DIR;
}

/* Load assets and rules and check every detector's keys; on success the
 * caller owns *assets and *rules. */
static int load_inputs(const struct agent_config *cfg, const char *rules_dir, struct assets *assets,
                       struct ruleset *rules, struct cfg_err *err)
{
    memset(assets, 0, sizeof(*assets));
    memset(rules, 0, sizeof(*rules));
    if (cfg->assets_file[0] && assets_load(cfg->assets_file, assets, err) < 0)
        return -1;
    if (ruleset_load_dir(rules_dir, rules, err) < 0)
        goto fail;
    if (cfg->local_rules_dir[0] && ruleset_overlay_dir(cfg->local_rules_dir, rules, err) < 0)
        goto fail;
    size_t n_ops;
    const struct detector_ops *const *ops = detector_all(&n_ops);
    const char *known[PIPELINE_MAX_DETECTORS + 2];
    for (size_t i = 0; i < n_ops; i++)
        known[i] = ops[i]->name;
    known[n_ops] = HEALTH_DETECTOR;
    known[n_ops + 1] = CHECK_DETECTOR;
    if (ruleset_check_detectors(rules, known, n_ops + 2, err) < 0)
        goto fail;
    for (size_t i = 0; i < n_ops; i++)
        if (ops[i]->check(rules, err) < 0)
            goto fail;
    if (ruleset_check_unused(rules, err) < 0)
        goto fail;
    return 0;
fail:
    assets_free(assets);
    ruleset_free(rules);
    return -1;
}

int pipeline_check(const struct agent_config *cfg, struct cfg_err *err)
{
    struct assets assets;
    struct ruleset rules;
    char secret[512], why[600];
    /* The Redis output reads it only when the agent starts: --check, the
     * unit's ExecStartPre, must fail on it first and name its line. */
    if (cfg->password_file[0] &&
        secret_read_file(cfg->password_file, secret, sizeof(secret), why, sizeof(why)) < 0)
        return cfg_fail(err, cfg->path ? cfg->path : "agent.conf", cfg->password_file_line,
                        "password_file: %s", why);
    explicit_bzero(secret, sizeof(secret));
    /* The agent's own /metrics: a port another process holds would stop
     * the service at start, so --check says so first. */
    if (cfg->metrics_listen[0] && value_listen_try_bind(cfg->metrics_listen, why, sizeof(why)) < 0)
        return cfg_fail(err, cfg->path ? cfg->path : "agent.conf", cfg->metrics_listen_line,
                        "[metrics] listen: %s", why);
    if (load_inputs(cfg, default_rules_dir(cfg), &assets, &rules, err) < 0)
        return -1;
    assets_free(&assets);
    ruleset_free(&rules);
    return 0;
}

/* The detectors' port interests into pl->every and pl->by_port, again
 * after a reload (their ports come from the rules).  -1: out of memory,
 * and then every detector sees every packet. */
static int build_interest(struct pipeline *pl)
{
    uint8_t *marks = malloc(65536);
    int rc = marks ? 0 : -1;
    memset(pl->by_port, 0, sizeof(pl->by_port));
    pl->n_every = 0;
    for (size_t i = 0; i < pl->n_ops; i++) {
        if (!pl->ops[i]->tcp_ports || !marks) {
            pl->every[pl->n_every++] = (uint8_t)i;
            continue;
        }
        uint8_t bit = (uint8_t)(1u << i);
        memset(marks, 0, 65536);
        pl->ops[i]->tcp_ports(pl->det[i], marks);
        for (size_t port = 0; port < 65536; port++) {
            if (marks[port] & DETECTOR_PORT_ANY)
                pl->by_port[0][port] |= bit;
            if (marks[port] & (DETECTOR_PORT_ANY | DETECTOR_PORT_DATA))
                pl->by_port[1][port] |= bit;
        }
    }
    free(marks);
    return rc;
}

static void pipeline_on_emit(void *ctx, struct evt *ev)
{
    pipeline_emit(ctx, ev);
}

/* Written to every output, then the text is reused for the next event. */
static void write_outputs(struct pipeline *pl, const struct evt *ev, const char *text, size_t len)
{
    for (size_t i = 0; i < pl->n_outputs; i++)
        pl->outputs[i]->write(pl->outputs[i], ev, text, len);
}

void pipeline_emit(struct pipeline *pl, struct evt *ev)
{
    enrich_event(&pl->enrich, ev);
    if (!pl->evidence && !pl->hook) {
        /* Nobody needs the tree: the text straight into a reused buffer
         * (the same bytes, common/event_text.h). */
        if (evt_format(ev, &pl->text) < 0) {
            log_err("cannot encode a %s event (out of memory)", ev->kind);
            return;
        }
        pl->events++;
        write_outputs(pl, ev, pl->text.buf, pl->text.len);
        return;
    }
    json_t *json = evt_to_json(ev);
    if (!json) {
        log_err("cannot encode a %s event (out of memory)", ev->kind);
        return;
    }
    pl->events++;
    if (pl->evidence)
        evidence_event(pl->evidence, ev, json);
    if (pl->hook)
        pl->hook(pl->hook_ctx, ev, json);
    char *text = json_dumps(json, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(json);
    if (!text) {
        log_err("cannot serialise a %s event (out of memory)", ev->kind);
        return;
    }
    write_outputs(pl, ev, text, strlen(text));
    free(text);
}

struct pipeline *pipeline_new(const struct agent_config *cfg, struct cfg_err *err)
{
    struct pipeline *pl = calloc(1, sizeof(*pl));
    if (!pl) {
        cfg_fail(err, "canh-agent", 0, "out of memory");
        return NULL;
    }
    pl->cfg = cfg;
    snprintf(pl->rules_dir, sizeof(pl->rules_dir), "%s", default_rules_dir(cfg));
    if (load_inputs(cfg, pl->rules_dir, &pl->assets, &pl->rules, err) < 0) {
        free(pl);
        return NULL;
    }
    pl->env.emit = pipeline_on_emit;
    pl->env.emit_ctx = pl;
    pl->env.inv.assets = &pl->assets;
    pl->env.inv.home_net = &cfg->home_net;
    pl->env.hash_seed = hash_random_seed();
    if (classify_index_build(&pl->cls, &pl->env.inv) < 0) {
        assets_free(&pl->assets);
        ruleset_free(&pl->rules);
        free(pl);
        cfg_fail(err, "canh-agent", 0, "out of memory");
        return NULL;
    }
    if (conns_init(&pl->conns, CONNS_DEFAULT_SLOTS, hash_mix64(pl->env.hash_seed ^ 0x636f6e6e)) <
        0) {
        classify_index_free(&pl->cls);
        assets_free(&pl->assets);
        ruleset_free(&pl->rules);
        free(pl);
        cfg_fail(err, "canh-agent", 0, "out of memory");
        return NULL;
    }
    enrich_init(&pl->enrich, cfg, &pl->assets);
    enrich_set_rules_digest(&pl->enrich, pl->rules.digest);
    pl->ops = detector_all(&pl->n_ops);
    for (size_t i = 0; i < pl->n_ops; i++) {
        pl->on_packet[i] = pl->ops[i]->on_packet;
        pl->det[i] = pl->ops[i]->init(&pl->rules, &pl->env, err);
        if (!pl->det[i]) {
            pipeline_free(pl);
            return NULL;
        }
    }
    if (build_interest(pl) < 0)
        log_warn("no memory for the detectors' port map; every detector sees every packet");
    log_debug("rules from %s, version %s; %zu assets", pl->rules_dir, pl->rules.version,
              pl->assets.n);
    return pl;
}

int pipeline_add_output(struct pipeline *pl, struct output *out)
{
    if (pl->n_outputs >= PIPELINE_MAX_OUTPUTS)
        return -1;
    pl->outputs[pl->n_outputs++] = out;
    return 0;
}

void pipeline_set_event_hook(struct pipeline *pl, pipeline_event_hook hook, void *ctx)
{
    pl->hook = hook;
    pl->hook_ctx = ctx;
}

void pipeline_tick(struct pipeline *pl, uint64_t now_us)
{
    for (size_t i = 0; i < pl->n_ops; i++)
        pl->ops[i]->on_tick(pl->det[i], now_us);
    if (pl->evidence)
        evidence_tick(pl->evidence, now_us);
    pl->next_tick_us = now_us - now_us % TICK_US + TICK_US;
}

/* A classified packet to the detectors that can care about it. */
static inline void dispatch(struct pipeline *pl, const struct pkt *p)
{
    /* Packet time drives every window; a timestamp that goes backwards
     * (merged captures) does not rewind the clock. */
    if (p->ts_us > pl->last_packet_us)
        pl->last_packet_us = p->ts_us;
    if (pl->last_packet_us >= pl->next_tick_us)
        pipeline_tick(pl, pl->last_packet_us);
    for (size_t k = 0; k < pl->n_every; k++) {
        size_t i = pl->every[k];
        pl->on_packet[i](pl->det[i], p);
    }
    if (p->proto != PROTO_TCP || p->later_fragment)
        return;
    const uint8_t *by_port = pl->by_port[p->payload_len > 0];
    for (unsigned want = by_port[p->sport] | by_port[p->dport]; want; want &= want - 1) {
        unsigned i = (unsigned)__builtin_ctz(want);
        pl->on_packet[i](pl->det[i], p);
    }
}

void pipeline_packet(struct pipeline *pl, const struct pkt *p)
{
    struct pkt own;
    if (!p->classified) {
        /* Built by hand (tests): classify a copy, the caller's is const. */
        own = *p;
        classify_packet(&pl->env.inv, &own);
        conns_packet(&pl->conns, &own);
        p = &own;
    }
    dispatch(pl, p);
}

void pipeline_frame(struct pipeline *pl, int dlt, const struct pcap_pkthdr *h, const uint8_t *frame)
{
    struct pkt p;
    uint64_t ts_us = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
    pl->bytes += h->len;
    bool decoded = decode_frame(dlt, frame, h->caplen, h->len, ts_us, &p, &pl->dstats) == DECODE_OK;
    /* Into the evidence ring before the detectors: the packet that opens a
     * finding is part of its evidence. */
    if (pl->evidence)
        evidence_frame(pl->evidence, dlt, ts_us, frame, h->caplen, h->len, decoded ? &p : NULL);
    if (!decoded) {
        /* Undecodable frames still move the clock. */
        if (ts_us > pl->last_packet_us)
            pl->last_packet_us = ts_us;
        return;
    }
    /* Every table line the packet will touch is asked for first, so that
     * the misses overlap (detector_ops.prefetch); classifying runs while
     * they arrive. */
    conns_prefetch(&pl->conns, &p);
    for (size_t i = 0; i < pl->n_ops; i++)
        if (pl->ops[i]->prefetch)
            pl->ops[i]->prefetch(pl->det[i], &p);
    classify_packet_indexed(&pl->cls, &p);
    conns_packet(&pl->conns, &p);
    dispatch(pl, &p);
}

void pipeline_flush(struct pipeline *pl)
{
    for (size_t i = 0; i < pl->n_outputs; i++)
        pl->outputs[i]->flush(pl->outputs[i]);
}

void pipeline_finish(struct pipeline *pl, uint64_t now_us)
{
    for (size_t i = 0; i < pl->n_ops; i++)
        pl->ops[i]->flush(pl->det[i], now_us);
    pipeline_flush(pl);
}

void pipeline_set_exercise(struct pipeline *pl, const char *id)
{
    pl->enrich.exercise = id;
}

void pipeline_set_evidence(struct pipeline *pl, struct evidence *e)
{
    pl->evidence = e;
}

int pipeline_reload(struct pipeline *pl, struct cfg_err *err)
{
    struct assets assets;
    struct ruleset rules;
    /* First, and whatever the rules say: logrotate sends the same SIGHUP
     * and its renamed file must be let go even if a rule is broken.  An
     * output that cannot reopen logs why and keeps its old file. */
    for (size_t i = 0; i < pl->n_outputs; i++)
        if (pl->outputs[i]->reopen)
            pl->outputs[i]->reopen(pl->outputs[i]);
    if (load_inputs(pl->cfg, pl->rules_dir, &assets, &rules, err) < 0)
        return -1;
    /* Every detector accepted the new rules in check(); from here reload
     * only swaps parameters, so the switch is all or nothing. */
    for (size_t i = 0; i < pl->n_ops; i++) {
        if (pl->ops[i]->reload(pl->det[i], &rules, err) < 0) {
            log_err("%s: reload failed after check passed: %s", pl->ops[i]->name, err->msg);
            ruleset_free(&rules);
            assets_free(&assets);
            for (size_t j = 0; j < i; j++)
                pl->ops[j]->reload(pl->det[j], &pl->rules, err);
            if (build_interest(pl) < 0)
                log_warn("reload: no memory for the detectors' port map; every detector sees "
                         "every packet");
            return -1;
        }
    }
    /* Detectors keep rule pointers, which point into the rule array and
     * survive the struct copy below. */
    ruleset_free(&pl->rules);
    assets_free(&pl->assets);
    pl->rules = rules;
    pl->assets = assets;
    /* Out of memory here leaves the index off: the two lists answer. */
    classify_index_free(&pl->cls);
    if (classify_index_build(&pl->cls, &pl->env.inv) < 0)
        log_err("reload: no memory for the address index; classifying without it");
    if (build_interest(pl) < 0)
        log_warn("reload: no memory for the detectors' port map; every detector sees every packet");
    enrich_set_assets(&pl->enrich, &pl->assets);
    enrich_set_rules_digest(&pl->enrich, pl->rules.digest);
    log_info("reloaded: rules version %s, %zu assets", pl->rules.version, pl->assets.n);
    return 0;
}

json_t *pipeline_stats(struct pipeline *pl)
{
    json_t *s = json_object();
    json_object_set_new(s, "packets", json_integer((json_int_t)pl->dstats.frames));
    json_object_set_new(s, "bytes", json_integer((json_int_t)pl->bytes));
    json_object_set_new(s, "decoded", json_integer((json_int_t)pl->dstats.decoded));
    json_object_set_new(s, "not_ip", json_integer((json_int_t)pl->dstats.not_ip));
    json_object_set_new(s, "decode_errors", json_integer((json_int_t)pl->dstats.errors));
    json_t *why = json_object();
    for (int r = DECODE_NOT_IP + 1; r < DECODE_REASON_COUNT; r++)
        if (pl->dstats.by_reason[r])
            json_object_set_new(why, decode_reason_name((enum decode_reason)r),
                                json_integer((json_int_t)pl->dstats.by_reason[r]));
    json_object_set_new(s, "decode_errors_by_reason", why);
    json_object_set_new(s, "events", json_integer((json_int_t)pl->events));
    json_object_set_new(s, "rules_version", json_string(pl->rules.version));
    json_t *det = json_object();
    for (size_t i = 0; i < pl->n_ops; i++) {
        json_t *d = json_object();
        pl->ops[i]->stats(pl->det[i], d);
        json_object_set_new(det, pl->ops[i]->name, d);
    }
    json_object_set_new(s, "detectors", det);
    json_t *outs = json_object();
    for (size_t i = 0; i < pl->n_outputs; i++)
        if (pl->outputs[i]->stats)
            pl->outputs[i]->stats(pl->outputs[i], outs);
    json_object_set_new(s, "outputs", outs);
    if (pl->evidence)
        evidence_stats(pl->evidence, s);
    if (pl->stats_hook)
        pl->stats_hook(pl->stats_ctx, s);
    return s;
}

const struct decode_stats *pipeline_decode_stats(const struct pipeline *pl)
{
    return &pl->dstats;
}
uint64_t pipeline_events(const struct pipeline *pl)
{
    return pl->events;
}
uint64_t pipeline_last_packet_us(const struct pipeline *pl)
{
    return pl->last_packet_us;
}
const char *pipeline_rules_version(const struct pipeline *pl)
{
    return pl->rules.version;
}
const struct assets *pipeline_assets(const struct pipeline *pl)
{
    return &pl->assets;
}
void pipeline_set_stats_hook(struct pipeline *pl, pipeline_stats_hook hook, void *ctx)
{
    pl->stats_hook = hook;
    pl->stats_ctx = ctx;
}
struct rule *pipeline_rule(struct pipeline *pl, const char *detector, const char *name)
{
    return ruleset_find(&pl->rules, detector, name);
}

void pipeline_free(struct pipeline *pl)
{
    if (!pl)
        return;
    for (size_t i = 0; i < pl->n_ops; i++)
        if (pl->det[i])
            pl->ops[i]->free(pl->det[i]);
    for (size_t i = 0; i < pl->n_outputs; i++)
        pl->outputs[i]->close(pl->outputs[i]);
    enrich_free(&pl->enrich);
    conns_free(&pl->conns);
    classify_index_free(&pl->cls);
    assets_free(&pl->assets);
    ruleset_free(&pl->rules);
    event_text_free(&pl->text);
    free(pl);
}
