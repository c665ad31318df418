/* auth_table.c — the auth detector's two tables, allocated once at init:
 * clients keyed by (client, server, service) and targets keyed by
 * (server, service).  A key hashes (with the secret seed) to four places;
 * a new key takes a free one, else the least recently active without an
 * open finding; when all four hold open findings nothing is created and
 * the caller counts it.  No allocation after init.
 */
#include <stdlib.h>
#include <string.h>

#include "agent/detect/auth/auth_internal.h"
#include "common/hash.h"

#define PROBES 4

int auth_table_init(struct auth_table *t, uint64_t max_clients, uint64_t max_targets, uint64_t seed)
{
    memset(t, 0, sizeof(*t));
    t->n_clients = (uint32_t)max_clients;
    t->n_targets = (uint32_t)max_targets;
    t->seed = seed;
    t->clients = calloc(t->n_clients, sizeof(*t->clients));
    t->targets = calloc(t->n_targets, sizeof(*t->targets));
    t->clients_open = calloc((t->n_clients + 63) / 64, sizeof(uint64_t));
    t->targets_open = calloc((t->n_targets + 63) / 64, sizeof(uint64_t));
    if (!t->clients || !t->targets || !t->clients_open || !t->targets_open) {
        auth_table_free(t);
        return -1;
    }
    return 0;
}

void auth_table_free(struct auth_table *t)
{
    free(t->clients);
    free(t->targets);
    free(t->clients_open);
    free(t->targets_open);
    t->clients = NULL;
    t->targets = NULL;
    t->clients_open = t->targets_open = NULL;
}

void auth_table_clear(struct auth_table *t)
{
    memset(t->clients, 0, t->n_clients * sizeof(*t->clients));
    memset(t->targets, 0, t->n_targets * sizeof(*t->targets));
    memset(t->clients_open, 0, (t->n_clients + 63) / 64 * sizeof(uint64_t));
    memset(t->targets_open, 0, (t->n_targets + 63) / 64 * sizeof(uint64_t));
    t->clients_used = t->targets_used = 0;
}

void auth_table_mark_open(struct auth_table *t, bool targets, uint32_t i)
{
    uint64_t *bits = targets ? t->targets_open : t->clients_open;
    bits[i / 64] |= 1ull << (i % 64);
}

uint32_t auth_table_next_open(struct auth_table *t, bool targets, uint32_t i)
{
    uint64_t *bits = targets ? t->targets_open : t->clients_open;
    uint32_t n = targets ? t->n_targets : t->n_clients;
    while (i < n) {
        uint64_t w = bits[i / 64] >> (i % 64);
        if (!w) {
            i = (i / 64 + 1) * 64;
            continue;
        }
        i += (uint32_t)__builtin_ctzll(w);
        const struct finding_life *life =
            targets ? &t->targets[i].lifecycle.life : &t->clients[i].lifecycle.life;
        if (finding_is_open(life))
            return i;
        bits[i / 64] &= ~(1ull << (i % 64));
        i++;
    }
    return n;
}

static uint64_t key_hash(uint64_t seed, const struct ipaddr *a, const struct ipaddr *b,
                         uint8_t service)
{
    uint64_t h = hash_bytes(a->b, 16, seed ^ service);
    return b ? hash_bytes(b->b, 16, h) : h;
}

struct auth_client *auth_client_get(struct auth_table *t, const struct ipaddr *client,
                                    const struct ipaddr *server, uint8_t service, bool create,
                                    uint64_t now_us)
{
    uint64_t h = key_hash(t->seed, client, server, service);
    struct auth_client *victim = NULL;
    for (uint32_t i = 0; i < PROBES; i++) {
        struct auth_client *c = &t->clients[(h + i) % t->n_clients];
        if (c->used && c->service == service && !memcmp(&c->client, client, sizeof(*client)) &&
            !memcmp(&c->server, server, sizeof(*server)))
            return c;
        if (finding_is_open(&c->lifecycle.life))
            continue;
        if (!victim || !c->used || (victim->used && c->lru_us < victim->lru_us))
            victim = c;
    }
    if (!create)
        return NULL;
    if (!victim) {
        t->not_followed++; /* every place holds an open finding */
        return NULL;
    }
    if (victim->used)
        t->clients_evicted++;
    else
        t->clients_used++;
    memset(victim, 0, sizeof(*victim));
    victim->used = true;
    victim->service = service;
    victim->client = *client;
    victim->server = *server;
    victim->lru_us = now_us;
    return victim;
}

struct auth_target *auth_target_get(struct auth_table *t, const struct ipaddr *server,
                                    uint8_t service, bool create, uint64_t now_us)
{
    uint64_t h = key_hash(t->seed, server, NULL, service);
    struct auth_target *victim = NULL;
    for (uint32_t i = 0; i < PROBES; i++) {
        struct auth_target *g = &t->targets[(h + i) % t->n_targets];
        if (g->used && g->service == service && !memcmp(&g->server, server, sizeof(*server)))
            return g;
        if (finding_is_open(&g->lifecycle.life))
            continue;
        if (!victim || !g->used || (victim->used && g->lru_us < victim->lru_us))
            victim = g;
    }
    if (!create)
        return NULL;
    if (!victim) {
        t->not_followed++;
        return NULL;
    }
    if (victim->used)
        t->targets_evicted++;
    else
        t->targets_used++;
    memset(victim, 0, sizeof(*victim));
    victim->used = true;
    victim->service = service;
    victim->server = *server;
    victim->lru_us = now_us;
    return victim;
}

/* Windows are aligned on multiples of window_us, so every count of one
 * target shares the same boundaries (and "epoch" numbers). */
static void window_advance(struct auth_window *w, uint64_t now_us, uint64_t window_us)
{
    uint64_t start = now_us - now_us % window_us;
    if (start == w->start_us)
        return;
    w->prev = start == w->start_us + window_us ? w->cur : 0;
    w->cur = 0;
    w->start_us = start;
}

void auth_window_add(struct auth_window *w, uint64_t now_us, uint64_t window_us, uint32_t n)
{
    window_advance(w, now_us, window_us);
    w->cur += n;
}

double auth_window_value(const struct auth_window *w, uint64_t now_us, uint64_t window_us)
{
    uint64_t start = now_us - now_us % window_us;
    uint32_t cur = w->cur, prev = w->prev;
    if (start != w->start_us) {
        prev = start == w->start_us + window_us ? cur : 0;
        cur = 0;
    }
    double overlap = (double)(window_us - (now_us - start)) / (double)window_us;
    return cur + prev * overlap;
}
