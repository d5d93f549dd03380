/*
 * fork() from a program that has not yet had a thread (its fork handlers
 * take no lock, src/core/fork_locks.h): each child does what the children
 * below do.  Then from a threaded program: while four threads allocate and free
 * (handing blocks to each other), the main thread forks repeatedly; each
 * child allocates and frees every kind of block, starts a thread that does
 * the same, checks a tag's charges exactly, and exits 0.  The child also
 * reads the charges of the parent's threads (kept in caches of threads the
 * child does not have, src/bin_charge.h): what they hold in the shared
 * slots, plus at most one block per thread in flight at the fork.
 */
#include <alloctag.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

#define THREADS 4
#define FORKS 40

static int stop;
static void *shared[64];
static struct alloc_tag *churn_tag;

static void *churn_alloc(size_t n)
{
	DEFINE_ALLOC_TAG(t);
	__atomic_store_n(&churn_tag, &t, __ATOMIC_RELAXED);
	return alloc_hooks_tag(t, at_malloc_noprof(n));
}

static void *churn(void *arg)
{
	uint64_t s = (uintptr_t)arg * 0x9e3779b97f4a7c15ull + 1;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		size_t n = s % 64 == 0 ? 70000 + s % 500000 : s % 3000;
		void *p = churn_alloc(n);
		CHECK(p);
		memset(p, 1, n < 64 ? n : 64);
		void *old = __atomic_exchange_n(&shared[s % 64], p, __ATOMIC_ACQ_REL);
		at_free(old);
	}
	return NULL;
}

static void *child_thread(void *arg)
{
	void *v[100];
	for (int i = 0; i < 100; i++)
		CHECK(v[i] = at_malloc((size_t)i * 997));
	for (int i = 0; i < 100; i++)
		at_free(v[i]);
	return arg;
}

static void child(void);

static void fork_one(int f)
{
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (!pid)
		child();
	int st;
	CHECK(waitpid(pid, &st, 0) == pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "FAIL: child %d ended with status %#x\n", f, st);
		exit(1);
	}
}

static void child(void)
{
	static struct alloc_tag *tag;
	void *v[300];
	for (int i = 0; i < 300; i++) {
		DEFINE_ALLOC_TAG(t);
		tag = &t;
		v[i] = alloc_hooks_tag(t, at_malloc_noprof(100));
		CHECK(v[i]);
	}
	CHECK_EQ(alloctag_read(tag).bytes, 300 * 112);
	CHECK_EQ(alloctag_read(tag).calls, 300);
	for (int i = 0; i < 300; i++)
		at_free(v[i]);
	CHECK_EQ(alloctag_read(tag).bytes, 0);
	void *big = at_malloc(3u << 20);
	CHECK(big);
	at_free(big);
	/* blocks other threads of the parent allocated */
	long live = 0;
	for (int i = 0; i < 64; i++)
		live += shared[i] != NULL;
	struct alloctag_counters c = alloctag_read(churn_tag);
	CHECK(c.calls >= live && c.calls <= live + THREADS);
	for (int i = 0; i < 64; i++)
		at_free(shared[i]);
	c = alloctag_read(churn_tag);
	CHECK(c.calls >= 0 && c.calls <= THREADS);
	CHECK(c.bytes >= 0 && (c.calls > 0 || c.bytes == 0));
	pthread_t t;
	CHECK(!pthread_create(&t, NULL, child_thread, NULL));
	CHECK(!pthread_join(t, NULL));
	_exit(0);
}

int main(void)
{
	pthread_t th[THREADS];
	at_free(churn_alloc(1)); /* churn_tag set before any thread runs */
	for (int f = 0; f < FORKS / 4; f++) {
		void *keep = at_malloc(1000); /* the parent's heap changes between forks */
		fork_one(f);
		at_free(keep);
	}
	for (long i = 0; i < THREADS; i++)
		CHECK(!pthread_create(&th[i], NULL, churn, (void *)(i + 1)));
	for (int f = 0; f < FORKS; f++) {
		usleep(2000);
		fork_one(FORKS / 4 + f);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	printf("ok: %d children\n", FORKS / 4 + FORKS);
	return 0;
}
