/* baseline.h — the learned normal of a rate (architecture §4.3): an
 * exponentially weighted mean of per-second counts, one step for each
 * second that closes.  The flood and http_flood detectors learn their
 * baselines through this one function, so both forget the same way.
 */
#ifndef CANH_BASELINE_H
#define CANH_BASELINE_H

#include <math.h>
#include <stdint.h>

/* The baseline after a second that counted sample, followed by
 * seconds - 1 empty ones (each an ordinary step with a zero count,
 * taken at once), under alpha, the weight of one second. */
static inline double baseline_learn(double base, double sample, double alpha, uint64_t seconds)
{
    base += alpha * (sample - base);
    if (seconds > 1)
        base *= pow(1.0 - alpha, (double)(seconds - 1));
    return base;
}

#endif
