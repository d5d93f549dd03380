/* childtouch: what a forked child pays for each page of its parent's that
 * it first reads or writes.  The parent writes a region, then forks 2000
 * children in turn; each reads (or writes) one byte of each of N pages
 * (16 KiB apart) and exits; the parent waits for it.  A second region,
 * resident in the parent and untouched by the children, shows what the
 * parent's resident memory costs a fork (the kernel copies its page-table
 * entries at fork and drops them at the child's exit).
 *
 *   childtouch N [write] [resident MiB]
 *
 * Prints the wall microseconds per fork; compare N = 0 with N > 0, and
 * resident 0 with more, in the same run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FORKS 2000
#define STRIDE (16 << 10)

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static char *region(size_t bytes)
{
	char *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("childtouch: mmap");
		exit(1);
	}
	madvise(p, bytes, MADV_NOHUGEPAGE); /* 4 KiB pages, as counted */
	memset(p, 1, bytes);
	return p;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: childtouch N [write] [resident MiB]\n");
		return 2;
	}
	long n = atol(argv[1]), mib = argc > 3 ? atol(argv[3]) : 0;
	int w = argc > 2 && atoi(argv[2]);
	char *p = region((size_t)(n > 0 ? n : 1) * STRIDE);
	if (mib > 0)
		region((size_t)mib << 20);
	volatile char sink = 0;
	double t0 = now();
	for (int f = 0; f < FORKS; f++) {
		pid_t c = fork();
		if (c < 0) {
			perror("childtouch: fork");
			return 1;
		}
		if (!c) {
			for (long i = 0; i < n; i++)
				if (w)
					p[i * STRIDE] = 2;
				else
					sink += p[i * STRIDE];
			_exit(sink == 127);
		}
		waitpid(c, NULL, 0);
	}
	printf("childtouch pages=%ld %s resident_mib=%ld us_per_fork=%.1f\n", n, w ? "written" : "read",
	       mib, (now() - t0) / FORKS * 1e6);
	return 0;
}
