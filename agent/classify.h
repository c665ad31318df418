/* classify.h — who a packet's addresses are (architecture §4.4, the step between
 * decode and the detectors).
 *
 * The agent protects its declared assets and home_net; with neither, every
 * address is watched.  classify_packet() answers "protected?" and "which
 * asset?" once per packet so that no detector looks an address up again;
 * classify_is_protected() answers for any other address (an ICMP error's
 * quoted one, a packet built by hand in a test).
 */
#ifndef CANH_CLASSIFY_H
#define CANH_CLASSIFY_H

#include <stdbool.h>

#include "agent/pkt.h"
#include "common/config.h"

/* What the agent protects.  Both pointers may be NULL or empty. */
struct inventory {
    const struct assets *assets;
    const struct netset *home_net;
};

/* The inventory's two lists in one prefix index, for the per-packet
 * question: one lookup an address answers both "protected?" and "which
 * asset?", where the lists apart took one each.  Every prefix of either
 * list is in it, valued with the asset that classify_asset() gives its
 * addresses (index + 1; 0: home_net's and no asset's).  The prefixes
 * that hold an address form a chain, so the longest of them knows the
 * most specific asset's prefix and that some prefix holds it, which is
 * what protected means once an inventory is declared. */
struct classify_index {
    const struct inventory *inv;
    bool indexed;               /* false: classify_packet(inv) answers */
    bool watch_all;             /* no inventory: every address is watched */
    const struct asset *assets; /* inv->assets->v when it was built */
    struct prefix_index ix;
};

/* Built from inv, which must stay (and stay unchanged) until the next
 * build or free; 0, or -1 out of memory (ci then falls back to inv). */
int classify_index_build(struct classify_index *ci, const struct inventory *inv);
void classify_index_free(struct classify_index *ci);

bool classify_is_protected(const struct inventory *inv, const struct ipaddr *a);
/* The asset a belongs to (most specific prefix), or NULL. */
const struct asset *classify_asset(const struct inventory *inv, const struct ipaddr *a);
/* Fill p's src/dst_protected and src/dst_asset and mark it classified. */
void classify_packet(const struct inventory *inv, struct pkt *p);

/* classify_packet through ci: the same answers.  Inline, for the
 * pipeline's loop. */
static inline void classify_packet_indexed(const struct classify_index *ci, struct pkt *p)
{
    if (!ci->indexed) {
        classify_packet(ci->inv, p);
        return;
    }
    if (ci->watch_all) {
        p->src_asset = p->dst_asset = NULL;
        p->src_protected = p->dst_protected = true;
        p->classified = true;
        return;
    }
    int32_t src, dst;
    if (p->ip_version == 4) {
        src = prefix_index_lookup_v4(&ci->ix, &p->src);
        dst = prefix_index_lookup_v4(&ci->ix, &p->dst);
    } else {
        src = prefix_index_lookup(&ci->ix, &p->src);
        dst = prefix_index_lookup(&ci->ix, &p->dst);
    }
    p->src_asset = src > 0 ? &ci->assets[src - 1] : NULL;
    p->dst_asset = dst > 0 ? &ci->assets[dst - 1] : NULL;
    p->src_protected = src >= 0;
    p->dst_protected = dst >= 0;
    p->classified = true;
}

#endif
