/*
 * A thread cache's bins start in their first regions (src/objects/tcache.h):
 * a new thread's bin holds AT_BIN_FIRST objects at most, in the heap's
 * first regions; a bin that would flush a full first region, or makes its
 * AT_BIN_GROW_REFILLS-th refill, moves to its own region of the class's
 * whole cap with its objects and their entry addresses; a class whose
 * whole cap is smaller never moves.  Every region lies in the low half of
 * one page, its entry addresses in the high half.  The tag's live bytes and
 * calls stay exact throughout.
 */
#include <alloctag.h>
#include <pthread.h>
#include <stdint.h>

#include "check.h"
#include "objects/slab.h"
#include "objects/tcache.h"

static struct alloc_tag *tag_a;

static __attribute__((noinline)) void *site_a(size_t n)
{
	DEFINE_ALLOC_TAG(t);
	tag_a = &t;
	return alloc_hooks_tag(t, at_malloc_noprof(n));
}

/* Bin c holds its objects, each with its own entry's address beside it. */
static void bin_holds_its_entries(const struct at_bin *b, unsigned int c)
{
	for (unsigned int i = 0; i < at_bin_count(b->word); i++) {
		uintptr_t off = (uintptr_t)((char *)b->slots[i] - at_heap_base);
		CHECK(at_bin_ents(b->slots)[i] == (uint16_t *)at_obj_entry(off) + at_obj_index(off, c));
		if (AT_LOAD_RELAXED(&at_store_mode) != AT_STORE_SIDE) /* wide entries: unused */
			CHECK_EQ(*at_bin_ents(b->slots)[i], 0);
	}
}

/* Every bin of h in the low half of one page of the slots, its entry
 * addresses in the high half (tcache.h): a push or a pop writes one page. */
static void bins_in_half_pages(struct at_theap *h)
{
	for (unsigned int c = 1; c < AT_NR_CLASSES; c++) {
		const struct at_bin *b = &h->bins[c];
		uintptr_t lo = (uintptr_t)b->slots, hi = (uintptr_t)(b->slots + b->cap) - 1;
		CHECK(lo >= (uintptr_t)h->slots);
		CHECK_EQ(lo / AT_PAGE_SIZE, hi / AT_PAGE_SIZE);
		CHECK(hi % AT_PAGE_SIZE < AT_PAGE_SIZE / 2);
		CHECK_EQ((uintptr_t)at_bin_ents(b->slots), lo + AT_PAGE_SIZE / 2);
	}
}

static void *thread(void *arg)
{
	(void)arg;
	void *p[64];
	/* a flush of a full first region: 48 bytes */
	unsigned int c = at_size_class(48);
	CHECK(p[0] = site_a(48));
	struct at_theap *h = at_tls_heap;
	CHECK((uintptr_t)h > 1);
	struct at_bin *b = &h->bins[c];
	CHECK_EQ(b->cap, AT_BIN_FIRST);
	CHECK(b->slots == at_bin_first_slots(h, c));
	CHECK(b->slots == h->slots + (c - 1) * AT_BIN_FIRST); /* classes 1-16: the first page */
	bins_in_half_pages(h);
	CHECK_EQ(at_bin_count(b->word), AT_BIN_FIRST / 2 - 1); /* a refill of half */
	for (int i = 1; i < 17; i++) /* refills at the 9th and 17th: 3 in all */
		CHECK(p[i] = site_a(48));
	CHECK_EQ(at_bin_count(b->word), AT_BIN_FIRST / 2 - 1);
	for (int i = 0; i < 17; i++) { /* the 10th free finds the bin full */
		if (i == 9)
			CHECK_EQ(b->cap, AT_BIN_FIRST);
		at_free(p[i]);
		bin_holds_its_entries(b, c);
	}
	CHECK_EQ(b->cap, AT_BIN_MAX);
	CHECK(b->slots >= h->slots + AT_BIN_FIRST_END);
	CHECK_EQ(at_bin_count(b->word), AT_BIN_FIRST / 2 - 1 + 17); /* nothing flushed */
	CHECK_EQ(alloctag_read(tag_a).bytes, 0);
	CHECK_EQ(alloctag_read(tag_a).calls, 0);

	/* the 4th refill: 256 bytes, 8 objects a refill, fresh slabs */
	c = at_size_class(256);
	b = &h->bins[c];
	for (int i = 0; i < 24; i++)
		CHECK(p[i] = site_a(256));
	CHECK_EQ(b->cap, AT_BIN_FIRST);
	CHECK_EQ(at_bin_count(b->word), 0);
	CHECK(p[24] = site_a(256));
	CHECK_EQ(b->cap, AT_BIN_MAX);
	CHECK_EQ(at_bin_count(b->word), AT_BIN_MAX / 2 - 1);
	bin_holds_its_entries(b, c);
	bins_in_half_pages(h);
	CHECK_EQ(alloctag_read(tag_a).bytes, 25 * 256);
	CHECK_EQ(alloctag_read(tag_a).calls, 25);
	for (int i = 0; i < 25; i++)
		at_free(p[i]);
	CHECK_EQ(alloctag_read(tag_a).bytes, 0);

	/* 8192 bytes: a whole cap of 8, never moved */
	c = at_size_class(8192);
	b = &h->bins[c];
	for (int i = 0; i < 64; i++)
		CHECK(p[i] = site_a(8192));
	CHECK_EQ(alloctag_read(tag_a).bytes, 64 * 8192);
	CHECK_EQ(alloctag_read(tag_a).calls, 64);
	for (int i = 0; i < 64; i++)
		at_free(p[i]);
	CHECK_EQ(b->cap, 8);
	CHECK(b->slots == at_bin_first_slots(h, c));
	bin_holds_its_entries(b, c);
	CHECK_EQ(alloctag_read(tag_a).bytes, 0);
	CHECK_EQ(alloctag_read(tag_a).calls, 0);
	return NULL;
}

int main(void)
{
	CHECK(alloctag_profiling());
	CHECK_EQ(at_class_size[at_size_class(8192)], 8192);
	CHECK_EQ(AT_SLAB_SIZE / 8192, 8); /* its bin's whole cap (tcache.c bin_cap) */
	pthread_t t;
	CHECK(pthread_create(&t, NULL, thread, NULL) == 0);
	CHECK(pthread_join(t, NULL) == 0);
	printf("bin first regions: ok\n");
	return 0;
}
