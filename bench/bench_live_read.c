/*
 * What a live read (`alloctag snapshot PID`) costs the process being read,
 * with many call sites: how long the thread that takes the request signal
 * stops (the handler: two clones and an exit, live/live_read.c), and how
 * much longer another thread's malloc/free batches take while reads run,
 * against the same measures with no read.  Also each read's wall time.
 *
 * usage: bench_live_read ALLOCTAG_TOOL [SITES [LIVE_MIB [READS [HEAP]]]]
 *   SITES tags registered (each holds one 64-byte object), default 100000;
 *   LIVE_MIB more live memory in 1 MiB blocks (what fork copies page
 *   tables of), default 256; READS reads, default 20; HEAP "alloctag"
 *   (default: the live memory and the worker's batches from alloctag's
 *   heap, at_malloc_noprof, whose memory asks for transparent huge pages)
 *   or "glibc" (malloc: the process's own malloc, 4 KiB pages).
 * The main thread is the only one that takes the signal; it spins reading
 * the clock and keeps its largest gap (its stall).  A worker thread
 * runs malloc/free batches of 256 and keeps the largest batch time.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <alloctag.h>

extern char **environ;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static volatile int phase; /* 0 stop, 1 run */
static int use_glibc;

static void *alloc(size_t n)
{
	return use_glibc ? malloc(n) : at_malloc_noprof(n);
}

static void release(void *p)
{
	if (use_glibc)
		free(p);
	else
		at_free(p);
}

/* The runtime's request handler, timed: each call is the signalled
 * thread's whole stall. */
static void (*runtime_handler)(int, siginfo_t *, void *);
static double handler_t[4096];
static int handler_n;

static void timed_handler(int sig, siginfo_t *si, void *uc)
{
	double t = now();
	runtime_handler(sig, si, uc);
	if (handler_n < 4096)
		handler_t[handler_n++] = now() - t;
}
static double worker_max;
static long worker_batches;

static void *worker(void *arg)
{
	(void)arg;
	void *slots[256];
	while (phase) {
		double t = now();
		for (int i = 0; i < 256; i++)
			slots[i] = alloc(16 + (i & 15) * 16);
		for (int i = 0; i < 256; i++)
			release(slots[i]);
		t = now() - t;
		if (t > worker_max)
			worker_max = t;
		worker_batches++;
	}
	return NULL;
}

/* Spin on the main thread for secs, reading the clock; the largest gap. */
static double spin(double secs)
{
	double start = now(), prev = start, max = 0;
	for (;;) {
		double t = now();
		if (t - prev > max)
			max = t - prev;
		prev = t;
		if (t - start > secs)
			return max;
	}
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct reader {
	const char *tool;
	int reads;
	double *wall;
	int failed;
	int done;
};

static void *reader(void *arg)
{
	struct reader *r = arg;
	char pid[32];
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	for (int i = 0; i < r->reads; i++) {
		posix_spawn_file_actions_t fa;
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
		char *argv[] = {(char *)r->tool, "snapshot", pid, "-o", "-", NULL};
		double t = now();
		pid_t c;
		int st = 1;
		if (posix_spawn(&c, r->tool, &fa, NULL, argv, environ) == 0)
			waitpid(c, &st, 0);
		r->wall[i] = now() - t;
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			r->failed++;
		posix_spawn_file_actions_destroy(&fa);
	}
	__atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench_live_read ALLOCTAG_TOOL [SITES [LIVE_MIB [READS]]]\n");
		return 2;
	}
	const char *tool = argv[1];
	long nsites = argc > 2 ? atol(argv[2]) : 100000;
	long live_mib = argc > 3 ? atol(argv[3]) : 256;
	int reads = argc > 4 ? atoi(argv[4]) : 20;
	use_glibc = argc > 5 && !strcmp(argv[5], "glibc");

	struct alloc_tag *tags = calloc((size_t)nsites, sizeof(*tags));
	for (long i = 0; i < nsites; i++) {
		tags[i].function = "site";
		tags[i].filename = "bench_live_read.c";
		tags[i].lineno = (unsigned int)(i + 1);
	}
	alloctag_register_image(tags, tags + nsites);
	for (long i = 0; i < nsites; i++)
		if (!at_malloc_tag_noprof(&tags[i], 64))
			return 1;
	for (long i = 0; i < live_mib; i++)
		memset(alloc(1 << 20), 1, 1 << 20);

	/* one walk of every tag, as the sampler and the peak recorder make
	 * (here with formatting: allocinfo to /dev/null), in the process */
	int null = open("/dev/null", O_WRONLY);
	double walk = now();
	for (int i = 0; i < 5; i++)
		alloctag_write_allocinfo_fd(null);
	walk = (now() - walk) / 5;
	close(null);

	struct sigaction sa;
	sigaction(SIGRTMAX - 3, NULL, &sa);
	if (!(sa.sa_flags & SA_SIGINFO)) {
		fprintf(stderr, "bench_live_read: the runtime's request handler is not installed\n");
		return 1;
	}
	runtime_handler = sa.sa_sigaction;
	sa.sa_sigaction = timed_handler;
	sigaction(SIGRTMAX - 3, &sa, NULL);

	/* only the main thread takes the request signal */
	sigset_t live, old;
	sigemptyset(&live);
	sigaddset(&live, SIGRTMAX - 3);
	pthread_sigmask(SIG_BLOCK, &live, &old);
	pthread_t w, rd;
	phase = 1;
	pthread_create(&w, NULL, worker, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	/* baseline: no reads, 2 s */
	double base_gap = spin(2.0);
	double base_worker = worker_max;
	long base_batches = worker_batches;
	worker_max = 0;
	worker_batches = 0;

	/* reads, back to back, from a thread of ours that blocks the signal */
	struct reader r = {tool, reads, calloc((size_t)reads, sizeof(double)), 0, 0};
	pthread_sigmask(SIG_BLOCK, &live, &old);
	double t0 = now();
	pthread_create(&rd, NULL, reader, &r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	double gap = 0;
	while (!__atomic_load_n(&r.done, __ATOMIC_ACQUIRE)) {
		double g = spin(0.05);
		if (g > gap)
			gap = g;
	}
	pthread_join(rd, NULL);
	double read_secs = now() - t0;
	phase = 0;
	pthread_join(w, NULL);

	qsort(r.wall, (size_t)reads, sizeof(double), cmp);
	printf("live read: %ld sites, %ld MiB live in 1 MiB blocks of %s's heap, %d reads (%d "
	       "failed)\n", nsites, live_mib, use_glibc ? "glibc" : "alloctag", reads, r.failed);
	printf("  one walk of the tags in the process (allocinfo to /dev/null): %.1f ms\n",
	       walk * 1e3);
	printf("  read wall time: median %.1f ms, max %.1f ms\n", r.wall[reads / 2] * 1e3,
	       r.wall[reads - 1] * 1e3);
	qsort(handler_t, (size_t)handler_n, sizeof(double), cmp);
	printf("  request handler (the signalled thread's stall): median %.2f ms, max %.2f ms "
	       "over %d reads\n", handler_n ? handler_t[handler_n / 2] * 1e3 : 0,
	       handler_n ? handler_t[handler_n - 1] * 1e3 : 0, handler_n);
	printf("  signalled thread's longest stall: %.2f ms with reads, %.3f ms without (clock "
	       "loop)\n", gap * 1e3, base_gap * 1e3);
	printf("  other thread's longest 256-op malloc/free batch: %.2f ms with reads, %.2f ms "
	       "without; batches/s %.0f with, %.0f without\n",
	       worker_max * 1e3, base_worker * 1e3, (double)worker_batches / read_secs,
	       (double)base_batches / 2.0);
	return r.failed ? 1 : 0;
}
