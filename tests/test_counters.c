/*
 * Counters from several threads: every thread allocates and frees pages of
 * mixed orders from two call sites, keeps some alive and frees some pages
 * another thread allocated; the live bytes and calls of each tag must equal
 * the exact totals the threads tallied.
 */
#include <alloctag.h>
#include <pthread.h>

#include "check.h"

#define THREADS 4
#define ITERS 40000
#define KEEP 64

struct tally {
	long long bytes[2], calls[2];
};

static void *alloc_a(unsigned int order)
{
	return at_alloc_pages(order);
}

static void *alloc_b(unsigned int order)
{
	return at_alloc_pages(order);
}

struct kept {
	void *p;
	unsigned int order;
	int site;
};

/* Handed between threads: each thread frees the previous thread's pages. */
static struct kept handoff[THREADS][KEEP];
static pthread_barrier_t barrier;

static void *worker(void *arg)
{
	long id = (long)arg;
	unsigned int seed = (unsigned int)id * 2654435761u + 1;
	struct tally *t = calloc(1, sizeof(*t));
	struct kept mine[KEEP] = {{0}};

	for (int i = 0; i < ITERS; i++) {
		seed = seed * 1103515245u + 12345u;
		int slot = (seed >> 8) % KEEP, site = (seed >> 20) & 1;
		unsigned int order = (seed >> 24) % 4;
		if (mine[slot].p) {
			at_free_pages(mine[slot].p, mine[slot].order);
			t->bytes[mine[slot].site] -= 4096ll << mine[slot].order;
			t->calls[mine[slot].site]--;
		}
		mine[slot].p = site ? alloc_b(order) : alloc_a(order);
		CHECK(mine[slot].p);
		mine[slot].order = order;
		mine[slot].site = site;
		t->bytes[site] += 4096ll << order;
		t->calls[site]++;
	}
	memcpy(handoff[id], mine, sizeof(mine));
	pthread_barrier_wait(&barrier);
	/* free half of the next thread's pages: cross-thread frees */
	struct kept *other = handoff[(id + 1) % THREADS];
	for (int i = 0; i < KEEP; i += 2) {
		if (!other[i].p)
			continue;
		at_free_pages(other[i].p, other[i].order);
		t->bytes[other[i].site] -= 4096ll << other[i].order;
		t->calls[other[i].site]--;
		other[i].p = NULL;
	}
	return t;
}

static const struct alloc_tag *find_tag(int line)
{
	struct alloctag_usage top[16];
	size_t n = alloctag_top_users(top, 16);
	for (size_t i = 0; i < n; i++)
		if ((int)top[i].tag->lineno == line)
			return top[i].tag;
	return NULL;
}

int main(void)
{
	pthread_t th[THREADS];
	long long bytes[2] = {0}, calls[2] = {0};

	pthread_barrier_init(&barrier, NULL, THREADS);
	for (long i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, worker, (void *)i);
	for (int i = 0; i < THREADS; i++) {
		struct tally *t;
		pthread_join(th[i], (void **)&t);
		for (int s = 0; s < 2; s++) {
			bytes[s] += t->bytes[s];
			calls[s] += t->calls[s];
		}
		free(t);
	}
	const struct alloc_tag *a = find_tag(22), *b = find_tag(27);
	CHECK(a && b);
	CHECK(calls[0] > 0 && calls[1] > 0);
	struct alloctag_counters ca = alloctag_read(a), cb = alloctag_read(b);
	CHECK_EQ(ca.bytes, bytes[0]);
	CHECK_EQ(ca.calls, calls[0]);
	CHECK_EQ(cb.bytes, bytes[1]);
	CHECK_EQ(cb.calls, calls[1]);

	/* free everything left: both tags back to exactly zero */
	for (int i = 0; i < THREADS; i++)
		for (int k = 0; k < KEEP; k++)
			if (handoff[i][k].p)
				at_free_pages(handoff[i][k].p, handoff[i][k].order);
	ca = alloctag_read(a);
	cb = alloctag_read(b);
	CHECK_EQ(ca.bytes, 0);
	CHECK_EQ(ca.calls, 0);
	CHECK_EQ(cb.bytes, 0);
	CHECK_EQ(cb.calls, 0);
	printf("threads=%d iterations=%d: site a %lld calls, site b %lld calls live, checked exactly\n",
	       THREADS, ITERS, calls[0], calls[1]);
	return 0;
}
