/*
 * The page heap and its per-page descriptors.
 *
 * The heap is one virtual range of at most AT_HEAP_SIZE bytes (PROT_NONE
 * until used), cut into AT_NR_ARENAS arenas of AT_ARENA_SIZE bytes, each a
 * buddy allocator of its own (page_alloc.c).  Of it, [at_heap_base,
 * at_heap_base + at_heap_span) is reserved: all AT_HEAP_SIZE bytes when the
 * address space is not limited, else AT_HEAP_GROW_STEP at first and more,
 * a step or what a block needs at a time, whenever the arenas are full and
 * the limit allows (page_alloc.c, "Reservation"); an arena's blocks lie
 * below the span's end.  A page is 4096 bytes; its page frame number (pfn) is its
 * offset from the heap base divided by 4096, and indexes the descriptor
 * array at_pages[] (reserved alongside, 16 bytes per page, committed by the
 * kernel on first touch).
 *
 * Descriptor flags word (64 bits), the kernel's page->flags in miniature:
 *
 *   63                        27 26        19 18     13 12     8 7        0
 *  +----------------------------+------------+---------+--------+----------+
 *  | spare: tag index           | size class | arena   | order  | flags    |
 *  | (AT_NR_SPARE_BITS = 37)    | (8)        | (6)     | (5)    | (8)      |
 *  +----------------------------+------------+---------+--------+----------+
 *
 * flags:  AT_PG_BUDDY  head page of a free block (on a free list)
 *         AT_PG_HEAD   head page of an allocated block
 *         AT_PG_SLAB   the block belongs to the small-object allocator
 *         AT_PG_NO_CODETAG  allocated for alloctag's own bookkeeping: never
 *                      charged, never recorded as an early page
 *         AT_PG_EARLY  allocated before the tag store was ready
 *         AT_PG_OWNER1, AT_PG_OWNER2  for the block's owner
 *         AT_PG_DIRTY  (with BUDDY) the free block's memory may still be
 *                      resident: released by at_page_release, not yet purged
 *         AT_PG_ZERO   (with BUDDY; the bit of AT_PG_OWNER1, which only an
 *                      allocated block uses) every byte of the free block is
 *                      0: never handed out since its chunk was committed, or
 *                      purged since (MADV_DONTNEED); a merge keeps it only if
 *                      both halves have it, a split gives it to both.  What
 *                      calloc of a large block skips the memset for
 * order:  log2 of the block's size in pages (valid with BUDDY or HEAD)
 * arena:  the arena the page belongs to
 * class:  owner data (the small-object allocator's size class)
 * spare:  whatever is left; the compressed tag reference store keeps the tag
 *         index of an allocated block's head page here (tag_ref.h).
 *
 * Who writes the flags word: a free block's head, and a block being allocated
 * or freed, only under its arena's lock, with plain atomic stores (nobody
 * else may touch a page that is not allocated).  An allocated block's head is
 * changed only with atomic read-modify-write operations (owner flags with
 * fetch_or/fetch_and, the tag index with a compare-and-swap loop), so that no
 * concurrent change is lost.
 */
#ifndef AT_PAGE_H
#define AT_PAGE_H

#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"

#define AT_PAGE_SHIFT 12
#define AT_PAGE_SIZE (1ul << AT_PAGE_SHIFT)
#define AT_MAX_ORDER ALLOCTAG_MAX_ORDER
#define AT_ARENA_SHIFT (AT_PAGE_SHIFT + AT_MAX_ORDER) /* 1 GiB */
#define AT_ARENA_SIZE (1ul << AT_ARENA_SHIFT)
#define AT_NR_ARENAS_BITS 6
#define AT_NR_ARENAS (1u << AT_NR_ARENAS_BITS)
#define AT_HEAP_SIZE (AT_ARENA_SIZE * AT_NR_ARENAS) /* 64 GiB of address space */
#define AT_HEAP_PAGES (AT_HEAP_SIZE >> AT_PAGE_SHIFT)
/* Under an address-space limit the heap's reservation grows by this much
 * at a time, or by what a block needs (page_alloc.c, Reservation). */
#define AT_HEAP_GROW_STEP (64ul << 20)

#define AT_PG_BUDDY (1ull << 0)
#define AT_PG_HEAD (1ull << 1)
#define AT_PG_SLAB (1ull << 2)
#define AT_PG_NO_CODETAG (1ull << 3)
#define AT_PG_EARLY (1ull << 4)
#define AT_PG_OWNER1 (1ull << 5)
#define AT_PG_OWNER2 (1ull << 6)
#define AT_PG_DIRTY (1ull << 7)
#define AT_PG_ZERO AT_PG_OWNER1 /* with AT_PG_BUDDY only */
/* Purging dirty free blocks (page_alloc.c): size and time rules. */
#define AT_PURGE_PAGES 8192u /* 32 MiB per arena, or half the committed heap if more */
#define AT_PURGE_MS 1000u
#define AT_PURGE_AGE_MS 100u /* a dirty block released more recently is kept */
#define AT_NR_PAGEFLAGS 8

#define AT_ORDER_SHIFT AT_NR_PAGEFLAGS
#define AT_ORDER_BITS 5
#define AT_ARENA_ID_SHIFT (AT_ORDER_SHIFT + AT_ORDER_BITS)
#define AT_CLASS_SHIFT (AT_ARENA_ID_SHIFT + AT_NR_ARENAS_BITS)
#define AT_CLASS_BITS 8
#define AT_NR_NON_TAG_BITS (AT_CLASS_SHIFT + AT_CLASS_BITS)
/* The kernel's NR_UNUSED_PAGEFLAG_BITS: what the layout leaves over. */
#define AT_NR_SPARE_BITS (64 - AT_NR_NON_TAG_BITS)
#define AT_SPARE_SHIFT AT_NR_NON_TAG_BITS

/* A dirty free block's head: the time of its last release (ms, mod 2^32). */
#define AT_PG_RELEASED_SHIFT AT_SPARE_SHIFT
#define AT_PG_RELEASED_MASK (0xffffffffull << AT_PG_RELEASED_SHIFT)
#define at_pg_released(flags) ((uint32_t)((flags) >> AT_PG_RELEASED_SHIFT))
_Static_assert(AT_NR_SPARE_BITS >= 32, "no room for a free block's release time");

#define AT_FIELD(flags, shift, bits) (((flags) >> (shift)) & ((1ull << (bits)) - 1))
#define AT_ORDER_MASK (((1ull << AT_ORDER_BITS) - 1) << AT_ORDER_SHIFT)
#define AT_CLASS_MASK (((1ull << AT_CLASS_BITS) - 1) << AT_CLASS_SHIFT)

_Static_assert(AT_MAX_ORDER < (1u << AT_ORDER_BITS), "order field too narrow");
_Static_assert(AT_NR_SPARE_BITS > 0, "no spare bits left");

struct at_page {
	uint64_t flags;
	union {
		struct {
			uint32_t next, prev; /* free list links (pfns), valid with AT_PG_BUDDY */
		};
		uint16_t *ents; /* a slab's head page: the address of its objects'
				   reference entries (objects/slab.h) */
		uint64_t cls; /* a slab's second page: its class's magic number
				 and bin offset in one word (objects/slab.h) */
	};
};

#define AT_PFN_NIL UINT32_MAX

/*
 * at_heap_base before the heap is reserved (or if it could not be): an
 * address no user pointer lies within AT_HEAP_SIZE above.  at_heap_span is
 * 0 until then and only grows, so that
 * `(uintptr_t)p - (uintptr_t)at_heap_base < at_heap_span` alone tells a
 * heap pointer, with no separate "is there a heap" test.
 */
#define AT_HEAP_UNSET ((char *)(1ull << 63))
extern AT_HIDDEN char *at_heap_base;
extern AT_HIDDEN size_t at_heap_span;
extern AT_HIDDEN struct at_page *at_pages;

static inline unsigned int at_page_order(uint64_t flags)
{
	return (unsigned int)AT_FIELD(flags, AT_ORDER_SHIFT, AT_ORDER_BITS);
}

/* The pfn of addr, or AT_PFN_NIL if addr is not in the heap. */
static inline uint32_t at_addr_to_pfn(const void *addr)
{
	uintptr_t off = (uintptr_t)addr - (uintptr_t)at_heap_base;
	if (off >= AT_LOAD_RELAXED(&at_heap_span))
		return AT_PFN_NIL;
	return (uint32_t)(off >> AT_PAGE_SHIFT);
}

static inline void *at_pfn_to_addr(uint32_t pfn)
{
	return at_heap_base + ((size_t)pfn << AT_PAGE_SHIFT);
}

/* Owner flags of an allocated block's head, changed atomically. */
static inline void at_page_set_flags(struct at_page *pg, uint64_t bits)
{
	__atomic_fetch_or(&pg->flags, bits, __ATOMIC_RELAXED);
}

static inline void at_page_clear_flags(struct at_page *pg, uint64_t bits)
{
	__atomic_fetch_and(&pg->flags, ~bits, __ATOMIC_RELAXED);
}

/* Set the size class field of an allocated block's head. */
static inline void at_page_set_class(struct at_page *pg, unsigned int cls)
{
	uint64_t old = __atomic_load_n(&pg->flags, __ATOMIC_RELAXED), nf;
	do {
		nf = (old & ~AT_CLASS_MASK) | ((uint64_t)cls << AT_CLASS_SHIFT);
	} while (!__atomic_compare_exchange_n(&pg->flags, &old, nf, 1, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
}

/* Page allocator internals (page_alloc.c). */
AT_HIDDEN int at_heap_init(void);
/* Allocate a block; extra_flags are ORed into the head's flags (AT_PG_*). */
AT_HIDDEN void *at_page_alloc_raw(unsigned int order, uint64_t extra_flags);
/* at_page_alloc_raw, the block not charged: *ref gets the reference the
 * block records once the tag store is ready (AT_REF_NONE before), which the
 * caller charges (a cold object: objects/slab.c). */
AT_HIDDEN void *at_page_alloc_uncharged(unsigned int order, uint64_t extra_flags,
					struct alloc_tag **ref);
/* at_page_alloc_raw(order, 0), *zero set to 1 if every byte of the block is
 * known to be 0 (AT_PG_ZERO: calloc needs no memset), else 0. */
AT_HIDDEN void *at_page_alloc_zeroed(unsigned int order, int *zero);
AT_HIDDEN void at_page_free_raw(void *addr, unsigned int order);
/*
 * at_page_free_raw for memory to give back to the system: the block becomes
 * a dirty free block (page_alloc.c, "Purging"), reusable at once without a
 * page fault, and is purged (MADV_DONTNEED) later.
 */
AT_HIDDEN void at_page_release(void *addr, unsigned int order);
/*
 * Grow allocated block addr of `order` in place to new_order by absorbing
 * its free buddies (addr must be aligned to the new size and each buddy
 * free and whole): 1 done, 0 not possible (nothing changed).  The head keeps
 * its flags (tag reference included) but the order; counters are the
 * caller's business.
 */
AT_HIDDEN int at_page_grow(void *addr, unsigned int order, unsigned int new_order);
/* The allocated block head of addr, or abort with a message naming addr. */
AT_HIDDEN struct at_page *at_page_checked(const void *addr, unsigned int order, const char *what);
/*
 * A reservation beside the heap, as large as the heap's, for the
 * small-object metadata windows (objects/slab.h), read-write, committed on
 * first touch.  Without a limit, reserved whole with the heap; under one,
 * mapped as a prefix as the windows take it (at_heap_shadow_cover,
 * page_alloc.c, Reservation).  0, or -ENOMEM.
 */
AT_HIDDEN int at_heap_add_shadow(char **basep);
/* The shadow's first end bytes mapped (at once without a limit): 0, or
 * -ENOMEM (the limit, or past the shadow's size).  Under a class lock
 * (slab.c). */
AT_HIDDEN int at_heap_shadow_cover(size_t end);
/*
 * The runtime metadata carved from the heap's reservation (page_alloc.c,
 * Reservation): the page descriptors, and, unless at_heap_plan(0) was
 * called before at_heap_init, the tag registry's table, the counters and
 * the shared-object tag area.
 * at_heap_meta gives a part's memory (read-write, zero, committed on first
 * touch) when the reservation made room for it with exactly `bytes`, else
 * NULL (its owner maps its own).
 */
enum { AT_META_PAGES, AT_META_REGISTRY, AT_META_COUNTERS, AT_META_AREA, AT_META_KINDS };
AT_HIDDEN void at_heap_plan(int profiling);
AT_HIDDEN void *at_heap_meta(unsigned int which, size_t bytes);
/* The part's memory: at_heap_meta's, else a mapping of its own (read-write,
 * MAP_NORESERVE); MAP_FAILED when neither can be had. */
AT_HIDDEN void *at_meta_map(unsigned int which, size_t bytes);
/* [p, p + len) of a part made usable before it is touched, and the
 * registry entries and counters of tag indexes [0, end): under an
 * address-space limit the tag area, the registry's table and the counters
 * are mapped as they are used (page_alloc.c, Reservation); the tag area
 * covers its slots' indexes itself.  0, or -ENOMEM.  at_registry_lock
 * held. */
AT_HIDDEN int at_meta_cover(const void *p, size_t len);
AT_HIDDEN int at_meta_cover_idx(uint32_t end);
/* Nonzero once the heap's reservation could not grow (the address-space
 * limit, or the range above it taken): large blocks the heap refuses are
 * then mapped directly (malloc.c). */
AT_HIDDEN int at_heap_full(void);
/* Bytes the heap may commit (ALLOCTAG_HEAP_MAX), 0 = no limit. */
AT_HIDDEN void at_heap_set_limit(size_t bytes);
AT_HIDDEN size_t at_heap_committed(void);
/* Fork and the store switch (lent to store_migrate.c as struct
 * at_store_pages): take every lock / one block's arena lock;
 * visit every allocated head with every lock held. */
AT_HIDDEN void at_page_lock_all(void);
AT_HIDDEN void at_page_unlock_all(void);
AT_HIDDEN void at_page_lock_pfn(uint32_t pfn);
AT_HIDDEN void at_page_unlock_pfn(uint32_t pfn);
AT_HIDDEN void at_page_each_head(void (*fn)(uint32_t pfn, uint64_t flags, void *ctx), void *ctx);

/*
 * Introspection (the malloc family's mallinfo2, malloc_trim, mallopt):
 * the free blocks and the dirty bytes (released, not yet purged nor
 * handed out again; every lock held, as for at_page_each_head); purge
 * every dirty free block now, returning the bytes purged; the dirty bytes
 * an arena may hold before a release purges it (page_alloc.c purge_limit
 * until set).
 */
AT_HIDDEN void at_page_free_stats(size_t *nblocks, size_t *dirty_bytes);
AT_HIDDEN size_t at_page_trim(void);
AT_HIDDEN void at_page_set_purge_threshold(size_t bytes);

#endif
