/*
 * Teaching a forking parent its children's call chains.
 *
 * A shell forks a child for each command substitution, and every child
 * makes the same few dozen call chains its parent never made (the
 * subshell's set-up, the builtin's output, its exit): it unwinds new
 * return addresses (their rules read from the objects' CFI), names their
 * frames, lists a tag for each chain, and all of it dies with the child.
 * Here a forked child teaches its parent instead: it writes each chain it
 * had to make, or whose walk had to compute a rule, in an area that every
 * process of the fork tree shares; the parent, before its next fork, makes
 * the rules and the chain itself (zero counts), so that every later child
 * inherits them: its chain is in the main chain table (no chain made, no
 * registry entry, no record, no file read), and its thread starts with a
 * memo that holds the walk's entry (no walk at all; a walk that is still
 * needed finds every rule in the rule cache).
 *
 * The area: one MAP_SHARED | MAP_ANONYMOUS mapping of AT_TEACH_BYTES, made
 * by the first fork's prepare handler of a process that makes call chains
 * (one mmap, once; the chains' fork handlers, chains.c), so that every
 * child and grandchild has the same physical pages (exec drops it).  In
 * 64-bit words:
 *
 *   w[0]                claimed: records claimed so far (an atomic add; it
 *                       may pass the capacity, and then nothing more is
 *                       written)
 *   w[1 .. 7]           unused (the records start at byte 64)
 *   record i            at byte 64 + 8 * i * W, of W = 3 + depth +
 *                       AT_TEACH_TRACE + (AT_TEACH_TRACE + 3) / 4 words
 *                       (30 at the default depth of 8: 272 records):
 *     r[0]              AT_TEACH_READY << 32 | t << 16 | traced << 15 | n,
 *                       stored last (release): 0 while it is being written
 *     r[1 .. n]         the chain's frames, innermost first (n <= depth)
 *     with `traced` (AT_TEACH_TRACED), the walk's trace (unwind.h: the
 *     stack words it read, t <= 15 of them):
 *     r[1 + depth]      `from`, the stack pointer the walk started at
 *     r[2 + depth]      its highest CFA's offset from `from` (<= 0xffff),
 *                       and in bits 32..63 which words are saved rbp values
 *     r[3 + depth + k]  word k's value, k < t
 *     r[3 + depth + AT_TEACH_TRACE + k / 4], bits 16 * (k % 4) ..: word
 *                       k's offset from `from` (<= 0xffff)
 *
 * depth is ALLOCTAG_DEPTH when the area was made (at_chain_depth); the
 * capacity, (AT_TEACH_BYTES - 64) / (8 * W) records, and the depth are
 * kept in the maker's private memory, which its children inherit:
 * nothing a reader uses to find its way in the area is read from it.
 *
 * Invariants:
 *  - a record is claimed once (the add gives its number), written only by
 *    its claimer, and made ready once; a child claims nothing once the
 *    count has reached the capacity: the area fills and stays full
 *    (bounded, no wrap; the tree's later children make their chains as
 *    before);
 *  - a forked child (chains.h: a forked child's chains) writes a record
 *    only when every frame of the chain lies in an object its parent maps
 *    too, at the same place, for good: the unwinder's permanent objects
 *    (unwind.h, at_unwind_permanent: the main program, libc, this
 *    library), which a fork inherits and nothing unloads; a frame in an
 *    object the child loaded itself keeps the record out;
 *  - a reader trusts nothing it reads there: it copies the record, skips
 *    it unless it is ready with 1 <= n <= depth and every frame lies in
 *    one of its own permanent objects, and skips one not yet ready (a
 *    later child writes it again); a trace is used only if the walk, run
 *    again over the trace's words with the reader's own rules
 *    (at_unwind_replay), reads exactly those words and yields exactly the
 *    record's chain, and its words lie below this thread's stack top;
 *  - each process reads the records from its own cursor (a private
 *    static: the parent reads the area at each fork and writes nothing in
 *    it), and the making it does for them is the walk's: the rules a
 *    child's walk needs (the frames' but the last, when the chain has the
 *    whole depth: the walk looks up no rule past its last frame) stored
 *    in the main rule cache (marked taught: unwind.h), the chain made
 *    as a walk makes it (chains.c; flagged AT_CHAIN_TAUGHT), counts zero,
 *    and the trace's entry put in the taught memo (chains.h,
 *    at_chain_teach_memo: a memo no thread of the parent uses, of as few
 *    sets as hold its entries, which a forked child's thread takes as
 *    its own);
 *  - when the main rule cache has been replaced or emptied since the
 *    records were read (at_unwind_generation), the process reads them all
 *    again from the first: the chains are known, their rules are made
 *    again, so that a rule cache that grew does not leave every later
 *    child to compute them once more (and a full area, to compute them at
 *    every fork).
 * An adopted chain is a chain of the parent like any: its site's
 * allocinfo line shows 0 0 in the parent, as any site whose allocations
 * were freed, its tag takes an index, and the profiling memory reported
 * counts the area (at_teach_memory).
 */
#ifndef AT_CHAIN_TEACH_H
#define AT_CHAIN_TEACH_H

#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"

#define AT_TEACH_BYTES (16u * 4096u)
#define AT_TEACH_READY 0x7eac4u /* a ready record's r[0] >> 32 */
#define AT_TEACH_HEAD 64u       /* the bytes before record 0 */
#define AT_TEACH_TRACE 15u      /* a trace's words (the memo's: AT_MEMO_WORDS) */
#define AT_TEACH_TRACED (1u << 15) /* r[0]: the record has a trace */

struct at_unwind_trace;

/* In a forked child, after a walk from `from` (trace tr) that made chain
 * f[0 .. n) or computed a rule for it: the chain written in the area for
 * the parent, with the trace if it is one a record keeps, if its frames
 * allow it (above) and there is room. */
AT_HIDDEN void at_teach_publish(const uintptr_t *f, unsigned int n, uintptr_t from,
				const struct at_unwind_trace *tr);

/* The chains' fork prepare handler (no lock of ours held): the area made
 * at the first fork, then the records written since the last one
 * adopted. */
AT_HIDDEN void at_teach_prepare(void);

/* What this process knows of the area (tests): records claimed in it
 * (every process's), its capacity (0: no area), and what this process
 * adopted: chains made, records read, records refused (not ready, or
 * failing the checks above). */
struct at_teach_stats {
	uint64_t claimed;
	uint32_t capacity;
	uint32_t made, read, refused;
	uint32_t proved; /* traces put in the taught memo */
	uint32_t memo_sets; /* the taught memo's sets in use (0: none made) */
};
AT_HIDDEN void at_teach_stats(struct at_teach_stats *s);

/* The area's bytes (0: none), for the chains' memory report. */
AT_HIDDEN size_t at_teach_memory(void);

#endif
