/*
 * The allocator's own account of its memory, for glibc's introspection
 * calls (mallinfo2, mallinfo, malloc_stats, malloc_trim, mallopt), which
 * the preload library answers from it (preload/introspect.c).
 *
 * Figures (bytes unless said; exact when no other thread allocates or
 * frees during the call, as unsynchronised as the counters otherwise):
 *   committed     heap memory made usable (page_alloc.c's committed chunks)
 *   small_in_use  small objects the program holds: the objects out of their
 *                 slabs less those held in thread caches and transfer
 *                 slots, at their usable (size class) size, and the cold
 *                 classes' objects (blocks of the page allocator, slab.h)
 *   large_in_use  page-allocator blocks the program holds (usable size)
 *   cached_count, cached_bytes  free objects and blocks in thread caches
 *                 and in the classes' transfer slots (slab.c)
 *   free_blocks   free blocks of the page allocator (buddy lists)
 *   dirty         heap memory released since the last purge and not
 *                 handed out again: resident free memory that malloc_trim
 *                 (or the next purge) gives back (page_alloc.c, "Purging")
 *   own           heap pages alloctag uses itself (not slabs: early-page
 *                 tracking and the like)
 *   huge          directly mapped blocks (huge.h)
 *
 * glibc's names for them (mallinfo2): arena = committed, uordblks =
 * small_in_use + large_in_use, fordblks = committed - uordblks - own,
 * smblks/fsmblks = cached_count/cached_bytes (glibc's fastbins: free but
 * held for quick reuse), ordblks = free_blocks, hblks/hblkhd = huge count
 * and bytes, keepcost = dirty, usmblks = 0 (as glibc).
 */
#ifndef AT_MALLOC_INFO_H
#define AT_MALLOC_INFO_H

#include <stddef.h>

#include "pages/huge.h"

struct at_malloc_info {
	size_t committed, small_in_use, large_in_use, cached_count, cached_bytes;
	size_t free_blocks, dirty, own;
	struct at_huge_stats huge;
};

AT_HIDDEN void at_malloc_info(struct at_malloc_info *mi);
/*
 * malloc_trim: the calling thread's caches given back, entirely free slabs
 * released, every dirty free block purged (MADV_DONTNEED).  1 if memory was
 * given back to the system, else 0.  pad is accepted and ignored (the heap
 * has no top to keep).
 */
AT_HIDDEN int at_malloc_trim(size_t pad);
/*
 * mallopt: M_TRIM_THRESHOLD (>= 0) sets how many dirty bytes an arena may
 * hold before a release purges it; M_MXFAST, M_TOP_PAD, M_MMAP_THRESHOLD,
 * M_MMAP_MAX, M_ARENA_TEST, M_ARENA_MAX (>= 0), M_CHECK_ACTION and
 * M_PERTURB are accepted with no effect (alloctag's design has no such
 * knob).  1 accepted, 0 otherwise (glibc's convention).
 */
AT_HIDDEN int at_mallopt(int param, int value);
/* malloc_stats' text (glibc's layout, alloctag's figures) into buf;
 * returns its length. */
AT_HIDDEN size_t at_malloc_stats_text(char *buf, size_t len);

#endif
