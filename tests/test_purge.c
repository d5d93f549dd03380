/*
 * Memory given back to the system: freed large blocks stay resident as
 * dirty free blocks (no page fault on reuse); a release purges the blocks
 * released AT_PURGE_AGE_MS ago or earlier once the arena holds more than
 * AT_PURGE_PAGES of them (or half the heap's committed memory, here no
 * more), or AT_PURGE_MS after the last purge; a younger block stays, and
 * malloc_trim purges every one (page_alloc.c, "Purging").  (The reuse
 * without faults is a speed matter: bench/malloc mixed.)
 * Residency is read with mincore().
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <alloctag.h>

#include "check.h"
#include "objects/malloc_info.h"
#include "pages/page.h"

#define MB (1ul << 20)
#define NBLK 8
#define USED (5 * MB / AT_PAGE_SIZE) /* the pages of a block written */

static size_t resident_pages(void *addr, size_t len)
{
	static unsigned char vec[(8 * MB) / AT_PAGE_SIZE];
	CHECK(len <= sizeof(vec) * AT_PAGE_SIZE);
	CHECK_EQ(mincore(addr, len, vec), 0);
	size_t n = 0;
	for (size_t i = 0; i < len / AT_PAGE_SIZE; i++)
		n += vec[i] & 1;
	return n;
}

static size_t resident_all(char **blk)
{
	size_t n = 0;
	for (int i = 0; i < NBLK; i++)
		n += resident_pages(blk[i], 8 * MB);
	return n;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* A 5 MiB request: an 8 MiB block, beyond the thread's large-block cache. */
static char *big(int fill)
{
	char *p = at_malloc(5 * MB);
	CHECK(p);
	CHECK_EQ(at_usable_size(p), 8 * MB);
	memset(p, fill, 5 * MB);
	return p;
}

int main(void)
{
	char *blk[NBLK];
	for (int i = 0; i < NBLK; i++)
		blk[i] = big(1);
	char *one = big(2), *two = big(3);
	size_t all = resident_all(blk); /* more with huge pages */
	CHECK(all >= NBLK * USED);

	/* Released just now: kept, whatever the count (the check holds when
	 * the frees and the read took well under AT_PURGE_AGE_MS, as they do
	 * but on a machine stopped for that long). */
	double t0 = now_ms();
	for (int i = 0; i < NBLK; i++)
		at_free(blk[i]);
	size_t kept = resident_all(blk);
	if (now_ms() - t0 < AT_PURGE_AGE_MS / 2)
		CHECK_EQ(kept, all);

	/* AT_PURGE_AGE_MS later, the arena over AT_PURGE_PAGES dirty pages: a
	 * release purges them all (whatever the blocks' layout: merged, they
	 * keep the earlier time). */
	usleep((AT_PURGE_AGE_MS + 50) * 1000);
	at_free(one);
	CHECK_EQ(resident_all(blk), 0);

	/* AT_PURGE_MS after the last purge, with few dirty pages: a release
	 * purges the block released AT_PURGE_AGE_MS ago or earlier. */
	usleep((AT_PURGE_MS + 100) * 1000);
	at_free(two);
	CHECK_EQ(resident_pages(one, 8 * MB), 0);

	/* malloc_trim: every dirty block, however young. */
	char *three = big(4);
	at_free(three);
	at_malloc_trim(0);
	CHECK_EQ(resident_pages(three, 8 * MB), 0);
	CHECK_EQ(resident_pages(two, 8 * MB), 0);
	printf("ok\n");
	return 0;
}
