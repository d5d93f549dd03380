/*
 * Where realloc puts the object it moves away from (src/objects/malloc.c,
 * realloc_free_old): a slab object of 1 KiB or more that grows by a quarter
 * or less goes back to its slab once the thread's bin of its class holds
 * 16 KiB, the bin untouched; before that, and for a larger jump or a
 * smaller object, to the bin as free's does.  The buffer's bytes survive
 * every move, and the charges stay exact: the realloc site holds the
 * block's usable size and one call throughout.  (One thread: the class
 * lock, only tried, is always free.)
 */
#include <alloctag.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "objects/slab.h"
#include "objects/tcache.h"

static struct alloc_tag *tag_m, *tag_r;

static __attribute__((noinline)) void *site_m(size_t n)
{
	DEFINE_ALLOC_TAG(t);
	tag_m = &t;
	return alloc_hooks_tag(t, at_malloc_noprof(n));
}

static __attribute__((noinline)) void *site_r(void *p, size_t n)
{
	DEFINE_ALLOC_TAG(t);
	tag_r = &t;
	return alloc_hooks_tag(t, at_realloc_noprof(p, n));
}

static void check_charge(struct alloc_tag *tag, long long bytes, long long calls)
{
	struct alloctag_counters c = alloctag_read(tag);
	CHECK_EQ(c.bytes, bytes);
	CHECK_EQ(c.calls, calls);
}

static unsigned int bin_count(struct at_theap *h, unsigned int cls)
{
	return (unsigned int)at_bin_count(h->bins[cls].word);
}

static struct at_slab *slab_of(const void *p)
{
	return at_slab_of((uintptr_t)((const char *)p - at_heap_base));
}

/* p is a slab's object (not a cold class's block, slab.h) */
static int in_slab(const void *p)
{
	uintptr_t off = (uintptr_t)((const char *)p - at_heap_base);
	return (at_pages[(off >> AT_SLAB_SHIFT) << AT_SLAB_ORDER].flags & AT_PG_SLAB) != 0;
}

/* p's first n bytes hold the buffer's pattern */
static int holds(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != (unsigned char)(i * 7 + 3))
			return 0;
	return 1;
}

static void fill(unsigned char *p, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		p[i] = (unsigned char)(i * 7 + 3);
}

#define BIN_KEEP 16384u /* malloc.c REALLOC_BIN_KEEP */

/* The bytes of class cls that h's bin holds. */
static size_t bin_bytes(struct at_theap *h, unsigned int cls)
{
	return (size_t)bin_count(h, cls) * at_class_size[cls];
}

/* Frees of 40 objects of each class from 512 bytes up to the cold classes
 * (slab.h), so that each class's bin holds 16 KiB and one object more. */
static void fill_bins(struct at_theap *h)
{
	void *q[40];
	for (unsigned int c = at_size_class(512); c < at_size_class(4096); c++) {
		for (int i = 0; i < 40; i++)
			CHECK(q[i] = site_m(at_class_size[c]));
		for (int i = 0; i < 40; i++)
			at_free(q[i]);
		CHECK(bin_bytes(h, c) >= BIN_KEEP + at_class_size[c]);
	}
	check_charge(tag_m, 0, 0);
}

/* A buffer grown 48 bytes at a time from 1 KiB into a large block: each
 * move leaves its old object in its slab when the bin of its class held
 * 16 KiB, else in the bin (a cold class's block: the page allocator's);
 * the moves to slabs and to bins counted in *to_slab and *to_bin. */
static void small_steps(struct at_theap *h, unsigned int *to_slab, unsigned int *to_bin)
{
	size_t len = 1024;
	unsigned char *p = site_m(len);
	CHECK(p);
	fill(p, 0, len);
	unsigned int moves = 0;
	*to_slab = *to_bin = 0;
	while (len < 20000) {
		size_t old_usable = at_usable_size(p);
		/* a large block's: no class (its bin 0, empty) */
		unsigned int cls = old_usable <= AT_SMALL_MAX ? at_size_class(old_usable) : 0;
		unsigned int in_bin = bin_count(h, cls);
		int keep = bin_bytes(h, cls) >= BIN_KEEP;
		struct at_slab *s = in_slab(p) ? slab_of(p) : NULL;
		unsigned int used = s ? s->used : 0;
		unsigned char *q = site_r(p, len + 48);
		CHECK(q);
		if (q != p) {
			moves++;
			if (s && keep) {
				++*to_slab;
				CHECK_EQ(bin_count(h, cls), in_bin); /* not in the bin */
				CHECK_EQ(s->used, used - 1);        /* back in its slab */
			} else if (s) {
				++*to_bin;
				CHECK_EQ(bin_count(h, cls), in_bin + 1);
				CHECK_EQ(s->used, used);
			} else {
				CHECK_EQ(bin_count(h, cls), in_bin);
			}
		}
		CHECK(holds(q, len));
		fill(q, len, len + 48);
		p = q;
		len += 48;
		/* the realloc site holds the block, one call; malloc's is empty */
		check_charge(tag_r, (long long)at_usable_size(p), 1);
		check_charge(tag_m, 0, 0);
	}
	/* a move out of each class from 1024 to 16384 bytes, the last into a
	 * large block; the classes below 4096 from slabs */
	unsigned int classes = 0;
	for (unsigned int c = 1; c < AT_NR_CLASSES; c++)
		classes += at_class_size[c] >= 1024;
	CHECK_EQ(moves, classes);
	CHECK_EQ(*to_slab + *to_bin, at_size_class(4096) - at_size_class(1024));
	CHECK_EQ(at_usable_size(p), 32768);
	CHECK(holds(p, len));
	at_free(p);
	check_charge(tag_r, 0, 0);
}

/* A jump of more than a quarter, and a small object's step: the bin,
 * though it holds 16 KiB of the class. */
static void to_the_bin(struct at_theap *h)
{
	unsigned char *p = site_m(2048);
	CHECK(p);
	fill(p, 0, 2048);
	unsigned int cls = at_size_class(2048);
	unsigned int in_bin = bin_count(h, cls);
	CHECK(bin_bytes(h, cls) >= BIN_KEEP);
	unsigned char *q = site_r(p, 2048 + 513);
	CHECK(q && q != p && holds(q, 2048));
	CHECK_EQ(bin_count(h, cls), in_bin + 1);
	check_charge(tag_r, 3072, 1);
	check_charge(tag_m, 0, 0);
	at_free(q);

	p = site_m(512);
	CHECK(p);
	fill(p, 0, 512);
	cls = at_size_class(512);
	in_bin = bin_count(h, cls);
	CHECK(bin_bytes(h, cls) >= BIN_KEEP);
	q = site_r(p, 520);
	CHECK(q && q != p && holds(q, 512));
	CHECK_EQ(bin_count(h, cls), in_bin + 1);
	check_charge(tag_r, 640, 1);
	at_free(q);
	check_charge(tag_r, 0, 0);
	check_charge(tag_m, 0, 0);
}

/* A new thread's bins hold less than 16 KiB of some classes and more of
 * others (a refill takes half a bin): both kinds of move. */
static void *fresh_thread(void *arg)
{
	(void)arg;
	void *first = at_malloc(16); /* the thread's heap */
	struct at_theap *h = at_tls_heap;
	CHECK((uintptr_t)h > 1);
	unsigned int to_slab, to_bin;
	small_steps(h, &to_slab, &to_bin);
	CHECK(to_slab > 0 && to_bin > 0);
	at_free(first);
	return NULL;
}

/* Bins holding 16 KiB of each class: every move to a slab. */
static void *filled_thread(void *arg)
{
	(void)arg;
	void *first = at_malloc(16);
	struct at_theap *h = at_tls_heap;
	CHECK((uintptr_t)h > 1);
	fill_bins(h);
	unsigned int to_slab, to_bin;
	small_steps(h, &to_slab, &to_bin);
	CHECK_EQ(to_bin, 0);
	to_the_bin(h);
	at_free(first);
	return NULL;
}

int main(void)
{
	CHECK(alloctag_profiling());
	pthread_t t;
	CHECK(pthread_create(&t, NULL, fresh_thread, NULL) == 0);
	CHECK(pthread_join(t, NULL) == 0);
	CHECK(pthread_create(&t, NULL, filled_thread, NULL) == 0);
	CHECK(pthread_join(t, NULL) == 0);
	printf("realloc growth: ok\n");
	return 0;
}
