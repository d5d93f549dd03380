/*
 * Cold classes (src/objects/slab.h): a class from AT_COLD_SIZE (4096) up
 * takes its objects from the page allocator while fewer than AT_COLD_LIVE
 * are live and fewer than AT_COLD_MAX were taken.  Checked
 * exactly: the first object of every such class is a block of the smallest
 * order that holds the class (4096: one page; 4368 to 8192: two; 10240 to
 * 16384: four), page-aligned, its head's class field its class, its tag in
 * its block's reference, its usable size and charge the class's; a freed
 * one's block is the next block of its order another class gets (the
 * sizes share freed pages); a free from another thread uncharges it
 * exactly; realloc keeps one in place within its class and moves it
 * otherwise, charging the move; calloc clears a reused one; with
 * AT_COLD_LIVE of a class live the next comes from a slab, and after
 * AT_COLD_MAX in all every one does.  With `--secure` (run
 * under ALLOCTAG_SECURE=1) every object comes from a slab.  Exact counters
 * throughout.
 */
#include <alloctag.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "cold_object.h"
#include "two_sites.h"
#include "objects/malloc_info.h"
#include "objects/slab.h"

static void want(const struct alloc_tag *t, int64_t bytes, int64_t calls)
{
	struct alloctag_counters c = alloctag_read(t);
	CHECK_EQ(c.bytes, bytes);
	CHECK_EQ(c.calls, calls);
}

static unsigned int order_of_block(const void *p)
{
	uintptr_t off = (uintptr_t)((const char *)p - at_heap_base);
	return at_page_order(at_pages[off >> AT_PAGE_SHIFT].flags);
}

static void *freer(void *p)
{
	at_free(p);
	return NULL;
}

static struct alloc_tag *tag_r;

static __attribute__((noinline)) void *site_r(void *p, size_t n)
{
	DEFINE_ALLOC_TAG(t);
	tag_r = &t;
	return alloc_hooks_tag(t, at_realloc_noprof(p, n));
}

static __attribute__((noinline)) void *site_c(size_t n)
{
	DEFINE_ALLOC_TAG(t);
	tag_r = &t;
	return alloc_hooks_tag(t, at_calloc_noprof(1, n));
}

int main(int argc, char **argv)
{
	int secure = argc > 1 && !strcmp(argv[1], "--secure");
	CHECK(alloctag_profiling());
	CHECK_EQ(at_class_size[AT_COLD_CLS], AT_COLD_SIZE);
	CHECK_EQ(at_class_size[AT_COLD_CLS - 1], 3584); /* below: slabs only */

	/* The first object of every class from 4096 up. */
	static void *first[AT_NR_CLASSES];
	int64_t bytes = 0, calls = 0;
	for (unsigned int c = AT_COLD_CLS - 1; c < AT_NR_CLASSES; c++) {
		/* its usable size: class c (the stricter heap's class tables,
		 * secure.c, may give another) */
		size_t n = at_class_charge[c];
		unsigned int k = at_size_class(n);
		if (!secure)
			CHECK_EQ(k, c);
		void *p = first[c] = site_a(n);
		CHECK(p);
		unsigned int cls;
		uint32_t idx;
		int cold = cold_object(p, k, &cls, &idx);
		CHECK_EQ(cold, !secure && c >= AT_COLD_CLS);
		if (cold) {
			CHECK_EQ(idx, tag_a->idx);
			unsigned int pages = (at_class_size[c] + 4095) / 4096;
			CHECK_EQ(order_of_block(p), pages == 1 ? 0u : pages == 2 ? 1u : 2u);
		}
		CHECK_EQ(at_usable_size(p), at_class_charge[k]);
		memset(p, 0xA5, n);
		bytes += at_class_charge[k];
		calls++;
		want(tag_a, bytes, calls);
	}
	struct at_malloc_info mi;
	at_malloc_info(&mi);
	CHECK(mi.small_in_use >= (size_t)bytes); /* cold objects count as small */

	/* Freed pages go to another size: a 5040-byte object freed, a 6544-byte
	 * one (another class, the same order) gets its block. */
	void *q = site_b(5000);
	want(tag_b, at_class_charge[at_size_class(5000)], 1);
	at_free(q);
	want(tag_b, 0, 0);
	void *r = site_b(6000);
	want(tag_b, at_class_charge[at_size_class(6000)], 1);
	if (!secure)
		CHECK(r == q);

	/* A free from another thread uncharges exactly. */
	pthread_t th;
	size_t u = at_usable_size(first[38]);
	CHECK_EQ(pthread_create(&th, NULL, freer, first[38]), 0);
	CHECK_EQ(pthread_join(th, NULL), 0);
	bytes -= (int64_t)u;
	calls--;
	want(tag_a, bytes, calls);
	first[38] = NULL;

	/* realloc: in place within the class (more than half of it), the
	 * object keeping its tag and charge; else moved, the move charged. */
	CHECK(site_r(first[AT_COLD_CLS], 3000) == first[AT_COLD_CLS]);
	want(tag_a, bytes, calls);
	CHECK_EQ(((unsigned char *)first[AT_COLD_CLS])[2999], 0xA5);
	u = at_usable_size(first[AT_COLD_CLS]);
	void *g = site_r(first[AT_COLD_CLS], 9000); /* 10240: moved */
	CHECK(g != first[AT_COLD_CLS]);
	CHECK_EQ(((unsigned char *)g)[2999], 0xA5);
	bytes -= (int64_t)u;
	calls--;
	want(tag_a, bytes, calls);
	want(tag_r, at_class_charge[at_size_class(9000)], 1);
	CHECK_EQ(cold_object(g, 38, NULL, NULL), !secure);
	first[AT_COLD_CLS] = NULL;
	at_free(g);
	want(tag_r, 0, 0);

	/* calloc of a block that held data: cleared. */
	void *z = site_c(16000);
	want(tag_r, at_class_charge[at_size_class(16000)], 1);
	CHECK_EQ(cold_object(z, 41, NULL, NULL), !secure);
	for (size_t i = 0; i < 16000; i++)
		CHECK_EQ(((unsigned char *)z)[i], 0);
	at_free(z);
	want(tag_r, 0, 0);

	/* Class 40 (14336): its first object above, then AT_COLD_LIVE - 1
	 * more from the page allocator, then (AT_COLD_LIVE live) slabs'. */
	static void *more[AT_COLD_LIVE + 1];
	for (int i = 0; i < AT_COLD_LIVE; i++) {
		CHECK(more[i] = site_b(14000));
		CHECK_EQ(cold_object(more[i], 40, NULL, NULL), !secure && i < AT_COLD_LIVE - 1);
	}
	want(tag_b, at_class_charge[at_size_class(6000)] + (int64_t)AT_COLD_LIVE * at_class_charge[at_size_class(14000)],
	     AT_COLD_LIVE + 1);
	CHECK(more[AT_COLD_LIVE] = site_b(14000));
	CHECK_EQ(cold_object(more[AT_COLD_LIVE], 40, NULL, NULL), 0);
	want(tag_b, at_class_charge[at_size_class(6000)] + (int64_t)(AT_COLD_LIVE + 1) * at_class_charge[at_size_class(14000)],
	     AT_COLD_LIVE + 2);
	for (int i = 0; i < AT_COLD_LIVE + 1; i++)
		at_free(more[i]);

	/* Class 39 (12288): AT_COLD_MAX objects from the page allocator in
	 * all (its first above), one at a time, then slabs for good. */
	for (int i = 1; i < AT_COLD_MAX; i++) {
		void *x = site_b(12000);
		CHECK_EQ(cold_object(x, 39, NULL, NULL), !secure);
		at_free(x);
	}
	at_free(first[39]);
	first[39] = NULL;
	void *w = site_b(12000);
	CHECK_EQ(cold_object(w, 39, NULL, NULL), 0);
	want(tag_b, at_class_charge[at_size_class(6000)] + at_class_charge[at_size_class(12000)], 2);
	at_free(w);
	at_free(r);
	want(tag_b, 0, 0);
	for (unsigned int c = 1; c < AT_NR_CLASSES; c++)
		at_free(first[c]);
	want(tag_a, 0, 0);
	at_malloc_info(&mi);
	CHECK_EQ(mi.small_in_use, 0);
	return 0;
}
