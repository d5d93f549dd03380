/*
 * Per-CPU live and cumulative counters, indexed by tag index.
 *
 * Layout: one reserved region (in the heap's reservation, page.h
 * at_heap_meta, or a mapping of its own; committed by the kernel on first
 * touch) of pairs {live, cumulative} of struct at_counter (16 bytes each,
 * 32 a pair), a pair per tag index and CPU, interleaved a page at a time:
 * the indexes come in groups of AT_COUNTERS_GROUP (128: a page of pairs),
 * and group g is a page per CPU id the layout covers (at_counters_ncpu: at
 * least the kernel's nr_cpu_ids, 64 on a machine of up to 64 CPUs,
 * counters.c) and one for the shared array
 * (below), at_counters_group bytes, at at_counters_base - g *
 * at_counters_group (at_counters_base: group 0, the last in the region,
 * so that the groups are used from the end down).  CPU c's page is the
 * group's c-th, c * AT_COUNTERS_STRIDE (4 KiB) above CPU 0's; tag idx's
 * pair is (idx % 128) * AT_COUNTERS_PAIR into it.  So CPUs never share a
 * cache line for any tag; a tag's live and cumulative counters share a
 * line; a program with few tags touches one page per CPU that charges
 * them (and a forked child copies no more); and, with fewer than 256 ids
 * covered (up to 192 CPUs), every CPU's first page lies in one 2 MiB
 * region (one page-table page, which every fork copies), the one where
 * the page descriptors begin
 * (page_alloc.c, Reservation), where an array per CPU would cost a
 * page-table page for each CPU a process ran on.  The price: finding a
 * pair takes a multiply by the group's size (the CPU count is known at
 * run time).
 *
 * Exactness: a thread adds to the slot of the CPU it runs on inside a
 * restartable sequence (rseq, registered by glibc): one 16-byte store of
 * (bytes, calls) is the commit; if the thread is preempted, migrated or
 * signalled before it, the kernel sends it to the abort handler, which adds
 * to the atomic array instead.  Nothing is ever applied twice or lost.
 * Without rseq (e.g. under valgrind) or after an abort, the add goes to one
 * extra shared array (the last page of each group) with an atomic add:
 * slower, equally exact, and never mixed with the plain adds of the per-CPU slots.
 * Slots may go negative (a free on another CPU); only the sum is meaningful.
 * Small objects' charges to the main executable's and run-time tags are
 * first kept in the thread caches' bins and folded in here later; readers
 * add them (bin_charge.h).
 *
 * Cumulative counters (bytes and calls allocated since start, never
 * decreased): the second half of each pair, charged by the same rseq
 * sequence; kept for call-chain tags (sites/chains.h), where the preload
 * library charges them at each allocation: most of them first in a
 * thread's memo entries (chains.h) or its bins' cumulative counts
 * (bin_charge.h), folded in here later; readers add those parts.
 */
#ifndef AT_COUNTERS_H
#define AT_COUNTERS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/rseq.h>

#include "core/compiler.h"

#define AT_IDX_MAX (1u << 20) /* tag indexes 0 .. AT_IDX_MAX-1 */

struct at_counter {
	int64_t bytes;
	int64_t calls;
} __attribute__((aligned(16)));

/* Bytes between two CPUs' pages of a group: a page of pairs. */
#define AT_COUNTERS_SHIFT 12
#define AT_COUNTERS_STRIDE ((size_t)1 << AT_COUNTERS_SHIFT)
#define AT_COUNTERS_PAIR 32 /* {live, cumulative} */
#define AT_COUNTERS_GROUP_SHIFT 7
#define AT_COUNTERS_GROUP (1u << AT_COUNTERS_GROUP_SHIFT) /* indexes a group */
_Static_assert(AT_COUNTERS_STRIDE == (size_t)AT_COUNTERS_GROUP * AT_COUNTERS_PAIR,
	       "a CPU's part of a group is one page");
_Static_assert(AT_IDX_MAX % AT_COUNTERS_GROUP == 0, "whole groups");

extern AT_HIDDEN char *at_counters_base;
extern AT_HIDDEN size_t at_counters_group; /* (CPUs + 1) * AT_COUNTERS_STRIDE */
extern AT_HIDDEN long at_rseq_offset; /* glibc's __rseq_offset */
extern AT_HIDDEN unsigned int at_counters_ncpu; /* CPU ids the layout covers */

/* The CPU ids that can hold counts (the possible CPUs, at most
 * at_counters_ncpu), read at the first call: what readers sum. */
AT_HIDDEN unsigned int at_counters_nread(void);

AT_HIDDEN int at_counters_init(void);
/* The counters' bytes: AT_IDX_MAX / AT_COUNTERS_GROUP groups of a page per
 * CPU id covered and one shared (the bound read once); carved from the
 * heap's reservation when it made room (page.h at_heap_meta): group 0
 * (at_counters_base) is the last of what is carved. */
AT_HIDDEN size_t at_counters_bytes(void);
AT_HIDDEN void at_counters_add_slow(int64_t *slot0, int64_t v);
AT_HIDDEN struct alloctag_counters at_counters_read(uint32_t idx);
AT_HIDDEN void at_counters_reset(uint32_t idx);
AT_HIDDEN struct alloctag_counters at_cum_read(uint32_t idx);

#if defined(__x86_64__)
#include <emmintrin.h>

/*
 * Add (bytes, calls) to this CPU's copy of *c0 (c0 = the counter in CPU 0's
 * array).  The commit is one 16-byte SSE store of both fields: the sequence
 * loads the pair, adds, and stores it back; preemption, migration or a signal
 * before the store restarts nothing half-done (the abort handler falls back
 * to the atomic array), and after it the update is complete.  A thread whose
 * rseq area is not registered reads a negative cpu_id and leaves the
 * sequence for the atomic array too.  The rseq area is addressed %fs-relative
 * through a private copy of glibc's __rseq_offset (one load, no GOT), and the
 * CPU's page of the group by a shift (AT_COUNTERS_STRIDE is a power of
 * two).
 */
static inline void at_percpu_add2(struct at_counter *c0, int64_t bytes, int64_t calls)
{
	__m128i delta = _mm_set_epi64x(calls, bytes);

	__asm__ __volatile__ goto(
		".pushsection __rseq_cs, \"aw\"\n\t"
		".balign 32\n\t"
		"3:\n\t"
		".long 0x0, 0x0\n\t"
		".quad 1f, (2f - 1f), 4f\n\t"
		".popsection\n\t"
		"leaq 3b(%%rip), %%rax\n\t"
		"movq %%rax, %%fs:8(%[rs])\n\t" /* rseq->rseq_cs */
		"1:\n\t"
		"movslq %%fs:4(%[rs]), %%rax\n\t" /* rseq->cpu_id */
		"testq %%rax, %%rax\n\t"
		"js %l[abort]\n\t"
		"shlq %[shift], %%rax\n\t"
		"movdqa (%[slot],%%rax), %%xmm15\n\t"
		"paddq %[delta], %%xmm15\n\t"
		"movdqa %%xmm15, (%[slot],%%rax)\n\t"
		"2:\n\t"
		".pushsection __rseq_failure, \"ax\"\n\t"
		".byte 0x0f, 0xb9, 0x3d\n\t"
		".long 0x53053053\n\t"
		"4:\n\t"
		"jmp %l[abort]\n\t"
		".popsection\n\t"
		:
		: [rs] "r"(at_rseq_offset), [slot] "r"(c0), [delta] "x"(delta),
		  [shift] "i"(AT_COUNTERS_SHIFT)
		: "memory", "cc", "rax", "xmm15"
		: abort);
	return;
abort:
	at_counters_add_slow(&c0->bytes, bytes);
	at_counters_add_slow(&c0->calls, calls);
}
#else
static inline void at_percpu_add2(struct at_counter *c0, int64_t bytes, int64_t calls)
{
	at_counters_add_slow(&c0->bytes, bytes);
	at_counters_add_slow(&c0->calls, calls);
}
#endif

static inline struct at_counter *at_counter0(uint32_t idx)
{
	return (struct at_counter *)(at_counters_base -
				     (size_t)(idx >> AT_COUNTERS_GROUP_SHIFT) * at_counters_group +
				     (size_t)(idx & (AT_COUNTERS_GROUP - 1)) * AT_COUNTERS_PAIR);
}

/*
 * Tag idx is about to be charged for the first time on the calling CPU
 * (a call chain's tag, made by the allocation it charges): write its slot
 * there first, with an atomic add of 0.  The charge's sequence loads the
 * pair before it stores it, and when the slot's page was never touched on
 * this CPU the load maps the zero page and the store faults again: two
 * faults where one does.  Adding 0 changes nothing, so it may race with
 * the plain adds of the CPU's sequences (even after a migration).
 */
static inline void at_counters_touch(uint32_t idx)
{
#if defined(__x86_64__)
	int cpu = *(volatile int *)((char *)__builtin_thread_pointer() + at_rseq_offset +
				    offsetof(struct rseq, cpu_id));
	if (cpu >= 0 && (unsigned int)cpu < at_counters_ncpu)
		__atomic_fetch_add(&at_counter0(idx)[(size_t)cpu * (AT_COUNTERS_STRIDE /
							 sizeof(struct at_counter))].bytes,
				   0, __ATOMIC_RELAXED);
#else
	(void)idx;
#endif
}

/* CPU 0's cumulative counter of tag idx: the second half of its pair. */
static inline struct at_counter *at_cum0(uint32_t idx)
{
	return at_counter0(idx) + 1;
}

static inline void at_counters_charge(uint32_t idx, int64_t bytes)
{
	at_percpu_add2(at_counter0(idx), bytes, 1);
}

/* One allocation of `bytes` to tag idx, in its cumulative counters. */
static inline void at_cum_add(uint32_t idx, int64_t bytes)
{
	at_percpu_add2(at_cum0(idx), bytes, 1);
}

static inline void at_counters_uncharge(uint32_t idx, int64_t bytes)
{
	at_percpu_add2(at_counter0(idx), -bytes, -1);
}

#endif
