/*
 * The unwinder's rule cache (src/sites/unwind.h) past its first table:
 * walks from 4096 distinct call sites (4096 return addresses, twice what
 * the first table holds before it grows) each equal glibc's backtrace();
 * the cache grows as documented (a table 4x larger when half the current
 * one is in use or its sets overflow: 8 KiB, 32 KiB, then 128 KiB; the
 * addresses, 8 to 16 bytes apart, fill the 8 KiB and 32 KiB tables' sets
 * several times over, and the 128 KiB one's 8192 sets of 2 cover 64 KiB of
 * code: site()'s, once); and once every return
 * address has been cached in the table that holds them now, walking them
 * all again misses only on the one new return address (the loop's call).
 */
#define _GNU_SOURCE
#include "check.h"
#include "unwind_capture.h"

#define SITES 4096

/* SITES call sites of capture(), one per case: unoptimised, so that no
 * two cases share their call (cross-jumping would merge them). */
#define SITE case __COUNTER__: capture(); break;
#define S4 SITE SITE SITE SITE
#define S16 S4 S4 S4 S4
#define S256 S16 S16 S16 S16 S16 S16 S16 S16 S16 S16 S16 S16 S16 S16 S16 S16
#define S4096 S256 S256 S256 S256 S256 S256 S256 S256 S256 S256 S256 S256 S256 S256 S256 S256

static __attribute__((noinline, optimize("O0"))) void site(int i)
{
	switch (i) {
		S4096
	}
}

static size_t table(unsigned int shift)
{
	/* the header: struct rule_table in unwind.c, 64 bytes */
	return 64 + ((size_t)AT_RULE_WAYS << shift) * sizeof(uint64_t);
}

int main(void)
{
	_Static_assert(__COUNTER__ == SITES, "one case per site, numbered from 0");
	CHECK_EQ(at_unwind_memory(), 0); /* made at the first miss */

	uintptr_t first_ra = 0;
	for (int i = 0; i < SITES; i++) {
		site(i);
		CHECK(n_ours >= 3); /* site, main, libc */
		CHECK_EQ((int)n_ours, n_theirs - 1);
		for (unsigned int k = 0; k < n_ours; k++)
			CHECK(ours[k] == (uintptr_t)theirs[k + 1]);
		if (i == 0)
			first_ra = ours[0];
		else
			CHECK(ours[0] != first_ra); /* a return address of its own */
	}
	/* 4096 + a few addresses: the first two tables (2^9, 2^11 sets of 2)
	 * were outgrown, the third (2^13 sets) was not */
	size_t all = table(AT_RULE_SHIFT_FIRST) + table(AT_RULE_SHIFT_FIRST + AT_RULE_SHIFT_STEP) +
		     table(AT_RULE_SHIFT_FIRST + 2 * AT_RULE_SHIFT_STEP);
	CHECK_EQ(at_unwind_memory(), all);

	/* The addresses cached only in the first table miss once more ... */
	for (int i = 0; i < SITES; i++)
		site(i);
	/* ... and then none does (each has its own way in the current table)
	 * but this loop's call in main, a return address of its own: one. */
	uint64_t misses = at_unwind_misses();
	for (int i = 0; i < SITES; i++) {
		site(i);
		CHECK(ours[0] == (uintptr_t)theirs[1]);
	}
	CHECK_EQ(at_unwind_misses() - misses, 1);
	CHECK_EQ(at_unwind_memory(), all);
	printf("%d call sites: walks equal to backtrace(), cache %zu bytes, one miss on the "
	       "third pass\n",
	       SITES, at_unwind_memory());
	return 0;
}
