/*
 * Tag reference store: where each allocated page remembers the tag it was
 * charged to.  One narrow interface, two implementations; nothing above this
 * file knows which one is in use (the kernel's pgtag_ref_handle).
 *
 * A reference (at_ref_t) is NULL (no tag), AT_REF_EMPTY (explicitly cleared)
 * or a canonical tag (tag->canon).
 *
 *  - side table (AT_STORE_SIDE): one 8-byte reference per heap page in
 *    at_side_table[pfn], mapped only when this store is in use;
 *  - compressed (AT_STORE_COMPRESSED): the tag index in the spare bits of the
 *    page's flags word (page.h), bits [AT_SPARE_SHIFT, AT_SPARE_SHIFT +
 *    at_tag_bits); 0 extra bytes per page.
 *
 * The page allocator calls at_page_ref_init / at_page_ref_take_idx under the
 * block's arena lock (so a run-time store switch that holds every arena lock
 * sees each block in one consistent state); other users go through
 * at_page_ref_get / at_page_ref_update, which change the flags word with a
 * compare-and-swap loop so that no concurrent flag change is lost.
 *
 * Run-time switch compressed -> side table (store_migrate.c): with every
 * arena lock held, the mode becomes AT_STORE_MIGRATING, every allocated
 * head's index is copied to the side table, then the mode becomes
 * AT_STORE_SIDE.  Code under an arena lock never sees MIGRATING.  Unlocked
 * readers: the index bits are left in place, so a get that saw COMPRESSED or
 * MIGRATING still reads the right reference.  Unlocked updates re-read the
 * mode after their compare-and-swap: still COMPRESSED means the swap came
 * before the copy began; anything else sends them to the slow path, which
 * waits for the block's arena lock and writes the side table.
 */
#ifndef AT_TAG_REF_H
#define AT_TAG_REF_H

#include "core/compiler.h"
#include "pages/page.h"
#include "core/tag_registry.h"

typedef struct alloc_tag *at_ref_t;
#define AT_REF_NONE ((at_ref_t)0)
#define AT_REF_EMPTY ((at_ref_t)1)
#define at_ref_is_tag(r) ((uintptr_t)(r) > 1)

enum { AT_STORE_NONE = 0, AT_STORE_SIDE = 1, AT_STORE_COMPRESSED = 2, AT_STORE_MIGRATING = 3 };

extern AT_HIDDEN unsigned char at_store_mode;
extern AT_HIDDEN at_ref_t *at_side_table;
extern AT_HIDDEN unsigned int at_tag_bits;
extern AT_HIDDEN uint64_t at_tag_mask; /* in place: ((1 << bits) - 1) << AT_SPARE_SHIFT */

/*
 * Set to 1, once, by the early-page hand-over (early.c) after it has given
 * every early page still allocated the empty reference: from then on an
 * AT_PG_EARLY page without a reference is a lost reference (debug.c).
 */
extern AT_HIDDEN unsigned char at_early_handed_over;

/* Set up the store chosen by control (tag_ref.c). */
AT_HIDDEN int at_store_init(int want_compressed, unsigned int bits_cap);
/* Map the side table if it is not yet mapped. */
AT_HIDDEN int at_side_table_map(void);
/* An update that raced with the store switch (store_migrate.c). */
AT_HIDDEN void at_page_ref_update_slow(uint32_t pfn, at_ref_t ref);

static inline uint32_t at_ref_to_idx(at_ref_t ref)
{
	if (!ref)
		return AT_IDX_NULL;
	if (ref == AT_REF_EMPTY)
		return AT_IDX_EMPTY;
	return ref->idx;
}

static inline at_ref_t at_idx_to_ref(uint32_t idx)
{
	if (idx == AT_IDX_NULL)
		return AT_REF_NONE;
	if (idx == AT_IDX_EMPTY)
		return AT_REF_EMPTY;
	return *at_tag_slot(idx);
}

static inline uint64_t at_ref_to_flags(at_ref_t ref)
{
	return (uint64_t)at_ref_to_idx(ref) << AT_SPARE_SHIFT;
}

/* A block being allocated: record ref; returns bits for the head's flags. */
static inline uint64_t at_page_ref_init(uint32_t pfn, at_ref_t ref)
{
	unsigned char mode = AT_LOAD(&at_store_mode);
	if (mode == AT_STORE_COMPRESSED)
		return at_ref_to_flags(ref);
	if (mode == AT_STORE_SIDE)
		at_side_table[pfn] = ref;
	return 0;
}

/* A block being freed, flags = its head's flags: its tag index, dropped. */
static inline uint32_t at_page_ref_take_idx(uint32_t pfn, uint64_t flags)
{
	unsigned char mode = AT_LOAD(&at_store_mode);
	if (mode == AT_STORE_COMPRESSED)
		return (uint32_t)((flags & at_tag_mask) >> AT_SPARE_SHIFT);
	if (mode == AT_STORE_SIDE) {
		at_ref_t r = at_side_table[pfn];
		at_side_table[pfn] = AT_REF_NONE;
		return at_ref_to_idx(r);
	}
	return AT_IDX_NULL;
}

static inline at_ref_t at_page_ref_get(uint32_t pfn)
{
	unsigned char mode = AT_LOAD(&at_store_mode);
	if (mode == AT_STORE_COMPRESSED || mode == AT_STORE_MIGRATING) {
		uint64_t f = __atomic_load_n(&at_pages[pfn].flags, __ATOMIC_ACQUIRE);
		return at_idx_to_ref((uint32_t)((f & at_tag_mask) >> AT_SPARE_SHIFT));
	}
	if (mode == AT_STORE_SIDE)
		return __atomic_load_n(&at_side_table[pfn], __ATOMIC_ACQUIRE);
	return AT_REF_NONE;
}

static inline void at_page_ref_update(uint32_t pfn, at_ref_t ref)
{
	unsigned char mode = AT_LOAD(&at_store_mode);
	if (mode == AT_STORE_COMPRESSED) {
		uint64_t *fp = &at_pages[pfn].flags;
		uint64_t bits = at_ref_to_flags(ref) & at_tag_mask;
		uint64_t old = __atomic_load_n(fp, __ATOMIC_RELAXED), nf;
		do {
			nf = (old & ~at_tag_mask) | bits;
		} while (!__atomic_compare_exchange_n(fp, &old, nf, 1, __ATOMIC_SEQ_CST,
						      __ATOMIC_RELAXED));
		if (at_likely(__atomic_load_n(&at_store_mode, __ATOMIC_SEQ_CST) ==
			      AT_STORE_COMPRESSED))
			return;
		at_page_ref_update_slow(pfn, ref);
	} else if (mode == AT_STORE_SIDE) {
		__atomic_store_n(&at_side_table[pfn], ref, __ATOMIC_RELEASE);
	} else if (mode == AT_STORE_MIGRATING) {
		at_page_ref_update_slow(pfn, ref);
	}
}

#endif
