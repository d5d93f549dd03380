/* The allocator's own account of its memory (see malloc_info.h). */
#include "objects/malloc_info.h"

#include <malloc.h>
#include <stdio.h>

#include "objects/tcache.h"

struct walk {
	size_t small, large, cached_count, cached_bytes, own;
};

static void head(uint32_t pfn, uint64_t flags, void *ctx)
{
	struct walk *w = ctx;
	size_t bytes = AT_PAGE_SIZE << at_page_order(flags);
	if (flags & AT_PG_SLAB) {
		unsigned int cls = at_page_class(flags);
		struct at_slab *s = at_slab_of((uintptr_t)pfn << AT_PAGE_SHIFT);
		w->small += (size_t)s->used * at_class_size[cls];
	} else if (at_block_class(flags)) { /* a cold class's object (slab.h) */
		w->small += at_class_size[at_block_class(flags)];
	} else if (flags & AT_PG_NO_CODETAG) {
		w->own += bytes;
	} else if (flags & AT_PG_OWNER1) { /* in a thread's large-block cache */
		w->cached_count++;
		w->cached_bytes += bytes;
	} else {
		w->large += bytes;
	}
}

void at_malloc_info(struct at_malloc_info *mi)
{
	struct walk w = {0};
	*mi = (struct at_malloc_info){0};
	at_huge_stats(&mi->huge);
	if (at_heap_base == AT_HEAP_UNSET || !at_meta_base) {
		mi->committed = at_heap_committed();
		return;
	}
	at_slab_lock_all();
	at_page_lock_all();
	at_page_each_head(head, &w);
	at_page_free_stats(&mi->free_blocks, &mi->dirty);
	size_t xn, xb;
	at_slab_xfer_stats(&xn, &xb); /* free, out of their slabs: cached */
	w.small -= xb;
	w.cached_count += xn;
	w.cached_bytes += xb;
	mi->committed = at_heap_committed();
	at_page_unlock_all();
	at_slab_unlock_all();
	/* objects out of their slabs but in a thread's bin are free */
	for (struct at_theap *h = AT_LOAD(&at_all_heaps); h; h = h->next_all)
		for (unsigned int c = 1; c < AT_NR_CLASSES; c++) {
			size_t n = at_bin_count(AT_LOAD_RELAXED(&h->bins[c].word));
			w.cached_count += n;
			w.cached_bytes += n * at_class_size[c];
			w.small -= n * at_class_size[c];
		}
	mi->small_in_use = w.small;
	mi->large_in_use = w.large;
	mi->cached_count = w.cached_count;
	mi->cached_bytes = w.cached_bytes;
	mi->own = w.own;
}

int at_malloc_trim(size_t pad)
{
	(void)pad;
	if (at_heap_base == AT_HEAP_UNSET)
		return 0;
	size_t given = at_theap_trim(); /* released blocks: purged now or below */
	if (at_meta_base)
		given += at_slab_trim();
	given += at_page_trim();
	return given > 0;
}

int at_mallopt(int param, int value)
{
	switch (param) {
	case M_TRIM_THRESHOLD:
		if (value < 0)
			return 0;
		at_page_set_purge_threshold((size_t)value);
		return 1;
	case M_MXFAST:
	case M_TOP_PAD:
	case M_MMAP_THRESHOLD:
	case M_MMAP_MAX:
	case M_ARENA_TEST:
	case M_ARENA_MAX:
		return value >= 0;
	case M_CHECK_ACTION:
	case M_PERTURB:
		return 1;
	default:
		return 0;
	}
}

size_t at_malloc_stats_text(char *buf, size_t len)
{
	struct at_malloc_info mi;
	at_malloc_info(&mi);
	size_t in_use = mi.small_in_use + mi.large_in_use;
	int n = snprintf(buf, len,
			 "Arena 0:\n"
			 "system bytes     = %10zu\n"
			 "in use bytes     = %10zu\n"
			 "Total (incl. mmap):\n"
			 "system bytes     = %10zu\n"
			 "in use bytes     = %10zu\n"
			 "max mmap regions = %10zu\n"
			 "max mmap bytes   = %10zu\n",
			 mi.committed, in_use, mi.committed + mi.huge.bytes, in_use + mi.huge.bytes,
			 mi.huge.max_count, mi.huge.max_bytes);
	return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}
