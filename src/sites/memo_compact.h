/*
 * The memo's compact tier: the entries a thread's memo (chains.h, "The
 * memo") drops, kept in about a ninth of the bytes, looked up after a miss in
 * the memo's sets and levels and before the walk.  The memo's sets and
 * their hit path are unchanged; a program whose chains outnumber them (a
 * compiler: thousands of chains through a few allocation wrappers) finds
 * most of its chains here instead of unwinding.
 *
 * An entry keeps what a memo entry proves its chain by, less what its
 * chain's record already holds: the chain's tag index (`idx`; 0: empty,
 * or being written; the chain is the one the registry lists at idx,
 * tag_registry.h), ra's low 16 bits (`key`), its hash's `tag` (below),
 * `span` (as the memo entry's, in 16 bits), the set's hash bits (`set`,
 * for growth), `print` and `word1` (below), and the offsets from `from`
 * of the walk's words, which are return addresses only (an entry whose
 * walk read a saved rbp is not kept) and are the chain's frames 1 .. n,
 * in order: word i is frame i + 1.  A lookup for (ra, from) takes an
 * entry whose span stays within the stack top at `from` (as
 * at_memo_find_in does for an entry made at another `from`; an entry
 * whose walk ended at a bound, AT_MEMO_ONLY_SP, holds only where it was
 * made and is not kept, nor is any entry's stack pointer), whose words,
 * read at from + off[i], are the chain's frames 1 .. n (the record's
 * narrow or wide words decoded, chains.h) and whose chain's frame 0 is
 * ra: the walk would read those words at those places and return the
 * same chain (unwind.h).  An entry is kept only when the memo entry's
 * return-address words (its padding dropped: the last word repeated) are
 * the chain's frames 1 .. n, its frame 0 ra and its frames n + 1 (1 <= n
 * <= AT_MEMO_COMPACT_WORDS), so that a hit proves exactly what the memo
 * entry proved; a lookup compares the record's w[0] with ra's low half
 * and the stack's words with the record as the chain table's probe does
 * (at_chain_same), once the cheaper fields have matched.  28 bytes an
 * entry, against the memo's 256.
 *
 * Frame sizes: a word's place follows from the return address before it.
 * Word 0 lies at from + k(ra) - 8 and word i + 1 at word i's place +
 * k(word i), where k(r) is the CFA's offset from the stack pointer on the
 * return to r, fixed at r (its function's frame there; chains.h: The
 * second choice).  The tier keeps k of the return addresses its entries
 * give it (`k`: one word a slot, r | k << 48, a slot a hash of r, the
 * last keep's), so that a lookup reads the words of the stack it is
 * called on without the entry, and without unwinding.
 *
 * Sets of AT_MEMO_COMPACT_WAYS entries, of two kinds, one array:
 * - a chain that repeats no word: the set of (ra, sp, word 0) (the
 *   memo's level hash of its set's hash input and word 0): the chains of
 *   one call site at one stack pointer (a compiler's allocation wrapper,
 *   hundreds of chains) are spread by the caller of ra's function.
 *   Keyed by (ra, sp) alone, cc1's walks fell from 180k to 65k and no
 *   further however many sets; with word 0, to 24k (BENCHMARKS.md, "A
 *   wrapper's steady loop").  Entries of one (ra, sp, word 0) share
 *   their first words, so a way's word 1's low 8 bits (`word1`) and a
 *   16-bit hash of every word (`print`, compact_print) are compared with
 *   the stack's before the record is read: the record is a cache miss
 *   where the stack's words are not;
 * - a chain that repeats a word (recursive code: the chain of a function
 *   that calls itself, met at every depth of the recursion): the set of
 *   its words, the hash of ra and its first AT_MEMO_COMPACT_KEYW words
 *   (at most the depth's less one: a chain ends at a word whose k another
 *   chain gave), each read at the place k gives: one entry proves the
 *   chain at every stack depth, where the sets of a stack pointer kept
 *   one entry per depth and held a fraction of them (espresso's shape:
 *   6075 chains, each at up to ten depths; walks 557k against 47-80k).
 *   Its tag has AT_MEMO_COMPACT_DEEP, and k is kept for each of its words.
 * A lookup reads word 0, then, when k(word 0) is known, the words k gives
 * and, if they repeat one, looks in their set; else, or on a miss, in the
 * set of (ra, sp, word 0).  Each way's key and `tag` (the high bits of the
 * set's hash, with the kind) are compared first, as one 32-bit word.
 * A keep writes the set's first empty way (nothing when the set already
 * holds the same proof), else the way after the last one written in the
 * tier (round robin over the tier, one counter).  Counts: none (the memo
 * entry's are folded before it is dropped; a hit charges the tag as a
 * walk's chain is charged).
 *
 * A hit moves the entry to the memo (chain_compact, chains.c) only
 * when the memo's set has a free way, or when the memo grows at that
 * call (the hit counted in the memo's `again` as a walk of a chain that
 * existed): a program whose chains fit the memo ends with them there,
 * and one whose chains do not (cc1) finds them here without writing the
 * memo (as its levels, chains.h: The second choice).  An entry of a
 * words' set stays: it proves its chain at every depth, a memo entry at
 * one (moved, the next depth's lookup missed and walked; copying it, one
 * hit in four, took espresso to 0.81x the time of leaving it).
 *
 * Size: one mapping reserved at the tier's making (the first drop of a
 * memo that has grown: a memo of its first size drops a start-up's
 * chains, each walked once, and keeps no tier; chains.c, memo_drop): the
 * header, AT_MEMO_COMPACT_SETS sets and the frame sizes (16 KiB: with
 * 4 KiB, cc1's lookups lost k of the words of its recursive chains and
 * it walked 31.5k times, not 26.6k),
 * of which sets 0 .. mask are used: 2^AT_MEMO_COMPACT_SHIFT_FIRST at
 * first (one page with the header), doubling (in place: an entry of set
 * s moves to s or s + the old size, as the memo's growth) when as many
 * walks of chains that already existed (`again`, counted by the memo's
 * writer) found their set here full as the tier has entries, up to
 * AT_MEMO_COMPACT_SHIFT (the cap, set by the memory budget, profiling's
 * RSS over `never`: 140 KiB of sets).  Sets of 20 ways: a set's chains
 * are those of a few call sites and callers, unevenly many, and cc1's
 * walks at 140 KiB are 256 sets of 20 ways 16.6k, 512 of 10 27.8k, 1024
 * of 6 (168 KiB) 32.3k, against 1024 of 8 (224 KiB) 23.9k, for fewer
 * instructions (BENCHMARKS.md, "A wrapper's steady loop": the ways of a
 * set are compared 16 bits at a time).  Pages past the sets in use are
 * never touched.  The tier belongs to its memo: emptied when the memo is
 * forgotten (a thread's exit, a depth's change), left with it by a
 * forked child.
 *
 * Passed over: a lookup that misses costs more than the walk it does not
 * save (20 ways compared), so a tier whose lookups mostly miss is
 * passed over (struct at_pass, chains.h): it is judged every
 * AT_PASS_JUDGE calls, and when fewer than half of its lookups hit, only
 * one call in AT_PASS_SAMPLE looks it up (the others walk) until a
 * judgement finds half hitting again (a tier judged while it was filling
 * comes back within as many calls).  Before the words' sets, recursive
 * code had more (chain, stack pointer) pairs than any tier holds
 * (espresso's shape: 37% of lookups hit); cc1's lookups mostly hit and
 * it is not passed over.  Forgetting the tier judges it anew.
 *
 * Signals: as the memo's.  Writers (a keep, growth) run with the memo
 * busy and store idx 0 first and the idx last; a lookup holds the memo
 * busy, so that a signal handler's walk writes nothing meanwhile, and a
 * handler's lookup during a write finds idx 0 or a whole entry.
 */
#ifndef AT_MEMO_COMPACT_H
#define AT_MEMO_COMPACT_H

#include <stddef.h>
#include <stdint.h>

#include "sites/chains.h"

#define AT_MEMO_COMPACT_WAYS 20u
#define AT_MEMO_COMPACT_WORDS 7u /* the default depth's */
#define AT_MEMO_COMPACT_SHIFT_FIRST 1 /* 2 sets, 1120 bytes */
#define AT_MEMO_COMPACT_SHIFT 8       /* 256 sets, 5120 entries, 140 KiB */
#define AT_MEMO_COMPACT_SETS (1u << AT_MEMO_COMPACT_SHIFT)

struct at_memo_compact_entry {
	uint32_t idx;    /* the chain's tag index; 0: empty, or being written */
	uint16_t key;    /* ra's low 16 bits */
	uint16_t tag;    /* the high 16 bits of its hash (memo_compact.c): compared with key first */
	uint16_t print;  /* a hash of frames 1 .. n (compact_print): compared before the record */
	uint16_t span;   /* the memo entry's (below AT_MEMO_ONLY_SP, and 2^16) */
	uint8_t set;     /* its hash's set bits (memo_compact.c): its set under any mask */
	uint8_t word1;   /* frame 2's low 8 bits (0 when n is 1): read before the print's words */
	/* word i's offset, i < n; 0 past them (word 1's on are above word 0's,
	 * never 0): n is 1 and the words' offsets that are not 0 */
	uint16_t off[AT_MEMO_COMPACT_WORDS];
};
_Static_assert(sizeof(struct at_memo_compact_entry) == 28, "a compact entry is 28 bytes");
_Static_assert(offsetof(struct at_memo_compact_entry, tag) ==
		       offsetof(struct at_memo_compact_entry, key) + sizeof(uint16_t),
	       "key and tag read as one 32-bit word (at_memo_compact_find)");
_Static_assert(AT_MEMO_COMPACT_SETS <= 1u << 8, "a set's bits fit the entry's");

/* The words of entry x (1 .. AT_MEMO_COMPACT_WORDS). */
static inline unsigned int at_memo_compact_n(const struct at_memo_compact_entry *x)
{
	unsigned int n = 1;
	while (n < AT_MEMO_COMPACT_WORDS && x->off[n])
		n++;
	return n;
}

/* A tag's bit: the entry is in its words' set (a chain that repeats a
 * word, found at every stack depth), not a stack pointer's. */
#define AT_MEMO_COMPACT_DEEP 0x8000u

static inline int at_memo_compact_deep(const struct at_memo_compact_entry *x)
{
	return !!(x->tag & AT_MEMO_COMPACT_DEEP);
}

/* Entry x emptied (the memo busy): its chain moves to the memo. */
static inline void at_memo_compact_drop(struct at_memo_compact_entry *x)
{
	AT_STORE_RELAXED(&x->idx, 0);
}

#define AT_MEMO_COMPACT_K_SHIFT 11 /* slots of the frame sizes (16 KiB) */
#define AT_MEMO_COMPACT_KEYW 7u    /* the words a set is chosen by */

struct at_memo_compact {
	uintptr_t mask;  /* the sets in use, 0 .. mask */
	uint32_t again;  /* known chains' walks into a full set since it grew */
	uint32_t next;   /* the round robin's way, over the whole tier */
	struct at_pass pass; /* Passed over, above */
	struct at_memo_compact_entry e[AT_MEMO_COMPACT_SETS][AT_MEMO_COMPACT_WAYS];
	/* a return address r's frame size k (its CFA's offset from the stack
	 * pointer on the return to r): r | k << 48, 0 none (memo_compact.c) */
	uint64_t k[1u << AT_MEMO_COMPACT_K_SHIFT];
};

/* Keep memo entry e (a key; memo m's, busy), dropped from the memo, in
 * m's compact tier (made now if m has none) if its words fit. */
AT_HIDDEN void at_memo_compact_keep(struct at_chain_memo *m, const struct at_memo_entry *e);

/* The entry of memo m's compact tier that proves the chain of a call
 * returning to ra with caller stack pointer `from` (the chain in
 * *chain), or NULL (the memo busy). */
AT_HIDDEN struct at_memo_compact_entry *at_memo_compact_find(const struct at_chain_memo *m,
							     uintptr_t ra, uintptr_t from,
							     struct at_chain **chain);

/* A chain that existed was walked from ra, its words val[0 .. n), bit i
 * of rbp set when word i is a saved rbp (memo m's, busy): growth counted
 * (above). */
AT_HIDDEN void at_memo_compact_missed(struct at_chain_memo *m, uintptr_t ra, uintptr_t from,
				      const uintptr_t *val, unsigned int n, uint32_t rbp);

/* Every entry of m's tier emptied (m's thread's, or no thread's). */
AT_HIDDEN void at_memo_compact_forget(struct at_chain_memo *m);

/* The bytes of the tiers' sets in use. */
AT_HIDDEN size_t at_memo_compact_memory(void);

#endif
