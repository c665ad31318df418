/* keyhash.h — fast seeded hashes of the fixed-size keys detector tables
 * index per packet (an address, two addresses).
 *
 * The step is wyhash's: a 128-bit product of two seeded 64-bit words,
 * its halves xor-ed.  A 16-byte key costs two such steps, a 32-byte key
 * three, against one MurmurHash3 finaliser per 8 bytes in hash_bytes
 * (common/hash.h).  Every word is xor-ed with a secret drawn from the
 * agent's random seed, so which keys collide depends on the seed and an
 * attacker cannot aim them at one bucket.
 */
#ifndef CANH_KEYHASH_H
#define CANH_KEYHASH_H

#include <stdint.h>
#include <string.h>

#include "common/hash.h"

#define KEYHASH_SECRETS 5

/* The secrets of one table, drawn from its seed. */
static inline void keyhash_secrets(uint64_t seed, uint64_t s[KEYHASH_SECRETS])
{
    for (int i = 0; i < KEYHASH_SECRETS; i++)
        s[i] = hash_mix64(seed ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1)));
}

/* The 128-bit product of a and b, its halves xor-ed. */
static inline uint64_t keyhash_fold(uint64_t a, uint64_t b)
{
    unsigned __int128 r = (unsigned __int128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t keyhash16(const uint64_t s[KEYHASH_SECRETS], const uint8_t key[16])
{
    uint64_t w[2];
    memcpy(w, key, sizeof(w));
    return keyhash_fold(keyhash_fold(w[0] ^ s[0], w[1] ^ s[1]) ^ s[2], s[3] ^ 16);
}

static inline uint64_t keyhash32(const uint64_t s[KEYHASH_SECRETS], const uint8_t key[32])
{
    uint64_t w[4];
    memcpy(w, key, sizeof(w));
    uint64_t a = keyhash_fold(w[0] ^ s[0], w[1] ^ s[1]);
    uint64_t b = keyhash_fold(w[2] ^ s[2], w[3] ^ s[3]);
    return keyhash_fold(a ^ s[4], b ^ 32);
}

/* A flow: two addresses, and both ports in extra. */
static inline uint64_t keyhash_flow(const uint64_t s[KEYHASH_SECRETS], const uint8_t a[16],
                                    const uint8_t b[16], uint32_t extra)
{
    uint64_t wa[2], wb[2];
    memcpy(wa, a, sizeof(wa));
    memcpy(wb, b, sizeof(wb));
    uint64_t x = keyhash_fold(wa[0] ^ s[0], wa[1] ^ s[1]);
    uint64_t y = keyhash_fold(wb[0] ^ s[2], wb[1] ^ s[3]);
    return keyhash_fold(x ^ s[4], y ^ ((uint64_t)extra << 8 | 36));
}

#endif
