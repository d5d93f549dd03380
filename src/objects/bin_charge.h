/*
 * Bin charges: small-object charges kept in the thread-cache bin's own
 * object count, folded into the per-CPU counters later.
 *
 * Why: in churn-like workloads almost every malloc of a size class is
 * charged to the same tag as the free before it; two per-CPU counter updates
 * per malloc/free pair (rseq sequences, each a load-add-store on the tag's
 * slot) were most of profiling's cost over `never`, and even a separate
 * count in the bin (one more load-add-store per malloc and per free) cost
 * 10% on bench/malloc churn.  So the count a bin keeps anyway carries it.
 *
 * A bin's state word (uint64_t; written only by the bin's thread, each
 * change one 64-bit store, so a reader's one load sees a consistent word):
 *
 *   63                  S S-1                   16 15             0
 *  +---------------------+-------------------------+---------------+
 *  | tag: the bin tag's  | off: signed,            | count: free   |
 *  | index plus one      | AT_BIN_OFF_BITS bits     | objects held  |
 *  +---------------------+-------------------------+---------------+
 *   (S = AT_BIN_TAG_SHIFT = 16 + AT_BIN_OFF_BITS)
 *
 * The tag field holds the index plus one: a narrow entry's form (slab.h),
 * so that free compares an object's entry with the bin's field as it is
 * (at_bin_nent_is), a free slot's entry (0) matching no bin, and the
 * preload library's chain compares the narrow entry it writes.
 *
 * The net number of objects of the bin's class charged to the bin tag
 * through this bin (mallocs minus frees, from any thread's objects) is
 *
 *     pend = off - count
 *
 * so the common operations change nothing but the count:
 *   malloc charged to the bin tag        count - 1        (pend + 1)
 *   free of an object of the bin tag     count + 1        (pend - 1)
 * and everything else moves off with count, so that pend stays:
 *   refill of n objects, flush of k      count, off + n / - k
 *   malloc charged elsewhere             count - 1, off - 1 (per CPU, if tagged)
 *   free of another tag's object         count + 1, off + 1 (its uncharge, a
 *                                        fold of -1 for a permanent tag, per
 *                                        CPU for any other)
 *   fold                                 pend into the tag's counters, off = count
 *
 * A fold goes per CPU, or, once the process has forked, to the heap's fold
 * cache (fold_cache.h), which keeps a tag's folds until it spills them
 * into the per-CPU counters.
 *
 * The bin tag changes (at_bin_pop, at_bin_push):
 *   malloc charged to a permanent tag (below): fold, switch; to none (or the
 *   empty reference): switch only if pend is 0, so untagged allocations
 *   between tagged ones do not fold each time;
 *   free of such an object: switch only if pend is 0 (a thread that only
 *   frees, a consumer, keeps its frees in its bins too; a thread that
 *   allocates one tag and frees another does not fold on every operation).
 *
 * Invariants:
 *  - a tag's live (bytes, calls) = its per-CPU sum + over every bin of every
 *    heap whose bin tag it is: (pend * class size, pend) + its entries in
 *    every heap's fold cache.  Readers (allocinfo, top users,
 *    alloctag_read) add the bins' and the fold caches' part.  A read
 *    racing with allocations is as unsynchronised as summing CPUs is; a
 *    quiescent read is exact;
 *  - only *permanent* tags are bin tags: the main executable's and run-time
 *    (dynamic) tags, whose indexes are never released, up to index
 *    AT_OBJ_NARROW_MAX (slab.h: so a bin tag always fits a narrow entry).
 *    A shared object's tag is charged per CPU, so reclaiming and reusing
 *    its index (module_tags.c) never meets a bin's count;
 *  - a bin tag < AT_IDX_FIRST (0 in a fresh bin, and under `never`) counts
 *    nothing: its pend is ignored by readers and dropped by a fold;
 *  - off stays in its field: only the slow operations change it, and one
 *    that would take it out folds first (after a fold |off| = count <= cap).
 *    The fast paths never change off, so they need no check;
 *  - a thread folds its bins when it exits;
 *  - a new bin's tag is AT_IDX_EMPTY, and in debug mode a free never makes
 *    AT_IDX_NULL the bin tag (a malloc cannot: debug mode records EMPTY),
 *    so that a free of an object with no reference always reaches the slow
 *    path and its check (debug.c).
 *
 * Cumulative counts (a call-chain tag's bytes and calls allocated since
 * start, counters.h): the preload library's mallocs served by a bin whose
 * tag is their chain's add one to the bin's 16-bit `cum` (at_bin_cum_inc:
 * one add to memory, no per-CPU sequence), so that
 *
 *     a tag's cumulative (bytes, calls) = its per-CPU cumulative sum
 *         + over every bin whose bin tag it is: (cum * class size, cum)
 *         + its entries in every heap's fold cache
 *         + what the call chains' memos hold (chains.h)
 *
 * cum counts only mallocs charged to the bin's current tag; it is folded
 * into the tag's cumulative counters with its pend (and zeroed) before the
 * bin's tag changes (at_bin_pop, at_bin_push), when it wraps (65536 calls at
 * once, at_bin_cum_wrap) and when the thread exits (at_bin_fold).  Readers
 * (sites_each.c) add the bins' part (at_bin_cum); a read racing with a
 * fold may see a count twice or not at all, as a read racing with the
 * memos' folds may; a quiescent read is exact.
 *
 * Heaps are never unmapped (tcache.c recycles them), and every heap ever made
 * is on the at_all_heaps list, so a reader may walk them at any time.
 */
#ifndef AT_BIN_CHARGE_H
#define AT_BIN_CHARGE_H

#include <stdint.h>

#include "store/charge.h"
#include "core/tag_registry.h"

#ifndef AT_BIN_OFF_BITS /* a test build narrows off to reach its limits */
#define AT_BIN_OFF_BITS 24
#endif
#define AT_BIN_TAG_SHIFT (16 + AT_BIN_OFF_BITS)
#define AT_BIN_OFF_MAX ((1ll << (AT_BIN_OFF_BITS - 1)) - 1)
#define AT_BIN_OFF_MASK ((1ull << AT_BIN_OFF_BITS) - 1)
_Static_assert(AT_IDX_MAX < (1ull << (64 - AT_BIN_TAG_SHIFT)), "tag index plus one must fit the word");
_Static_assert(AT_BIN_OFF_MAX >= 256, "off must hold a full bin's count");

static inline unsigned int at_bin_count(uint64_t w)
{
	return (uint16_t)w;
}

static inline uint32_t at_bin_tag(uint64_t w)
{
	return (uint32_t)(w >> AT_BIN_TAG_SHIFT) - 1;
}

/* The count of bin word *word, read alone (little-endian: its first two
 * bytes), where the fast paths need it as an index: one load, not a copy of
 * the word and a mask. */
static inline uintptr_t at_bin_count_at(const uint64_t *word)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	typedef uint16_t __attribute__((may_alias)) u16_alias;
	return *(const u16_alias *)word;
#else
	return at_bin_count(*word);
#endif
}

/* The tag field of bin word *word (the tag plus one: the narrow entry of
 * the bin's objects), read alone: a bin tag fits a narrow entry (its
 * field's top 8 bits are 0: below), so its field's low 16 bits
 * (little-endian: the word's bytes 5 and 6) are all of it; one load, not a
 * copy and a shift. */
static inline uint32_t at_bin_nent_at(const uint64_t *word)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && AT_BIN_TAG_SHIFT == 40
	typedef uint16_t __attribute__((may_alias, aligned(1))) u16_unaligned;
	return *(const u16_unaligned *)((const char *)word + 5);
#else
	return at_bin_tag(*word) + 1;
#endif
}

/* The tag of bin word *word, read alone (at_bin_nent_at less one). */
static inline uint32_t at_bin_tag_narrow_at(const uint64_t *word)
{
	return at_bin_nent_at(word) - 1;
}

/* The fast paths' count update, *word + d (only the bin's own thread
 * writes it): on x86-64 one add to memory, which is what a relaxed store of
 * a loaded word plus d compiles to there, less the load. */
static inline void at_bin_word_add(uint64_t *word, int d)
{
#if defined(__x86_64__)
	__asm__("addq %1, %0" : "+m"(*word) : "er"((int64_t)d));
#else
	AT_STORE_RELAXED(word, *word + (uint64_t)(int64_t)d);
#endif
}

/*
 * Whether the tag of bin word *word is the one narrow entry nent (an
 * object's entry: the tag index plus one, 0 for a free slot) is charged
 * to.  A bin tag fits a narrow entry (above), so its field's top 8 bits
 * are 0 and its low 16 bits (the word's bytes 5 and 6, little-endian)
 * decide: on x86-64 one compare of them in memory, not a load, shift and
 * compare.  No bin's field is 0: a free slot's entry matches none.
 */
static inline int at_bin_nent_is(const uint64_t *word, uint32_t nent)
{
#if defined(__x86_64__) && defined(__GCC_ASM_FLAG_OUTPUTS__) && AT_BIN_TAG_SHIFT == 40
	typedef uint16_t __attribute__((may_alias)) u16_alias;
	int eq;
	__asm__("cmpw %w1, %2" : "=@cce"(eq)
		: "ri"(nent), "m"(*(const u16_alias *)((const char *)word + 5)));
	return eq;
#else
	return at_bin_tag(*word) + 1 == nent;
#endif
}

/* Whether the tag of bin word *word is ti <= AT_OBJ_NARROW_MAX. */
static inline int at_bin_tag_is_narrow(const uint64_t *word, uint32_t ti)
{
	return at_bin_nent_is(word, ti + 1);
}

static inline int64_t at_bin_off(uint64_t w)
{
	return (int64_t)(w << (64 - AT_BIN_TAG_SHIFT)) >> (64 - AT_BIN_OFF_BITS);
}

static inline int64_t at_bin_pend(uint64_t w)
{
	return at_bin_off(w) - (int64_t)at_bin_count(w);
}

static inline uint64_t at_bin_word(uint32_t tag, int64_t off, unsigned int count)
{
	return (uint64_t)(tag + 1) << AT_BIN_TAG_SHIFT | ((uint64_t)off & AT_BIN_OFF_MASK) << 16 | count;
}

/*
 * One malloc charged to the bin's tag, in the bin's cumulative count *cum
 * (the bin's own thread; an add to memory, whole before a signal handler
 * can run): nonzero when it wrapped, and the caller calls at_bin_cum_wrap.
 */
static inline int at_bin_cum_inc(uint16_t *cum)
{
#if defined(__x86_64__) && defined(__GCC_ASM_FLAG_OUTPUTS__)
	int wrapped;
	__asm__("addw $1, %0" : "+m"(*cum), "=@ccc"(wrapped));
	return wrapped;
#else
	uint16_t c = (uint16_t)(AT_LOAD_RELAXED(cum) + 1);
	AT_STORE_RELAXED(cum, c);
	return c == 0;
#endif
}

/* The cumulative count of bin *word wrapped: 65536 calls to its tag's
 * per-CPU cumulative counters. */
AT_HIDDEN void at_bin_cum_wrap(uint64_t *word, unsigned int cls);
/* Add every bin's cumulative count to sums[its tag] (sums: one counter per
 * index), or, with sums NULL, those of tag idx to *one. */
AT_HIDDEN void at_bin_cum(struct alloctag_counters *sums, uint32_t idx,
			  struct alloctag_counters *one);

/* A malloc from bin *word (count >= 1) charged to ti, any case but the
 * bin tag's (which is *word - 1). */
AT_HIDDEN void at_bin_pop(uint64_t *word, unsigned int cls, uint32_t ti);
/* A free into bin *word (count < cap) of an object charged to ti. */
AT_HIDDEN void at_bin_push(uint64_t *word, unsigned int cls, uint32_t ti);
/* n free objects came into the bin (refill, n > 0) or left it (flush, n < 0). */
AT_HIDDEN void at_bin_fill(uint64_t *word, unsigned int cls, int n);
/* Fold the bin's pend and cumulative count into the per-CPU counters; the
 * bin keeps its tag. */
AT_HIDDEN void at_bin_fold(uint64_t *word, unsigned int cls);
/* The bins' part of tag idx's counters (walks every heap). */
AT_HIDDEN struct alloctag_counters at_bin_charges_of(uint32_t idx);
/*
 * For a reader walking the indexes [AT_IDX_FIRST, end) in order, registry
 * lock held: gather adds every bin's pend below end into a scratch table
 * (one walk of the heaps); take(i) returns tag i's part and zeroes it.  The
 * reader must take every i in the range.  If the table cannot be mapped,
 * take(i) walks the heaps for i instead (slower, equally exact).
 */
AT_HIDDEN void at_bin_charges_gather(uint32_t end);
AT_HIDDEN struct alloctag_counters at_bin_charges_take(uint32_t idx);
/* A snapshot process (live/live_read.c) whose copy may hold a walk's
 * half-taken table: zero it (below the last walk's end). */
AT_HIDDEN void at_bin_charges_forget(void);

#endif
