/*
 * malloc's and free's fast paths, inlined into every entry point: the at_*
 * functions (malloc.c) and the preload library's malloc and free
 * (preload.c), so that an unmodified program's call costs no extra call.
 * Everything off the fast path is a function of malloc.c, reached by a tail
 * call (no stack frame on the fast path).
 */
#ifndef AT_MALLOC_FAST_H
#define AT_MALLOC_FAST_H

#include "store/charge.h"
#include "objects/tcache.h"

/* malloc.c: the slow paths */
AT_HIDDEN void *at_small_alloc_slow(unsigned int cls, struct alloc_tag *tag);
AT_HIDDEN void *at_small_alloc_wide(struct at_theap *h, unsigned int cls, struct alloc_tag *tag);
AT_HIDDEN void at_small_free_slow(void *p, unsigned int cls, uint32_t ti);
AT_HIDDEN void at_wide_free(void *p, const struct at_page *head, unsigned int cls, uint32_t idx,
			       uint64_t f, const char *what);
AT_HIDDEN void at_large_free(void *p, uintptr_t off, const char *what);
AT_HIDDEN void at_free_outside(void *p, const char *what);
/* A large (or huge) block charged to tag (as cur_tag() gives it), which is
 * made current around the page allocator's call if it is not. */
AT_HIDDEN void *at_large_malloc(size_t n, struct alloc_tag *tag);
/* They end the program (at_fatal), naming p; not declared noreturn, so that
 * the fast path reaches them by a tail jump. */
AT_HIDDEN void at_bad_object(void *p, const char *what);
AT_HIDDEN void at_double_free(void *p, const char *what);

/*
 * The tag a small allocation is charged to: the current tag while profiling
 * is on (at_profiling_on implies AT_STATE_READY), else none.  The preload
 * library passes its call site's dynamic tag instead, the tag-passing
 * entries (at_malloc_tag_noprof, ...) their call site's tag.
 */
static inline struct alloc_tag *cur_tag(void)
{
	return AT_LOAD_RELAXED(&at_profiling_on) ? alloctag_current_tag : NULL;
}

static inline uint32_t tag_idx(struct alloc_tag *tag)
{
	return tag ? AT_LOAD_RELAXED(&tag->idx) : AT_IDX_NULL;
}

/*
 * Take bin b's top object (bin b of class cls, b's word w, its count c >= 1, its tag ti), for
 * an allocation charged to ti (charged by the count's update), the slab
 * narrow (no AT_SLOW_WIDE): its entry is written.
 */
static inline __attribute__((always_inline)) void *at_bin_take(struct at_bin *b, unsigned int cls,
								uint64_t w, unsigned int c,
								uint32_t ti)
{
	void *p = b->slots[c - 1];
	AT_STORE_RELAXED(&b->word, w - 1);
	AT_STORE_RELAXED(at_obj_entry_of(p, cls, at_obj_index_m((uintptr_t)p, b->magic)),
			 (uint16_t)(ti + 1));
	return p;
}

/*
 * Free's common case: the thread has a heap, bin cls has room, and its tag
 * is ti, the freed object's: p is pushed, uncharged by the count's own
 * update (bin_charge.h).  0 (nothing done) otherwise.
 */
static inline __attribute__((always_inline)) int at_bin_put(unsigned int cls, void *p, uint32_t ti)
{
	struct at_theap *h = at_tls_heap;
	if (at_unlikely((uintptr_t)h <= 1))
		return 0;
	struct at_bin *b = &h->bins[cls];
	uint64_t w = b->word;
	unsigned int c = at_bin_count(w);
	if (at_unlikely(c == b->cap || at_bin_tag(w) != ti))
		return 0;
	b->slots[c] = p;
	AT_STORE_RELAXED(&b->word, w + 1);
	return 1;
}

/*
 * The fast path, written so that every call in it is a tail call (no stack
 * frame): a narrow slab's object from a non-empty bin whose tag is the
 * current tag's index (under `never`: both 0), its entry written; the
 * bin's count is all there is to update (bin_charge.h).  Anything else goes
 * to at_small_alloc_slow.
 */
static inline __attribute__((always_inline)) void *at_small_alloc(unsigned int cls,
								    struct alloc_tag *tag)
{
	struct at_theap *h = at_tls_heap;
	unsigned char slow = AT_LOAD_RELAXED(&at_small_slow);
	if (at_unlikely((uintptr_t)h <= 1 || slow)) {
		if (slow == AT_SLOW_WIDE && (uintptr_t)h > 1)
			return at_small_alloc_wide(h, cls, tag);
		return at_small_alloc_slow(cls, tag);
	}
	uint32_t ti = tag_idx(tag);
	struct at_bin *b = &h->bins[cls];
	uint64_t w = b->word;
	unsigned int c = at_bin_count(w);
	if (at_unlikely(!c || at_bin_tag(w) != ti)) /* a bin tag fits a narrow entry */
		return at_small_alloc_slow(cls, tag);
	return at_bin_take(b, cls, w, c, ti);
}

/*
 * The rest of free's fast path for object idx (class cls) of a narrow slab
 * whose head page is head, checked to be an object's start: its entry
 * must say allocated; it is cleared and p goes to its bin.  at_free_fast's
 * and, past the stricter heap's checks, at_wide_free's (secure.h).
 */
static inline __attribute__((always_inline)) void at_narrow_free(void *p, const struct at_page *head,
								  unsigned int cls, uint32_t idx,
								  const char *what)
{
	/* the window from the head page (slab.h), as at_obj_entry_c(off, cls) */
	uint16_t *ent = (uint16_t *)(at_meta_base + AT_LOAD_RELAXED(&head->win) + AT_META_REFS) + idx;
	uint32_t e = AT_LOAD_RELAXED(ent);
	if (at_unlikely(!e))
		return at_double_free(p, what);
	AT_STORE_RELAXED(ent, 0);
	uint32_t ti = e - 1;
	/* Only at_bin_put's branch waits for the entry (often a cache miss),
	 * not its stores. */
	if (at_likely(at_bin_put(cls, p, ti)))
		return;
	return at_small_free_slow(p, cls, ti);
}

/*
 * free(), with every call a tail call (no stack frame on the fast path).  The checks come before anything is
 * written: p must be the start of an object of a slab (the slab's class
 * from its head page's flags), and its entry must say allocated.
 */
static inline __attribute__((always_inline)) void at_free_fast(void *p, const char *what)
{
	uintptr_t off = (uintptr_t)((char *)p - at_heap_base);
	if (at_unlikely(off >= AT_LOAD_RELAXED(&at_heap_span)))
		return at_free_outside(p, what);
	const struct at_page *head = &at_pages[(off >> AT_SLAB_SHIFT) << AT_SLAB_ORDER];
	uint64_t f = AT_LOAD_RELAXED(&head->flags);
	if (at_unlikely(!(f & AT_PG_SLAB)))
		return at_large_free(p, off, what);
	unsigned int cls = at_page_class(f);
	/* An object start past the slab's last object (its tail) has an entry
	 * too, never written: it reads as a never handed out slot. */
	uint32_t idx;
	if (at_unlikely(!at_obj_locate(off, at_class_magic[cls], &idx)))
		return at_bad_object(p, what); /* tail calls: no frame here */
	if (at_unlikely(f & (AT_PG_WIDE | AT_PG_SECURE)))
		return at_wide_free(p, head, cls, idx, f, what);
	return at_narrow_free(p, head, cls, idx, what);
}

#endif
