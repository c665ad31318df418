/* hash.h — a seeded 64-bit hash for tables keyed by attacker input.
 *
 * Every table that attacker-chosen keys index hashes with a secret random
 * seed (hash_random_seed), so nobody can aim collisions at one bucket.
 * The mixing is the 64-bit finaliser of MurmurHash3 over 8-byte words.
 */
#ifndef CANH_HASH_H
#define CANH_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t hash_mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static inline uint64_t hash_bytes(const void *data, size_t len, uint64_t seed)
{
    const uint8_t *p = data;
    uint64_t h = seed ^ (len * 0x9e3779b97f4a7c15ULL);
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = hash_mix64(h ^ w) + 0x9e3779b97f4a7c15ULL;
        p += 8;
        len -= 8;
    }
    uint64_t tail = 0;
    memcpy(&tail, p, len);
    return hash_mix64(h ^ tail ^ ((uint64_t)len << 56));
}

/* A fresh secret from getrandom(); falls back to time and pid. */
uint64_t hash_random_seed(void);

#endif
