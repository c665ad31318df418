/* pool.h — recycling the collector's big fixed-size blocks.
 *
 * An incident is 33 KiB and a correlation table 25 KiB; every event
 * used to malloc and free several of them, and glibc serves blocks that
 * big from the top of the heap: consolidating, trimming and faulting the
 * pages in again on every event (the profile in docs/performance.md).
 * A pool keeps up to `max` freed blocks of one size on a list and hands
 * the most recently freed back first, still in cache.  Blocks are plain
 * malloc blocks: one may be given to free() and a malloc'd one of the
 * same size to pool_put.  One pool per thread (_Thread_local at the
 * user), so no lock.
 */
#ifndef CANH_COLLECTOR_POOL_H
#define CANH_COLLECTOR_POOL_H

#include <stddef.h>
#include <stdlib.h>

struct pool {
    size_t size; /* of each block, at least a pointer */
    size_t max;  /* blocks kept at most */
    size_t n;
    void *free; /* a list through each block's first bytes */
};

#define POOL_INIT(size_, max_)                                                                     \
    {                                                                                              \
        .size = (size_), .max = (max_), .n = 0, .free = NULL                                       \
    }

/* A block of p->size bytes, not zeroed; NULL without memory. */
static inline void *pool_get(struct pool *p)
{
    void *b = p->free;
    if (!b)
        return malloc(p->size);
    p->free = *(void **)b;
    p->n--;
    return b;
}

static inline void pool_put(struct pool *p, void *b)
{
    if (!b)
        return;
    if (p->n >= p->max) {
        free(b);
        return;
    }
    *(void **)b = p->free;
    p->free = b;
    p->n++;
}

#endif
