/*
 * Huge blocks: allocations larger than the page allocator's largest block
 * (1 GiB), or large ones the heap has no address space left for (page.h,
 * at_heap_full), mapped directly with mmap.  Bookkeeping out of band: a table of
 * {address, length, mapping, reference} (AT_HUGE_MAX entries, mmap'd on first
 * use) under one mutex; such allocations are rare.
 * A huge block is charged its length rounded up to whole pages (its usable
 * size).  The page before and the page after each block are PROT_NONE
 * guards inside its mapping, so that an overflow or underflow past the
 * block faults.  Under ALLOCTAG_SECURE=2 the malloc family also maps blocks
 * of AT_SECURE_MAP_MIN bytes or more here (malloc.c), under
 * ALLOCTAG_SECURE=1 those of AT_SECURE_GUARD_MIN or more (secure_block.h:
 * smaller ones have canaries in the heap), for the guards, each
 * ending at its back guard, with room above it to grow in place (realloc);
 * huge.c keeps some of those mapped when they are freed, for reuse (layout
 * and reuse in huge.c).
 */
#ifndef AT_HUGE_H
#define AT_HUGE_H

#include <stddef.h>

#include "core/compiler.h"

#define AT_HUGE_MAX 4096u
/* ALLOCTAG_SECURE=2: blocks from this size on are mapped with guards (as
 * glibc maps blocks from its mmap threshold on); level 1 gives them
 * canaries instead (secure_block.h) up to AT_SECURE_GUARD_MIN. */
#define AT_SECURE_MAP_MIN (128u << 10)
/* ALLOCTAG_SECURE=1: a freed guarded block's first bytes poisoned, checked
 * when its mapping is handed out again. */
#define AT_SECURE_LARGE_POISON 256u
/* ALLOCTAG_SECURE=1: the front slack's canary reaches at least this far
 * below a guarded block whose page below is read-write (huge.c). */
#define AT_SECURE_LARGE_BELOW 256u

/* size bytes aligned to align (a power of two); NULL with errno = ENOMEM. */
AT_HIDDEN void *at_huge_alloc(size_t size, size_t align);
/* ALLOCTAG_SECURE's blocks: size rounded to one of four lengths per power
 * of two; freed ones are kept (a few, guards in place) for reuse. */
AT_HIDDEN void *at_huge_alloc_guarded(size_t size, size_t align);
/* realloc of guarded block p to n > its size, in place: 1 if done (its
 * usable size is then n rounded up to end at a page boundary), else 0. */
AT_HIDDEN int at_huge_grow_guarded(void *p, size_t n);
/* Free p if it is a huge block; abort naming p (what) if it is not. */
AT_HIDDEN void at_huge_free(void *p, const char *what);
/* Usable size of huge block p; abort naming p (what) if it is not one. */
AT_HIDDEN size_t at_huge_size(const void *p, const char *what);
/* Live direct blocks and their bytes (page-rounded lengths), now and at
 * their highest. */
struct at_huge_stats {
	size_t count, bytes, max_count, max_bytes;
};
AT_HIDDEN void at_huge_stats(struct at_huge_stats *st);
AT_HIDDEN void at_huge_lock(void);
AT_HIDDEN void at_huge_unlock(void);
AT_HIDDEN void at_huge_fork_child(void); /* fork's child: the lock put back (fork_locks.h) */

#endif
