/*
 * The call-chain unwinder: return addresses of the calling thread's frames,
 * from .eh_frame CFI, with a cache of per-address unwind rules (x86-64).
 *
 * Rule cache: a table of 2^shift sets of AT_RULE_WAYS 64-bit words,
 * made at first use (the first in the sites' pool, larger ones mmap'd);
 * a return address's set is bits 3 .. 3 + shift of ra, its 31-bit key
 * the top 31 bits of ra times an odd constant.
 * The first table has 2^AT_RULE_SHIFT_FIRST sets (4 KiB, no header: the
 * table's shift is kept in the low bits of its address;
 * `cat` makes 48 misses, `git --version` 127, neither grows it, and each
 * keeps 4 KiB less than with 8 KiB; python3 grows it either way; each a
 * page or two of a table indexed by the address, which touched a page per
 * code page it unwound through);
 * when more than half its words are in use, or (a table of fewer than
 * 2^AT_RULE_EVICT_BELOW sets, up to 64 KiB) more than
 * 2^(shift - AT_RULE_EVICT_SHIFT) valid words were replaced in it, a table
 * 2^AT_RULE_SHIFT_STEP times larger replaces it (empty: it is a cache,
 * misses fill it), up to 2^AT_RULE_SHIFT_MAX sets.  Twice as large, not
 * four times: python3 starting a thread stops at 16 KiB where a 4x step
 * took it to 32 (12 KiB less resident), for 11% more misses on cc1
 * (15289 against 13738: a table emptied more often on the way to the
 * same 128 KiB, under 0.1% of its instructions).  The addresses of a
 * large program crowd a few sets of a small table long before it is half
 * full: with steps of four from 8 KiB, cc1 on gen.c (BENCHMARKS.md) made 19150 misses where the tables
 * grew only when half full (18866 with the evictions' rule on the 8 KiB
 * table alone), 13350 with this rule, 13946 with a 32 KiB first table
 * growing when half full; the evictions' rule on the 128 KiB table too
 * took cc1 to the 512 KiB one, most of its pages touched.  Tables
 * replaced stay mapped (a reader may hold one) but empty: their pages
 * dropped (MADV_DONTNEED: none resident; the first table's words, in the
 * sites' pool, stored 0), so that a reader finds no key there and misses;
 * the miss that grew a table stores its rule in the new one.
 * A forked process's rules: a process that is a forked child (its fork
 * handler, at_unwind_forked, called by the chains' one) and whose parent
 * had a table stores the rules of its misses in a table of its own,
 * 2^AT_RULE_SHIFT_CHILD sets (1 KiB) from the sites' pool, where its new
 * chains' records go, not in the main table, whose pages it shares with
 * its parent (a shell's child's new return addresses fell in both pages of
 * bash's 8 KiB table: two copies for a few words); a miss in the main
 * table looks there first.  After 2^AT_RULE_SHIFT_CHILD valid words were
 * replaced in it (a child that does much more than its parent did), the
 * process stores in the main table again.  One word holds both the
 * key and the rule, so a reader's one load is never torn and needs no lock:
 *
 *   63            48  47   46            35 34  33   32  31  30              0
 *  +----------------+------+---------------+---+----+----+----+----------------+
 *  | CFA offset     |taught| rbp slot      | 0 |rbp?|stop| 1  | key            |
 *  +----------------+------+---------------+---+----+----+----+----------------+
 *    rbp slot: 0, rbp unchanged; else rbp saved at CFA - 8 * slot (1..0xfff:
 *    bits 32..46 with 32..34 cleared are 8 * slot, the bytes below the CFA)
 *  "taught": a rule stored for a child's chain (at_unwind_learn,
 *  chain_teach.h), never read by the walk: a taught rule that finds its
 *  set full replaces a way whose rule is not taught, if there is one (two
 *  taught rules that replaced each other made every child compute one of
 *  them again);
 *  bit 31 set: the word is valid; "stop": the frame cannot be unwound (no
 *  FDE: JIT code, assembly without CFI; a signal frame; a rule the cache
 *  cannot express: a CFA expression, a CFA in another register, a return
 *  address not at CFA - 8, a frame larger than 64 KiB; an object whose CFI
 *  is corrupt, at_eh_rule below); "rbp?": the CFA is
 *  rbp + offset, else rsp + offset.  Two return addresses of one set
 *  share a key with a probability of about 2^-31, and the cost of it would
 *  be one wrong chain, never a fault (the walk's bounds below).  A
 *  miss computes the rule at ra - 1 (the call instruction) in the object
 *  _dl_find_object names (lock-free; the object's program headers, copied
 *  at its first miss from dl_iterate_phdr, kept in a small table: unwind.c;
 *  the main program's, libc's and the library's own records are kept for
 *  good and found by address, without _dl_find_object),
 *  else inside dl_iterate_phdr's callback (the loader's lock: another
 *  thread's miss holds the table), from its file (eh_file.h) or else
 *  reading only the readable span of the
 *  object around its .eh_frame_hdr (its readable PT_LOAD segments with no
 *  gap between them), and stores the word in a free way of the set, else
 *  in one chosen by the hash (a racing store of the same address's rule is
 *  equal).  When the loader reports an object unloaded (dlpi_subs changed,
 *  seen by a miss in an object not met before, or by a miss through
 *  dl_iterate_phdr) the table is emptied the same way; until then a stale
 *  rule can only give a wrong chain, never a fault.
 *
 * The walk (at_unwind): from the state captured at the call of at_unwind
 * (pc, rsp, rbp), frame after frame: CFA = rule's register + offset, return
 * address at CFA - 8, rbp reloaded if saved, rsp = CFA.  Every load is
 * inside [rsp at the start, stack top) where the stack top is the thread
 * pointer for threads made by glibc (their TCB sits above their stack) and
 * at_main_stack_end for the main thread; each CFA must be at least 8 bytes
 * (a return address) and at most 1 MiB above the one before (the stack
 * pointer the walk started from, first).  The walk stops at a
 * "stop" rule, a return address of 0 (the outermost frame's CFI marks it
 * undefined), or any bound broken: it never faults and never allocates.
 */
#ifndef AT_UNWIND_H
#define AT_UNWIND_H

#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"

#define AT_RULE_WAYS 2u
#define AT_RULE_SHIFT_FIRST 8 /* 256 sets, 4 KiB */
#define AT_RULE_SHIFT_STEP 1
#define AT_RULE_SHIFT_MAX 15   /* 512 KiB */
#define AT_RULE_EVICT_SHIFT 3  /* grow after 2^shift / 8 evictions ... */
#define AT_RULE_EVICT_BELOW 13 /* ... in a table of fewer than 8192 sets */
#define AT_RULE_SHIFT_CHILD 6  /* a forked process's own table: 64 sets, 1 KiB */

/*
 * What a walk read from the stack once it reached `from`: each word it
 * loaded and used (a return address; a saved rbp that a later frame's CFA
 * was computed from: most hold data, as rbp is an ordinary register in
 * code without frame pointers), in order, with bit i of `rbp` set when
 * word i is a saved rbp; `top`, the highest CFA it computed (every word it
 * read lies below); `bounded`, whether it ended at one of the bounds below
 * (the stack top, a CFA out of range) rather than at a frame's rule, a
 * null return address or the depth asked for, or read a word below `from`
 * (CFI that lies): when it is 0, every word read lies in [from, top];
 * and whether it used the rbp
 * value it had at `from` (a CFA of rbp + offset before rbp was reloaded
 * from the stack) or read more than AT_TRACE_MAX words.  A walk is a
 * function of the return address at `from`, these words and the bounds:
 * given the same return address at the same `from`, the same words at the
 * same addresses and rbp unused, it yields the same frames; and at another
 * `from` too, every address and every saved rbp moved by the same amount,
 * as long as it did not end at a bound and no CFA passes the new stack top.
 * The chains' memo (chains.c) checks these words instead of unwinding again.
 */
#define AT_TRACE_MAX 32u
struct at_unwind_trace {
	unsigned int n;
	unsigned int unusable; /* rbp at `from` used, or too many words */
	unsigned int bounded;  /* ended at a bound */
	unsigned int rbp_from; /* used rbp's value at `from` (then unusable too) */
	uint32_t rbp;          /* bit i: word i is a saved rbp */
	uintptr_t top;         /* the highest CFA computed past `from` */
	uintptr_t addr[AT_TRACE_MAX];
	/* right after addr: the walk stores word i's value AT_TRACE_MAX
	 * words above its address (unwind.c, one pointer for both) */
	uintptr_t val[AT_TRACE_MAX];
};
_Static_assert(offsetof(struct at_unwind_trace, val) ==
		       offsetof(struct at_unwind_trace, addr) + AT_TRACE_MAX * sizeof(uintptr_t),
	       "a trace's values follow its addresses");

/* The main thread's stack top: the address of argc on the initial stack,
 * the word below argv (what the loader's __libc_stack_end holds, without
 * its symbol lookup and version check at every process start); set by the
 * constructor (startup/init.c) from the argv it is called with, 0 before. */
extern AT_HIDDEN uintptr_t at_main_stack_end;

/* The top of the calling thread's stack (exclusive) as a walk from sp
 * sees it: the thread pointer when above sp (a thread made by glibc),
 * else at_main_stack_end when above sp (the main thread), else 0. */
static inline uintptr_t at_stack_top(uintptr_t sp)
{
	uintptr_t tp;
	__asm__("movq %%fs:0, %0" : "=r"(tp));
	if (tp > sp)
		return tp;
	uintptr_t end = at_main_stack_end;
	return end > sp ? end : 0;
}

/*
 * Fill frames[0 .. max) with return addresses, innermost first, starting
 * with the frame that returns to the stack pointer `from` (the CFA of the
 * function that wants its caller's chain: __builtin_dwarf_cfa()); the
 * frames of the functions between it and at_unwind are unwound and not
 * kept.  Returns the number kept, 0 when the frame at `from` was not
 * reached.  tr (may be NULL) gets the trace above.  Safe from any thread
 * and from signal handlers.
 */
AT_HIDDEN unsigned int at_unwind(uintptr_t *frames, unsigned int max, uintptr_t from,
				 struct at_unwind_trace *tr);

/*
 * The same, unwinding only from `from` on: ra is the return address at
 * from - 8 (the frame at `from` returns to it).  The frames between the
 * caller and `from` (the allocator's own) are not unwound: the walk starts
 * at pc = ra, rsp = from, with rbp unknown; if the walk used rbp's value
 * at `from` (a CFA computed from it before it was reloaded from the
 * stack) the chain is unwound again by at_unwind, whose rbp is the real
 * one.  Otherwise the frames and trace are at_unwind's, but for a lower
 * bound of `from` rather than the caller's stack pointer (CFI that puts a
 * slot below `from` ends the walk there).  tr must not be NULL.
 */
AT_HIDDEN unsigned int at_unwind_from(uintptr_t *frames, unsigned int max, uintptr_t from,
				      uintptr_t ra, struct at_unwind_trace *tr);

/*
 * The lean walk: at_unwind_from's frames and trace (tr may be NULL: none)
 * when the walk from `from` needs no rule it has not cached and not rbp's
 * value at `from` (a CFA computed from rbp before a frame reloaded it
 * from the stack); else 0, having written nothing but frames[] and *tr.
 * It is the walk itself, less the rule-cache misses and the second walk
 * from the caller's own frame (unwind.c, walk): a lookup, not a making.
 */
AT_HIDDEN unsigned int at_unwind_lean(uintptr_t *frames, unsigned int max, uintptr_t from,
				      uintptr_t ra, struct at_unwind_trace *tr);

/*
 * The rule of call address pc (bits 32..63 of the word above; the stop bit
 * when there is none) from the .eh_frame_hdr at hdr and the .eh_frame it
 * indexes, reading nothing outside [data, data + size): a rule-cache miss
 * passes the readable span of the object holding pc.  Returns 0, or
 * AT_EH_STOP (the CFI cannot be followed there: no FDE, an encoding,
 * instruction or frame the rules do not express), or AT_EH_CORRUPT (a
 * record cut short, a length or offset outside the span, a wrong version
 * or id): then the object's CFI is ignored, said once per object
 * ("alloctag: NAME: corrupt .eh_frame_hdr or .eh_frame; ...").  Never
 * loops longer than the span's bytes.
 */
#define AT_EH_STOP 1
#define AT_EH_CORRUPT (-1)
AT_HIDDEN int at_eh_rule(const uint8_t *data, size_t size, const uint8_t *hdr, uintptr_t pc,
			 uint64_t *rule);

/*
 * The pieces of at_eh_rule, for a reader that holds parts of the object in
 * buffers (eh_file.h): `addr` arguments are the run-time addresses of the
 * buffers' first bytes (pointer-relative encodings are computed from them).
 * at_eh_hdr: the .eh_frame_hdr header in p[0 .. n): its table's entry count
 * and the table's offset from p; 0, AT_EH_STOP (a table other than ld's
 * datarel sdata4 one, or none) or AT_EH_CORRUPT.  at_eh_search: the last of
 * `count` table entries at tab whose start (relative to the header) is at
 * most rel (0 when none is).  at_eh_fde_rule: the rule of pc from the FDE
 * in fde[0 .. fde_n) and the CIE in cie[0 .. cie_n) (the one the FDE names:
 * else AT_EH_CORRUPT), as at_eh_rule: at_eh_cie_read, then
 * at_eh_fde_rule_cie, which a reader that keeps CIEs calls with a CIE read
 * once (the same results: the CIE's own ones given where at_eh_fde_rule
 * meets them).
 */
AT_HIDDEN int at_eh_hdr(const uint8_t *p, size_t n, uintptr_t addr, uint64_t *count,
			size_t *table);
AT_HIDDEN size_t at_eh_search(const uint8_t *tab, size_t count, int64_t rel);
AT_HIDDEN int at_eh_fde_rule(const uint8_t *fde, size_t fde_n, uintptr_t fde_addr,
			     const uint8_t *cie, size_t cie_n, uintptr_t cie_addr, uintptr_t pc,
			     uint64_t *rule);

/* What a CFA program says at one address. */
struct at_cfa_state {
	int cfa_reg; /* 7 rsp, 6 rbp, else unsupported */
	int64_t cfa_off;
	int rbp_kind; /* 0 same value, 1 saved at CFA + rbp_off, 2 unsupported */
	int64_t rbp_off;
	int ra_kind; /* 1 saved at CFA + ra_off, 0 undefined (outermost), 2 unsupported */
	int64_t ra_off;
	int cfa_expr;
};

struct at_cie {
	int64_t data_align;
	uint64_t code_align;
	uint8_t fde_enc;
	int aug_z, signal;
	const uint8_t *insns, *end; /* its initial instructions (while read) */
};

/* A CIE read: parsed (0, AT_EH_STOP, AT_EH_CORRUPT), and when it parsed,
 * its initial instructions run: their result and the state they leave
 * (every FDE's start). */
struct at_eh_cie {
	int parsed, ran;
	struct at_cie cie;
	struct at_cfa_state init;
};
AT_HIDDEN void at_eh_cie_read(const uint8_t *cie, size_t cie_n, uintptr_t cie_addr,
			      struct at_eh_cie *c);
/* pc's rule from the FDE in fde[0 .. fde_n) and the CIE c (read at run-time
 * address cie_addr), as at_eh_fde_rule. */
AT_HIDDEN int at_eh_fde_rule_cie(const uint8_t *fde, size_t fde_n, uintptr_t fde_addr,
				 const struct at_eh_cie *c, uintptr_t cie_addr, uintptr_t pc,
				 uint64_t *rule);

/* Rule-cache misses so far (benchmarks, tests). */
AT_HIDDEN uint64_t at_unwind_misses(void);

/* pc's object, as _dl_find_object gives it (*fo), when it is one that is
 * never unloaded and a rule miss has met (the main program, libc, this
 * library: unwind.c's perm_objs): 0, without asking the loader (a forked
 * child naming a new frame runs none of its text); else -1. */
struct dl_find_object;
AT_HIDDEN int at_unwind_object(uintptr_t pc, struct dl_find_object *fo);
/* Whether pc lies in one of those objects (the objects a forked child
 * shares with its parent for good: chain_teach.h). */
AT_HIDDEN int at_unwind_permanent(uintptr_t pc);
/* ra's rule in the main table, computed (a miss: counted) when it is not
 * there, even in a forked process, marked taught (a rule a child taught:
 * chain_teach.h). */
AT_HIDDEN void at_unwind_learn(uintptr_t ra);
/* Whether trace t, as a walk from `from` at depth max read it (not
 * unusable, not ended at a bound), is what a walk of chain f[0 .. n)
 * reads: the walk run again with t's words for the stack (rules from
 * the cache; a word it reads that t does not hold fails it) yields
 * exactly f, t's words at t's addresses and t's top (a child's walk
 * taught: chain_teach.h). */
AT_HIDDEN int at_unwind_replay(const uintptr_t *f, unsigned int n, unsigned int max,
			       uintptr_t from, const struct at_unwind_trace *t);
/* A count that changes whenever the main table is replaced or emptied
 * (the rules taught so far may be gone). */
AT_HIDDEN uint32_t at_unwind_generation(void);
/* In a forked child, from its fork handler (one thread): its misses'
 * rules go to a table of its own (above). */
AT_HIDDEN void at_unwind_forked(void);
/* The main table's words and *bytes (tests), NULL before the first. */
AT_HIDDEN const uint64_t *at_unwind_table(size_t *bytes);
/* Bytes of rule-cache tables mapped (chains' memory report). */
AT_HIDDEN size_t at_unwind_memory(void);
/* Bytes resident of the rule-cache tables replaced (tests: none). */
AT_HIDDEN size_t at_unwind_replaced_resident(void);

#endif
