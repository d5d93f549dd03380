/*
 * A program for the live-read tests (live.sh): known live allocations from
 * three lines, then "ready" on stdout, then it waits until its standard
 * input ends (or a signal ends it).
 *   live_target            48 B x 1000 (line A), 1 MiB x 10 (line B),
 *                          4096 B x 3 allocated and freed (line C)
 *   live_target peak       100 MiB (1 KiB objects, line P1) freed, then
 *                          10 MiB (line P2); prints "ready" after each phase
 *   live_target ramp MS    "ready", then 1 MiB more every MS milliseconds,
 *                          10 times (line R), then waits
 *   live_target nodump     the first program, not dumpable (PR_SET_DUMPABLE 0)
 *   live_target sites N    N sites: tags registered at run time through the
 *                          preload library's API, one 64-byte object each
 *                          (a large profile, so that a read takes a while)
 *   live_target wave MS    the same ramp (line V), then every MS: one of its blocks
 *                          freed, 8 times, then 512 KiB more, 6 times, from
 *                          a helper function (line W); the peak (10 MiB)
 *                          is in the middle of the run
 */
#define _GNU_SOURCE /* RTLD_DEFAULT */
#include <dlfcn.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void *keep[200000];

static __attribute__((noinline)) void *helper(size_t n)
{
	void *p = malloc(n); /* line W */
	memset(p, 2, n);
	return p;
}

static void wait_stdin(void)
{
	char c;
	while (read(0, &c, 1) > 0)
		;
}

static void ready(const char *what)
{
	printf("%s\n", what);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "peak")) {
		for (int i = 0; i < 102400; i++)
			keep[i] = malloc(1024); /* line P1 */
		for (int i = 0; i < 102400; i++)
			free(keep[i]);
		for (int i = 0; i < 10240; i++)
			keep[i] = malloc(1024); /* line P2 */
		ready("ready");
		wait_stdin();
		return 0;
	}
	if (argc > 2 && !strcmp(argv[1], "wave")) {
		struct timespec ts = {0, atol(argv[2]) * 1000000L};
		for (int i = 0; i < 10; i++) {
			keep[i] = malloc(1 << 20); /* line V */
			memset(keep[i], 1, 1 << 20);
			nanosleep(&ts, NULL);
		}
		for (int i = 0; i < 8; i++) {
			free(keep[i]);
			nanosleep(&ts, NULL);
		}
		for (int i = 0; i < 6; i++) {
			keep[20 + i] = helper(512 << 10);
			nanosleep(&ts, NULL);
		}
		ready("ready");
		wait_stdin();
		return 0;
	}
	if (argc > 2 && !strcmp(argv[1], "ramp")) {
		struct timespec ts = {0, atol(argv[2]) * 1000000L};
		ready("ready");
		for (int i = 0; i < 10; i++) {
			keep[i] = malloc(1 << 20); /* line R */
			memset(keep[i], 1, 1 << 20);
			nanosleep(&ts, NULL);
		}
		wait_stdin();
		return 0;
	}
	if (argc > 2 && !strcmp(argv[1], "sites")) {
		/* struct alloc_tag's layout (include/alloctag.h), without the header:
		 * this program is not built against alloctag */
		struct tag {
			const char *function, *filename, *modname;
			unsigned int lineno, flags, idx, reserved;
			void *canon;
		};
		void (*reg)(struct tag *, struct tag *) = (void (*)(struct tag *, struct tag *))dlsym(
			RTLD_DEFAULT, "alloctag_register_image");
		void *(*tagged)(struct tag *, size_t) =
			(void *(*)(struct tag *, size_t))dlsym(RTLD_DEFAULT, "at_malloc_tag_noprof");
		long n = atol(argv[2]);
		struct tag *t = calloc((size_t)n, sizeof(*t));
		if (!reg || !tagged || !t)
			return 1;
		for (long i = 0; i < n; i++) {
			t[i].function = "site";
			t[i].filename = "live_target_sites.c";
			t[i].lineno = (unsigned int)(i + 1);
		}
		reg(t, t + n);
		for (long i = 0; i < n; i++)
			tagged(&t[i], 64);
		ready("ready");
		wait_stdin();
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "nodump"))
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	for (int i = 0; i < 1000; i++)
		keep[i] = malloc(48); /* line A */
	for (int i = 0; i < 10; i++)
		keep[1000 + i] = malloc(1 << 20); /* line B */
	for (int i = 0; i < 3; i++)
		free(malloc(4096)); /* line C */
	ready("ready");
	wait_stdin();
	return 0;
}
