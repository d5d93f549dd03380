/*
 * Fold cache: a thread's folds of its bins' counts, kept per tag and size
 * class in the thread's heap before they reach the per-CPU counters.
 *
 * Why: a bin whose tag changes folds its pend and cumulative count into the
 * old tag's counters (bin_charge.h).  Where sites interleave in a
 * class (a shell's loop, a compiler's passes) the same tags are folded
 * again and again, each fold an rseq add to the tag's slot on this CPU: a
 * page of the counters per group of 128 tag indexes.  After a fork each of
 * those pages is a copy-on-write fault in the child, and again in the
 * parent at its next write: a shell's command substitution wrote 4 counter
 * pages in each child and about 3 in its parent (35 tags folded 59 times
 * an iteration in the parent, 45 once each in a child).  The folds land
 * here instead, in the heap's first page, which the bins' words make
 * written anyway.  A fold through the cache costs more instructions than
 * one per CPU (a set's lookup, about 70 against 15: cc1, which never
 * forks, ran 0.44% more in all), so a process folds through it only from
 * its first fork on (at_fold_on); a spill or a fold per CPU charges the
 * same counters, so the switch needs nothing moved.
 *
 * Layout: AT_FOLD_SETS sets of AT_FOLD_WAYS entries in struct at_theap
 * (tcache.h: the rest of the heap's first page after the bins), 12 bytes an
 * entry, a set's keys together (struct at_fold_set); an entry is one
 * (tag, class) pair's deltas:
 *
 *   key     bits 0-20 the tag's index plus one (0: the entry is empty),
 *           21-26 the size class (the bytes are the calls times the
 *           class's charge), 31 AT_FOLD_USED: added to since the thread's
 *           last fork; one word, so that a reader's one load sees a whole key
 *   calls   live calls still to add to the tag's counters (signed)
 *   ccalls  cumulative calls still to add to its cumulative counters
 *
 * Pair (idx, cls), q = idx + cls, lives in set q % AT_FOLD_SETS, any
 * way: a lookup compares the set's 8 keys at once (two SSE2 compares).  A
 * pair that finds neither its entry nor an empty one spills way
 * (q / AT_FOLD_SETS) % AT_FOLD_WAYS (its deltas added per CPU) and takes
 * it, and so does one whose counts would leave their fields.
 *
 * A fork: the forking thread spills the entries it has not added to since
 * its last fork and marks the rest not added to (at_fold_fork, from the
 * prepare handler).  A child then finds room for the pairs it folds (a
 * shell's child folds 45 of its own; an empty entry's taking writes
 * nothing but the page the bins already made written), where a cache
 * full of the parent's start-up pairs made each of its folds a spill; and
 * a parent in a steady loop spills nothing, its loop's pairs being the
 * ones it adds to between forks.
 *
 * Invariants:
 *  - only permanent tags are kept (the main executable's and run-time
 *    tags, whose indexes are never released nor reset: bin_charge.h): bin
 *    tags, and the tags of what at_fold_self charges outside a bin (a
 *    call chain's small mallocs not counted in a bin or a memo entry, a
 *    cold object: slab.h "Cold classes"), checked there; so no entry
 *    outlives its tag's index;
 *  - a tag's live counters = its per-CPU sum + its bins' part + its entries
 *    in every heap, its cumulative counters likewise: the readers of
 *    bin_charge.c add the entries where they add the bins, so a quiescent
 *    read is exact, and a read racing with a fold or a spill is as
 *    unsynchronised as one racing with a bin's fold;
 *  - only the heap's thread writes its entries; a thread spills them all
 *    when it exits, so a heap in the pool holds none;
 *  - a forked child's copy of the heap holds the parent's entries, as its
 *    copy of the counters holds the parent's sums.
 */
#ifndef AT_FOLD_CACHE_H
#define AT_FOLD_CACHE_H

#include <stdint.h>

#include "core/counters.h"
#include "core/compiler.h"

#define AT_FOLD_SETS 28u /* what the heap's first page holds (tcache.h) */
#define AT_FOLD_WAYS 8u
#define AT_FOLDS (AT_FOLD_SETS * AT_FOLD_WAYS)
_Static_assert((AT_FOLD_WAYS & (AT_FOLD_WAYS - 1)) == 0, "a power of two");

/* An entry's key: the tag's index plus one, the class, and whether the
 * entry was added to since the thread's last fork. */
#define AT_FOLD_NIDX_MASK ((1u << 21) - 1)
#define AT_FOLD_CLS_SHIFT 21
#define AT_FOLD_USED (1u << 31)

/* A set: its ways' keys together (one vector compare finds a key), then
 * their counts. */
struct at_fold_set {
	uint32_t key[AT_FOLD_WAYS];
	int32_t calls[AT_FOLD_WAYS];
	uint32_t ccalls[AT_FOLD_WAYS];
};
_Static_assert(sizeof(struct at_fold_set) == 96, "fold set size");

static inline unsigned int at_fold_cls(uint32_t key)
{
	return (key & ~AT_FOLD_USED) >> AT_FOLD_CLS_SHIFT;
}

struct at_theap;

/* Whether the process has forked (set by the first fork's prepare
 * handler; a forked child inherits it): the folds go to the cache from
 * then on, and to the per-CPU counters before. */
extern AT_HIDDEN unsigned char at_fold_on;

/* Add calls live calls (signed) and ccalls cumulative calls of class cls to
 * bin tag idx, through heap h's cache (h the calling thread's). */
AT_HIDDEN void at_fold_add(struct at_theap *h, uint32_t idx, unsigned int cls, int64_t calls,
			   int64_t ccalls);

/* The same per CPU. */
AT_HIDDEN void at_fold_percpu(uint32_t idx, unsigned int cls, int64_t calls, int64_t ccalls);

/* The same, once the process has forked; before, per CPU (both out of
 * line: no fold runs under ALLOCTAG=never, whose code lies in the text's
 * first 64 KiB). */
static inline void at_fold(struct at_theap *h, uint32_t idx, unsigned int cls, int64_t calls,
			   int64_t ccalls)
{
	if (AT_LOAD_RELAXED(&at_fold_on))
		at_fold_add(h, idx, cls, calls, ccalls);
	else
		at_fold_percpu(idx, cls, calls, ccalls);
}
/* calls live calls (signed) and ccalls cumulative calls of class cls
 * charged to tag idx outside a bin's count (a call chain's malloc not
 * counted in a bin or a memo entry, a cold object): through the calling
 * thread's fold cache while it has a heap, the process has forked and the
 * tag is permanent, else per CPU. */
AT_HIDDEN void at_fold_self(uint32_t idx, unsigned int cls, int64_t calls, int64_t ccalls);
/* For a reader (any thread): entry i (< AT_FOLDS) of heap h's cache; 0 if
 * it holds no tag, else the tag's index in *idx and its live and
 * cumulative parts in *live and *cum (each may be NULL). */
AT_HIDDEN int at_fold_entry(const struct at_theap *h, unsigned int i, uint32_t *idx,
			    struct alloctag_counters *live, struct alloctag_counters *cum);
/* Every entry of h to the per-CPU counters (its thread exits; the caller
 * checks h->folded, so that a thread that never folded runs none of this
 * file's text). */
AT_HIDDEN void at_fold_spill(struct at_theap *h);
/* The calling thread forks: spill the entries of its heap h not added to
 * since its last fork, and mark the others not added to (the caller
 * checks h->folded). */
AT_HIDDEN void at_fold_fork(struct at_theap *h);

#endif
