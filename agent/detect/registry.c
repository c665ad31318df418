/* registry.c — the list of detectors and what they share. */
#include "agent/detect/detector.h"

static const struct detector_ops *const detectors[] = {
    &portscan_detector,
    &sweep_detector,
    &flood_detector,
    &http_detector,
};

const struct detector_ops *const *detector_all(size_t *count)
{
    *count = sizeof(detectors) / sizeof(detectors[0]);
    return detectors;
}

bool detect_is_protected(const struct detect_env *env, const struct ipaddr *a)
{
    bool have_home = env->home_net && env->home_net->n > 0;
    bool have_assets = env->assets && env->assets->n > 0;
    if (!have_home && !have_assets)
        return true; /* no inventory: every address is watched */
    return (have_home && netset_contains(env->home_net, a)) ||
           (have_assets && assets_lookup(env->assets, a) != NULL);
}

void detect_pkt_classify(const struct detect_env *env, struct pkt *p)
{
    bool have_home = env->home_net && env->home_net->n > 0;
    bool have_assets = env->assets && env->assets->n > 0;
    p->src_asset = have_assets ? assets_lookup(env->assets, &p->src) : NULL;
    p->dst_asset = have_assets ? assets_lookup(env->assets, &p->dst) : NULL;
    if (!have_home && !have_assets) {
        p->src_protected = p->dst_protected = true;
    } else {
        p->src_protected = p->src_asset || (have_home && netset_contains(env->home_net, &p->src));
        p->dst_protected = p->dst_asset || (have_home && netset_contains(env->home_net, &p->dst));
    }
    p->classified = true;
}
