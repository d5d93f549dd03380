/*
 * Call-chain tags: one dynamic tag per call chain, for allocations made
 * without alloctag's macros (the preload library, preload.c; at_*_noprof
 * calls with no current tag, malloc.c).
 *
 * A chain is the return addresses of up to at_chain_depth frames
 * (ALLOCTAG_DEPTH, default AT_CHAIN_DEFAULT_DEPTH, chosen by measurement:
 * BENCHMARKS.md, "Preload library: call chains"; at most AT_CHAIN_MAX),
 * innermost (malloc's caller) first, unwound from .eh_frame (unwind.h);
 * depth 1 is the caller's return address alone.  Each chain is a tag of its
 * own (an index, per-CPU live counters, cumulative counters); its name is
 * its *site*'s (site_names.h): the first frame that is not part of the
 * allocation layer, or the outermost frame kept when every frame is.
 * allocinfo prints one line per site, the chains' counters summed; the
 * chains themselves go to the raw profile (sites_each.h).
 *
 * Table: an array of 2^shift record pointers, open addressing with linear
 * probing on the chain's 64-bit hash; a slot goes NULL -> record once and
 * never changes.  Lookups take no lock: a hit is the hash, the slot load,
 * and the record's length and frames compared (its first frame first;
 * the record keeps no hash: growing the table hashes its frames again).
 * Inserts hold the registry lock; when the table would pass half full, a
 * table twice the size is built, the records are rehashed into it and it
 * is published; the old one stays mapped (a reader may still be probing
 * it) but empty: its slots in the header's page stored NULL, its other
 * pages dropped (MADV_DONTNEED, reading as zero), so that a reader
 * probing it misses and looks again in the current one
 * (at_chain_tag_slow) before creating anything.  Resident: the current
 * table and a page of each old one.  No cap: the table grows as long as memory and
 * the tag index space (AT_IDX_MAX) last; past that, further chains get a
 * tag without an index (charged nothing; runtime_index.c says so once).
 * Records (struct at_chain and its frames) live in the
 * sites' pool (site_names.h) and are never freed; indexes are never
 * released.  A thread-local flag makes creation non-reentrant: an
 * allocation made while its thread creates a chain (by dladdr, by a signal
 * handler) gets no tag, and so does one whose thread holds the registry
 * lock (a report writing to a stream that allocates): its chain is made at
 * its next call.
 */
#ifndef AT_CHAINS_H
#define AT_CHAINS_H

#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"
#include "core/control.h"
#include "core/counters.h"
#include "sites/unwind.h"

/* ALLOCTAG_DEPTH's bounds (parsed in core/control.c, applied at start-up) */
#define AT_CHAIN_MAX AT_DEPTH_MAX
#define AT_CHAIN_DEFAULT_DEPTH AT_DEPTH_DEFAULT
/* A chain's tag has this flag (bits 8..15 of flags are internal; debug.c
 * uses 8..10). */
#define AT_TAG_CHAIN 0x8000u

struct at_frame;

struct at_chain {
	struct alloc_tag tag;       /* function, filename: the site's strings */
	struct at_frame *named;     /* the frame that names it (the site, or the last) */
	struct at_chain *next_named; /* the named frame's chains */
	struct at_chain *next_all;  /* every chain, newest first */
	uint32_t nr;                /* frames[0 .. nr) (no hash: 144 bytes at depth 8) */
	uint32_t site;              /* 1-based index of the site frame, 0 = none */
	uintptr_t frames[];
};

struct at_chain_table {
	uint32_t shift;
	uint32_t pad;
	struct at_chain *slots[];
};

/*
 * The memo (chains.c): a thread's recent chains, each proved again at a
 * later call by the stack words its walk read (unwind.h's trace), so that
 * a repeated chain needs no unwinding and no hashing.  AT_MEMO_SETS sets
 * of AT_MEMO_WAYS entries, the set chosen by the return address and the
 * stack pointer at the caller: one call site (a wrapper's call of malloc,
 * such as sqlite3MemMalloc's) often has more chains than a set has ways,
 * mostly at different stack depths.
 *
 * An entry: its key (the return address ra | the depth it was made at
 * << 48; 0: empty, or being written), its chain's tag and the tag's index,
 * and the walk's words: word i lies at from + off[i], where `from` is the
 * stack pointer at the caller (the CFA of malloc).  Words [0, nabs) are
 * return addresses, compared as they are, nabs a multiple of 4 (the last
 * one repeated: the check is unrolled by 4); words [nabs, n) are saved
 * rbp values that a CFA was computed from, compared as offsets from
 * `from`.  A call with the same ra whose words all match has the entry's
 * chain: its walk would read the same values at the same places relative
 * to `from` (unwind.h).  At the `from` the entry was made at (sp) that is
 * all; at another `from` whose set is the same (the same call site deeper
 * or shallower in the stack) every CFA must also stay at or below the
 * stack top,
 * so the entry keeps `span`, its highest CFA's offset from `from`
 * (AT_MEMO_ONLY_SP: the walk ended at a bound, so the entry holds only at
 * sp).  Offsets are below 2^16: walks that read farther are not kept, nor
 * those that read more than AT_MEMO_WORDS words (padding included) or
 * used rbp's value at `from`.
 *
 * Cumulative counts: the preload library's malloc adds an allocation it
 * makes through an entry to the entry's cum_bytes and cum_calls (one
 * add instruction each), not to the tag's per-CPU cumulative counters; an
 * entry's counts are added to those when the entry is replaced and when
 * its thread exits, and readers add the counts still in entries
 * (at_memo_cum).  A read racing with them is as exact as summing CPUs is;
 * a quiescent read is exact.
 *
 * Signals: a writer stores key = 0 first and the key last (compiler
 * barriers; one thread), and writes only while `at_memo_busy` is 0, which
 * readers raise around their lookup and their use of the entry found: a
 * signal handler's malloc may read the memo while its thread writes an
 * entry (it finds key 0 there), and never writes while its thread reads
 * or writes one.
 */
#define AT_MEMO_SHIFT 6
#define AT_MEMO_SETS (1u << AT_MEMO_SHIFT)
#define AT_MEMO_WAYS 4u
#define AT_MEMO_WORDS 16u
#define AT_MEMO_ONLY_SP 0xffffffffu

struct at_memo_entry {
	uintptr_t key;
	uintptr_t sp;
	struct alloc_tag *tag;
	int64_t cum_bytes, cum_calls;
	uint32_t span;
	uint32_t idx;
	unsigned char n, nabs;
	uint16_t off[AT_MEMO_WORDS];
	uintptr_t val[AT_MEMO_WORDS];
};

struct at_chain_memo {
	struct at_memo_entry e[AT_MEMO_SETS][AT_MEMO_WAYS];
	unsigned char next_way[AT_MEMO_SETS];
	struct at_chain_memo *next;     /* free list */
	struct at_chain_memo *next_all; /* every memo ever made */
};

extern AT_HIDDEN __thread struct at_chain_memo *at_memo_tls __attribute__((tls_model("initial-exec")));
extern AT_HIDDEN __thread unsigned char at_memo_busy __attribute__((tls_model("initial-exec")));

static inline unsigned int at_memo_set(uintptr_t ra, uintptr_t from)
{
	return (unsigned int)(((ra ^ from * 0x2545F4914F6CDD1Dull) * 0x9E3779B97F4A7C15ull) >>
			      (64 - AT_MEMO_SHIFT));
}

static inline uintptr_t at_memo_key(uintptr_t ra, unsigned int depth)
{
	return ra | (uintptr_t)depth << 48;
}

/* The entry of set `set` (AT_MEMO_WAYS entries) that proves the chain of
 * a call with key `key` (at_memo_key) and caller stack pointer `from`, or
 * NULL. */
static inline struct at_memo_entry *at_memo_find_in(struct at_memo_entry *e, uintptr_t key,
						    uintptr_t from)
{
	for (unsigned int w = 0; w < AT_MEMO_WAYS; w++, e++) {
		if (e->key != key)
			continue;
		if (at_unlikely(e->sp != from) && from + e->span > at_stack_top(from))
			continue; /* the walk's bound (unwind.h) */
		uintptr_t diff = 0;
		unsigned int i = 0;
#define W(k) (*(const uintptr_t *)(from + e->off[i + k]) ^ e->val[i + k])
		for (; i < e->nabs; i += 4)
			diff |= W(0) | W(1) | W(2) | W(3);
#undef W
		for (; at_unlikely(i < e->n); i++)
			diff |= (*(const uintptr_t *)(from + e->off[i]) - from) ^ e->val[i];
		if (at_likely(!diff))
			return e;
	}
	return NULL;
}

/* The same in memo m's first level, for a call returning to ra at depth
 * `depth`. */
static inline struct at_memo_entry *at_memo_find(struct at_chain_memo *m, uintptr_t ra,
						 uintptr_t from, unsigned int depth)
{
	return at_memo_find_in(m->e[at_memo_set(ra, from)], at_memo_key(ra, depth), from);
}

/* One allocation of `bytes` through entry e, in its cumulative counts:
 * each an add to memory, whole before a signal handler can run. */
static inline void at_memo_count(struct at_memo_entry *e, uint64_t bytes)
{
	__asm__ volatile("addq %1, %0" : "+m"(e->cum_bytes) : "r"(bytes));
	__asm__ volatile("addq $1, %0" : "+m"(e->cum_calls));
}

/* The cumulative counts still in the memos: every index's added to
 * sums[index] (AT_IDX_MAX counters), or with sums NULL, index idx's to *one. */
AT_HIDDEN void at_memo_cum(struct alloctag_counters *sums, uint32_t idx,
			   struct alloctag_counters *one);

extern AT_HIDDEN unsigned int at_chain_depth;
extern AT_HIDDEN struct at_chain_table *at_chain_table;
extern AT_HIDDEN struct at_chain *at_chain_all;

static inline uint64_t at_chain_hash(const uintptr_t *f, unsigned int n)
{
	uint64_t h = n;
	for (unsigned int i = 0; i < n; i++) {
		h = (h ^ f[i]) * 0x9E3779B97F4A7C15ull;
		h ^= h >> 29;
	}
	return h;
}

static inline struct at_chain *at_chain_probe(struct at_chain_table *t, uint64_t h,
					      const uintptr_t *f, unsigned int n)
{
	uint32_t mask = (1u << t->shift) - 1, i = (uint32_t)(h >> (64 - t->shift));
	for (;; i = (i + 1) & mask) {
		struct at_chain *e = AT_LOAD(&t->slots[i]);
		if (!e)
			return NULL;
		if (e->nr == n && e->frames[0] == f[0]) {
			unsigned int k = 1;
			while (k < n && e->frames[k] == f[k])
				k++;
			if (k == n)
				return e;
		}
	}
}

/* Create (or find, after a race) chain f[0..n): its tag, or NULL. */
AT_HIDDEN struct alloc_tag *at_chain_tag_slow(const uintptr_t *f, unsigned int n, uint64_t h);

/*
 * The tag of chain f[0..n) (1 <= n <= AT_CHAIN_MAX), made on first use;
 * NULL when none can be had (re-entered, out of memory or indexes).  A tag
 * whose canon is NULL (no index left) is charged nothing.  Only when
 * at_state == AT_STATE_READY.
 */
static inline struct alloc_tag *at_chain_tag(const uintptr_t *f, unsigned int n)
{
	uint64_t h = at_chain_hash(f, n);
	struct at_chain_table *t = AT_LOAD(&at_chain_table);
	if (at_likely(t != NULL)) {
		struct at_chain *e = at_chain_probe(t, h, f, n);
		if (at_likely(e != NULL))
			return &e->tag;
	}
	return at_chain_tag_slow(f, n, h);
}

/*
 * The calling function's caller's chain, at the configured depth: `from`
 * is the calling function's __builtin_dwarf_cfa(), `ra` its return address
 * (the chain of one frame when the stack cannot be unwound there).
 * at_chain_walk is the same after a memo miss: it unwinds, and keeps the
 * chain in the thread's memo.
 */
AT_HIDDEN struct alloc_tag *at_chain_here(uintptr_t from, const void *ra);
AT_HIDDEN struct alloc_tag *at_chain_walk(uintptr_t from, const void *ra);


/* Block p (NULL: none) was made for tag t (NULL: none): counted in t's
 * cumulative counters if t has an index. */
AT_HIDDEN void at_chain_made(struct alloc_tag *t, void *p);

/* Chains created so far; the bytes their records and tables take. */
AT_HIDDEN uint32_t at_chain_count(void);
AT_HIDDEN size_t at_chain_memory(void);

/* The chain a tag belongs to, or NULL (a compile-time tag). */
AT_HIDDEN struct at_chain *at_chain_of(const struct alloc_tag *tag);

#endif
