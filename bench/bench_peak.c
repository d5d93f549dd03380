/*
 * The peak recorder's worst case: many sites and steady growth.  SITES tags
 * (one 64-byte object each), then a ramp of RAMP_MIB 1 MiB blocks allocated
 * and freed ROUNDS times; prints the ramp's time per round.  Run it with
 * and without ALLOCTAG_PEAK=1 (bench/bench_peak.sh pairs the runs): each
 * 1% of growth above 1 MiB makes the recorder walk every tag once.
 * usage: bench_peak [SITES [RAMP_MIB [ROUNDS]]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <alloctag.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	long nsites = argc > 1 ? atol(argv[1]) : 100000;
	long ramp = argc > 2 ? atol(argv[2]) : 1024;
	int rounds = argc > 3 ? atoi(argv[3]) : 3;
	struct alloc_tag *tags = calloc((size_t)nsites, sizeof(*tags));
	for (long i = 0; i < nsites; i++) {
		tags[i].function = "site";
		tags[i].filename = "bench_peak.c";
		tags[i].lineno = (unsigned int)(i + 1);
	}
	alloctag_register_image(tags, tags + nsites);
	for (long i = 0; i < nsites; i++)
		at_malloc_tag_noprof(&tags[i], 64);
	void **blk = calloc((size_t)ramp, sizeof(void *));
	double best = 1e9, sum = 0;
	for (int r = 0; r < rounds; r++) {
		double t = now();
		for (long i = 0; i < ramp; i++) {
			blk[i] = at_malloc_tag_noprof(&tags[i % nsites], 1 << 20);
			((char *)blk[i])[0] = 1;
		}
		for (long i = 0; i < ramp; i++)
			at_free(blk[i]);
		t = now() - t;
		sum += t;
		if (t < best)
			best = t;
	}
	printf("peak=%s sites=%ld ramp_mib=%ld rounds=%d best_ms=%.1f mean_ms=%.1f\n",
	       getenv("ALLOCTAG_PEAK") ? getenv("ALLOCTAG_PEAK") : "off", nsites, ramp, rounds,
	       best * 1e3, sum / rounds * 1e3);
	return 0;
}
