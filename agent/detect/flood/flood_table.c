/* flood_table.c — see flood_table.h.  Everything here is allocated once in
 * flood_table_init; counting a packet touches one destination entry, one
 * slot, two HyperLogLogs and two small top-K lists, and never allocates. */
#include "agent/detect/flood/flood_table.h"

#include <stdlib.h>
#include <string.h>

#include "agent/detect/baseline.h"
#include "agent/pkt.h"
#include "common/hash.h"

/* The victim's answer ratio is learned with a one-minute half-life: long
 * enough to ride out a burst, short enough to follow a day's pattern. */
#define ANSWER_ALPHA 0.011486 /* 1 - 2^(-1/60) */
#define ANSWER_MIN_REQUESTS 20

const char *flood_class_name(enum flood_class c)
{
    static const char *const names[FLOOD_CLASS_COUNT] = {
        "tcp_syn", "tcp_other", "udp", "icmp", "fragment", "amplification",
    };
    return c >= 0 && c < FLOOD_CLASS_COUNT ? names[c] : "none";
}

/* ---- the destination table ---------------------------------------------- */

static void class_reset(struct flood_class_state *cs)
{
    struct topk src = cs->top_src, port = cs->top_port;
    memset(cs, 0, sizeof(*cs));
    cs->top_src = src;
    cs->top_port = port;
    topk_reset(&cs->top_src);
    topk_reset(&cs->top_port);
    hll_init_buf(&cs->sources, FLOOD_SOURCES_P, cs->sources_reg);
}

void flood_class_restart(struct flood_class_state *cs, uint64_t now_us)
{
    cs->restart_pending = false;
    cs->acc_first_us = now_us;
    cs->acc_pkts = cs->acc_bytes = 0;
    cs->size_min = cs->size_max = 0;
    memset(cs->size_hist, 0, sizeof(cs->size_hist));
    memset(cs->flags, 0, sizeof(cs->flags));
    memset(cs->ttl_seen, 0, sizeof(cs->ttl_seen));
    cs->run_key = cs->run_pkts = 0;
    cs->martians = 0;
    hll_reset(&cs->sources);
    topk_reset(&cs->top_src);
    topk_reset(&cs->top_port);
    memset(cs->reflected, 0, sizeof(cs->reflected));
    cs->req_pkts = cs->req_bytes = 0;
}

int flood_table_init(struct flood_table *t, uint32_t capacity, uint32_t handshakes, uint32_t top_k,
                     uint64_t seed)
{
    memset(t, 0, sizeof(*t));
    t->n_buckets = (capacity + FLOOD_WAYS - 1) / FLOOD_WAYS;
    if (t->n_buckets == 0)
        t->n_buckets = 1;
    t->capacity = t->n_buckets * FLOOD_WAYS;
    t->top_k = top_k;
    t->seed = seed;
    t->src_h1_v4 = hash_mix64(seed ^ (16 * 0x9e3779b97f4a7c15ULL)) + 0x9e3779b97f4a7c15ULL;
    keyhash_secrets(seed, t->key_seed);
    keyhash_secrets(seed ^ 0x5a17c0de5a17c0deULL, t->flow_seed);
    uint32_t hs = 1;
    while (hs < handshakes && hs < (1u << 24))
        hs <<= 1;
    t->handshake_mask = hs - 1;
    /* Nothing here is written before a destination claims its entry:
     * untouched pages of these fresh allocations cost no memory. */
    t->dest = calloc(t->capacity, sizeof(*t->dest));
    t->tags = calloc(t->capacity, sizeof(*t->tags));
    t->handshakes = calloc(hs, sizeof(*t->handshakes));
    t->top_items = calloc((size_t)t->capacity * FLOOD_CLASS_COUNT * 2 * TOPK_POOL_ITEMS(top_k),
                          sizeof(*t->top_items));
    if (!t->dest || !t->tags || !t->handshakes || !t->top_items)
        goto err;
    return 0;
err:
    flood_table_free(t);
    return -1;
}

void flood_table_free(struct flood_table *t)
{
    free(t->top_items);
    t->top_items = NULL;
    free(t->dest);
    free(t->tags);
    free(t->handshakes);
    t->dest = NULL;
    t->tags = NULL;
    t->handshakes = NULL;
}

uint64_t flood_source_hash(const struct flood_table *t, const struct ipaddr *a)
{
    /* hash_bytes over two words and no tail: h = seed ^ 16 K; per word
     * h = mix(h ^ w) + K; then mix(h). */
    const uint64_t k = 0x9e3779b97f4a7c15ULL;
    uint64_t w[2];
    memcpy(w, a->b, sizeof(w));
    uint64_t h = w[0] == 0 ? t->src_h1_v4 : hash_mix64(t->seed ^ (16 * k) ^ w[0]) + k;
    return hash_mix64(hash_mix64(h ^ w[1]) + k);
}

uint64_t flood_table_hash(const struct flood_table *t, const struct ipaddr *a)
{
    return keyhash16(t->key_seed, a->b);
}

/* Index of the bucket's first entry: the low half of the hash scaled to
 * the bucket count (a multiply, not a division). */
static uint32_t bucket_first(const struct flood_table *t, uint64_t h)
{
    return (uint32_t)(((h & 0xffffffffu) * t->n_buckets) >> 32) * FLOOD_WAYS;
}

static uint32_t tag_of(uint64_t h)
{
    return (uint32_t)(h >> 32) | 1u;
}

struct flood_dest *flood_table_find(struct flood_table *t, const struct ipaddr *a, uint64_t h)
{
    uint32_t first = bucket_first(t, h), tag = tag_of(h);
    for (uint32_t i = first; i < first + FLOOD_WAYS; i++)
        if (t->tags[i] == tag && addr_eq(&t->dest[i].addr, a))
            return t->recent = &t->dest[i];
    return NULL;
}

static bool dest_has_open(const struct flood_dest *d)
{
    for (int c = 0; c < FLOOD_CLASS_COUNT; c++)
        if (finding_is_open(&d->cls[c].life))
            return true;
    return false;
}

struct flood_dest *flood_table_slot_for(struct flood_table *t, uint64_t h, bool *victim)
{
    uint32_t first = bucket_first(t, h);
    struct flood_dest *b = &t->dest[first], *pick = NULL;
    *victim = false;
    for (uint32_t w = 0; w < FLOOD_WAYS; w++)
        if (!flood_table_used(t, first + w))
            return &b[w];
    /* Full: the least recently seen destination goes, one without an open
     * finding if there is one (an attack in progress is worth keeping). */
    for (int w = 0; w < FLOOD_WAYS; w++) {
        if (!pick) {
            pick = &b[w];
            continue;
        }
        bool open_w = dest_has_open(&b[w]), open_p = dest_has_open(pick);
        if ((open_p && !open_w) || (open_p == open_w && b[w].last_us < pick->last_us))
            pick = &b[w];
    }
    *victim = true;
    return pick;
}

void flood_table_claim(struct flood_table *t, struct flood_dest *d, const struct ipaddr *a,
                       uint64_t h, uint64_t now_us)
{
    if (d->used)
        t->evictions++;
    else
        t->in_use++;
    memset(d, 0, sizeof(*d));
    size_t pool = TOPK_POOL_ITEMS(t->top_k);
    struct topk_item *items = t->top_items + (size_t)(d - t->dest) * FLOOD_CLASS_COUNT * 2 * pool;
    for (int c = 0; c < FLOOD_CLASS_COUNT; c++) {
        topk_init_in(&d->cls[c].top_src, items, t->top_k);
        topk_init_in(&d->cls[c].top_port, items + pool, t->top_k);
        items += 2 * pool;
        class_reset(&d->cls[c]);
    }
    d->addr = *a;
    d->used = true;
    t->tags[d - t->dest] = tag_of(h);
    d->last_us = now_us;
    d->slot_abs = now_us / FLOOD_SLOT_US;
    d->slot_i = (uint32_t)(d->slot_abs % FLOOD_SLOTS);
    d->slot_end_us = (d->slot_abs + 1) * FLOOD_SLOT_US;
    d->sec = now_us / 1000000u;
    d->base_answer_ratio = -1;
    t->recent = d;
}

/* ---- windows and baselines ------------------------------------------------ */

static void slot_sub(struct flood_slot *sum, const struct flood_slot *s)
{
    for (int c = 0; c < FLOOD_CLASS_COUNT; c++) {
        sum->pkts[c] -= s->pkts[c];
        sum->bytes[c] -= s->bytes[c];
    }
    sum->requests -= s->requests;
    sum->replies -= s->replies;
    sum->completions -= s->completions;
}

/* A finding counts as still going at time t unless it is past its
 * hold-down: so learning does not depend on when a tick closed it. */
static bool class_active(const struct flood_class_state *cs, const struct flood_learn *l,
                         uint64_t t_us)
{
    return finding_is_open(&cs->life) && t_us < cs->life.last_us + l->hold_down_us;
}

static void close_seconds(struct flood_dest *d, uint64_t new_sec,
                          const struct flood_learn learn[FLOOD_CLASS_COUNT])
{
    uint64_t gap = new_sec - d->sec;
    uint64_t boundary_us = (d->sec + 1) * 1000000u;
    bool any_active = false;
    for (int c = 0; c < FLOOD_CLASS_COUNT; c++)
        any_active |= class_active(&d->cls[c], &learn[c], boundary_us);
    if (!any_active && d->sec_requests >= ANSWER_MIN_REQUESTS) {
        double r = (double)d->sec_replies / d->sec_requests;
        d->base_answer_ratio =
            d->base_answer_ratio < 0
                ? r
                : d->base_answer_ratio + ANSWER_ALPHA * (r - d->base_answer_ratio);
    }
    for (int c = 0; c < FLOOD_CLASS_COUNT; c++) {
        struct flood_class_state *cs = &d->cls[c];
        const struct flood_learn *l = &learn[c];
        cs->history[d->sec % FLOOD_HISTORY_S] = cs->sec_pkts;
        for (uint64_t s = d->sec + 1; s < new_sec && s < d->sec + FLOOD_HISTORY_S; s++)
            cs->history[s % FLOOD_HISTORY_S] = 0;
        bool active = class_active(cs, l, boundary_us);
        if (l->watched && !active) {
            cs->base_pps = baseline_learn(cs->base_pps, (double)cs->sec_pkts, l->alpha, gap);
            cs->base_bps = baseline_learn(cs->base_bps, (double)cs->sec_bytes, l->alpha, gap);
        }
        /* The fingerprint describes the attack, so it restarts while the
         * class is quiet (under half its floor) and does not run on for
         * long before one.  A finding past its hold-down but not yet ended
         * (no tick came) keeps it for its end event and restarts then. */
        /* gap > 1: the seconds in between were empty, hence quiet. */
        bool quiet = !l->watched || (double)cs->sec_pkts < l->rate_pps / 2 || gap > 1 ||
                     boundary_us >= cs->acc_first_us + FLOOD_ACC_MAX_US;
        if (!active && quiet && cs->acc_pkts) {
            if (finding_is_open(&cs->life))
                cs->restart_pending = true;
            else
                flood_class_restart(cs, 0);
        }
        cs->sec_pkts = 0;
        cs->sec_bytes = 0;
    }
    d->sec_requests = d->sec_replies = 0;
    d->sec = new_sec;
}

void flood_dest_advance_slow(struct flood_dest *d, uint64_t now_us,
                             const struct flood_learn learn[FLOOD_CLASS_COUNT])
{
    /* Packet time never goes backwards here (merged captures). */
    if (now_us < d->last_us)
        now_us = d->last_us;
    /* Within the current slot (so within the current second, a whole
     * number of slots): nothing to shift or close. */
    if (now_us < d->slot_end_us) {
        d->last_us = now_us;
        return;
    }
    uint64_t slot = now_us / FLOOD_SLOT_US;
    if (slot > d->slot_abs) {
        uint64_t steps = slot - d->slot_abs;
        if (steps > FLOOD_SLOTS)
            steps = FLOOD_SLOTS;
        for (uint64_t i = 1; i <= steps; i++) {
            struct flood_slot *s = &d->slots[(d->slot_abs + i) % FLOOD_SLOTS];
            slot_sub(&d->sum, s);
            memset(s, 0, sizeof(*s));
        }
        d->slot_abs = slot;
        d->slot_i = (uint32_t)(slot % FLOOD_SLOTS);
        d->slot_end_us = (slot + 1) * FLOOD_SLOT_US;
    }
    uint64_t sec = now_us / 1000000u;
    if (sec > d->sec)
        close_seconds(d, sec, learn);
    d->last_us = now_us;
}

/* ---- counting -------------------------------------------------------------- */

static int size_bucket(uint32_t bytes)
{
    static const uint32_t upper[FLOOD_SIZE_BUCKETS - 1] = {64, 128, 256, 512, 1024, 1500};
    for (int i = 0; i < FLOOD_SIZE_BUCKETS - 1; i++)
        if (bytes < upper[i])
            return i;
    return FLOOD_SIZE_BUCKETS - 1;
}

static int flag_kind(uint8_t f)
{
    f &= TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN | TCP_PSH;
    if (f == TCP_SYN)
        return 0;
    if (f == (TCP_SYN | TCP_ACK))
        return 1;
    if (f == TCP_ACK)
        return 2;
    if (f == (TCP_PSH | TCP_ACK))
        return 3;
    if (f & TCP_RST)
        return 4;
    if (f & TCP_FIN)
        return 5;
    return 6;
}

void flood_reflected_add(struct flood_reflected *r, uint32_t key)
{
    int min = 0;
    for (int i = 0; i < FLOOD_REFLECT_TOP; i++) {
        if (r[i].pkts && r[i].key == key) {
            r[i].pkts++;
            return;
        }
        if (r[i].pkts < r[min].pkts)
            min = i;
    }
    r[min].key = key;
    r[min].pkts++;
}

const struct flood_reflected *flood_reflected_top(const struct flood_class_state *cs)
{
    const struct flood_reflected *best = NULL;
    for (int i = 0; i < FLOOD_REFLECT_TOP; i++)
        if (cs->reflected[i].pkts && (!best || cs->reflected[i].pkts > best->pkts))
            best = &cs->reflected[i];
    return best;
}

uint32_t flood_reflected_key(const struct flood_class_state *cs)
{
    const struct flood_reflected *top = flood_reflected_top(cs);
    return top ? top->key : 0;
}

/* What counting each packet of the run did: the same sums, n at once. */
void flood_class_settle(struct flood_class_state *cs, enum flood_class c)
{
    uint64_t n = cs->run_pkts;
    if (n == 0)
        return;
    uint32_t wire_bytes = (uint32_t)cs->run_key;
    uint8_t tcp_flags = (uint8_t)(cs->run_key >> 32), ttl = (uint8_t)(cs->run_key >> 40);
    /* The run's first packet was the fingerprint's first. */
    if (cs->acc_pkts == n)
        cs->size_min = wire_bytes;
    if (wire_bytes < cs->size_min)
        cs->size_min = wire_bytes;
    if (wire_bytes > cs->size_max)
        cs->size_max = wire_bytes;
    cs->size_hist[size_bucket(wire_bytes)] += n;
    if (c == FLOOD_TCP_SYN || c == FLOOD_TCP_OTHER)
        cs->flags[flag_kind(tcp_flags)] += n;
    cs->ttl_seen[ttl >> 3] |= (uint8_t)(1u << (ttl & 7));
    cs->run_pkts = 0;
}

void flood_dest_request(struct flood_dest *d)
{
    flood_current_slot(d)->requests++;
    d->sum.requests++;
    d->sec_requests++;
}

void flood_dest_reply(struct flood_dest *d)
{
    flood_current_slot(d)->replies++;
    d->sum.replies++;
    d->sec_replies++;
}

void flood_dest_completion(struct flood_dest *d)
{
    flood_current_slot(d)->completions++;
    d->sum.completions++;
}

/* ---- handshakes -------------------------------------------------------------- */

static uint64_t flow_hash(const struct flood_table *t, const struct ipaddr *server, uint16_t sport,
                          const struct ipaddr *client, uint16_t cport)
{
    return keyhash_flow(t->flow_seed, server->b, client->b, (uint32_t)sport << 16 | cport);
}

void flood_handshake_synack(struct flood_table *t, const struct ipaddr *server, uint16_t sport,
                            const struct ipaddr *client, uint16_t cport, uint32_t seq)
{
    uint64_t h = flow_hash(t, server, sport, client, cport);
    struct flood_handshake *e = &t->handshakes[h & t->handshake_mask];
    /* Direct-mapped: a newer SYN-ACK overwrites an older one.  Under a
     * flood that loses completions, which errs towards "half-open" only
     * while the SYN-ACKs themselves outnumber the cache. */
    e->check = (uint32_t)(h >> 32) | 1u;
    e->ack = seq + 1;
}

uint64_t flood_handshake_prefetch(const struct flood_table *t, const struct ipaddr *server,
                                  uint16_t sport, const struct ipaddr *client, uint16_t cport)
{
    uint64_t h = flow_hash(t, server, sport, client, cport);
    __builtin_prefetch(&t->handshakes[h & t->handshake_mask]);
    return h;
}

bool flood_handshake_ack(struct flood_table *t, uint64_t h, uint32_t ack)
{
    struct flood_handshake *e = &t->handshakes[h & t->handshake_mask];
    if (e->check != ((uint32_t)(h >> 32) | 1u) || e->ack != ack)
        return false;
    e->check = 0;
    return true;
}
