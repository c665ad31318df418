/* test_flood.c — the flood detector on hand-built packets: each class over
 * its floor is reported once with the right kind, quiet and busy-but-
 * healthy traffic stays silent, the baseline learns, SYN floods are told
 * from answered handshakes, spoofed and distributed sources are recognised,
 * reflection is measured, the lifecycle runs new/update/end, and the
 * findings do not depend on how packets and ticks are batched.  Severity
 * and class go through the real pipeline (enrich) with an assets file. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/detect/detector.h"
#include "agent/detect/flood/flood_table.h"
#include "agent/pipeline.h"
#include "common/hash.h"
#include "testutil.h"

#define VICTIM "198.51.100.10"
#define ATTACKER "203.0.113.7"
#define SEC 1000000ull
#define T0 (1700000000ull * SEC)

/* Test thresholds: a tenth of the shipped ones, so runs stay small. */
static const char *const RULES =
    "[syn_flood]\ndetector = flood\ntaxonomy = attack.dos\nclass = tcp_syn\nrate = 200/s\n"
    "half_open = 0.7\nbaseline_halflife = 60s\nupdate_interval = 10s\nhold_down = 5s\n"
    "[tcp_flood]\ndetector = flood\ntaxonomy = attack.dos\nclass = tcp_other\nrate = "
    "2000/s\nupdate_interval = 10s\n"
    "hold_down = 5s\n"
    "[udp_flood]\ndetector = flood\ntaxonomy = attack.dos\nclass = udp\nrate = "
    "200/s\nbaseline_halflife = 60s\n"
    "update_interval = 10s\nhold_down = 5s\n"
    "[icmp_flood]\ndetector = flood\ntaxonomy = attack.dos\nclass = icmp\nrate = "
    "200/s\nupdate_interval = 10s\n"
    "hold_down = 5s\n"
    "[fragment_flood]\ndetector = flood\ntaxonomy = attack.dos\nclass = fragment\nrate = 200/s\n"
    "update_interval = 10s\nhold_down = 5s\n"
    "[amplification]\ndetector = flood\ntaxonomy = attack.dos\nclass = amplification\nrate = "
    "100/s\n"
    "amplification = 5\nupdate_interval = 10s\nhold_down = 5s\n";

/* ---- a detector with an emit that records events ---- */

struct seen {
    char kind[32];
    char state[8];
    uint64_t ts_us, first_us, finding;
    bool has_src, impact;
    char src[ADDR_STRLEN], dst[ADDR_STRLEN];
    char taxonomy[32]; /* "" when the rule's */
    json_t *evidence, *counters;
};

struct harness {
    struct ruleset rules;
    struct assets assets;
    struct netset home;
    struct detect_env env;
    void *det;
    struct seen ev[256];
    int n;
    uint64_t next_tick;
    int tick_mode; /* 0: every second of packet time, 1: every packet, 2: never */
};

static void record(void *ctx, struct evt *e)
{
    struct harness *h = ctx;
    ck_assert_int_lt(h->n, 256);
    struct seen *s = &h->ev[h->n++];
    snprintf(s->kind, sizeof(s->kind), "%s", e->kind);
    snprintf(s->state, sizeof(s->state), "%s", finding_state_name(e->state));
    s->ts_us = e->ts_us;
    s->first_us = e->first_seen_us;
    s->finding = e->finding_seq;
    s->has_src = e->has_src;
    s->impact = e->impact;
    if (e->has_src)
        addr_format(&e->src, s->src, sizeof(s->src));
    if (e->has_dst)
        addr_format(&e->dst, s->dst, sizeof(s->dst));
    snprintf(s->taxonomy, sizeof(s->taxonomy), "%s", e->taxonomy ? e->taxonomy->code : "");
    s->evidence = json_deep_copy(e->evidence);
    s->counters = json_deep_copy(e->counters);
}

static void h_start(struct harness *h, const char *rules_text)
{
    struct cfg_err err;
    memset(h, 0, sizeof(*h));
    const char *path = write_temp_file("flood.rules", rules_text ? rules_text : RULES);
    ck_assert_ptr_nonnull(path);
    ck_assert_msg(ruleset_load_file(path, &h->rules, &err) == 0, "%s", err.msg);
    char bad[80];
    ck_assert_int_eq(netset_parse("198.51.100.0/24", &h->home, bad, sizeof(bad)), 0);
    h->env.emit = record;
    h->env.emit_ctx = h;
    h->env.inv.assets = &h->assets;
    h->env.inv.home_net = &h->home;
    h->env.hash_seed = 0x1234567890abcdefULL;
    ck_assert_msg(flood_detector.check(&h->rules, &err) == 0, "%s", err.msg);
    h->det = flood_detector.init(&h->rules, &h->env, &err);
    ck_assert_msg(h->det != NULL, "%s", err.msg);
    ck_assert_msg(ruleset_check_unused(&h->rules, &err) == 0, "%s", err.msg);
}

static void h_stop(struct harness *h)
{
    flood_detector.free(h->det);
    ruleset_free(&h->rules);
    netset_free(&h->home);
    for (int i = 0; i < h->n; i++) {
        json_decref(h->ev[i].evidence);
        json_decref(h->ev[i].counters);
    }
}

/* Feed a packet as the pipeline does: tick first when a second passed. */
static void h_packet(struct harness *h, const struct pkt *p)
{
    if (h->tick_mode == 1 || (h->tick_mode == 0 && p->ts_us >= h->next_tick)) {
        flood_detector.on_tick(h->det, p->ts_us);
        h->next_tick = p->ts_us - p->ts_us % SEC + SEC;
    }
    flood_detector.on_packet(h->det, p);
}

static void h_idle(struct harness *h, uint64_t until_us)
{
    if (h->tick_mode == 2)
        return;
    for (uint64_t t = h->next_tick; t <= until_us; t += SEC)
        flood_detector.on_tick(h->det, t);
    h->next_tick = until_us - until_us % SEC + SEC;
}

static int h_count(const struct harness *h, const char *kind, const char *state)
{
    int n = 0;
    for (int i = 0; i < h->n; i++)
        if ((!kind || strcmp(h->ev[i].kind, kind) == 0) &&
            (!state || strcmp(h->ev[i].state, state) == 0))
            n++;
    return n;
}

static const struct seen *h_first(const struct harness *h, const char *kind, const char *state)
{
    for (int i = 0; i < h->n; i++)
        if (strcmp(h->ev[i].kind, kind) == 0 && strcmp(h->ev[i].state, state) == 0)
            return &h->ev[i];
    return NULL;
}

/* ---- packets ---- */

static struct pkt mk(uint64_t ts, const char *src, const char *dst, uint8_t proto, uint16_t sport,
                     uint16_t dport, uint8_t flags, uint32_t wirelen)
{
    struct pkt p;
    memset(&p, 0, sizeof(p));
    p.ts_us = ts;
    p.ip_version = 4;
    ck_assert_int_eq(addr_parse(src, &p.src), 0);
    ck_assert_int_eq(addr_parse(dst, &p.dst), 0);
    p.proto = proto;
    p.ttl = 64;
    p.sport = sport;
    p.dport = dport;
    p.tcp_flags = flags;
    p.wirelen = p.caplen = wirelen;
    p.ip_len = wirelen > 14 ? wirelen - 14 : wirelen;
    if (proto == PROTO_ICMP)
        p.icmp_type = 8;
    return p;
}

static void v4_of(uint32_t a, char *buf)
{
    snprintf(buf, ADDR_STRLEN, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

/* n packets evenly spread over [from, from + dur). */
#define SPREAD(from, dur, n, i) ((from) + (uint64_t)(i) * (dur) / (n))

/* pps SYNs a second from one attacker to VICTIM:80 for secs seconds. */
static void syn_flood(struct harness *h, uint64_t from, int secs, int pps)
{
    int n = secs * pps;
    for (int i = 0; i < n; i++) {
        struct pkt p = mk(SPREAD(from, (uint64_t)secs * SEC, n, i), ATTACKER, VICTIM, PROTO_TCP,
                          (uint16_t)(1024 + i % 60000), 80, TCP_SYN, 60);
        h_packet(h, &p);
    }
}

/* ---- tests ---- */

START_TEST(syn_flood_reported_once_within_a_second)
{
    struct harness h;
    h_start(&h, NULL);
    uint64_t start = T0 + 500000; /* mid-second */
    syn_flood(&h, start, 5, 2000);
    h_idle(&h, start + 20 * SEC);
    flood_detector.flush(h.det, start + 20 * SEC);
    ck_assert_int_eq(h_count(&h, NULL, "new"), 1);
    const struct seen *s = h_first(&h, "syn_flood", "new");
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_le(s->ts_us - start, SEC);
    ck_assert_str_eq(json_string_value(json_object_get(s->evidence, "attack")), "dos");
    ck_assert(json_is_false(json_object_get(s->evidence, "spoofed")));
    ck_assert(s->has_src);
    ck_assert_str_eq(s->src, ATTACKER);
    ck_assert_double_ge(json_real_value(json_object_get(s->evidence, "half_open_ratio")), 0.99);
    ck_assert_int_eq(h_count(&h, "syn_flood", "end"), 1);
    h_stop(&h);
}
END_TEST

/* Each class over its floor gives its own kind, once. */
START_TEST(each_class_has_its_kind)
{
    static const struct {
        const char *kind;
        uint8_t proto, flags;
        uint16_t sport, dport;
        bool fragment;
    } cases[] = {
        {"syn_flood", PROTO_TCP, TCP_SYN, 4000, 80, false},
        {"tcp_flood", PROTO_TCP, TCP_ACK, 4000, 80, false},
        {"udp_flood", PROTO_UDP, 0, 4000, 80, false},
        {"icmp_flood", PROTO_ICMP, 0, 0, 0, false},
        {"fragment_flood", PROTO_UDP, 0, 0, 0, true},
        {"amplification", PROTO_UDP, 0, 123, 40000, false},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct harness h;
        h_start(&h, NULL);
        int pps = strcmp(cases[k].kind, "tcp_flood") == 0 ? 5000 : 1000;
        for (int i = 0; i < 3 * pps; i++) {
            struct pkt p = mk(SPREAD(T0, 3 * SEC, 3 * pps, i), ATTACKER, VICTIM, cases[k].proto,
                              cases[k].sport, cases[k].dport, cases[k].flags, 200);
            if (cases[k].fragment) {
                p.fragment = p.later_fragment = true;
                p.proto = PROTO_UDP;
            }
            h_packet(&h, &p);
        }
        flood_detector.flush(h.det, T0 + 4 * SEC);
        ck_assert_msg(h_count(&h, NULL, "new") == 1, "%s: %d findings", cases[k].kind,
                      h_count(&h, NULL, "new"));
        ck_assert_msg(h_count(&h, cases[k].kind, "new") == 1, "expected %s, got %s", cases[k].kind,
                      h.ev[0].kind);
        h_stop(&h);
    }
}
END_TEST

START_TEST(below_floor_is_silent)
{
    struct harness h;
    h_start(&h, NULL);
    syn_flood(&h, T0, 20, 150); /* floor is 200/s */
    for (int i = 0; i < 20 * 150; i++) {
        struct pkt p = mk(SPREAD(T0 + 25 * SEC, 20 * SEC, 3000, i), ATTACKER, VICTIM, PROTO_UDP,
                          5000, 53, 0, 90);
        h_packet(&h, &p);
    }
    flood_detector.flush(h.det, T0 + 46 * SEC);
    ck_assert_msg(h.n == 0, "%d events, first %s", h.n, h.n ? h.ev[0].kind : "");
    h_stop(&h);
}
END_TEST

/* UDP from many clients at rate r(t) packets/s for [from, to). */
static uint64_t udp_traffic(struct harness *h, uint64_t from, uint64_t to, double r0, double r1)
{
    uint64_t t = from;
    char src[ADDR_STRLEN];
    uint32_t i = 0;
    while (t < to) {
        double frac = (double)(t - from) / (double)(to - from);
        double r = r0 + (r1 - r0) * frac;
        v4_of(0xcb007100u + (i++ % 200), src); /* 203.0.113.0 + i */
        struct pkt p = mk(t, src, VICTIM, PROTO_UDP, 40353, 5000, 0, 120);
        h_packet(h, &p);
        t += (uint64_t)(1e6 / r);
    }
    return to;
}

START_TEST(baseline_learns_normal_and_catches_a_jump)
{
    struct harness h;
    h_start(&h, NULL);
    /* Two minutes at 150/s (under the 200/s floor), then five minutes
     * climbing to 500/s: over the floor, but the baseline follows. */
    uint64_t t = udp_traffic(&h, T0, T0 + 120 * SEC, 150, 150);
    t = udp_traffic(&h, t, t + 300 * SEC, 150, 500);
    t = udp_traffic(&h, t, t + 60 * SEC, 500, 500);
    ck_assert_int_eq(h.n, 0);
    /* Then ten times that, suddenly. */
    udp_traffic(&h, t, t + 3 * SEC, 5000, 5000);
    ck_assert_int_eq(h_count(&h, "udp_flood", "new"), 1);
    const struct seen *s = h_first(&h, "udp_flood", "new");
    ck_assert_double_ge(json_real_value(json_object_get(s->evidence, "baseline_pps")), 300);
    ck_assert_str_eq(json_string_value(json_object_get(s->evidence, "attack")), "ddos");
    h_stop(&h);

    /* The same 500/s from a cold start, without the history, is a flood:
     * the silence above was the baseline's doing. */
    h_start(&h, NULL);
    udp_traffic(&h, T0, T0 + 10 * SEC, 500, 500);
    ck_assert_int_eq(h_count(&h, "udp_flood", "new"), 1);
    h_stop(&h);
}
END_TEST

/* 1000 connections a second, each SYN answered by a SYN-ACK and (if
 * complete) the client's ACK. */
static void handshakes(struct harness *h, uint64_t from, int secs, int per_s, bool complete)
{
    char src[ADDR_STRLEN];
    int n = secs * per_s;
    for (int i = 0; i < n; i++) {
        uint64_t t = SPREAD(from, (uint64_t)secs * SEC, n, i);
        v4_of(0xcb007114u + (uint32_t)(i % 60), src); /* 60 clients */
        uint16_t cport = (uint16_t)(20000 + i % 30000);
        struct pkt syn = mk(t, src, VICTIM, PROTO_TCP, cport, 80, TCP_SYN, 74);
        syn.tcp_seq = 1000u + (uint32_t)i;
        h_packet(h, &syn);
        struct pkt sa = mk(t + 100, VICTIM, src, PROTO_TCP, 80, cport, TCP_SYN | TCP_ACK, 74);
        sa.tcp_seq = 777000u + (uint32_t)i * 7;
        sa.tcp_ack = syn.tcp_seq + 1;
        h_packet(h, &sa);
        if (complete) {
            struct pkt ack = mk(t + 200, src, VICTIM, PROTO_TCP, cport, 80, TCP_ACK, 66);
            ack.tcp_ack = sa.tcp_seq + 1;
            h_packet(h, &ack);
        }
    }
}

START_TEST(completed_handshakes_are_not_a_syn_flood)
{
    struct harness h;
    h_start(&h, NULL);
    handshakes(&h, T0, 5, 1000, true);
    flood_detector.flush(h.det, T0 + 6 * SEC);
    ck_assert_int_eq(h.n, 0);
    h_stop(&h);

    h_start(&h, NULL);
    handshakes(&h, T0, 5, 1000, false);
    flood_detector.flush(h.det, T0 + 6 * SEC);
    ck_assert_int_eq(h_count(&h, "syn_flood", "new"), 1);
    const struct seen *s = h_first(&h, "syn_flood", "new");
    ck_assert_str_eq(json_string_value(json_object_get(s->evidence, "attack")), "ddos");
    ck_assert(json_is_false(json_object_get(s->evidence, "spoofed")));
    h_stop(&h);
}
END_TEST

START_TEST(spoofed_sources_are_recognised)
{
    struct harness h;
    h_start(&h, NULL);
    uint32_t x = 2463534242u;
    char src[ADDR_STRLEN];
    for (int i = 0; i < 3000; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        v4_of(x, src);
        struct pkt p = mk(SPREAD(T0, 3 * SEC, 3000, i), src, VICTIM, PROTO_TCP, (uint16_t)(x >> 16),
                          80, TCP_SYN, 60);
        h_packet(&h, &p);
    }
    flood_detector.flush(h.det, T0 + 4 * SEC);
    ck_assert_int_eq(h_count(&h, NULL, "new"), 1);
    const struct seen *s = h_first(&h, "syn_flood", "new");
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(json_string_value(json_object_get(s->evidence, "attack")), "ddos");
    ck_assert(json_is_true(json_object_get(s->evidence, "spoofed")));
    ck_assert(!s->has_src);
    ck_assert_int_ge(json_integer_value(json_object_get(s->evidence, "distinct_sources")), 150);
    h_stop(&h);

    /* Fifty real machines at many path lengths: distributed, not forged. */
    h_start(&h, NULL);
    for (int i = 0; i < 3000; i++) {
        v4_of(0xcb007114u + (uint32_t)(i % 50), src);
        struct pkt p = mk(SPREAD(T0, 3 * SEC, 3000, i), src, VICTIM, PROTO_TCP,
                          (uint16_t)(30000 + i), 80, TCP_SYN, 60);
        p.ttl = (uint8_t)(40 + i % 50 % 20);
        h_packet(&h, &p);
    }
    flood_detector.flush(h.det, T0 + 4 * SEC);
    s = h_first(&h, "syn_flood", "new");
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(json_string_value(json_object_get(s->evidence, "attack")), "ddos");
    ck_assert(json_is_false(json_object_get(s->evidence, "spoofed")));
    ck_assert_int_eq(json_integer_value(json_object_get(s->evidence, "distinct_sources")), 50);
    h_stop(&h);
}
END_TEST

/* n DNS answers of resp bytes a second to the victim from 20 resolvers,
 * and (if req) the victim's own queries of req bytes before each. */
static void dns_answers(struct harness *h, int secs, int per_s, uint32_t resp, uint32_t req)
{
    char src[ADDR_STRLEN];
    int n = secs * per_s;
    for (int i = 0; i < n; i++) {
        uint64_t t = SPREAD(T0, (uint64_t)secs * SEC, n, i);
        v4_of(0xcb007132u + (uint32_t)(i % 20), src);
        uint16_t port = (uint16_t)(30000 + i % 20000);
        if (req) {
            struct pkt q = mk(t, VICTIM, src, PROTO_UDP, port, 53, 0, req);
            h_packet(h, &q);
        }
        struct pkt a = mk(t + 50, src, VICTIM, PROTO_UDP, 53, port, 0, resp);
        h_packet(h, &a);
    }
    flood_detector.flush(h->det, T0 + (uint64_t)(secs + 1) * SEC);
}

START_TEST(amplification_names_service_and_ratio)
{
    struct harness h;
    /* Unsolicited big answers: reflection, requests unseen. */
    h_start(&h, NULL);
    dns_answers(&h, 3, 500, 1200, 0);
    ck_assert_int_eq(h_count(&h, NULL, "new"), 1);
    const struct seen *s = h_first(&h, "amplification", "new");
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(json_string_value(json_object_get(s->evidence, "service")), "dns");
    ck_assert_ptr_null(json_object_get(s->evidence, "amplification_ratio"));
    h_stop(&h);

    /* Forged queries visible (60 bytes in, 1200 out): ratio 20. */
    h_start(&h, NULL);
    dns_answers(&h, 3, 500, 1200, 60);
    s = h_first(&h, "amplification", "new");
    ck_assert_ptr_nonnull(s);
    double ratio = json_real_value(json_object_get(s->evidence, "amplification_ratio"));
    ck_assert_double_ge(ratio, 19);
    ck_assert_double_le(ratio, 21);
    h_stop(&h);

    /* A busy resolver getting answers to its own queries: silent. */
    h_start(&h, NULL);
    dns_answers(&h, 3, 500, 200, 80);
    ck_assert_int_eq(h.n, 0);
    h_stop(&h);
}
END_TEST

/* secs seconds of pps SYN|ACKs from n reflectors' port 80 that answer no
 * SYN of the victim (as conns.h marks them), and the victim's RSTs. */
static void synack_reflection(struct harness *h, int secs, int pps, int n)
{
    char src[ADDR_STRLEN];
    int total = secs * pps;
    for (int i = 0; i < total; i++) {
        uint64_t t = SPREAD(T0, (uint64_t)secs * SEC, total, i);
        v4_of(0xc0000200u + (uint32_t)(i % n), src); /* 192.0.2.0 + i */
        struct pkt p =
            mk(t, src, VICTIM, PROTO_TCP, 80, (uint16_t)(1024 + i % 60000), TCP_SYN | TCP_ACK, 60);
        p.conn_checked = true;
        h_packet(h, &p);
        struct pkt r =
            mk(t + 10, VICTIM, src, PROTO_TCP, (uint16_t)(1024 + i % 60000), 80, TCP_RST, 54);
        r.conn_checked = true;
        h_packet(h, &r);
    }
    flood_detector.flush(h->det, T0 + (uint64_t)(secs + 1) * SEC);
}

START_TEST(tcp_reflection_is_amplification)
{
    struct harness h;
    h_start(&h, NULL);
    synack_reflection(&h, 3, 1000, 200);
    ck_assert_int_eq(h_count(&h, NULL, "new"), 1);
    const struct seen *s = h_first(&h, "amplification", "new");
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(json_string_value(json_object_get(s->evidence, "reflection")), "tcp");
    ck_assert_str_eq(json_string_value(json_object_get(s->evidence, "service")), "tcp/80");
    s = h_first(&h, "amplification", "end");
    ck_assert_ptr_nonnull(s);
    json_int_t reflectors = json_integer_value(json_object_get(s->evidence, "reflectors"));
    ck_assert_int_ge(reflectors, 190);
    ck_assert_int_le(reflectors, 210);
    h_stop(&h);

    /* SYN|ACKs of one server, unsolicited as far as the agent saw (the
     * SYNs took another path): no reflection. */
    h_start(&h, NULL);
    synack_reflection(&h, 3, 1000, 1);
    ck_assert_int_eq(h_count(&h, "amplification", NULL), 0);
    h_stop(&h);
}
END_TEST

/* Replies from the services of reflect.c are named; a single OpenVPN
 * server streaming to one client is not reflection. */
START_TEST(reflection_services_are_named)
{
    static const struct {
        uint16_t port;
        const char *name;
    } cases[] = {
        {161, "snmp"},          {500, "isakmp"}, {47808, "bacnet"}, {37810, "dvr_dhcpdiscover"},
        {3702, "ws_discovery"}, {5353, "mdns"},  {69, "tftp"},      {27015, "steam"}};
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        struct harness h;
        h_start(&h, NULL);
        char src[ADDR_STRLEN];
        for (int i = 0; i < 3000; i++) {
            v4_of(0xc0000200u + (uint32_t)(i % 50), src);
            struct pkt p = mk(SPREAD(T0, 3 * SEC, 3000, i), src, VICTIM, PROTO_UDP, cases[k].port,
                              (uint16_t)(30000 + i % 1000), 0, 900);
            h_packet(&h, &p);
        }
        flood_detector.flush(h.det, T0 + 5 * SEC);
        ck_assert_int_eq(h_count(&h, NULL, "new"), 1);
        const struct seen *s = h_first(&h, "amplification", "new");
        ck_assert_msg(s != NULL, "port %u", cases[k].port);
        ck_assert_str_eq(json_string_value(json_object_get(s->evidence, "service")), cases[k].name);
        json_int_t reflectors = json_integer_value(json_object_get(s->evidence, "reflectors"));
        ck_assert_int_ge(reflectors, 47);
        ck_assert_int_le(reflectors, 53);
        h_stop(&h);
    }
    struct harness h;
    h_start(&h, NULL);
    for (int i = 0; i < 3000; i++) {
        struct pkt p =
            mk(SPREAD(T0, 3 * SEC, 3000, i), "192.0.2.99", VICTIM, PROTO_UDP, 1194, 40000, 0, 1400);
        h_packet(&h, &p);
    }
    flood_detector.flush(h.det, T0 + 5 * SEC);
    ck_assert_int_eq(h_count(&h, "amplification", NULL), 0);
    h_stop(&h);
}
END_TEST

/* TFTP answers come from a port of the server's own: DATA of block 1 (a
 * full 512-byte block) is reflected TFTP whatever its ports; later blocks
 * are plain UDP (a download). */
START_TEST(tftp_reflection_known_by_content)
{
    static const uint8_t block1[4] = {0, 3, 0, 1}, block2[4] = {0, 3, 0, 2};
    for (int later = 0; later < 2; later++) {
        struct harness h;
        h_start(&h, NULL);
        char src[ADDR_STRLEN];
        for (int i = 0; i < 1500; i++) {
            v4_of(0xc0000200u + (uint32_t)(i % 20), src);
            struct pkt p = mk(SPREAD(T0, 3 * SEC, 1500, i), src, VICTIM, PROTO_UDP,
                              (uint16_t)(40000 + i % 7000), (uint16_t)(30000 + i % 1000), 0, 558);
            p.payload = later ? block2 : block1;
            p.payload_len = 4;
            p.payload_wire_len = 516;
            h_packet(&h, &p);
        }
        flood_detector.flush(h.det, T0 + 5 * SEC);
        const struct seen *s = h_first(&h, "amplification", "new");
        if (later) {
            ck_assert_ptr_null(s);
        } else {
            ck_assert_ptr_nonnull(s);
            ck_assert_str_eq(json_string_value(json_object_get(s->evidence, "service")), "tftp");
            ck_assert_int_eq(h_count(&h, NULL, "new"), 1);
        }
        h_stop(&h);
    }
}
END_TEST

/* An agency host (inside home_net) sending pps packets a second of a
 * class to one outside target, or spraying ports: roles swapped. */
static void outward(struct harness *h, uint8_t proto, int pps, int secs, bool spray)
{
    int n = pps * secs;
    for (int i = 0; i < n; i++) {
        struct pkt p = mk(SPREAD(T0, (uint64_t)secs * SEC, n, i), VICTIM, ATTACKER, proto,
                          (uint16_t)(20000 + i % 30000), spray ? (uint16_t)(1 + i % 1000) : 80,
                          proto == PROTO_TCP ? TCP_SYN : 0, 60);
        h_packet(h, &p);
    }
    flood_detector.flush(h->det, T0 + (uint64_t)(secs + 2) * SEC);
}

START_TEST(outward_flood_is_malware_of_the_inside_host)
{
    static const uint8_t protos[] = {PROTO_TCP, PROTO_UDP, PROTO_ICMP};
    static const char *const kinds[] = {"syn_flood", "udp_flood", "icmp_flood"};
    for (int k = 0; k < 3; k++) {
        struct harness h;
        h_start(&h, NULL);
        outward(&h, protos[k], 400, 4, false);
        ck_assert_int_eq(h_count(&h, NULL, "new"), 1);
        const struct seen *s = h_first(&h, kinds[k], "new");
        ck_assert_msg(s != NULL, "%s", kinds[k]);
        ck_assert_str_eq(s->taxonomy, "attack.malware");
        ck_assert_str_eq(s->src, VICTIM);
        ck_assert_str_eq(s->dst, ATTACKER);
        ck_assert_str_eq(json_string_value(json_object_get(s->evidence, "direction")), "outbound");
        ck_assert_int_eq(h_count(&h, kinds[k], "end"), 1);
        h_stop(&h);
    }
}
END_TEST

START_TEST(outward_quiet_spray_or_answers_are_no_flood)
{
    struct harness h;
    /* Under the floor. */
    h_start(&h, NULL);
    outward(&h, PROTO_TCP, 150, 4, false);
    ck_assert_int_eq(h_count(&h, NULL, NULL), 0);
    h_stop(&h);
    /* SYNs over many ports: a scan, the portscan detector's. */
    h_start(&h, NULL);
    outward(&h, PROTO_TCP, 400, 4, true);
    ck_assert_int_eq(h_count(&h, NULL, NULL), 0);
    h_stop(&h);
    /* A server answering as many datagrams as it receives: no outward
     * finding. */
    h_start(&h, NULL);
    for (int i = 0; i < 1600; i++) {
        uint64_t t = SPREAD(T0, 4 * SEC, 1600, i);
        struct pkt q = mk(t, ATTACKER, VICTIM, PROTO_UDP, 40000, 5060, 0, 60);
        struct pkt a = mk(t + 10, VICTIM, ATTACKER, PROTO_UDP, 5060, 40000, 0, 60);
        h_packet(&h, &q);
        h_packet(&h, &a);
    }
    flood_detector.flush(h.det, T0 + 6 * SEC);
    /* (the requests themselves are an inbound udp_flood at these rates) */
    for (int i = 0; i < h.n; i++)
        ck_assert_str_ne(h.ev[i].taxonomy, "attack.malware");
    h_stop(&h);
}
END_TEST

/* An inside host's ping flood of an outside target that answers: the
 * echo replies answer its own requests, so the one finding is the
 * outward one.  Echo replies it never asked for (a Smurf reflection) are
 * still an icmp_flood against it. */
START_TEST(echo_replies_to_own_pings_are_no_flood)
{
    struct harness h;
    h_start(&h, NULL);
    for (int i = 0; i < 1600; i++) {
        uint64_t t = SPREAD(T0, 4 * SEC, 1600, i);
        struct pkt q = mk(t, VICTIM, ATTACKER, PROTO_ICMP, 0, 0, 0, 98);
        struct pkt a = mk(t + 300, ATTACKER, VICTIM, PROTO_ICMP, 0, 0, 0, 98);
        a.icmp_type = 0;
        h_packet(&h, &q);
        h_packet(&h, &a);
    }
    flood_detector.flush(h.det, T0 + 6 * SEC);
    ck_assert_int_eq(h_count(&h, NULL, "new"), 1);
    const struct seen *s = h_first(&h, "icmp_flood", "new");
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s->taxonomy, "attack.malware");
    ck_assert_str_eq(s->src, VICTIM);
    h_stop(&h);

    h_start(&h, NULL);
    for (int i = 0; i < 1600; i++) {
        char src[ADDR_STRLEN];
        v4_of(0xCB007100u + (uint32_t)(i % 200), src); /* 203.0.113.0/24 */
        struct pkt a = mk(SPREAD(T0, 4 * SEC, 1600, i), src, VICTIM, PROTO_ICMP, 0, 0, 0, 98);
        a.icmp_type = 0;
        h_packet(&h, &a);
    }
    flood_detector.flush(h.det, T0 + 6 * SEC);
    ck_assert_int_eq(h_count(&h, NULL, "new"), 1);
    s = h_first(&h, "icmp_flood", "new");
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s->dst, VICTIM);
    ck_assert_str_eq(s->taxonomy, "");
    h_stop(&h);
}
END_TEST

START_TEST(lifecycle_new_update_end)
{
    struct harness h;
    h_start(&h, NULL);
    syn_flood(&h, T0, 25, 400);
    h_idle(&h, T0 + 40 * SEC);
    ck_assert_int_eq(h_count(&h, "syn_flood", "new"), 1);
    ck_assert_int_eq(h_count(&h, "syn_flood", "update"), 2);
    ck_assert_int_eq(h_count(&h, "syn_flood", "end"), 1);
    const struct seen *end = h_first(&h, "syn_flood", "end");
    const struct seen *nw = h_first(&h, "syn_flood", "new");
    ck_assert_uint_eq(end->finding, nw->finding);
    /* Ends hold_down (5 s) after the last second over the floor. */
    ck_assert_uint_ge(end->ts_us, T0 + 29 * SEC);
    ck_assert_uint_le(end->ts_us, T0 + 31 * SEC);
    json_int_t packets = json_integer_value(json_object_get(end->counters, "packets"));
    ck_assert_int_ge(packets, 9800);
    ck_assert_int_le(packets, 10000);
    ck_assert_int_ge(json_integer_value(json_object_get(end->counters, "peak_pps")), 390);
    /* Over again later: a second finding. */
    syn_flood(&h, T0 + 60 * SEC, 3, 400);
    flood_detector.flush(h.det, T0 + 70 * SEC);
    ck_assert_int_eq(h_count(&h, "syn_flood", "new"), 2);
    ck_assert_int_eq(h_count(&h, "syn_flood", "end"), 2);
    h_stop(&h);
}
END_TEST

START_TEST(one_source_many_ports_is_a_scan_not_a_flood)
{
    struct harness h;
    h_start(&h, NULL);
    for (int i = 0; i < 3000; i++) {
        struct pkt p = mk(SPREAD(T0, SEC, 3000, i), ATTACKER, VICTIM, PROTO_TCP, 40000,
                          (uint16_t)(1 + i), TCP_SYN, 60);
        h_packet(&h, &p);
    }
    flood_detector.flush(h.det, T0 + 2 * SEC);
    ck_assert_int_eq(h.n, 0);
    h_stop(&h);
}
END_TEST

/* A mixed sequence: browsing, a SYN flood, quiet, a UDP flood, an ICMP
 * flood; fed with ticks every second, every packet, or never. */
static void mixed_run(struct harness *h, int tick_mode)
{
    h_start(h, NULL);
    h->tick_mode = tick_mode;
    char src[ADDR_STRLEN];
    for (int i = 0; i < 60 * 20; i++) { /* 20 pkt/s of browsing for 60 s */
        v4_of(0xcb007146u + (uint32_t)(i % 11), src);
        uint64_t t = SPREAD(T0, 60 * SEC, 1200, i);
        struct pkt p = mk(t, src, VICTIM, PROTO_TCP, 50000, 80, TCP_ACK | TCP_PSH, 300);
        h_packet(h, &p);
        struct pkt r = mk(t + 300, VICTIM, src, PROTO_TCP, 80, 50000, TCP_ACK | TCP_PSH, 1200);
        h_packet(h, &r);
        uint64_t sec = (t - T0) / SEC;
        for (int k = 0; k < 30 && sec >= 5 && sec < 12; k++) { /* SYN flood 600/s */
            struct pkt f =
                mk(t + (uint64_t)k * 1600, ATTACKER, VICTIM, PROTO_TCP, 1234, 80, TCP_SYN, 60);
            h_packet(h, &f);
        }
        for (int k = 0; k < 25 && sec >= 30 && sec < 33; k++) { /* UDP 500/s */
            struct pkt f = mk(t + (uint64_t)k * 1900, ATTACKER, VICTIM, PROTO_UDP, 999, 7, 0, 500);
            h_packet(h, &f);
        }
        for (int k = 0; k < 25 && sec >= 40 && sec < 50; k++) { /* ICMP 500/s */
            struct pkt f =
                mk(t + (uint64_t)k * 1900, "203.0.113.99", VICTIM, PROTO_ICMP, 0, 0, 0, 98);
            h_packet(h, &f);
        }
    }
    flood_detector.flush(h->det, T0 + 61 * SEC);
}

START_TEST(batching_and_ticks_do_not_change_findings)
{
    static struct harness runs[3];
    for (int m = 0; m < 3; m++)
        mixed_run(&runs[m], m);
    ck_assert_int_eq(h_count(&runs[0], NULL, "new"), 3);
    for (int m = 1; m < 3; m++) {
        ck_assert_int_eq(h_count(&runs[m], NULL, "new"), h_count(&runs[0], NULL, "new"));
        ck_assert_int_eq(h_count(&runs[m], NULL, "end"), h_count(&runs[0], NULL, "end"));
        for (int i = 0, j = 0; i < runs[0].n; i++) {
            if (strcmp(runs[0].ev[i].state, "new") != 0)
                continue;
            while (j < runs[m].n && strcmp(runs[m].ev[j].state, "new") != 0)
                j++;
            ck_assert_int_lt(j, runs[m].n);
            ck_assert_str_eq(runs[m].ev[j].kind, runs[0].ev[i].kind);
            ck_assert_uint_eq(runs[m].ev[j].ts_us, runs[0].ev[i].ts_us);
            ck_assert_uint_eq(runs[m].ev[j].first_us, runs[0].ev[i].first_us);
            ck_assert(json_equal(runs[m].ev[j].counters, runs[0].ev[i].counters));
            j++;
        }
    }
    for (int m = 0; m < 3; m++)
        h_stop(&runs[m]);
}
END_TEST

START_TEST(memory_flat_under_a_million_spoofed_sources)
{
    struct harness h;
    h_start(&h, NULL);
    json_t *before = json_object();
    flood_detector.stats(h.det, before);
    /* The loop makes no Check assertion: Check's bookkeeping of each one
     * allocates, and ASan's quarantine would count that as growth. */
    struct pkt p = mk(T0, "192.0.2.1", VICTIM, PROTO_UDP, 1, 80, 0, 60);
    long rss_before = rss_peak_reset();
    ck_assert_msg(rss_before > 0, "cannot read /proc/self/status or reset its VmHWM");
    uint32_t x = 88172645u;
    for (int i = 0; i < 1000000; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        const uint8_t src[4] = {x >> 24, x >> 16, x >> 8, x};
        addr_from_v4(&p.src, src);
        p.sport = (uint16_t)x;
        p.ts_us = SPREAD(T0, 20 * SEC, 1000000, i);
        h_packet(&h, &p);
    }
    flood_detector.flush(h.det, T0 + 21 * SEC);
    /* A byte kept per source would be a megabyte; a table entry, tens. */
    long grew_kib = rss_peak_kib() - rss_before;
    ck_assert_msg(grew_kib < 1024, "resident memory grew by %ld KiB over a million sources",
                  grew_kib);
    json_t *after = json_object();
    flood_detector.stats(h.det, after);
    ck_assert_int_eq(json_integer_value(json_object_get(after, "destinations")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(after, "evictions")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(after, "destinations_capacity")),
                     json_integer_value(json_object_get(before, "destinations_capacity")));
    ck_assert_int_eq(h_count(&h, "udp_flood", "new"), 1);
    const struct seen *s = h_first(&h, "udp_flood", "end");
    ck_assert(json_is_true(json_object_get(s->evidence, "spoofed")));
    json_decref(before);
    json_decref(after);
    h_stop(&h);
}
END_TEST

/* ---- through the pipeline: severity from capacity, impact → class ---- */

static void hook(void *ctx, const struct evt *ev, json_t *json)
{
    (void)ev;
    json_array_append(ctx, json);
}

static const char *ASSETS =
    "[portal]\naddress = 198.51.100.10/32\nname = portal\nowner = test\nlevel = 4\n"
    "capacity_mbps = 100\n";

static json_t *pipeline_run(int flood_pps, bool victim_answers)
{
    struct agent_config cfg;
    struct cfg_err err;
    agent_config_defaults(&cfg);
    snprintf(cfg.name, sizeof(cfg.name), "t");
    const char *rules = write_temp_file("flood.rules", RULES);
    const char *assets = write_temp_file("assets.conf", ASSETS);
    size_t dir_len = (size_t)(strrchr(rules, '/') - rules);
    ck_assert_uint_lt(dir_len, sizeof(cfg.rules_dir));
    memcpy(cfg.rules_dir, rules, dir_len);
    cfg.rules_dir[dir_len] = '\0';
    snprintf(cfg.assets_file, sizeof(cfg.assets_file), "%s", assets);
    struct pipeline *pl = pipeline_new(&cfg, &err);
    ck_assert_msg(pl != NULL, "%s", err.msg);
    json_t *events = json_array();
    pipeline_set_event_hook(pl, hook, events);
    /* 30 s of a healthy exchange (100 requests/s, all answered), then a
     * flood of 1400-byte UDP packets for 3 s. */
    for (int i = 0; i < 3000; i++) {
        uint64_t t = SPREAD(T0, 30 * SEC, 3000, i);
        struct pkt q = mk(t, "203.0.113.70", VICTIM, PROTO_TCP, 40000, 80, TCP_ACK | TCP_PSH, 400);
        pipeline_packet(pl, &q);
        struct pkt a = mk(t + 500, VICTIM, "203.0.113.70", PROTO_TCP, 80, 40000, TCP_ACK, 1400);
        pipeline_packet(pl, &a);
    }
    int n = 3 * flood_pps;
    for (int i = 0; i < n; i++) {
        uint64_t t = SPREAD(T0 + 30 * SEC, 3 * SEC, n, i);
        struct pkt f = mk(t, ATTACKER, VICTIM, PROTO_UDP, 5555, 9, 0, 1400);
        pipeline_packet(pl, &f);
        if (victim_answers) {
            struct pkt r = mk(t + 10, VICTIM, ATTACKER, PROTO_UDP, 9, 5555, 0, 100);
            pipeline_packet(pl, &r);
        }
    }
    pipeline_finish(pl, T0 + 40 * SEC);
    pipeline_free(pl);
    agent_config_free(&cfg);
    return events;
}

static json_t *first_new(json_t *events)
{
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev)
    {
        json_t *c = json_object_get(ev, "canh");
        if (strcmp(json_string_value(json_object_get(c, "state")), "new") == 0)
            return c;
    }
    return NULL;
}

/* Events, other than "end", whose canh.FIELD is value. */
static int count_field(json_t *events, const char *field, const char *value)
{
    size_t i;
    json_t *ev;
    int n = 0;
    json_array_foreach(events, i, ev)
    {
        json_t *c = json_object_get(ev, "canh");
        if (strcmp(json_string_value(json_object_get(c, "state")), "end") != 0 &&
            strcmp(json_string_value(json_object_get(c, field)), value) == 0)
            n++;
    }
    return n;
}

START_TEST(severity_grows_with_capacity_and_impact_makes_serious)
{
    /* 4000 x 1400 B/s = 44.8 Mbit/s of 100: the rule's severity.  The
     * victim answered everything before and nothing of the flood: once the
     * answer ratio has collapsed an update says so, serious_candidate. */
    json_t *ev = pipeline_run(4000, false);
    json_t *c = first_new(ev);
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(json_string_value(json_object_get(c, "kind")), "udp_flood");
    ck_assert_str_eq(json_string_value(json_object_get(c, "severity")), "medium");
    ck_assert(!json_is_true(json_object_get(json_object_get(c, "evidence"), "impact")));
    ck_assert_int_eq(count_field(ev, "class", "serious_candidate"), 1);
    ck_assert_int_eq(count_field(ev, "severity", "high"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(c, "taxonomy"), "code")),
                     "attack.dos");
    json_decref(ev);

    /* 6000/s = 67 Mbit/s: an update raises it to high as soon as the peak
     * passes half the capacity.  The victim answers every packet: normal. */
    ev = pipeline_run(6000, true);
    c = first_new(ev);
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(json_string_value(json_object_get(c, "severity")), "medium");
    ck_assert_int_eq(count_field(ev, "severity", "high"), 1);
    ck_assert_int_eq(count_field(ev, "severity", "critical"), 0);
    ck_assert_int_eq(count_field(ev, "class", "serious_candidate"), 0);
    json_decref(ev);

    /* 9000/s = 100.8 Mbit/s: the link is full. */
    ev = pipeline_run(9000, false);
    ck_assert_int_ge(count_field(ev, "severity", "critical"), 1);
    json_decref(ev);
}
END_TEST

START_TEST(bad_rules_name_file_and_line)
{
    struct ruleset rs = {0};
    struct cfg_err err;
    const char *path = write_temp_file(
        "bad.rules",
        "[x]\ndetector = flood\ntaxonomy = attack.dos\nclass = tcp_syn\nrate = fast\n");
    ck_assert_int_eq(ruleset_load_file(path, &rs, &err), 0);
    ck_assert_int_eq(flood_detector.check(&rs, &err), -1);
    ck_assert_msg(strstr(err.msg, "bad.rules:5") && strstr(err.msg, "rate"), "%s", err.msg);
    ruleset_free(&rs);

    path = write_temp_file("bad2.rules",
                           "[a]\ndetector = flood\ntaxonomy = attack.dos\nclass = udp\n"
                           "[b]\ndetector = flood\ntaxonomy = attack.dos\nclass = udp\n");
    memset(&rs, 0, sizeof(rs));
    ck_assert_int_eq(ruleset_load_file(path, &rs, &err), 0);
    ck_assert_int_eq(flood_detector.check(&rs, &err), -1);
    ck_assert_msg(strstr(err.msg, "bad2.rules:5") && strstr(err.msg, "already"), "%s", err.msg);
    ruleset_free(&rs);

    path = write_temp_file("bad3.rules",
                           "[mystery]\ndetector = flood\ntaxonomy = attack.dos\nrate = 10/s\n");
    memset(&rs, 0, sizeof(rs));
    ck_assert_int_eq(ruleset_load_file(path, &rs, &err), 0);
    ck_assert_int_eq(flood_detector.check(&rs, &err), -1);
    ck_assert_msg(strstr(err.msg, "bad3.rules:1") && strstr(err.msg, "class"), "%s", err.msg);
    ruleset_free(&rs);
}
END_TEST

START_TEST(shipped_rules_load)
{
    struct ruleset rs = {0};
    struct cfg_err err;
    ck_assert_msg(ruleset_load_file(SOURCE_DIR "/rules/flood.rules", &rs, &err) == 0, "%s",
                  err.msg);
    ck_assert_msg(flood_detector.check(&rs, &err) == 0, "%s", err.msg);
    size_t cursor = 0, n = 0;
    while (ruleset_next(&rs, "flood", &cursor))
        n++;
    ck_assert_int_eq(n, 6);
    ck_assert_msg(ruleset_check_unused(&rs, &err) == 0, "%s", err.msg);
    ruleset_free(&rs);
}
END_TEST

/* The distinct-source count a finding reports (and the spoofing verdict
 * drawn from it) is that of hash_bytes: the per-packet source hash, which
 * takes the first round of an IPv4 address from init, must give the same
 * value for IPv4, IPv6 and edge addresses under any seed. */
START_TEST(source_hash_is_hash_bytes)
{
    static const char *const fixed[] = {"0.0.0.0", "255.255.255.255", "203.0.113.7", "::",
                                        "::1",     "2001:db8::1",     "ff02::1",     "::ffff:0:0"};
    uint64_t x = 42;
    for (int s = 0; s < 4; s++) {
        struct flood_table t;
        uint64_t seed = s == 0 ? 0 : hash_mix64(x += 0x9e3779b97f4a7c15ULL);
        ck_assert_int_eq(flood_table_init(&t, 4, 256, 1, seed), 0);
        for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
            struct ipaddr a;
            ck_assert_int_eq(addr_parse(fixed[i], &a), 0);
            ck_assert_uint_eq(flood_source_hash(&t, &a), hash_bytes(a.b, 16, seed));
        }
        for (int i = 0; i < 20000; i++) {
            struct ipaddr a;
            x = hash_mix64(x + 0x9e3779b97f4a7c15ULL);
            if (i % 2) {
                uint8_t v4[4];
                memcpy(v4, &x, 4);
                addr_from_v4(&a, v4);
            } else {
                uint64_t y = hash_mix64(x);
                memcpy(a.b, &x, 8);
                memcpy(a.b + 8, &y, 8);
                if (i % 4 == 0)
                    memset(a.b, 0, 8); /* first word zero, not IPv4-mapped */
            }
            ck_assert_uint_eq(flood_source_hash(&t, &a), hash_bytes(a.b, 16, seed));
        }
        flood_table_free(&t);
    }
}
END_TEST

/* A destination's windows as packets of a merged capture move them, the
 * clock now and then a little behind: the inline step within a slot
 * leaves the entry exactly as the full advance does. */
START_TEST(window_step_within_slot_is_the_full_advance)
{
    struct flood_table t;
    ck_assert_int_eq(flood_table_init(&t, 4, 256, 4, 7), 0);
    struct flood_learn learn[FLOOD_CLASS_COUNT];
    memset(learn, 0, sizeof(learn));
    for (int c = 0; c < FLOOD_CLASS_COUNT; c++) {
        learn[c].watched = true;
        learn[c].rate_pps = 100;
        learn[c].alpha = 0.01;
        learn[c].hold_down_us = 5 * SEC;
    }
    struct ipaddr a;
    ck_assert_int_eq(addr_parse(VICTIM, &a), 0);
    uint64_t h = flood_table_hash(&t, &a);
    bool victim;
    struct flood_dest *d = flood_table_slot_for(&t, h, &victim);
    ck_assert(!victim);
    flood_table_claim(&t, d, &a, h, T0 + 12345);
    struct flood_dest *full = malloc(sizeof(*full));
    ck_assert_ptr_nonnull(full);
    uint64_t now = T0 + 12345, x = 99;
    for (int i = 0; i < 20000; i++) {
        x = hash_mix64(x + 1);
        /* mostly forward within a slot, sometimes back, sometimes on
         * by several slots or seconds */
        uint64_t step = x % 16 == 0 ? x % (3 * SEC) : x % 5000;
        now = x % 7 == 0 && now > T0 + step ? now - step : now + step;
        memcpy(full, d, sizeof(*full));
        flood_dest_advance(d, now, learn);
        flood_dest_advance_slow(full, now, learn);
        ck_assert_msg(memcmp(full, d, sizeof(*full)) == 0, "step %d: entries differ", i);
        if (x % 3 == 0)
            flood_dest_request(d);
    }
    free(full);
    flood_table_free(&t);
}
END_TEST

/* What the fingerprint says about sizes, TCP flags and TTLs, computed
 * packet by packet here; the detector counts runs of alike packets and
 * settles them before it speaks, which must give the same numbers. */
struct fp_expect {
    uint64_t pkts, bytes, size_min, size_max, hist[7], flags[7];
    uint8_t ttl_seen[32];
};

static void fp_expect_add(struct fp_expect *x, uint32_t wire, uint8_t flags, uint8_t ttl)
{
    static const uint32_t upper[6] = {64, 128, 256, 512, 1024, 1500};
    int b = 0;
    while (b < 6 && wire >= upper[b])
        b++;
    x->hist[b]++;
    uint8_t f = flags & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN | TCP_PSH);
    x->flags[f == TCP_SYN ? 0 : (f & TCP_RST) ? 4 : (f & TCP_FIN) ? 5 : 6]++;
    x->ttl_seen[ttl >> 3] |= (uint8_t)(1u << (ttl & 7));
    if (x->pkts == 0 || wire < x->size_min)
        x->size_min = wire;
    if (wire > x->size_max)
        x->size_max = wire;
    x->pkts++;
    x->bytes += wire;
}

static void fp_expect_check(const struct fp_expect *x, json_t *evidence)
{
    static const char *const sizes[7] = {"<64",      "64-127",    "128-255", "256-511",
                                         "512-1023", "1024-1499", ">=1500"};
    static const char *const kinds[7] = {"syn", "syn_ack", "ack", "psh_ack", "rst", "fin", "other"};
    json_t *size = json_object_get(evidence, "packet_size");
    ck_assert_int_eq(json_integer_value(json_object_get(size, "min")), (json_int_t)x->size_min);
    ck_assert_int_eq(json_integer_value(json_object_get(size, "max")), (json_int_t)x->size_max);
    ck_assert_int_eq(json_integer_value(json_object_get(size, "avg")),
                     (json_int_t)(x->bytes / x->pkts));
    json_t *hist = json_object_get(size, "histogram");
    ck_assert_uint_eq(json_object_size(hist),
                      (size_t)(!!x->hist[0] + !!x->hist[1] + !!x->hist[2] + !!x->hist[3] +
                               !!x->hist[4] + !!x->hist[5] + !!x->hist[6]));
    json_t *flags = json_object_get(evidence, "tcp_flags");
    for (int i = 0; i < 7; i++) {
        ck_assert_int_eq(json_integer_value(json_object_get(hist, sizes[i])),
                         (json_int_t)x->hist[i]);
        ck_assert_int_eq(json_integer_value(json_object_get(flags, kinds[i])),
                         (json_int_t)x->flags[i]);
    }
    int ttls = 0;
    for (int i = 0; i < 32; i++)
        ttls += __builtin_popcount(x->ttl_seen[i]);
    ck_assert_int_eq(json_integer_value(json_object_get(evidence, "ttl_values")), ttls);
}

START_TEST(fingerprint_of_alike_runs_is_per_packet)
{
    struct harness h;
    h_start(&h, NULL);
    static const uint32_t wires[] = {60, 1600, 60, 300, 64, 1499, 1500, 63};
    static const uint8_t flag_set[] = {TCP_SYN, TCP_SYN | TCP_URG, TCP_SYN | TCP_RST,
                                       TCP_SYN | TCP_FIN, TCP_SYN | TCP_PSH};
    static const uint8_t ttls[] = {64, 64, 63, 128, 255, 0};
    struct fp_expect at_new, all;
    memset(&all, 0, sizeof(all));
    memset(&at_new, 0, sizeof(at_new));
    uint32_t x = 88172645u;
    int n = 900, i = 0;
    uint32_t wire = 60;
    uint8_t flags = TCP_SYN, ttl = 64;
    while (i < n) {
        /* a run of 1 to 12 alike packets, then something else changes */
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        int run = 1 + (int)(x % 12);
        switch ((x >> 8) % 3) {
        case 0:
            wire = wires[(x >> 12) % 8];
            break;
        case 1:
            flags = flag_set[(x >> 12) % 5];
            break;
        default:
            ttl = ttls[(x >> 12) % 6];
        }
        for (int r = 0; r < run && i < n; r++, i++) {
            struct pkt p = mk(SPREAD(T0, 3 * SEC, n, i), ATTACKER, VICTIM, PROTO_TCP,
                              (uint16_t)(1024 + i), 80, flags, wire);
            p.ttl = ttl;
            int before = h.n;
            h_packet(&h, &p);
            fp_expect_add(&all, wire, flags, ttl);
            if (before == 0 && h.n == 1)
                at_new = all;
        }
    }
    flood_detector.flush(h.det, T0 + 4 * SEC);
    const struct seen *s = h_first(&h, "syn_flood", "new");
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_gt(at_new.pkts, 0);
    ck_assert_uint_lt(at_new.pkts, all.pkts);
    fp_expect_check(&at_new, s->evidence);
    s = h_first(&h, "syn_flood", "end");
    ck_assert_ptr_nonnull(s);
    fp_expect_check(&all, s->evidence);
    h_stop(&h);
}
END_TEST

static Suite *flood_suite(void)
{
    Suite *s = suite_create("flood");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, syn_flood_reported_once_within_a_second);
    tcase_add_test(tc, each_class_has_its_kind);
    tcase_add_test(tc, below_floor_is_silent);
    tcase_add_test(tc, baseline_learns_normal_and_catches_a_jump);
    tcase_add_test(tc, completed_handshakes_are_not_a_syn_flood);
    tcase_add_test(tc, spoofed_sources_are_recognised);
    tcase_add_test(tc, amplification_names_service_and_ratio);
    tcase_add_test(tc, tcp_reflection_is_amplification);
    tcase_add_test(tc, reflection_services_are_named);
    tcase_add_test(tc, tftp_reflection_known_by_content);
    tcase_add_test(tc, echo_replies_to_own_pings_are_no_flood);
    tcase_add_test(tc, outward_flood_is_malware_of_the_inside_host);
    tcase_add_test(tc, outward_quiet_spray_or_answers_are_no_flood);
    tcase_add_test(tc, lifecycle_new_update_end);
    tcase_add_test(tc, one_source_many_ports_is_a_scan_not_a_flood);
    tcase_add_test(tc, batching_and_ticks_do_not_change_findings);
    tcase_add_test(tc, memory_flat_under_a_million_spoofed_sources);
    tcase_add_test(tc, severity_grows_with_capacity_and_impact_makes_serious);
    tcase_add_test(tc, bad_rules_name_file_and_line);
    tcase_add_test(tc, shipped_rules_load);
    tcase_add_test(tc, source_hash_is_hash_bytes);
    tcase_add_test(tc, window_step_within_slot_is_the_full_advance);
    tcase_add_test(tc, fingerprint_of_alike_runs_is_per_packet);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return run_suite(flood_suite());
}
