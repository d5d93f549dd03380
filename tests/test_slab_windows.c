/*
 * Slab metadata windows (src/objects/slab.h): each slab's window sized to
 * its class and width (at_win_bytes: its free stack below the header, the
 * entries above), handed out one after the other in the shadow, a released one
 * reused by its class and width.  Two tags interleave their objects in
 * the same slabs, small and large classes' windows side by side in the
 * shadow; another
 * thread frees half of them; the slabs are released and their units reused
 * by other classes.  Every object's entry names its own tag, every slot
 * never handed out reads free (whatever the unit's last slab left in its
 * window), no two windows overlap, every object a thread cache holds has
 * its own entry's address beside it, and every tag's counters are exact
 * throughout.
 */
#include <alloctag.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "cold_object.h"
#include "two_sites.h"
#include "window_sizes.h"
#include "objects/malloc_info.h"
#include "objects/slab.h"
#include "objects/tcache.h"

#define N 2400 /* per tag and size: about 40 slabs of 1088-byte objects */
#define NSIZES 5

/* classes 16, 1024, 4368, 16384, 48 */
static const size_t sizes[NSIZES] = {16, 1000, 4104, 16384, 40};
/* the second round's: 32, 768, 1088, 8192, 224 */
static const size_t sizes2[NSIZES] = {32, 700, 1088, 8000, 200};
static void *objs[2][NSIZES][N];

static void want(const struct alloc_tag *t, int64_t bytes, int64_t calls)
{
	struct alloctag_counters c = alloctag_read(t);
	CHECK_EQ(c.bytes, bytes);
	CHECK_EQ(c.calls, calls);
}

/* The tag index p's entry holds, read both ways (class given, and from
 * the head page's flags); the window's header describes p's slab. */
static uint32_t entry_idx(void *p)
{
	uint32_t cold_idx;
	if (cold_object(p, 0, NULL, &cold_idx)) /* a cold class's: no slab */
		return cold_idx;
	uintptr_t off = (uintptr_t)((char *)p - at_heap_base);
	uint64_t f = at_pages[(off >> AT_SLAB_SHIFT) << AT_SLAB_ORDER].flags;
	CHECK(f & AT_PG_SLAB);
	unsigned int cls = at_page_class(f);
	int w = (f & AT_PG_WIDE) != 0;
	struct at_slab *s = at_slab_of(off);
	CHECK(s->base == at_heap_base + (off & ~(AT_SLAB_SIZE - 1)));
	CHECK_EQ(s->cls, cls);
	CHECK_EQ(s->nobj, at_class_nobj[cls]);
	/* the window: in the shadow, the header 64-byte aligned, the stack
	 * below it */
	CHECK((char *)s >= at_meta_base && ((uintptr_t)s & 63) == 0);
	CHECK_EQ(s->wide, w);
	CHECK((char *)at_slab_stack_slot(s, s->nobj - 1) == (char *)s - window_sizes[cls].below);
	/* free's way to the entries: the head page's descriptor */
	CHECK((char *)at_pages[(off >> AT_SLAB_SHIFT) << AT_SLAB_ORDER].ents == (char *)s + AT_META_REFS);
	/* and free's class record, in the second descriptor */
	const struct at_page *head = &at_pages[(off >> AT_SLAB_SHIFT) << AT_SLAB_ORDER];
	CHECK_EQ(at_slab_magic(head), at_class_magic[cls]);
	CHECK_EQ(at_slab_bin(head), cls * AT_BIN_BYTES);
	CHECK_EQ(at_slab_class_of(head), cls);
	/* free's kind test: the flags' low byte alone tells a narrow slab */
	CHECK_EQ(at_slab_head_narrow(head), !w && !(f & AT_PG_SECURE));
	CHECK_EQ((uint8_t)f, AT_SLAB_NARROW_HEAD | (w ? AT_PG_WIDE : 0) | (f & AT_PG_SECURE));
	uint32_t idx = at_obj_index(off, cls);
	/* free's object-start check and index from the second descriptor's word */
	uintptr_t fidx = 0;
	CHECK(at_obj_locate_cls((uint16_t)off, &head[1].cls, &fidx));
	CHECK_EQ(fidx, idx);
	for (unsigned int d = 1; d < 16; d += 7)
		CHECK(!at_obj_locate_cls((uint16_t)(off + d), &head[1].cls, &fidx));
	CHECK(idx < s->nobj);
	if (!w) /* the fast paths' address, from the object's address */
		CHECK(at_obj_entry_of(p, idx) == (uint16_t *)at_obj_entry(off) + idx);
	uint64_t e = at_obj_get(off, idx, w);
	CHECK(e != 0);
	return at_obj_decode_idx(e, w);
}

/* [first, end) of the window bytes the slab of p uses (slab.h's layout). */
static void window_of(void *p, uintptr_t *first, uintptr_t *end)
{
	uintptr_t off = (uintptr_t)((char *)p - at_heap_base);
	unsigned int cls = at_page_class(at_pages[(off >> AT_SLAB_SHIFT) << AT_SLAB_ORDER].flags);
	struct at_slab *s = at_slab_of(off);
	*first = (uintptr_t)s - window_sizes[cls].below;
	*end = *first + (s->wide ? window_sizes[cls].wide : window_sizes[cls].narrow);
	CHECK(*end == (uintptr_t)((char *)at_obj_entry(off) + (s->wide ? 8u : 2u) * (s->nobj + 1u)));
	/* objects never handed out (and the tail's entry) read free, whatever
	 * an earlier slab or block of the unit left in the window */
	void *ents = at_obj_entry(off);
	for (uint32_t i = s->fresh; i <= s->nobj; i++)
		CHECK_EQ(s->wide ? ((uint64_t *)ents)[i] : ((uint16_t *)ents)[i], 0);
}

/* Every object in the thread's bins is free (its entry 0) and has its own
 * entry's address beside it (tcache.h at_bin_ents); returns how many. */
static unsigned int bins_hold_their_entries(void)
{
	struct at_theap *h = at_tls_heap;
	CHECK((uintptr_t)h > 1 && at_tls_bins == h->bins);
	unsigned int n = 0;
	for (unsigned int c = 1; c < AT_NR_CLASSES; c++) {
		struct at_bin *b = &h->bins[c];
		for (unsigned int i = 0; i < at_bin_count(b->word); i++, n++) {
			uintptr_t off = (uintptr_t)((char *)b->slots[i] - at_heap_base);
			CHECK(at_bin_ents(b->slots)[i] == (uint16_t *)at_obj_entry(off) + at_obj_index(off, c));
			CHECK_EQ(*at_bin_ents(b->slots)[i], 0);
		}
	}
	return n;
}

struct win {
	uintptr_t first, end;
};

static int cmp_win(const void *a, const void *b)
{
	const struct win *x = a, *y = b;
	return (x->first > y->first) - (x->first < y->first);
}

/* The windows of every slab holding a live object: no two overlap; and,
 * if shared, some small ones share a page (windows made one after the
 * other, not taken from a free list). */
static void windows_disjoint(size_t min_slabs, int shared)
{
	static struct win w[2 * NSIZES * N];
	size_t n = 0;
	for (int t = 0; t < 2; t++)
		for (int k = 0; k < NSIZES; k++)
			for (int i = 0; i < N; i++) {
				if (!objs[t][k][i] || cold_object(objs[t][k][i], 0, NULL, NULL))
					continue;
				window_of(objs[t][k][i], &w[n].first, &w[n].end);
				n++;
			}
	qsort(w, n, sizeof(*w), cmp_win);
	size_t distinct = 0, pages_shared = 0;
	for (size_t i = 1; i < n; i++) {
		if (w[i].first == w[i - 1].first) { /* the same slab */
			CHECK_EQ(w[i].end, w[i - 1].end);
			continue;
		}
		distinct++;
		CHECK(w[i].first >= w[i - 1].end);
		pages_shared += (w[i].first >> 12) == (w[i - 1].first >> 12);
	}
	CHECK(distinct >= min_slabs);
	CHECK(!shared || pages_shared > 0);
}

static int round;

static int64_t usable(int k)
{
	return at_class_size[at_size_class(round ? sizes2[k] : sizes[k])];
}

static void want_both(int64_t live_a[NSIZES], int64_t live_b[NSIZES])
{
	int64_t ba = 0, ca = 0, bb = 0, cb = 0;
	for (int k = 0; k < NSIZES; k++) {
		ba += live_a[k] * usable(k);
		ca += live_a[k];
		bb += live_b[k] * usable(k);
		cb += live_b[k];
	}
	want(tag_a, ba, ca);
	want(tag_b, bb, cb);
}

/* Another thread frees every other object of tag b (cross-thread frees). */
static void *free_half_b(void *arg)
{
	(void)arg;
	for (int k = 0; k < NSIZES; k++)
		for (int i = 0; i < N; i += 2) {
			at_free(objs[1][k][i]);
			objs[1][k][i] = NULL;
		}
	return NULL;
}

int main(void)
{
	CHECK(alloctag_profiling());
	/* free's tag compare takes an object's entry as read: a bin word's tag
	 * field is the narrow entry's form, and a free slot's 0 is no bin's */
	const uint32_t tags[] = {AT_IDX_NULL, AT_IDX_EMPTY, AT_IDX_FIRST, AT_OBJ_NARROW_MAX};
	for (unsigned int i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		uint64_t w = at_bin_word(tags[i], -3, 7);
		CHECK_EQ(at_bin_tag(w), tags[i]);
		CHECK_EQ(at_bin_count(w), 7);
		CHECK_EQ(at_bin_pend(w), -10);
		CHECK_EQ(at_bin_tag_narrow_at(&w), tags[i]);
		CHECK(at_bin_nent_is(&w, tags[i] + 1));
		CHECK(at_bin_tag_is_narrow(&w, tags[i]));
		CHECK(!at_bin_nent_is(&w, 0));
		CHECK(!at_bin_nent_is(&w, tags[i] + 2));
	}

	int64_t la[NSIZES] = {0}, lb[NSIZES] = {0};
	for (round = 0; round < 2; round++) {
		/* interleaved: a, b, a, b ... in every size, sizes interleaved too */
		for (int i = 0; i < N; i++)
			for (int k = 0; k < NSIZES; k++) {
				CHECK(objs[0][k][i] = site_a(round ? sizes2[k] : sizes[k]));
				CHECK(objs[1][k][i] = site_b(round ? sizes2[k] : sizes[k]));
				la[k]++;
				lb[k]++;
			}
		/* the layout's sizes (slab.h): stack, header, entries */
		CHECK_EQ(at_win_bytes(at_size_class(16), 0), 16450);
		CHECK_EQ(at_win_bytes(at_size_class(16), 1), 41032);
		CHECK_EQ(at_win_bytes(at_size_class(256), 0), 1090);
		CHECK_EQ(at_win_bytes(at_size_class(896), 0), 358);
		CHECK_EQ(at_win_bytes(at_size_class(16384), 0), 82);
		want_both(la, lb);
		for (int k = 0; k < NSIZES; k++)
			for (int i = 0; i < N; i++) {
				CHECK_EQ(entry_idx(objs[0][k][i]), tag_a->idx);
				CHECK_EQ(entry_idx(objs[1][k][i]), tag_b->idx);
			}
		windows_disjoint(200, round == 0);

		pthread_t th;
		CHECK_EQ(pthread_create(&th, NULL, free_half_b, NULL), 0);
		CHECK_EQ(pthread_join(th, NULL), 0);
		for (int k = 0; k < NSIZES; k++)
			lb[k] -= N / 2;
		want_both(la, lb);
		for (int k = 0; k < NSIZES; k++)
			for (int i = 1; i < N; i += 2)
				CHECK_EQ(entry_idx(objs[1][k][i]), tag_b->idx);

		/* everything back, the empty slabs released: their units are
		 * reused by the next round, in other classes' places */
		for (int t = 0; t < 2; t++)
			for (int k = 0; k < NSIZES; k++)
				for (int i = 0; i < N; i++) {
					at_free(objs[t][k][i]);
					objs[t][k][i] = NULL;
				}
		for (int k = 0; k < NSIZES; k++)
			la[k] = lb[k] = 0;
		want_both(la, lb);
		CHECK(bins_hold_their_entries() > 0);
		CHECK_EQ(at_malloc_trim(0), 1); /* empty slabs released */
		struct at_malloc_info mi;
		at_malloc_info(&mi);
		CHECK_EQ(mi.small_in_use, 0);
	}
	/* a released slab's window reads free: a slab of its class made again
	 * in a reused window hands every object out once, with no double free
	 * seen */
	round = 0;
	for (int i = 0; i < N; i++)
		CHECK(objs[0][1][i] = site_a(sizes[1]));
	la[1] = N;
	want_both(la, lb);
	windows_disjoint(30, 0);
	for (int i = 0; i < N; i++)
		at_free(objs[0][1][i]);
	la[1] = 0;
	want_both(la, lb);
	return 0;
}
