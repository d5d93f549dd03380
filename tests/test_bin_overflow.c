/*
 * A bin's off field reaching its limit (src/bin_charge.h): this test's copy
 * of the runtime is built with a 10-bit off (-512 .. 511), so some hundreds
 * of operations overflow it both ways.  Every total must stay exact:
 *  - a consumer: allocates with tag B and frees another thread's tag-C
 *    objects, so its bin never refills or flushes and B's count only grows;
 *  - frees of the bin tag's objects allocated by another thread: the bin
 *    fills and flushes over and over, off only falls.
 */
#include <alloctag.h>
#include <pthread.h>

#include "objects/bin_charge.h"
#include "check.h"

_Static_assert(AT_BIN_OFF_BITS == 10, "built with a 10-bit off");

#define N 1500

static struct alloc_tag *tag_a, *tag_b, *tag_c;
static void *ya[N], *zc[N], *mb[N];
static pthread_barrier_t bar;

static __attribute__((noinline)) void *site_a(void)
{
	DEFINE_ALLOC_TAG(t);
	__atomic_store_n(&tag_a, &t, __ATOMIC_RELAXED);
	return alloc_hooks_tag(t, at_malloc_noprof(32));
}

static __attribute__((noinline)) void *site_b(void)
{
	DEFINE_ALLOC_TAG(t);
	__atomic_store_n(&tag_b, &t, __ATOMIC_RELAXED);
	return alloc_hooks_tag(t, at_malloc_noprof(32));
}

static __attribute__((noinline)) void *site_c(void)
{
	DEFINE_ALLOC_TAG(t);
	__atomic_store_n(&tag_c, &t, __ATOMIC_RELAXED);
	return alloc_hooks_tag(t, at_malloc_noprof(32));
}

static void want(struct alloc_tag *t, long long bytes, long long calls)
{
	struct alloctag_counters c = alloctag_read(t);
	CHECK_EQ(c.bytes, bytes);
	CHECK_EQ(c.calls, calls);
}

/* Allocates N objects with tag A (Y) or C (Z), then lives until told. */
static void *holder(void *arg)
{
	void **out = arg;
	for (int i = 0; i < N; i++)
		CHECK(out[i] = out == ya ? site_a() : site_c());
	pthread_barrier_wait(&bar);
	pthread_barrier_wait(&bar);
	return NULL;
}

int main(void)
{
	pthread_t y, z;
	at_free(site_a());
	at_free(site_b());
	at_free(site_c());
	CHECK(!pthread_barrier_init(&bar, NULL, 3));
	CHECK(!pthread_create(&y, NULL, holder, ya));
	CHECK(!pthread_create(&z, NULL, holder, zc));
	pthread_barrier_wait(&bar);
	want(tag_a, N * 32, N);
	want(tag_c, N * 32, N);

	/* falling: A is this bin's tag, A's objects come from Y */
	void *a1 = site_a();
	want(tag_a, (N + 1) * 32, N + 1);
	for (int i = 0; i < N; i++) {
		at_free(ya[i]);
		want(tag_a, (N - i) * 32, N - i);
	}

	/* growing: allocate with B, free Z's C objects (the bin neither
	 * refills nor flushes: one pop, one push) */
	for (int i = 0; i < N; i++) {
		CHECK(mb[i] = site_b());
		at_free(zc[i]);
		want(tag_b, (i + 1) * 32, i + 1);
		want(tag_c, (N - 1 - i) * 32, N - 1 - i);
	}
	want(tag_a, 32, 1);

	pthread_barrier_wait(&bar);
	CHECK(!pthread_join(y, NULL));
	CHECK(!pthread_join(z, NULL));
	want(tag_b, N * 32, N);
	for (int i = 0; i < N; i++)
		at_free(mb[i]);
	at_free(a1);
	want(tag_a, 0, 0);
	want(tag_b, 0, 0);
	want(tag_c, 0, 0);
	printf("ok\n");
	return 0;
}
