/*
 * The fold cache (src/objects/fold_cache.h): a thread's bins fold their
 * counts into entries of its heap before the per-CPU counters.  512 call
 * sites (core tags) allocate round robin, so that every malloc switches its
 * bin's tag and folds; every read must be exact:
 *   unforked   before the process's first fork its folds go per CPU: no
 *              entry is taken
 *   few        30 sites in one class: their folds stay in the cache (its
 *              entries hold them), reads exact through allocations and
 *              frees in another order
 *   cold       objects of a cold class (slab.h "Cold classes", blocks of the
 *              page allocator) charged through the cache too
 *   many       512 sites in two classes: more pairs than entries, so
 *              entries are spilled to the per-CPU counters; reads exact
 *   threads    4 threads allocate from the 512 sites and free each
 *              other's objects (a free of another tag's object: its
 *              uncharge in the freeing thread's cache); exact while they
 *              live, and after they exit (their entries spilled: no heap
 *              in the pool keeps one)
 *   fork       a child reads exactly what its parent held, allocates from
 *              other sites and reads exactly; the parent after each fork
 *              keeps the entries it added to since its last fork and has
 *              spilled the others
 */
#define _GNU_SOURCE
#include <alloctag.h>
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "objects/tcache.h"

#define NSITES 512
#define NTHREADS 4

#define S1(n) case (n): return at_malloc(size);
#define S4(n) S1(n) S1(n + 1) S1(n + 2) S1(n + 3)
#define S16(n) S4(n) S4(n + 4) S4(n + 8) S4(n + 12)
#define S64(n) S16(n) S16(n + 16) S16(n + 32) S16(n + 48)
#define S256(n) S64(n) S64(n + 64) S64(n + 128) S64(n + 192)

/* 512 call sites of at_malloc(size). */
static __attribute__((noinline)) void *site(int i, size_t size)
{
	switch (i) { S256(0) S256(256) }
	return NULL;
}

static struct alloc_tag *tags[NSITES];
/* live objects of each site, by class (48, 112, and 4096: a cold class's,
 * its objects from the page allocator: slab.h "Cold classes") */
static long live48[NSITES], live112[NSITES], live4k[NSITES];

static long *live_of(size_t size)
{
	return size <= 48 ? live48 : size <= 112 ? live112 : live4k;
}
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;

static struct alloc_tag *tag_of(void *p)
{
	uintptr_t off = (uintptr_t)((char *)p - at_heap_base);
	int w = (at_pages[(off >> AT_SLAB_SHIFT) << AT_SLAB_ORDER].flags & AT_PG_WIDE) != 0;
	unsigned int c = at_size_class(at_usable_size(p));
	uint64_t e = at_obj_get(off, at_obj_index_m(off, at_class_magic[c]), w);
	CHECK(e != 0);
	return at_idx_to_ref(at_obj_decode_idx(e, w));
}

static void *take(int i, size_t size)
{
	void *p = site(i, size);
	CHECK(p);
	pthread_mutex_lock(&live_lock);
	live_of(size)[i]++;
	pthread_mutex_unlock(&live_lock);
	return p;
}

static void give(int i, size_t size, void *p)
{
	at_free(p);
	pthread_mutex_lock(&live_lock);
	live_of(size)[i]--;
	pthread_mutex_unlock(&live_lock);
}

static void check_all(const char *when)
{
	int64_t c48 = at_class_charge[at_size_class(40)], c112 = at_class_charge[at_size_class(100)];
	int64_t c4k = at_class_charge[at_size_class(4000)];
	for (int i = 0; i < NSITES; i++) {
		struct alloctag_counters c = alloctag_read(tags[i]);
		int64_t calls = live48[i] + live112[i] + live4k[i];
		int64_t bytes = live48[i] * c48 + live112[i] * c112 + live4k[i] * c4k;
		if (c.calls != calls || c.bytes != bytes) {
			fprintf(stderr, "FAIL %s: site %d: %lld bytes %lld calls, want %lld %lld\n", when, i,
				(long long)c.bytes, (long long)c.calls, (long long)bytes, (long long)calls);
			exit(1);
		}
	}
}

/* How many entries of heap h's cache hold tag idx of class cls (0 or 1),
 * those added to since the last fork added to *used. */
static int held_cls(struct at_theap *h, uint32_t idx, unsigned int cls, int *used)
{
	int n = 0;
	for (unsigned int i = 0; i < AT_FOLDS; i++) {
		uint32_t k = h->folds[i / AT_FOLD_WAYS].key[i % AT_FOLD_WAYS];
		if (k && (k & AT_FOLD_NIDX_MASK) == idx + 1 && at_fold_cls(k) == cls) {
			n++;
			if (used && (k & AT_FOLD_USED))
				(*used)++;
		}
	}
	return n;
}

/* held_cls for the class of 40-byte objects. */
static int held(struct at_theap *h, uint32_t idx, int *used)
{
	return held_cls(h, idx, at_size_class(40), used);
}

static int keys(struct at_theap *h)
{
	int n = 0;
	for (unsigned int i = 0; i < AT_FOLDS; i++)
		n += h->folds[i / AT_FOLD_WAYS].key[i % AT_FOLD_WAYS] != 0;
	return n;
}

/* ---- unforked: the same folds, per CPU ---- */

static void unforked(void)
{
	static void *objs[30][8];
	CHECK_EQ(at_fold_on, 0);
	for (int r = 0; r < 8; r++)
		for (int i = 0; i < 30; i++)
			objs[i][r] = take(i, 40);
	check_all("unforked, allocated");
	struct at_theap *h = at_tls_heap;
	CHECK((uintptr_t)h > 1);
	CHECK_EQ(h->folded, 0);
	CHECK_EQ(keys(h), 0);
	for (int r = 0; r < 8; r++)
		for (int i = 0; i < 30; i++)
			give(i, 40, objs[i][r]);
	check_all("unforked, freed");
}

/* ---- few: 30 sites, one class ---- */

static void *few_objs[30][40];

static void few(void)
{
	for (int r = 0; r < 40; r++)
		for (int i = 0; i < 30; i++)
			few_objs[i][r] = take(i, 40);
	check_all("few, allocated");
	struct at_theap *h = at_tls_heap;
	CHECK((uintptr_t)h > 1 && h->folded);
	/* every site's tag was folded (its bin switched away from it) and its
	 * entry still holds it: 30 pairs fit */
	for (int i = 0; i < 29; i++)
		CHECK_EQ(held(h, tags[i]->idx, NULL), 1);
	for (int r = 39; r >= 0; r -= 2)
		for (int i = 29; i >= 0; i--)
			give(i, 40, few_objs[i][r]);
	check_all("few, half freed");
	for (int r = 38; r >= 0; r -= 2)
		for (int i = 0; i < 30; i++)
			give(i, 40, few_objs[i][r]);
	check_all("few, freed");
}

/* ---- cold: a cold class's objects, from the page allocator ---- */

static void cold(void)
{
	void *objs[6]; /* fewer than AT_COLD_LIVE: all from the page allocator */
	unsigned int cls = at_size_class(4000);
	int secure = AT_LOAD_RELAXED(&at_secure_heap) != 0; /* every object from slabs */
	CHECK(secure || at_class_cold[cls]);
	for (int i = 0; i < 6; i++)
		objs[i] = take(300 + i, 4000);
	check_all("cold, allocated");
	/* each charged through the cache: its own entry, one call (the stricter
	 * heap: from a slab, through the bin, only exact) */
	struct at_theap *h = at_tls_heap;
	for (int i = 0; i < 6 && !secure; i++) {
		CHECK_EQ(held_cls(h, tags[300 + i]->idx, cls, NULL), 1);
		uint64_t f = at_pages[at_addr_to_pfn(objs[i])].flags; /* a block's, not a slab's */
		CHECK((f & AT_PG_HEAD) && !(f & AT_PG_SLAB) && at_block_class(f) == cls);
	}
	for (int i = 0; i < 6; i++)
		give(300 + i, 4000, objs[i]);
	check_all("cold, freed");
}

/* ---- many: 512 sites, two classes ---- */

struct many_arg {
	int seed;
	void **objs; /* [NSITES * 8] */
	pthread_barrier_t *bar;
	void **next_objs; /* the next thread's, freed by this one */
};

static void many_alloc(void **objs, int seed)
{
	for (int r = 0; r < 8; r++)
		for (int k = 0; k < NSITES; k++) {
			int i = (k * 7 + seed + r) % NSITES;
			size_t size = (k + r) & 1 ? 100 : 40;
			objs[i * 8 + r] = take(i, size);
		}
}

static void many_free(void **objs, int odd)
{
	for (int i = 0; i < NSITES; i++)
		for (int r = odd; r < 8; r += 2) {
			void *p = objs[i * 8 + r];
			if (!p)
				continue;
			give(i, at_usable_size(p) <= 48 ? 40 : 100, p);
			objs[i * 8 + r] = NULL;
		}
}

static void many(void)
{
	static void *objs[NSITES * 8];
	many_alloc(objs, 3);
	check_all("many, allocated");
	struct at_theap *h = at_tls_heap;
	CHECK_EQ(keys(h), AT_FOLDS); /* more pairs than entries: every entry taken */
	many_free(objs, 1);
	check_all("many, odd freed");
	many_free(objs, 0);
	check_all("many, freed");
}

/* ---- threads ---- */

static void *worker(void *arg)
{
	struct many_arg *a = arg;
	many_alloc(a->objs, a->seed);
	pthread_barrier_wait(a->bar); /* 1: all allocated */
	many_free(a->next_objs, 1);    /* the next thread's odd rounds */
	pthread_barrier_wait(a->bar); /* 2: main checks */
	pthread_barrier_wait(a->bar); /* 3: checked */
	many_free(a->next_objs, 0);
	return NULL;
}

static void threads(void)
{
	static void *objs[NTHREADS][NSITES * 8];
	pthread_barrier_t bar;
	struct many_arg a[NTHREADS];
	pthread_t th[NTHREADS];
	CHECK(!pthread_barrier_init(&bar, NULL, NTHREADS + 1));
	for (int t = 0; t < NTHREADS; t++) {
		a[t] = (struct many_arg){t * 11, objs[t], &bar, objs[(t + 1) % NTHREADS]};
		CHECK(!pthread_create(&th[t], NULL, worker, &a[t]));
	}
	pthread_barrier_wait(&bar);
	pthread_barrier_wait(&bar);
	check_all("threads, half freed across threads");
	pthread_barrier_wait(&bar);
	for (int t = 0; t < NTHREADS; t++)
		CHECK(!pthread_join(th[t], NULL));
	check_all("threads, exited");
	/* an exited thread's heap (in the pool) holds no entry */
	struct at_theap *mine = at_tls_heap;
	int others = 0;
	for (struct at_theap *h = at_all_heaps; h; h = h->next_all)
		if (h != mine) {
			others++;
			CHECK_EQ(keys(h), 0);
		}
	CHECK_EQ(others, NTHREADS);
}

/* ---- fork ---- */

static void fork_case(void)
{
	static void *objs[20][10], *child_objs[40][4];
	struct at_theap *h = at_tls_heap;
	for (int r = 0; r < 10; r++)
		for (int i = 0; i < 20; i++)
			objs[i][r] = take(100 + i, 40);
	for (int round = 0; round < 3; round++) {
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (!pid) {
			check_all("fork, child's first read");
			for (int r = 0; r < 4; r++)
				for (int i = 0; i < 40; i++)
					child_objs[i][r] = take(200 + i, 40);
			check_all("fork, child allocated");
			for (int r = 0; r < 4; r++)
				for (int i = 0; i < 40; i++)
					give(200 + i, 40, child_objs[i][r]);
			for (int i = 0; i < 20; i++)
				give(100 + i, 40, objs[i][0]);
			check_all("fork, child freed");
			_exit(0);
		}
		int st;
		CHECK(waitpid(pid, &st, 0) == pid);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		check_all("fork, parent after the child");
		/* the fork marked every entry not added to */
		for (unsigned int i = 0; i < AT_FOLDS; i++)
			CHECK(!(h->folds[i / AT_FOLD_WAYS].key[i % AT_FOLD_WAYS] & AT_FOLD_USED));
		if (round) {
			/* and spilled those not added to before it: only the 20 sites
			 * the parent folded between its forks are left */
			CHECK(keys(h) <= 20);
			for (int i = 0; i < 20; i++)
				CHECK(held(h, tags[100 + i]->idx, NULL) <= 1);
			CHECK_EQ(held(h, tags[5]->idx, NULL), 0);
		}
		/* the parent's loop between forks: the 20 sites again */
		for (int i = 0; i < 20; i++) {
			give(100 + i, 40, objs[i][round]);
			objs[i][round] = take(100 + i, 40);
		}
		int used = 0, n = 0;
		for (int i = 0; i < 20; i++)
			n += held(h, tags[100 + i]->idx, &used);
		CHECK(n == 20 && used == 20);
		check_all("fork, parent's loop");
	}
	for (int r = 0; r < 10; r++)
		for (int i = 0; i < 20; i++)
			give(100 + i, 40, objs[i][r]);
	check_all("fork, freed");
}

int main(void)
{
	CHECK(alloctag_profiling());
	/* each site's tag, from its first object's entry */
	for (int i = 0; i < NSITES; i++) {
		void *p = site(i, 40);
		CHECK(p);
		tags[i] = tag_of(p);
		at_free(p);
		for (int j = 0; j < i; j++)
			CHECK(tags[j] != tags[i]);
	}
	unforked();
	/* the first fork: from now on the folds go through the cache */
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (!pid)
		_exit(0);
	CHECK(waitpid(pid, NULL, 0) == pid);
	CHECK_EQ(at_fold_on, 1);
	few();
	cold();
	many();
	threads();
	fork_case();
	puts("fold cache: exact");
	return 0;
}
