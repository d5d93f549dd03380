/*
 * The call-chain unwinder: return addresses of the calling thread's frames,
 * from .eh_frame CFI, with a cache of per-address unwind rules (x86-64).
 *
 * Rule cache: AT_RULE_SLOTS 64-bit words, direct-mapped on the return
 * address (slot = (ra ^ ra >> 16) mod AT_RULE_SLOTS), mmap'd at first use,
 * never freed.  One word holds both the key and the rule, so a reader's one
 * load is never torn and needs no lock:
 *
 *   63        52 51 50 49          34 33  32  31  30              0
 *  +------------+-----+--------------+----+----+----+----------------+
 *  | rbp slot/8 | rbp | CFA offset   |rbp?|stop| 1  | ra >> 16       |
 *  +------------+-----+--------------+----+----+----+----------------+
 *    CFA - 8*v   0 same, 1 saved at CFA - 8*(bits 52..63)
 *  bit 31 set: the word is valid; "stop": the frame cannot be unwound (no
 *  FDE: JIT code, assembly without CFI; a signal frame; a rule the cache
 *  cannot express: a CFA expression, a CFA in another register, a return
 *  address not at CFA - 8, a frame larger than 64 KiB); "rbp?": the CFA is
 *  rbp + offset, else rsp + offset.  ra >> 16 and the slot give back ra
 *  (user-space addresses are below 2^47).  A miss computes the rule at
 *  ra - 1 (the call instruction) inside dl_iterate_phdr's callback, which
 *  holds the loader's lock, so the object cannot be unmapped meanwhile, and
 *  stores the word (a racing store of the same address's rule is equal).
 *  When the loader reports an object unloaded (dlpi_subs changed) the cache
 *  is cleared at the next miss; until then a stale rule can only give a
 *  wrong chain, never a fault (the walk's bounds below).
 *
 * The walk (at_unwind): from the state captured at the call of at_unwind
 * (pc, rsp, rbp), frame after frame: CFA = rule's register + offset, return
 * address at CFA - 8, rbp reloaded if saved, rsp = CFA.  Every load is
 * inside [rsp at the start, stack top) where the stack top is the thread
 * pointer for threads made by glibc (their TCB sits above their stack) and
 * __libc_stack_end for the main thread; each CFA must be above the one
 * before and at most 64 KiB + its offset above it.  The walk stops at a
 * "stop" rule, a return address of 0 (the outermost frame's CFI marks it
 * undefined), or any bound broken: it never faults and never allocates.
 */
#ifndef AT_UNWIND_H
#define AT_UNWIND_H

#include <stdint.h>

#include "core/compiler.h"

#define AT_RULE_SLOTS_SHIFT 16
#define AT_RULE_SLOTS (1u << AT_RULE_SLOTS_SHIFT)

/*
 * What a walk read from the stack once it reached `from`: each word it
 * loaded and used (a return address; a saved rbp that a later frame's CFA
 * was computed from: most hold data, as rbp is an ordinary register in
 * code without frame pointers), in order, with bit i of `rbp` set when
 * word i is a saved rbp; `top`, the highest CFA it computed (every word it
 * read lies below); `bounded`, whether it ended at one of the bounds below
 * (the stack top, a CFA out of range) rather than at a frame's rule, a
 * null return address or the depth asked for; and whether it used the rbp
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
	uint32_t rbp;          /* bit i: word i is a saved rbp */
	uintptr_t top;         /* the highest CFA computed past `from` */
	uintptr_t addr[AT_TRACE_MAX];
	uintptr_t val[AT_TRACE_MAX];
};

/* The top of the calling thread's stack (exclusive) as a walk from sp
 * sees it: the thread pointer when above sp (a thread made by glibc),
 * else __libc_stack_end when above sp (the main thread), else 0. */
static inline uintptr_t at_stack_top(uintptr_t sp)
{
	extern void *__libc_stack_end;
	uintptr_t tp;
	__asm__("movq %%fs:0, %0" : "=r"(tp));
	if (tp > sp)
		return tp;
	uintptr_t end = (uintptr_t)__libc_stack_end;
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

/* Rule-cache misses so far (benchmarks, tests). */
AT_HIDDEN uint64_t at_unwind_misses(void);

#endif
