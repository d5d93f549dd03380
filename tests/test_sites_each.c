/*
 * at_sites_each (src/sites/sites_each.h) and the cumulative counters, with
 * the preload library's entry points linked into this program (so that its
 * malloc is alloctag's, as under LD_PRELOAD):
 *   each     allocations from alpha (10 mallocs, 4 freed), beta (3 callocs
 *            and a large one) and gamma (realloc growing one block 4 times, each a move,
 *            then 2 reallocs left in place, then 2 of a large block, grown
 *            in place or moved) and zeta (the aligned family, 3 rounds
 *            of posix_memalign, aligned_alloc, memalign, valloc and
 *            pvalloc, small and large, the first round's blocks freed,
 *            and calls refused with EINVAL, which count nothing):
 *            the chains whose site frame is in each function have exactly
 *            the live and cumulative bytes and calls made there; every
 *            chain's site frame is inside a function of this program, the
 *            frames after it are its callers; top users names the sites
 *            with the sums of their chains
 *   threads  4 threads each malloc 1000 blocks from worker and free half:
 *            exact live and cumulative totals
 *   wrap     70000 mallocs and frees from one chain, each served by its
 *            bin (whose 16-bit cumulative count wraps once): exactly
 *            70000 calls; then 3000 from each of two chains alternating
 *            in one size class (the bin's tag changes at each malloc, its
 *            count folded each time: each chain exact, nothing live), and
 *            70000 in a thread that exits:
 *            exact cumulative totals
 *   racing   2 threads alternate two chains in one class (the bin's tag
 *            changing at each malloc) and then exit while a third reads
 *            the chains over and over: every read at most the final total
 *            plus what the writers' bins may hold mid-fold, the final read
 *            exact
 *   report   allocinfo written to a stream that allocates on each write,
 *            while the registry lock is held: no message, the report whole
 *   current  a current tag set by its public name (alloctag_save), in the
 *            main thread and in another: theta's malloc, calloc and
 *            realloc charged to it exactly (theta has no chain), and after
 *            alloctag_restore one malloc from theta counted by its chain
 * Runs at the default depth and, by the second test, ALLOCTAG_DEPTH=1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <unistd.h>

#include "check.h"
#include "core/control.h"
#include "sites/chains.h"
#include "sites/site_names.h"
#include "sites/sites_each.h"
#include "startup/init.h"

#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

struct sum {
	const char *fn;
	uint64_t lb, lc, ab, ac;
	unsigned int chains;
};

static void add(const struct at_chain_view *v, void *ctx)
{
	struct sum *s = ctx;
	if (!v->site)
		return;
	CHECK(v->site <= v->nr_frames && v->nr_frames >= 1);
	int err;
	struct at_frame *f = at_frame_get(v->frames[v->site - 1], &err);
	CHECK(f != NULL);
	for (; s->fn; s++) {
		if (strcmp(f->tag.function, s->fn))
			continue;
		s->lb += v->live_bytes;
		s->lc += v->live_calls;
		s->ab += v->alloc_bytes;
		s->ac += v->alloc_calls;
		s->chains++;
	}
}

static void *kept[64];

__attribute__((noipa)) void alpha(size_t *live, size_t *all)
{
	void *p[10];
	for (int i = 0; i < 10; i++) {
		p[i] = malloc(100);
		KEEP(p[i]);
		*all += malloc_usable_size(p[i]);
	}
	for (int i = 0; i < 4; i++)
		free(p[i]);
	for (int i = 4; i < 10; i++) {
		*live += malloc_usable_size(p[i]);
		kept[i] = p[i];
	}
}

__attribute__((noipa)) void beta(size_t *live)
{
	for (int i = 0; i < 4; i++) { /* the last a large block */
		kept[20 + i] = i < 3 ? calloc(2, 50) : calloc(3, 30000);
		KEEP(kept[20 + i]);
		*live += malloc_usable_size(kept[20 + i]);
	}
}

__attribute__((noipa)) void gamma_(size_t *live, size_t *all)
{
	void *p = NULL;
	static const size_t sizes[] = {1000, 2000, 4000, 8000, 7000, 7500, 40000, 60000};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		void *was = p;
		p = realloc(p, sizes[i]);
		KEEP(p);
		CHECK(i < 4 || i >= 6 || p == was); /* 7000, 7500: in place */
		*all += malloc_usable_size(p);
	}
	*live = malloc_usable_size(p);
	kept[30] = p;
}

/* Each call site's block of each round: the first round's made after
 * a walk, the others' proved by the memo. */
__attribute__((noipa)) void zeta(size_t *live, size_t *all)
{
	void *p[3][6];
	for (int r = 0; r < 3; r++) {
		CHECK_EQ(posix_memalign(&p[r][0], 64, 100), 0);
		CHECK_EQ(posix_memalign(&p[r][1], 4096, 20000), 0);
		p[r][2] = aligned_alloc(128, 256);
		p[r][3] = memalign(256, 1000);
		p[r][4] = valloc(100);
		p[r][5] = pvalloc(5000);
		void *bad = (void *)1;
		CHECK_EQ(posix_memalign(&bad, 24, 100), EINVAL); /* not a power of two */
		CHECK(bad == (void *)1);
		errno = 0;
		CHECK(aligned_alloc(3, 100) == NULL && errno == EINVAL);
		for (int i = 0; i < 6; i++) {
			CHECK(p[r][i] != NULL);
			KEEP(p[r][i]);
			*all += malloc_usable_size(p[r][i]);
			if (r)
				*live += malloc_usable_size(p[r][i]);
		}
		CHECK(((uintptr_t)p[r][0] & 63) == 0 && ((uintptr_t)p[r][1] & 4095) == 0);
		CHECK(((uintptr_t)p[r][2] & 127) == 0 && ((uintptr_t)p[r][3] & 255) == 0);
		CHECK(((uintptr_t)p[r][4] & 4095) == 0 && ((uintptr_t)p[r][5] & 4095) == 0);
	}
	for (int i = 0; i < 6; i++) {
		free(p[0][i]);
		kept[40 + i] = p[1][i];
		kept[46 + i] = p[2][i];
	}
}

/* The report stream: appends to report[], allocating a scratch block per
 * write, from a call chain made while the registry lock is held. */
static char report[1 << 16];
static size_t report_len;
static int report_allocs;

__attribute__((noipa)) static ssize_t report_write(void *c, const char *buf, size_t n)
{
	(void)c;
	char *tmp = malloc(n + 1);
	KEEP(tmp);
	if (!tmp || report_len + n >= sizeof(report))
		return -1;
	memcpy(tmp, buf, n);
	memcpy(report + report_len, tmp, n);
	report_len += n;
	report_allocs++;
	free(tmp);
	return (ssize_t)n;
}

#define NT 4
#define PER 1000

__attribute__((noipa)) void *worker(void *arg)
{
	void **mine = arg;
	for (int i = 0; i < PER; i++) {
		mine[i] = malloc(32);
		KEEP(mine[i]);
	}
	for (int i = 0; i < PER; i += 2)
		free(mine[i]);
	return NULL;
}

#define WRAP 70000

__attribute__((noipa)) void delta(void)
{
	for (int i = 0; i < WRAP; i++) {
		void *p = malloc(48);
		KEEP(p);
		free(p);
	}
}

__attribute__((noipa)) void epsilon(int n)
{
	for (int i = 0; i < n; i++) {
		void *a = malloc(40); /* two chains, one class */
		KEEP(a);
		void *b = malloc(48);
		KEEP(a);
		KEEP(b);
		free(a);
		free(b);
	}
}

static void *delta_thread(void *arg)
{
	(void)arg;
	delta();
	return NULL;
}

#define RACE 20000

static volatile int racing, reading;

static void *epsilon_thread(void *arg)
{
	(void)arg;
	while (!reading) /* the reader's walks overlap the run */
		;
	epsilon(RACE);
	return NULL;
}

static void *reader_thread(void *arg)
{
	uint64_t *reads = arg;
	while (racing) {
		reading = 1;
		struct sum w[] = {{.fn = "epsilon"}, {.fn = NULL}};
		at_sites_each(add, w);
		/* a fold seen from both sides counts one bin's count twice */
		CHECK(w[0].ac <= 6000 + 4 * RACE + 2 * 65535);
		(*reads)++;
	}
	return NULL;
}

/* Every chain whose site is fn: each made 3000 blocks, all freed. */
struct each_chain {
	const char *fn;
	unsigned int chains, bad;
};

/* Under the current tag t (nothing live): 3 blocks (malloc, calloc, a
 * realloc that moves), t's live counters exactly theirs; freed, nothing;
 * then without it, one malloc of theta's own chain (in *out). */
__attribute__((noipa)) void theta(struct alloc_tag *t, void **out)
{
	struct alloc_tag *old = alloctag_save(t);
	void *a = malloc(100), *b = calloc(3, 40), *c = realloc(malloc(16), 5000);
	alloctag_restore(t, old);
	CHECK(a && b && c);
	struct alloctag_counters v = alloctag_read(t);
	CHECK_EQ(v.calls, 3);
	CHECK_EQ(v.bytes, (long long)(malloc_usable_size(a) + malloc_usable_size(b) +
				      malloc_usable_size(c)));
	free(a);
	free(b);
	free(c);
	v = alloctag_read(t);
	CHECK_EQ(v.calls, 0);
	CHECK_EQ(v.bytes, 0);
	*out = malloc(64);
}

static void *theta_thread(void *arg)
{
	DEFINE_ALLOC_TAG(theta_tag);
	theta(&theta_tag, arg);
	return NULL;
}

static void each_chain_check(const struct at_chain_view *v, void *ctx)
{
	struct each_chain *c = ctx;
	int err;
	if (!v->site || strcmp(at_frame_get(v->frames[v->site - 1], &err)->tag.function, c->fn))
		return;
	c->chains++;
	if (v->live_calls || v->live_bytes || v->alloc_calls != 3000)
		c->bad++;
}

/* The cumulative calls and bytes of the chains whose site is fn. */
static void cum_of(const char *fn, uint64_t *calls, uint64_t *bytes)
{
	struct sum w[] = {{.fn = fn}, {.fn = NULL}};
	at_sites_each(add, w);
	*calls = w[0].ac;
	*bytes = w[0].ab;
}

int main(void)
{
	alloctag_init();
	CHECK(at_state == AT_STATE_READY && at_profiling_on);
	size_t alive = 0, aall = 0, blive = 0, glive = 0, gall = 0, zlive = 0, zall = 0;
	alpha(&alive, &aall);
	beta(&blive);
	gamma_(&glive, &gall);
	zeta(&zlive, &zall);

	struct sum s[] = {{.fn = "alpha"}, {.fn = "beta"}, {.fn = "gamma_"}, {.fn = "zeta"},
			  {.fn = NULL}};
	at_sites_each(add, s);
	CHECK_EQ(s[0].lb, alive);
	CHECK_EQ(s[0].lc, 6);
	CHECK_EQ(s[0].ab, aall);
	CHECK_EQ(s[0].ac, 10);
	CHECK_EQ(s[1].lb, blive);
	CHECK_EQ(s[1].lc, 4);
	CHECK_EQ(s[1].ab, blive);
	CHECK_EQ(s[1].ac, 4);
	CHECK_EQ(s[2].lb, glive);
	CHECK_EQ(s[2].lc, 1);
	CHECK_EQ(s[2].ab, gall);
	CHECK_EQ(s[2].ac, 8);
	CHECK_EQ(s[3].lb, zlive);
	CHECK_EQ(s[3].lc, 12);
	CHECK_EQ(s[3].ab, zall);
	CHECK_EQ(s[3].ac, 18);
	CHECK_EQ(s[3].chains, 6);
	/* top users: chains count as their sites, named like allocinfo's lines */
	struct alloctag_usage u[64];
	size_t nu = alloctag_top_users(u, 64);
	int seen = 0;
	for (size_t i = 0; i < nu; i++) {
		if (strcmp(u[i].tag->function, "gamma_") && strcmp(u[i].tag->function, "alpha"))
			continue;
		CHECK(at_chain_of(u[i].tag) == NULL);
		if (!strcmp(u[i].tag->function, "gamma_")) {
			CHECK_EQ(u[i].counters.bytes, (long long)glive);
			CHECK_EQ(u[i].counters.calls, 1);
		} else {
			CHECK_EQ(u[i].counters.bytes, (long long)alive);
			CHECK_EQ(u[i].counters.calls, 6);
		}
		seen++;
	}
	CHECK_EQ(seen, 2);
	printf("each: ok\n");

	static void *blocks[NT][PER];
	pthread_t th[NT];
	for (int i = 0; i < NT; i++)
		CHECK(pthread_create(&th[i], NULL, worker, blocks[i]) == 0);
	for (int i = 0; i < NT; i++)
		pthread_join(th[i], NULL);
	size_t one = malloc_usable_size(blocks[0][1]);
	struct sum w[] = {{.fn = "worker"}, {.fn = NULL}};
	at_sites_each(add, w);
	CHECK_EQ(w[0].lc, NT * PER / 2);
	CHECK_EQ(w[0].lb, NT * PER / 2 * one);
	CHECK_EQ(w[0].ac, NT * PER);
	CHECK_EQ(w[0].ab, NT * PER * one);
	printf("threads: ok\n");

	size_t u48 = malloc_usable_size(kept[0] = malloc(48));
	free(kept[0]);
	uint64_t calls, bytes;
	delta();
	cum_of("delta", &calls, &bytes);
	CHECK_EQ(calls, WRAP);
	CHECK_EQ(bytes, (uint64_t)WRAP * u48);
	epsilon(3000);
	cum_of("epsilon", &calls, &bytes);
	CHECK_EQ(calls, 6000);
	CHECK_EQ(bytes, 6000 * (uint64_t)u48);
	struct each_chain ec = {"epsilon", 0, 0};
	at_sites_each(each_chain_check, &ec);
	CHECK_EQ(ec.chains, 2);
	CHECK_EQ(ec.bad, 0);
	pthread_t dt;
	CHECK(pthread_create(&dt, NULL, delta_thread, NULL) == 0);
	pthread_join(dt, NULL);
	cum_of("delta", &calls, &bytes);
	CHECK_EQ(calls, 2 * WRAP);
	CHECK_EQ(bytes, 2 * (uint64_t)WRAP * u48);
	printf("wrap: ok\n");

	pthread_t rt, et[2];
	uint64_t reads = 0;
	racing = 1;
	CHECK(pthread_create(&rt, NULL, reader_thread, &reads) == 0);
	for (int i = 0; i < 2; i++)
		CHECK(pthread_create(&et[i], NULL, epsilon_thread, NULL) == 0);
	for (int i = 0; i < 2; i++)
		pthread_join(et[i], NULL);
	racing = 0;
	pthread_join(rt, NULL);
	CHECK(reads > 0);
	cum_of("epsilon", &calls, &bytes);
	CHECK_EQ(calls, 6000 + 4 * RACE);
	CHECK_EQ(bytes, (6000 + 4 * (uint64_t)RACE) * u48);
	printf("racing: ok (%llu reads)\n", (unsigned long long)reads);

	/* A report written to a stream that allocates as it writes (a
	 * cookie stream, unbuffered: each line reaches report_write while the
	 * registry lock is held): its allocations' new chain is not made (no
	 * tag), silently, and the report is whole. */
	cookie_io_functions_t io = {.write = report_write};
	FILE *out = fopencookie(NULL, "w", io), *err = tmpfile();
	CHECK(out && err);
	CHECK(setvbuf(out, NULL, _IONBF, 0) == 0);
	fflush(stderr);
	int saved = dup(2);
	CHECK(saved >= 0 && dup2(fileno(err), 2) == 2);
	CHECK_EQ(alloctag_write_allocinfo(out), 0);
	CHECK(dup2(saved, 2) == 2);
	close(saved);
	CHECK_EQ(ftell(err), 0); /* no message */
	CHECK(report_len > 100);
	CHECK(!strncmp(report, "allocinfo - version: 2.0\n", 25));
	CHECK(strstr(report, " func:worker \n") != NULL);
	CHECK(report_allocs > 2);
	printf("report: ok\n");

	void *own[2];
	theta_thread(&own[0]);
	pthread_t tt;
	CHECK(pthread_create(&tt, NULL, theta_thread, &own[1]) == 0);
	pthread_join(tt, NULL);
	struct sum ts[] = {{.fn = "theta"}, {.fn = NULL}};
	at_sites_each(add, ts);
	CHECK_EQ(ts[0].lc, 2);
	CHECK_EQ(ts[0].ac, 2);
	CHECK_EQ(ts[0].lb, malloc_usable_size(own[0]) + malloc_usable_size(own[1]));
	printf("current: ok\n");
	return 0;
}
