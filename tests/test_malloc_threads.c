/*
 * Several threads allocate, reallocate and free at random, handing blocks to
 * each other through a shared exchange (so most frees are cross-thread),
 * from eight call sites.  A shadow model (atomic per-site sums kept by the
 * test) must equal every site's bytes and calls exactly: while the threads
 * are alive and hold blocks (charges still kept in their caches' bins,
 * src/bin_charge.h), after they exit, and after everything is freed.  Each block records its site and usable size
 * in its first bytes.
 */
#include <alloctag.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "check.h"

#define THREADS 4
#define ITERS 200000
#define LOCAL 256
#define XCHG 512
#define NSITES 8

struct hdr {
	uint32_t site;
	uint32_t magic;
	size_t usable;
};

static struct alloc_tag *tags[NSITES];
static int64_t shadow_bytes[NSITES], shadow_calls[NSITES];
static void *xchg[XCHG];
static pthread_barrier_t bar;

#define SITE(k, call)                                          \
	{                                                      \
		DEFINE_ALLOC_TAG(t);                           \
		__atomic_store_n(&tags[k], &t, __ATOMIC_RELAXED); \
		return alloc_hooks_tag(t, call);               \
	}
static void *site_alloc(unsigned int k, void *old, size_t n)
{
	switch (k) {
	case 0: SITE(0, at_malloc_noprof(n))
	case 1: SITE(1, at_malloc_noprof(n))
	case 2: SITE(2, at_calloc_noprof(1, n))
	case 3: SITE(3, at_aligned_alloc_noprof(64, n))
	case 4: SITE(4, at_malloc_noprof(n))
	case 5: SITE(5, at_memalign_noprof(4096, n))
	case 6: SITE(6, at_realloc_noprof(old, n))
	default: SITE(7, at_realloc_noprof(old, n))
	}
}

static void account(unsigned int site, int64_t bytes, int64_t calls)
{
	__atomic_add_fetch(&shadow_bytes[site], bytes, __ATOMIC_RELAXED);
	__atomic_add_fetch(&shadow_calls[site], calls, __ATOMIC_RELAXED);
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static size_t rnd_size(uint64_t *s)
{
	uint64_t r = rnd(s);
	if (r % 64 == 0)
		return sizeof(struct hdr) + r % 300000; /* large blocks */
	return sizeof(struct hdr) + (r >> 8) % 2000;
}

static void *new_block(unsigned int site, size_t n)
{
	struct hdr *h = site_alloc(site, NULL, n);
	CHECK(h);
	h->site = site;
	h->magic = 0xfeed;
	h->usable = at_usable_size(h);
	CHECK(h->usable >= n);
	account(site, (int64_t)h->usable, 1);
	return h;
}

static void drop(struct hdr *h)
{
	CHECK_EQ(h->magic, 0xfeed);
	CHECK_EQ(h->usable, at_usable_size(h));
	account(h->site, -(int64_t)h->usable, -1);
	h->magic = 0;
	at_free(h);
}

static void *grow(struct hdr *h, unsigned int site, size_t n)
{
	struct hdr old = *h;
	struct hdr *r = site_alloc(site, h, n);
	CHECK(r);
	CHECK_EQ(r->magic, 0xfeed);
	if (r == h && at_usable_size(r) == old.usable)
		return r; /* in place: tag and charge kept */
	/* moved, or a large block grown in place: charged like a move */
	account(old.site, -(int64_t)old.usable, -1);
	r->site = site;
	r->usable = at_usable_size(r);
	account(site, (int64_t)r->usable, 1);
	return r;
}

static void *worker(void *arg)
{
	uint64_t s = 0x9e3779b97f4a7c15ull * ((uintptr_t)arg + 1);
	void *local[LOCAL] = {0};
	for (int i = 0; i < ITERS; i++) {
		uint64_t r = rnd(&s);
		unsigned int slot = (unsigned int)(r % LOCAL);
		switch ((r >> 16) % 8) {
		case 0: case 1: case 2: /* replace a local block */
			if (local[slot])
				drop(local[slot]);
			local[slot] = new_block((unsigned int)((r >> 24) % 6), rnd_size(&s));
			break;
		case 3: case 4: /* hand a block over, free what comes back */
			if (!local[slot])
				break;
			void *got = __atomic_exchange_n(&xchg[(r >> 24) % XCHG], local[slot],
							__ATOMIC_ACQ_REL);
			local[slot] = NULL;
			if (got)
				drop(got);
			break;
		case 5: /* take a block from the exchange */
			if (local[slot])
				break;
			local[slot] = __atomic_exchange_n(&xchg[(r >> 24) % XCHG], NULL,
							  __ATOMIC_ACQ_REL);
			break;
		default: /* realloc */
			if (local[slot])
				local[slot] = grow(local[slot], 6 + (unsigned int)((r >> 24) & 1),
						   rnd_size(&s));
		}
	}
	pthread_barrier_wait(&bar); /* main checks with every thread alive */
	pthread_barrier_wait(&bar);
	for (int i = 0; i < LOCAL; i++)
		if (local[i])
			drop(local[i]);
	return NULL;
}

static void check_all(void)
{
	for (int k = 0; k < NSITES; k++) {
		CHECK(tags[k]);
		struct alloctag_counters c = alloctag_read(tags[k]);
		CHECK_EQ(c.bytes, shadow_bytes[k]);
		CHECK_EQ(c.calls, shadow_calls[k]);
	}
}

int main(void)
{
	pthread_t th[THREADS];
	for (int k = 0; k < NSITES; k++) /* register every site's tag pointer */
		at_free(site_alloc((unsigned int)k, NULL, 8));
	CHECK(!pthread_barrier_init(&bar, NULL, THREADS + 1));
	for (long i = 0; i < THREADS; i++)
		CHECK(!pthread_create(&th[i], NULL, worker, (void *)i));
	pthread_barrier_wait(&bar);
	check_all();
	pthread_barrier_wait(&bar);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	int live = 0;
	for (int k = 0; k < NSITES; k++)
		live += shadow_calls[k] != 0;
	CHECK(live > 0);
	check_all();
	for (int i = 0; i < XCHG; i++)
		if (xchg[i])
			drop(xchg[i]);
	check_all();
	for (int k = 0; k < NSITES; k++)
		CHECK_EQ(shadow_calls[k], 0);
	printf("ok (%s)\n", alloctag_compressed() ? "compressed" : "side table");
	return 0;
}
