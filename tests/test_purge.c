/*
 * Memory given back to the system: freed large blocks stay resident as
 * dirty free blocks (no page fault on reuse) until the arena holds more
 * than AT_PURGE_PAGES of them (or half the heap's committed memory, here
 * no more), or AT_PURGE_MS passed since the last purge;
 * then every dirty free block is purged (page_alloc.c, "Purging").  (The
 * reuse without faults is a speed matter: bench/malloc mixed.)
 * Residency is read with mincore().
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <alloctag.h>

#include "check.h"
#include "pages/page.h"

#define MB (1ul << 20)
#define NBLK 8

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

int main(void)
{
	const size_t pages = 8 * MB / AT_PAGE_SIZE;
	char *blk[NBLK];
	/* 5 MiB requests: 8 MiB blocks, beyond the thread's large-block cache. */
	for (int i = 0; i < NBLK; i++) {
		blk[i] = at_malloc(5 * MB);
		CHECK(blk[i]);
		CHECK_EQ(at_usable_size(blk[i]), 8 * MB);
		memset(blk[i], 1, at_usable_size(blk[i]));
	}
	CHECK_EQ(resident_all(blk), NBLK * pages);
	/* RSS follows live data: whatever the blocks' layout (merges count a
	 * dirty block's whole size), no more than AT_PURGE_PAGES stay resident. */
	for (int i = 0; i < NBLK; i++)
		at_free(blk[i]);
	size_t left = resident_all(blk);
	CHECK(left <= AT_PURGE_PAGES);
	CHECK(left < NBLK * pages);
	/* After AT_PURGE_MS, the next release purges everything. */
	usleep((AT_PURGE_MS + 100) * 1000);
	char *one = at_malloc(5 * MB);
	CHECK(one);
	memset(one, 2, 5 * MB);
	at_free(one);
	CHECK_EQ(resident_all(blk), 0);
	CHECK_EQ(resident_pages(one, 8 * MB), 0);
	printf("ok\n");
	return 0;
}
