/*
 * The stricter heap (ALLOCTAG_SECURE=1 or 2) for small objects: a canary at
 * the end of every slot, checked with the slot before it at free (level 1);
 * at level 2 also poison and a quarantine.  Off by
 * default; malloc's fast paths are the default mode's, unchanged.  Free's
 * fast path sends a stricter slab's object on with the test it makes
 * anyway (AT_PG_WIDE | AT_PG_SECURE: a tail jump to at_free_other,
 * malloc_fast.h), which, for a narrow slab at level 1, checks the object's
 * own canary inline (at_secure_free_ok) and frees it as the default mode's
 * fast path does (at_narrow_free); anything else (a failed check, level 2,
 * a wide stricter slab) goes on through at_wide_free to at_secure_free.
 *
 * Sizes: at start-up (before any slab is made) at_secure_init moves the
 * request-to-class tables (slab.h) so that a request of n bytes takes the
 * class of n + 16, and lowers at_class_charge (what an object is charged
 * and its usable size) by 16 for every class but the smallest (16 bytes,
 * never handed out then but for what was made before) and the largest (16
 * KiB: requests from 14321 bytes, no room for a canary; charged and usable
 * 16384).  An aligned request takes the first class, from that of its size
 * on, whose size is a multiple of the alignment (malloc.c), so the same.
 *
 * Slabs made with the stricter heap on, of the classes from 32 bytes up to
 * the one below the largest, have AT_PG_SECURE in their head page's flags
 * and a canary in the last 16 bytes of every slot, written when the slab is
 * made (at_secure_slab_new) and never written again by the allocator:
 *
 *   p                        p + size - 16     p + size
 *   | usable: size - 16      | canary, 16 bytes |
 *
 * so it needs no per-object record, holds whether the slot is live, free,
 * in a bin or in a quarantine, and a neighbour's canary can be read with no
 * race.  A pattern is a 64-bit secret twice per 16 bytes (at_secure_init:
 * getrandom; the canary's and the poison's differ; every byte from 0x80 to
 * 0xfe, so no ASCII text, no 0 and no -1 written past an object matches it,
 * and a program cannot learn it from its input).  The general
 * at_secure_fill (huge.c's unaligned slack) writes the same bytes: byte
 * a & 7 of the secret at address a.
 *
 * At free of a stricter slab's object, before any metadata is written:
 *   - its entry must say live (else the ordinary "double free");
 *   - its canary must be intact: else "heap overflow past";
 *   - level 2: the canary of the slot before it in its slab (the lower
 *     address), an underflow's first bytes, must be intact: else "heap
 *     underflow before" (naming that slot live or freed, from its entry);
 * then its entry is cleared.  Level 1's check on free's fast path
 * (at_secure_free_ok) reads the object's own canary, both words; only if
 * one differs (or the slab is wide) does at_secure_free make the checks
 * above and report.
 * The slot below is not read at level 1: an underflow into it (its
 * canary's last bytes) is found when that slot's object is freed, as an
 * overflow past it, if it is live; into a free slot, not at all.  Level 2
 * makes all three checks at every free.  Level 1: it goes to the thread's bin as in
 * the default mode.  Level 2: its first AT_SECURE_POISON bytes (16 in a
 * 32-byte slot) are poisoned, and it takes the place of the oldest object
 * of its class in the freeing thread's quarantine (a ring of AT_SECURE_Q
 * objects per class, in the thread's heap, struct at_theap, so it outlives
 * the thread with the heap).  The object that leaves must still be
 * poisoned and its canary intact: else "write after free"; it goes to the
 * thread's bin with the freed object's tag, whose count's update
 * uncharges the freed object (bin_charge.h: the objects of a class are
 * interchangeable there), or, while the ring is filling, the freed object
 * is uncharged per CPU.  The quarantine of the thread that ends the
 * process is checked at exit.  A double free of a quarantined object is
 * seen by the ordinary check (its entry is 0), and a free of a pointer
 * freed and handed out again is delayed by the quarantine's length.
 *
 * Not caught: writes past the usable size that skip the canary (beyond the
 * slot leaving it alone); at level 1 an underflow into a free slot, any
 * write after free and the reuse of a
 * freed pointer handed out again; writes after free past the poisoned bytes, or
 * after the object left the quarantine; reads of any kind; an underflow
 * below the first object of a slab (no slot before it in the slab);
 * anything in an object of the largest class or of a slab made before
 * start-up (no canary: the ordinary checks only).
 */
#ifndef AT_SECURE_H
#define AT_SECURE_H

#include <stddef.h>
#include <stdint.h>

#include "objects/slab.h"

#define AT_SECURE_Q 16u      /* a quarantine's objects per class */
#define AT_SECURE_POISON 32u /* a freed object's first bytes poisoned */
_Static_assert(AT_MIN_SIZE == 16, "patterns come in 16-byte pieces");

/* The word free's fast path compares canaries with (at_secure_free_ok):
 * the canary's pattern at level 1; at level 2 the same with its lowest bit
 * flipped, which no intact canary matches, so that every free of a
 * stricter slab's object goes on to at_secure_free (poison, quarantine). */
extern AT_HIDDEN uint64_t at_secure_fast_word;

/*
 * Level 1's check, inlined into at_free_other (malloc_fast.h) for an
 * object p of class cls of a narrow stricter slab: 1 if its canary is
 * intact (both words: the first, where an overflow running on from the
 * object starts, and the last, where an underflow running down from the
 * slot above starts), so that it is freed as the default mode's; 0 sends
 * it to at_secure_free, which reads its canary and the slot below's and
 * says which check failed (or quarantines it, at level 2).  Two compares
 * with the word in memory.
 */
static inline __attribute__((always_inline)) int at_secure_free_ok(const char *p, unsigned int cls)
{
	uint64_t w = AT_LOAD_RELAXED(&at_secure_fast_word), x, y;
	const char *c = p + at_class_size[cls] - 16;
	/* Plain loads: a canary is written only before its slab is handed
	 * out (at_secure_slab_new). */
	__builtin_memcpy(&x, c, 8);
	__builtin_memcpy(&y, c + 8, 8);
	return x == w && y == w;
}

/* Start-up, before the first allocation of a slab: the secrets, the
 * request-to-class tables moved one canary up. */
AT_HIDDEN void at_secure_init(void);
/* slab.c: a new slab's canaries (at base, class cls; it has AT_PG_SECURE). */
AT_HIDDEN void at_secure_slab_new(char *base, unsigned int cls);
/* at_wide_free of object p (heap offset off, class cls, index idx) in a
 * slab whose head flags f have AT_PG_SECURE: checked, then freed. */
AT_HIDDEN void at_secure_free(void *p, uintptr_t off, unsigned int cls, uint32_t idx, uint64_t f,
			     const char *what);
/* The canary over [from, to) (huge.c: a guarded block's front slack), and
 * whether it is intact. */
AT_HIDDEN void at_secure_fill(char *from, char *to);
AT_HIDDEN int at_secure_intact(const char *from, const char *to);
/* The same with the poison's pattern (huge.c: a freed guarded block's
 * first bytes, at level 1). */
AT_HIDDEN void at_secure_poison(char *from, char *to);
AT_HIDDEN int at_secure_poisoned(const char *from, const char *to);

#endif
