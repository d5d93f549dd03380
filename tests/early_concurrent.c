/*
 * Recorders still running while the store becomes ready: threads allocate
 * tagged pages from before alloctag_init() until after it.  Whatever the
 * interleaving, each page is either early (AT_PG_EARLY: uncharged, and after
 * the hand-over, empty, whether it was recorded before recording closed or
 * came after and cleared itself) or charged to its tag; no entry is lost and
 * every tracking page but the last is full.
 */
#pragma GCC diagnostic ignored "-Wprio-ctor-dtor"
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "store/charge.h"
#include "check.h"
#include "pages/early.h"

#define THREADS 4
#define PER_THREAD 40000

static struct alloc_tag *tag;
static pthread_t th[THREADS];
static void *pages[THREADS][PER_THREAD];
static int go;
static long started;

static void *alloc_tagged(void)
{
	DEFINE_ALLOC_TAG(t);
	__atomic_store_n(&tag, &t, __ATOMIC_RELAXED);
	return alloc_hooks_tag(t, at_alloc_pages_noprof(0));
}

static void *work(void *arg)
{
	void **mine = arg;
	while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE))
		;
	for (int k = 0; k < PER_THREAD; k++) {
		mine[k] = alloc_tagged();
		CHECK(mine[k] != NULL);
		if (k == 1000)
			__atomic_fetch_add(&started, 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

__attribute__((constructor(100))) static void early_ctor(void)
{
	CHECK_EQ(at_state, AT_STATE_EARLY);
	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_create(&th[i], NULL, work, pages[i]) == 0);
	__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
	/* Let them get going; alloctag_init() runs when this returns. */
	while (__atomic_load_n(&started, __ATOMIC_ACQUIRE) < THREADS)
		;
}

int main(void)
{
	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_join(th[i], NULL) == 0);
	struct at_early_stats *st = &at_early_stats;
	long n_early = 0, n_ready = 0;
	for (int i = 0; i < THREADS; i++) {
		for (int k = 0; k < PER_THREAD; k++) {
			uint32_t pfn = at_addr_to_pfn(pages[i][k]);
			if (at_pages[pfn].flags & AT_PG_EARLY) {
				CHECK_EQ(at_page_ref_get(pfn), AT_REF_EMPTY);
				n_early++;
			} else {
				CHECK_EQ(at_page_ref_get(pfn), tag);
				n_ready++;
			}
		}
	}
	CHECK(n_early >= THREADS * 1000);
	CHECK_EQ(st->recorded + st->direct, n_early);
	CHECK_EQ(st->lost, 0);
	CHECK_EQ(st->cleared, st->recorded);
	CHECK_EQ(st->repeat + st->kept + st->gone, 0);
	CHECK_EQ(st->tracking_pages, (st->recorded + AT_EARLY_PER_PAGE - 1) / AT_EARLY_PER_PAGE);
	struct alloctag_counters c = alloctag_read(tag);
	CHECK_EQ(c.bytes, n_ready * (long)AT_PAGE_SIZE);
	CHECK_EQ(c.calls, n_ready);
	CHECK(tag->flags & ALLOCTAG_FLAG_INACCURATE);

	for (int i = 0; i < THREADS; i++)
		for (int k = 0; k < PER_THREAD; k++)
			at_free_pages(pages[i][k], 0);
	c = alloctag_read(tag);
	CHECK_EQ(c.bytes, 0);
	CHECK_EQ(c.calls, 0);
	printf("%s: %ld early pages (%llu recorded, %llu after recording closed), %ld charged\n",
	       alloctag_compressed() ? "compressed" : "side table", n_early,
	       (unsigned long long)st->recorded, (unsigned long long)st->direct, n_ready);
	return 0;
}
