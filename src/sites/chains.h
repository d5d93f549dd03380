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
 * Table: an array of 2^shift chain slots (64 bits: the chain record's
 * address and 16 bits of its hash, at_chain_slot), open addressing with
 * linear probing on the chain's 64-bit hash; a slot goes 0 -> its value
 * once and never changes (a chain's tag is listed in the registry before
 * its slot is stored).  Lookups take no lock: a hit is the hash, the slot
 * load, its hash bits compared, and the record's length and frames
 * compared (its first frame first); a slot whose hash bits differ is
 * passed over without reading its record.  So a probe makes two
 * dependent loads, the slot and the record, each most often a cache miss
 * among thousands of chains (a tag index in the slot would add the
 * registry's entry between them), and reads the record of no chain but
 * the one it finds.  The record keeps no hash: growing the table hashes
 * its frames again.
 * Inserts hold the registry lock; when the table would pass three
 * quarters full, a table twice the size is built, the records are
 * rehashed into it and it is published (at three quarters a probe reads
 * 2.5 slots on a hit and 8.5 on a miss, against 1.5 and 2.5 at a half:
 * the table is probed after a walk, not on the malloc hit path; cc1's
 * 5337 chains fit 8192 slots, 64 KiB, where half full took 16384).  The
 * header (shift, and where the slots are) lives in the sites' pool and
 * is never freed; the slots of the first table, 256, follow it there,
 * the others are a mapping of their own.  A replaced table stays
 * (a reader may still be probing it) but empty: its mapping's pages
 * dropped (MADV_DONTNEED, reading as zero; the first's slots stored
 * 0), so that a reader probing it misses and looks again in the
 * current one (at_chain_tag_slow) before creating anything.  Resident:
 * the current table's slots alone.
 *
 * A forked child's chains: the chains a process makes once it is a
 * forked child (and its own children's) go to a second table of the same
 * kind, the child's, looked up after the main one (at_chain_tag_slow, a
 * miss there), from 64 slots in the sites' pool (the pool's page the
 * child writes for its records) and grown, rehashing the chains made
 * since the fork (those of the table it replaces), as the main one.  The main table, shared with the parent, is then never
 * written in the child: a shell's child made its ~40 chains into slots
 * spread by hash over the main table's pages (a copy each) and, when
 * they passed its half, built a table twice as large (its pages zero
 * filled) for them.  And it teaches them to its parent (chain_teach.h):
 * the parent makes them before its next fork, so that its later children
 * find them in the main table and make none.
 *
 * No cap: the table grows as long as memory and
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
#include "core/tag_registry.h"
#include "core/thread_block.h"
#include "sites/unwind.h"

/* ALLOCTAG_DEPTH's bounds (parsed in core/control.c, applied at start-up) */
#define AT_CHAIN_MAX AT_DEPTH_MAX
#define AT_CHAIN_DEFAULT_DEPTH AT_DEPTH_DEFAULT
/* A chain's tag has this flag (bits 8..15 of flags are internal; debug.c
 * uses 8..10). */
#define AT_TAG_CHAIN 0x8000u
/* A chain made for a forked child's record (chain_teach.h): new to each
 * child that walks it, as if that child had made it (chains.c,
 * chain_unwind: the memo's growth counts its first walks as makings). */
#define AT_CHAIN_TAUGHT 0x4000u

struct at_frame;

/*
 * A chain's record: its tag, whose function and filename are its named
 * frame's (the site, or the last frame: that frame's record is found from
 * the filename, site_names.h at_frame_of_name), and its frames after it,
 * in 32-bit words w[]:
 *
 *   shared (AT_CHAIN_SHARED; every frame below 2^48, all with the same
 *   bits 32..47, as the frames within one object most often are):
 *     w[k]                 bits 0..31 of frame k, k < nr
 *     (bits 32..47 of every frame in the tag's reserved word, below)
 *   narrow (every frame below 2^48, as user-space addresses are):
 *     w[k]                 bits 0..31 of frame k, k < nr
 *     w[nr + k / 2]        bits 32..47 of frame k, in its half
 *                          (k even: low 16 bits; odd: high)
 *   wide (AT_CHAIN_WIDE; a frame at or above 2^48):
 *     w[2k], w[2k + 1]     bits 0..31 and 32..63 of frame k
 *
 * nr (1..AT_CHAIN_MAX), site and the format live in the tag's reserved
 * word (bits 0..6 nr, 7..13 site, AT_CHAIN_WIDE, AT_CHAIN_SHARED, and a
 * shared record's bits 32..47 in 16..31), which no one else writes for
 * a chain's tag.  A shared record of the default depth's 8 frames is 80
 * bytes (cc1's chains: 4545 of 5337), a narrow one 96 (64-bit frames, a
 * pointer to the named frame, a list of every chain and the fields
 * dropped since: 144), a record of one frame 52 (56 in the pool, whose
 * allocations are 8-byte multiples).  The chains are found through the table
 * (below) and the registry's index (sites_each.c), no list of their
 * own.  A record is written whole before it is published (the table's
 * slot, stored with release) and never changes.
 */
struct at_chain {
	struct alloc_tag tag;       /* function, filename: the named frame's strings */
	uint32_t w[];               /* the frames, as above */
};
#define AT_CHAIN_WIDE (1u << 14)
#define AT_CHAIN_SHARED (1u << 15)
#define AT_CHAIN_HIGH_SHIFT 16 /* a shared record's bits 32..47 */
_Static_assert(AT_CHAIN_MAX <= 0x7f, "nr and site in 7 bits each");

static inline unsigned int at_chain_nr(const struct at_chain *c)
{
	return c->tag.reserved & 0x7fu;
}

/* 1-based index of the site frame, 0 = none */
static inline unsigned int at_chain_site(const struct at_chain *c)
{
	return c->tag.reserved >> 7 & 0x7fu;
}

/* Frame k of c (k < nr). */
static inline uintptr_t at_chain_frame(const struct at_chain *c, unsigned int k)
{
	uint32_t r = c->tag.reserved;
	if (at_unlikely(r & AT_CHAIN_WIDE))
		return c->w[2 * k] | (uintptr_t)c->w[2 * k + 1] << 32;
	if (r & AT_CHAIN_SHARED)
		return c->w[k] | (uintptr_t)(r >> AT_CHAIN_HIGH_SHIFT) << 32;
	return c->w[k] | (uintptr_t)(c->w[(r & 0x7fu) + k / 2] >> (k & 1) * 16 & 0xffffu) << 32;
}

/* Every frame of c in f[0 .. nr); nr. */
static inline unsigned int at_chain_frames(const struct at_chain *c, uintptr_t *f)
{
	unsigned int n = at_chain_nr(c);
	for (unsigned int k = 0; k < n; k++)
		f[k] = at_chain_frame(c, k);
	return n;
}

/* Whether c, whose nr is n and whose w[0] is f[0]'s low half, is chain
 * f[0 .. n): its words compared with f's halves, a narrow record's high
 * halves as 16-bit words (frame k's is the k-th of w + nr, in memory
 * order on a little-endian machine; a shared record's, its reserved
 * word's for every k): no frame rebuilt, and a frame at or above 2^48
 * differs from every narrow or shared record's. */
static inline int at_chain_same(const struct at_chain *c, const uintptr_t *f, unsigned int n)
{
	typedef uint16_t half __attribute__((may_alias));
	unsigned int k;
	if (at_unlikely(c->tag.reserved & AT_CHAIN_WIDE)) {
		for (k = 0; k < n; k++)
			if (at_chain_frame(c, k) != f[k])
				return 0;
		return 1;
	}
	if (c->tag.reserved & AT_CHAIN_SHARED) {
		const uintptr_t high = c->tag.reserved >> AT_CHAIN_HIGH_SHIFT;
		if (f[0] >> 32 != high)
			return 0;
		for (k = 1; k < n; k++)
			if (c->w[k] != (uint32_t)f[k] || f[k] >> 32 != high)
				return 0;
		return 1;
	}
	const half *hw = (const half *)(c->w + n);
	const unsigned int swap = __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__;
	if (hw[swap] != f[0] >> 32)
		return 0;
	for (k = 1; k < n; k++)
		if (c->w[k] != (uint32_t)f[k] || hw[k ^ swap] != f[k] >> 32)
			return 0;
	return 1;
}

/* The bytes of a record of frames f[0 .. n) (its format in *format:
 * AT_CHAIN_WIDE, AT_CHAIN_SHARED, or 0 for narrow). */
static inline size_t at_chain_bytes(const uintptr_t *f, unsigned int n, uint32_t *format)
{
	uintptr_t high = 0, other = 0;
	for (unsigned int k = 0; k < n; k++) {
		high |= f[k];
		other |= (f[k] ^ f[0]) >> 32;
	}
	*format = (uint64_t)high >> 48 ? AT_CHAIN_WIDE : other ? 0 : AT_CHAIN_SHARED;
	return sizeof(struct at_chain) + (*format == AT_CHAIN_WIDE ? 8 * n
					  : *format ? 4 * n
						    : 4 * n + 4 * ((n + 1) / 2));
}

struct at_chain_table {
	uint32_t shift;   /* 2^shift slots */
	uint64_t *slots;  /* chain slots (below); the first table's (256) after the header, else a mapping */
};

/* A table's slot for chain c of hash h (0: an empty slot): c's address,
 * below 2^48 as user space's are, and bits 0..15 of h above it (the
 * probe's index takes h's high bits). */
#define AT_CHAIN_SLOT_ADDR ((UINT64_C(1) << 48) - 1)
static inline uint64_t at_chain_slot(const struct at_chain *c, uint64_t h)
{
	return (uint64_t)(uintptr_t)c | (h & 0xffff) << 48;
}

/* Chains made when no index was left are kept in the table alone (found,
 * charged nothing), AT_CHAIN_UNINDEXED_MAX of them; further chains get no
 * tag. */
#define AT_CHAIN_UNINDEXED_MAX (1u << 20)

/*
 * The memo (chains.c): a thread's recent chains, each proved again at a
 * later call by the stack words its walk read (unwind.h's trace), so that
 * a repeated chain needs no unwinding and no hashing.  AT_MEMO_SETS sets
 * of AT_MEMO_WAYS entries, the set chosen by the return address and the
 * stack pointer at the caller: one call site (a wrapper's call of malloc,
 * such as sqlite3MemMalloc's) often has more chains than a set has ways,
 * mostly at different stack depths.
 *
 * An entry: its key (the return address ra; 0: empty, or being
 * written), its chain's tag and the tag's index (and in 16 bits nent,
 * the index plus one when a bin's tag can be it, else 0: the narrow entry
 * the malloc fast path compares with a bin's tag field and writes), and the
 * walk's words:
 * word i lies at from + off[i], where `from` is the stack pointer at the
 * caller (the CFA of malloc).  Words [0, nabs) are return addresses,
 * compared as they are, nabs 3, 4 or 7 in the inline shapes below (the
 * last one repeated), as many as the walk read in the others; words
 * [nabs, n) are saved rbp values that a CFA was computed from, compared
 * as offsets from `from`.  The entry's shape, kept in the top bits of
 * its `spx` (its sp, below), says what the inline check covers: none,
 * words 0..2 are all (nabs 3, no rbp word: a chain from a thread's or
 * main's own function, whose walk ends after 3 words or fewer, is the
 * cheapest to prove); AT_MEMO_SHAPE7, words 0..6 are all (nabs 7, no rbp
 * word: the default depth's whole chain, ra and 7 return addresses, with
 * no padding); AT_MEMO_SHAPE4, words 0..3 are all (nabs 4, the walk read
 * 4 words); AT_MEMO_SHAPE_ANY, anything else (rbp words, no word at all):
 * at_memo_diff checks the words one by one, so one compare of spx with
 * `from` tests both the stack pointer and the shape.  The 4-word shape
 * has a compare of its own: `spy` holds its sp (and for any other shape
 * spx | AT_MEMO_SHAPE4, which no stack pointer is), compared with `from`
 * second, after spx, so that its check costs one compare more than the
 * 3-word shape's, not a decode of spx's bits; the 7-word shape is third
 * (`from` with its bit set, compared with spx), then AT_MEMO_SHAPE_ANY.
 * Word 0 is checked first
 * and alone: entries of one set and key differ most often there (a
 * wrapper called from several places at one stack depth).  A call with
 * the same ra whose words all match has the entry's chain: its walk
 * would read the same values at the same places relative to `from`
 * (unwind.h).  At the `from` the entry was made at (sp) that is all; at
 * another `from` whose set is the same (the same call site deeper or
 * shallower in the stack) every CFA must also stay at or below the stack
 * top, so the entry keeps `span`, its highest CFA's offset from `from`
 * (AT_MEMO_ONLY_SP: the walk ended at a bound, so the entry holds only
 * at sp).  Offsets are below 2^16: walks that read farther are not kept,
 * nor those that read more than AT_MEMO_WORDS words (padding included)
 * or used rbp's value at `from`.  The depth is not in the key: it is set
 * once, before the first chain (at_chain_set_depth forgets the calling
 * thread's entries when it changes it).
 *
 * Size: a memo is one mapping of AT_MEMO_SETS sets and their counts'
 * page, of which only sets 0 .. mask are used (the set is at_memo_set's
 * bits masked): a new memo uses 2^AT_MEMO_SHIFT_FIRST sets, all in its
 * first page, so that a thread that allocates from a few call sites
 * keeps two pages, its sets' and its counts' (the whole memo is 17
 * pages, 68 KiB; it grows by doubling, so that python3
 * starting a thread keeps 32 sets where steps of four took it to 64: 32
 * KiB less, with as many walks on cc1).  An entry is 256 bytes and a set 1 KiB, so
 * that a set's offset is the hash's bits masked in place (at_memo_set_busy:
 * no shift, no multiply); the memo's header (mask, omask, the lists) is
 * kept in the padding of set 0's way 0 (`rest`, which moving an entry
 * leaves alone), so that a new memo's 4 sets fill its first page.  A set's entries fill its ways from way 0,
 * newest first: a miss writes way 0 and moves the others one way on,
 * dropping the last one's when the set is full (first-in first-out, as
 * round robin was, but a lookup meets the newest first: a program's
 * steady loop makes its chains after its start-up's, and bench/malloc
 * churn's hot chain, the last of 6 in a 4-set memo, cost two ways' checks
 * more per malloc where it was written behind the others).  When a miss
 * finds its set full, fewer than AT_MEMO_SETS sets are used and the memo
 * has counted (`again`) as many such misses of chains that already existed
 * (a chain dropped that came back, not one made now: a start-up's chains,
 * each walked once, never grow a memo) as it has entries, the memo grows
 * in place 2^AT_MEMO_SHIFT_STEP times first (once; again = 0): each entry of a
 * set s whose set under the new mask is b != s
 * (b > the old mask, b & old mask == s: at most AT_MEMO_WAYS entries come
 * to b, all from s) moves there, those that stay move to s's first ways,
 * both in their order, counts folded first.  An entry proves its
 * chain in whichever set it is found: a lookup (a signal handler's)
 * racing with the move finds the entry or misses.  A memo keeps its size
 * when its thread exits and another thread takes it; a forked child's
 * thread does not keep its parent's (each page it wrote would be a copy):
 * it takes its parent's taught memo (chain_teach.h: the entries of the
 * chains its siblings taught, written by the parent, no count in it; the
 * pages a child writes of it, a copy each: its counts' page for the
 * chains it allocates through, few others), or, when the parent has none
 * or the process used it already, makes a new one at its next walk
 * (chains.c, memo_fork_child); the one it left keeps its counts for the
 * readers.
 *
 * The lean walk: after a miss in the memo's set, at_chain_walk
 * first walks the stack as the walk would, without computing a rule the
 * rule cache lacks and without rbp's value at `from` (unwind.h,
 * at_unwind_lean: nothing written but its frames), and probes the chain
 * tables with the frames it read: a chain that exists is found there,
 * proved by its record, at whatever stack depth it is met, and without a
 * memo entry (a walk of 8 frames and a probe: about 550 instructions on
 * espresso's recursive chains, where the walk, the probe and the memo's
 * writes took about 1800).  Only a chain not made yet, a rule not cached or a
 * walk that needs rbp at `from` goes to the walk (counted in
 * at_chain_walks).  The chain found is kept in the memo when its set has
 * a free way; into a full set, one time in AT_MEMO_PUT_EVERY while the
 * memo can grow (its growth counted as for a walk; kept every time, cat's
 * and bash's memos grew a page), and one time in AT_MEMO_LEAN_PUT_EVERY
 * once it has its
 * AT_MEMO_SETS sets (`passed` counts them): when
 * its chains do not fit it (recursive code: one chain at every stack
 * depth is an entry per depth) every entry written pushes out another
 * that comes back, and a memo kept full of them costs every lookup of
 * its sets more ways to compare; a program whose hot chains change (a
 * SQL script's statements) still brings them back within a few hundred
 * calls.  A walk of a chain that existed into a full set of a full memo
 * is kept one time in AT_MEMO_PUT_EVERY (memo_put).
 *
 * Cumulative counts: the preload library's allocations made through an
 * entry are added to the entry's counts (one add instruction each), not
 * to the tag's per-CPU cumulative counters (those
 * a bin of the chain's tag serves go to the bin's count instead:
 * bin_charge.h); an
 * entry's counts are added to those when the entry is replaced and when
 * its thread exits, and readers add the counts still in entries
 * (at_memo_cum).  A read racing with them is as exact as summing CPUs is;
 * a quiescent read is exact.  The counts are not in the entry: entry
 * e[s][w] has cum[s][w], 16 bytes, 16 times fewer than the entry's, so
 * that every entry's counts lie in one page past the sets (a counted
 * malloc writes that page, not its entry's: a shell's steady loop, whose
 * hits are spread over the 64 sets' 16 pages, writes one page of the
 * memo between two forks, where it wrote 15, each a copy-on-write fault
 * after every fork).  at_memo_count finds it through the entry's `counts`
 * (written with the entry's key: the way's counts, at_memo_counts_of),
 * and sets the thread's `counted`: until then a
 * writer moving or replacing an entry reads no count (a forked child's
 * new memo, whose entries move as it walks its new chains, would read
 * the zero page there, a fault).
 *
 * Signals: a writer stores key = 0 first and the key last (compiler
 * barriers; one thread), and writes only while the thread's `busy` is 0,
 * which readers raise around their lookup and their use of the entry
 * found: a signal handler's malloc may read the memo while its thread
 * writes an entry (it finds key 0 there), and never writes while its
 * thread reads or writes one.
 */
#define AT_MEMO_SHIFT 6
#define AT_MEMO_SETS (1u << AT_MEMO_SHIFT)
#define AT_MEMO_SHIFT_FIRST 2 /* a new memo's sets: 4, in its first page */
#define AT_MEMO_SHIFT_STEP 1  /* 4, 8, 16, 32, 64 sets */
#define AT_MEMO_WAYS 4u
#define AT_MEMO_PUT_EVERY 4u /* a full memo keeps one walk of a known chain in this many */
#define AT_MEMO_LEAN_PUT_EVERY 256u /* and one lean walk's chain in this many */
_Static_assert(!(AT_MEMO_PUT_EVERY & (AT_MEMO_PUT_EVERY - 1)) &&
		       !(AT_MEMO_LEAN_PUT_EVERY & (AT_MEMO_LEAN_PUT_EVERY - 1)),
	       "powers of two: a lean walk's sampling is a mask, not a division");
/* words an entry keeps: 15 with spy in the entry's 256 bytes; a walk at
 * the default depth reads at most 14 (7 return addresses, 7 saved rbp),
 * one at depth 16 15 return addresses */
#define AT_MEMO_WORDS 15u
#define AT_MEMO_ONLY_SP 0xffffffffu
/* spx: the entry's sp, and its shape in bits the stack pointer of a user
 * address space never has */
#define AT_MEMO_SHAPE7 ((uintptr_t)1 << 63)    /* 7 return addresses */
#define AT_MEMO_SHAPE_ANY ((uintptr_t)1 << 62) /* another: at_memo_diff */
#define AT_MEMO_SHAPE4 ((uintptr_t)1 << 61)    /* 4 return addresses */
#define AT_MEMO_SP(e) ((e)->spx & (AT_MEMO_SHAPE4 - 1))
/* The indexes from this one no bin's tag can be (bin tags are at most
 * AT_OBJ_NARROW_MAX, 0xFFFE: bin_charge.h): an entry of such an index has
 * nent 0, which no bin's tag field is (at_bin_nent_is), so that the malloc
 * fast path compares 16 bits */
#define AT_MEMO_NENT_NONE 0xFFFFu

struct at_memo_entry {
	uintptr_t key;
	uintptr_t spx;
	struct alloc_tag *tag;
	uint32_t span;
	uint32_t idx;
	unsigned char n, nabs;
	uint16_t nent; /* idx + 1 (an object's narrow entry for idx, slab.h), 0 from AT_MEMO_NENT_NONE */
	uint16_t off[AT_MEMO_WORDS];
	uintptr_t spy; /* the 4-word shape's sp; else spx | AT_MEMO_SHAPE4 */
	uintptr_t val[AT_MEMO_WORDS];
	uintptr_t rest[6]; /* to 256 bytes; set 0's way 0: the memo's header */
	struct at_memo_counts *counts; /* this way's counts (not moved with the entry) */
};
_Static_assert(sizeof(struct at_memo_entry) == 256, "a memo entry is 256 bytes");
struct at_memo_counts;
/* an entry's bytes that moving it copies */
#define AT_MEMO_ENTRY_COPY offsetof(struct at_memo_entry, rest)
#define AT_MEMO_SET_SHIFT 10 /* log2 of a set's bytes */

/* An entry's cumulative counts (Cumulative counts, above). */
struct at_memo_counts {
	int64_t bytes, calls;
};
_Static_assert(sizeof(struct at_memo_entry) == 16 * sizeof(struct at_memo_counts),
	       "an entry's counts at its offset / 16");

struct at_chain_memo {
	union {
		struct at_memo_entry e[AT_MEMO_SETS][AT_MEMO_WAYS];
		struct { /* in e[0][0].rest */
			char way0[AT_MEMO_ENTRY_COPY];
			uintptr_t mask;                 /* the sets in use, 0 .. mask */
			uintptr_t omask;                /* mask << AT_MEMO_SET_SHIFT */
			struct at_chain_memo *next;     /* free list */
			struct at_chain_memo *next_all; /* every memo ever made */
			uintptr_t again; /* walks of known chains into a full set since it grew */
			uintptr_t passed; /* walks of known chains into a full set of a full memo */
		};
	};
	struct at_memo_counts cum[AT_MEMO_SETS][AT_MEMO_WAYS]; /* e[s][w]'s: one page */
};
_Static_assert(sizeof(((struct at_chain_memo *)0)->e[0]) == 1u << AT_MEMO_SET_SHIFT, "a set's bytes");

/* A thread's memo and its busy count: at_memo_tls, a part of the thread
 * block (core/thread_block.h: one address to find on the hot path).  A
 * thread without a memo of its own has AT_MEMO_NONE, whose mask is 0 and
 * whose entries are all empty: the hit path needs no test for it, a lookup
 * there misses, and its walk makes the thread's memo.  Only its set 0 is
 * ever read, so that set alone exists (at_memo_none, read-only: a write
 * would fault). */
extern AT_HIDDEN const struct at_memo_entry at_memo_none[AT_MEMO_WAYS];
#define AT_MEMO_NONE ((struct at_chain_memo *)(uintptr_t)at_memo_none)

/* The hash of (ra, from): Fibonacci hashing of the low 32 bits of ra +
 * 2 from (where call sites and stack depths differ; one lea), a 32-bit
 * multiply by an immediate (no 64-bit constant to load on the malloc fast
 * path).  Its bits from AT_MEMO_SET_SHIFT up are the set (those of a
 * product that depend on the low 16 bits of ra + 2 from alone, where call
 * sites and stack depths differ), masked in place they are the set's
 * offset. */
static inline uint32_t at_memo_hash(uintptr_t ra, uintptr_t from)
{
	return (uint32_t)(ra + 2 * from) * 0x9E3779B1u;
}

/* The set of (ra, from), before the memo's mask. */
static inline unsigned int at_memo_set(uintptr_t ra, uintptr_t from)
{
	return at_memo_hash(ra, from) >> AT_MEMO_SET_SHIFT;
}

/* Nonzero when a word of entry e differs at `from` (any shape). */
static inline uintptr_t at_memo_diff(const struct at_memo_entry *e, uintptr_t from)
{
	uintptr_t diff = 0;
	unsigned int i = 0;
	if (e->nabs && (*(const uintptr_t *)(from + e->off[0]) ^ e->val[0]))
		return 1; /* word 0 alone first, as at_memo_fast */
	for (; i < e->nabs; i++)
		diff |= *(const uintptr_t *)(from + e->off[i]) ^ e->val[i];
	for (; i < e->n; i++)
		diff |= (*(const uintptr_t *)(from + e->off[i]) - from) ^ e->val[i];
	return diff;
}

/* The entry of the `ways` entries from e (a set's, or one) that proves
 * the chain of a call returning to ra with caller stack pointer `from`,
 * or NULL. */
static inline struct at_memo_entry *at_memo_find_in(struct at_memo_entry *e, uintptr_t ra,
						    uintptr_t from, unsigned int ways)
{
	for (unsigned int w = 0; w < ways; w++, e++) {
		if (e->key != ra)
			continue;
		if (AT_MEMO_SP(e) != from && from + e->span > at_stack_top(from))
			continue; /* the walk's bound (unwind.h) */
		if (!at_memo_diff(e, from))
			return e;
	}
	return NULL;
}

/* The same in memo m, for a call returning to ra. */
static inline struct at_memo_entry *at_memo_find(struct at_chain_memo *m, uintptr_t ra,
						 uintptr_t from)
{
	return at_memo_find_in(m->e[at_memo_set(ra, from) & m->mask], ra, from, AT_MEMO_WAYS);
}

/* *w == v, one compare in memory (the word is read where it is compared:
 * GCC otherwise keeps a word read twice in a register, one load more on
 * the first compare's path) */
static inline int at_memo_word_is(const uintptr_t *w, uintptr_t v)
{
#if defined(__x86_64__) && defined(__GCC_ASM_FLAG_OUTPUTS__)
	int eq;
	__asm__("cmpq %1, %2" : "=@cce"(eq) : "r"(v), "m"(*w));
	return eq;
#else
	return AT_LOAD_RELAXED(w) == v;
#endif
}

/*
 * at_memo_find's common case alone, for the malloc fast path (few
 * registers, no loop but the ways'): entries made at this `from` whose
 * shape is 3, 4 or 7 return addresses.  Entry e (a way of ra's set) proves
 * the call's chain: 1; it does not, or was made at another `from`: 0
 * (an entry of another `from` is in this set only when the two hash
 * alike, and holds the chain only when it is the same chain deeper or
 * shallower in the stack: 8k of cc1's 187k walks had such an entry
 * anywhere in the memo); another shape: -1, and the caller asks
 * at_memo_find.
 */
static inline __attribute__((always_inline)) int at_memo_fast(const struct at_memo_entry *e,
							     uintptr_t from)
{
#define W(k) (*(const uintptr_t *)(from + e->off[k]) ^ e->val[k])
	if (at_likely(e->spx == from)) { /* 3 words */
		if (W(0))
			return 0;
		return !(W(1) | W(2));
	}
	if (at_likely(e->spy == from)) { /* 4 words: one compare of its own */
		if (W(0))
			return 0;
		return !(W(1) | W(2) | W(3));
	}
	/* from with the shape's bit set (bts), compared in memory */
	if (at_memo_word_is(&e->spx, from | AT_MEMO_SHAPE7)) { /* 7 words */
		if (W(0))
			return 0;
		return !(W(1) | W(2) | W(3) | W(4) | W(5) | W(6));
	}
#undef W
	return at_memo_word_is(&e->spx, from | AT_MEMO_SHAPE_ANY) ? -1 : 0;
}

/* at_chain_entry's lookup after an entry at_memo_fast does not cover:
 * the whole lookup in m (busy); the entry found (busy kept), or NULL
 * (busy dropped). */
AT_HIDDEN struct at_memo_entry *at_memo_lookup(struct at_chain_memo *m, uintptr_t ra,
					       uintptr_t from);

/* at_memo_fast of way e for a call returning to ra: 0 when its key is
 * another. */
static inline __attribute__((always_inline)) int at_memo_way(const struct at_memo_entry *e,
							     uintptr_t ra, uintptr_t from)
{
	return e->key == ra ? at_memo_fast(e, from) : 0;
}

/* The first way of the set of a call returning to ra with caller stack
 * pointer `from` in the thread's memo (AT_MEMO_NONE's: empty), the memo
 * busy. */
static inline __attribute__((always_inline)) struct at_memo_entry *at_memo_set_busy(uintptr_t from,
										    const void *ra)
{
	struct at_chain_memo *m = at_memo_tls.m;
	at_memo_tls.busy++;
	__asm__ volatile("" ::: "memory");
	uintptr_t off = at_memo_hash((uintptr_t)ra, from) & m->omask;
	return (struct at_memo_entry *)((char *)m->e + off);
}

/* Ways e .. end (excluded) of a set, the memo busy: as at_chain_entry_fast
 * below. */
static inline __attribute__((always_inline)) int at_memo_ways(struct at_memo_entry *e,
							      const struct at_memo_entry *end,
							      uintptr_t ra, uintptr_t from,
							      struct at_memo_entry **ep)
{
	for (; e != end; e++) {
		int r = at_memo_way(e, ra, from);
		if (at_likely(r > 0)) {
			*ep = e;
			return 1;
		}
		if (r < 0)
			return -1;
	}
	__asm__ volatile("" ::: "memory");
	at_memo_tls.busy--;
	return 0;
}

/*
 * The thread's memo entry that proves the chain of a call returning to ra
 * with caller stack pointer `from` (its caller's __builtin_dwarf_cfa()),
 * in *ep: 1, with the memo busy until the caller is done with the entry
 * (at_chain_entry_done); 0 (not busy) when there is none; -1 (busy) when
 * an entry needs the whole lookup (at_memo_lookup), left to the caller so
 * that the fast path makes no call.  (The malloc fast path, preload.c,
 * checks way 0 on its own and the other ways in a function of their own.)
 */
static inline __attribute__((always_inline)) int at_chain_entry_fast(uintptr_t from, const void *ra, struct at_memo_entry **ep)
{
	struct at_memo_entry *e = at_memo_set_busy(from, ra);
	return at_memo_ways(e, e + AT_MEMO_WAYS, (uintptr_t)ra, from, ep);
}

/* The same, the whole lookup made: the entry (busy) or NULL. */
static inline struct at_memo_entry *at_chain_entry(uintptr_t from, const void *ra)
{
	struct at_memo_entry *e;
	int r = at_chain_entry_fast(from, ra, &e);
	if (at_likely(r > 0))
		return e;
	if (r < 0)
		return at_memo_lookup(at_memo_tls.m, (uintptr_t)ra, from);
	return NULL;
}

static inline void at_chain_entry_done(void)
{
	__asm__ volatile("" ::: "memory");
	at_memo_tls.busy--;
}

/* Set ALLOCTAG_DEPTH's value (start-up, before any memo; a benchmark's
 * only thread): the calling thread's memo entries, made at the old depth,
 * are forgotten; other threads' are not.  at_profiling_on, if set, is
 * set to the depth's at_chain_profiling(). */
AT_HIDDEN void at_chain_set_depth(unsigned int depth);

/* The counts of entry e of memo m. */
static inline struct at_memo_counts *at_memo_counts_of(struct at_chain_memo *m,
						       const struct at_memo_entry *e)
{
	return (struct at_memo_counts *)((char *)m->cum + (((uintptr_t)e - (uintptr_t)m->e) >> 4));
}

/* One allocation of `bytes` through entry e (of the calling thread's
 * memo), in its cumulative counts: each an add to memory, whole before a
 * signal handler can run. */
static inline void at_memo_count(struct at_memo_entry *e, uint64_t bytes)
{
	struct at_memo_counts *c = e->counts;
	/* counted first: a signal handler's writer run between the adds folds
	 * them (the asm statements stay in this order) */
	__asm__ volatile("movb $1, %0" : "=m"(at_memo_tls.counted));
	__asm__ volatile("addq %1, %0" : "+m"(c->bytes) : "r"(bytes));
	__asm__ volatile("addq $1, %0" : "+m"(c->calls));
}

/* The cumulative counts still in the memos: every index's added to
 * sums[index] (AT_IDX_MAX counters), or with sums NULL, index idx's to *one. */
AT_HIDDEN void at_memo_cum(struct alloctag_counters *sums, uint32_t idx,
			   struct alloctag_counters *one);

extern AT_HIDDEN unsigned int at_chain_depth;
extern AT_HIDDEN struct at_chain_table *at_chain_table;

/* at_profiling_on's value for profiling on at the current depth
 * (control.h). */
static inline unsigned char at_chain_profiling(void)
{
	return at_chain_depth == 1 ? AT_PROFILING_SITES : AT_PROFILING_CHAINS;
}

/* The hash of chain f[0 .. n): a multiply a frame; the table's index is
 * its top bits, which every bit of every frame reaches. */
static inline uint64_t at_chain_hash(const uintptr_t *f, unsigned int n)
{
	uint64_t h = n;
	for (unsigned int i = 0; i < n; i++)
		h = (h ^ f[i]) * 0x9E3779B97F4A7C15ull;
	return h;
}

static inline __attribute__((always_inline)) struct at_chain *
at_chain_probe(struct at_chain_table *t, uint64_t h,
	       const uintptr_t *f, unsigned int n)
{
	uint32_t mask = (1u << t->shift) - 1, i = (uint32_t)(h >> (64 - t->shift));
	const uint64_t bits = (h & 0xffff) << 48;
	for (;; i = (i + 1) & mask) {
		uint64_t s = AT_LOAD(&t->slots[i]);
		if (!s)
			return NULL;
		if ((s & ~AT_CHAIN_SLOT_ADDR) != bits)
			continue;
		struct at_chain *e = (struct at_chain *)(uintptr_t)(s & AT_CHAIN_SLOT_ADDR);
		if (at_chain_nr(e) == n && e->w[0] == (uint32_t)f[0] && at_chain_same(e, f, n))
			return e;
	}
}

/* Chain f[0 .. n) made if it is not known, as a walk makes it (a chain
 * a forked child taught: chain_teach.h): its tag (NULL: none), *made 1
 * when it was made now. */
AT_HIDDEN struct alloc_tag *at_chain_adopt(const uintptr_t *f, unsigned int n, int *made);

/* The taught memo (chain_teach.h): a memo no thread of this process uses,
 * made at its first entry with a new memo's sets, which the next forked
 * child's thread takes as its own (chains.c, memo_fork_child); the entry
 * of chain `tag` walked from `from` with trace tr (a child's, checked by
 * at_unwind_replay) put in it as a walk's, unless it holds an entry of the
 * chain at that `from` already, or this process's thread took it, or the
 * calling thread's memo is busy.  Before an entry would find its set full
 * the memo grows, up to AT_TEACH_MEMO_SETS sets (no entry has left its
 * first set before then, so a growth keeps them all); past that a full
 * set's oldest entry is dropped, as in any memo.
 * The sets are few so that their pages are: a forked child reads the page
 * of each of its chains' sets, and a page a child first reads costs it
 * 4-5 us on a virtual machine with shadow page tables (BENCHMARKS.md,
 * "Fork: the pages a child touches"), where 64 sets spread bash's 40
 * taught entries over 15 pages. */
#define AT_TEACH_MEMO_SETS 16u
AT_HIDDEN void at_chain_teach_memo(uintptr_t from, struct alloc_tag *tag,
				   const struct at_unwind_trace *tr, uintptr_t ra);
/* The taught memo's sets in use (0: none made). */
AT_HIDDEN unsigned int at_chain_teach_memo_sets(void);

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
 * at_chain_walk is the same after a miss in the memo's set:
 * the chain the lean walk finds (The lean walk, above), else it unwinds
 * (counted in at_chain_walks) and keeps the chain in the thread's memo.
 */
AT_HIDDEN struct alloc_tag *at_chain_here(uintptr_t from, const void *ra);
AT_HIDDEN struct alloc_tag *at_chain_walk(uintptr_t from, const void *ra);

/* The calling thread's walks so far (at_chain_walk's calls, modulo
 * 2^32). */
AT_HIDDEN uint32_t at_chain_walks(void);


/* Block p (NULL: none) was made for tag t (NULL: none): counted in t's
 * cumulative counters if t has an index. */
AT_HIDDEN void at_chain_made(struct alloc_tag *t, void *p);

/* Chains created so far; the bytes their records and tables take. */
AT_HIDDEN uint32_t at_chain_count(void);
AT_HIDDEN size_t at_chain_memory(void);

/* The chain a tag belongs to, or NULL (a compile-time tag). */
AT_HIDDEN struct at_chain *at_chain_of(const struct alloc_tag *tag);

#endif
