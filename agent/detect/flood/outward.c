/* outward.c — see outward.h.  Judged on the packets that cross a class's
 * floor (and every 256th after), emitted through finding.h's walk. */
#include "agent/detect/flood/outward.h"

#include <string.h>

#include "agent/detect/detector.h"
#include "agent/detect/flood/flood.h"

_Static_assert(FLOOD_TCP_SYN == 0 && FLOOD_UDP == 2 && FLOOD_ICMP == 3,
               "flood_outward_class returns these classes as numbers");

/* The target must take three quarters of the host's outward packets: the
 * vote's lead is then at least half of them.  Spraying many targets or
 * ports is a sweep or a scan (the scan detector's). */
#define TARGET_LEAD 2
/* UDP: more than this many packets out per UDP packet received, or it is
 * a server answering (or a reflector the host is made into, not a flood
 * it makes). */
#define UDP_UNANSWERED 4

static struct flood_dest *dest_of_item(const struct flood_outward_det *o, void *item)
{
    size_t offset = (size_t)((char *)item - (char *)o->table->dest);
    return &o->table->dest[offset / sizeof(struct flood_dest)];
}

static uint8_t proto_of(int c, const struct ipaddr *target)
{
    if (c == FLOOD_TCP_SYN)
        return PROTO_TCP;
    if (c == FLOOD_UDP)
        return PROTO_UDP;
    return addr_is_v4(target) ? PROTO_ICMP : PROTO_ICMPV6;
}

static void emit(struct flood_outward_det *o, struct flood_dest *d, enum finding_state state,
                 uint64_t now_us)
{
    struct flood_outward *w = &d->out;
    const struct flood_params *p = &o->p[w->cls];
    struct evt ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = p->kind;
    ev.rule = p->rule;
    ev.src = d->addr;
    ev.has_src = true;
    ev.dst = w->target;
    ev.has_dst = true;
    ev.dest_port = w->target_port;
    ev.proto = proto_of(w->cls, &w->target);
    ev.taxonomy = o->malware;
    uint32_t pps = w->sec == now_us / 1000000u ? w->cur[w->cls] : 0;
    ev.evidence =
        json_pack("{s:s, s:s, s:s, s:I, s:I, s:f}", "direction", "outbound", "attack", "dos",
                  "class", flood_class_name((enum flood_class)w->cls), "pps", (json_int_t)pps,
                  "peak_pps", (json_int_t)w->peak_pps, "floor_pps", p->rate_pps);
    ev.counters =
        json_pack("{s:I, s:I}", "packets", (json_int_t)w->pkts, "bytes", (json_int_t)w->bytes);
    w->emitted_pkts = w->pkts;
    finding_fill(&w->life, &ev, state, now_us);
    o->env->emit(o->env->emit_ctx, &ev);
    json_decref(ev.evidence);
    json_decref(ev.counters);
}

/* ---- the open findings, as finding.h's walk sees them --------------------- */

static void *open_next(void *det, void *cursor)
{
    struct flood_outward_det *o = det;
    uint32_t i = cursor ? (uint32_t)(dest_of_item(o, cursor) - o->table->dest) + 1 : 0;
    for (; i < o->table->capacity; i++)
        if (flood_table_used(o->table, i) && finding_is_open(&o->table->dest[i].out.life) &&
            o->p[o->table->dest[i].out.cls].rule)
            return &o->table->dest[i].out;
    return NULL;
}

static struct finding_life *item_life(void *det, void *item)
{
    (void)det;
    return &((struct flood_outward *)item)->life;
}

static const struct rule *item_rule(void *det, void *item)
{
    struct flood_outward_det *o = det;
    return o->p[((struct flood_outward *)item)->cls].rule;
}

static bool item_news(void *det, void *item)
{
    (void)det;
    const struct flood_outward *w = item;
    return w->pkts != w->emitted_pkts;
}

static void item_emit(void *det, void *item, enum finding_state state, uint64_t now_us)
{
    struct flood_outward_det *o = det;
    emit(o, dest_of_item(o, item), state, now_us);
}

static void item_ended(void *det, void *item, uint64_t now_us)
{
    (void)det;
    (void)now_us;
    struct flood_outward *w = item;
    w->pkts = w->bytes = w->emitted_pkts = 0;
    w->peak_pps = 0;
}

void flood_outward_init(struct flood_outward_det *o, struct flood_table *t,
                        const struct flood_params *p, const struct detect_env *env)
{
    memset(o, 0, sizeof(*o));
    o->table = t;
    o->p = p;
    o->env = env;
    o->malware = taxonomy_find("attack.malware");
    o->findings = (struct finding_source){
        .det = o,
        .next = open_next,
        .life = item_life,
        .rule = item_rule,
        .news = item_news,
        .emit = item_emit,
        .ended = item_ended,
        .counts = &o->counts,
    };
}

/* ---- packets ----------------------------------------------------------------- */

static void vote(struct flood_outward *w, int c, const struct pkt *p)
{
    uint16_t port = c == FLOOD_ICMP ? 0 : p->dport;
    if (w->vote > 0 && w->cand_class == c && w->cand_port == port && addr_eq(&w->cand, &p->dst)) {
        w->vote++;
    } else if (w->vote <= 0) {
        w->cand = p->dst;
        w->cand_port = port;
        w->cand_class = (int8_t)c;
        w->vote = 1;
    } else {
        w->vote--;
    }
}

static bool looks_like_flood(const struct flood_outward *w, const struct flood_dest *d, int c,
                             uint32_t n)
{
    if (w->cand_class != c || (uint64_t)w->vote * TARGET_LEAD < n)
        return false;
    uint64_t received = (uint64_t)d->sum.pkts[FLOOD_UDP] + d->sum.pkts[FLOOD_AMPLIFICATION];
    return c != FLOOD_UDP || n > UDP_UNANSWERED * received;
}

void flood_outward_count(struct flood_outward_det *o, struct flood_dest *d, int c,
                         const struct pkt *p)
{
    const struct flood_params *params = &o->p[c];
    if (!params->rule)
        return;
    struct flood_outward *w = &d->out;
    uint64_t sec = p->ts_us / 1000000u;
    if (sec != w->sec) {
        w->sec = sec;
        memset(w->cur, 0, sizeof(w->cur));
        w->vote = 0;
    }
    uint32_t n = ++w->cur[c];
    vote(w, c, p);
    o->packets++;
    if (finding_is_open(&w->life)) {
        if (w->cls != c)
            return;
        w->pkts++;
        w->bytes += p->wirelen;
        if (n > w->peak_pps)
            w->peak_pps = n;
        if (n >= params->rate_pps)
            finding_touch(&w->life, p->ts_us);
        return;
    }
    uint32_t floor = (uint32_t)params->rate_pps;
    if (n < params->rate_pps || (n != floor && (n & 255) != 0) || !looks_like_flood(w, d, c, n))
        return;
    if (params->rule->allow.n && netset_contains(&params->rule->allow, &p->src)) {
        o->allowed++;
        return;
    }
    w->cls = (int8_t)c;
    w->target = w->cand;
    w->target_port = w->cand_port;
    w->pkts = n;
    w->bytes = (uint64_t)n * p->wirelen;
    w->peak_pps = n;
    finding_open(&w->life, sec * 1000000u, p->ts_us);
    finding_source_emit(&o->findings, w, FINDING_NEW, p->ts_us);
}

void flood_outward_end(struct flood_outward_det *o, struct flood_dest *d, uint64_t now_us)
{
    if (finding_is_open(&d->out.life) && o->p[d->out.cls].rule)
        finding_source_emit(&o->findings, &d->out, FINDING_END, now_us);
}

static bool remap(void *det, void *item)
{
    struct flood_outward_det *o = det;
    return o->reload_next[((struct flood_outward *)item)->cls].rule != NULL;
}

void flood_outward_reload(struct flood_outward_det *o, const struct flood_params *next,
                          uint64_t now_us)
{
    o->reload_next = next;
    finding_walk_reload(&o->findings, remap, now_us);
    o->reload_next = NULL;
}

void flood_outward_stats(const struct flood_outward_det *o, json_t *out)
{
    json_t *s = json_object();
    json_object_set_new(s, "packets", json_integer((json_int_t)o->packets));
    json_object_set_new(s, "allowed_findings", json_integer((json_int_t)o->allowed));
    finding_counts_json(&o->counts, s);
    json_object_set_new(out, "outward", s);
}
