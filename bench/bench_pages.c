/*
 * Order-0 page alloc+free, in batches, with profiling "never" against the
 * side table ("1,uncompressed") and compressed page flags ("1,compressed"),
 * 1 and 2 threads.  The parent re-executes itself once per mode and round
 * (modes interleaved within each round, so that machine noise hits all of
 * them alike), takes the median ns per alloc+free pair, and prints ratios
 * against "never" (of the medians, and the median of each round's ratio to
 * that round's "never": "paired", which survives the host's phases) plus
 * tag-storage bytes per page in each mode.
 *
 *   bench_pages [rounds] [pairs_per_thread]
 */
#define _GNU_SOURCE
#include <alloctag.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64

static long pairs = 2000000;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void *worker(void *arg)
{
	void *p[BATCH];
	(void)arg;
	for (long i = 0; i < pairs; i += BATCH) {
		for (int j = 0; j < BATCH; j++) {
			p[j] = at_alloc_pages(0);
			if (!p[j])
				abort();
		}
		for (int j = 0; j < BATCH; j++)
			at_free_pages(p[j], 0);
	}
	return NULL;
}

/* Child: ns per pair with `threads` threads (each doing `pairs` pairs). */
static double run(int threads)
{
	pthread_t t[2];
	worker(NULL); /* warm up: commit pages, fault in counters */
	double t0 = now();
	for (int i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	return (now() - t0) * 1e9 / ((double)pairs * threads);
}

static const char *const modes[] = {"never", "1,uncompressed", "1,compressed"};
#define NMODES 3

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--child")) {
		pairs = atol(argv[3]);
		double ns = run(atoi(argv[2]));
		printf("%.3f %zu %d\n", ns, alloctag_side_table_bytes(), alloctag_compressed());
		return 0;
	}
	int rounds = argc > 1 ? atoi(argv[1]) : 7;
	if (argc > 2)
		pairs = atol(argv[2]);
	double ns[2][NMODES][64];
	size_t side[NMODES] = {0};
	int compressed[NMODES] = {0};
	if (rounds > 64)
		rounds = 64;

	for (int r = 0; r < rounds; r++)
		for (int th = 1; th <= 2; th++)
			for (int k = 0; k < NMODES; k++) {
				int m = (k + r) % NMODES;
				char cmd[512], thr[8], np[32];
				snprintf(thr, sizeof thr, "%d", th);
				snprintf(np, sizeof np, "%ld", pairs);
				snprintf(cmd, sizeof cmd, "ALLOCTAG=%s /proc/%d/exe --child %s %s", modes[m],
					 getpid(), thr, np);
				FILE *f = popen(cmd, "r");
				if (!f || fscanf(f, "%lf %zu %d", &ns[th - 1][m][r], &side[m], &compressed[m]) != 3) {
					fprintf(stderr, "bench_pages: child failed: %s\n", cmd);
					return 1;
				}
				pclose(f);
			}

	printf("order-0 page alloc+free, batches of %d, %ld pairs per thread, median of %d rounds\n",
	       BATCH, pairs, rounds);
	printf("compared: ALLOCTAG=never (no tag store) against the side table and compressed flags\n");
	printf("kernel's figures (seeds): page_ext side table +41%%, compressed +5.5%%\n\n");
	printf("%-16s %8s %8s %8s %8s %8s %8s %14s\n", "mode", "1T ns", "1T x", "1T pair", "2T ns",
	       "2T x", "2T pair", "tag bytes/page");
	double paired[2][NMODES][64];
	for (int th = 0; th < 2; th++)
		for (int m = 0; m < NMODES; m++)
			for (int r = 0; r < rounds; r++)
				paired[th][m][r] = ns[th][m][r] / ns[th][0][r];
	double base[2];
	for (int m = 0; m < NMODES; m++) {
		double med[2], pmed[2];
		for (int th = 0; th < 2; th++) {
			qsort(ns[th][m], rounds, sizeof(double), cmp);
			qsort(paired[th][m], rounds, sizeof(double), cmp);
			med[th] = ns[th][m][rounds / 2];
			pmed[th] = paired[th][m][rounds / 2];
			if (m == 0)
				base[th] = med[th];
		}
		int per_page = compressed[m] ? 0 : (side[m] ? (int)sizeof(void *) : 0);
		printf("%-16s %8.1f %8.3f %8.3f %8.1f %8.3f %8.3f %14d\n", modes[m], med[0],
		       med[0] / base[0], pmed[0], med[1], med[1] / base[1], pmed[1], per_page);
	}
	printf("\nx = median ns per pair / median ns per pair under never (1.000 = no overhead)\n");
	printf("pair = median over rounds of (ns per pair / that round's ns per pair under never)\n");
	return 0;
}
