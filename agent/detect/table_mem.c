/* table_mem.c — see table_mem.h. */
#include "agent/detect/table_mem.h"

#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#define HUGE_BYTES ((size_t)2 << 20)
#define HUGE_FROM ((size_t)1 << 20)

static size_t page_bytes(void)
{
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (size_t)p : 4096;
}

static size_t round_up(size_t n, size_t to)
{
    return (n + to - 1) / to * to;
}

size_t table_mem_size(size_t bytes)
{
    size_t len = round_up(bytes ? bytes : 1, page_bytes());
    if (bytes < HUGE_FROM)
        return len;
    /* Whole huge pages when that wastes at most a quarter; else the tail
     * past the last whole 2 MiB stays on 4 KiB pages (a touched huge page
     * is resident whole: 2.9 MiB rounded to 4 would cost 1.1 more). */
    size_t huge = round_up(bytes, HUGE_BYTES);
    return huge - bytes <= bytes / 4 ? huge : len;
}

void *table_mem_alloc(size_t bytes)
{
    size_t len = table_mem_size(bytes);
    if (bytes < HUGE_FROM) {
        void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return p == MAP_FAILED ? NULL : p;
    }
    /* Map one huge page more than needed and give back the ends, so the
     * region starts on a 2 MiB boundary (only aligned 2 MiB spans can be
     * huge pages; the kernel maps a tail shorter than that with 4 KiB
     * pages). */
    uint8_t *raw =
        mmap(NULL, len + HUGE_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    uint8_t *p = (uint8_t *)round_up((uintptr_t)raw, HUGE_BYTES);
    if (p > raw)
        munmap(raw, (size_t)(p - raw));
    if (p + len < raw + len + HUGE_BYTES)
        munmap(p + len, (size_t)(raw + len + HUGE_BYTES - (p + len)));
#ifdef MADV_HUGEPAGE
    (void)madvise(p, len, MADV_HUGEPAGE); /* advice only: 4 KiB pages work the same */
#endif
    return p;
}

void table_mem_free(void *p, size_t bytes)
{
    if (p)
        munmap(p, table_mem_size(bytes));
}
