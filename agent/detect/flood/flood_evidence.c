/* flood_evidence.c — what a flood finding says: one attacker or many,
 * forged sources or real ones, whether the victim still answers, and the
 * attack's fingerprint (rates, protocol mix, top sources and ports, TCP
 * flags, packet sizes, start and duration).  Runs only when a finding is
 * emitted, never per packet. */
#include "agent/detect/flood/flood.h"
#include "agent/detect/flood/reflect.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Enough packets for a distinct-per-packet ratio to mean something. */
#define SPOOF_MIN_PACKETS 64
/* A random 32-bit source is a martian one time in eight; real traffic
 * almost never.  Half a percent leaves room for stray packets. */
#define SPOOF_MARTIAN_SHARE 0.005
/* The answer ratio needs this many requests in its one-second window. */
#define ANSWER_MIN_REQUESTS 20
#define TOP_SHOWN 5

double flood_top_share(const struct topk *t, uint64_t total, struct topk_item *top)
{
    struct topk_item items[1];
    if (total == 0 || topk_sorted(t, items, 1) == 0)
        return 0;
    if (top)
        *top = items[0];
    uint64_t sure = items[0].count > items[0].error ? items[0].count - items[0].error : 0;
    return (double)sure / (double)total;
}

double flood_half_open(const struct flood_dest *d)
{
    uint32_t syns = d->sum.pkts[FLOOD_TCP_SYN];
    if (syns == 0)
        return 0;
    double done = (double)d->sum.completions / syns;
    return done >= 1 ? 0 : 1 - done;
}

static int popcount_bytes(const uint8_t *b, size_t n)
{
    int c = 0;
    for (size_t i = 0; i < n; i++)
        c += __builtin_popcount(b[i]);
    return c;
}

bool flood_answers_collapsed(const struct flood_dest *d, const struct flood_params *p)
{
    if (d->sum.requests < ANSWER_MIN_REQUESTS)
        return false;
    /* Without a learned normal, a healthy server answers about one packet
     * per packet received. */
    double normal = d->base_answer_ratio >= 0 ? d->base_answer_ratio : 1.0;
    return (double)d->sum.replies < p->impact_answer_ratio * normal * (double)d->sum.requests;
}

void flood_view_compute(const struct flood_dest *d, enum flood_class c,
                        const struct flood_params *p, struct flood_view *v)
{
    const struct flood_class_state *cs = &d->cls[c];
    struct topk_item top;
    memset(v, 0, sizeof(*v));
    v->top_src_share = flood_top_share(&cs->top_src, cs->acc_pkts, &top);
    if (v->top_src_share > 0) {
        memcpy(v->top_src.b, top.key, 16);
        v->has_src = true;
    }
    v->top_port_share = flood_top_share(&cs->top_port, cs->acc_pkts, &top);
    if (v->top_port_share > 0) {
        v->top_port = (uint16_t)(top.key[0] << 8 | top.key[1]);
        v->has_port = true;
    }
    v->dos = v->top_src_share >= p->dos_share;
    v->distinct_sources = hll_estimate(&cs->sources);
    v->distinct_ratio = cs->acc_pkts ? v->distinct_sources / (double)cs->acc_pkts : 0;
    v->martian_share = cs->acc_pkts ? (double)cs->martians / (double)cs->acc_pkts : 0;
    v->ttl_values = popcount_bytes(cs->ttl_seen, sizeof(cs->ttl_seen));
    /* Forged at random: nearly every packet from a new address, and either
     * addresses no host can have or the few TTLs of one sending machine
     * (a real botnet's packets arrive over many path lengths). */
    v->spoofed =
        cs->acc_pkts >= SPOOF_MIN_PACKETS && v->distinct_ratio >= p->spoof_distinct_ratio &&
        (v->martian_share >= SPOOF_MARTIAN_SHARE || (uint64_t)v->ttl_values <= p->spoof_max_ttls);
    v->half_open = flood_half_open(d);
    if (d->sum.requests >= ANSWER_MIN_REQUESTS) {
        v->answers_known = true;
        v->answer_ratio = (double)d->sum.replies / d->sum.requests;
        v->impact = flood_answers_collapsed(d, p);
    }
}

/* Sources that certainly sent at least 1% of the packets: the space-saving
 * count minus its error.  Under random spoofing no source qualifies and the
 * list is honestly empty rather than full of inherited counts. */
static json_t *top_sources_json(const struct topk *t, uint64_t total)
{
    struct topk_item items[TOP_SHOWN];
    uint32_t n = topk_sorted(t, items, TOP_SHOWN);
    json_t *a = json_array();
    for (uint32_t i = 0; i < n; i++) {
        uint64_t sure = items[i].count > items[i].error ? items[i].count - items[i].error : 0;
        if (sure == 0 || sure * 100 < total)
            continue;
        struct ipaddr addr;
        char buf[ADDR_STRLEN];
        memcpy(addr.b, items[i].key, 16);
        json_array_append_new(
            a, json_pack("{s:s,s:I,s:I}", "ip", addr_format(&addr, buf, sizeof(buf)), "packets",
                         (json_int_t)items[i].count, "error", (json_int_t)items[i].error));
    }
    return a;
}

/* Ports, with the same rule as sources. */
static json_t *top_ports_json(const struct topk *t, uint64_t total)
{
    struct topk_item items[TOP_SHOWN];
    uint32_t n = topk_sorted(t, items, TOP_SHOWN);
    json_t *a = json_array();
    for (uint32_t i = 0; i < n; i++) {
        uint64_t sure = items[i].count > items[i].error ? items[i].count - items[i].error : 0;
        if (sure == 0 || sure * 100 < total)
            continue;
        json_array_append_new(a,
                              json_pack("{s:i,s:I}", "port", items[i].key[0] << 8 | items[i].key[1],
                                        "packets", (json_int_t)items[i].count));
    }
    return a;
}

static json_t *size_json(const struct flood_class_state *cs)
{
    static const char *const names[FLOOD_SIZE_BUCKETS] = {
        "<64", "64-127", "128-255", "256-511", "512-1023", "1024-1499", ">=1500"};
    json_t *hist = json_object();
    for (int i = 0; i < FLOOD_SIZE_BUCKETS; i++)
        if (cs->size_hist[i])
            json_object_set_new(hist, names[i], json_integer((json_int_t)cs->size_hist[i]));
    return json_pack("{s:i,s:i,s:i,s:o}", "min", (int)cs->size_min, "avg",
                     (int)(cs->acc_pkts ? cs->acc_bytes / cs->acc_pkts : 0), "max",
                     (int)cs->size_max, "histogram", hist);
}

static json_t *flags_json(const struct flood_class_state *cs)
{
    static const char *const names[FLOOD_FLAG_KINDS] = {"syn", "syn_ack", "ack",  "psh_ack",
                                                        "rst", "fin",     "other"};
    json_t *o = json_object();
    for (int i = 0; i < FLOOD_FLAG_KINDS; i++)
        if (cs->flags[i])
            json_object_set_new(o, names[i], json_integer((json_int_t)cs->flags[i]));
    return o;
}

static double round2(double x)
{
    return round(x * 100) / 100;
}

json_t *flood_evidence(const struct flood_dest *d, enum flood_class c, const struct flood_params *p,
                       const struct flood_view *v, double capacity_share, uint64_t now_us)
{
    const struct flood_class_state *cs = &d->cls[c];
    json_t *e = json_object();
    json_object_set_new(e, "class", json_string(flood_class_name(c)));
    json_object_set_new(e, "attack", json_string(v->dos ? "dos" : "ddos"));
    json_object_set_new(e, "spoofed", json_boolean(v->spoofed || cs->spoofed));
    json_object_set_new(e, "pps", json_integer(d->sum.pkts[c]));
    json_object_set_new(e, "bps", json_integer((json_int_t)(d->sum.bytes[c] * 8)));
    json_object_set_new(e, "peak_pps", json_integer((json_int_t)cs->peak_pps));
    json_object_set_new(e, "peak_bps", json_integer((json_int_t)(cs->peak_bytes_per_s * 8)));
    json_object_set_new(e, "baseline_pps", json_real(round2(cs->base_pps)));
    json_object_set_new(e, "floor_pps", json_real(p->rate_pps));
    /* Packets per second over the last seconds, oldest first, the current
     * (partial) second last. */
    json_t *hist = json_array();
    for (uint64_t back = FLOOD_HISTORY_S - 1; back >= 1; back--)
        if (d->sec >= back)
            json_array_append_new(hist,
                                  json_integer(cs->history[(d->sec - back) % FLOOD_HISTORY_S]));
    json_array_append_new(hist, json_integer(cs->sec_pkts));
    json_object_set_new(e, "pps_history", hist);
    json_t *mix = json_object();
    for (int k = 0; k < FLOOD_CLASS_COUNT; k++)
        if (d->sum.pkts[k])
            json_object_set_new(mix, flood_class_name((enum flood_class)k),
                                json_integer(d->sum.pkts[k]));
    json_object_set_new(e, "protocol_mix_pps", mix);
    json_object_set_new(e, "distinct_sources",
                        json_integer((json_int_t)llround(v->distinct_sources)));
    json_object_set_new(e, "distinct_per_packet", json_real(round2(v->distinct_ratio)));
    json_object_set_new(e, "top_source_share", json_real(round2(v->top_src_share)));
    json_object_set_new(e, "ttl_values", json_integer(v->ttl_values));
    json_object_set_new(e, "martian_sources", json_integer((json_int_t)cs->martians));
    json_object_set_new(e, "top_sources", top_sources_json(&cs->top_src, cs->acc_pkts));
    if (c != FLOOD_ICMP && c != FLOOD_FRAGMENT)
        json_object_set_new(e, "top_dest_ports", top_ports_json(&cs->top_port, cs->acc_pkts));
    if (c == FLOOD_TCP_SYN || c == FLOOD_TCP_OTHER)
        json_object_set_new(e, "tcp_flags", flags_json(cs));
    if (c == FLOOD_TCP_SYN) {
        json_object_set_new(e, "half_open_ratio", json_real(round2(v->half_open)));
        json_object_set_new(e, "handshakes_completed", json_integer(d->sum.completions));
    }
    json_object_set_new(e, "packet_size", size_json(cs));
    if (v->answers_known)
        json_object_set_new(e, "answer_ratio", json_real(round2(v->answer_ratio)));
    if (d->base_answer_ratio >= 0)
        json_object_set_new(e, "baseline_answer_ratio", json_real(round2(d->base_answer_ratio)));
    if (c == FLOOD_AMPLIFICATION) {
        const struct flood_reflected *top = flood_reflected_top(cs);
        if (top && (top->key & REFLECT_KEY_TCP)) {
            char name[16];
            uint16_t port = (uint16_t)top->key;
            snprintf(name, sizeof(name), "tcp/%u", (unsigned)port);
            json_object_set_new(e, "reflection", json_string("tcp"));
            json_object_set_new(e, "service", json_string(name));
            json_object_set_new(e, "service_port", json_integer(port));
        } else if (top) {
            const struct reflect_service *svc = &reflect_services[top->key];
            json_object_set_new(e, "reflection", json_string("udp"));
            json_object_set_new(e, "service", json_string(svc->name));
            json_object_set_new(e, "service_port", json_integer(svc->port));
        }
        json_object_set_new(e, "reflectors",
                            json_integer((json_int_t)llround(v->distinct_sources)));
        json_object_set_new(e, "requests_seen", json_integer((json_int_t)cs->req_pkts));
        if (cs->req_bytes)
            json_object_set_new(e, "amplification_ratio",
                                json_real(round2((double)cs->acc_bytes / (double)cs->req_bytes)));
    }
    if (capacity_share >= 0)
        json_object_set_new(e, "capacity_share", json_real(round2(capacity_share)));
    uint64_t first = cs->life.first_us ? cs->life.first_us : cs->acc_first_us;
    json_object_set_new(e, "duration_s",
                        json_real(round2(now_us > first ? (double)(now_us - first) / 1e6 : 0)));
    return e;
}

json_t *flood_counters(const struct flood_dest *d, enum flood_class c)
{
    const struct flood_class_state *cs = &d->cls[c];
    return json_pack("{s:I,s:I,s:I,s:I}", "packets", (json_int_t)cs->f_pkts, "bytes",
                     (json_int_t)cs->f_bytes, "peak_pps", (json_int_t)cs->peak_pps, "peak_bps",
                     (json_int_t)(cs->peak_bytes_per_s * 8));
}
