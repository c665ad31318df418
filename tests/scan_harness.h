/* scan_harness.h — drives one detector on hand-built packets, for the
 * portscan and sweep suites.  Define HARNESS_DETECTOR (the detector's ops)
 * before including.  Findings are collected from the detector's emit() as
 * small JSON objects: {kind, state, seq, src, dst, rule, counters,
 * evidence, ts, taxonomy} (taxonomy only when the detector chose one
 * over the rule's).  feed() runs packets through the agent's connection
 * table first (agent/conns.h), as the pipeline does. */
#ifndef CANH_SCAN_HARNESS_H
#define CANH_SCAN_HARNESS_H

#include <check.h>
#include <string.h>

#include "agent/conns.h"
#include "agent/detect/detector.h"
#include "testutil.h"

#ifndef HARNESS_DETECTOR
#error "define HARNESS_DETECTOR before including scan_harness.h"
#endif

struct harness {
    struct ruleset rules;
    struct netset home;
    struct detect_env env;
    void *det;
    struct conns conns;
    json_t *events; /* {kind, state, seq, src, dst, rule, counters, evidence} */
};

static inline void collect(void *ctx, struct evt *ev)
{
    struct harness *h = ctx;
    char s[ADDR_STRLEN], d[ADDR_STRLEN];
    addr_format(&ev->src, s, sizeof(s));
    addr_format(&ev->dst, d, sizeof(d));
    json_array_append_new(
        h->events, json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:o, s:o, s:I}", "kind", ev->kind,
                             "state", finding_state_name(ev->state), "seq",
                             (json_int_t)ev->finding_seq, "src", s, "dst", ev->has_dst ? d : "",
                             "rule", ev->rule->name, "counters", evt_counters_json(ev), "evidence",
                             evt_evidence_json(ev), "ts", (json_int_t)ev->ts_us));
    if (ev->taxonomy)
        json_object_set_new(json_array_get(h->events, json_array_size(h->events) - 1), "taxonomy",
                            json_string(ev->taxonomy->code));
}

static inline void start(struct harness *h, const char *rules_text, const char *home_net)
{
    memset(h, 0, sizeof(*h));
    struct cfg_err err;
    const char *path = write_temp_file("scan.rules", rules_text);
    ck_assert_ptr_nonnull(path);
    ck_assert_msg(ruleset_load_file(path, &h->rules, &err) == 0, "%s", err.msg);
    if (home_net) {
        char bad[64];
        ck_assert_int_eq(netset_parse(home_net, &h->home, bad, sizeof(bad)), 0);
    }
    h->env.emit = collect;
    h->env.emit_ctx = h;
    h->env.inv.home_net = &h->home;
    h->env.hash_seed = 0x1234abcd5678ef90ULL;
    h->events = json_array();
    ck_assert_int_eq(conns_init(&h->conns, 4096, h->env.hash_seed), 0);
    ck_assert_msg(HARNESS_DETECTOR.check(&h->rules, &err) == 0, "%s", err.msg);
    h->det = HARNESS_DETECTOR.init(&h->rules, &h->env, &err);
    ck_assert_msg(h->det != NULL, "%s", err.msg);
    ck_assert_msg(ruleset_check_unused(&h->rules, &err) == 0, "%s", err.msg);
}

static inline void stop(struct harness *h)
{
    HARNESS_DETECTOR.free(h->det);
    conns_free(&h->conns);
    ruleset_free(&h->rules);
    netset_free(&h->home);
    json_decref(h->events);
}

static inline struct ipaddr addr(const char *text)
{
    struct ipaddr a;
    ck_assert_int_eq(addr_parse(text, &a), 0);
    return a;
}

static inline struct pkt tcp(uint64_t ts, const char *src, const char *dst, uint16_t sport,
                             uint16_t dport, uint8_t flags, uint32_t payload)
{
    struct pkt p;
    memset(&p, 0, sizeof(p));
    p.ts_us = ts;
    p.src = addr(src);
    p.dst = addr(dst);
    p.ip_version = addr_is_v4(&p.src) ? 4 : 6;
    p.proto = PROTO_TCP;
    p.ttl = 64;
    p.sport = sport;
    p.dport = dport;
    p.tcp_flags = flags;
    p.payload_len = p.payload_wire_len = payload;
    return p;
}

static inline struct pkt udp(uint64_t ts, const char *src, const char *dst, uint16_t sport,
                             uint16_t dport)
{
    struct pkt p = tcp(ts, src, dst, sport, dport, 0, 8);
    p.proto = PROTO_UDP;
    return p;
}

/* ICMP port unreachable from target about scanner's UDP probe to port. */
static inline struct pkt port_unreach(uint64_t ts, const char *target, const char *scanner,
                                      uint16_t sport, uint16_t port)
{
    struct pkt p = tcp(ts, target, scanner, 0, 0, 0, 0);
    p.proto = PROTO_ICMP;
    p.icmp_type = 3;
    p.icmp_code = 3;
    p.has_inner = true;
    p.inner_src = addr(scanner);
    p.inner_dst = addr(target);
    p.inner_proto = PROTO_UDP;
    p.inner_sport = sport;
    p.inner_dport = port;
    return p;
}

static inline void feed(struct harness *h, struct pkt p)
{
    conns_packet(&h->conns, &p);
    HARNESS_DETECTOR.on_packet(h->det, &p);
}

static inline size_t count(struct harness *h, const char *state)
{
    size_t n = 0, i;
    json_t *e;
    json_array_foreach(
        h->events, i,
        e) if (!state || strcmp(json_string_value(json_object_get(e, "state")), state) == 0) n++;
    return n;
}

static inline json_t *event_at(struct harness *h, size_t i)
{
    return json_array_get(h->events, i);
}

static inline const char *str_at(json_t *ev, const char *obj, const char *key)
{
    json_t *o = obj ? json_object_get(ev, obj) : ev;
    return json_string_value(json_object_get(o, key));
}

static inline json_int_t int_at(json_t *ev, const char *obj, const char *key)
{
    return json_integer_value(json_object_get(json_object_get(ev, obj), key));
}

static inline json_int_t stat(struct harness *h, const char *key)
{
    json_t *s = json_object();
    HARNESS_DETECTOR.stats(h->det, s);
    json_int_t v = json_integer_value(json_object_get(s, key));
    json_decref(s);
    return v;
}

#endif
