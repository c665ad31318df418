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
