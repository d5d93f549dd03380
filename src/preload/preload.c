/*
 * liballoctag-preload.so: alloctag as the process's malloc, for unmodified
 * programs (LD_PRELOAD=liballoctag-preload.so prog).  Exports the C and
 * POSIX malloc family and glibc's memalign, valloc, pvalloc,
 * malloc_usable_size.  ALLOCTAG=never|0|1[,compressed|,uncompressed]
 * selects the store as for any alloctag program.
 *
 * Tags: an allocation is charged to the caller's current tag if it set one
 * (alloc_hooks); otherwise, when profiling is on, to the tag of its call
 * chain (chains.h: the return addresses of up to ALLOCTAG_DEPTH frames,
 * from malloc's caller outwards, one tag per chain made on first use;
 * depth 1: the return address of the malloc call alone).  Before
 * alloctag_init (the loader's and libc's start-up allocations) nothing is
 * charged.  ALLOCTAG_ALLOCINFO=<path> writes allocinfo at exit
 * (exit_report.c).  liballoctag.so itself exports none of these names.
 */
#include <malloc.h>
#include <stddef.h>
#include <stdlib.h>

#include "core/control.h"
#include "sites/chains.h"
#include "objects/malloc_fast.h"

#define EXPORT __attribute__((visibility("default")))

/*
 * Cumulative counts (counters.h) of a chain's allocations: a small malloc
 * whose bin has, or takes, the chain's tag, in the bin's count
 * (bin_charge.h), whatever found the chain (a memo entry, a walk, depth
 * 1's table); any other allocation proved by a memo entry, in the entry's
 * counts (chains.h); the rest (after a walk or at depth 1, a small object
 * the bin did not take the tag of), through at_fold_self (objects/
 * fold_cache.h: the thread's fold cache once the process has forked, else
 * per CPU), or a large block in the tag's per-CPU counters.
 */

/* One allocation of `bytes` made for chain tag t (NULL: none). */
static inline void cum(struct alloc_tag *t, size_t bytes)
{
	uint32_t i = tag_idx(t);
	if (at_likely(i >= AT_IDX_FIRST))
		at_cum_add(i, (int64_t)bytes);
}

/* One small object of class cls made for chain tag t (NULL: none), in its
 * cumulative counters (objects/fold_cache.h at_fold_self). */
static inline void cum_small(struct alloc_tag *t, unsigned int cls)
{
	uint32_t i = tag_idx(t);
	if (at_likely(i >= AT_IDX_FIRST))
		at_fold_self(i, cls, 0, 1);
}

/* The tag of the chain whose innermost frame returns to ra at stack
 * pointer from (the entry's CFA), its memo entry not found. */
static inline struct alloc_tag *site_tag(uintptr_t from, const void *ra)
{
	if (at_likely(at_chain_depth == 1)) {
		uintptr_t f = (uintptr_t)ra;
		return at_chain_tag(&f, 1);
	}
	return at_chain_walk(from, ra);
}

static inline struct alloc_tag *site_tag1(const void *ra)
{
	uintptr_t f = (uintptr_t)ra;
	return at_chain_tag(&f, 1);
}

/*
 * Site keys (depth 1): a bin remembers one call site whose dynamic tag is the bin's
 * tag, as the key (return address << 16 | the tag's narrow entry, its
 * index plus one) in at_bin.site.  A
 * malloc from the site whose bin's key matches, built from the bin's
 * current tag field as read (at_bin_nent_at: no decrement, and the same
 * register is the entry the pop writes), takes the bin's top object with no table lookup (the
 * lookup's hash and two dependent loads were most of a small malloc's
 * profiling cost), counted in the bin's cumulative count (bin_charge.h).
 * The key holds its tag, so a bin whose tag changed since
 * (bin_charge.h) no longer matches: no invalidation is needed.  A bin tag
 * is at most AT_OBJ_NARROW_MAX and a user-space address is below 2^47, so
 * the key is exact; a key's low bits are at least AT_IDX_FIRST + 1, so no
 * bin without a tag (field 0) matches one.  Dynamic tags are permanent: a site's tag never changes.
 */
_Static_assert(AT_OBJ_NARROW_MAX < 0xFFFFu, "a bin tag's narrow entry fits a site key's low bits");

static inline uint64_t site_key(const void *ra, uint32_t nent)
{
	return (uint64_t)(uintptr_t)ra << 16 | nent;
}

/* The same made in ra's register (GCC otherwise shifts a copy of ra) */
static inline uint64_t site_key_in(const void *ra, uintptr_t nent)
{
#if defined(__x86_64__)
	uint64_t k = (uintptr_t)ra;
	__asm__("shlq $16, %0\n\torq %1, %0" : "+r"(k) : "r"(nent));
	return k;
#else
	return site_key(ra, (uint32_t)nent);
#endif
}

/*
 * Everything that looks up the table is a function of its own, reached by a
 * tail call, so that malloc itself needs no stack frame.
 * A small malloc of class cls from site ra whose bin key did not match:
 * the table lookup; the key is recorded if the bin now has the site's tag.
 */
static AT_NOINLINE void *site_miss(unsigned int cls, const void *ra)
{
	struct alloc_tag *tag = site_tag1(ra);
	void *p = at_small_alloc(cls, tag);
	uint32_t ti = tag_idx(tag);
	if (p && !at_chain_cum_bin(cls, ti)) /* the bin's count if the bin took the tag */
		cum_small(tag, cls);
	struct at_theap *h = at_tls_heap;
	if (p && (uintptr_t)h > 1 && ti >= AT_IDX_FIRST && at_bin_tag(h->bins[cls].word) == ti)
		h->bins[cls].site = site_key(ra, ti + 1);
	return p;
}

static inline unsigned int bin_class(const struct at_bin *b);

/* site_miss for the class of bin b, from the site key the bin did not
 * hold (ra in its high bits: the fast path shifts ra in place). */
static AT_NOINLINE void *site_miss_bin(struct at_bin *b, uint64_t key)
{
	return site_miss(bin_class(b), (const void *)(uintptr_t)(key >> 16));
}

/* The same with no narrow bin to key (wide slabs, or no heap yet). */
static AT_NOINLINE void *site_small(unsigned int cls, const void *ra)
{
	struct alloc_tag *tag = site_tag1(ra);
	void *p = at_small_alloc(cls, tag);
	if (p)
		cum_small(tag, cls);
	return p;
}

static AT_NOINLINE void *site_large(size_t n, const void *ra)
{
	struct alloc_tag *tag = site_tag1(ra);
	void *p = at_large_malloc(n, tag);
	if (p)
		cum(tag, at_usable_size_made(p));
	return p;
}

/* Whether ti is a tag's index (not none) that a narrow entry holds: one
 * compare. */
static inline int narrow_tag(uint32_t ti)
{
	return ti - AT_IDX_FIRST <= AT_OBJ_NARROW_MAX - AT_IDX_FIRST;
}

/* The top object of bin b (count c >= 1, in a heap of narrow slabs only:
 * at_small_slow clear) of class cls for a malloc charged to ti (a narrow
 * entry's index, not the bin's tag): its entry written, the bin's tag
 * switched or the malloc charged per CPU by at_bin_pop (bin_charge.h):
 * what at_small_alloc_slow would do, without finding the heap, the
 * object's entry and the slab's width again (a real program's mallocs
 * from interleaving chains change the bin's tag on most calls). */
static inline void *bin_retag(struct at_bin *b, uintptr_t c, unsigned int cls, uint32_t ti)
{
	void **top = b->slots + c - 1;
	void *p = *top;
	AT_STORE_RELAXED(*at_bin_ents(top), (uint16_t)(ti + 1));
	at_bin_pop(&b->word, cls, ti);
	return p;
}

/* Depth > 1, the chain's tag known (a memo hit that the bin could not
 * serve, or after a walk): the allocation, a small one from the bin under
 * another tag as bin_retag takes it, and its cumulative count in the
 * bin's when the bin took the tag (malloc_fast.h at_chain_cum_bin), else
 * through at_fold_self. */
static AT_NOINLINE void *chain_tagged(size_t n, struct alloc_tag *tag)
{
	void *p;
	unsigned int cls;
	if (at_likely(at_small_class(n, &cls))) {
		uint32_t ti = tag_idx(tag);
		struct at_bin *b = &at_tls_bins[cls]; /* no heap: count 0 */
		uintptr_t c = at_bin_count_at(&b->word);
		if (c && !at_byte_set(&at_small_slow) && narrow_tag(ti) && !at_bin_tag_is_narrow(&b->word, ti))
			p = bin_retag(b, c, cls, ti);
		else if (at_unlikely(!(p = at_small_alloc(cls, tag))))
			return NULL;
		if (!at_chain_cum_bin(cls, ti))
			cum_small(tag, cls);
		return p;
	}
	p = at_large_malloc(n, tag);
	if (p)
		cum(tag, at_usable_size_made(p));
	return p;
}

/* The class of bin b of the thread's bins (or of the empty ones of a
 * thread without a heap): the slow paths find it from b, so that the fast
 * paths keep no copy of it (as at_small_alloc_slow_bin). */
static inline unsigned int bin_class(const struct at_bin *b)
{
	return (unsigned int)(b - at_tls_bins);
}

/* Depth > 1, a memo hit (entry e, the memo busy) whose small object of
 * class cls the bin could not serve: the allocation, counted as
 * at_chain_cum_small counts it, else in the entry's cumulative counts (no
 * per-CPU add); the memo's busy count dropped.  Takes the class, not the
 * size, so that malloc need not keep the size past it (no register copy
 * on its fast paths). */
static AT_NOINLINE void *chain_entry_small(unsigned int cls, struct at_memo_entry *e)
{
	void *p = at_small_alloc(cls, e->tag);
	if (at_likely(p != NULL) && !at_chain_cum_small(cls, e->idx))
		at_memo_count(e, at_class_charge[cls]);
	at_chain_entry_done();
	return p;
}

/* The same for any size n. */
static AT_NOINLINE void *chain_entry_alloc(size_t n, struct at_memo_entry *e)
{
	unsigned int cls;
	if (at_likely(at_small_class(n, &cls)))
		return chain_entry_small(cls, e);
	void *p = at_large_malloc(n, e->tag);
	if (p)
		at_memo_count(e, at_usable_size_made(p));
	at_chain_entry_done();
	return p;
}

/*
 * Depth > 1, a memo hit (entry e, the memo busy) whose bin b
 * holds c >= 1 objects under another tag, in a heap of narrow slabs only
 * (at_small_slow clear): if e's index fits a narrow entry, bin_retag;
 * else chain_entry_small.  Counted in the bin's cumulative count
 * (its tag now e's), else in the entry; the memo's busy count dropped.
 */
static AT_NOINLINE void *chain_retag(struct at_memo_entry *e, struct at_bin *b, uintptr_t c)
{
	unsigned int cls = bin_class(b);
	uint32_t ti = e->idx;
	if (at_unlikely(!narrow_tag(ti)))
		return chain_entry_small(cls, e);
	void *p = bin_retag(b, c, cls, ti);
	if (!at_chain_cum_small(cls, ti)) /* malloc_fast.h: the bin took e's tag */
		at_memo_count(e, at_class_charge[cls]);
	at_chain_entry_done();
	return p;
}

/* The cumulative count of bin b (count c >= 1), whose tag is the
 * allocation's, just wrapped (bin_charge.h): folded, then the bin's top
 * object taken, its entry written with the bin's tag.  A tail call, so
 * that the fast paths need no frame; they count before the pop, so that
 * the object is loaded last, into the return register, and pass neither
 * the object nor the entry it takes (no register copy on their path). */
static AT_NOINLINE void *cum_wrapped(struct at_bin *b, uintptr_t c)
{
	uint32_t ti = at_bin_tag_narrow_at(&b->word);
	at_bin_cum_wrap(&b->word, bin_class(b));
	return at_bin_take(b, c, ti);
}

/* chain_entry_small for the class of bin b, which is empty. */
static AT_NOINLINE void *chain_entry_bin(struct at_bin *b, struct at_memo_entry *e)
{
	return chain_entry_small(bin_class(b), e);
}

_Static_assert(AT_OBJ_NARROW_MAX < AT_MEMO_NENT_NONE, "an entry's nent compares with a bin's tag field");

/*
 * Depth > 1, a memo hit (entry e, the thread's memo busy): a small object
 * from the bin if its tag is the chain's (e's nent, the narrow entry it
 * writes, against the bin tag's 16-bit field: at_bin_nent_is; an index no
 * bin tag can be has nent 0, which no field is), counted in the bin's cumulative count
 * (bin_charge.h); else from the bin under another tag, chain_retag, or
 * chain_entry_alloc.  Every call a tail call: inlined into chain_malloc,
 * neither needs a stack frame.
 */
static inline __attribute__((always_inline)) void *chain_bin_take_if(size_t n,
								      struct at_memo_entry *e,
								      int slow_clear)
{
	struct at_bin *b; /* no heap: count 0 */
	/* the slow byte first: past the bin, the size is not needed */
	if (at_likely((slow_clear || !at_byte_set(&at_small_slow)) && at_small_bin(n, &b))) {
		uintptr_t c = at_bin_count_at(&b->word);
		if (at_likely(c)) {
			if (at_likely(at_bin_nent_is(&b->word, e->nent))) {
				/* done with the entry before the pop: the
				 * object's register is then the return value's */
				uint16_t nent = e->nent;
				at_chain_entry_done();
				if (at_unlikely(at_bin_cum_inc(&b->cum)))
					return cum_wrapped(b, c);
				return at_bin_take_ent(b, c, nent);
			}
			return chain_retag(e, b, c);
		}
		return chain_entry_bin(b, e);
	}
	return chain_entry_alloc(n, e);
}

/* The same, the slow byte tested. */
static inline __attribute__((always_inline)) void *chain_bin_take(size_t n,
								   struct at_memo_entry *e)
{
	return chain_bin_take_if(n, e, 0);
}

static AT_NOINLINE void *chain_bin(size_t n, struct at_memo_entry *e)
{
	return chain_bin_take(n, e);
}

/* Depth > 1 after a miss in the set: the walk (chains.h: The lean walk),
 * then the allocation.  The caller's return address is the word below
 * `from` (malloc's return address): not passed, so that chain_malloc need
 * not keep it. */
static AT_NOINLINE void *chain_slow(size_t n, uintptr_t from)
{
	const void *ra = *(const void *const *)(from - 8);
	return chain_tagged(n, at_chain_walk(from, ra));
}

/* chain_malloc's lookup met an entry at_memo_fast does not cover (memo
 * busy): the whole lookup. */
static AT_NOINLINE void *chain_general(size_t n, uintptr_t from)
{
	struct at_memo_entry *e =
		at_memo_lookup(at_memo_tls.m, *(const uintptr_t *)(from - 8), from);
	if (at_likely(e != NULL))
		return chain_bin(n, e);
	return chain_slow(n, from);
}

/* chain_malloc's way 0 did not prove the chain (the memo busy; e is the
 * set's way 0): its other ways, then as chain_malloc. */
static AT_NOINLINE void *chain_ways(size_t n, uintptr_t from, struct at_memo_entry *e)
{
	uintptr_t ra = *(const uintptr_t *)(from - 8);
	int r = at_memo_ways(e + 1, e + AT_MEMO_WAYS, ra, from, &e);
	if (at_likely(r > 0))
		return chain_bin_take(n, e);
	if (r < 0)
		return chain_general(n, from);
	return chain_slow(n, from);
}

/*
 * Depth > 1, malloc's chain (inlined into it: `from` is its CFA, ra its return
 * address): the chain from the thread's memo (chains.h), then the bin
 * (chain_bin_take).  The set's way 0 (its newest entry: a steady loop's
 * chain) is checked here, the others by chain_ways (no end of the ways
 * computed, no loop in malloc); an entry at_memo_fast does not cover goes
 * to chain_general; a miss (at_memo_none's included: the thread has no
 * memo yet) to chain_slow.  slow_clear: the caller read at_small_slow
 * clear in this call (malloc's MODES), so that way 0's hit does not test
 * it again.
 */
static inline __attribute__((always_inline)) void *chain_malloc(size_t n, uintptr_t from,
								 const void *ra, int slow_clear)
{
	/* a register like any other (GCC otherwise takes the CFA's low 32
	 * bits for the set through a store and a load): on x86-64 the second
	 * argument's, where chain_ways and chain_general take it (else a
	 * move on the way to them) */
#if defined(__x86_64__)
	__asm__("" : "+S"(from), "+D"(n));
#else
	__asm__("" : "+r"(from), "+r"(n));
#endif
	struct at_memo_entry *e = at_memo_set_busy(from, ra);
	int r = at_memo_way(e, (uintptr_t)ra, from);
	if (at_likely(r > 0))
		return chain_bin_take_if(n, e, slow_clear);
	if (r < 0)
		return chain_general(n, from);
	return chain_ways(n, from, e);
}

/* Depth 1: the bin's site key, else the table lookup (site_miss).  The
 * slow byte first (slow_clear: the caller read it clear in this call) and
 * the class from the bin on the slow paths, so that
 * neither the size nor the class is kept past the bin's address. */
static inline __attribute__((always_inline)) void *site_malloc_if(size_t n, const void *ra,
								   int slow_clear)
{
	unsigned int cls;
	if (at_likely(slow_clear || !at_byte_set(&at_small_slow))) {
		struct at_bin *b; /* no heap: count 0 */
		if (at_unlikely(!at_small_bin(n, &b)))
			return site_large(n, ra);
		uintptr_t c = at_bin_count_at(&b->word);
		uintptr_t nent = at_bin_nent_at(&b->word);
#if defined(__x86_64__)
		{ /* not the register the pop's entry address takes (else a copy) */
			register uintptr_t n8 __asm__("r8") = nent;
			__asm__("" : "+r"(n8));
			nent = n8;
		}
#endif
		uint64_t key = site_key_in(ra, nent);
		if (at_likely(c && b->site == key)) {
			if (at_unlikely(at_bin_cum_inc(&b->cum)))
				return cum_wrapped(b, c);
			return at_bin_take_ent(b, c, (uint16_t)nent);
		}
		return site_miss_bin(b, key);
	}
	if (at_unlikely(!at_small_class(n, &cls)))
		return site_large(n, ra);
	return site_small(cls, ra);
}

/* The hottest entries: malloc.c's fast paths inlined (malloc_fast.h); the
 * call site's tag is passed, not made current.  With profiling on, malloc
 * itself only picks the path (no stack frame): MODES, at_modes' word
 * (control.h: at_profiling_on in its low byte, at_small_slow in its high
 * one) compared once with AT_PROFILING_CHAINS, its flags telling off
 * with the slow byte clear (goto off), call chains with the slow byte
 * clear (the way 0 hit takes the bin with no test of the slow byte) and
 * everything else (goto other: depth 1, or a slow byte set) apart: call
 * chains by one branch taken over the others (`je`), which follow it
 * inline (`ja` to other on the same flags, else a jump to off: depth 1 pays
 * the 3 instructions it paid with `jb` then `ja`, `never` 2 more, call
 * chains 1 fewer), inside the function and its unwind information (a
 * debugger or a sampling profiler stopped there still unwinds); the
 * other entries' PROFILING_MODE, at_profiling_on alone compared, its
 * flags telling off (goto off), depth 1 (goto sites) and call chains
 * apart, the same way. */
#if defined(__x86_64__)
_Static_assert(offsetof(union at_modes, profiling_on) == 0 &&
		       offsetof(union at_modes, small_slow) == 1,
	       "MODES compares at_profiling_on in the word's low byte, the slow byte clear");
/* insn (cmpb or cmpw) of *mem with k: equal jumps over the rest, two
 * instructions in all; above and below are told apart after it (`ja` on
 * the same flags, else a jump). */
#define CMP_EQ_ELSE(insn, mem, k, above, below)                                           \
	__asm__ goto(insn " %1, %0\n\tje 1f\n\t"                                             \
		     "ja %l[" #above "]\n\tjmp %l[" #below "]\n1:"                             \
		     : : "m"(mem), "i"(k) : "cc" : below, above)
#define MODES(off, other) CMP_EQ_ELSE("cmpw", at_modes.word, AT_PROFILING_CHAINS, other, off)
#define PROFILING_MODE() CMP_EQ_ELSE("cmpb", at_profiling_on, AT_PROFILING_CHAINS, sites, off)
/* The current tag compared in place (the thread block's word, one
 * instruction: its value is read again on the rare path that uses it). */
#define IF_CURRENT_TAG(tagged)                                                           \
	__asm__ goto("cmpq $0, %0\n\tjne %l[" #tagged "]"                                  \
		     : : "m"(at_current_tag) : "cc" : tagged)
#else
#define MODES(off, other)                                                     \
	do {                                                                  \
		union at_modes m_;                                            \
		m_.word = AT_LOAD_RELAXED(&at_modes.word);                    \
		if (at_unlikely(m_.small_slow || m_.profiling_on > AT_PROFILING_CHAINS)) \
			goto other;                                           \
		if (at_unlikely(m_.profiling_on < AT_PROFILING_CHAINS))       \
			goto off;                                             \
	} while (0)
#define PROFILING_MODE()                                                      \
	do {                                                                  \
		unsigned char on_ = AT_LOAD_RELAXED(&at_profiling_on);        \
		if (at_unlikely(on_ < AT_PROFILING_CHAINS))                   \
			goto off;                                             \
		if (at_unlikely(on_ > AT_PROFILING_CHAINS))                   \
			goto sites;                                           \
	} while (0)
#define IF_CURRENT_TAG(tagged)                                                \
	do {                                                                  \
		if (at_unlikely(at_current_tag != NULL))                      \
			goto tagged;                                          \
	} while (0)
#endif

/* malloc at depth 1 (ra its return address): the current tag's (compared
 * in place), else site_malloc_if. */
#define SITE_ENTRY(name, slow_clear)                                                     \
	static AT_NOINLINE void *name(size_t n, const void *ra)                          \
	{                                                                                \
		IF_CURRENT_TAG(tagged);                                                  \
		return site_malloc_if(n, ra, slow_clear);                                \
	tagged:                                                                          \
		return at_malloc_fast(n, at_current_tag);                                \
	}
/* malloc's, the modes word read as depth 1 with the slow byte clear */
SITE_ENTRY(site_entry, 1)
/* the others' (malloc_modes: a slow byte set) */
SITE_ENTRY(site_entry_any, 0)

/* *w == k, the modes word compared in memory (as at_byte_set) */
static inline int modes_are(const uint16_t *w, uint16_t k)
{
#if defined(__x86_64__) && defined(__GCC_ASM_FLAG_OUTPUTS__)
	int eq;
	__asm__("cmpw %w2, %1" : "=@cce"(eq) : "m"(*w), "ri"(k));
	return eq;
#else
	return AT_LOAD_RELAXED(w) == k;
#endif
}

/* malloc_modes with call chains on: as malloc, the slow byte tested (in
 * profiling's text, text_order.ld). */
static AT_NOINLINE void *malloc_modes_chains(size_t n, uintptr_t from)
{
	IF_CURRENT_TAG(tagged);
	return chain_malloc(n, from, *(const void *const *)(from - 8), 0);
tagged:
	return at_malloc_fast(n, at_current_tag);
}

/* malloc's MODES other than call chains or off with the slow byte clear
 * (`from` malloc's CFA): at_profiling_on alone, then as malloc, the slow
 * byte tested.  Profiling off is every malloc made before start-up (the
 * slow byte's AT_SLOW_EARLY), a program's libraries' constructors' (they
 * run before this library's: glib's, libstdc++'s), so that path is in the
 * allocator's text with malloc, the chains' path in profiling's. */
static AT_NOINLINE void *malloc_modes(size_t n, uintptr_t from)
{
	PROFILING_MODE();
	return malloc_modes_chains(n, from);
sites:
	return site_entry_any(n, *(const void *const *)(from - 8));
off:
	return at_malloc_fast(n, NULL);
}

EXPORT void *malloc(size_t n)
{
	MODES(off, other);
	/* call chains (READY), the slow byte clear */
	IF_CURRENT_TAG(tagged);
	return chain_malloc(n, (uintptr_t)__builtin_dwarf_cfa(), __builtin_return_address(0), 1);
tagged:
	return at_malloc_fast(n, at_current_tag);
other:
	/* depth 1 with the slow byte clear (the whole word compared) without
	 * a call; the rest (a slow byte set) by malloc_modes */
	if (at_likely(modes_are(&at_modes.word, AT_PROFILING_SITES)))
		return site_entry(n, __builtin_return_address(0));
	return malloc_modes(n, (uintptr_t)__builtin_dwarf_cfa());
off:
	/* its own copy: no tag to compare; the modes word was 0, the slow
	 * byte clear */
	return at_malloc_fast_if(n, NULL, 1);
}

EXPORT void free(void *p)
{
	at_free_fast(p, "free"); /* NULL included */
}

#define UNPAREN(...) __VA_ARGS__
/* chain_X_slow's chain (below): the entry of the set's ways past w0 (its
 * way 0; NULL at depth 1: no set), else of the whole lookup, in *ep (the
 * memo busy); else *ep NULL and the chain's tag (site_tag).  One function
 * for every entry of the family: inlined in each (the ways, the lookup's
 * call, the miss's call) it was about 600 bytes of profiling's text a
 * copy. */
static AT_NOINLINE struct alloc_tag *chain_entry_slow(uintptr_t from, const void *ra,
						       struct at_memo_entry *w0,
						       struct at_memo_entry **ep)
{
	struct at_memo_entry *e = NULL;
	if (w0 && at_memo_ways(w0 + 1, w0 + AT_MEMO_WAYS, (uintptr_t)ra, from, &e) < 0)
		e = at_memo_lookup(at_memo_tls.m, (uintptr_t)ra, from);
	*ep = e;
	return e ? NULL : site_tag(from, ra);
}
/*
 * The exported X (every entry but malloc and free): with profiling on and
 * no current tag, a tail call of chain_X(params, from, ra) (`from` and ra
 * the exported X's), which proves the chain once by the memo's way 0, as
 * malloc does, and tail-calls at_X_entry (malloc.c): X charged to the
 * entry's chain and counted in the entry with the usable size X knows (a
 * block realloc left in place: the size its checks found; a small calloc:
 * its class's; the aligned family: the block's), the memo's busy count
 * dropped; else chain_X_slow: the set's other ways as malloc's chain_ways
 * checks them (the memo busy; the whole lookup for an entry they do not
 * cover), else the walk, at_X_made counted per CPU.  chain_X is inlined
 * into X (one GOT load, no jump and no argument moved between them) and
 * makes only tail calls (no stack frame).  At depth 1, chain_X_slow with no set:
 * the caller's tag.  Otherwise at_X_noprof, charged to the current tag if
 * any.  `ok`, an
 * expression of X's result q: X made a block (its usable size in made).
 */
#define CHAIN_ENTRY(ret, X, params, args, ok, tag1)                                      \
	static AT_NOINLINE ret chain_##X##_slow(UNPAREN params, uintptr_t from,          \
						const void *ra, struct at_memo_entry *w0)  \
	{                                                                                \
		struct at_memo_entry *e = NULL;                                          \
		struct alloc_tag *t = tag1 && !w0 ? site_tag1(ra) : chain_entry_slow(from, ra, w0, &e); \
		if (e)                                                                   \
			return at_##X##_entry(UNPAREN args, e);                          \
		size_t made;                                                             \
		ret q = at_##X##_made(UNPAREN args, t, &made);                           \
		if (ok)                                                                  \
			cum(t, made);                                                    \
		return q;                                                                \
	}                                                                                \
	static inline __attribute__((always_inline)) ret chain_##X(UNPAREN params, uintptr_t from, const void *ra) \
	{                                                                                \
		__asm__("" : "+r"(from));                                                \
		struct at_memo_entry *e = at_memo_set_busy(from, ra);                   \
		if (at_likely(at_memo_way(e, (uintptr_t)ra, from) > 0))                  \
			return at_##X##_entry(UNPAREN args, e);                          \
		return chain_##X##_slow(UNPAREN args, from, ra, e);                      \
	}                                                                                \
	EXPORT ret X(UNPAREN params)                                                     \
	{                                                                                \
		PROFILING_MODE();                                                        \
		if (at_likely(!at_current_tag))                                          \
			return chain_##X(UNPAREN args, (uintptr_t)__builtin_dwarf_cfa(), \
					 __builtin_return_address(0));                   \
		goto off;                                                                \
	sites:                                                                           \
		if (at_likely(!at_current_tag))                                          \
			return chain_##X##_slow(UNPAREN args,                            \
						(uintptr_t)__builtin_dwarf_cfa(),        \
						__builtin_return_address(0), NULL);      \
	off:                                                                             \
		return at_##X##_noprof(UNPAREN args);                                    \
	}

/* tag1: at depth 1 the caller's tag inline (calloc and realloc, frequent
 * enough that a call more shows: realloc 517 instructions against 537),
 * else through chain_entry_slow (a smaller copy of the entry) */
CHAIN_ENTRY(void *, calloc, (size_t n, size_t size), (n, size), q, 1)
CHAIN_ENTRY(void *, realloc, (void *p, size_t n), (p, n), q, 1)
CHAIN_ENTRY(int, posix_memalign, (void **out, size_t align, size_t n), (out, align, n), !q, 0)
CHAIN_ENTRY(void *, aligned_alloc, (size_t align, size_t n), (align, n), q, 0)
CHAIN_ENTRY(void *, memalign, (size_t align, size_t n), (align, n), q, 0)
CHAIN_ENTRY(void *, valloc, (size_t n), (n), q, 0)
CHAIN_ENTRY(void *, pvalloc, (size_t n), (n), q, 0)

EXPORT size_t malloc_usable_size(void *p)
{
	return at_usable_size(p);
}
