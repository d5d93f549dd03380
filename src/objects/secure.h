/*
 * The stricter heap (ALLOCTAG_SECURE=1) for small objects: canaries,
 * poison and a quarantine, checked at free.  Off by default; the only hooks
 * in the ordinary paths are one branch on a flag each, none on a fast path
 * (malloc's and free's fast paths are unchanged).  at_secure_alloc and
 * at_secure_free are the stricter heap's own fast paths (the thread's bin,
 * its charges, the quarantine's ring inline; everything else in functions
 * of their own, out of line):
 *   malloc: AT_SLOW_SECURE in at_small_slow (slab.h), set at start-up
 *           before the fast path opens, sends every small allocation to
 *           at_small_alloc_slow, which calls at_secure_alloc;
 *   free:   every object the stricter heap hands out is in a wide slab
 *           (AT_PG_WIDE), so free's fast path sends it to at_wide_free,
 *           which calls at_secure_free when at_secure_heap is set;
 *   malloc_usable_size and aligned allocations: malloc.c; the slabs'
 *           transfer batches: slab.c.
 * Large blocks of AT_SECURE_MAP_MIN bytes and more sit between guard pages
 * (huge.c, at_huge_alloc_guarded); the canary of their front slack is
 * written and checked with at_secure_fill / at_secure_intact.
 *
 * Sizes are the default mode's: a request of class c (usable size u, c's
 * size) is charged u and malloc_usable_size says u, so the canary lies past
 * the usable size: the object takes a slot of the next class (the next
 * whose size is a multiple of the alignment asked, for aligned requests;
 * none past the largest class, 16 KiB, which goes without):
 *
 *   p              p + u            p + size - 16     p + size
 *   | u bytes: the | canary, 16      | (not checked)  | canary, 16 |
 *   | program's    | bytes           |                | bytes      |
 *
 * (the two canary pieces are one when the slot is 16 bytes larger, as for
 * every class up to 128 bytes).  Patterns come in aligned 16-byte pieces:
 * a piece is a 64-bit secret twice (at_secure_init: getrandom; the canary's
 * and the poison's differ; every byte from 0x80 to 0xfe, so no ASCII text,
 * no 0 and no -1 written past an object matches it, and a program cannot
 * learn it from its input).  The general at_secure_fill (huge.c's unaligned
 * slack) writes the same bytes: byte a & 7 of the secret at address a.
 *
 * Per-object records, out of band, in the slab's metadata window (slab.h)
 * right after the free stack (on the page of the references but for the
 * smallest classes), one uint16_t per object index, nobj + 1 of them:
 *   0                       not the stricter heap's, or free and not
 *                           tracked, or changing (below)
 *   1 .. AT_SMALL_MAX + 1   live, usable size + 1
 *   AT_SECURE_QUARANTINED   free, poisoned, in a quarantine
 * A slab is released only when every object is free, and every record of a
 * free object is 0 once it leaves the quarantine, so a record is never
 * stale.  The allocator changes an object's bytes only while its record is
 * 0, and sets a record after the bytes it describes.
 *
 * Charges go through the thread's bins, as in the default mode, but by
 * usable size: an object of usable size n (class c's size) in a slot of
 * class s is charged to bin c's pend (bin_charge.h: off + 1 at malloc,
 * off - 1 at free, count unchanged, the bin's tag switched or folded as
 * at_bin_pop / at_bin_push do), while bin s holds it as a free slot (count
 * and off moved together, pend unchanged).  A bin that cannot (no heap,
 * off near the ends of its field, an aligned object whose usable size is
 * not the class below its slot's) charges per CPU instead.
 *
 * At free, before any metadata is written:
 *   - the object's canary must be intact: else "heap overflow past";
 *   - the last 16 bytes of the slot before it in its slab (the lower
 *     address), if the record says live (canary) or quarantined (poison),
 *     must be intact: else "heap underflow before" (an underflow writes
 *     them first).  The record is read again after the bytes: a changed
 *     record (the neighbour freed or handed out meanwhile by another
 *     thread) cancels the report, so threads never cause a false one;
 * then the slot is poisoned (its first AT_SECURE_POISON bytes and its last
 * 16) and put in the freeing thread's quarantine (a ring of AT_SECURE_Q
 * objects: each free puts one in and takes the oldest out; kept in the
 * thread's heap, struct at_theap, so it outlives the thread with the
 * heap).  An object leaving the quarantine
 * must still be poisoned: else "write after free".  It then goes to the
 * thread's bin, as any freed object.  The quarantine of the thread that
 * ends the process is checked at exit.  A double free of a quarantined
 * object is seen by the ordinary check (its entry is 0), and a free of a
 * pointer freed and handed out again is delayed by the quarantine's length.
 *
 * Not caught: writes past the usable size that skip the canary pieces (into
 * the unchecked middle of a large slot's slack, or beyond the slot leaving
 * the canary alone); writes after free past the poisoned bytes, or after
 * the object left the quarantine; reads of any kind; an underflow below the
 * first object of a slab (no object before it in the slab).
 */
#ifndef AT_SECURE_H
#define AT_SECURE_H

#include <stddef.h>
#include <stdint.h>

#include "objects/slab.h"

#define AT_SECURE_Q 16u	     /* a quarantine's objects per class */
#define AT_SECURE_POISON 32u /* a freed object's first bytes poisoned */
_Static_assert(AT_MIN_SIZE == 16, "patterns come in 16-byte pieces");

/* Start-up, before the first allocation of a slab: the secrets, the
 * request-to-class tables moved one canary up. */
AT_HIDDEN void at_secure_init(void);
/* slab.c: a new slab's canaries (at base, class cls; it has AT_PG_SECURE). */
AT_HIDDEN void at_secure_slab_new(char *base, unsigned int cls);
/* at_wide_free with the stricter heap on: object p (heap offset off, class
 * cls, index idx) is checked and freed if its slab has AT_PG_SECURE, else
 * freed by at_wide_free_plain (malloc_fast.h). */
AT_HIDDEN void at_secure_free(void *p, uintptr_t off, unsigned int cls, uint32_t idx,
			     const char *what);
/* The canary over [from, to) (huge.c: a guarded block's front slack), and
 * whether it is intact. */
AT_HIDDEN void at_secure_fill(char *from, char *to);
AT_HIDDEN int at_secure_intact(const char *from, const char *to);

#endif
