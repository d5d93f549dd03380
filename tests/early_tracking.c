/*
 * Early pages: more than 100,000 pages allocated from several threads before
 * alloctag_init() (in a constructor that runs before the runtime's), every
 * one recorded (no cap, no loss, no partly filled tracking page but the
 * last); the hand-over gives exactly the still-live, unre-tagged ones the
 * empty reference.  In the window between "store ready" and the hand-over
 * (the internal test hook) one early page is freed and re-allocated with a
 * real tag (it keeps it), one likewise with no tag (it stays without a
 * reference: it is not an early page any more), one is re-tagged (it keeps its tag), one is freed.
 * Before that, still early, one page is freed and re-allocated early: it is
 * an early page again and is emptied like the others.
 *
 * Run with ALLOCTAG unset (compressed), "1,uncompressed" (side table) and
 * "never" (the records are discarded).
 */
#pragma GCC diagnostic ignored "-Wprio-ctor-dtor"
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "store/charge.h"
#include "check.h"
#include "pages/early.h"

#define THREADS 4
#define PER_THREAD 30000 /* allocations per thread; every 4th frees the previous page */

static struct alloc_tag *tag_early, *tag_ready, *tag_retag;

static void *alloc_early(void)
{
	DEFINE_ALLOC_TAG(t);
	__atomic_store_n(&tag_early, &t, __ATOMIC_RELAXED);
	return alloc_hooks_tag(t, at_alloc_pages_noprof(0));
}

static void *alloc_ready(void)
{
	DEFINE_ALLOC_TAG(t);
	__atomic_store_n(&tag_ready, &t, __ATOMIC_RELAXED);
	return alloc_hooks_tag(t, at_alloc_pages_noprof(0));
}

static void retag_site(void)
{
	DEFINE_ALLOC_TAG(t);
	__atomic_store_n(&tag_retag, &t, __ATOMIC_RELAXED);
}

struct worker {
	pthread_t th;
	uintptr_t *allocs; /* every address handed out */
	size_t nallocs;
	uintptr_t *live;
	size_t nlive;
};

static struct worker workers[THREADS];
static uintptr_t *all_allocs, *live; /* sorted after the constructor */
static size_t n_all, n_live;
static uintptr_t page_e, page_x, page_y, page_z, page_w;
static int never;

static void *work(void *arg)
{
	struct worker *w = arg;
	for (int k = 0; k < PER_THREAD; k++) {
		void *p = alloc_early();
		CHECK(p != NULL);
		w->allocs[w->nallocs++] = (uintptr_t)p;
		if (k % 4 == 3) {
			at_free_pages((void *)w->live[--w->nlive], 0);
		}
		w->live[w->nlive++] = (uintptr_t)p;
	}
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
	return x < y ? -1 : x > y;
}

static int is_live(uintptr_t p)
{
	return bsearch(&p, live, n_live, sizeof(*live), cmp) != NULL;
}

static size_t count_allocs(uintptr_t p)
{
	size_t n = 0;
	uintptr_t *q = bsearch(&p, all_allocs, n_all, sizeof(*all_allocs), cmp);
	if (!q)
		return 0;
	while (q > all_allocs && q[-1] == p)
		q--;
	while (q < all_allocs + n_all && *q++ == p)
		n++;
	return n;
}

/* The k-th live page (from index `from`) whose order-0 buddy is live too. */
static uintptr_t live_with_live_buddy(size_t from, size_t *at)
{
	for (size_t i = from; i < n_live; i++) {
		uintptr_t p = live[i];
		if (is_live(p ^ AT_PAGE_SIZE) && at_addr_to_pfn((void *)p) < (1u << AT_MAX_ORDER)) {
			*at = i;
			return p;
		}
	}
	CHECK(!"no live page with a live buddy in arena 0");
	return 0;
}

static void sort_sets(void)
{
	qsort(all_allocs, n_all, sizeof(*all_allocs), cmp);
	qsort(live, n_live, sizeof(*live), cmp);
}

/* Runs with at_state == READY, before recording closes. */
static void hook(void)
{
	CHECK_EQ(at_state, AT_STATE_READY);
	CHECK(!AT_LOAD(&at_early_handed_over));
	size_t at;
	page_x = live_with_live_buddy(n_live / 2, &at);
	size_t at_w;
	page_w = live_with_live_buddy(at + 1, &at_w);
	page_y = live[(at_w + 7) % n_live];
	page_z = live[(at_w + 13) % n_live];
	uintptr_t all[5] = {page_e, page_x, page_w, page_y, page_z};
	for (int i = 0; i < 5; i++)
		for (int j = i + 1; j < 5; j++)
			CHECK(all[i] != all[j]);

	/* X: freed and re-allocated now that the store is ready: a real tag. */
	at_free_pages((void *)page_x, 0);
	CHECK(alloc_ready() == (void *)page_x);
	CHECK_EQ(at_page_ref_get(at_addr_to_pfn((void *)page_x)), tag_ready);

	/* W: the same with no current tag: no reference, and not an early page. */
	at_free_pages((void *)page_w, 0);
	CHECK(at_alloc_pages_noprof(0) == (void *)page_w);
	CHECK_EQ(at_page_ref_get(at_addr_to_pfn((void *)page_w)), AT_REF_NONE);

	/* Y: re-tagged (an owner hands it over to another call site). */
	retag_site();
	at_page_ref_update(at_addr_to_pfn((void *)page_y), tag_retag);
	at_charge(tag_retag, AT_PAGE_SIZE);

	/* Z: freed. */
	at_free_pages((void *)page_z, 0);
}

__attribute__((constructor(100))) static void early_ctor(void)
{
	CHECK_EQ(at_state, AT_STATE_EARLY);
	const char *env = getenv("ALLOCTAG");
	never = env && !strcmp(env, "never");
	for (int i = 0; i < THREADS; i++) {
		workers[i].allocs = malloc(PER_THREAD * sizeof(uintptr_t));
		workers[i].live = malloc(PER_THREAD * sizeof(uintptr_t));
		CHECK(pthread_create(&workers[i].th, NULL, work, &workers[i]) == 0);
	}
	all_allocs = malloc((THREADS * PER_THREAD + 1) * sizeof(uintptr_t));
	live = malloc(THREADS * PER_THREAD * sizeof(uintptr_t));
	for (int i = 0; i < THREADS; i++) {
		CHECK(pthread_join(workers[i].th, NULL) == 0);
		memcpy(all_allocs + n_all, workers[i].allocs, workers[i].nallocs * sizeof(uintptr_t));
		n_all += workers[i].nallocs;
		memcpy(live + n_live, workers[i].live, workers[i].nlive * sizeof(uintptr_t));
		n_live += workers[i].nlive;
	}
	sort_sets();

	/* E: freed and re-allocated while still early. */
	size_t at;
	page_e = live_with_live_buddy(0, &at);
	at_free_pages((void *)page_e, 0);
	CHECK(alloc_early() == (void *)page_e);
	all_allocs[n_all++] = page_e;
	sort_sets();

	CHECK_EQ(at_state, AT_STATE_EARLY);
	at_early_test_hook = hook;
}

int main(void)
{
	struct at_early_stats *st = &at_early_stats;
	CHECK(AT_LOAD(&at_early_handed_over));
	CHECK_EQ(n_all, THREADS * PER_THREAD + 1);
	CHECK(n_all > 100000);

	/* No cap, no loss: every early allocation has its entry. */
	CHECK_EQ(st->recorded, n_all);
	CHECK_EQ(st->lost, 0);
	CHECK_EQ(st->direct, 0);
	/* No partly filled tracking page but the last. */
	CHECK_EQ(st->tracking_pages, (n_all + AT_EARLY_PER_PAGE - 1) / AT_EARLY_PER_PAGE);
	CHECK(tag_early->flags & ALLOCTAG_FLAG_INACCURATE);

	if (never) {
		CHECK_EQ(at_state, AT_STATE_NEVER);
		CHECK_EQ(st->cleared + st->repeat + st->kept + st->gone, 0);
		for (size_t i = 0; i < n_live; i++)
			at_free_pages((void *)live[i], 0);
		printf("never: %llu entries in %llu tracking pages (%llu races lost) discarded\n",
		       (unsigned long long)st->recorded, (unsigned long long)st->tracking_pages,
		       (unsigned long long)st->races);
		return 0;
	}

	/* Exactly the still-live, unre-tagged early pages were emptied. */
	size_t want_cleared = 0, want_repeat = 0;
	for (size_t i = 0; i < n_live; i++) {
		uintptr_t p = live[i];
		uint32_t pfn = at_addr_to_pfn((void *)p);
		uint64_t f = at_pages[pfn].flags;
		if (p == page_x) {
			CHECK(!(f & AT_PG_EARLY));
			CHECK_EQ(at_page_ref_get(pfn), tag_ready);
			continue;
		}
		if (p == page_w) {
			CHECK(!(f & AT_PG_EARLY));
			CHECK_EQ(at_page_ref_get(pfn), AT_REF_NONE);
			continue;
		}
		if (p == page_z)
			continue;
		CHECK_EQ(f & (AT_PG_HEAD | AT_PG_EARLY), AT_PG_HEAD | AT_PG_EARLY);
		if (p == page_y) {
			CHECK_EQ(at_page_ref_get(pfn), tag_retag);
			continue;
		}
		CHECK_EQ(at_page_ref_get(pfn), AT_REF_EMPTY);
		want_cleared++;
		want_repeat += count_allocs(p) - 1;
	}
	CHECK(count_allocs(page_e) >= 2);
	CHECK_EQ(st->cleared, want_cleared);
	CHECK_EQ(st->repeat, want_repeat);
	CHECK_EQ(st->kept, count_allocs(page_y));
	CHECK_EQ(st->recorded, st->cleared + st->repeat + st->kept + st->gone);

	/* Early pages were never charged; the real tags were. */
	struct alloctag_counters c = alloctag_read(tag_early);
	CHECK_EQ(c.bytes, 0);
	CHECK_EQ(c.calls, 0);
	c = alloctag_read(tag_ready);
	CHECK_EQ(c.bytes, AT_PAGE_SIZE);
	CHECK_EQ(c.calls, 1);
	CHECK(!(tag_ready->flags & ALLOCTAG_FLAG_INACCURATE));
	c = alloctag_read(tag_retag);
	CHECK_EQ(c.bytes, AT_PAGE_SIZE);

	/* Freeing uncharges exactly what was charged; nothing goes negative. */
	for (size_t i = 0; i < n_live; i++)
		if (live[i] != page_z)
			at_free_pages((void *)live[i], 0);
	c = alloctag_read(tag_early);
	CHECK_EQ(c.bytes, 0);
	CHECK_EQ(c.calls, 0);
	c = alloctag_read(tag_ready);
	CHECK_EQ(c.bytes, 0);
	CHECK_EQ(c.calls, 0);
	c = alloctag_read(tag_retag);
	CHECK_EQ(c.bytes, 0);
	CHECK_EQ(c.calls, 0);
	printf("%s: %llu entries in %llu tracking pages (%llu races lost): %llu emptied, "
	       "%llu repeated, %llu kept, %llu gone\n",
	       alloctag_compressed() ? "compressed" : "side table",
	       (unsigned long long)st->recorded, (unsigned long long)st->tracking_pages,
	       (unsigned long long)st->races, (unsigned long long)st->cleared,
	       (unsigned long long)st->repeat, (unsigned long long)st->kept,
	       (unsigned long long)st->gone);
	return 0;
}
