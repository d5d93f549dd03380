/*
 * The stricter heap (ALLOCTAG_SECURE=1) for small objects: canaries,
 * poisoning and a quarantine, checked at free.  Off by default; the only
 * hooks in the ordinary paths are one branch on a flag each, off the fast
 * paths:
 *   malloc: AT_SLOW_SECURE in at_small_slow (slab.h) sends every small
 *           allocation to at_small_alloc_slow, which calls at_secure_alloc;
 *   free:   every object the stricter heap hands out is in a wide slab
 *           (AT_PG_WIDE), so free's fast path sends it to at_wide_free,
 *           which calls at_secure_free when at_secure_heap is set;
 *   malloc_usable_size, realloc, aligned allocations: malloc.c.
 * Large blocks of AT_SECURE_MAP_MIN bytes and more sit between guard pages
 * (huge.c, at_huge_alloc_guarded); the canary of their front slack is
 * written and checked with at_secure_fill / at_secure_intact.
 *
 * Layout of a small object handed out by the stricter heap (size: its
 * class's size, n: the requested size, n < size: the class is the first
 * with room for at least one byte more than asked):
 *
 *   p                p + n                          p + size
 *   | n bytes of the  | canary, to the slot's end     |
 *   | program's       | (at least 1 byte)             |
 *
 * Canary and poison bytes: the byte at address a is byte (a & 7) of a
 * 64-bit secret (at_secure_init: getrandom; every byte non-zero, canary and
 * poison different), so a slot's pattern cannot be guessed from the
 * program's input, and a run of equal bytes (memset, a string) never
 * matches it.
 *
 * Per-object records, out of band, in the slab's metadata window (slab.h)
 * right after the free stack (so on the page of the references but for the
 * smallest classes), one uint16_t per object index, nobj + 1 of them:
 *   0                       not the stricter heap's, or free and not tracked
 *   1 .. AT_SMALL_MAX + 1   live, requested size + 1
 *   AT_SECURE_QUARANTINED   free, poisoned, in a quarantine
 * A slab is released only when every object is free, and every record of a
 * free object is 0 once it leaves the quarantine, so a record is never
 * stale.  malloc_usable_size reports the requested size; the object is
 * charged the requested size (so allocinfo and malloc_usable_size agree, as
 * everywhere: malloc.c), per CPU, not through the bin's count; the bin's
 * count changes by at_bin_fill (which leaves the bin's charges alone).
 *
 * At free, before any metadata is written:
 *   - the object's canary must be intact: else "heap overflow past";
 *   - the last AT_SECURE_BEFORE bytes of the object before it in its slab
 *     (the lower address), if live, must be intact canary (those that are
 *     canary), or if quarantined intact poison: else "heap underflow
 *     before" (an underflow writes them first);
 * then the slot is poisoned whole and put in the freeing thread's
 * quarantine (AT_SECURE_Q objects, oldest out first; kept in the thread's
 * heap, struct at_theap, so it outlives the thread with the heap).  An
 * object leaving the quarantine must still be poisoned whole: else "write
 * after free".  It then goes to the thread's bin, as any freed object.
 * The quarantine of the thread that ends the process is checked at exit.
 * A double free of a quarantined object is seen by the ordinary check (its
 * entry is 0), and a free of a pointer freed and handed out again is
 * delayed by the quarantine's length.
 *
 * Not caught: overflows and underflows that skip the canary (a write at
 * p + k, k past the slot, that leaves the bytes between alone); writes
 * after free once the object has left the quarantine; reads of any kind;
 * an underflow below the first object of a slab (no object before it).
 * A report races with nothing: the neighbour's record is read again after
 * its bytes, and a changed record (the neighbour freed or handed out by
 * another thread meanwhile) cancels the report.
 */
#ifndef AT_SECURE_H
#define AT_SECURE_H

#include <stddef.h>
#include <stdint.h>

#include "objects/slab.h"

#define AT_SLOW_SECURE 8u /* in at_small_slow (slab.h) */
#define AT_SECURE_Q 64u
#define AT_SECURE_POISON 64u /* a freed object's first bytes poisoned */
_Static_assert(AT_MIN_SIZE == 16, "patterns come in 16-byte pieces");
#define AT_SECURE_QUARANTINED 0xFFFFu
_Static_assert(AT_META_REFS + 8u * (AT_MAX_OBJS + 1) + 2u * AT_MAX_OBJS + 2u * (AT_MAX_OBJS + 1) <=
		       AT_SLAB_SIZE,
	       "records inside the metadata window");
_Static_assert(AT_SMALL_MAX + 1 < AT_SECURE_QUARANTINED, "a record holds a size + 1");

/* Start-up, before malloc's fast path opens: the secrets, AT_SLOW_SECURE. */
AT_HIDDEN void at_secure_init(void);
/* A small object for a request of class cls (its usable size, the class's
 * size, as in the default mode), aligned to align (a power of two, at least
 * AT_MIN_SIZE, that the class's size is a multiple of), from the next class
 * with room for a canary so aligned; entry set to ref and charged the
 * usable size.  NULL with errno = ENOMEM. */
AT_HIDDEN void *at_secure_alloc(unsigned int cls, size_t align, at_ref_t ref);
/* Object p (heap offset off, class cls, index idx, wide entry e != 0) is
 * being freed: checked and, if the stricter heap handed it out, freed
 * (1); 0 if it is not its (made before start-up): the ordinary path. */
AT_HIDDEN int at_secure_free(void *p, uintptr_t off, unsigned int cls, uint32_t idx, uint64_t e,
			     const char *what);
/* Usable size of live object idx: the requested size if the stricter heap
 * handed it out, else the class's size. */
AT_HIDDEN size_t at_secure_usable(uintptr_t off, uint32_t idx, unsigned int cls);
/* The canary over [from, to) (huge.c: a guarded block's front slack), and
 * whether it is intact. */
AT_HIDDEN void at_secure_fill(char *from, char *to);
AT_HIDDEN int at_secure_intact(const char *from, const char *to);

#endif
