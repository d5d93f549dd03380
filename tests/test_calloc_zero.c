/*
 * calloc of a large block with no memset where the page allocator knows the
 * block is 0 (AT_PG_ZERO, page.h): a fresh block stays unfaulted, exactly
 * charged; a reused block (the thread's large cache, a released block not
 * yet purged, a block merged from a purged half and a used half) still
 * reads 0; a purged block is 0 again and unfaulted.
 */
#include <alloctag.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "check.h"
#include "pages/page.h"

#define KIB 1024ul
#define MIB (1024ul * KIB)

static struct alloc_tag *last_tag;

static void *c_site(size_t n, size_t s)
{
	DEFINE_ALLOC_TAG(t);
	last_tag = &t;
	return alloc_hooks_tag(t, at_calloc_noprof(n, s));
}

/* Pages of [p, p + len) resident. */
static size_t resident(void *p, size_t len)
{
	unsigned char vec[4096];
	size_t n = len / AT_PAGE_SIZE, r = 0;
	CHECK(n <= sizeof(vec));
	CHECK_EQ(mincore(p, len, vec), 0);
	for (size_t i = 0; i < n; i++)
		r += vec[i] & 1;
	return r;
}

static int is_free_block(uint32_t pfn, unsigned int order)
{
	uint64_t f = at_pages[pfn].flags;
	return (f & AT_PG_BUDDY) && at_page_order(f) == order;
}

static int all_zero(const unsigned char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return 0;
	return 1;
}

int main(void)
{
	alloctag_set_profiling(1);

	/* Fresh: not one page touched, charged its usable size once. */
	unsigned char *p = c_site(1, 256 * KIB);
	CHECK(p);
	struct alloc_tag *tag = last_tag;
	CHECK_EQ(resident(p, 256 * KIB), 0);
	CHECK_EQ(alloctag_read(tag).bytes, 256 * KIB);
	CHECK_EQ(alloctag_read(tag).calls, 1);
	CHECK(all_zero(p, 256 * KIB));

	/* Written and freed: the thread's large cache hands the same block
	 * back, which calloc clears. */
	memset(p, 0xab, 256 * KIB);
	at_free(p);
	CHECK_EQ(alloctag_read(tag).bytes, 0);
	unsigned char *q = c_site(64, 4 * KIB);
	CHECK(q == p);
	CHECK(all_zero(q, 256 * KIB));
	at_free(q);

	/* A above the large cache's orders, taken where its buddy is free or
	 * above the arena's top (never carved: page_alloc.c; the blocks taken
	 * on the way stay allocated), freed raw later (used, never purged); B
	 * its buddy, from calloc. */
	unsigned char *a;
	uint32_t pa;
	for (;;) {
		a = at_alloc_pages_noprof(10);
		CHECK(a);
		pa = at_addr_to_pfn(a);
		if (is_free_block(pa ^ 1024u, 10) || (!(pa & 1024u) && !at_pages[pa ^ 1024u].flags))
			break;
	}
	/* never handed out */
	CHECK((at_pages[pa ^ 1024u].flags & AT_PG_ZERO) || !at_pages[pa ^ 1024u].flags);
	unsigned char *b = c_site(1, 4 * MIB);
	CHECK_EQ(at_addr_to_pfn(b), pa ^ 1024u);
	CHECK_EQ(resident(b, 4 * MIB), 0);
	CHECK(all_zero(b, 4 * MIB));
	memset(a, 0x5a, 4 * MIB);
	memset(b, 0xa5, 4 * MIB);

	/* B released and purged: 0 again, and calloc leaves it unfaulted. */
	at_free(b);
	at_page_trim();
	CHECK(is_free_block(pa ^ 1024u, 10));
	CHECK(at_pages[pa ^ 1024u].flags & AT_PG_ZERO);
	unsigned char *b2 = c_site(1, 4 * MIB);
	CHECK(b2 == b);
	CHECK_EQ(resident(b2, 4 * MIB), 0);
	CHECK(all_zero(b2, 4 * MIB));
	memset(b2, 0xa5, 4 * MIB);

	/* B released, maybe not purged yet: calloc clears it either way. */
	at_free(b2);
	unsigned char *b3 = c_site(1, 4 * MIB);
	CHECK(b3 == b);
	CHECK(all_zero(b3, 4 * MIB));

	/* B purged, then A (written) freed raw: the block they merge into,
	 * whatever its order, is not 0 (A's half is not). */
	at_free(b3);
	at_page_trim();
	at_free_pages(a, 10);
	unsigned int k = 11;
	while (k <= AT_MAX_ORDER && !is_free_block(pa & ~((1u << k) - 1), k))
		k++;
	CHECK(k <= AT_MAX_ORDER);
	CHECK(!(at_pages[pa & ~((1u << k) - 1)].flags & AT_PG_ZERO));
	unsigned char *m = c_site(1, 8 * MIB);
	CHECK(m);
	CHECK(all_zero(m, 8 * MIB));
	CHECK_EQ(alloctag_read(last_tag).bytes, 8 * MIB);
	at_free(m);
	CHECK_EQ(alloctag_read(last_tag).bytes, 0);
	return 0;
}
