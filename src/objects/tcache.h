/*
 * Thread caches: each thread's stock of free small objects (one bin per size
 * class) and of free large blocks (orders AT_LC_MIN..AT_LC_MAX).
 *
 * A bin is a LIFO array of object pointers in the thread's heap (struct
 * at_theap, mmap'd: out of band).  malloc pops, free pushes whatever thread
 * allocated the object (a cross-thread free is an ordinary push: no atomic
 * operation, no lock).  An empty bin takes `cap / 2` objects from the central
 * list of its class; a full bin gives its older half back (slab.c).  Objects
 * in a bin are free: their reference entries are 0 (slab.h).
 *
 * Large blocks freed by the thread are kept, at most AT_LC_N per order and
 * AT_LC_BYTES in all; a cached block keeps AT_PG_HEAD in the page allocator
 * and has AT_PG_OWNER1 set ("free, in a cache"), its tag reference cleared
 * (the empty reference in debug mode, debug.c) and uncharged.  Anything
 * else goes back to the page allocator (at_page_release, which purges it
 * later).  Decay: a block cached for more than AT_LC_DECAY_MS is
 * released (checked, at most every AT_LC_DECAY_MS / 4, when the thread frees
 * a large block), so a thread's cached memory follows its recent peak;
 * releasing on every free instead costs a page fault per page on reuse.
 *
 * at_tls_heap: NULL before the thread's first small allocation,
 * AT_THEAP_DEAD after its cache was flushed at thread exit (later calls in
 * that thread go to the central lists directly), else the heap.
 * Caches are bounded (cap objects of at most 64 KiB per bin in all), and
 * flushed when the thread exits.
 *
 * A heap's pages: the first holds the bins' words and the fold cache
 * (fold_cache.h), written by every thread that allocates; then the slots
 * area (below); the last holds the large-block caches.
 *
 * The slots area (slots[], page aligned) is laid out in half pages: the
 * low half of each page holds slots, the high half the entry addresses of
 * those slots (at_bin_ents: half a page above), and no bin's region
 * straddles a half page, so that a push or a pop writes one page of the
 * area, its slot and its entry address together.
 *
 * A bin's first region: a new heap's bins start with AT_BIN_FIRST slots
 * each (cap AT_BIN_FIRST, or the class's whole cap when that is smaller),
 * the first regions of AT_BIN_FIRST_PER classes in one page, classes 1-16
 * in the first (at_bin_first_slots: 3 pages in all), so that a thread that
 * allocates a few objects of many classes touches those, not a page per
 * class.  A bin moves to its own region of the class's whole cap (after
 * the first regions, in class order, each in the first half page from
 * there with room for it; its objects and entry addresses copied, `slots`
 * and `cap` changed by its thread, which alone reads them) when it would
 * flush a full first region, or at its AT_BIN_GROW_REFILLS-th refill.
 *
 * A bin's count shares a word with the charges of its class's objects to
 * one tag, folded into the per-CPU counters later (bin_charge.h): every
 * change of the count is one of the word operations that file lists.  Once
 * the process has forked, the folds go first to the heap's fold cache
 * (fold_cache.h), in the heap's first page with the bins' words.
 */
#ifndef AT_TCACHE_H
#define AT_TCACHE_H

#include "core/thread_block.h"
#include "objects/bin_charge.h"
#include "objects/fold_cache.h"
#include "objects/slab.h"

#define AT_BIN_MAX 128u
#define AT_BIN_FIRST 16u
#define AT_BIN_GROW_REFILLS 4u
_Static_assert(AT_BIN_MAX / 2 == AT_BIN_HALF_MAX, "a bin's half fits a transfer slot");
_Static_assert(AT_BIN_MAX <= 255, "a bin's cap fits its byte");
#define AT_LC_MIN 3u
_Static_assert(AT_COLD_MAX_ORDER < AT_LC_MIN, "no thread caches a cold object's block (slab.h)");
#define AT_LC_MAX 9u /* 2 MiB: no cached block is larger than AT_LC_BYTES */
#define AT_LC_N 16u
#define AT_LC_BYTES (2ul << 20) /* sqlite3: 6 MB of its peak sat here at 32 MiB, 2.4 MB at 4 MiB, none at 2 */
#define AT_LC_DECAY_MS 1000u
#define AT_THEAP_DEAD ((struct at_theap *)1)

struct at_bin {
	uint64_t word; /* count of objects held, and the bin's charges (bin_charge.h) */
	void **slots;  /* slots[0 .. count), each object's narrow entry at
			  at_bin_ents(slots)[i] */
	uint32_t magic; /* at_class_magic[class] */
	uint8_t cap;     /* at most AT_BIN_MAX: a count compares with it as a byte */
	uint8_t refills; /* refills made in its first region (see above) */
	uint16_t cum;    /* the bin tag's cumulative count (bin_charge.h) */
	uint64_t site; /* the preload library's site key (preload.c); 32 bytes in
			  all: a bin never straddles two cache lines */
};
_Static_assert(sizeof(struct at_bin) == 32 && sizeof(struct at_bin) == AT_BIN_BYTES, "bin size");

struct at_lcache {
	unsigned int count;
	void *blk[AT_LC_N];      /* oldest first */
	uint32_t when[AT_LC_N]; /* at_now_ms() when cached */
};

struct at_theap {
	struct at_bin bins[AT_NR_CLASSES]; /* first: 32-byte aligned */
	/* the large-block caches, order o's at at_lc(h, o): in the heap's last
	   page, which only a thread that frees large blocks touches (lbytes 0:
	   every cache empty, and nothing reads the page) */
	struct at_lcache *lc;
	size_t lbytes;
	uint32_t last_decay;
	struct at_theap *next_free;
	struct at_theap *next_all; /* every heap ever made, for bin_charge.c's readers */
	void *secure_q; /* ALLOCTAG_SECURE's quarantine (secure.c), NULL until used */
	unsigned char folded; /* an entry of folds[] was ever taken */
	struct at_fold_set folds[AT_FOLD_SETS] __attribute__((aligned(32))); /* fold_cache.h */
	/* the bins' slots and their entry addresses, from the heap's second
	   page, in half pages (above) */
	void *slots[] __attribute__((aligned(AT_PAGE_SIZE)));
};

/* Heap h's cache of blocks of order o (AT_LC_MIN <= o <= AT_LC_MAX). */
static inline struct at_lcache *at_lc(struct at_theap *h, unsigned int o)
{
	return &h->lc[o - AT_LC_MIN];
}

/*
 * Entry addresses: next to each object in a bin, the address of its narrow
 * reference entry (slab.h at_obj_entry_of, whatever the slab's width), kept
 * AT_BIN_ENTS slots (half a page) above the object's own slot, in the same
 * page (the layout above), so that malloc's fast path
 * writes the entry with no index or window computation (one load, at a
 * constant displacement from the object's): free computes the address to
 * check the entry anyway, a refill computes its batch's.  A wide slab's
 * object is never taken by the fast paths (AT_SLOW_WIDE), so its entry
 * address is never used.
 */
#define AT_BIN_ENTS (AT_PAGE_SIZE / 2 / sizeof(void *))
#define AT_BIN_FIRST_PER (AT_BIN_ENTS / AT_BIN_FIRST)
_Static_assert(AT_BIN_MAX <= AT_BIN_ENTS, "a bin's region fits a half page");
_Static_assert(offsetof(struct at_theap, slots) == AT_PAGE_SIZE, "the heap's header is its first page");

/* Bin cls's first region in heap h (the layout above). */
static inline void **at_bin_first_slots(struct at_theap *h, unsigned int cls)
{
	unsigned int k = cls - 1;
	return h->slots + (k / AT_BIN_FIRST_PER) * 2 * AT_BIN_ENTS + (k % AT_BIN_FIRST_PER) * AT_BIN_FIRST;
}
/* Where the regions of their own begin, in slots from h->slots. */
#define AT_BIN_FIRST_END (((AT_NR_CLASSES - 2) / AT_BIN_FIRST_PER + 1) * 2 * AT_BIN_ENTS)

static inline uint16_t **at_bin_ents(void **slots)
{
	return (uint16_t **)(slots + AT_BIN_ENTS);
}

extern AT_HIDDEN struct at_theap *at_all_heaps;

extern AT_HIDDEN __thread struct at_theap *at_tls_heap __attribute__((tls_model("initial-exec")));
/*
 * The fast paths' view of the same: at_tls_heap's bins while the thread has
 * a heap, else (before its first small allocation, after its exit) the
 * empty bins at_bins_none (read-only: count 0, cap 0), where a malloc finds
 * no object and a free no room, so that neither tests for a heap: at_tls_bins,
 * a word of the thread block (core/thread_block.h).
 */
extern AT_HIDDEN const struct at_bin at_bins_none[AT_NR_CLASSES];

/* Whether a request of n bytes is a small object's, with its class's bin
 * of the thread's bins (at_tls_bins) in *b: the sizes up to 1 KiB, the most
 * frequent, by one compare and at_bin_direct's offset (no rounding of n, no
 * shift of the class), those up to 8 KiB by a second compare and
 * at_bin_small's; as at_small_class. */
static inline __attribute__((always_inline)) int at_small_bin(size_t n, struct at_bin **b)
{
	if (__builtin_expect(n <= AT_BIN_DIRECT_MAX, 1)) {
		*b = (struct at_bin *)((char *)at_tls_bins + at_bin_direct[n]);
		return 1;
	}
	if (__builtin_expect(n <= 8192, 1)) {
		*b = (struct at_bin *)((char *)at_tls_bins + at_bin_small[(n + 15) >> 4]);
		return 1;
	}
	if (__builtin_expect(n <= AT_SMALL_MAX, 1)) {
		*b = &at_tls_bins[at_class_mid[(n - 1) >> 8]];
		return 1;
	}
	return 0;
}

/* The calling thread's heap, creating it; NULL if dead or out of memory. */
AT_HIDDEN struct at_theap *at_theap_get(void);
/* Refill bin cls; 0 on ENOMEM. */
AT_HIDDEN int at_bin_refill(struct at_theap *h, unsigned int cls);
/* Bin cls is full: give its older half back. */
AT_HIDDEN void at_bin_flush(struct at_theap *h, unsigned int cls);
AT_HIDDEN int at_malloc_init(void);
/* Cache large block p of order o (free, uncharged, AT_PG_OWNER1 set). */
AT_HIDDEN void at_lcache_put(struct at_theap *h, void *p, unsigned int order);
AT_HIDDEN uint32_t at_now_ms(void);
/* Give the calling thread's cached objects (to their slabs) and large
 * blocks (to the page allocator) back (malloc_trim); returns the blocks'
 * bytes. */
AT_HIDDEN size_t at_theap_trim(void);

#endif
