/* registry.c — the list of detectors and what they share. */
#include "agent/detect/detector.h"

static const struct detector_ops *const detectors[] = {
    &portscan_detector, &sweep_detector, &flood_detector, &http_detector, &auth_detector,
};

const struct detector_ops *const *detector_all(size_t *count)
{
    *count = sizeof(detectors) / sizeof(detectors[0]);
    return detectors;
}
