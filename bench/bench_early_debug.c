/*
 * Early pages and debug mode, as ratios within one run:
 *  - debug mode: order-0 page alloc+free pairs (batches of 64, tagged) with
 *    ALLOCTAG_DEBUG=1 against ALLOCTAG_DEBUG=0 (whose hot path pays one
 *    predictable branch per alloc and per free for debug mode);
 *  - early pages: ns per order-0 page allocated before alloctag_init()
 *    (recorded in tracking pages) against ns per page allocated after it
 *    (charged), both from one thread; and the hand-over's ns per recorded
 *    page (from the start of the hand-over to main()).
 * The parent re-executes itself once per measurement and round (interleaved)
 * and prints medians.
 *
 *   bench_early_debug [rounds] [pairs] [early_pages]
 */
#pragma GCC diagnostic ignored "-Wprio-ctor-dtor"
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pages/early.h"

#define BATCH 64

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void *tagged_page(void)
{
	return at_alloc_pages(0);
}

static double pairs_ns(long pairs)
{
	void *p[BATCH];
	double t0 = 0;
	for (int round = 0; round < 2; round++) { /* first round warms up */
		t0 = now();
		for (long i = 0; i < pairs; i += BATCH) {
			for (int j = 0; j < BATCH; j++)
				if (!(p[j] = tagged_page()))
					abort();
			for (int j = 0; j < BATCH; j++)
				at_free_pages(p[j], 0);
		}
	}
	return (now() - t0) * 1e9 / (double)pairs;
}

static void **early_pages;
static long n_early;
static double early_ns, handover_start;

static void stamp(void)
{
	handover_start = now();
}

__attribute__((constructor(100))) static void early_ctor(void)
{
	const char *s = getenv("BENCH_EARLY_N");
	if (!s)
		return;
	n_early = atol(s);
	early_pages = calloc(2 * n_early, sizeof(void *));
	double t0 = now();
	for (long i = 0; i < n_early; i++)
		if (!(early_pages[i] = tagged_page()))
			abort();
	early_ns = (now() - t0) * 1e9 / (double)n_early;
	at_early_test_hook = stamp;
}

static void child_early(void)
{
	double t_main = now();
	double handover_ns = (t_main - handover_start) * 1e9 / (double)n_early;
	double t0 = now();
	for (long i = 0; i < n_early; i++)
		if (!(early_pages[n_early + i] = tagged_page()))
			abort();
	double ready_ns = (now() - t0) * 1e9 / (double)n_early;
	if (at_early_stats.recorded != (uint64_t)n_early)
		abort();
	printf("%.3f %.3f %.3f\n", early_ns, ready_ns, handover_ns);
	for (long i = 0; i < 2 * n_early; i++)
		at_free_pages(early_pages[i], 0);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(double), cmp);
	return v[n / 2];
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--pairs")) {
		printf("%.3f\n", pairs_ns(atol(argv[2])));
		return 0;
	}
	if (n_early) {
		child_early();
		return 0;
	}
	int rounds = argc > 1 ? atoi(argv[1]) : 7;
	long pairs = argc > 2 ? atol(argv[2]) : 2000000;
	long early = argc > 3 ? atol(argv[3]) : 200000;
	if (rounds > 64)
		rounds = 64;
	double dbg[2][64], e[3][64];
	for (int r = 0; r < rounds; r++) {
		for (int k = 0; k < 3; k++) {
			int m = (k + r) % 3;
			char cmd[512];
			if (m < 2)
				snprintf(cmd, sizeof cmd, "ALLOCTAG_DEBUG=%d /proc/%d/exe --pairs %ld", m,
					 getpid(), pairs);
			else
				snprintf(cmd, sizeof cmd, "BENCH_EARLY_N=%ld /proc/%d/exe", early, getpid());
			FILE *f = popen(cmd, "r");
			int ok = f && (m < 2 ? fscanf(f, "%lf", &dbg[m][r]) == 1
					     : fscanf(f, "%lf %lf %lf", &e[0][r], &e[1][r], &e[2][r]) == 3);
			if (f)
				pclose(f);
			if (!ok) {
				fprintf(stderr, "bench_early_debug: child failed: %s\n", cmd);
				return 1;
			}
		}
	}
	double off = median(dbg[0], rounds), on = median(dbg[1], rounds);
	printf("debug mode: order-0 alloc+free pairs (batches of %d, tagged, compressed), "
	       "%ld pairs, median of %d rounds\n", BATCH, pairs, rounds);
	printf("  ALLOCTAG_DEBUG=0 %8.1f ns/pair   1.000\n", off);
	printf("  ALLOCTAG_DEBUG=1 %8.1f ns/pair   %.3f\n\n", on, on / off);
	double en = median(e[0], rounds), rn = median(e[1], rounds), hn = median(e[2], rounds);
	printf("early pages: %ld order-0 pages from one thread, median of %d rounds\n", early, rounds);
	printf("  allocated after init (charged)     %8.1f ns/page   1.000\n", rn);
	printf("  allocated before init (recorded)   %8.1f ns/page   %.3f\n", en, en / rn);
	printf("  hand-over (empty ref, free tracking) %6.1f ns/page   %.3f\n", hn, hn / rn);
	return 0;
}
