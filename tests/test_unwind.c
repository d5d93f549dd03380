/*
 * The unwinder (src/sites/unwind.h) against glibc's backtrace() (libgcc's
 * DWARF unwinder) on the same stack: a recursion through functions with
 * an ordinary frame, a frame pointer and a variable-length array (CFA =
 * rbp + 16), a large frame, and a C++-style deep chain; every return
 * address equal, in order, for every depth up to the whole stack.  Then:
 * `from` not on this stack gives 0 frames; a rule-cache miss happens once
 * per return address, not per call.  The walk's trace (unwind.h) at every
 * depth: each word read is the stack's word at its address, between
 * `from` and the highest CFA; the return addresses among them, in order,
 * are the frames after the first (and the null one that ended the walk),
 * their slots rising; saved rbp words are read (the frame-pointer
 * frames' CFAs).  The lean walk (unwind.h) gives the full walk's frames
 * and trace at every depth, or declines where a frame's CFA needs rbp.
 */
#define _GNU_SOURCE
#include <alloca.h>
#include <string.h>

#include "check.h"
#include "unwind_capture.h"

static int level(int n);

static __attribute__((noinline)) int plain(int n)
{
	int r = level(n - 1);
	sink += r;
	return r + 1;
}

static __attribute__((noinline)) int with_vla(int n)
{
	char *buf = alloca((size_t)(n * 16 + 16)); /* a frame pointer: CFA = rbp + 16 */
	memset(buf, n, (size_t)(n * 16 + 16));
	int r = level(n - 1);
	sink += buf[3];
	return r + 1;
}

static __attribute__((noinline)) int big_frame(int n)
{
	volatile char big[20000];
	big[n] = (char)n;
	int r = level(n - 1);
	sink += big[n];
	return r + 1;
}

static unsigned int traced_max, rbp_words;

static unsigned int lean_found, lean_declined;
static void lean_check(uintptr_t from, unsigned int max);

/* A recursion of frames whose CFA is rsp + offset (no frame pointer),
 * where the lean walk follows the whole recursion. */
#define NO_FP __attribute__((noinline, optimize("omit-frame-pointer")))
static int lean_level(int n);

static NO_FP int lean_plain(int n)
{
	int r = lean_level(n - 1);
	sink += r;
	return r + 1;
}

static NO_FP int lean_big(int n)
{
	volatile char big[20000];
	big[n] = (char)n;
	int r = lean_level(n - 1);
	sink += big[n];
	return r + 1;
}

static NO_FP int lean_level(int n)
{
	if (n == 0) {
		uintptr_t f[MAXF];
		at_unwind(f, MAXF, (uintptr_t)__builtin_dwarf_cfa(), NULL); /* the rules cached */
		for (unsigned int max = 1; max <= MAXF; max++)
			lean_check((uintptr_t)__builtin_dwarf_cfa(), max);
		return 0;
	}
	return n % 2 ? lean_plain(n) : lean_big(n);
}

/* The lean walk (unwind.h at_unwind_lean) from `from`, at most max frames:
 * at_unwind_from's frames and trace when it finds the chain; when it
 * declines, the walk needed rbp (with_vla's CFA). */
static void lean_check(uintptr_t from, unsigned int max)
{
	uintptr_t f[MAXF], g[MAXF], h[MAXF];
	struct at_unwind_trace want, got;
	const uintptr_t ra = *(const uintptr_t *)(from - 8);
	unsigned int n = at_unwind_from(f, max, from, ra, &want);
	unsigned int k = at_unwind_lean(g, max, from, ra, &got);
	unsigned int kn = at_unwind_lean(h, max, from, ra, NULL);
	if (k)
		CHECK_EQ(kn, k); /* untraced: the same */
	else if (kn) /* more words than a trace holds */
		CHECK(want.unusable && !want.rbp && !memcmp(h, f, n * sizeof(*f)));
	if (!k) {
		CHECK(want.rbp || want.rbp_from || want.unusable);
		lean_declined++;
		return;
	}
	lean_found++;
	CHECK_EQ(k, n);
	CHECK(!memcmp(g, f, n * sizeof(*f)) && !memcmp(h, f, n * sizeof(*f)));
	CHECK(!want.rbp && !want.rbp_from && !want.unusable);
	CHECK_EQ(got.n, want.n);
	CHECK(!memcmp(got.addr, want.addr, want.n * sizeof(want.addr[0])));
	CHECK(!memcmp(got.val, want.val, want.n * sizeof(want.val[0])));
	CHECK_EQ(got.top, want.top);
	CHECK_EQ(got.bounded, want.bounded);
	CHECK(!got.rbp && !got.rbp_from && !got.unusable);
}

/* The trace of a walk of up to max frames from `from` checked. */
static void trace_check(uintptr_t from, unsigned int max)
{
	uintptr_t f[MAXF];
	struct at_unwind_trace tr;
	unsigned int n = at_unwind(f, max, from, &tr);
	CHECK(n >= 1 && n <= max);
	CHECK(!tr.bounded);
	CHECK(tr.rbp_from ? tr.unusable : 1);
	CHECK(tr.n <= AT_TRACE_MAX);
	unsigned int ras = 0;
	uintptr_t last = from;
	for (unsigned int i = 0; i < tr.n; i++) {
		CHECK(tr.addr[i] >= from && tr.addr[i] + 8 <= tr.top);
		CHECK_EQ(*(const uintptr_t *)tr.addr[i], tr.val[i]);
		if (tr.rbp >> i & 1) {
			rbp_words++;
			continue;
		}
		CHECK(tr.addr[i] >= last); /* return addresses' slots rise */
		last = tr.addr[i];
		if (++ras < n)
			CHECK_EQ(tr.val[i], f[ras]);
		else
			CHECK(tr.val[i] < 4096); /* the null return address that ended it */
	}
	if (!tr.unusable)
		CHECK(ras == n - 1 || ras == n);
	traced_max = max;
	lean_check(from, max);
}

static __attribute__((noinline)) int level(int n)
{
	if (n == 0) {
		capture();
		for (unsigned int max = 1; max <= MAXF; max++)
			trace_check((uintptr_t)__builtin_dwarf_cfa(), max);
		return 0;
	}
	switch (n % 3) {
	case 0: return plain(n);
	case 1: return with_vla(n);
	default: return big_frame(n);
	}
}

static __attribute__((noinline)) void batch(void)
{
	for (int k = 0; k < 100; k++)
		level(12);
}

int main(void)
{
	level(12);
	CHECK(n_ours >= 15); /* 12 levels (level's calls may be tail jumps), main, libc */
	CHECK_EQ((int)n_ours, n_theirs - 1);
	for (unsigned int i = 0; i < n_ours; i++)
		CHECK(ours[i] == (uintptr_t)theirs[i + 1]);
	printf("whole stack: %u frames, equal to backtrace()\n", n_ours);
	CHECK_EQ(traced_max, MAXF);
	CHECK(rbp_words > 0); /* with_vla's CFA is rbp + 16 */
	printf("traces: every word read as the stack holds it, %u saved rbp words\n", rbp_words);
	/* from level 0 on, with_vla's CFA (level 1) needs rbp */
	CHECK_EQ(lean_found, 1);
	CHECK_EQ(lean_declined, MAXF - 1);
	lean_found = lean_declined = 0;
	lean_level(12);
#ifdef __OPTIMIZE__ /* unoptimised builds may keep frame pointers: CFA = rbp + 16 */
	/* 12 levels, and each plain or big frame between two (or a tail jump) */
	CHECK(lean_found >= 13);
#endif
	printf("lean walk: %u walks as the full walk's, %u declined (rbp)\n", lean_found,
	       lean_declined);

	batch();
	uint64_t misses = at_unwind_misses();
	CHECK(misses > 0);
	batch();
	/* 100 walks of 17 frames: at most one miss, the new return address
	 * in main (this call of batch) */
	CHECK(at_unwind_misses() - misses <= 1);
	for (unsigned int max = 1; max <= 8; max++) {
		unsigned int n = at_unwind(ours, max, (uintptr_t)__builtin_dwarf_cfa(), NULL);
		CHECK_EQ(n, max < 3 ? max : 3); /* main's callers: 3 frames */
		CHECK(ours[0] == (uintptr_t)__builtin_return_address(0));
	}
	uintptr_t f[4];
	CHECK_EQ(at_unwind(f, 4, (uintptr_t)&f[0] - 4096, NULL), 0); /* below: not a frame */
	CHECK_EQ(at_unwind(f, 4, (uintptr_t)__builtin_dwarf_cfa() + 8, NULL), 0); /* not a CFA */
	printf("cache, bounds: ok\n");
	return 0;
}
