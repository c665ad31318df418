/* pipeline.h — capture → decode → detectors → enrich → outputs.
 *
 * The pipeline owns the loaded configuration (agent.conf, assets, rules),
 * the detectors and the outputs, and moves packets through them in one
 * direction.  main.c (and tests) drive it: feed frames, advance the clock,
 * reload, finish.
 */
#ifndef CANH_PIPELINE_H
#define CANH_PIPELINE_H

#include <jansson.h>
#include <pcap/pcap.h>
#include <stdint.h>

#include "agent/decode.h"
#include "agent/output/output.h"
#include "common/config.h"
#include "common/event.h"

struct pipeline;

/* Loads assets, rules and the GeoIP DB named in cfg (the rules directory
 * defaults to the source tree's rules/ or the installed one) and builds
 * every detector.  NULL with err set ("file:line: message"). */
struct pipeline *pipeline_new(const struct agent_config *cfg, struct cfg_err *err);

/* Validate config, assets and rules as pipeline_new would, without
 * building anything (canh-agent --check). */
int pipeline_check(const struct agent_config *cfg, struct cfg_err *err);

/* The pipeline takes ownership of the output. */
int pipeline_add_output(struct pipeline *pl, struct output *out);

/* Called for every event after enrichment, before the outputs (tests,
 * the demo's summary).  json is the event's JSON object. */
typedef void (*pipeline_event_hook)(void *ctx, const struct evt *ev, json_t *json);
void pipeline_set_event_hook(struct pipeline *pl, pipeline_event_hook hook, void *ctx);

/* One captured frame of link type dlt. */
void pipeline_frame(struct pipeline *pl, int dlt, const struct pcap_pkthdr *h,
                    const uint8_t *frame);
/* One already decoded packet (fuzzing, synthetic tests). */
void pipeline_packet(struct pipeline *pl, const struct pkt *p);
/* Advance the clock without a packet (quiet link timer). */
void pipeline_tick(struct pipeline *pl, uint64_t now_us);
/* End of input or shutdown: close open findings, flush outputs. */
void pipeline_finish(struct pipeline *pl, uint64_t now_us);
/* Packet evidence (agent/evidence.h) for findings from now on; NULL: none.
 * The caller keeps e and frees it after the pipeline's last event. */
struct evidence;
void pipeline_set_evidence(struct pipeline *pl, struct evidence *e);
/* Flush outputs (timer). */
void pipeline_flush(struct pipeline *pl);

/* SIGHUP: reopen the outputs' files (logrotate), then re-read assets and
 * rules; on error the old set stays and err says why. */
int pipeline_reload(struct pipeline *pl, struct cfg_err *err);

/* Counters: packets, bytes, decode errors by reason, events, detectors'
 * and outputs' stats.  New reference. */
json_t *pipeline_stats(struct pipeline *pl);
const struct decode_stats *pipeline_decode_stats(const struct pipeline *pl);
uint64_t pipeline_events(const struct pipeline *pl);
uint64_t pipeline_last_packet_us(const struct pipeline *pl);
const char *pipeline_rules_version(const struct pipeline *pl);
/* The loaded assets (valid until the next reload). */
const struct assets *pipeline_assets(const struct pipeline *pl);
/* Called by pipeline_stats to add a part's counters (the page checks). */
typedef void (*pipeline_stats_hook)(void *ctx, json_t *out);
void pipeline_set_stats_hook(struct pipeline *pl, pipeline_stats_hook hook, void *ctx);
/* Emit an agent-level finding (capture_drops, link_silent) through the
 * same enrich/output path; rule names a rule in the "health" detector
 * section of the rules, or NULL for the built-in health rule. */
void pipeline_emit(struct pipeline *pl, struct evt *ev);
/* The loaded rule detector/name, or NULL.  Valid until the next reload:
 * look it up at each emission rather than keeping it. */
struct rule *pipeline_rule(struct pipeline *pl, const char *detector, const char *name);

/* Every event carries canh.exercise = id (a drill replay, agent/drill_replay.h);
 * id must outlive the pipeline. */
void pipeline_set_exercise(struct pipeline *pl, const char *id);

void pipeline_free(struct pipeline *pl);

#endif
