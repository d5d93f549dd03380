/*
 * The dynamic tag lookup at depth 1 (a chain of one frame, src/sites/
 * chains.h), the preload library's per-call addition at ALLOCTAG_DEPTH=1.  Prints medians of 7 runs:
 *  - ns per at_dyn_tag() hit, cycling over S call sites (S = 4, 1024,
 *    32768: a hot table, then records and slots that no longer fit in L1/L2),
 *    against the same loop reading one static tag's address;
 *  - ns per malloc(64)+free pair charged to a static tag (what alloc_hooks
 *    does: save, allocate, restore) against the same pair charged to a
 *    dynamic tag looked up by address (what the preload library does), 4 sites.
 * usage: bench_dyn_tags   (ALLOCTAG as usual; profiling must be on)
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/control.h"
#include "sites/chains.h"
#include "startup/init.h"

#define RUNS 7

/* A depth-1 chain: the preload library's tag at ALLOCTAG_DEPTH=1. */
static inline struct alloc_tag *at_dyn_tag(const void *addr)
{
	uintptr_t f = (uintptr_t)addr;
	return at_chain_tag(&f, 1);
}
#define SITE(i) ((const void *)(0x100000ul + 48ul * (unsigned long)(i)))

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

static double median(double *v)
{
	qsort(v, RUNS, sizeof(*v), cmp);
	return v[RUNS / 2];
}

static volatile uintptr_t sink;

/* sites: a power of two; 0 = the loop alone with a static tag */
static double lookup_ns(unsigned long sites, long n)
{
	static struct alloc_tag one;
	double v[RUNS];
	for (unsigned long i = 0; i < sites; i++)
		at_dyn_tag(SITE(i)); /* created before timing */
	for (int r = 0; r < RUNS; r++) {
		uintptr_t acc = 0;
		double t0 = now();
		for (unsigned long k = 0; k < (unsigned long)n; k++)
			acc += sites ? (uintptr_t)at_dyn_tag(SITE(k & (sites - 1)))
				     : (uintptr_t)&one + k;
		v[r] = (now() - t0) * 1e9 / n;
		sink = acc;
	}
	return median(v);
}

static double pair_ns(int dynamic, long n)
{
	DEFINE_ALLOC_TAG(static_tag);
	double v[RUNS];
	for (int r = 0; r < RUNS; r++) {
		double t0 = now();
		for (long k = 0; k < n; k++) {
			struct alloc_tag *t = dynamic ? at_dyn_tag(SITE(k & 3)) : &static_tag;
			struct alloc_tag *old = alloctag_save(t);
			void *p = at_malloc_noprof(64);
			alloctag_restore(t, old);
			at_free(p);
		}
		v[r] = (now() - t0) * 1e9 / n;
	}
	return median(v);
}

int main(void)
{
	alloctag_init();
	if (at_state != AT_STATE_READY || !at_profiling_on) {
		fprintf(stderr, "bench_dyn_tags: needs profiling on (ALLOCTAG=1)\n");
		return 1;
	}
	printf("dynamic tag lookup (at_dyn_tag hit), median of %d runs\n", RUNS);
	double base = lookup_ns(0, 20000000);
	printf("  loop alone (static tag): %6.2f ns/iteration\n", base);
	static const unsigned long sites[] = {4, 1024, 32768};
	for (size_t i = 0; i < sizeof(sites) / sizeof(sites[0]); i++) {
		double ns = lookup_ns(sites[i], 20000000);
		printf("  %6lu sites:            %6.2f ns/lookup (+%.2f over the loop)\n", sites[i],
		       ns, ns - base);
	}
	double st = pair_ns(0, 10000000), dy = pair_ns(1, 10000000);
	printf("malloc(64)+free, charged (ALLOCTAG=%s)\n", getenv("ALLOCTAG") ? getenv("ALLOCTAG") : "default");
	printf("  static tag (alloc_hooks):        %6.2f ns/pair\n", st);
	printf("  dynamic tag (lookup by address): %6.2f ns/pair  (x %.3f of static)\n", dy, dy / st);
	return 0;
}
