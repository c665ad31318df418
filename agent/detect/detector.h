/* detector.h — the one interface every detector implements (architecture §4.3).
 *
 * A detector sees decoded packets and the packet clock, keeps its own
 * fixed-capacity state sized from its rules, and reports findings through
 * env->emit().  It knows nothing of outputs, Redis or JSON files.
 *
 * Rules: a detector reads the rules whose "detector =" names it (see
 * ruleset_next) and their keys with the rule_get_* getters.  check() parses
 * them without building state (for --check and before a reload), init()
 * parses and allocates, reload() swaps in new rules keeping the state of
 * findings whose rule still exists.  All three leave err as
 * "file:line: message" on a mistake.  Keep struct rule pointers, never the
 * struct ruleset pointer: the pipeline moves the ruleset struct after a
 * reload (the rules themselves stay where they are).  The assets and
 * home_net of env stay valid and are updated in place on reload.
 */
#ifndef CANH_DETECTOR_H
#define CANH_DETECTOR_H

#include <jansson.h>
#include <stdint.h>

#include "agent/classify.h"
#include "agent/pkt.h"
#include "common/config.h"
#include "common/event.h"

struct detect_env {
    /* Hand a finding to the pipeline.  The event and its JSON are only
     * borrowed for the call: counters/evidence stay the detector's. */
    void (*emit)(void *ctx, struct evt *ev);
    void *emit_ctx;
    struct inventory inv; /* what the agent protects (classify.h) */
    uint64_t hash_seed;   /* secret seed for attacker-keyed tables */
};

struct detector_ops {
    const char *name;
    int (*check)(struct ruleset *rules, struct cfg_err *err);
    void *(*init)(struct ruleset *rules, const struct detect_env *env, struct cfg_err *err);
    void (*on_packet)(void *self, const struct pkt *p);
    /* Called as the packet clock advances (at least once a second of
     * capture time, and from a timer when the link is quiet). */
    void (*on_tick)(void *self, uint64_t now_us);
    int (*reload)(void *self, struct ruleset *rules, struct cfg_err *err);
    /* Add this detector's counters (table fill, evictions ...) to out. */
    void (*stats)(void *self, json_t *out);
    /* Close every open finding with an "end" event (shutdown, end of file). */
    void (*flush)(void *self, uint64_t now_us);
    void (*free)(void *self);
    /* Optional: the TCP ports the detector can care about.  It marks each
     * such port in map (65536 bytes, all zero) with DETECTOR_PORT_ANY, or
     * DETECTOR_PORT_DATA when only segments that carry payload matter;
     * the pipeline then hands it only TCP segments with a header whose
     * source or destination port is marked, and of a DETECTOR_PORT_DATA
     * port only those with payload.  Nothing else reaches on_packet, so
     * what it skips must change no state (its clock included: on_tick
     * moves that).  Such a detector sees a packet after those without a
     * port interest.  NULL: every packet.  Asked after init and reload. */
    void (*tcp_ports)(void *self, uint8_t *map);
    /* Optional: ask the CPU (__builtin_prefetch) for the table lines
     * on_packet will touch for p, before any detector runs, so that the
     * detectors' cache misses overlap instead of following each other:
     * a flood from random sources misses every table, and on a CPU whose
     * cache a neighbour shares those misses are most of the time.  Called
     * for every decoded frame whatever the port interest, before p is
     * classified or its connection looked up (those fields are not set).
     * It reads no line it would wait for and changes no state. */
    void (*prefetch)(void *self, const struct pkt *p);
};

#define DETECTOR_PORT_ANY 1u
#define DETECTOR_PORT_DATA 2u

/* Every detector, in the order they see a packet (those with tcp_ports
 * after the others: keep them last). */
extern const struct detector_ops portscan_detector;
extern const struct detector_ops sweep_detector;
extern const struct detector_ops flood_detector;
extern const struct detector_ops http_detector;
extern const struct detector_ops auth_detector;

const struct detector_ops *const *detector_all(size_t *count);

/* True when the address is one the agent protects (home_net or assets). */
static inline bool detect_is_protected(const struct detect_env *env, const struct ipaddr *a)
{
    return classify_is_protected(&env->inv, a);
}

/* The pipeline classifies every packet (classify_packet) before the
 * detectors see it.  A packet built by hand (tests, fuzz targets) may not
 * be: the helpers below then ask the inventory themselves, with the same
 * answers. */

static inline bool detect_src_protected(const struct detect_env *env, const struct pkt *p)
{
    return p->classified ? p->src_protected : detect_is_protected(env, &p->src);
}

static inline bool detect_dst_protected(const struct detect_env *env, const struct pkt *p)
{
    return p->classified ? p->dst_protected : detect_is_protected(env, &p->dst);
}

/* a: &p->src, &p->dst or another address (an ICMP error's quoted one). */
static inline bool detect_addr_protected(const struct detect_env *env, const struct pkt *p,
                                         const struct ipaddr *a)
{
    if (p->classified && a == &p->src)
        return p->src_protected;
    if (p->classified && a == &p->dst)
        return p->dst_protected;
    return detect_is_protected(env, a);
}

/* The asset of &p->src or &p->dst (or of another address), or NULL. */
static inline const struct asset *detect_addr_asset(const struct detect_env *env,
                                                    const struct pkt *p, const struct ipaddr *a)
{
    if (p->classified && a == &p->src)
        return p->src_asset;
    if (p->classified && a == &p->dst)
        return p->dst_asset;
    return classify_asset(&env->inv, a);
}

#endif
