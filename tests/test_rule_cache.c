/*
 * The unwinder's rule cache (src/sites/unwind.h) past its first table:
 * walks from 4096 distinct call sites (4096 return addresses, many times
 * what the first table holds before it grows) each equal glibc's backtrace();
 * the cache grows as documented (a table 2^AT_RULE_SHIFT_STEP times larger
 * when half the current one is in use or its sets overflow, from
 * 2^AT_RULE_SHIFT_FIRST sets up to the 128 KiB table: the addresses, 8 to
 * 16 bytes apart, fill the smaller tables' sets several times over, and
 * the 128 KiB one's 8192 sets of 2 cover 64 KiB of code: site()'s, once;
 * 4096 addresses fill 4096 sets' words past half); and once every return
 * address has been cached in the table that holds them (within 4 passes),
 * walking them all again misses on none (but a new loop's call); the
 * tables outgrown keep no page resident.
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
	/* no header: the words alone (unwind.c keeps the shift in the
	 * table's address) */
	return ((size_t)AT_RULE_WAYS << shift) * sizeof(uint64_t);
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
	/* Then pass after pass: the tables below 2^13 sets of 2 are outgrown
	 * (a new table is empty: its addresses miss once more), the 2^13 one
	 * holds them all (each in a way of its own): within 4 passes one makes
	 * no miss, and so does every pass after it. */
	size_t all = 0; /* the first table is in the sites' pool, counted there */
	unsigned int shift = AT_RULE_SHIFT_FIRST + AT_RULE_SHIFT_STEP;
	for (; shift < 13; shift += AT_RULE_SHIFT_STEP)
		all += table(shift);
	CHECK_EQ(shift, 13);
	all += table(shift);
	int pass = 1;
	uint64_t misses;
	do {
		misses = at_unwind_misses();
		for (int i = 0; i < SITES; i++) {
			site(i);
			CHECK(ours[0] == (uintptr_t)theirs[1]);
		}
		pass++;
	} while (at_unwind_misses() != misses && pass < 5);
	CHECK_EQ(at_unwind_misses() - misses, 0);
	CHECK_EQ(at_unwind_memory(), all);
	misses = at_unwind_misses();
	for (int i = 0; i < SITES; i++)
		site(i);
	CHECK_EQ(at_unwind_misses() - misses, 1); /* this loop's call in main: its own */
	CHECK_EQ(at_unwind_memory(), all);
	CHECK_EQ(at_unwind_replaced_resident(), 0); /* the tables outgrown: no page kept */
	printf("%d call sites: walks equal to backtrace(), cache %zu bytes, no miss from pass %d\n",
	       SITES, at_unwind_memory(), pass);
	return 0;
}
