/* hash.c — the random seed for hash.h. */
#include "common/hash.h"

#include <sys/random.h>
#include <time.h>
#include <unistd.h>

uint64_t hash_random_seed(void)
{
    uint64_t seed;
    if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) == (ssize_t)sizeof(seed))
        return seed;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return hash_mix64((uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32) ^ (uint64_t)ts.tv_sec);
}
