/*
 * A forked child teaches its parent its call chains (src/sites/chain_teach.h),
 * through the preload library's malloc linked into this program, with real
 * forks.  main runs the steps in order from one call site, each a fork whose
 * child runs child_body (so that a chain made in one child is the same
 * chain, frame for frame, in the next):
 *   made      child A allocates 3 blocks through chain X (x_allocs), which
 *             the parent never made: A makes it and writes its record
 *   taught    the parent, forking B, has made X (zero counts: its allocinfo
 *             line for x_allocs is exactly 0 0); B allocates 5 blocks
 *             through X making no chain, no rule miss and (optimised) no
 *             walk (its thread's memo is the taught memo, which holds X's
 *             entry from A's walk), and its allocinfo line is exactly its
 *             own 5 blocks
 *   dlopen    child C loads chain_lib (argv[1]) and allocates through its
 *             lib_alloc: that chain is not written (the object is not its
 *             parent's), and the parent never has a lib_alloc line
 *   grand     child D forks grandchild G, which allocates through chain Y
 *             (y_allocs) and writes it
 *   grand2    the parent, forking E, has made Y; E allocates through Y
 *             making no chain, no rule miss and (optimised) no walk
 *   full      child F fills the area (records of one frame, an address
 *             in filler) until its count is the capacity; more records
 *             are not claimed; a new chain Z (z_allocs) is made and
 *             allocated through, exact
 *   after     the parent made one chain from F's records; child H still
 *             makes Z (F could not write it) and counts it exact; the
 *             area's count stays at its capacity
 *   regrow    the parent's rule cache is replaced (rules of addresses of
 *             this program learned until it grows): forking I, it reads
 *             every record again, and I allocates through X computing no
 *             rule
 * Run at the default depth and at ALLOCTAG_DEPTH=3 and 16.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "allocinfo_capture.h"
#include "check.h"
#include "core/control.h"
#include "sites/chain_teach.h"
#include "sites/chains.h"
#include "sites/unwind.h"
#include "startup/init.h"

enum { MADE, TAUGHT, DLOPEN, GRAND, GRAND2, FULL, AFTER, REGROW, STEPS };

static const char *lib_path;

static __attribute__((noinline)) void x_allocs(void **p, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = malloc(100);
	__asm__ volatile("" ::: "memory");
}

static __attribute__((noinline)) void y_allocs(void **p, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = malloc(200);
	__asm__ volatile("" ::: "memory");
}

static __attribute__((noinline)) void z_allocs(void **p, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = malloc(300);
	__asm__ volatile("" ::: "memory");
}

/* func's allocinfo line: exactly one, with these bytes and calls. */
static void check_site(const char *func, long long bytes, long long calls)
{
	char needle[64], want[64];
	snprintf(needle, sizeof(needle), "func:%s ", func);
	snprintf(want, sizeof(want), "%12lli %8lli ", bytes, calls);
	const char *l = allocinfo_grep(needle);
	if (strncmp(l, want, strlen(want)) || !strchr(l, '\n') || strchr(l, '\n')[1]) {
		fprintf(stderr, "site %s: want \"%s...\", got \"%s\"\n", func, want, l);
		exit(1);
	}
}

static long long usable(void **p, int n)
{
	long long b = 0;
	for (int i = 0; i < n; i++)
		b += (long long)malloc_usable_size(p[i]);
	return b;
}

static struct at_teach_stats stats(void)
{
	struct at_teach_stats s;
	at_teach_stats(&s);
	return s;
}

static void *(*lib_alloc)(size_t);

/* Never called: the frame of the records that fill the area. */
static __attribute__((noinline, used)) void filler(void)
{
	__asm__ volatile("" ::: "memory");
}

static __attribute__((noinline)) void lib_allocs(void **p, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = lib_alloc(300);
	__asm__ volatile("" ::: "memory");
}

/* Each step's allocations, made at one call site (child_body's): the
 * chain through each function is the same chain in every child. */
static const struct {
	void (*fn)(void **, int);
	const char *name;
	int n;
} calls[STEPS] = {
	[MADE] = {x_allocs, "x_allocs", 3},   [TAUGHT] = {x_allocs, "x_allocs", 5},
	[DLOPEN] = {lib_allocs, NULL, 1},     [GRAND] = {y_allocs, "y_allocs", 4},
	[GRAND2] = {y_allocs, "y_allocs", 2}, [FULL] = {z_allocs, "z_allocs", 2},
	[AFTER] = {z_allocs, "z_allocs", 3},   [REGROW] = {x_allocs, "x_allocs", 2},
};

/* What a step does before its allocations: 1 when this process is done
 * (the grandchild's parent). */
static __attribute__((noinline)) int step_before(int step)
{
	struct at_teach_stats s = stats();
	switch (step) {
	case MADE:
		CHECK(s.capacity > 0);
		break;
	case DLOPEN: {
		void *h = dlopen(lib_path, RTLD_NOW);
		CHECK(h != NULL);
		lib_alloc = (void *(*)(size_t))dlsym(h, "lib_alloc");
		CHECK(lib_alloc != NULL);
		break;
	}
	case GRAND: { /* the grandchild goes on, its parent waits */
		pid_t g = fork();
		CHECK(g >= 0);
		if (g > 0) {
			int st;
			CHECK(waitpid(g, &st, 0) == g && WIFEXITED(st) && WEXITSTATUS(st) == 0);
			return 1;
		}
		break;
	}
	case FULL: { /* the area filled: records of one frame, filler's */
		uintptr_t f = (uintptr_t)filler + 1;
		struct at_unwind_trace none = {.unusable = 1};
		for (uint32_t i = 0; i < s.capacity + 10; i++)
			at_teach_publish(&f, 1, 0, &none);
		s = stats();
		CHECK_EQ(s.claimed, s.capacity);
		break;
	}
	}
	return 0;
}

/* What a step checks after its allocations p. */
static __attribute__((noinline)) void step_after(int step, void **p, const struct at_teach_stats *s,
						 uint32_t chains, uint64_t misses)
{
	struct at_teach_stats t = stats();
	switch (step) {
	case MADE: /* new chains, written */
	case GRAND:
		CHECK(at_chain_count() > chains);
		CHECK(t.claimed > s->claimed);
		break;
	case TAUGHT: /* taught: nothing made, no rule computed */
	case GRAND2:
	case REGROW:
		CHECK_EQ(at_chain_count(), chains);
#ifndef __OPTIMIZE__
		/* unoptimised, a walk that used rbp at malloc's CFA unwinds
		 * alloctag's own frames too (unwind.h, at_unwind_from), whose
		 * rules no chain teaches: gone with the replaced cache */
		if (step == REGROW)
			break;
#endif
		CHECK_EQ(at_unwind_misses(), misses);
		break;
	case DLOPEN: /* made, not written */
	case FULL:
	case AFTER:
		CHECK(at_chain_count() > chains);
		CHECK_EQ(t.claimed, s->claimed);
		break;
	}
	if (calls[step].name)
		check_site(calls[step].name, usable(p, calls[step].n), calls[step].n);
}

static __attribute__((noinline)) int child_body(int step)
{
	void *p[8];
	if (step_before(step))
		return 0;
	struct at_teach_stats s = stats();
	uint32_t chains = at_chain_count();
	uint64_t misses = at_unwind_misses();
	uint32_t walks = at_chain_walks();
	calls[step].fn(p, calls[step].n); /* the one call site */
	step_after(step, p, &s, chains, misses);
#ifdef __OPTIMIZE__ /* unoptimised, x_allocs's walks use rbp at malloc's CFA: no entry */
	if (step == TAUGHT || step == GRAND2) /* the taught memo's entry: no walk */
		CHECK_EQ(at_chain_walks(), walks);
#else
	(void)walks;
#endif
	return 0;
}

/* One step: the parent's checks around a fork whose child runs step. */
static __attribute__((noinline)) void parent_step(int step)
{
	if (step == REGROW) { /* the rule cache replaced: X's rules gone */
		uint32_t g = at_unwind_generation();
		for (uintptr_t a = (uintptr_t)filler; at_unwind_generation() == g; a += 8) {
			CHECK(a < (uintptr_t)filler + 65536);
			at_unwind_learn(a);
		}
	}
	struct at_teach_stats before = stats();
	fflush(NULL);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0)
		_exit(child_body(step));
	struct at_teach_stats s = stats();
	switch (step) {
	case MADE:
		CHECK_EQ(before.capacity, 0); /* made by this first fork */
		CHECK(s.capacity > 0);
		CHECK_EQ(s.made, 0);
		break;
	case TAUGHT:
		CHECK(s.made > before.made); /* X, and A's other chains */
		check_site("x_allocs", 0, 0);
#ifdef __OPTIMIZE__ /* unoptimised, x_allocs's walks use rbp at malloc's CFA: no entry */
		/* the taught memo: as few sets as hold A's entries, each in its
		 * first (a forked child reads the page of each set it uses) */
		CHECK(s.proved > before.proved);
		CHECK(s.memo_sets >= 4 && s.memo_sets <= AT_TEACH_MEMO_SETS);
		CHECK(s.memo_sets * AT_MEMO_WAYS < 8 * s.proved || s.memo_sets == 4);
#endif
		break;
	case GRAND2:
		CHECK(s.made > before.made);
		check_site("y_allocs", 0, 0);
		/* fallthrough */
	case GRAND:
		CHECK_STREQ(allocinfo_grep("func:lib_alloc "), "");
		break;
	case AFTER: /* F's records: one chain of one frame */
		CHECK_EQ(s.made, before.made + 1);
		CHECK_EQ(s.refused, before.refused);
		break;
	case REGROW: /* every record read again, nothing made */
		CHECK_EQ(s.read, before.read + s.capacity);
		CHECK_EQ(s.made, before.made);
		break;
	}
	int st;
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(int argc, char **argv)
{
	CHECK(argc == 2);
	lib_path = argv[1];
	alloctag_init();
	CHECK(at_state == AT_STATE_READY && at_profiling_on);
	void *volatile warm = malloc(1); /* a chain made: the chains' fork handlers registered */
	free(warm);
	if (at_chain_depth == 1) {
		printf("chain teach: skipped (ALLOCTAG_DEPTH=1)\n");
		return 0;
	}
	CHECK_EQ(stats().capacity, 0);
	for (int step = 0; step < STEPS; step++)
		parent_step(step);
	struct at_teach_stats s = stats();
	printf("chain teach: ok (%u chains made from %u records, %u refused, depth %u)\n", s.made,
	       s.read, s.refused, at_chain_depth);
	return 0;
}
