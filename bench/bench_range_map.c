/*
 * Range map micro-benchmark: ns per operation at 100, 1,000 and 10,000
 * ranges.  Ranges are 16..512 bytes, 16-aligned, in a 1 TiB area.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "modules/range_map.h"

#define MAXN 10000
#define OPS 1000000L	/* timed operations per figure, roughly */

static unsigned long long rng = 0x9e3779b97f4a7c15ULL;
static unsigned long rnd(unsigned long n)
{
	rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
	return (unsigned long)(rng % n);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static unsigned long starts[MAXN];	/* starts of the live ranges */
static unsigned long victims[MAXN], sizes[MAXN];
static volatile unsigned long sink;

static unsigned long rsize(void)
{
	return 16 * (1 + rnd(32));
}

static int add(struct at_rmap *m, unsigned long size, unsigned long *s)
{
	if (at_rmap_find_free(m, size, 16, s) ||
	    at_rmap_insert(m, *s, size, s))
		return -1;
	return 0;
}

static int run(unsigned long n)
{
	struct at_rmap m;
	struct at_rmap_entry e;
	unsigned long i, k = n / 10 ? n / 10 : 1, live = n, end;
	long rounds = OPS / k, walks = OPS / n, fills = OPS / 10 / n, r;
	double t, fill = 0, ins = 0, era = 0, look, last, walk;

	for (i = 0; i < n; i++)
		sizes[i] = rsize();
	for (r = 0; r < fills; r++) {	/* the last fill is kept */
		if (r)
			at_rmap_destroy(&m);
		at_rmap_init(&m, 1UL << 40);
		t = now();
		for (i = 0; i < n; i++)
			if (add(&m, sizes[i], &starts[i]))
				return -1;
		fill += now() - t;
	}
	fill /= (double)fills * n;

	/* churn at n ranges: erase k random ones, then find_free+insert k */
	for (r = 0; r < rounds; r++) {
		for (i = 0; i < k; i++) {
			unsigned long j = rnd(live);
			victims[i] = starts[j];
			starts[j] = starts[--live];
			sizes[i] = rsize();
		}
		t = now();
		for (i = 0; i < k; i++)
			if (at_rmap_erase(&m, victims[i]))
				return -1;
		era += now() - t;
		t = now();
		for (i = 0; i < k; i++)
			if (add(&m, sizes[i], &starts[live++]))
				return -1;
		ins += now() - t;
	}
	era /= rounds * k;
	ins /= rounds * k;

	end = at_rmap_used_end(&m);
	t = now();
	for (r = 0; r < OPS; r++)
		sink += at_rmap_lookup(&m, rnd(end), &e) ? 0 : e.start;
	look = (now() - t) / OPS;

	t = now();
	for (r = 0; r < OPS; r++)
		sink += at_rmap_last(&m, &e) ? 0 : e.start + e.len;
	last = (now() - t) / OPS;

	t = now();
	for (r = 0; r < walks; r++)
		for (i = at_rmap_last(&m, &e); !i; i = at_rmap_prev(&m, &e))
			sink += e.start;
	walk = (now() - t) / ((double)walks * n);

	printf("%7lu %12.1f %12.1f %8.1f %8.1f %8.1f %10.1f %12.1f\n",
	       n, fill, ins, era, look, last, walk,
	       (double)end / (at_rmap_count(&m) * 264.0));
	at_rmap_destroy(&m);
	return 0;
}

int main(void)
{
	static const unsigned long ns[] = { 100, 1000, 10000 };
	unsigned i;

	printf("range map: ns per operation (CLOCK_MONOTONIC, %ld ops each)\n\n",
	       OPS);
	printf("%7s %12s %12s %8s %8s %8s %10s %12s\n", "ranges",
	       "fill ff+ins", "churn ff+ins", "erase", "lookup", "last",
	       "rev/entry", "area/packed");
	for (i = 0; i < sizeof ns / sizeof *ns; i++)
		if (run(ns[i])) {
			printf("unexpected failure at %lu ranges\n", ns[i]);
			return 1;
		}
	printf("\n"
"fill ff+ins   find_free + insert while growing from 0 to N ranges,\n"
"              including the mmap and first touch of 64 KiB node chunks\n"
"churn ff+ins  find_free + insert at a steady N ranges, refilling holes\n"
"              left by erasing random ranges (lowest fitting hole wins)\n"
"erase         erase of a random range at N ranges\n"
"lookup        range containing a random offset of the used area\n"
"last          at_rmap_last: highest range, i.e. end of the used area\n"
"              (at_rmap_used_end gives the end alone in O(1))\n"
"rev/entry     full reverse walk last..first with at_rmap_prev, per range\n"
"area/packed   used area / (N * mean range size): 1.0 means no holes\n"
"Every operation is O(log N): the columns should grow by a small constant\n"
"per 10x N, not 10x.  Lookup and walk figures include a cheap RNG/sum.\n");
	return 0;
}
