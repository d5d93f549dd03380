/*
 * The start-up window, held open: threads allocate tagged pages and small
 * objects from before alloctag_init() until after it, while start-up stops
 * (test hook) between making the state READY and turning profiling on, and
 * again at the start of the hand-over.  Every page must end either early
 * (AT_PG_EARLY and the empty reference: uncharged) or charged to its tag;
 * no page may be left with no reference and uncharged.  The tag's counters
 * must equal exactly what the pages and objects that carry it hold.
 */
#pragma GCC diagnostic ignored "-Wprio-ctor-dtor"
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "store/charge.h"
#include "check.h"
#include "pages/early.h"
#include "startup/init.h"

#define THREADS 3
#define MAX_PAGES 30000

static struct alloc_tag *tag;
static pthread_t th[THREADS];
static void *pages[THREADS][MAX_PAGES];
static int n_pages[THREADS];
static int go, stop;
static long started, in_window;

static void *alloc_tagged(void)
{
	DEFINE_ALLOC_TAG(t);
	__atomic_store_n(&tag, &t, __ATOMIC_RELAXED);
	return alloc_hooks_tag(t, at_alloc_pages_noprof(0));
}

static void *work(void *arg)
{
	int me = (int)(intptr_t)arg;
	while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE))
		;
	for (int k = 0; k < MAX_PAGES; k++) {
		if (__atomic_load_n(&stop, __ATOMIC_ACQUIRE))
			break;
		pages[me][k] = alloc_tagged();
		CHECK(pages[me][k] != NULL);
		__atomic_store_n(&n_pages[me], k + 1, __ATOMIC_RELEASE);
		if (k == 200)
			__atomic_fetch_add(&started, 1, __ATOMIC_RELEASE);
		for (volatile int spin = 0; spin < 20000; spin++) /* some microseconds */
			;
	}
	return NULL;
}

static void pause_ms(long ms)
{
	struct timespec ts = {0, ms * 1000000};
	nanosleep(&ts, NULL);
}

/* Between READY and profiling on: let the threads allocate in the window. */
static void window_hook(void)
{
	__atomic_store_n(&in_window, 1, __ATOMIC_RELEASE);
	pause_ms(30);
}

/* At the hand-over's start (profiling on, recording still open). */
static void handover_hook(void)
{
	pause_ms(10);
}

__attribute__((constructor(100))) static void early_ctor(void)
{
	CHECK_EQ(at_state, AT_STATE_EARLY);
	at_init_test_hook = window_hook;
	at_early_test_hook = handover_hook;
	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_create(&th[i], NULL, work, (void *)(intptr_t)i) == 0);
	__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
	while (__atomic_load_n(&started, __ATOMIC_ACQUIRE) < THREADS)
		;
}

int main(void)
{
	CHECK_EQ(in_window, 1);
	/* some charged allocations after the hand-over: each thread makes 20
	 * more pages (however long a loaded machine takes to run them) */
	int at_main[THREADS];
	for (int i = 0; i < THREADS; i++)
		at_main[i] = __atomic_load_n(&n_pages[i], __ATOMIC_ACQUIRE);
	for (int i = 0; i < THREADS; i++)
		while (__atomic_load_n(&n_pages[i], __ATOMIC_ACQUIRE) < at_main[i] + 20 &&
		       at_main[i] + 20 < MAX_PAGES)
			pause_ms(1);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_join(th[i], NULL) == 0);
	long n_early = 0, n_ready = 0;
	for (int i = 0; i < THREADS; i++) {
		CHECK(n_pages[i] < MAX_PAGES); /* still allocating when start-up ended */
		for (int k = 0; k < n_pages[i]; k++) {
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
	struct at_early_stats *st = &at_early_stats;
	CHECK_EQ(st->recorded + st->direct, n_early);
	CHECK_EQ(st->lost, 0);
	CHECK(n_ready > 0);
	struct alloctag_counters c = alloctag_read(tag);
	CHECK_EQ(c.bytes, n_ready * (long)AT_PAGE_SIZE);
	CHECK_EQ(c.calls, n_ready);
	for (int i = 0; i < THREADS; i++)
		for (int k = 0; k < n_pages[i]; k++)
			at_free_pages(pages[i][k], 0);
	c = alloctag_read(tag);
	CHECK_EQ(c.bytes, 0);
	CHECK_EQ(c.calls, 0);
	printf("%s: %ld early pages (%llu after recording closed), %ld charged\n",
	       alloctag_compressed() ? "compressed" : "side table", n_early,
	       (unsigned long long)st->direct, n_ready);
	return 0;
}
