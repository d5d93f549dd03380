/*
 * Shadow-model soak: N worker threads run for T seconds doing random
 * malloc, calloc, realloc, aligned_alloc, posix_memalign, memalign and free
 * from NSITES call sites (hook style and tag passing), sizes from 1 byte to
 * several MiB, most frees cross-thread (through a shared exchange); a
 * control thread meanwhile dlopens and dlcloses a tagged shared object that
 * allocates (keeping some of its blocks across the dlclose), forks children
 * that allocate, check their own counters and exit, allocates huge blocks,
 * and reads allocinfo.  Work runs in rounds; between rounds every thread is
 * parked (a quiescent point): the main thread compares every site's bytes
 * and calls exactly with the shadow model (atomic per-site sums kept by the
 * threads, from at_usable_size and whether profiling was on at the time),
 * and may switch profiling off or on for the next round.  Every block is
 * filled with a pattern of its own and checked byte for byte when freed and
 * after realloc (the preserved prefix), calloc's zeroes before that.
 *
 * usage: soak [seconds [threads]]   (defaults 5 and 3)
 * Prints the operations, checks and bytes verified; exits 1 on a mismatch.
 */
#define _GNU_SOURCE
#include <alloctag.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

#define NSITES 10
#define LOCAL 512
#define XCHG 1024
#define ROUND_OPS 20000
#define MAX_THREADS 16

struct hdr {
	uint32_t magic;
	uint16_t site;
	uint8_t charged; /* profiling was on when it was charged */
	uint8_t zeroed;  /* calloc: checked for zeroes once */
	uint32_t seed;
	size_t n;      /* bytes requested */
	size_t usable; /* at_usable_size when it was charged */
};
#define MAGIC 0x50a6c0deu

static struct alloc_tag *tags[NSITES];
static int64_t shadow_bytes[NSITES], shadow_calls[NSITES];
static void *xchg[XCHG];
static pthread_barrier_t bar;
static int stop, profiling = 1;
static uint64_t n_ops, n_checks, n_verified, n_forks, n_dl, n_allocinfo, n_huge, n_rounds;

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Sizes: mostly small, some up to 64 KiB, a few up to 4 MiB. */
static size_t rnd_size(uint64_t *s)
{
	uint64_t r = rnd(s);
	size_t n;
	if (r % 512 == 0)
		n = (size_t)(r >> 12) % (4u << 20);
	else if (r % 16 == 0)
		n = (size_t)(r >> 12) % 65536;
	else
		n = (size_t)(r >> 12) % 1024;
	return n < sizeof(struct hdr) ? sizeof(struct hdr) : n;
}

static inline uint8_t pat(uint32_t seed, size_t i)
{
	return (uint8_t)(seed + i * 131 + (i >> 9));
}

static void fill(struct hdr *h, size_t from)
{
	uint8_t *b = (uint8_t *)h;
	for (size_t i = from < sizeof(*h) ? sizeof(*h) : from; i < h->n; i++)
		b[i] = pat(h->seed, i);
}

static void verify(const struct hdr *h, size_t upto)
{
	const uint8_t *b = (const uint8_t *)h;
	for (size_t i = sizeof(*h); i < upto; i++)
		if (b[i] != pat(h->seed, i)) {
			fprintf(stderr, "FAIL: block %p (site %u, %zu bytes): byte %zu is %#x, "
				"want %#x\n", (const void *)h, h->site, h->n, i, b[i],
				pat(h->seed, i));
			exit(1);
		}
	__atomic_add_fetch(&n_verified, upto, __ATOMIC_RELAXED);
}

static void account(unsigned int site, int64_t bytes, int64_t calls)
{
	__atomic_add_fetch(&shadow_bytes[site], bytes, __ATOMIC_RELAXED);
	__atomic_add_fetch(&shadow_calls[site], calls, __ATOMIC_RELAXED);
}

#define HOOK(k, call)                                                   \
	{                                                               \
		DEFINE_ALLOC_TAG(t);                                    \
		__atomic_store_n(&tags[k], &t, __ATOMIC_RELAXED);       \
		return alloc_hooks_tag(t, call);                        \
	}
#define PASS(k, call)                                                   \
	{                                                               \
		DEFINE_ALLOC_TAG(t);                                    \
		__atomic_store_n(&tags[k], &t, __ATOMIC_RELAXED);       \
		return call;                                            \
	}

static void *memalign_hook(size_t align, size_t n)
{
	void *p = NULL;
	int e = at_posix_memalign_noprof(&p, align, n);
	CHECK(e == 0 || !p);
	return p;
}

static void *memalign_pass(struct alloc_tag *t, size_t align, size_t n)
{
	void *p = NULL;
	int e = at_posix_memalign_tag_noprof(t, &p, align, n);
	CHECK(e == 0 || !p);
	return p;
}

/* Site k's allocation of n bytes (old: realloc's block). */
static void *site_alloc(unsigned int k, void *old, size_t n, size_t align)
{
	switch (k) {
	case 0: HOOK(0, at_malloc_noprof(n))
	case 1: PASS(1, at_malloc_tag_noprof(&t, n))
	case 2: HOOK(2, at_calloc_noprof(1, n))
	case 3: PASS(3, at_calloc_tag_noprof(&t, n, 1))
	case 4: HOOK(4, at_aligned_alloc_noprof(align, (n + align - 1) & ~(align - 1)))
	case 5: PASS(5, memalign_pass(&t, align, n))
	case 6: HOOK(6, memalign_hook(align, n))
	case 7: PASS(7, at_memalign_tag_noprof(&t, align, n))
	case 8: HOOK(8, at_realloc_noprof(old, n))
	default: PASS(9, at_realloc_tag_noprof(&t, old, n))
	}
}

static struct hdr *new_block(unsigned int site, size_t n, uint64_t r)
{
	size_t align = (size_t)16 << (r % 10); /* 16 .. 8 KiB */
	struct hdr *h = site_alloc(site, NULL, n, align);
	CHECK(h);
	if (site >= 4)
		CHECK(((uintptr_t)h & (align - 1)) == 0);
	size_t usable = at_usable_size(h);
	CHECK(usable >= n);
	if (site == 2 || site == 3) /* calloc: zeroes */
		for (size_t i = 0; i < n; i++)
			CHECK(((uint8_t *)h)[i] == 0);
	h->magic = MAGIC;
	h->site = (uint16_t)site;
	h->charged = (uint8_t)profiling;
	h->zeroed = 0;
	h->seed = (uint32_t)r;
	h->n = n;
	h->usable = usable;
	fill(h, 0);
	if (h->charged)
		account(site, (int64_t)usable, 1);
	return h;
}

static void drop(struct hdr *h)
{
	CHECK_EQ(h->magic, MAGIC);
	CHECK_EQ(h->usable, at_usable_size(h));
	verify(h, h->n);
	if (h->charged)
		account(h->site, -(int64_t)h->usable, -1);
	h->magic = 0;
	at_free(h);
}

static struct hdr *grow(struct hdr *h, unsigned int site, size_t n, uint64_t r)
{
	CHECK_EQ(h->magic, MAGIC);
	verify(h, h->n);
	struct hdr old = *h;
	struct hdr *p = site_alloc(site, h, n, 0);
	CHECK(p);
	CHECK_EQ(p->magic, MAGIC);
	CHECK_EQ(p->seed, old.seed);
	p->n = old.n < n ? old.n : n; /* the preserved prefix */
	verify(p, p->n);
	size_t usable = at_usable_size(p);
	CHECK(usable >= n);
	if (!(p == h && usable == old.usable)) {
		/* moved, or a large block grown in place: charged like a move */
		if (old.charged)
			account(old.site, -(int64_t)old.usable, -1);
		p->site = (uint16_t)site;
		p->charged = (uint8_t)profiling;
		p->usable = usable;
		if (p->charged)
			account(site, (int64_t)usable, 1);
	}
	p->seed = (uint32_t)r; /* new contents */
	p->n = n;
	fill(p, 0);
	return p;
}

static void park(void)
{
	pthread_barrier_wait(&bar); /* quiescent: main checks */
	pthread_barrier_wait(&bar); /* main has decided the next round */
}

static void *worker(void *arg)
{
	uint64_t s = 0x9e3779b97f4a7c15ull * ((uintptr_t)arg + 1);
	struct hdr *local[LOCAL] = {0};
	uint64_t ops = 0;
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		for (int i = 0; i < ROUND_OPS; i++, ops++) {
			uint64_t r = rnd(&s);
			unsigned int slot = (unsigned int)(r % LOCAL);
			struct hdr **x = (struct hdr **)&xchg[(r >> 24) % XCHG];
			switch ((r >> 16) % 8) {
			case 0: case 1: case 2: /* replace a local block */
				if (local[slot])
					drop(local[slot]);
				local[slot] = new_block((unsigned int)((r >> 32) % 8), rnd_size(&s), r);
				break;
			case 3: case 4: /* hand a block over, free what comes back */
				if (!local[slot])
					break;
				struct hdr *got = __atomic_exchange_n(x, local[slot], __ATOMIC_ACQ_REL);
				local[slot] = NULL;
				if (got)
					drop(got);
				break;
			case 5: /* take a block from the exchange */
				if (!local[slot])
					local[slot] = __atomic_exchange_n(x, NULL, __ATOMIC_ACQ_REL);
				break;
			default: /* realloc */
				if (local[slot])
					local[slot] = grow(local[slot], 8 + (unsigned int)((r >> 32) & 1),
							   rnd_size(&s), r);
			}
		}
		park();
	}
	for (int i = 0; i < LOCAL; i++)
		if (local[i])
			drop(local[i]);
	__atomic_add_fetch(&n_ops, ops, __ATOMIC_RELAXED);
	return NULL;
}

/* The shared object's part of a round: load, allocate through its call
 * site, check its tag, sometimes keep blocks across the unload. */
static void module_round(uint64_t *s)
{
	void *h = dlopen(TESTMOD_OBJ, RTLD_NOW | RTLD_LOCAL);
	CHECK(h);
	void *(*obj_malloc)(size_t) = (void *(*)(size_t))dlsym(h, "obj_malloc");
	void (*obj_section)(struct alloc_tag **, struct alloc_tag **) =
		(void (*)(struct alloc_tag **, struct alloc_tag **))dlsym(h, "obj_section");
	CHECK(obj_malloc && obj_section);
	struct alloc_tag *start, *end;
	obj_section(&start, &end);
	CHECK(end - start == 1);
	const struct alloc_tag *canon = start->canon;
	CHECK(canon);
	void *v[64];
	int64_t bytes = 0;
	int n = 1 + (int)(rnd(s) % 64);
	for (int i = 0; i < n; i++) {
		size_t sz = 1 + rnd(s) % (i % 8 ? 512 : 100000);
		v[i] = obj_malloc(sz);
		CHECK(v[i]);
		memset(v[i], 0xa5, sz);
		bytes += (int64_t)at_usable_size(v[i]);
	}
	struct alloctag_counters c = alloctag_read(canon);
	CHECK_EQ(c.bytes, profiling ? bytes : 0);
	CHECK_EQ(c.calls, profiling ? n : 0);
	int keep = (int)(rnd(s) % 2); /* free them after the dlclose */
	if (!keep)
		for (int i = 0; i < n; i++)
			at_free(v[i]);
	CHECK(dlclose(h) == 0);
	if (keep) {
		c = alloctag_read(canon); /* the tag outlives its object */
		CHECK_EQ(c.bytes, profiling ? bytes : 0);
		CHECK_EQ(c.calls, profiling ? n : 0);
		for (int i = 0; i < n; i++)
			at_free(v[i]);
		c = alloctag_read(canon);
		CHECK_EQ(c.bytes, 0);
		CHECK_EQ(c.calls, 0);
	}
	n_dl++;
}

/* A child of the threaded process: allocate from a fresh site, check it
 * exactly, free, exit. */
static void fork_round(void)
{
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (!pid) {
		static struct alloc_tag *ct;
		void *v[200];
		int64_t bytes = 0;
		for (int i = 0; i < 200; i++) {
			DEFINE_ALLOC_TAG(t);
			ct = &t;
			v[i] = alloc_hooks_tag(t, at_malloc_noprof((size_t)(i % 20) * 1000 + 1));
			if (!v[i])
				_exit(3);
			memset(v[i], i, (size_t)(i % 20) * 1000 + 1);
			bytes += (int64_t)at_usable_size(v[i]);
		}
		struct alloctag_counters c = alloctag_read(ct);
		if (c.bytes != (profiling ? bytes : 0) || c.calls != (profiling ? 200 : 0))
			_exit(4);
		for (int i = 0; i < 200; i++)
			at_free(v[i]);
		c = alloctag_read(ct);
		_exit(c.bytes || c.calls ? 5 : 0);
	}
	int st;
	CHECK(waitpid(pid, &st, 0) == pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "FAIL: forked child ended with status %#x\n", st);
		exit(1);
	}
	n_forks++;
}

/* A block the page allocator cannot hold (alignment over its largest
 * order): the huge path, charged to its own site. */
static void huge_round(void)
{
	static struct alloc_tag *ht;
	DEFINE_ALLOC_TAG(t);
	ht = &t;
	size_t align = (size_t)2 << 30;
	char *p = alloc_hooks_tag(t, at_aligned_alloc_noprof(align, 3 * 4096));
	CHECK(p);
	CHECK(((uintptr_t)p & (align - 1)) == 0);
	size_t u = at_usable_size(p);
	CHECK(u >= 3 * 4096);
	p[0] = 1;
	p[u - 1] = 2;
	struct alloctag_counters c = alloctag_read(ht);
	CHECK_EQ(c.bytes, profiling ? (int64_t)u : 0);
	CHECK_EQ(c.calls, profiling ? 1 : 0);
	CHECK(p[0] == 1 && p[u - 1] == 2);
	at_free(p);
	c = alloctag_read(ht);
	CHECK_EQ(c.bytes, 0);
	CHECK_EQ(c.calls, 0);
	n_huge++;
}

static void allocinfo_round(void)
{
	int fd = memfd_create("soak-allocinfo", 0);
	CHECK(fd >= 0);
	CHECK(alloctag_write_allocinfo_fd(fd) == 0);
	char head[64];
	ssize_t k = pread(fd, head, sizeof(head) - 1, 0);
	CHECK(k > 25);
	head[k] = 0;
	CHECK(!strncmp(head, "allocinfo - version: 2.0\n", 25));
	close(fd);
	n_allocinfo++;
}

static void *control(void *arg)
{
	uint64_t s = 0x2545f4914f6cdd1dull ^ (uintptr_t)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		for (int i = 0; i < 4; i++) {
			module_round(&s);
			allocinfo_round();
		}
		fork_round();
		if (rnd(&s) % 4 == 0)
			huge_round();
		park();
	}
	return NULL;
}

static void check_all(void)
{
	for (int k = 0; k < NSITES; k++) {
		if (!tags[k])
			continue;
		struct alloctag_counters c = alloctag_read(tags[k]);
		if (c.bytes != shadow_bytes[k] || c.calls != shadow_calls[k]) {
			fprintf(stderr, "FAIL: round %llu, site %d: counters %lld bytes %lld calls, "
				"shadow %lld bytes %lld calls\n", (unsigned long long)n_rounds, k,
				(long long)c.bytes, (long long)c.calls, (long long)shadow_bytes[k],
				(long long)shadow_calls[k]);
			exit(1);
		}
		n_checks++;
	}
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 5;
	int nthreads = argc > 2 ? atoi(argv[2]) : 3;
	CHECK(nthreads >= 1 && nthreads <= MAX_THREADS);
	CHECK(alloctag_profiling());
	pthread_t th[MAX_THREADS + 1];
	CHECK(!pthread_barrier_init(&bar, NULL, (unsigned)nthreads + 2));
	for (long i = 0; i < nthreads; i++)
		CHECK(!pthread_create(&th[i], NULL, worker, (void *)i));
	CHECK(!pthread_create(&th[nthreads], NULL, control, NULL));
	double t0 = now_s();
	uint64_t s = 88172645463325252ull, toggles = 0;
	for (;;) {
		pthread_barrier_wait(&bar); /* everyone parked */
		n_rounds++;
		check_all();
		if (now_s() - t0 >= seconds)
			__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
		else if (rnd(&s) % 4 == 0) { /* profiling off or on for the next round */
			profiling = !profiling;
			CHECK(alloctag_set_profiling(profiling) == 0);
			toggles++;
		}
		pthread_barrier_wait(&bar);
		if (stop)
			break;
	}
	for (int i = 0; i <= nthreads; i++)
		CHECK(!pthread_join(th[i], NULL));
	for (int i = 0; i < XCHG; i++)
		if (xchg[i])
			drop(xchg[i]);
	check_all();
	for (int k = 0; k < NSITES; k++) {
		CHECK_EQ(shadow_calls[k], 0);
		CHECK_EQ(shadow_bytes[k], 0);
	}
	printf("soak: %.1f s, %d threads, %llu rounds, %llu operations, %llu exact counter "
	       "checks, %llu bytes verified, %llu profiling switches, %llu dlopen/dlclose, "
	       "%llu forks, %llu huge blocks, %llu allocinfo reads (%s)\n",
	       now_s() - t0, nthreads, (unsigned long long)n_rounds, (unsigned long long)n_ops,
	       (unsigned long long)n_checks, (unsigned long long)n_verified,
	       (unsigned long long)toggles, (unsigned long long)n_dl,
	       (unsigned long long)n_forks, (unsigned long long)n_huge,
	       (unsigned long long)n_allocinfo, alloctag_compressed() ? "compressed" : "side table");
	return 0;
}
