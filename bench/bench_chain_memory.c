/*
 * The memory of call chains: N distinct chains (N = 10,000, 100,000,
 * 1,000,000) of 8 frames each, built from 4 x 64 + 4 distinct return
 * addresses (as a program's chains share their frames), each charged one
 * 16-byte allocation.  Prints, per N: what alloctag_chain_stats reports
 * (bytes, and bytes per chain), the process's resident memory growth over
 * the run (VmRSS), and the ns per chain made.  One process per N (the
 * program runs itself), so that each starts from nothing.
 * usage: bench_chain_memory [N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/control.h"
#include "sites/chains.h"
#include "startup/init.h"

#define FAKE(i) ((uintptr_t)0x100000ul + 16ul * (uintptr_t)(i))

static long rss_kb(void)
{
	char buf[4096];
	FILE *f = fopen("/proc/self/status", "r");
	long kb = -1;
	while (f && fgets(buf, sizeof(buf), f))
		if (!strncmp(buf, "VmRSS:", 6))
			kb = atol(buf + 6);
	if (f)
		fclose(f);
	return kb;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int one(unsigned long n)
{
	alloctag_init();
	if (at_state != AT_STATE_READY)
		return 1;
	long before = rss_kb();
	double t0 = now();
	for (unsigned long i = 0; i < n; i++) {
		uintptr_t f[8] = {FAKE(i % 64), FAKE(64 + i / 64 % 64), FAKE(128 + i / 4096 % 64),
				  FAKE(192 + i / 262144 % 64), FAKE(300), FAKE(301), FAKE(302), FAKE(303)};
		struct alloc_tag *t = at_chain_tag(f, 8);
		if (!t || !t->canon) {
			fprintf(stderr, "bench_chain_memory: no tag for chain %lu\n", i);
			return 1;
		}
		struct alloc_tag *old = alloctag_save(t);
		void *p = at_malloc_noprof(16);
		alloctag_restore(t, old);
		if (!p)
			return 1;
	}
	double dt = now() - t0;
	struct alloctag_chain_stats st;
	if (alloctag_chain_stats(&st))
		return 1;
	printf("%9lu %9zu %12zu %9.0f %12ld %9.0f %8.0f\n", n, st.chains, st.bytes,
	       (double)st.bytes / (double)st.chains, rss_kb() - before,
	       (rss_kb() - before) * 1024.0 / (double)st.chains, dt / (double)n * 1e9);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		return one(strtoul(argv[1], NULL, 10));
	static const unsigned long ns[] = {10000, 100000, 1000000};
	printf("memory of N distinct call chains (depth 8), each charged one allocation\n");
	printf("%9s %9s %12s %9s %12s %9s %8s\n", "N", "chains", "stats_bytes", "per_chain",
	       "rss_grew_kb", "per_chain", "ns/new");
	fflush(stdout);
	for (size_t k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
		char arg[32];
		snprintf(arg, sizeof(arg), "%lu", ns[k]);
		pid_t pid = fork();
		if (pid == 0) {
			execl("/proc/self/exe", argv[0], arg, (char *)NULL);
			_exit(127);
		}
		int st;
		if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
			return 1;
	}
	return 0;
}
