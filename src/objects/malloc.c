/*
 * The malloc family: at_malloc, at_calloc, at_realloc, at_free,
 * at_aligned_alloc, at_posix_memalign, at_memalign, at_valloc, at_pvalloc,
 * at_usable_size, at_strdup, at_strndup.
 *
 * Sizes: 0..16 KiB from a size class (slab.h) through the thread cache
 * (tcache.h); up to 1 GiB a block of the page allocator (a power of two of
 * pages, aligned to its size); beyond, a direct mapping (huge.h), as is a
 * large block the heap has no room for once its reservation cannot grow
 * (an address-space limit: page_alloc.c, "Reservation").
 *
 * Charging (allocinfo is true to it): an allocation is charged its *usable
 * size*, what at_usable_size() returns: the size class's size for a small
 * object (as the kernel charges a kmalloc cache's object size), the block
 * size for a large one, the page-rounded length for a huge one; one call.
 * The free uncharges the same amount from the tag the allocation recorded
 * (per-object entry, page tag reference or huge table).  A small object's
 * charge usually goes to its thread-cache bin's count (bin_charge.h) rather
 * than straight to the per-CPU counters.
 *
 * realloc: stays in place when the new size fits in the usable size and is
 * more than half of it (or the block is the smallest class); the block then
 * keeps its tag and its charge (its usable size did not change).  Otherwise
 * it moves: the new block is charged to the realloc call's tag, the old one
 * uncharged from its own.  A large block that grows is first grown in place
 * if its buddies are free (at_page_grow), charged as if it had moved.  A
 * slab object of 1 KiB or more that grows by a quarter or less and moves
 * goes back to its slab once the thread's bin holds 16 KiB of its class
 * (realloc_free_old).
 * realloc(p, 0) frees p and returns NULL (glibc).
 *
 * The fast paths of malloc and free are in malloc_fast.h (inlined into the
 * preload library's entries too); this file has everything else.
 *
 * Checks made before any metadata is written (at_fatal, naming the
 * address): the pointer is in the heap and the start of a live object or
 * block, or a live huge block; a freed slot or block is a double free.
 * Two threads freeing the same slot at the same moment are not detected
 * (the check and the clear are separate, uncontended, plain accesses).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "store/charge.h"
#include "store/debug.h"
#include "pages/huge.h"
#include "core/message.h"
#include "objects/malloc_fast.h"
#include "objects/secure.h"
#include "objects/secure_block.h"
#include "objects/tcache.h"
#include "sites/chains.h"
#include "core/peak_hook.h"

static inline at_ref_t alloc_ref(void)
{
	unsigned char st = at_alloc_state(); /* start-up's window counts as early */
	if (at_likely(st == AT_STATE_READY))
		return at_current_ref();
	if (st == AT_STATE_EARLY && alloctag_current_tag)
		__atomic_fetch_or(&alloctag_current_tag->flags, ALLOCTAG_FLAG_INACCURATE,
				  __ATOMIC_RELAXED);
	return AT_REF_NONE;
}

/*
 * The reference of a large block the page allocator does not hand out itself
 * (one from the thread's cache, one grown in place): alloc_ref(), or, in
 * debug mode, the empty reference instead of none, as the page allocator
 * records (debug.c) - else its release later looks like a lost reference.
 */
static inline int debug_ready(void)
{
	return AT_LOAD_RELAXED(&alloctag_debug_key) && AT_LOAD_RELAXED(&at_state) == AT_STATE_READY;
}

static inline at_ref_t block_ref(void)
{
	at_ref_t ref = alloc_ref();
	return !ref && debug_ready() ? AT_REF_EMPTY : ref;
}

/*
 * What a new small object with no tag records: the empty reference if it is
 * made before start-up (it was not counted, and its free must not look like
 * a lost reference) or in debug mode (the kernel's alloc_tag_ref_set_empty:
 * see debug.c), else none.
 */
static inline int obj_untagged_empty(void)
{
	return at_alloc_state() == AT_STATE_EARLY || debug_ready();
}

/* A small object's tag index with the rule above; during the early state
 * the current tag is marked inaccurate (as alloc_ref() does). */
static inline uint32_t obj_idx(struct alloc_tag *tag)
{
	uint32_t idx = tag_idx(tag);
	if (at_likely(idx))
		return idx;
	if (at_alloc_state() == AT_STATE_EARLY && alloctag_current_tag)
		__atomic_fetch_or(&alloctag_current_tag->flags, ALLOCTAG_FLAG_INACCURATE,
				  __ATOMIC_RELAXED);
	return obj_untagged_empty() ? AT_IDX_EMPTY : AT_IDX_NULL;
}

/* The same as a reference (wide entries). */
static inline at_ref_t obj_ref(struct alloc_tag *tag)
{
	at_ref_t ref = tag ? AT_LOAD(&tag->canon) : AT_REF_NONE;
	return !ref && obj_untagged_empty() ? AT_REF_EMPTY : ref;
}

static inline int is_wide(uintptr_t off)
{
	if (at_likely(!(AT_LOAD_RELAXED(&at_small_slow) & AT_SLOW_WIDE)))
		return 0;
	return (AT_LOAD_RELAXED(&at_pages[(off >> AT_SLAB_SHIFT) << AT_SLAB_ORDER].flags) &
		AT_PG_WIDE) != 0;
}

/* An allocation that could not get memory: NULL with errno ENOMEM, whichever
 * of the slab, thread-cache or heap set-up calls failed on the way. */
static AT_NOINLINE void *no_memory(void)
{
	errno = ENOMEM;
	return NULL;
}

/* The tag index does not fit p's narrow slab: take an object from a wide one. */
static AT_NOINLINE void *narrow_overflow(unsigned int cls, at_ref_t ref)
{
	void *p;
	if (!at_slab_refill(cls, &p, 1, 2))
		return no_memory();
	uintptr_t off = (uintptr_t)((char *)p - at_heap_base);
	at_obj_set(off, at_obj_index(off, cls), 1, ref);
	at_charge(ref, at_class_charge[cls]);
	return p;
}

/* Object p of class cls (heap offset off) is in a wide slab: record its
 * reference (the side-table form); returns the reference's index. */
static AT_NOINLINE uint32_t wide_set(unsigned int cls, uintptr_t off, struct alloc_tag *tag)
{
	at_ref_t ref = obj_ref(tag);
	at_obj_set(off, at_obj_index(off, cls), 1, ref);
	return at_ref_to_idx(ref);
}

/* The current tag's index does not fit p's narrow slab (more than 65532
 * tags): take an object from a wide slab instead, charged per CPU. */
static AT_NOINLINE void *small_alloc_overflow(void *p, unsigned int cls, struct alloc_tag *tag)
{
	void *q = narrow_overflow(cls, obj_ref(tag));
	at_slab_flush(cls, &p, 1);
	return q;
}

/*
 * Record object p of class cls as allocated with tag index ti (narrow slab:
 * ti fits; wide: the current tag's reference).  Returns the index recorded.
 */
static inline uint32_t small_record(void *p, unsigned int cls, uint32_t ti,
				    struct alloc_tag *tag)
{
	uintptr_t off = (uintptr_t)((char *)p - at_heap_base);
	if (at_likely(!is_wide(off))) {
		at_obj_set_narrow(off, at_obj_index(off, cls), ti);
		return ti;
	}
	return wide_set(cls, off, tag);
}

static void *cold_alloc(unsigned int cls, struct alloc_tag *tag);

/*
 * small_alloc's slow half: no heap yet (or the thread's is gone), an empty
 * bin, the early state, a wide slab somewhere, or a tag that is not the
 * bin's.  Charged in the bin (bin_charge.h) or, with no bin, per CPU.
 */
AT_NOINLINE void *at_small_alloc_slow(unsigned int cls, struct alloc_tag *tag)
{
	struct at_theap *h = at_theap_get();
	uint32_t ti = obj_idx(tag);
	void *p;
	if (!h) {
		if (at_unlikely(AT_LOAD_RELAXED(&at_class_cold[cls])) && (p = cold_alloc(cls, tag)))
			return p;
		if (!at_slab_refill(cls, &p, 1, AT_LOAD_RELAXED(&at_store_mode) == AT_STORE_SIDE))
			return no_memory();
		if (!is_wide((uintptr_t)((char *)p - at_heap_base)) && ti > AT_OBJ_NARROW_MAX)
			return small_alloc_overflow(p, cls, tag);
		at_charge_idx(small_record(p, cls, ti, tag), at_class_charge[cls]);
		return p;
	}
	struct at_bin *b = &h->bins[cls];
	if (!at_bin_count(b->word)) {
		if (at_unlikely(AT_LOAD_RELAXED(&at_class_cold[cls])) && (p = cold_alloc(cls, tag)))
			return p;
		if (!at_bin_refill(h, cls))
			return no_memory();
	}
	p = b->slots[at_bin_count(b->word) - 1];
	uintptr_t off = (uintptr_t)((char *)p - at_heap_base);
	if (!is_wide(off) && ti > AT_OBJ_NARROW_MAX)
		return narrow_overflow(cls, obj_ref(tag)); /* p stays in the bin */
	if (at_unlikely(AT_LOAD_RELAXED(&at_small_slow) & AT_SLOW_DEBUG)) {
		int wide = is_wide(off);
		uint64_t e = at_obj_get(off, at_obj_index(off, cls), wide);
		if (e) /* a free slot's entry is 0 */
			at_debug_obj_alloc(at_obj_decode_idx(e, wide));
	}
	ti = small_record(p, cls, ti, tag);
	uint64_t w = b->word;
	if (at_likely(at_bin_tag(w) == ti)) /* side table: the common case */
		AT_STORE_RELAXED(&b->word, w - 1);
	else
		at_bin_pop(&b->word, cls, ti);
	return p;
}

/*
 * The fast path's twin for the side table (ALLOCTAG=...,uncompressed, or
 * after a run-time switch): wide slabs exist, nothing else sends the
 * allocation to the slow path.  The object's entry is the current tag's
 * reference (or, in a narrow slab made before a switch, its index).
 */
AT_NOINLINE void *at_small_alloc_wide(struct at_theap *h, unsigned int cls,
					  struct alloc_tag *tag)
{
	at_ref_t ref = tag ? AT_LOAD(&tag->canon) : AT_REF_NONE;
	uint32_t ti = tag_idx(tag); /* = at_ref_to_idx(ref), without waiting for ref */
	struct at_bin *b = &h->bins[cls];
	uint64_t w = b->word;
	unsigned int c = at_bin_count(w);
	if (at_unlikely(!c || at_bin_tag(w) != ti))
		return at_small_alloc_slow(cls, tag);
	void *p = b->slots[c - 1];
	uintptr_t off = (uintptr_t)((char *)p - at_heap_base);
	uint32_t idx = at_obj_index_m(off, b->magic);
	if (at_likely(is_wide(off)))
		at_obj_set(off, idx, 1, ref);
	else if (ti <= AT_OBJ_NARROW_MAX)
		at_obj_set_narrow(off, idx, ti);
	else
		return at_small_alloc_slow(cls, tag);
	AT_STORE_RELAXED(&b->word, w - 1);
	return p;
}

static inline unsigned int order_of(size_t n)
{
	return n <= AT_PAGE_SIZE ? 0 : 64u - (unsigned int)__builtin_clzll(n - 1) - AT_PAGE_SHIFT;
}

/* A block of order order (<= AT_MAX_ORDER) for a large request of n bytes
 * aligned to align: the thread's cache's, else the page allocator's; zero,
 * if not NULL, gets 1 when its bytes are known to be 0 (a block fresh from
 * the page allocator's AT_PG_ZERO blocks), else 0. */
static inline void *block_alloc(unsigned int order, size_t n, size_t align, int *zero)
{
	if (zero)
		*zero = 0;
	struct at_theap *h = at_tls_heap;
	if (order >= AT_LC_MIN && order <= AT_LC_MAX && (uintptr_t)h > 1 && h->lbytes && at_lc(h, order)->count) {
		void *p = at_lc(h, order)->blk[--at_lc(h, order)->count];
		h->lbytes -= AT_PAGE_SIZE << order;
		uint32_t pfn = at_addr_to_pfn(p);
		at_page_clear_flags(&at_pages[pfn], AT_PG_OWNER1);
		if (at_unlikely(AT_LOAD_RELAXED(&at_pages[pfn].flags) & AT_PG_SECURE_BLOCK))
			at_secure_block_reused(p); /* its poison checked */
		at_ref_t ref = block_ref();
		if (ref) { /* a cached block's reference is none (tcache.h) */
			at_page_ref_update(pfn, ref);
			at_charge(ref, (int64_t)AT_PAGE_SIZE << order);
		}
		at_peak_add((int64_t)AT_PAGE_SIZE << order); /* after the charge */
		return p;
	}
	if (at_unlikely(!AT_LOAD(&at_meta_base)) && at_malloc_init()) {
		errno = ENOMEM;
		return NULL;
	}
	void *p = zero ? at_page_alloc_zeroed(order, zero) /* charges the current tag itself */
		       : at_page_alloc_raw(order, 0);
	if (at_unlikely(!p) && at_heap_full()) /* no address space left for the heap */
		p = at_huge_alloc(n, align);
	return p;
}

/* The stricter heap's large block of n >= AT_SECURE_MAP_MIN bytes (order:
 * the default mode's for n and align): a guarded mapping (huge.h) at level
 * 2 or from AT_SECURE_GUARD_MIN bytes, else a block with canaries
 * (secure_block.h). */
static AT_NOINLINE void *secure_large_alloc(size_t n, size_t align, unsigned int order, int *zero)
{
	if (AT_LOAD_RELAXED(&at_secure_heap) >= 2 || n >= AT_SECURE_GUARD_MIN ||
	    align > AT_PAGE_SIZE) {
		void *p = at_huge_alloc_guarded(n, align); /* between guard pages (huge.h) */
		if (p)
			return p;
		return block_alloc(order, n, align, zero);
	}
	char *p = block_alloc(order, n, align, zero);
	if (p && at_addr_to_pfn(p) != AT_PFN_NIL)
		at_secure_block_made(p, order, n);
	return p;
}

/* A large block; zero as block_alloc's. */
static AT_NOINLINE void *large_alloc(size_t n, size_t align, int *zero)
{
	if (zero)
		*zero = 0;
	unsigned int order = order_of(n);
	if (align > AT_PAGE_SIZE && order < order_of(align))
		order = order_of(align);
	if (order > AT_MAX_ORDER)
		return at_huge_alloc(n, align);
	if (at_unlikely(AT_LOAD_RELAXED(&at_secure_heap)) && n >= AT_SECURE_MAP_MIN)
		return secure_large_alloc(n, align, order, zero);
	return block_alloc(order, n, align, zero);
}

/*
 * Tags passed down.  Every allocation function has a twin taking its tag
 * (X_with(..., tag), tag as cur_tag() would give it: NULL unless profiling
 * is on), so that the tag-passing entries (at_X_tag_noprof, what the tagged
 * macros call) set no thread-local current tag on the small-object path.
 * The large paths (the page allocator, large_grow) read the current tag
 * themselves: WITH_CURRENT makes tag current around them when it is not.
 */
#define WITH_CURRENT(tag, expr)                                                     \
	({                                                                          \
		struct alloc_tag *_t = (tag);                                       \
		__typeof__(expr) _r;                                                \
		if (at_likely(!AT_LOAD_RELAXED(&at_profiling_on) ||                 \
			      _t == alloctag_current_tag)) {                        \
			_r = (expr);                                                \
		} else {                                                            \
			struct alloc_tag *_old = alloctag_save(_t);                 \
			_r = (expr);                                                \
			alloctag_current_tag = _old;                                \
		}                                                                   \
		_r;                                                                 \
	})

/* A cold class's object (slab.h), charged to tag; NULL: take a slab's. */
static AT_NOINLINE void *cold_alloc(unsigned int cls, struct alloc_tag *tag)
{
	if (at_unlikely(!AT_LOAD(&at_meta_base)) && at_malloc_init())
		return NULL;
	return WITH_CURRENT(tag, at_cold_alloc(cls));
}

AT_NOINLINE void *at_large_malloc(size_t n, struct alloc_tag *tag)
{
	if (at_unlikely(n > PTRDIFF_MAX)) {
		errno = ENOMEM;
		return NULL;
	}
	return WITH_CURRENT(tag, large_alloc(n, 0, NULL));
}

/* calloc of n > AT_SMALL_MAX bytes: no memset of a block known to be 0,
 * whose pages, never touched or purged, stay unfaulted until the program
 * writes them (a sparse table costs only what is written of it). */
static AT_NOINLINE void *at_large_calloc(size_t n, struct alloc_tag *tag)
{
	if (at_unlikely(n > PTRDIFF_MAX)) {
		errno = ENOMEM;
		return NULL;
	}
	int zero;
	void *p = WITH_CURRENT(tag, large_alloc(n, 0, &zero));
	if (p && !zero)
		memset(p, 0, n);
	return p;
}

static inline __attribute__((always_inline)) void *malloc_with(size_t n, struct alloc_tag *tag)
{
	return at_malloc_fast(n, tag);
}

#define UNPAREN(...) __VA_ARGS__
/*
 * at_X_noprof(params) and the tag-passing at_X_tag_noprof(tag, params)
 * (charge.h AT_TAG_ENTRY), both over X_with(args, tag).  An at_X_noprof
 * call with no current tag while profiling is on (an untagged call) is
 * charged to its call chain (sites/chains.h), as the preload library
 * charges an unmodified program's malloc, and the block it made (`made`,
 * an expression of its result _r) is counted in the chain's cumulative
 * counters.  The CFA and return address are the entry's own.
 */
#define ENTRIES(ret, X, params, args, made)                                    \
	ret at_##X##_noprof(UNPAREN params)                                    \
	{                                                                      \
		struct alloc_tag *_t = cur_tag();                              \
		if (at_likely(_t != NULL) || !AT_LOAD_RELAXED(&at_profiling_on)) \
			return X##_with(UNPAREN args, _t);                     \
		_t = at_chain_here((uintptr_t)__builtin_dwarf_cfa(),           \
				   __builtin_return_address(0));               \
		ret _r = X##_with(UNPAREN args, _t);                           \
		at_chain_made(_t, (made));                                     \
		return _r;                                                     \
	}                                                                      \
	ret at_##X##_tag_noprof(struct alloc_tag *tag, UNPAREN params)         \
	{                                                                      \
		return AT_TAG_ENTRY(tag, X##_with, at_##X##_noprof, UNPAREN args); \
	}

ENTRIES(void *, malloc, (size_t n), (n), _r)

/*
 * For the preload library's call chains (preload.c CHAIN_ENTRY), X's
 * twins over X_made(args, tag, made) (X charged to tag, as cur_tag()
 * gives it; the usable size of the block it made in *made, left alone
 * when it made none, which `ok`, an expression of its result q, tells):
 * at_X_made(params, tag, made), and at_X_entry(params, e), X charged to
 * the chain of memo entry e (its thread's memo busy), counted in e, the
 * memo's busy count dropped, X_made inlined into it (the hit path's one
 * function).
 */
#define MADE_FN(ret, X, params, args)                                          \
	ret at_##X##_made(UNPAREN params, struct alloc_tag *tag, size_t *made) \
	{                                                                      \
		return X##_made(UNPAREN args, tag, made);                      \
	}
#define ENTRY_FN(ret, name, X, params, args, ok)                               \
	ret name(UNPAREN params, struct at_memo_entry *e)                      \
	{                                                                      \
		size_t made;                                                   \
		ret q = X##_made(UNPAREN args, e->tag, &made);                 \
		if (ok)                                                        \
			at_memo_count(e, made);                                \
		at_chain_entry_done();                                         \
		return q;                                                      \
	}
#define MADE_ENTRIES(ret, X, params, args, ok) \
	MADE_FN(ret, X, params, args)          \
	ENTRY_FN(ret, at_##X##_entry, X, params, args, ok)

/* Large block p (heap offset off) being freed; f = its unit head's flags. */
AT_NOINLINE void at_large_free(void *p, uintptr_t off, const char *what)
{
	uint32_t pfn = (uint32_t)(off >> AT_PAGE_SHIFT);
	struct at_page *pg = &at_pages[pfn];
	uint64_t f = AT_LOAD_RELAXED(&pg->flags);
	if (at_unlikely((off & (AT_PAGE_SIZE - 1)) || !(f & AT_PG_HEAD) || (f & AT_PG_SLAB))) {
		if ((f & AT_PG_BUDDY) && !(off & (AT_PAGE_SIZE - 1)))
			at_fatal("%s(%p): double free (the block is already free)", what, p);
		at_fatal("%s(%p): not the start of a block alloctag handed out", what, p);
	}
	if (at_unlikely(f & AT_PG_OWNER1))
		at_fatal("%s(%p): double free (the block is already free)", what, p);
	unsigned int order = at_page_order(f);
	if (at_unlikely(f & AT_PG_SECURE_BLOCK))
		at_secure_block_free(p, order, what); /* checked, poisoned */
	struct at_theap *h = at_tls_heap;
	if (!h)
		h = at_theap_get();
	size_t bytes = AT_PAGE_SIZE << order;
	if (order >= AT_LC_MIN && order <= AT_LC_MAX && h && h != AT_THEAP_DEAD) {
		if (at_unlikely(__atomic_fetch_or(&pg->flags, AT_PG_OWNER1, __ATOMIC_RELAXED) &
				AT_PG_OWNER1))
			at_fatal("%s(%p): double free (the block is already free)", what, p);
		at_ref_t ref = at_page_ref_get(pfn);
		if (at_unlikely(debug_ready())) {
			/* the user's free is checked here; the cached block holds
			 * the empty reference, so its release later is not */
			at_debug_page_free(p, f, ref);
			if (ref != AT_REF_EMPTY) {
				at_page_ref_update(pfn, AT_REF_EMPTY);
				at_uncharge(ref, (int64_t)bytes);
			}
		} else if (ref) {
			at_page_ref_update(pfn, AT_REF_NONE);
			at_uncharge(ref, (int64_t)bytes);
		}
		at_lcache_put(h, p, order);
		return;
	}
	if (at_block_class(f))
		at_cold_free(pfn, f); /* a cold class's object: charged its class's size */
	at_page_release(p, order); /* uncharges */
}

AT_NOINLINE void at_free_outside(void *p, const char *what)
{
	if (p) /* NULL lies below the heap: free(NULL) comes here */
		at_huge_free(p, what);
}

/* Not declared noreturn (they do not return): so that free's fast path can
 * reach them by a tail jump, with no stack frame of its own; noipa, so that
 * the compiler does not find it out for the callers in this file either
 * (at_wide_free's tail jumps). */
AT_COLD AT_NOIPA void at_bad_object(void *p, const char *what)
{
	at_fatal("%s(%p): not the start of an object alloctag handed out", what, p);
}

AT_COLD AT_NOIPA void at_double_free(void *p, const char *what)
{
	at_fatal("%s(%p): double free (the slot is free: freed before, or never handed out)", what, p);
}

/* Small object p (class cls, charged to tag index ti) is free, its entry
 * cleared: uncharge it and give it to the thread's bin, or, with no heap,
 * to the central list. */
AT_NOINLINE void at_small_free_slow(void *p, unsigned int cls, uint32_t ti)
{
	/* In debug mode no bin's tag is AT_IDX_NULL (bin_charge.h): such a free
	 * always comes here. */
	if (at_unlikely(ti == AT_IDX_NULL) && AT_LOAD_RELAXED(&alloctag_debug_key))
		at_debug_obj_free(p);
	struct at_theap *h = at_tls_heap;
	if (!h)
		h = at_theap_get();
	if ((uintptr_t)h > 1) {
		struct at_bin *b = &h->bins[cls];
		if (at_bin_count(b->word) == b->cap)
			at_bin_flush(h, cls);
		uint64_t w = b->word;
		b->slots[at_bin_count(w)] = p;
		at_bin_ents(b->slots)[at_bin_count(w)] =
			at_obj_entry_of(p, at_obj_index((uintptr_t)p, cls));
		if (at_likely(at_bin_tag(w) == ti)) /* side table: the common case */
			AT_STORE_RELAXED(&b->word, w + 1);
		else
			at_bin_push(&b->word, cls, ti);
		return;
	}
	at_uncharge_idx(ti, at_class_charge[cls]);
	at_slab_flush(cls, &p, 1);
}

/* A wide slab's object (the side-table form): checked, cleared, freed; the
 * bin's fast case (its tag's object, room left) as in at_free_fast. */
static inline __attribute__((always_inline)) void wide_free(void *p, uintptr_t off,
								 unsigned int cls, uint32_t idx,
								 const char *what)
{
	uint64_t e = at_obj_get(off, idx, 1);
	if (at_unlikely(!e))
		return at_double_free(p, what);
	at_obj_clear(off, idx, 1);
	uint32_t ti = at_obj_decode_idx(e, 1);
	if (at_likely(at_bin_put(cls, p, ti)))
		return;
	return at_small_free_slow(p, cls, ti);
}

/* A wide slab's object, or a stricter slab's (secure.h) that level 1's
 * inline check (at_free_other) did not let through (heap offset off): f,
 * its head page's flags, has AT_PG_WIDE or AT_PG_SECURE. */
AT_NOINLINE void at_wide_free(void *p, uintptr_t off, unsigned int cls, uint32_t idx, uint64_t f,
			      const char *what)
{
	if (at_unlikely(f & AT_PG_SECURE))
		return at_secure_free(p, off, cls, idx, f, what);
	return wide_free(p, off, cls, idx, what);
}

void at_free(void *p)
{
	at_free_fast(p, "free");
}

/* Whether heap offset off, in a slab of class cls, is the start of one of
 * its objects (not of its tail), the object's index in *idx. */
static inline __attribute__((always_inline)) int slab_obj_start(uintptr_t off, unsigned int cls,
								 uint32_t *idx)
{
	*idx = at_obj_index(off, cls);
	return *idx * (uint32_t)at_class_size[cls] == (off & (AT_SLAB_SIZE - 1)) &&
	       *idx < at_class_nobj[cls];
}

/* The usable size of p when it is a live object of a slab (its class's),
 * else 0 (not in a slab, not an object's start, free: usable_checked
 * tells which); no call, so that realloc's in-place case needs no frame.
 * A narrow slab outside the stricter heap is checked as at_free_fast
 * checks it (its head's low byte, the object-start check and index in one
 * product, the narrow entry: a start in the slab's tail reads 0), the
 * class from the head's second descriptor; any other slab by its flags. */
static inline __attribute__((always_inline)) size_t slab_live_size(const void *p)
{
	uintptr_t off = (uintptr_t)((const char *)p - at_heap_base);
	if (off >= AT_LOAD_RELAXED(&at_heap_span))
		return 0;
	const struct at_page *head = &at_pages[(off >> AT_SLAB_SHIFT) << AT_SLAB_ORDER];
	if (at_likely(at_slab_head_narrow(head))) {
		uintptr_t i;
		if (!at_obj_locate_cls((uint16_t)(uintptr_t)p, &head[1].cls, &i) ||
		    !AT_LOAD_RELAXED(AT_LOAD_RELAXED(&head->ents) + i))
			return 0;
		return at_class_charge[at_slab_class_of(head)];
	}
	uint64_t f = AT_LOAD_RELAXED(&head->flags);
	if (!(f & AT_PG_SLAB))
		return 0;
	unsigned int cls = at_page_class(f);
	uint32_t idx;
	if (!slab_obj_start(off, cls, &idx) || !at_obj_get(off, idx, (f & AT_PG_WIDE) != 0))
		return 0;
	return at_class_charge[cls];
}

/* The usable size of the live page block at heap offset off, f its head
 * page's flags: a secure block's, a cold class's object's (its class's),
 * else the block's pages. */
static inline size_t block_usable(uintptr_t off, uint64_t f)
{
	if (at_unlikely(f & AT_PG_SECURE_BLOCK))
		return at_secure_block_usable((uint32_t)(off >> AT_PAGE_SHIFT));
	if (at_block_class(f))
		return at_class_charge[at_block_class(f)];
	return AT_PAGE_SIZE << at_page_order(f);
}

/* Usable size of live block p, not a live slab object (slab_live_size
 * 0); aborts (naming what) on a bad pointer. */
static AT_NOINLINE size_t usable_not_slab(const void *p, const char *what)
{
	uintptr_t off = (uintptr_t)((const char *)p - at_heap_base);
	if (off >= AT_LOAD_RELAXED(&at_heap_span))
		return at_huge_size(p, what);
	uint64_t f = AT_LOAD_RELAXED(&at_pages[(off >> AT_SLAB_SHIFT) << AT_SLAB_ORDER].flags);
	if (f & AT_PG_SLAB) {
		uint32_t idx;
		if (!slab_obj_start(off, at_page_class(f), &idx))
			at_fatal("%s(%p): not the start of an object alloctag handed out", what, p);
		at_fatal("%s(%p): the object is free", what, p);
	}
	f = AT_LOAD_RELAXED(&at_pages[off >> AT_PAGE_SHIFT].flags);
	if ((off & (AT_PAGE_SIZE - 1)) || !(f & AT_PG_HEAD) || (f & AT_PG_OWNER1))
		at_fatal("%s(%p): not a live block alloctag handed out", what, p);
	return block_usable(off, f);
}

/* Usable size of live block p; aborts (naming what) on a bad pointer. */
static inline __attribute__((always_inline)) size_t usable_checked(const void *p, const char *what)
{
	size_t n = slab_live_size(p);
	if (at_likely(n != 0))
		return n;
	return usable_not_slab(p, what);
}

size_t at_usable_size_made(const void *p)
{
	uintptr_t off = (uintptr_t)p - (uintptr_t)at_heap_base;
	if (at_unlikely(off >= AT_LOAD_RELAXED(&at_heap_span)))
		return at_huge_size(p, "malloc_usable_size");
	uint64_t f = AT_LOAD_RELAXED(&at_pages[(off >> AT_SLAB_SHIFT) << AT_SLAB_ORDER].flags);
	if (f & AT_PG_SLAB)
		return at_class_charge[at_page_class(f)];
	f = AT_LOAD_RELAXED(&at_pages[off >> AT_PAGE_SHIFT].flags);
	return block_usable(off, f);
}

size_t at_usable_size(const void *p)
{
	return p ? usable_checked(p, "malloc_usable_size") : 0;
}

/* calloc charged to tag; with `made` (not NULL), the usable size of the
 * block returned, if any, in *made: a small object's is its class's. */
static inline __attribute__((always_inline)) void *calloc_made(size_t n, size_t size,
								struct alloc_tag *tag,
								size_t *made)
{
	size_t total;
	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	if (at_likely(total <= AT_SMALL_MAX)) {
		unsigned int cls = at_size_class(total);
		void *p = at_small_alloc(cls, tag);
		if (p) {
			memset(p, 0, total);
			if (made)
				*made = at_class_charge[cls];
		}
		return p;
	}
	void *p = at_large_calloc(total, tag);
	if (made && p)
		*made = at_usable_size_made(p);
	return p;
}

static inline void *calloc_with(size_t n, size_t size, struct alloc_tag *tag)
{
	return calloc_made(n, size, tag, NULL);
}

ENTRIES(void *, calloc, (size_t n, size_t size), (n, size), _r)

MADE_ENTRIES(void *, calloc, (size_t n, size_t size), (n, size), q)

/*
 * realloc growing large block p to n > its usable size: absorb free
 * buddies instead of copying where the buddy allocator allows (page.h).
 * Charged like a move: the old size uncharged from the block's tag, the new
 * one charged to the realloc call's tag.  A stricter heap's block
 * (secure_block.h) first grows within its own block, its canaries moved.
 */
static int large_grow(void *p, size_t n)
{
	uintptr_t off = (uintptr_t)((char *)p - at_heap_base);
	if (off >= AT_LOAD_RELAXED(&at_heap_span) || n > (AT_PAGE_SIZE << AT_MAX_ORDER) ||
	    (AT_LOAD_RELAXED(&at_pages[(off >> AT_SLAB_SHIFT) << AT_SLAB_ORDER].flags) & AT_PG_SLAB))
		return 0;
	uint32_t pfn = (uint32_t)(off >> AT_PAGE_SHIFT);
	uint64_t f = AT_LOAD_RELAXED(&at_pages[pfn].flags);
	if (at_block_class(f)) /* a cold class's object moves, as a slab's (slab.h) */
		return 0;
	int secure = (f & AT_PG_SECURE_BLOCK) != 0; /* its canaries move (secure_block.h) */
	unsigned int order = at_page_order(f);
	unsigned int new_order = order_of(n);
	if (secure && new_order < order) /* within its own block */
		new_order = order;
	if (new_order > order && !at_page_grow(p, order, new_order))
		return 0;
	/* what is charged: a stricter block's usable size, else the block's */
	size_t was_bytes = secure ? at_secure_block_usable(pfn) : AT_PAGE_SIZE << order;
	size_t bytes = secure ? at_secure_block_usable_of(n) : AT_PAGE_SIZE << new_order;
	if (secure)
		at_secure_block_resize(p, new_order, n);
	if (AT_LOAD_RELAXED(&at_state) == AT_STATE_READY) {
		at_ref_t was = at_page_ref_get(pfn), ref = block_ref();
		if (was != ref)
			at_page_ref_update(pfn, ref);
		at_uncharge(was, (int64_t)was_bytes);
		at_charge(ref, (int64_t)bytes);
	}
	return 1;
}

/*
 * realloc's old object of usable size old, its bytes moved to a block of
 * n bytes.  A slab's object of REALLOC_TO_SLAB bytes or more that grew by
 * a quarter or less goes back to its slab, not to the thread's bin, once
 * the bin holds REALLOC_BIN_KEEP bytes of its class, and when the class's
 * lock is free (tried, never waited for: then the bin).  A buffer growing
 * a little at a time leaves its class behind, and buffers growing side by
 * side (strings being built) would fill each class's bin and transfer
 * slots in turn with objects no one asks for, keeping their slabs from
 * being released to the page allocator, where the larger classes and
 * blocks the buffers grow into take them (bench/malloc/realloc.c's 256
 * buffers grown to 64 KiB: peak RSS 16 MB this way, 23 MB through the
 * bins).  What the bin keeps is the thread's own to reuse: objects sent
 * to a slab that other threads refill from cost two threads growing
 * buffers of the same classes 11% of their speed when every move went
 * there, 2-5% with the bin keeping 16 KiB.  A jump of more than a quarter
 * (a doubling buffer, a workload's random sizes), a shrink, and every
 * move in debug mode (its records dropped on the bin's path) free as free
 * does.
 */
#define REALLOC_TO_SLAB 1024u
#define REALLOC_BIN_KEEP 16384u
static AT_NOINLINE void realloc_free_old(void *p, size_t old, size_t n)
{
	uintptr_t off = (uintptr_t)((char *)p - at_heap_base);
	if (n > old && n - old <= old / 4 && old >= REALLOC_TO_SLAB &&
	    off < AT_LOAD_RELAXED(&at_heap_span) && !AT_LOAD_RELAXED(&alloctag_debug_key)) {
		const struct at_page *head = &at_pages[(off >> AT_SLAB_SHIFT) << AT_SLAB_ORDER];
		uint64_t f = AT_LOAD_RELAXED(&head->flags);
		/* a slab's class (any other unit's field is not one); a stricter
		 * heap's slab: its canary checked by free (secure.h) */
		unsigned int cls = (f & (AT_PG_SLAB | AT_PG_SECURE)) == AT_PG_SLAB ? at_page_class(f) : 0;
		const struct at_bin *b = &at_tls_bins[cls]; /* no heap: an empty bin */
		uint32_t idx;
		if (cls && at_bin_count(b->word) * at_class_size[cls] >= REALLOC_BIN_KEEP &&
		    at_obj_locate(off, at_slab_magic(head), &idx)) {
			int wide = (f & AT_PG_WIDE) != 0;
			uint64_t e = at_obj_get(off, idx, wide);
			if (e) {
				uint32_t ti = at_obj_decode_idx(e, wide);
				at_obj_clear(off, idx, wide);
				if (at_slab_put_try(cls, p))
					at_uncharge_idx(ti, at_class_charge[cls]);
				else
					at_small_free_slow(p, cls, ti); /* the bin's */
				return;
			}
		}
	}
	at_free_fast(p, "realloc");
}

/* A block of usable size old realloc'ed to n (not 0) stays where it is
 * (never when old is 0: no live slab object looked up). */
static inline __attribute__((always_inline)) int stays(size_t n, size_t old)
{
	return n <= old && (n > old / 2 || old <= AT_MIN_SIZE);
}

/* realloc charged to tag, old = slab_live_size(p) when `looked` (the
 * caller's one lookup, passed on), else looked up here once p and n are
 * known to ask for it (p's usable size when it is a live slab object, else
 * 0, when usable_not_slab checks it); with `made` (not NULL), the usable
 * size of the block returned, if any, in *made: a block left in place has
 * the size found, without at_usable_size_made's second lookup. */
static inline __attribute__((always_inline)) void *realloc_looked_made(void *p, size_t n,
									size_t old, int looked,
									struct alloc_tag *tag,
									size_t *made)
{
	void *q;
	if (!p) {
		q = malloc_with(n, tag);
		goto moved;
	}
	if (!n) {
		at_free_fast(p, "realloc");
		return NULL;
	}
	if (!looked)
		old = slab_live_size(p);
	if (at_unlikely(!old))
		old = usable_not_slab(p, "realloc");
	if (at_likely(stays(n, old))) {
		if (made)
			*made = old;
		return p;
	}
	if (n > PTRDIFF_MAX) {
		errno = ENOMEM;
		return NULL;
	}
	if ((n > old && old >= AT_PAGE_SIZE && WITH_CURRENT(tag, large_grow(p, n))) ||
	    (at_unlikely(AT_LOAD_RELAXED(&at_secure_heap)) && n > old &&
	     old >= AT_SECURE_MAP_MIN && WITH_CURRENT(tag, at_huge_grow_guarded(p, n)))) {
		q = p; /* grown in place (a guarded block: its back guard moved up, huge.h) */
		goto moved;
	}
	q = malloc_with(n, tag);
	if (!q)
		return NULL;
	memcpy(q, p, n < old ? n : old);
	realloc_free_old(p, old, n);
moved:
	if (made && q)
		*made = at_usable_size_made(q);
	return q;
}

/* realloc charged to tag (*made: as realloc_looked_made). */
static inline __attribute__((always_inline)) void *realloc_made(void *p, size_t n,
								 struct alloc_tag *tag,
								 size_t *made)
{
	return realloc_looked_made(p, n, 0, 0, tag, made);
}

static void *realloc_with(void *p, size_t n, struct alloc_tag *tag)
{
	return realloc_made(p, n, tag, NULL);
}

ENTRIES(void *, realloc, (void *p, size_t n), (p, n), _r)

MADE_FN(void *, realloc, (void *p, size_t n), (p, n))
static AT_NOINLINE ENTRY_FN(void *, realloc_entry_all, realloc_looked, (void *p, size_t n, size_t old),
			    (p, n, old, 1), q)

/* at_realloc_entry's stay in a process that has forked: counted in the
 * object's class's bin when its tag is e's (malloc_fast.h
 * at_chain_cum_small), else in e; a tail call, so that the stay needs no
 * frame. */
static AT_NOINLINE void *realloc_stays_forked(void *p, size_t old, struct at_memo_entry *e)
{
	if (!at_chain_cum_bin(at_size_class(old), e->idx))
		at_memo_count(e, old);
	at_chain_entry_done();
	return p;
}

/* realloc's at_X_entry: a live slab object that stays where it is first,
 * with no frame and no call (the most frequent realloc, growing a buffer
 * a little in its object's slack), else realloc_entry_all, given the
 * lookup's result.  NULL is outside the heap (slab_live_size 0); n = 0 is
 * a free (the compiler makes n != 0 && n <= old one compare, n - 1 <
 * old, so that neither n nor old is tested alone). */
void *at_realloc_entry(void *p, size_t n, struct at_memo_entry *e)
{
	size_t old = slab_live_size(p);
	if (at_likely(n != 0) && at_likely(stays(n, old))) {
		if (at_unlikely(AT_LOAD_RELAXED(&at_fold_on)))
			return realloc_stays_forked(p, old, e);
		at_memo_count(e, old);
		at_chain_entry_done();
		return p;
	}
	return realloc_entry_all(p, n, old, e);
}

/* X_made for the aligned family: X_with, then the usable size of the
 * block (an expression of q and params) it made. */
#define ALIGNED_MADE(ret, X, params, args, ok, block)                          \
	static inline __attribute__((always_inline)) ret X##_made(             \
		UNPAREN params, struct alloc_tag *tag, size_t *made)           \
	{                                                                      \
		ret q = X##_with(UNPAREN args, tag);                           \
		if (ok)                                                        \
			*made = at_usable_size_made(block);                    \
		return q;                                                      \
	}                                                                      \
	MADE_ENTRIES(ret, X, params, args, ok)

/* align: a power of two. */
static void *aligned_with(size_t align, size_t n, struct alloc_tag *tag)
{
	if (align <= AT_MIN_SIZE)
		return malloc_with(n, tag);
	if (n > PTRDIFF_MAX || align > PTRDIFF_MAX / 2 + 1) {
		errno = ENOMEM;
		return NULL;
	}
	if (n <= AT_SMALL_MAX && align <= AT_SMALL_MAX) {
		unsigned int cls = at_size_class(n < align ? align : n);
		while (cls < AT_NR_CLASSES && (at_class_size[cls] & (align - 1)))
			cls++;
		if (cls < AT_NR_CLASSES)
			return at_small_alloc(cls, tag);
	}
	return WITH_CURRENT(tag, large_alloc(n, align, NULL));
}

#define POW2(a) ((a) && !((a) & ((a) - 1)))

static void *aligned_alloc_with(size_t align, size_t n, struct alloc_tag *tag)
{
	if (!POW2(align)) {
		errno = EINVAL;
		return NULL;
	}
	return aligned_with(align, n, tag);
}
ENTRIES(void *, aligned_alloc, (size_t align, size_t n), (align, n), _r)
ALIGNED_MADE(void *, aligned_alloc, (size_t align, size_t n), (align, n), q, q)

static int posix_memalign_with(void **out, size_t align, size_t n, struct alloc_tag *tag)
{
	if (!POW2(align) || align % sizeof(void *))
		return EINVAL;
	int saved = errno;
	void *p = aligned_with(align, n, tag);
	if (!p) {
		errno = saved;
		return ENOMEM;
	}
	*out = p;
	return 0;
}
ENTRIES(int, posix_memalign, (void **out, size_t align, size_t n), (out, align, n),
	_r ? NULL : *out)
ALIGNED_MADE(int, posix_memalign, (void **out, size_t align, size_t n), (out, align, n), !q,
	     *out)

static void *memalign_with(size_t align, size_t n, struct alloc_tag *tag)
{
	if (align > PTRDIFF_MAX / 2 + 1) {
		errno = EINVAL;
		return NULL;
	}
	if (!POW2(align)) /* glibc: round up to a power of two */
		align = align < 2 ? 1 : (size_t)1 << (64 - __builtin_clzll(align - 1));
	return aligned_with(align, n, tag);
}
ENTRIES(void *, memalign, (size_t align, size_t n), (align, n), _r)
ALIGNED_MADE(void *, memalign, (size_t align, size_t n), (align, n), q, q)

static void *valloc_with(size_t n, struct alloc_tag *tag)
{
	return aligned_with(AT_PAGE_SIZE, n, tag);
}
ENTRIES(void *, valloc, (size_t n), (n), _r)
ALIGNED_MADE(void *, valloc, (size_t n), (n), q, q)

static void *pvalloc_with(size_t n, struct alloc_tag *tag)
{
	size_t r = (n + AT_PAGE_SIZE - 1) & ~(AT_PAGE_SIZE - 1);
	if (r < n) {
		errno = ENOMEM;
		return NULL;
	}
	return aligned_with(AT_PAGE_SIZE, r ? r : AT_PAGE_SIZE, tag);
}
ENTRIES(void *, pvalloc, (size_t n), (n), _r)
ALIGNED_MADE(void *, pvalloc, (size_t n), (n), q, q)

static char *strdup_with(const char *s, struct alloc_tag *tag)
{
	size_t n = strlen(s) + 1;
	char *p = malloc_with(n, tag);
	if (p)
		memcpy(p, s, n);
	return p;
}
ENTRIES(char *, strdup, (const char *s), (s), _r)

static char *strndup_with(const char *s, size_t max, struct alloc_tag *tag)
{
	size_t n = strnlen(s, max);
	char *p = malloc_with(n + 1, tag);
	if (p) {
		memcpy(p, s, n);
		p[n] = 0;
	}
	return p;
}
ENTRIES(char *, strndup, (const char *s, size_t max), (s, max), _r)
