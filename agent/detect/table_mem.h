/* table_mem.h — zeroed memory for the big fixed-size tables that keys are
 * spread over by a hash (scan tag lines and doorkeepers).
 *
 * Taken straight from mmap: the pages come zeroed, so nothing is written
 * at start (a memset of a table made every page of it resident and cost a
 * page fault each before the first packet).  A region of 1 MiB or more is
 * placed on a 2 MiB boundary, its length rounded up to whole 2 MiB, and
 * advised for transparent huge pages (MADV_HUGEPAGE; the kernel's
 * "madvise" mode honours it): a hash sends each packet's lookups to a
 * random page of such a table, so with 4 KiB pages nearly every lookup
 * misses the TLB, and a flood of new keys faults in a page every few
 * packets.  With huge pages a table is a few TLB entries and a few faults.
 * The cost: a touched huge page is resident whole, which for a table
 * that the hash spreads every key over is what the traffic makes
 * resident anyway.  Where huge pages are off or unavailable the kernel
 * gives 4 KiB pages and nothing else changes.
 */
#ifndef CANH_TABLE_MEM_H
#define CANH_TABLE_MEM_H

#include <stddef.h>

/* bytes of zeroed memory, page aligned (2 MiB aligned from 1 MiB up), or
 * NULL.  Free with table_mem_free and the same bytes. */
void *table_mem_alloc(size_t bytes);
void table_mem_free(void *p, size_t bytes);
/* What table_mem_alloc(bytes) reserves (for a table's byte counters). */
size_t table_mem_size(size_t bytes);

#endif
