/* table_mem.h — zeroed memory for big fixed-size tables: the ones keys
 * are spread over by a hash (scan tag lines, slot index and doorkeeper,
 * scan_table.c) and the http flow table (flows, reassembly windows and
 * detector state, flow.c: megabytes that busy web traffic fills whole).
 *
 * Taken straight from mmap: the pages come zeroed, so nothing is written
 * at start (a memset of a table made every page of it resident and cost a
 * page fault each before the first packet).  A region of 1 MiB or more is
 * placed on a 2 MiB boundary, its length rounded up to whole 2 MiB when
 * that wastes at most a quarter (else its tail stays on 4 KiB pages), and
 * advised for transparent huge pages (MADV_HUGEPAGE; the kernel's
 * "madvise" mode honours it): a hash sends each packet's lookups to a
 * random page of such a table, so with 4 KiB pages nearly every lookup
 * misses the TLB, and a flood of new keys faults in a page every few
 * packets.  With huge pages a table is a few TLB entries and a few faults.
 * The cost: a touched huge page is resident whole, which for a table
 * that the hash spreads every key over, or that traffic fills, is what
 * the traffic makes resident anyway; a table filled slowly and densely
 * (scan entries) is better left on 4 KiB pages.  Where huge pages are
 * off or unavailable the kernel gives 4 KiB pages and nothing else
 * changes.
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
