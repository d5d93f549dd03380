/*
 * Every size class through its slabs' windows (src/objects/slab.h): objects
 * of two tags interleaved over several slabs a class, half of one tag's
 * freed by another thread, everything freed and the slabs released and
 * reused by other classes (the classes in the opposite order).  Exact
 * counters throughout; each slab's window in the shadow, as large as its
 * class and width need (at_win_bytes); every
 * object has its tag in its entry; every slot never handed out reads free;
 * the fresh objects of a refill are handed out lowest first.
 */
#include <alloctag.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "cold_object.h"
#include "two_sites.h"
#include "window_sizes.h"
#include "objects/malloc_info.h"
#include "objects/slab.h"

#define PER 2600 /* objects a tag and class: two slabs of 48 bytes, 650 of 16 KiB */
static void *objs[2][AT_NR_CLASSES][PER];

static int64_t live[2][AT_NR_CLASSES];

static void want(void)
{
	for (int t = 0; t < 2; t++) {
		int64_t bytes = 0, calls = 0;
		for (unsigned int c = 1; c < AT_NR_CLASSES; c++) {
			bytes += live[t][c] * at_class_charge[c];
			calls += live[t][c];
		}
		struct alloctag_counters r = alloctag_read(t ? tag_b : tag_a);
		CHECK_EQ(r.bytes, bytes);
		CHECK_EQ(r.calls, calls);
	}
}

/* p's slab: its window where slab.h says, p past it, p's entry its tag. */
static void check_obj(void *p, unsigned int c, const struct alloc_tag *t)
{
	uint32_t cold_idx;
	if (cold_object(p, c, NULL, &cold_idx)) { /* a cold class's: no slab */
		CHECK_EQ(cold_idx, t->idx);
		return;
	}
	uintptr_t off = (uintptr_t)((char *)p - at_heap_base);
	uint64_t f = at_pages[(off >> AT_SLAB_SHIFT) << AT_SLAB_ORDER].flags;
	CHECK(f & AT_PG_SLAB);
	CHECK_EQ(at_page_class(f), c);
	int wide = (f & AT_PG_WIDE) != 0;
	struct at_slab *s = at_slab_of(off);
	CHECK(s->base == at_heap_base + (off & ~(AT_SLAB_SIZE - 1)));
	CHECK_EQ(s->cls, c);
	CHECK((char *)s >= at_meta_base && ((uintptr_t)s & 63) == 0);
	CHECK_EQ(window_sizes[c].size, at_class_size[c]);
	CHECK_EQ(s->nobj, window_sizes[c].nobj);
	CHECK((char *)at_slab_stack_slot(s, s->nobj - 1) == (char *)s - window_sizes[c].below);
	CHECK_EQ(at_win_bytes(c, wide), wide ? window_sizes[c].wide : window_sizes[c].narrow);
	uint32_t idx = at_obj_index(off, c);
	CHECK(idx < s->nobj);
	uint64_t e = at_obj_get(off, idx, wide);
	CHECK(e != 0);
	CHECK_EQ(at_obj_decode_idx(e, wide), t->idx);
	for (uint32_t i = s->fresh; i <= s->nobj; i++) /* never handed out: free */
		CHECK_EQ(wide ? ((uint64_t *)at_obj_entry(off))[i] : ((uint16_t *)at_obj_entry(off))[i], 0);
}

static void *free_half_b(void *arg)
{
	(void)arg;
	for (unsigned int c = 1; c < AT_NR_CLASSES; c++)
		for (int i = 0; i < PER && objs[1][c][i]; i += 2) {
			at_free(objs[1][c][i]);
			objs[1][c][i] = NULL;
			live[1][c]--;
		}
	return NULL;
}

int main(void)
{
	CHECK(alloctag_profiling());
	for (int round = 0; round < 2; round++) {
		/* the classes in the opposite order in the second round: units
		 * released by one class are reused by another */
		for (int i = 0; i < PER; i++)
			for (unsigned int k = 1; k < AT_NR_CLASSES; k++) {
				unsigned int c = round ? AT_NR_CLASSES - k : k;
				size_t n = at_class_size[c] - (round ? 8 : 0);
				if (c > 30 && i >= PER / 4)
					continue; /* the largest: fewer */
				CHECK(objs[0][c][i] = site_a(n));
				CHECK(objs[1][c][i] = site_b(n));
				live[0][c]++;
				live[1][c]++;
			}
		want();
		for (unsigned int c = 1; c < AT_NR_CLASSES; c++)
			for (int i = 0; i < PER; i++)
				if (objs[0][c][i]) {
					check_obj(objs[0][c][i], c, tag_a);
					check_obj(objs[1][c][i], c, tag_b);
				}
		/* the first objects of a class were handed out lowest first */
		CHECK((char *)objs[0][3][0] < (char *)objs[1][3][0]);
		CHECK((char *)objs[1][3][0] < (char *)objs[0][3][1]);
		pthread_t th;
		CHECK_EQ(pthread_create(&th, NULL, free_half_b, NULL), 0);
		CHECK_EQ(pthread_join(th, NULL), 0);
		want();
		for (unsigned int c = 1; c < AT_NR_CLASSES; c++)
			for (int i = 1; i < PER; i += 2)
				if (objs[1][c][i])
					check_obj(objs[1][c][i], c, tag_b);
		for (int t = 0; t < 2; t++)
			for (unsigned int c = 1; c < AT_NR_CLASSES; c++)
				for (int i = 0; i < PER; i++)
					if (objs[t][c][i]) {
						at_free(objs[t][c][i]);
						objs[t][c][i] = NULL;
						live[t][c]--;
					}
		want();
		CHECK_EQ(at_malloc_trim(0), 1);
		struct at_malloc_info mi;
		at_malloc_info(&mi);
		CHECK_EQ(mi.small_in_use, 0);
	}

	return 0;
}
