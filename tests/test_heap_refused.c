/*
 * A heap reservation refused whole with no address-space limit set (what
 * valgrind's address-space manager does with a 64 GiB mapping): the heap
 * is then reserved a step at a time, as under a limit, and grows when
 * every arena is full; allocations work and charges stay exact.  This
 * program's own mmap refuses every mapping of AT_HEAP_SIZE bytes or more
 * (the library's calls reach it: the executable's definition comes first).
 */
#define _GNU_SOURCE
#include <alloctag.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"
#include "pages/page.h"

static int refused;

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (len >= AT_HEAP_SIZE) {
		refused++;
		errno = ENOMEM;
		return MAP_FAILED;
	}
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

#define BLOCK (64ul << 20)
#define NBLOCKS 24 /* 1.5 GiB: more than one arena */

int main(void)
{
	DEFINE_ALLOC_TAG(tag);
	void *small = at_malloc(100); /* the heap and the shadow reserved */
	CHECK(small);
	CHECK(refused >= 1);
	CHECK_EQ(at_heap_span, AT_HEAP_GROW_STEP);
	CHECK_EQ(at_heap_full(), 0);
	void *blk[NBLOCKS];
	for (unsigned int i = 0; i < NBLOCKS; i++) {
		blk[i] = alloc_hooks_tag(tag, at_malloc_noprof(BLOCK));
		CHECK(blk[i]);
		CHECK(at_addr_to_pfn(blk[i]) != AT_PFN_NIL); /* in the heap, not mapped apart */
		((char *)blk[i])[0] = (char)i;
		((char *)blk[i])[BLOCK - 1] = (char)i;
		CHECK_EQ(at_usable_size(blk[i]), BLOCK);
	}
	/* grown as the blocks needed: the first step holds the small
	 * block's slab, the blocks lie from 64 MiB on, 15 in the first
	 * arena, 9 in the second */
	CHECK_EQ(at_heap_span, (NBLOCKS + 1) * BLOCK);
	struct alloctag_counters c = alloctag_read(&tag);
	CHECK_EQ(c.bytes, (long long)NBLOCKS * BLOCK);
	CHECK_EQ(c.calls, NBLOCKS);
	for (unsigned int i = 0; i < NBLOCKS; i++) {
		CHECK_EQ(((char *)blk[i])[BLOCK - 1], (char)i);
		at_free(blk[i]);
	}
	c = alloctag_read(&tag);
	CHECK_EQ(c.bytes, 0);
	CHECK_EQ(c.calls, 0);
	at_free(small);
	printf("ok\n");
	return 0;
}
