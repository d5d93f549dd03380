/*
 * A tag index too large for a narrow entry (src/slab.h): this test's copy of
 * the runtime is built with AT_OBJ_NARROW_MAX = 40, and the program has 64
 * call sites, so some of their indexes overflow.  Such an allocation is
 * served from a wide slab while the thread's bin, full of narrow objects,
 * keeps them: no object is ever handed out twice, and every count is exact.
 */
#include <alloctag.h>
#include <stdlib.h>

#include "check.h"
#include "objects/slab.h"

_Static_assert(AT_OBJ_NARROW_MAX == 40, "built with narrow entries up to index 40");

#define N 3000

#define S1(n) case (n): return at_malloc(40);
#define S4(n) S1(n) S1(n + 1) S1(n + 2) S1(n + 3)
#define S16(n) S4(n) S4(n + 4) S4(n + 8) S4(n + 12)
#define S64(n) S16(n) S16(n + 16) S16(n + 32) S16(n + 48)

/* 64 call sites of at_malloc(40) on one line, in section order. */
static __attribute__((noinline)) void *site(int i)
{
	switch (i) { S64(0) }
	return NULL;
}

/* The tag object p (live) was charged to, from its entry. */
static const struct alloc_tag *tag_of(void *p)
{
	uintptr_t off = (uintptr_t)((char *)p - at_heap_base);
	int w = (at_pages[(off >> AT_SLAB_SHIFT) << AT_SLAB_ORDER].flags & AT_PG_WIDE) != 0;
	uint64_t e = at_obj_get(off, at_obj_index_m(off, at_class_magic[at_size_class(40)]), w);
	CHECK(e != 0);
	return at_idx_to_ref(at_obj_decode_idx(e, w));
}

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
	return (x > y) - (x < y);
}

static int wide(void *p)
{
	uintptr_t off = (uintptr_t)((char *)p - at_heap_base);
	return (at_pages[(off >> AT_SLAB_SHIFT) << AT_SLAB_ORDER].flags & AT_PG_WIDE) != 0;
}

int main(void)
{
	static void *p[64 + N];
	CHECK(alloctag_profiling() && alloctag_compressed());
	/* One object from every site: those whose index does not fit come from
	 * a wide slab, the others from the thread's bin of narrow objects. */
	int lo = -1, nhi = 0;
	for (int i = 0; i < 64; i++) {
		CHECK(p[i] = site(i));
		const struct alloc_tag *t = tag_of(p[i]);
		CHECK(t != NULL);
		CHECK_EQ(wide(p[i]), t->idx > AT_OBJ_NARROW_MAX);
		CHECK_EQ(alloctag_read(t).calls, 1);
		CHECK_EQ(alloctag_read(t).bytes, 48);
		nhi += t->idx > AT_OBJ_NARROW_MAX;
		if (t->idx <= AT_OBJ_NARROW_MAX)
			lo = i;
	}
	CHECK(lo >= 0 && nhi > 0);
	const struct alloc_tag *tlo = tag_of(p[lo]);
	for (int i = 64; i < 64 + N; i++) /* the bin's objects, and refills */
		CHECK(p[i] = site(lo));
	CHECK_EQ(alloctag_read(tlo).calls, N + 1);
	CHECK_EQ(alloctag_read(tlo).bytes, (N + 1) * 48ll);

	const struct alloc_tag *tags[64];
	for (int i = 0; i < 64; i++)
		tags[i] = tag_of(p[i]);
	qsort(p, 64 + N, sizeof(*p), cmp_ptr); /* every object handed out once */
	for (int i = 1; i < 64 + N; i++)
		CHECK(p[i] != p[i - 1]);
	for (int i = 0; i < 64 + N; i++)
		at_free(p[i]);
	for (int i = 0; i < 64; i++) {
		CHECK_EQ(alloctag_read(tags[i]).calls, 0);
		CHECK_EQ(alloctag_read(tags[i]).bytes, 0);
	}
	printf("ok (%d sites overflow)\n", nhi);
	return 0;
}
