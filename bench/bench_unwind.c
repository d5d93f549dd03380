/*
 * The cost of a call chain, per call, on a synthetic stack 40 frames deep
 * (a recursion with no frame pointers, as Debian builds): for D = 1, 4, 8,
 * 16, 32 frames,
 *   rules      alloctag's unwinder (src/sites/unwind.h: .eh_frame rules
 *              cached per return address)
 *   +lookup    the same, plus the chain table lookup that finds the
 *              chain's tag
 *   memo       what the preload library's malloc adds at depth D when the
 *              chain is in its thread's memo (src/sites/chains.c): the
 *              stack words of the last walk checked, no unwinding
 *   libunwind  unw_backtrace of Debian's libunwind (UNW_LOCAL_ONLY, its
 *              per-thread cache)
 *   backtrace  glibc's backtrace() (libgcc's unwinder)
 * Each figure: ns per call, the median of 7 runs of 100,000 calls, all in
 * one run of the program; ratios to rules at the same depth.
 * usage: bench_unwind
 */
#define UNW_LOCAL_ONLY
#include <execinfo.h>
#include <libunwind.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/control.h"
#include "sites/chains.h"
#include "sites/unwind.h"
#include "startup/init.h"

#define RUNS 7
#define CALLS 100000
#define DEEP 40

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

enum { RULES, LOOKUP, MEMO, LIBUNWIND, BACKTRACE, NMETHODS };
static const char *const names[] = {"rules", "+lookup", "memo", "libunwind", "backtrace"};
static const unsigned int depths[] = {1, 4, 8, 16, 32};
#define ND (sizeof(depths) / sizeof(depths[0]))
static double result[NMETHODS][ND];
static volatile uintptr_t sink;

static __attribute__((noinline)) unsigned int one(int method, unsigned int d)
{
	uintptr_t f[64];
	unsigned int n = 0;
	f[0] = 0;
	switch (method) {
	case RULES:
		n = at_unwind(f, d, (uintptr_t)__builtin_dwarf_cfa(), NULL);
		break;
	case LOOKUP:
		n = at_unwind(f, d, (uintptr_t)__builtin_dwarf_cfa(), NULL);
		sink = (uintptr_t)at_chain_tag(f, n);
		break;
	case MEMO:
		if (at_chain_depth != d)
			at_chain_set_depth(d);
		sink = (uintptr_t)at_chain_here((uintptr_t)__builtin_dwarf_cfa(),
						__builtin_return_address(0));
		f[0] = 1;
		n = d;
		break;
	case LIBUNWIND:
		n = (unsigned int)unw_backtrace((void **)f, (int)d + 1);
		break;
	case BACKTRACE:
		n = (unsigned int)backtrace((void **)f, (int)d + 1);
		break;
	}
	sink = f[0];
	return n;
}

static void measure(void)
{
	for (size_t k = 0; k < ND; k++) {
		for (int m = 0; m < NMETHODS; m++) {
			double t[RUNS];
			unsigned int got = one(m, depths[k]);
			if (got < depths[k]) {
				fprintf(stderr, "%s: %u frames at depth %u\n", names[m], got, depths[k]);
				exit(1);
			}
			for (int r = 0; r < RUNS; r++) {
				double t0 = now();
				for (int i = 0; i < CALLS; i++)
					one(m, depths[k]);
				t[r] = (now() - t0) / CALLS * 1e9;
			}
			qsort(t, RUNS, sizeof(t[0]), cmp);
			result[m][k] = t[RUNS / 2];
			if (getenv("BENCH_DEBUG"))
				fprintf(stderr, "%s %u misses %lu\n", names[m], depths[k], (unsigned long)at_unwind_misses());
		}
	}
}

static __attribute__((noinline)) int deep(int n)
{
	if (n == 0) {
		measure();
		return 0;
	}
	int r = deep(n - 1);
	sink += (uintptr_t)n;
	return r + 1;
}

int main(void)
{
	alloctag_init();
	if (at_state != AT_STATE_READY) {
		fprintf(stderr, "bench_unwind: profiling must be set up (ALLOCTAG unset or 1)\n");
		return 1;
	}
	unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
	deep(DEEP);
	printf("call chain cost, ns per call (median of %d x %d calls), stack %d frames deep\n",
	       RUNS, CALLS, DEEP);
	printf("%6s", "depth");
	for (int m = 0; m < NMETHODS; m++)
		printf(" %10s", names[m]);
	printf("   libunwind/rules backtrace/rules\n");
	for (size_t k = 0; k < ND; k++) {
		printf("%6u", depths[k]);
		for (int m = 0; m < NMETHODS; m++)
			printf(" %10.1f", result[m][k]);
		printf("   %15.1fx %15.1fx\n", result[LIBUNWIND][k] / result[RULES][k],
		       result[BACKTRACE][k] / result[RULES][k]);
	}
	return 0;
}
