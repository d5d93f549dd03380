/*
 * Small objects across a run-time switch of the tag store (ALLOCTAG_TAG_BITS=7:
 * loading at_testmod_big.so overflows the compressed index space, see
 * test_module_migrate): objects made before it keep their narrow entries,
 * slabs made after it are wide, a thread cache hands out both, and every
 * count stays exact, with the charges held in the caches of a thread that
 * is alive across the switch (src/bin_charge.h).
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "allocinfo_capture.h"
#include "module_util.h"
#include "objects/slab.h"

#define N 500
#define LATER 3000

static struct alloc_tag *tag_a;
static void *before[N], *theirs[N], *later[LATER];
static pthread_barrier_t bar;

static __attribute__((noinline)) void *site_a(void)
{
	DEFINE_ALLOC_TAG(t);
	__atomic_store_n(&tag_a, &t, __ATOMIC_RELAXED);
	return alloc_hooks_tag(t, at_malloc_noprof(40));
}

static void want(long long calls)
{
	struct alloctag_counters c = alloctag_read(tag_a);
	CHECK_EQ(c.calls, calls);
	CHECK_EQ(c.bytes, calls * 48);
	char line[512];
	snprintf(line, sizeof(line), "%12lli %8lld %s:%u func:site_a \n", calls * 48, calls,
		 tag_a->filename, tag_a->lineno);
	CHECK_STREQ(allocinfo_grep("func:site_a "), line);
}

static int wide(void *p)
{
	uintptr_t off = (uintptr_t)((char *)p - at_heap_base);
	return (at_pages[(off >> AT_SLAB_SHIFT) << AT_SLAB_ORDER].flags & AT_PG_WIDE) != 0;
}

static void *holder(void *arg)
{
	(void)arg;
	for (int i = 0; i < N; i++)
		CHECK(theirs[i] = site_a());
	pthread_barrier_wait(&bar); /* 1: allocated */
	pthread_barrier_wait(&bar); /* 2: main is done with them */
	return NULL;
}

int main(void)
{
	pthread_t th;
	CHECK(alloctag_compressed());
	for (int i = 0; i < N; i++)
		CHECK(before[i] = site_a());
	CHECK(!pthread_barrier_init(&bar, NULL, 2));
	CHECK(!pthread_create(&th, NULL, holder, NULL));
	pthread_barrier_wait(&bar); /* 1 */
	want(2 * N);

	int saved = dup(2), fd = memfd_create("stderr", 0); /* its one message */
	CHECK(saved >= 0 && fd >= 0 && dup2(fd, 2) == 2);
	struct bigmod big = bigmod_load();
	CHECK(dup2(saved, 2) == 2);
	close(saved);
	close(fd);
	CHECK(!alloctag_compressed());
	want(2 * N);

	int nwide = 0;
	for (int i = 0; i < LATER; i++) {
		CHECK(later[i] = site_a());
		nwide += wide(later[i]);
	}
	CHECK(nwide > 0 && nwide < LATER); /* both kinds handed out */
	for (int i = 0; i < N; i++)
		CHECK(!wide(before[i]));
	want(2 * N + LATER);
	for (int i = 0; i < N; i++) /* the thread's narrow objects, freed here */
		at_free(theirs[i]);
	want(N + LATER);
	for (int i = 0; i < LATER; i += 2)
		at_free(later[i]);
	want(N + LATER / 2);
	pthread_barrier_wait(&bar); /* 2 */
	CHECK(!pthread_join(th, NULL));
	want(N + LATER / 2);
	for (int i = 0; i < N; i++)
		at_free(before[i]);
	for (int i = 1; i < LATER; i += 2)
		at_free(later[i]);
	want(0);
	(void)big;
	printf("ok: %d of %d later objects in wide slabs\n", nwide, LATER);
	return 0;
}
