/*
 * glibc's malloc introspection answered by the preload library: an
 * unmodified program (no alloctag header) run with
 * LD_PRELOAD=liballoctag-preload.so.  Exact figures after known
 * allocations: mallinfo2's in-use, cached, direct-block and releasable
 * bytes, mallinfo's copy of them, malloc_stats' text, malloc_trim's
 * effect and result, mallopt's answers and M_TRIM_THRESHOLD's effect.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

#define N_SMALL 1000
#define MIB (1ul << 20)

static size_t opaque(size_t n)
{
	volatile size_t v = n;
	return v;
}

static long resident_pages(void)
{
	long size, res;
	FILE *f = fopen("/proc/self/statm", "r");
	CHECK(f && fscanf(f, "%ld %ld", &size, &res) == 2);
	fclose(f);
	return res;
}

int main(void)
{
	/* the preload library is the process's malloc */
	CHECK(dlsym(RTLD_DEFAULT, "at_malloc_noprof") != NULL);
	static void *p[N_SMALL];
	struct mallinfo2 m0 = mallinfo2();
	CHECK(m0.uordblks + m0.fordblks <= m0.arena);
	CHECK_EQ(m0.usmblks, 0);

	/* small objects: each counts its size class's size (112 for 100) */
	for (int i = 0; i < N_SMALL; i++) {
		p[i] = malloc(opaque(100));
		CHECK(p[i]);
		CHECK_EQ(malloc_usable_size(p[i]), 112);
	}
	struct mallinfo2 m1 = mallinfo2();
	CHECK_EQ(m1.uordblks - m0.uordblks, N_SMALL * 112);
	CHECK(m1.arena >= 2 * MIB); /* committed in 2 MiB chunks */
	CHECK(m1.uordblks + m1.fordblks <= m1.arena);
	for (int i = 0; i < N_SMALL; i++)
		free(p[i]);
	struct mallinfo2 m2 = mallinfo2();
	CHECK_EQ(m2.uordblks, m0.uordblks);

	/* a large block: its usable size (128 KiB) in use, then in the
	 * thread's cache (mallinfo2's fastbin fields) once freed */
	void *l = malloc(opaque(100000));
	CHECK_EQ(malloc_usable_size(l), 131072);
	struct mallinfo2 m3 = mallinfo2();
	CHECK_EQ(m3.uordblks - m2.uordblks, 131072);
	free(l);
	struct mallinfo2 m4 = mallinfo2();
	CHECK_EQ(m4.uordblks, m2.uordblks);
	CHECK_EQ(m4.smblks - m3.smblks, 1);
	CHECK_EQ(m4.fsmblks - m3.fsmblks, 131072);

	FILE *tmp = tmpfile(); /* for malloc_stats below: its FILE is allocated now */
	CHECK(tmp);
	m4 = mallinfo2();

	/* a block beyond the page allocator's largest: mapped directly */
	size_t hsz = opaque((1ul << 30) + 1);
	char *h = malloc(hsz);
	CHECK(h);
	h[0] = 1;
	struct mallinfo2 m5 = mallinfo2();
	CHECK_EQ(m5.hblks, m4.hblks + 1);
	CHECK_EQ(m5.hblkhd - m4.hblkhd, (1ul << 30) + 4096);
	CHECK_EQ(m5.uordblks, m4.uordblks);
	/* mallinfo: the same figures in ints */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
	struct mallinfo o = mallinfo();
#pragma GCC diagnostic pop
	CHECK_EQ(o.arena, m5.arena);
	CHECK_EQ(o.uordblks, m5.uordblks);
	CHECK_EQ(o.hblks, m5.hblks);
	CHECK_EQ(o.hblkhd, m5.hblkhd);
	CHECK_EQ(o.fsmblks, m5.fsmblks);

	/* malloc_stats: glibc's layout with these figures, on stderr */
	char want[512], got[512];
	snprintf(want, sizeof(want),
		 "Arena 0:\nsystem bytes     = %10zu\nin use bytes     = %10zu\n"
		 "Total (incl. mmap):\nsystem bytes     = %10zu\nin use bytes     = %10zu\n"
		 "max mmap regions = %10d\nmax mmap bytes   = %10zu\n",
		 m5.arena, m5.uordblks, m5.arena + m5.hblkhd, m5.uordblks + m5.hblkhd, 1,
		 (1ul << 30) + 4096);
	int saved = dup(2);
	dup2(fileno(tmp), 2);
	malloc_stats();
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	size_t n = fread(got, 1, sizeof(got) - 1, tmp);
	got[n] = 0;
	fclose(tmp);
	CHECK_STREQ(got, want);
	free(h);
	struct mallinfo2 m6 = mallinfo2();
	CHECK_EQ(m6.hblks, m4.hblks);
	CHECK_EQ(m6.hblkhd, m4.hblkhd);

	/* malloc_trim: 64 MiB touched and freed (2 MiB cached, the rest
	 * released: dirty free blocks until purged) is given back */
	static char *big[64];
	malloc_trim(0); /* the thread's caches empty */
	CHECK_EQ(mallinfo2().fsmblks, 0);
	CHECK_EQ(mallinfo2().smblks, 0);
	CHECK(resident_pages() > 0); /* its stdio objects' bins filled now, not below */
	m6 = mallinfo2();
	for (int i = 0; i < 64; i++) {
		big[i] = malloc(opaque(MIB));
		CHECK(big[i]);
		memset(big[i], i, MIB);
	}
	struct mallinfo2 m7 = mallinfo2();
	CHECK_EQ(m7.uordblks - m6.uordblks, 64 * MIB);
	for (int i = 0; i < 64; i++)
		free(big[i]);
	long before = resident_pages();
	struct mallinfo2 m8 = mallinfo2();
	CHECK_EQ(m8.uordblks, m6.uordblks);
	/* the thread's cache keeps the last 2 MiB of blocks (tcache.h) */
	CHECK_EQ(m8.fsmblks - m6.fsmblks, 2 * MIB);
	CHECK_EQ(m8.smblks - m6.smblks, 2);
	CHECK_EQ(malloc_trim(0), 1);
	CHECK_EQ(malloc_trim(0), 0); /* nothing left to give back */
	struct mallinfo2 m9 = mallinfo2();
	CHECK_EQ(m9.keepcost, 0);
	CHECK_EQ(m9.smblks, 0);
	CHECK_EQ(m9.fsmblks, 0);
	CHECK_EQ(m9.uordblks, m6.uordblks);
	/* every cached block was touched, and is given back (the dirty
	 * figure is an upper bound: a dirty block merged with a clean buddy
	 * counts whole) */
	CHECK(before - resident_pages() >= (long)(m8.fsmblks / 4096));

	/* mallopt: glibc's parameters are accepted; M_TRIM_THRESHOLD 0 makes
	 * every release purge at once */
	CHECK_EQ(mallopt(M_TRIM_THRESHOLD, 0), 1);
	for (int i = 0; i < 40; i++) {
		big[i] = malloc(opaque(MIB));
		memset(big[i], i, MIB);
	}
	for (int i = 0; i < 40; i++)
		free(big[i]);
	CHECK_EQ(mallinfo2().keepcost, 0);
	CHECK_EQ(mallopt(M_TRIM_THRESHOLD, -1), 0);
	CHECK_EQ(mallopt(M_MMAP_THRESHOLD, -5), 0);
	CHECK_EQ(mallopt(M_ARENA_MAX, 1), 1);
	CHECK_EQ(mallopt(M_MXFAST, 0), 1);
	CHECK_EQ(mallopt(M_PERTURB, 0x55), 1);
	CHECK_EQ(mallopt(12345, 1), 0);
	printf("introspection: ok\n");
	return 0;
}
