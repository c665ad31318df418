/* flow.c — see flow.h.  The table is one array of flows, a power-of-two
 * bucket array of indices with chains through a compact link array, a free list
 * of released flows (the rest are set up when first taken), and
 * an LRU list (most recent at the head) that gives both idle expiry and
 * eviction under pressure in O(1) per packet. */
#include "agent/detect/http/flow.h"

#include <stdlib.h>
#include <string.h>

#include "agent/detect/keyhash.h"
#include "agent/detect/table_mem.h"
#include "common/hash.h"

#define NIL UINT32_MAX
#define FLOW_MAX_FLOWS (1u << 22)
#define FLOW_MAX_WINDOW (1u << 20)

/* A handshake waiting for its first data segment (defer_syn). */
struct flow_syn {
    uint32_t check; /* low bits of the flow hash, never 0; 0: empty */
    uint16_t client_port, server_port;
    uint32_t client_isn, server_isn;
    bool server_known;
    uint64_t first_us;
};

/* Bucket chains and the free list, apart from the flows: walking a chain
 * compares a tag per flow in this small array and touches a flow only
 * when its tag matches. */
struct flow_link {
    uint32_t next; /* next flow in the chain or the free list, NIL: none */
    uint32_t tag;  /* high bits of the flow's hash */
};

struct flow_table {
    struct flow_opts opts;
    struct flow_syn *syns; /* defer_syn: bucket_mask + 1 of them */
    struct flow *flows;
    struct flow_link *links; /* one per flow */
    uint8_t *buffers;
    uint8_t *app;
    uint32_t *buckets;
    uint32_t bucket_mask;
    uint32_t free_head;                 /* flows released, taken again first */
    uint32_t fresh;                     /* flows fresh.. were never taken: set up when they are */
    uint64_t key_seed[KEYHASH_SECRETS]; /* of flow keys (keyhash.h), from opts.seed */
    uint32_t lru_head, lru_tail;
    struct flow_stats stats;
};

/* Sequence-space arithmetic (RFC 1982). */
static inline int32_t seq_diff(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b);
}

static void lru_unlink(struct flow_table *t, uint32_t i)
{
    struct flow *f = &t->flows[i];
    if (f->lru_prev != NIL)
        t->flows[f->lru_prev].lru_next = f->lru_next;
    else
        t->lru_head = f->lru_next;
    if (f->lru_next != NIL)
        t->flows[f->lru_next].lru_prev = f->lru_prev;
    else
        t->lru_tail = f->lru_prev;
    f->lru_prev = f->lru_next = NIL;
}

static void lru_push_front(struct flow_table *t, uint32_t i)
{
    struct flow *f = &t->flows[i];
    f->lru_prev = NIL;
    f->lru_next = t->lru_head;
    if (t->lru_head != NIL)
        t->flows[t->lru_head].lru_prev = i;
    t->lru_head = i;
    if (t->lru_tail == NIL)
        t->lru_tail = i;
}

struct flow_table *flow_table_new(const struct flow_opts *opts)
{
    if (opts->max_flows == 0 || opts->max_flows > FLOW_MAX_FLOWS || opts->window_bytes < 64 ||
        opts->window_bytes > FLOW_MAX_WINDOW)
        return NULL;
    struct flow_table *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->opts = *opts;
    keyhash_secrets(opts->seed, t->key_seed);
    uint32_t n = opts->max_flows;
    uint32_t nb = 1;
    while (nb < n)
        nb <<= 1;
    t->bucket_mask = nb - 1;
    /* The flows, their windows and detector state: megabytes written
     * flow by flow, on huge pages (table_mem.h), so that filling the table
     * costs a few page faults, not one per 4 KiB. */
    t->flows = table_mem_alloc((size_t)n * sizeof(*t->flows));
    t->links = calloc(n, sizeof(*t->links));
    t->buffers = table_mem_alloc((size_t)n * 2 * opts->window_bytes);
    t->app = opts->app_size ? table_mem_alloc((size_t)n * opts->app_size) : NULL;
    t->buckets = malloc((size_t)nb * sizeof(*t->buckets));
    t->syns = opts->defer_syn ? calloc(nb, sizeof(*t->syns)) : NULL;
    if (!t->flows || !t->links || !t->buffers || (opts->app_size && !t->app) || !t->buckets ||
        (opts->defer_syn && !t->syns))
        goto err;
    for (uint32_t b = 0; b < nb; b++)
        t->buckets[b] = NIL;
    /* No flow is written before it is first taken (flow_take): a table of
     * thousands costs no page faults at start, and an agent that sees
     * little HTTP never touches most of it. */
    t->free_head = NIL;
    t->fresh = 0;
    t->lru_head = t->lru_tail = NIL;
    return t;
err:
    flow_table_free(t);
    return NULL;
}

void flow_table_free(struct flow_table *t)
{
    if (!t)
        return;
    uint32_t n = t->opts.max_flows;
    table_mem_free(t->flows, (size_t)n * sizeof(*t->flows));
    free(t->links);
    table_mem_free(t->buffers, (size_t)n * 2 * t->opts.window_bytes);
    table_mem_free(t->app, (size_t)n * t->opts.app_size);
    free(t->buckets);
    free(t->syns);
    free(t);
}

static void release(struct flow_table *t, uint32_t i, enum flow_end why, uint64_t now_us)
{
    struct flow *f = &t->flows[i];
    if (t->opts.on_release)
        t->opts.on_release(t->opts.ctx, f, why, now_us);
    switch (why) {
    case FLOW_END_CLOSED:
    case FLOW_END_FLUSH:
        t->stats.closed++;
        break;
    case FLOW_END_IDLE:
        t->stats.evicted_idle++;
        break;
    case FLOW_END_PRESSURE:
        t->stats.evicted_pressure++;
        break;
    }
    /* Unlink from its bucket chain. */
    uint32_t *link = &t->buckets[f->bucket];
    while (*link != NIL && *link != i)
        link = &t->links[*link].next;
    if (*link == i)
        *link = t->links[i].next;
    lru_unlink(t, i);
    uint8_t *b0 = f->half[0].buf, *b1 = f->half[1].buf;
    void *app = f->app;
    memset(f, 0, sizeof(*f));
    f->half[0].buf = b0;
    f->half[1].buf = b1;
    f->app = app;
    if (app)
        memset(app, 0, t->opts.app_clear_size ? t->opts.app_clear_size : t->opts.app_size);
    f->lru_prev = f->lru_next = NIL;
    t->links[i] = (struct flow_link){.next = t->free_head, .tag = 0};
    t->free_head = i;
    t->stats.active--;
}

/* An unused flow: a released one (the last released first), else the
 * next never taken, given its buffers now.  Slots come in the order a
 * free list threaded through every flow at start would give. */
static uint32_t flow_take(struct flow_table *t)
{
    uint32_t i = t->free_head;
    if (i != NIL) {
        t->free_head = t->links[i].next;
        return i;
    }
    i = t->fresh++;
    struct flow *f = &t->flows[i];
    size_t window = t->opts.window_bytes;
    f->half[0].buf = t->buffers + (size_t)i * 2 * window;
    f->half[1].buf = f->half[0].buf + window;
    f->app = t->app ? t->app + (size_t)i * t->opts.app_size : NULL;
    f->lru_prev = f->lru_next = NIL;
    return i;
}

/* defer_syn, no flow yet: keep a SYN's or SYN-ACK's sequence number in
 * the flow's handshake slot and say the packet gets no flow (false), or
 * point *match at the slot of the flow a data segment would create (NULL
 * when the slot holds another handshake or none). */
static bool handshake(struct flow_table *t, const struct pkt *p, bool to_server, bool create,
                      uint64_t h, uint16_t client_port, uint16_t server_port,
                      struct flow_syn **match)
{
    struct flow_syn *s = &t->syns[(uint32_t)(h >> 32) & t->bucket_mask];
    uint32_t check = (uint32_t)h | 1u;
    bool same = s->check == check && s->client_port == client_port && s->server_port == server_port;
    uint8_t flags = p->tcp_flags & (TCP_SYN | TCP_ACK | TCP_RST);
    *match = NULL;
    if (flags & TCP_RST) {
        if (same)
            s->check = 0;
        return false;
    }
    if (flags == TCP_SYN && to_server) {
        if (create && !(same && s->client_isn == p->tcp_seq)) {
            /* A newer handshake takes the slot (a retransmitted SYN keeps
             * it): under a SYN flood the real ones fall back to midstream
             * pickup. */
            *s = (struct flow_syn){.check = check,
                                   .client_port = client_port,
                                   .server_port = server_port,
                                   .client_isn = p->tcp_seq,
                                   .first_us = p->ts_us};
            t->stats.syns_deferred++;
        }
        return false;
    }
    if (flags == (TCP_SYN | TCP_ACK) && !to_server) {
        if (same) {
            s->server_isn = p->tcp_seq;
            s->server_known = true;
        }
        return false;
    }
    if (same)
        *match = s;
    return true;
}

/* The flow of hash h and that key, or NULL. */
static inline struct flow *find(const struct flow_table *t, uint64_t h, const struct ipaddr *client,
                                const struct ipaddr *server, uint16_t client_port,
                                uint16_t server_port)
{
    uint32_t tag = (uint32_t)(h >> 32);
    for (uint32_t i = t->buckets[(uint32_t)h & t->bucket_mask]; i != NIL; i = t->links[i].next) {
        if (t->links[i].tag != tag)
            continue;
        struct flow *f = &t->flows[i];
        if (f->client_port == client_port && f->server_port == server_port &&
            addr_eq(&f->client, client) && addr_eq(&f->server, server))
            return f;
    }
    return NULL;
}

struct flow *flow_lookup(struct flow_table *t, const struct pkt *p, bool to_server, bool create)
{
    const struct ipaddr *client = to_server ? &p->src : &p->dst;
    const struct ipaddr *server = to_server ? &p->dst : &p->src;
    uint16_t client_port = to_server ? p->sport : p->dport;
    uint16_t server_port = to_server ? p->dport : p->sport;
    uint64_t h =
        keyhash_flow(t->key_seed, client->b, server->b, (uint32_t)client_port << 16 | server_port);
    uint32_t b = (uint32_t)h & t->bucket_mask;
    uint32_t tag = (uint32_t)(h >> 32);
    struct flow *found = find(t, h, client, server, client_port, server_port);
    if (found)
        return found;
    struct flow_syn *syn = NULL;
    if (t->syns && !handshake(t, p, to_server, create, h, client_port, server_port, &syn))
        return NULL;
    if (!create)
        return NULL;
    if (t->free_head == NIL && t->fresh == t->opts.max_flows) {
        /* Full: the least recently active flow makes room. */
        release(t, t->lru_tail, FLOW_END_PRESSURE, p->ts_us);
    }
    uint32_t i = flow_take(t);
    struct flow *f = &t->flows[i];
    f->client = *client;
    f->server = *server;
    f->client_port = client_port;
    f->server_port = server_port;
    f->first_us = f->last_us = p->ts_us;
    f->in_use = true;
    f->bucket = b;
    t->links[i] = (struct flow_link){.next = t->buckets[b], .tag = tag};
    t->buckets[b] = i;
    lru_push_front(t, i);
    t->stats.created++;
    t->stats.active++;
    if (syn) {
        f->first_us = syn->first_us;
        f->half[FLOW_TO_SERVER].seq_known = true;
        f->half[FLOW_TO_SERVER].next_seq = syn->client_isn + 1;
        if (syn->server_known) {
            f->half[FLOW_TO_CLIENT].seq_known = true;
            f->half[FLOW_TO_CLIENT].next_seq = syn->server_isn + 1;
        }
        syn->check = 0;
    }
    return f;
}

void flow_prefetch(const struct flow_table *t, const struct pkt *p)
{
    uint64_t h = keyhash_flow(t->key_seed, p->src.b, p->dst.b, (uint32_t)p->sport << 16 | p->dport);
    __builtin_prefetch(&t->buckets[(uint32_t)h & t->bucket_mask]);
    if (t->syns)
        __builtin_prefetch(&t->syns[(uint32_t)(h >> 32) & t->bucket_mask]);
}

struct flow *flow_lookup_syn(struct flow_table *t, const struct pkt *p)
{
    if (!t->syns || (p->tcp_flags & (TCP_SYN | TCP_ACK | TCP_RST)) != TCP_SYN)
        return flow_lookup(t, p, true, true);
    uint64_t h = keyhash_flow(t->key_seed, p->src.b, p->dst.b, (uint32_t)p->sport << 16 | p->dport);
    struct flow *f = find(t, h, &p->src, &p->dst, p->sport, p->dport);
    if (f)
        return f;
    /* handshake() for a SYN to the server: a newer handshake takes the
     * slot, a retransmitted SYN keeps it. */
    struct flow_syn *s = &t->syns[(uint32_t)(h >> 32) & t->bucket_mask];
    uint32_t check = (uint32_t)h | 1u;
    if (s->check == check && s->client_port == p->sport && s->server_port == p->dport &&
        s->client_isn == p->tcp_seq)
        return NULL;
    *s = (struct flow_syn){.check = check,
                           .client_port = p->sport,
                           .server_port = p->dport,
                           .client_isn = p->tcp_seq,
                           .first_us = p->ts_us};
    t->stats.syns_deferred++;
    return NULL;
}

static void merge_holes(struct flow_half *h)
{
    bool changed = true;
    while (changed) {
        changed = false;
        for (uint32_t r = 0; r < h->n_ooo; r++) {
            if (seq_diff(h->ooo[r].start, h->next_seq) > 0)
                continue;
            int32_t adv = seq_diff(h->ooo[r].end, h->next_seq);
            if (adv > 0) {
                h->fill += (uint32_t)adv;
                h->next_seq = h->ooo[r].end;
                h->delivered += (uint32_t)adv;
            }
            h->ooo[r] = h->ooo[--h->n_ooo];
            changed = true;
            break;
        }
    }
}

/* Remember an early piece [start, end); false when there is no room. */
static bool add_hole(struct flow_half *h, uint32_t start, uint32_t end)
{
    for (uint32_t r = 0; r < h->n_ooo;) {
        struct flow_range *o = &h->ooo[r];
        if (seq_diff(start, o->end) <= 0 && seq_diff(o->start, end) <= 0) {
            if (seq_diff(o->start, start) < 0)
                start = o->start;
            if (seq_diff(o->end, end) > 0)
                end = o->end;
            *o = h->ooo[--h->n_ooo];
            continue;
        }
        r++;
    }
    if (h->n_ooo >= FLOW_MAX_HOLES)
        return false;
    h->ooo[h->n_ooo++] = (struct flow_range){start, end};
    return true;
}

uint32_t flow_segment(struct flow_table *t, struct flow *f, const struct pkt *p, bool to_server)
{
    struct flow_half *h = &f->half[to_server ? FLOW_TO_SERVER : FLOW_TO_CLIENT];
    uint32_t i = (uint32_t)(f - t->flows);
    if (p->ts_us > f->last_us)
        f->last_us = p->ts_us;
    lru_unlink(t, i);
    lru_push_front(t, i);
    t->stats.segments++;

    if (p->tcp_flags & TCP_RST) {
        f->reset = true;
        return 0;
    }
    if (h->dead)
        return 0;
    if (p->tcp_flags & TCP_SYN) {
        if (!h->seq_known) {
            h->next_seq = p->tcp_seq + 1;
            h->seq_known = true;
        }
        return h->fill; /* data on a SYN (TFO) is not followed */
    }
    uint32_t seq = p->tcp_seq;
    uint32_t n = p->payload_len;
    const uint8_t *data = p->payload;
    if (!h->seq_known) {
        if (n == 0 && !(p->tcp_flags & TCP_FIN))
            return 0;
        h->next_seq = seq;
        h->seq_known = true;
        f->midstream = true;
    }
    if (p->payload_len < p->payload_wire_len) {
        /* Cut by the snaplen: the stream has a hole we cannot fill. */
        t->stats.truncated++;
        h->dead = true;
        return 0;
    }
    if (p->tcp_flags & TCP_FIN) {
        h->fin_seen = true;
        h->fin_seq = seq + n;
    }
    if (n > 0) {
        int32_t rel = seq_diff(seq, h->next_seq);
        if ((int64_t)rel + n <= 0) {
            t->stats.retransmitted++;
            n = 0;
        } else if (rel < 0) {
            /* Partly old: keep the new tail. */
            t->stats.retransmitted++;
            data += (uint32_t)-rel;
            n -= (uint32_t)-rel;
            seq = h->next_seq;
            rel = 0;
        }
        if (n > 0) {
            uint64_t pos = (uint64_t)h->fill + (uint64_t)rel;
            if (pos + n > t->opts.window_bytes) {
                if (rel == 0)
                    t->stats.overflows++;
                else
                    t->stats.gaps++;
                h->dead = true;
                return 0;
            }
            memcpy(h->buf + pos, data, n);
            if (rel == 0) {
                h->fill += n;
                h->next_seq += n;
                h->delivered += n;
                merge_holes(h);
            } else {
                t->stats.out_of_order++;
                if (!add_hole(h, seq, seq + n)) {
                    t->stats.gaps++;
                    h->dead = true;
                    return 0;
                }
            }
        }
    }
    if (h->fin_seen && h->next_seq == h->fin_seq)
        h->finished = true;
    return h->fill;
}

void flow_consume(struct flow *f, enum flow_side side, uint32_t n)
{
    struct flow_half *h = &f->half[side];
    if (n > h->fill)
        n = h->fill;
    uint32_t used = h->fill;
    for (uint32_t r = 0; r < h->n_ooo; r++) {
        uint32_t end = h->fill + (uint32_t)seq_diff(h->ooo[r].end, h->next_seq);
        if (end > used)
            used = end;
    }
    memmove(h->buf, h->buf + n, used - n);
    h->fill -= n;
}

void flow_kill_side(struct flow *f, enum flow_side side)
{
    f->half[side].dead = true;
    f->half[side].fill = 0;
    f->half[side].n_ooo = 0;
}

bool flow_is_closed(const struct flow *f)
{
    return f->reset || (f->half[0].fin_seen && f->half[1].fin_seen);
}

void flow_close(struct flow_table *t, struct flow *f, uint64_t now_us)
{
    if (f->in_use)
        release(t, (uint32_t)(f - t->flows), FLOW_END_CLOSED, now_us);
}

void flow_expire(struct flow_table *t, uint64_t now_us)
{
    while (t->lru_tail != NIL) {
        struct flow *f = &t->flows[t->lru_tail];
        if (f->last_us + t->opts.idle_timeout_us > now_us)
            break;
        release(t, t->lru_tail, FLOW_END_IDLE, now_us);
    }
}

void flow_flush(struct flow_table *t, uint64_t now_us)
{
    while (t->lru_tail != NIL)
        release(t, t->lru_tail, FLOW_END_FLUSH, now_us);
}

const struct flow_stats *flow_table_stats(const struct flow_table *t)
{
    return &t->stats;
}
uint32_t flow_table_capacity(const struct flow_table *t)
{
    return t->opts.max_flows;
}
