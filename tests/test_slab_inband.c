/*
 * In-band slab windows (src/objects/slab.h): every size class, objects of
 * two tags interleaved over several slabs a class, half of one tag's freed
 * by another thread, everything freed and the slabs released and reused by
 * other classes.  Exact counters throughout; a narrow slab of the classes
 * from AT_INBAND_CLS below AT_COMPACT_CLS has its header and entries over
 * its first objects, which are never handed out; every object has its tag
 * in its entry; the fresh objects of a refill are handed out lowest first.
 * A free of the slot under an in-band header is refused with one line
 * (child process), as any never-allocated slot's; a header overwritten is
 * found at the next refill from its slab, with one line.
 */
#include <alloctag.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "two_sites.h"
#include "child.h"
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
	uintptr_t off = (uintptr_t)((char *)p - at_heap_base);
	uint64_t f = at_pages[(off >> AT_SLAB_SHIFT) << AT_SLAB_ORDER].flags;
	CHECK(f & AT_PG_SLAB);
	CHECK_EQ(at_page_class(f), c);
	int wide = (f & AT_PG_WIDE) != 0;
	struct at_slab *s = at_slab_of(off);
	int inband = !wide && c >= AT_INBAND_CLS && c < AT_COMPACT_CLS;
	CHECK_EQ(s->first, inband ? at_class_first[c] : 0);
	if (inband) {
		CHECK((char *)s == s->base);
		/* the header and entries end in the first object handed out's slot */
		uintptr_t end = AT_META_REFS + 2u * (s->nobj + 1u);
		CHECK(end <= (uintptr_t)s->first * at_class_size[c]);
		CHECK(end > (uintptr_t)(s->first - 1) * at_class_size[c]);
	}
	uint32_t idx = at_obj_index(off, c);
	CHECK(idx >= s->first && idx < s->nobj);
	uint64_t e = at_obj_get(off, idx, wide);
	CHECK(e != 0);
	CHECK_EQ(at_obj_decode_idx(e, wide), t->idx);
	for (uint32_t i = 0; i < s->first; i++) /* never handed out: free */
		CHECK_EQ(((uint16_t *)at_obj_entry(off))[i], 0);
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

static void bad_free(void)
{
	void *p = at_malloc_noprof(40); /* class 48: in-band (narrow) */
	char *base = (char *)((uintptr_t)p & ~(AT_SLAB_SIZE - 1));
	CHECK_EQ(at_slab_of((uintptr_t)(base - at_heap_base))->first, at_class_first[at_size_class(40)]);
	printf("%p\n", (void *)base);
	fflush(stdout);
	at_free(base); /* object 0: under the header */
	_exit(0);
}

/* A stray write over an in-band header (its count of objects handed out
 * set back, as if to hand live objects out again): the next refill from
 * the slab stops, naming it. */
static void corrupt_header(void)
{
	void *p = at_malloc_noprof(40);
	char *base = (char *)((uintptr_t)p & ~(AT_SLAB_SIZE - 1));
	printf("%p\n", (void *)base);
	fflush(stdout);
	((struct at_slab *)base)->fresh = 0;
	for (int i = 0; i < 1000; i++)
		CHECK(at_malloc_noprof(40));
	_exit(0);
}

int main(int argc, char **argv)
{
	CHECK(alloctag_profiling());
	if (argc > 1 && !strcmp(argv[1], "bad_free"))
		bad_free();
	if (argc > 1 && !strcmp(argv[1], "corrupt_header"))
		corrupt_header();
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

	if (!getenv("ALLOCTAG") || !strstr(getenv("ALLOCTAG"), "uncompressed")) {
		struct child_result r;
		const char *const args[] = {"bad_free", NULL};
		run_child(&r, NULL, args);
		CHECK(WIFSIGNALED(r.status) || (WIFEXITED(r.status) && WEXITSTATUS(r.status) != 0));
		char base[64], line[256];
		CHECK_EQ(sscanf(r.out, "%63s", base), 1);
		snprintf(line, sizeof(line),
			 "alloctag: free(%s): double free (the slot is free: freed before, or never handed out)\n",
			 base);
		CHECK_STREQ(r.err, line);
		const char *const args2[] = {"corrupt_header", NULL};
		run_child(&r, NULL, args2);
		CHECK(WIFSIGNALED(r.status) || (WIFEXITED(r.status) && WEXITSTATUS(r.status) != 0));
		CHECK_EQ(sscanf(r.out, "%63s", base), 1);
		snprintf(line, sizeof(line),
			 "alloctag: the metadata of a slab at %s is corrupt (a heap underflow or stray "
			 "write?)\n",
			 base);
		CHECK_STREQ(r.err, line);
	}
	return 0;
}
