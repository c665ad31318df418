/* classify.c — see classify.h. */
#include "agent/classify.h"

#include <string.h>

static bool have_assets(const struct inventory *inv)
{
    return inv->assets && inv->assets->n > 0;
}

static bool have_home(const struct inventory *inv)
{
    return inv->home_net && inv->home_net->n > 0;
}

const struct asset *classify_asset(const struct inventory *inv, const struct ipaddr *a)
{
    return have_assets(inv) ? assets_lookup(inv->assets, a) : NULL;
}

static bool protected_given(const struct inventory *inv, const struct asset *asset,
                            const struct ipaddr *a)
{
    if (asset)
        return true;
    if (have_home(inv))
        return netset_contains(inv->home_net, a);
    return !have_assets(inv); /* no inventory: every address is watched */
}

bool classify_is_protected(const struct inventory *inv, const struct ipaddr *a)
{
    return protected_given(inv, classify_asset(inv, a), a);
}

/* What classify_is_protected says of a, its asset already known, with
 * the inventory's two questions asked once per packet by the caller. */
static bool protected_known(const struct inventory *inv, bool home, bool assets,
                            const struct asset *asset, const struct ipaddr *a)
{
    if (asset)
        return true;
    if (home)
        return netset_contains(inv->home_net, a);
    return !assets;
}

void classify_packet(const struct inventory *inv, struct pkt *p)
{
    bool home = have_home(inv), assets = have_assets(inv);
    if (!home && !assets) {
        p->src_asset = p->dst_asset = NULL;
        p->src_protected = p->dst_protected = true;
    } else {
        p->src_asset = assets ? assets_lookup(inv->assets, &p->src) : NULL;
        p->dst_asset = assets ? assets_lookup(inv->assets, &p->dst) : NULL;
        p->src_protected = protected_known(inv, home, assets, p->src_asset, &p->src);
        p->dst_protected = protected_known(inv, home, assets, p->dst_asset, &p->dst);
    }
    p->classified = true;
}

int classify_index_build(struct classify_index *ci, const struct inventory *inv)
{
    bool home = have_home(inv), assets = have_assets(inv);
    memset(ci, 0, sizeof(*ci));
    ci->inv = inv;
    ci->watch_all = !home && !assets;
    /* Lists built by hand without their index (tests) are asked apart. */
    if ((home && !inv->home_net->index.slots) || (assets && !inv->assets->index.slots))
        return 0;
    size_t n = 0;
    for (size_t i = 0; assets && i < inv->assets->n; i++)
        n += inv->assets->v[i].addresses.n;
    if (home)
        n += inv->home_net->n;
    if (prefix_index_init(&ci->ix, n) < 0)
        return -1;
    if (assets) {
        ci->assets = inv->assets->v;
        for (size_t i = 0; i < inv->assets->n; i++)
            for (size_t j = 0; j < inv->assets->v[i].addresses.n; j++) {
                const struct cidr *c = &inv->assets->v[i].addresses.v[j];
                prefix_index_add(&ci->ix, c, prefix_index_lookup_cidr(&inv->assets->index, c) + 1);
            }
    }
    for (size_t j = 0; home && j < inv->home_net->n; j++) {
        const struct cidr *c = &inv->home_net->v[j];
        int32_t asset = assets ? prefix_index_lookup_cidr(&inv->assets->index, c) : -1;
        prefix_index_add(&ci->ix, c, asset + 1);
    }
    ci->indexed = true;
    return 0;
}

void classify_index_free(struct classify_index *ci)
{
    prefix_index_free(&ci->ix);
    ci->indexed = false;
}
