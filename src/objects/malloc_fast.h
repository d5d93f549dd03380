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
#include "objects/secure.h"
#include "objects/tcache.h"

/* malloc.c: the slow paths */
AT_HIDDEN void *at_small_alloc_slow(unsigned int cls, struct alloc_tag *tag);
AT_HIDDEN void *at_small_alloc_wide(struct at_theap *h, unsigned int cls, struct alloc_tag *tag);
AT_HIDDEN void at_small_free_slow(void *p, unsigned int cls, uint32_t ti);
AT_HIDDEN void at_wide_free(void *p, uintptr_t off, unsigned int cls, uint32_t idx, uint64_t f,
			       const char *what);
AT_HIDDEN void at_large_free(void *p, uintptr_t off, const char *what);
/* A pointer outside the heap: a huge block's, or NULL (ignored). */
AT_HIDDEN void at_free_outside(void *p, const char *what);
/* A large (or huge) block charged to tag (as cur_tag() gives it), which is
 * made current around the page allocator's call if it is not. */
AT_HIDDEN void *at_large_malloc(size_t n, struct alloc_tag *tag);
/* The usable size of a block the allocator has just handed out (a live
 * one: none of usable_checked's checks), for the cumulative counts. */
AT_HIDDEN size_t at_usable_size_made(const void *p);
/* realloc(p, n), calloc(n, size) and the aligned family charged to tag
 * (as cur_tag() gives it), the usable size of the block made (if any) in
 * *made, which is left alone when none was; at_X_entry: the same charged
 * to the chain of memo entry e (the thread's memo busy), counted in e, the
 * memo's busy count dropped (malloc.c MADE_ENTRIES): for the preload
 * library's call chains. */
struct at_memo_entry;
#define AT_MADE_ENTRIES(ret, X, ...)                                                   \
	AT_HIDDEN ret at_##X##_made(__VA_ARGS__, struct alloc_tag *tag, size_t *made); \
	AT_HIDDEN ret at_##X##_entry(__VA_ARGS__, struct at_memo_entry *e)
AT_MADE_ENTRIES(void *, realloc, void *p, size_t n);
AT_MADE_ENTRIES(void *, calloc, size_t n, size_t size);
AT_MADE_ENTRIES(int, posix_memalign, void **out, size_t align, size_t n);
AT_MADE_ENTRIES(void *, aligned_alloc, size_t align, size_t n);
AT_MADE_ENTRIES(void *, memalign, size_t align, size_t n);
AT_MADE_ENTRIES(void *, valloc, size_t n);
AT_MADE_ENTRIES(void *, pvalloc, size_t n);
#undef AT_MADE_ENTRIES
/* They end the program (at_fatal), naming p; not declared noreturn, so that
 * the fast path reaches them by a tail jump. */
AT_HIDDEN void at_bad_object(void *p, const char *what);
AT_HIDDEN void at_double_free(void *p, const char *what);


/*
 * One allocation of class cls charged to call chain tag ti outside the
 * bin's count (a memo hit the bin did not serve, a realloc that stays), in
 * ti's cumulative counts: in the thread's bin of cls when that bin's tag
 * is ti (its cumulative count, bin_charge.h: at_chain_cum_bin), else, once
 * the process has forked, in the thread's fold cache (fold_cache.h): pages
 * a forked child writes anyway, where the memo entry's counts would copy
 * the memo's counts page.  Whether it was counted (else the caller counts
 * it in the entry).  A realloc that stays, on a fast path of its own,
 * tries only the bin, and only once the process has forked (the bin's
 * class looked up: 2 instructions more in a process that never forks).
 */
static inline int at_chain_cum_bin(unsigned int cls, uint32_t ti)
{
	struct at_bin *b = &at_tls_bins[cls];
	if (ti < AT_IDX_FIRST || ti > AT_OBJ_NARROW_MAX || !at_bin_tag_is_narrow(&b->word, ti))
		return 0;
	if (at_unlikely(at_bin_cum_inc(&b->cum)))
		at_bin_cum_wrap(&b->word, cls);
	return 1;
}

static inline int at_chain_cum_small(unsigned int cls, uint32_t ti)
{
	if (at_chain_cum_bin(cls, ti))
		return 1;
	if (ti < AT_IDX_FIRST || !AT_LOAD_RELAXED(&at_fold_on))
		return 0;
	at_fold_self(ti, cls, 0, 1);
	return 1;
}

/*
 * Relaxed reads of the fast paths' globals made the operand of their
 * compare: GCC never folds an atomic load into a compare (a load, then a
 * compare of registers: one instruction more each).  On x86-64 an aligned
 * load is what a relaxed atomic load compiles to, so the compare reads the
 * variable itself.
 */
static inline int at_byte_set(const unsigned char *v)
{
#if defined(__x86_64__) && defined(__GCC_ASM_FLAG_OUTPUTS__)
	int set;
	__asm__("cmpb $0, %1" : "=@ccne"(set) : "m"(*v));
	return set;
#else
	return AT_LOAD_RELAXED(v) != 0;
#endif
}

/* x < *v */
static inline int at_below(uintptr_t x, const size_t *v)
{
#if defined(__x86_64__) && defined(__GCC_ASM_FLAG_OUTPUTS__)
	int below;
	__asm__("cmpq %2, %1" : "=@ccb"(below) : "r"(x), "m"(*v));
	return below;
#else
	return x < AT_LOAD_RELAXED(v);
#endif
}

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
 * Slot c - 1 of slots and its entry address (*ent): two loads indexed from
 * the slots.  On x86-64 in one asm statement, the object loaded into the
 * return register (%rax): gcc otherwise computes the top slot's address in
 * it and moves the object there last, or, on the chain's hit path, loads
 * the object into the slots' register and moves it.
 */
static inline __attribute__((always_inline)) void *at_bin_top(void **slots, uintptr_t c,
							       uint16_t **ent)
{
#if defined(__x86_64__)
	void *p;
	__asm__("movq %c[e]-8(%[s],%[c],8), %[ent]\n\t"
		"movq -8(%[s],%[c],8), %[p]"
		: [p] "=a"(p), [ent] "=&r"(*ent)
		: [s] "r"(slots), [c] "r"(c), [e] "i"(AT_BIN_ENTS * sizeof(void *)), "m"(slots[c - 1]),
		  "m"(at_bin_ents(slots)[c - 1]));
	return p;
#else
	*ent = at_bin_ents(slots)[c - 1];
	return slots[c - 1];
#endif
}

/*
 * Take bin b's top object (its count c >= 1), for an allocation charged
 * to the bin's tag (charged by the count's update), the slab narrow (no
 * AT_SLOW_WIDE): its entry, whose address the bin keeps (tcache.h
 * at_bin_ents), is written nent, the tag's narrow entry.
 */
static inline __attribute__((always_inline)) void *at_bin_take_ent(struct at_bin *b, uintptr_t c,
								    uint16_t nent)
{
	uint16_t *ent;
	void *p = at_bin_top(b->slots, c, &ent);
	at_bin_word_add(&b->word, -1);
	AT_STORE_RELAXED(ent, nent);
	return p;
}

/* The same, the entry written being ti's (ti + 1: a narrow entry). */
static inline __attribute__((always_inline)) void *at_bin_take(struct at_bin *b, uintptr_t c,
								uint32_t ti)
{
	return at_bin_take_ent(b, c, (uint16_t)(ti + 1));
}

/*
 * Free's common case: the thread has a heap, bin cls has room, and its tag
 * is ti, the freed object's: p is pushed with its entry's address ent,
 * uncharged by the count's own update (bin_charge.h).  0 (nothing done)
 * otherwise.
 */
static inline __attribute__((always_inline)) int at_bin_put_ent(unsigned int cls, void *p,
								 uint16_t *ent, uint32_t ti)
{
	struct at_bin *b = &at_tls_bins[cls]; /* no heap: cap 0 */
	uint64_t w = b->word;
	unsigned int c = at_bin_count(w);
	if (at_unlikely((uint8_t)c == b->cap || at_bin_tag(w) != ti))
		return 0;
	void **slots = b->slots;
	slots[c] = p;
	at_bin_ents(slots)[c] = ent;
	AT_STORE_RELAXED(&b->word, w + 1);
	return 1;
}

/* The same, the entry's address computed from p. */
static inline __attribute__((always_inline)) int at_bin_put(unsigned int cls, void *p, uint32_t ti)
{
	return at_bin_put_ent(cls, p,
			      at_obj_entry_of(p, at_obj_index((uintptr_t)p, cls)), ti);
}

/* at_small_alloc_slow for bin b of the thread's bins (or of at_bins_none):
 * the class from b, so that the fast path keeps no copy of it. */
static AT_NOINLINE void *at_small_alloc_slow_bin(struct at_bin *b, struct alloc_tag *tag)
{
	return at_small_alloc_slow((unsigned int)(b - at_tls_bins), tag);
}

/*
 * The fast path for bin b of the thread's bins (at_tls_bins), written so
 * that every call in it is a tail call (no stack
 * frame): a narrow slab's object from a non-empty bin whose tag is the
 * current tag's index (under `never`: both 0), its entry written; the
 * bin's count is all there is to update (bin_charge.h).  Anything else goes
 * to at_small_alloc_slow.
 */
static inline __attribute__((always_inline)) void *at_small_alloc_bin_if(struct at_bin *b,
									   struct alloc_tag *tag,
									   int slow_clear)
{
	if (at_unlikely(!slow_clear && at_byte_set(&at_small_slow))) {
		unsigned char slow = AT_LOAD_RELAXED(&at_small_slow);
		struct at_theap *h = at_tls_heap;
		unsigned int cls = (unsigned int)(b - at_tls_bins);
		if (slow == AT_SLOW_WIDE && (uintptr_t)h > 1)
			return at_small_alloc_wide(h, cls, tag);
		return at_small_alloc_slow(cls, tag);
	}
	uint32_t ti = tag_idx(tag);
	uint64_t w = b->word;
	uintptr_t c = at_bin_count_at(&b->word);
	if (at_unlikely(!c))
		return at_small_alloc_slow_bin(b, tag);
	/* a bin tag fits a narrow entry; an untagged call's ti is constant */
	if (__builtin_constant_p(ti) && ti <= 0xFFFFu) {
		if (at_unlikely(!at_bin_tag_is_narrow(&b->word, ti)))
			return at_small_alloc_slow_bin(b, tag);
	} else if (at_unlikely(at_bin_tag(w) != ti)) {
		return at_small_alloc_slow_bin(b, tag);
	}
	return at_bin_take(b, c, ti);
}

/* The same, the slow byte tested. */
static inline __attribute__((always_inline)) void *at_small_alloc_bin(struct at_bin *b,
								       struct alloc_tag *tag)
{
	return at_small_alloc_bin_if(b, tag, 0);
}

/* The same for class cls. */
static inline __attribute__((always_inline)) void *at_small_alloc(unsigned int cls,
								    struct alloc_tag *tag)
{
	return at_small_alloc_bin(&at_tls_bins[cls], tag); /* no heap: count 0 */
}

/*
 * malloc(n) charged to tag (as cur_tag() gives it): the sizes up to 8 KiB,
 * the most frequent, take one compare to their class.  Inlined with a
 * constant NULL tag, the tag's compares fold away (`never`).  slow_clear:
 * the caller read at_small_slow clear in this call (the preload library's
 * malloc: at_modes' word 0), so that it is not tested again.
 */
static inline __attribute__((always_inline)) void *at_malloc_fast_if(size_t n, struct alloc_tag *tag,
								       int slow_clear)
{
	struct at_bin *b;
	if (at_likely(at_small_bin(n, &b)))
		return at_small_alloc_bin_if(b, tag, slow_clear);
	return at_large_malloc(n, tag);
}

/* The same, the slow byte tested. */
static inline __attribute__((always_inline)) void *at_malloc_fast(size_t n, struct alloc_tag *tag)
{
	return at_malloc_fast_if(n, tag, 0);
}

/*
 * at_narrow_free's cases the bin does not take (its entry ent read as e): a
 * free slot (e = 0, a double free); else the entry is cleared and the bin,
 * full or of another tag, or the thread's lack of a heap, are the slow
 * path's (at_small_free_slow).
 */
static AT_NOINLINE void at_narrow_free_slow(void *p, uint16_t *ent, const char *what)
{
	uint32_t e = AT_LOAD_RELAXED(ent);
	if (at_unlikely(!e))
		return at_double_free(p, what);
	AT_STORE_RELAXED(ent, 0);
	uintptr_t off = (uintptr_t)((char *)p - at_heap_base);
	return at_small_free_slow(p, at_slab_class_of(&at_pages[(off >> AT_SLAB_SHIFT) << AT_SLAB_ORDER]),
				  e - 1);
}

/*
 * The rest of free's fast path for object idx of a narrow slab whose head
 * page is head, checked to be an object's start: its entry must say
 * allocated; it is cleared and p goes to its bin, with its entry's address
 * beside it.  at_free_fast's and, past the stricter heap's checks,
 * at_wide_free's (secure.h).  The entry's test for a double free is the
 * bin's tag compare: the bin keeps its tag as a narrow entry would hold it
 * (bin_charge.h at_bin_nent_is), never as a free slot's 0, so a free slot
 * goes to at_narrow_free_slow, which tells it apart before anything is
 * written.
 */
static inline __attribute__((always_inline)) void at_narrow_free(void *p, const struct at_page *head,
								  uintptr_t idx, const char *what)
{
	/* the entries from the head page (slab.h), as at_obj_entry_c(off, cls) */
	uint16_t *ent = AT_LOAD_RELAXED(&head->ents) + idx;
	uint32_t e = AT_LOAD_RELAXED(ent);
	struct at_bin *b = (struct at_bin *)((char *)at_tls_bins + at_slab_bin(head)); /* no heap: cap 0 */
	uintptr_t c = at_bin_count_at(&b->word);
	if (at_unlikely((uint8_t)c == b->cap || !at_bin_nent_is(&b->word, e)))
		return at_narrow_free_slow(p, ent, what);
	AT_STORE_RELAXED(ent, 0);
	void **slots = b->slots;
	slots[c] = p;
	at_bin_ents(slots)[c] = ent;
	at_bin_word_add(&b->word, 1);
}

/* Tail calls of at_free_fast's rare cases.  A heap pointer whose unit head
 * (head) is not a narrow slab's outside the stricter heap: a large block,
 * or (checked as at_free_fast checks) an object of a wide or secure slab.
 * A narrow stricter slab's object whose canary level 1's check finds intact
 * (at_secure_free_ok, secure.h) is freed here as at_free_fast frees a
 * default slab's; anything else goes on to at_wide_free. */
static AT_NOINLINE void at_free_other(void *p, const struct at_page *head, const char *what)
{
	/* computed again: keeping free's copy would cost its fast path a move */
	uintptr_t off = (uintptr_t)((char *)p - at_heap_base);
	uint64_t f = AT_LOAD_RELAXED(&head->flags);
	if (!(f & AT_PG_SLAB))
		return at_large_free(p, off, what);
	uint32_t idx;
	/* p must be an object's start before its canary is read: an interior
	 * pointer's "canary" could lie past the heap's committed memory */
	if (at_unlikely(!at_obj_locate(off, at_slab_magic(head), &idx)))
		return at_bad_object(p, what);
	if (at_likely((f & (AT_PG_WIDE | AT_PG_SECURE)) == AT_PG_SECURE) &&
	    at_likely(at_secure_free_ok(p, at_page_class(f))))
		return at_narrow_free(p, head, idx, what);
	return at_wide_free(p, off, at_page_class(f), idx, f, what);
}

/*
 * free(), with every call a tail call (no stack frame on the fast path).  The checks come before anything is
 * written: p must be the start of an object of a slab (a narrow slab's unit
 * head by one compare of its flags' low byte, slab.h), and its entry must
 * say allocated.  The class's magic number and bin come from the slab's
 * second page descriptor's word (slab.h), in the head's cache line:
 * written before the slab's first object is handed out, read with plain
 * loads (the multiply and the compare take it as their operand).  The
 * offset in the slab is p's low 16 bits (the heap's base is 64 KiB
 * aligned), so the heap offset itself is free for the unit's index.
 */
static inline __attribute__((always_inline)) void at_free_fast(void *p, const char *what)
{
	/* NULL too is outside: at_free_outside ignores it (no test here) */
	uintptr_t off = (uintptr_t)p - (uintptr_t)at_heap_base;
	if (at_unlikely(!at_below(off, &at_heap_span)))
		return at_free_outside(p, what);
	const struct at_page *head = &at_pages[(off >> AT_SLAB_SHIFT) << AT_SLAB_ORDER];
	/* not a narrow, plain slab: a large block, or a wide or secure slab */
	if (at_unlikely(!at_slab_head_narrow(head)))
		return at_free_other(p, head, what);
	/* An object start past the slab's last object (its tail) has an entry
	 * too, never written: it reads as a never handed out slot. */
	uintptr_t idx;
	if (at_unlikely(!at_obj_locate_cls((uint16_t)(uintptr_t)p, &head[1].cls, &idx)))
		return at_bad_object(p, what); /* tail calls: no frame here */
	return at_narrow_free(p, head, idx, what);
}

#endif
