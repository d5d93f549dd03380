/*
 * Bin charges: small-object charges kept in the thread-cache bin, folded
 * into the per-CPU counters later.
 *
 * Why: in churn-like workloads almost every malloc of a size class is
 * charged to the same tag as the free before it; two per-CPU counter updates
 * per malloc/free pair (rseq sequences, each a load-add-store on the tag's
 * slot) were most of profiling's cost over `never`.  A bin instead counts, in
 * one word of its own cache line (which malloc and free write anyway), the
 * net number of its class's objects charged to one tag, its *bin tag*:
 *
 *   pend (uint64_t, one per bin, written only by the bin's thread):
 *     63                              24 23                 0
 *    +----------------------------------+--------------------+
 *    | count: signed, objects charged   | idx: the bin tag's |
 *    | net (mallocs - frees)            | index              |
 *    +----------------------------------+--------------------+
 *
 *   malloc charged to tag idx == bin tag: pend += AT_PEND_ONE;
 *   free of an object whose entry says idx == bin tag: pend -= AT_PEND_ONE
 *   (whichever thread allocated it: counts may go negative);
 *   malloc charged to another tag: it becomes the bin tag (the old count is
 *   folded); free of another tag's object: it becomes the bin tag only if
 *   the bin's count is 0 (a thread that only frees, such as a consumer,
 *   keeps its frees in its bins too, and a thread that allocates one tag and
 *   frees another does not fold on every operation);
 *   anything else goes to the per-CPU counters as before (charge.h).
 *
 * Invariants:
 *  - the tag's live (bytes, calls) = its per-CPU sum + over every bin of
 *    every heap whose bin tag it is: (count * class size, count).  Readers
 *    (allocinfo, top users, alloctag_read) add the bins' counts, read with one
 *    64-bit load each, so idx and count are always a consistent pair; a read
 *    racing with allocations is as unsynchronised as summing CPUs is, a
 *    quiescent read is exact;
 *  - only *permanent* tags become bin tags: the main executable's and
 *    run-time (dynamic) tags, whose indexes are never released.  A shared
 *    object's tag is charged per CPU, so reclaiming and reusing its index
 *    (module_tags.c) never meets a bin count;
 *  - idx < AT_IDX_FIRST (a fresh bin: 0) counts nothing (malloc and free of
 *    untagged objects leave the word alone; a count there is ignored by
 *    readers and dropped by a fold);
 *  - a bin folds its count into the per-CPU counters (one update) when its
 *    tag changes, when it is refilled or flushed, when its thread exits,
 *    and when the count would overflow its field: malloc and free do the
 *    add as a signed 64-bit add, whose overflow flag is exactly the count's
 *    (the count is the word's top field).  A thread that allocates with one
 *    tag and frees another tag's objects (a consumer) drifts one way for
 *    ever without a refill or flush: without this it would wrap after 2^39
 *    operations, some hours at full speed.
 *
 * Heaps are never unmapped (tcache.c recycles them), and every heap ever made
 * is on the at_all_heaps list, so a reader may walk them at any time.
 */
#ifndef AT_BIN_CHARGE_H
#define AT_BIN_CHARGE_H

#include <stdint.h>

#include "charge.h"
#include "tag_registry.h"

#ifndef AT_PEND_IDX_BITS /* a test build narrows the count to reach its limits */
#define AT_PEND_IDX_BITS 24
#endif
#define AT_PEND_IDX_MASK ((1ull << AT_PEND_IDX_BITS) - 1)
#define AT_PEND_ONE (1ull << AT_PEND_IDX_BITS)
_Static_assert(AT_IDX_MAX <= (1ull << AT_PEND_IDX_BITS), "tag index must fit the pend word");

struct at_bin;
struct at_theap;

static inline uint32_t at_pend_idx(uint64_t w)
{
	return (uint32_t)(w & AT_PEND_IDX_MASK);
}

static inline int64_t at_pend_count(uint64_t w)
{
	return (int64_t)w >> AT_PEND_IDX_BITS;
}

/*
 * A malloc of class cls from bin b charged to idx >= AT_IDX_FIRST that is
 * not the bin tag: make idx the bin tag (folding the old count) if it is
 * permanent, else charge it per CPU.
 */
AT_HIDDEN void at_bin_charge_switch(uint64_t *pend, unsigned int cls, uint32_t idx);
/* Fold *pend's count into the per-CPU counters; the bin keeps its tag. */
AT_HIDDEN void at_bin_charge_fold(uint64_t *pend, unsigned int cls);
/* A free of an object of class cls charged to idx, from bin pend's thread. */
AT_HIDDEN void at_bin_uncharge(uint64_t *pend, unsigned int cls, uint32_t idx);

/* *w + AT_PEND_ONE (malloc) or - AT_PEND_ONE (free) into *out; nonzero if the
 * count would overflow (the caller folds instead). */
static inline int at_pend_inc(uint64_t w, uint64_t *out)
{
	int64_t r;
	int o = __builtin_add_overflow((int64_t)w, (int64_t)AT_PEND_ONE, &r);
	*out = (uint64_t)r;
	return o;
}

static inline int at_pend_dec(uint64_t w, uint64_t *out)
{
	int64_t r;
	int o = __builtin_sub_overflow((int64_t)w, (int64_t)AT_PEND_ONE, &r);
	*out = (uint64_t)r;
	return o;
}
/* The bins' part of tag idx's counters (walks every heap). */
AT_HIDDEN struct alloctag_counters at_bin_charges_of(uint32_t idx);
/*
 * For a reader walking the indexes [AT_IDX_FIRST, end) in order, registry
 * lock held: gather adds every bin's count below end into a scratch table
 * (one walk of the heaps); take(i) returns tag i's part and zeroes it.  The
 * reader must take every i in the range.  If the table cannot be mapped,
 * take(i) walks the heaps for i instead (slower, equally exact).
 */
AT_HIDDEN void at_bin_charges_gather(uint32_t end);
AT_HIDDEN struct alloctag_counters at_bin_charges_take(uint32_t idx);

#endif
