/*
 * A forked process's rules (src/sites/unwind.h): after its fork handler
 * (at_unwind_forked, here called directly; the chains' handler calls it),
 * a child's misses store in a table of its own: walks from 16 call sites
 * its parent never walked equal glibc's backtrace(), leave the main
 * table's bytes as at the fork (its pages still shared with the parent)
 * and, walked again, miss on none; walks from 1024 more sites overflow its
 * 64 sets, after which the child stores in the main table again (its
 * bytes change) and the walks still equal backtrace()'s.  The parent's
 * table is as it was.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "unwind_capture.h"

#define SITES 2048

#define SITE case __COUNTER__: capture(); break;
#define S4 SITE SITE SITE SITE
#define S16 S4 S4 S4 S4
#define S256 S16 S16 S16 S16 S16 S16 S16 S16 S16 S16 S16 S16 S16 S16 S16 S16
#define S2048 S256 S256 S256 S256 S256 S256 S256 S256

static __attribute__((noinline, optimize("O0"))) void site(int i)
{
	switch (i) {
		S2048
	}
}

static void walk(int from, int to)
{
	for (int i = from; i < to; i++) {
		site(i);
		CHECK(n_ours >= 3);
		CHECK_EQ((int)n_ours, n_theirs - 1);
		for (unsigned int k = 0; k < n_ours; k++)
			CHECK(ours[k] == (uintptr_t)theirs[k + 1]);
	}
}

static const uint64_t *t;
static uint64_t *copy;
static size_t bytes;

/* Two passes over 16 sites from one call site of walk (unoptimised: the
 * loop's two passes are not compiled into two calls): the second misses
 * on none. */
static __attribute__((noinline, optimize("O0"))) void twice(void)
{
	for (int pass = 0; pass < 2; pass++) {
		uint64_t m = at_unwind_misses();
		walk(1024, 1040);
		CHECK(!memcmp(copy, t, bytes));
		if (pass)
			CHECK_EQ(at_unwind_misses(), m);
	}
}

int main(void)
{
	_Static_assert(__COUNTER__ == SITES, "one case per site, numbered from 0");
	walk(0, 64);
	t = at_unwind_table(&bytes);
	CHECK(t != NULL && bytes > 0);
	copy = malloc(bytes);
	CHECK(copy != NULL);
	memcpy(copy, t, bytes);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		at_unwind_forked();
		twice();
		walk(1040, 2048);
		const uint64_t *now = at_unwind_table(&bytes);
		CHECK(now != t || memcmp(copy, t, bytes));
		walk(0, 2048);
		_exit(0);
	}
	int st;
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(at_unwind_table(&bytes) == t && !memcmp(copy, t, bytes));
	walk(0, 64);
	printf("rule_forked: ok\n");
	return 0;
}
