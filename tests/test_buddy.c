/*
 * The buddy page allocator: split, coalesce, reuse, alignment, bad frees,
 * and (run with ALLOCTAG_HEAP_MAX=4M) exhausting a capped heap.
 */
#include <alloctag.h>
#include <errno.h>

#include "check.h"
#include "child.h"
#include "pages/page.h"

static uint64_t flags_of(uint32_t pfn)
{
	return at_pages[pfn].flags;
}

static int is_free_block(uint32_t pfn, unsigned int order)
{
	uint64_t f = flags_of(pfn);
	return (f & AT_PG_BUDDY) && at_page_order(f) == order;
}

static void split_and_coalesce(void)
{
	char *p = at_alloc_pages(0);
	CHECK(p);
	uint32_t pfn = at_addr_to_pfn(p);
	CHECK_EQ(pfn, 0); /* a fresh heap: the first block of arena 0 */
	CHECK(flags_of(pfn) & AT_PG_HEAD);
	CHECK_EQ(at_page_order(flags_of(pfn)), 0);
	/* carved at the arena's top: no descriptor above it written (a split
	 * of the order-18 block wrote a free buddy at every order) */
	for (unsigned int k = 0; k < AT_MAX_ORDER; k++)
		CHECK_EQ(flags_of(1u << k), 0);

	char *q = at_alloc_pages(0); /* the next page, p's buddy */
	CHECK(q == p + 4096);
	char *r = at_alloc_pages(3); /* 8 pages at pfn 8: pfns 2-7 skipped */
	CHECK(r == p + 8 * 4096);
	CHECK(((uintptr_t)r & (8 * 4096 - 1)) == 0);
	CHECK(is_free_block(2, 1)); /* the pages skipped, free blocks */
	CHECK(is_free_block(4, 2));
	CHECK_EQ(flags_of(16), 0); /* above the top */
	char *t = at_alloc_pages(1); /* a free block serves before the top */
	CHECK(t == p + 2 * 4096);
	at_free_pages(t, 1);
	CHECK(is_free_block(2, 1));

	at_free_pages(q, 0);
	CHECK(is_free_block(1, 0)); /* p still allocated: no merge */
	at_free_pages(p, 0);
	CHECK(is_free_block(0, 3)); /* 0,1 merged with 2-3 and 4-7; 8-15 is r */
	CHECK_EQ(flags_of(1), 0);
	at_free_pages(r, 3);
	CHECK(is_free_block(0, 4)); /* all the way back to one block: all carved */
	for (uint32_t i = 1; i < 64; i++)
		CHECK_EQ(flags_of(i), 0);

	/* reuse: the same block comes back */
	char *s = at_alloc_pages(4);
	CHECK(s == p);
	at_free_pages(s, 4);
	CHECK(is_free_block(0, 4));

	/* large orders are aligned to their size */
	char *big = at_alloc_pages(10);
	CHECK(big && ((uintptr_t)big & ((4096ul << 10) - 1)) == 0);
	memset(big, 0xab, 4096ul << 10);
	at_free_pages(big, 10);

	errno = 0;
	CHECK(at_alloc_pages(AT_MAX_ORDER + 1) == NULL);
	CHECK_EQ(errno, EINVAL);
}

static int bad_child(const char *what)
{
	char *p = at_alloc_pages(1);
	char buf[64];
	if (!strcmp(what, "double")) {
		at_free_pages(p, 1);
		snprintf(buf, sizeof buf, "%p", (void *)p);
		fprintf(stderr, "%s\n", buf);
		at_free_pages(p, 1);
	} else if (!strcmp(what, "middle")) {
		fprintf(stderr, "%p\n", (void *)(p + 4096));
		at_free_pages(p + 4096, 0);
	} else if (!strcmp(what, "order")) {
		fprintf(stderr, "%p\n", (void *)p);
		at_free_pages(p, 2);
	} else if (!strcmp(what, "foreign")) {
		static char not_ours[8192] __attribute__((aligned(4096)));
		fprintf(stderr, "%p\n", (void *)not_ours);
		at_free_pages(not_ours, 0);
	} else if (!strcmp(what, "unaligned")) {
		fprintf(stderr, "%p\n", (void *)(p + 8));
		at_free_pages(p + 8, 1);
	}
	return 0;
}

static void bad_frees(void)
{
	/* each child prints the address first, then alloctag's message must name it */
	const char *cases[][2] = {
		{"double", "double free (the block is already free)"},
		{"middle", "not the start of an allocated block"},
		{"order", "the block was allocated with order 1"},
		{"foreign", "not a block alloctag handed out"},
		{"unaligned", "not a block alloctag handed out"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		const char *args[] = {"--bad", cases[i][0], NULL};
		struct child_result r;
		run_child(&r, NULL, args);
		CHECK(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGABRT);
		char addr[64], want[256];
		CHECK(sscanf(r.err, "%63s", addr) == 1);
		const char *msg = strchr(r.err, '\n') + 1;
		snprintf(want, sizeof want, "alloctag: at_free_pages(%s", addr);
		if (strncmp(msg, want, strlen(want)) || !strstr(msg, cases[i][1])) {
			fprintf(stderr, "FAIL bad free %s: got \"%s\"\n", cases[i][0], msg);
			exit(1);
		}
	}
}

static void *capped_site(void)
{
	return at_alloc_pages(0);
}

static void capped_heap(void)
{
	/* ALLOCTAG_HEAP_MAX=4M: exactly 1024 pages, then ENOMEM; counters exact */
	static void *pages[2048];
	extern struct alloc_tag __start_alloc_tags[], __stop_alloc_tags[];
	int n = 0;
	errno = 0;
	while (n < 2048 && (pages[n] = capped_site()))
		n++;
	CHECK_EQ(n, 1024);
	CHECK_EQ(errno, ENOMEM);
	errno = 0;
	CHECK(at_alloc_pages(11) == NULL);
	CHECK_EQ(errno, ENOMEM);
	const struct alloc_tag *t = NULL;
	for (struct alloc_tag *x = __start_alloc_tags; x < __stop_alloc_tags; x++)
		if (!strcmp(x->function, "capped_site"))
			t = x;
	CHECK(t);
	CHECK_EQ(alloctag_read(t).bytes, 1024 * 4096);
	CHECK_EQ(alloctag_read(t).calls, 1024);
	at_free_pages(pages[7], 0);
	CHECK((pages[7] = capped_site()) != NULL); /* freed room is reusable */
	for (int i = 0; i < n; i++)
		at_free_pages(pages[i], 0);
	CHECK_EQ(alloctag_read(t).bytes, 0);
	CHECK_EQ(alloctag_read(t).calls, 0);
}

int main(int argc, char **argv)
{
	if (argc > 2 && !strcmp(argv[1], "--bad"))
		return bad_child(argv[2]);
	if (getenv("ALLOCTAG_HEAP_MAX")) {
		capped_heap();
		return 0;
	}
	split_and_coalesce();
	bad_frees();
	return 0;
}
