/*
 * The chains' memo (src/sites/chains.h) through the preload library's
 * malloc, linked into this program: every allocation is made by leaf(),
 * which first unwinds its own callers (at_unwind, no memo) and counts one
 * call for that exact chain; at the end every chain whose first frame is
 * in leaf must have exactly as many cumulative calls (at_sites_each: the
 * per-CPU counts plus the memo entries' own) as leaf counted for it, and
 * together as many as leaf made.  Scenarios that could make the memo take
 * one chain for another:
 *   callers    leaf reached through 5 identical levels from 4, then 8
 *              callers of identical code (same return address in leaf,
 *              same stack depth, chains that differ from their 6th frame
 *              on), round robin: then more chains than a memo set has ways
 *   recursion  leaf at the bottom of a recursion 1, 2, 5 or 6 deep, then
 *              0 to 24 deep (the same call site at every stack depth:
 *              entries proved at one stack pointer are used at another;
 *              chains that differ only in their outer frames)
 *   longjmp    leaf called from deep inside a recursion left by longjmp,
 *              then from a caller at the same stack depth
 *   signal     a timer's handler (every 200 us) looks its own chain up
 *              (at_chain_here, as malloc would: malloc itself is not
 *              async-signal-safe) while the main thread does all of the
 *              above, interrupting memo lookups and writes: the tag's
 *              chain must be the one unwound without the memo
 *   threads    4 threads run callers and recursion at once
 *   size       a thread whose allocations come from 4 chains keeps its
 *              memo's first sets (no growth); the main thread's chains
 *              (the 8 callers' in one set) grow its memo, entries
 *              moved while the timer's handler looks chains up (the
 *              counts above)
 *   once       a thread makes 32 chains (leaf called from 32 callers,
 *              one key and stack pointer: one set) once each: its memo
 *              keeps its first sets (chains made once do not grow it);
 *              then calls them round robin: the chains dropped come back,
 *              and the memo grows to at least 8 sets
 *   spill      a thread calls 12 of those callers round robin (more
 *              chains than a set holds): after warm-up, the chains their
 *              set pushed out are found by the lean walk (chains.h), and
 *              no call walks the stack (at_chain_walks)
 *   deep       20 chains through one wrapper at one stack pointer that
 *              differ from their 7th frame on: as spill
 *   rec        64 chains of a recursion, each at 96 stack depths: once
 *              made, found by the lean walk at every depth, no walk
 *   frame pointers  leaf_fp, whose CFA at its malloc is rbp-based, and
 *              fp_caller (rbp-based) calling leaf: walks that need rbp's
 *              value at malloc's CFA
 *   saved rbp  leaf called by saver (which saves rbp) from fp_outer
 *              (rbp-based CFA): past depth 3 the walk uses the rbp value
 *              saver saved, an entry of the memo's general shape
 *              (chains.h), which must be in the memo afterwards
 *   depth      at_chain_set_depth to another depth and back, with the
 *              callers: entries made at one depth must not serve the other
 *   fork       a child runs the callers and recursion: its thread makes a
 *              memo of its own (not the one it shares with the parent),
 *              and every chain's count is the parent's and the child's
 * Run at the default depth and at ALLOCTAG_DEPTH=3 and 16.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "core/control.h"
#include "sites/chains.h"
#include "sites/site_names.h"
#include "sites/sites_each.h"
#include "sites/unwind.h"
#include "startup/init.h"

#define MAXC 512

struct truth {
	unsigned int nc;
	struct {
		uintptr_t f[AT_CHAIN_MAX];
		unsigned int n;
		uint64_t calls;
	} c[MAXC];
	uint64_t made;
};

static struct truth main_truth, thread_truth[8];

/* Count one call for chain f[0..n) in t. */
static void count(struct truth *t, const uintptr_t *f, unsigned int n)
{
	for (unsigned int i = 0; i < t->nc; i++)
		if (t->c[i].n == n && !memcmp(t->c[i].f, f, n * sizeof(*f))) {
			t->c[i].calls++;
			return;
		}
	CHECK(t->nc < MAXC);
	memcpy(t->c[t->nc].f, f, n * sizeof(*f));
	t->c[t->nc].n = n;
	t->c[t->nc++].calls = 1;
}

/* The chain of its malloc without the malloc's own return address: the
 * walk from leaf's caller, one frame fewer. */
#define LEAF_BODY(t)                                                           \
	uintptr_t f[AT_CHAIN_MAX];                                             \
	unsigned int n = at_chain_depth > 1 ? at_unwind(f, at_chain_depth - 1, \
							(uintptr_t)__builtin_dwarf_cfa(), NULL) \
					    : 0;                               \
	count(t, f, n);                                                        \
	void *p = malloc(48);                                                  \
	CHECK(p != NULL);                                                      \
	__asm__ volatile("" : : "r"(p) : "memory");                            \
	free(p);                                                               \
	t->made++;

__attribute__((noipa)) void leaf(struct truth *t)
{
	LEAF_BODY(t)
}

/* Frame pointers: leaf_fp's CFA at its malloc call is rbp + 16 (a
 * variable-sized alloca keeps rbp as its frame pointer), so the walk from
 * malloc's CFA needs rbp's value there: the preload library's walk that
 * starts at that CFA must unwind again from its own frame (unwind.h,
 * at_unwind_from).  fp_caller's is rbp-based too, one frame further out. */
__attribute__((noipa)) void leaf_fp(struct truth *t, int k)
{
	volatile char *pad = __builtin_alloca(16 + (size_t)(k & 7) * 16);
	pad[0] = 1;
	LEAF_BODY(t)
}

__attribute__((noipa)) void fp_caller(struct truth *t, int k)
{
	volatile char *pad = __builtin_alloca(16 + (size_t)(k & 7) * 16);
	pad[0] = 1;
	leaf(t);
	__asm__ volatile("" ::: "memory");
}

/* saver keeps rbp in its frame (clobbered below; no frame pointer of its
 * own, whatever the build asks, so rbp is free to clobber), so fp_outer's CFA, rbp
 * + 16, is computed from the value saver saved. */
__attribute__((noipa, optimize("omit-frame-pointer"))) void saver(struct truth *t)
{
	__asm__ volatile("xorl %%ebp, %%ebp" ::: "rbp", "memory");
	leaf(t);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noipa)) void fp_outer(struct truth *t, int k)
{
	volatile char *pad = __builtin_alloca(16 + (size_t)(k & 7) * 16);
	pad[0] = 1;
	saver(t);
	__asm__ volatile("" ::: "memory");
}

/* Whether the calling thread's memo holds an entry of the general shape. */
static int memo_has_general(void)
{
	struct at_chain_memo *m = at_memo_tls.m;
	for (unsigned int s = 0; m != AT_MEMO_NONE && s < AT_MEMO_SETS; s++)
		for (unsigned int w = 0; w < AT_MEMO_WAYS; w++)
			if (m->e[s][w].key && (m->e[s][w].spx & AT_MEMO_SHAPE_ANY))
				return 1;
	return 0;
}

/* Five identical levels between leaf and the callers: chains that differ
 * only from their 6th frame on, all at the same stack depth. */
#define MID(k, next)                                                           \
	__attribute__((noipa)) void mid##k(struct truth *t)                    \
	{                                                                      \
		next(t);                                                       \
		__asm__ volatile("" ::: "memory");                             \
	}
MID(1, leaf) MID(2, mid1) MID(3, mid2) MID(4, mid3) MID(5, mid4)

#define CALLER(k)                                                              \
	__attribute__((noipa)) void caller##k(struct truth *t)                 \
	{                                                                      \
		mid5(t);                                                       \
		__asm__ volatile("" ::: "memory");                             \
	}
CALLER(0) CALLER(1) CALLER(2) CALLER(3) CALLER(4) CALLER(5) CALLER(6) CALLER(7)
static void (*const callers[8])(struct truth *) = {caller0, caller1, caller2, caller3,
						   caller4, caller5, caller6, caller7};

__attribute__((noipa)) void recurse(struct truth *t, int d)
{
	if (d > 0)
		recurse(t, d - 1);
	else
		leaf(t);
	__asm__ volatile("" ::: "memory");
}

static jmp_buf jb;
static volatile int jump = 1;

__attribute__((noipa)) void dive(struct truth *t, int d)
{
	if (d <= 0) {
		leaf(t);
		if (jump)
			longjmp(jb, 1);
		return;
	}
	dive(t, d - 1);
	__asm__ volatile("" ::: "memory");
}

/* 4 then 8 callers round robin (as many chains as a memo set has ways at
 * one stack depth, then more); recursion at 4 depths (as many chains as a memo
 * set has ways: they stay in it) that differ in their 6th to 8th frames;
 * then recursion at every depth to 24 with the callers. */
static void callers_and_recursion(struct truth *t, int rounds)
{
	static const int depths[4] = {1, 2, 5, 6};
	for (int r = 0; r < rounds; r++)
		callers[r % 4](t);
	for (int r = 0; r < rounds; r++)
		callers[r % 8](t);
	for (int r = 0; r < rounds; r++)
		recurse(t, depths[r % 4]);
	for (int r = 0; r < rounds; r++) {
		callers[r % 8](t);
		recurse(t, r % 25);
	}
}

/* The chain of this call (at_chain_here) and its return address. */
__attribute__((noinline)) struct alloc_tag *probe(uintptr_t *ra)
{
	*ra = (uintptr_t)__builtin_return_address(0);
	return at_chain_here((uintptr_t)__builtin_dwarf_cfa(), __builtin_return_address(0));
}

static volatile sig_atomic_t sig_calls, sig_wrong;

__attribute__((noinline)) void sig_leaf(void)
{
	uintptr_t f[AT_CHAIN_MAX + 1], ra;
	unsigned int n = at_unwind(f + 1, at_chain_depth - 1, (uintptr_t)__builtin_dwarf_cfa(), NULL);
	struct alloc_tag *t = probe(&ra);
	f[0] = ra;
	struct at_chain *c = at_chain_of(t);
	uintptr_t cf[AT_CHAIN_MAX];
	if (!c || at_chain_frames(c, cf) != n + 1 || memcmp(cf, f, (n + 1) * sizeof(uintptr_t)))
		sig_wrong++;
	sig_calls++;
}

__attribute__((noipa)) void sig_mid(int k)
{
	if (k)
		sig_mid(k - 1);
	else
		sig_leaf();
	__asm__ volatile("" ::: "memory");
}

static void on_alarm(int sig)
{
	(void)sig;
	sig_mid(sig_calls % 3);
}

/* 4 chains (callers 0..3): the memo keeps its first sets. */
static void *few(void *arg)
{
	for (int r = 0; r < 400; r++)
		callers[r % 4](arg);
	struct at_chain_memo *m = at_memo_tls.m;
#ifdef __OPTIMIZE__ /* unoptimised, the library's walks are seldom kept: see main */
	CHECK(m != AT_MEMO_NONE || at_chain_depth == 1); /* depth 1 keeps no memo */
#endif
	if (m != AT_MEMO_NONE)
		CHECK_EQ(m->mask, (1u << AT_MEMO_SHIFT_FIRST) - 1);
	return NULL;
}

#define ONCE(k)                                                                \
	__attribute__((noipa)) void once##k(struct truth *t)                   \
	{                                                                      \
		leaf(t);                                                       \
		__asm__ volatile("" ::: "memory");                             \
	}
#define ONCE8(k) ONCE(k##0) ONCE(k##1) ONCE(k##2) ONCE(k##3) ONCE(k##4) ONCE(k##5) ONCE(k##6) ONCE(k##7)
ONCE8(1) ONCE8(2) ONCE8(3) ONCE8(4)
#define ONCE8P(k) once##k##0, once##k##1, once##k##2, once##k##3, once##k##4, once##k##5, once##k##6, once##k##7
static void (*const onces[32])(struct truth *) = {ONCE8P(1), ONCE8P(2), ONCE8P(3), ONCE8P(4)};

/* 32 new chains once each: no growth; then again and again: growth. */
static void *once(void *arg)
{
	for (int r = 0; r < 32; r++)
		onces[r](arg);
	struct at_chain_memo *m = at_memo_tls.m;
#ifdef __OPTIMIZE__
	if (at_chain_depth >= 2)
		CHECK_EQ(m->mask, (1u << AT_MEMO_SHIFT_FIRST) - 1);
#endif
	/* 4 sets hold 16 entries: the chains dropped come back until the
	 * memo has grown to at least 8 sets */
	for (int r = 0; r < 32 * 12; r++)
		onces[r % 32](arg);
#ifdef __OPTIMIZE__
	if (at_chain_depth >= 2)
		CHECK(at_memo_tls.m->mask >= 7);
#endif
	return NULL;
}

/* Rounds of calls of the first 12 of the 32 (one function, so that each
 * chain is the same in every round). */
__attribute__((noipa)) void spill_rounds(struct truth *t, int rounds)
{
	for (int r = 0; r < 12 * rounds; r++)
		onces[r % 12](t);
}

/* rounds(t, 400), then rounds(t, 40) with no walk at all (checked at
 * depths lo .. hi). */
static void steady_rounds(void (*rounds)(struct truth *, int), struct truth *t,
			  unsigned int lo, unsigned int hi)
{
	uint32_t walks = 0;
	for (volatile int k = 0; k < 2; k++) { /* one call site: the same chains */
		if (k)
			walks = at_chain_walks();
		rounds(t, k ? 40 : 400);
	}
#ifdef __OPTIMIZE__
	if (at_chain_depth >= lo && at_chain_depth <= hi)
		CHECK_EQ(at_chain_walks() - walks, 0);
#endif
	(void)walks, (void)lo, (void)hi;
}

/* 12 chains through one wrapper (leaf) at one stack pointer, more than a
 * set holds, round robin: the chains their set pushed out are found by the
 * lean walk (chains.h): no walk at all. */
static void *spill(void *arg)
{
	steady_rounds(spill_rounds, arg, 2, AT_CHAIN_MAX);
	return NULL;
}

/* 20 callers of mid5: chains that differ from their 7th frame on, at
 * one stack pointer (one key, one word 0, 1 and 2): the memo's set holds
 * 4 of them, the lean walk (chains.h) finds the rest. */
#define DEEP(k)                                                                \
	__attribute__((noipa)) void deep##k(struct truth *t)                   \
	{                                                                      \
		mid5(t);                                                       \
		__asm__ volatile("" ::: "memory");                             \
	}
#define DEEP10(k) DEEP(k##0) DEEP(k##1) DEEP(k##2) DEEP(k##3) DEEP(k##4) DEEP(k##5) DEEP(k##6) DEEP(k##7) DEEP(k##8) DEEP(k##9)
DEEP10(1) DEEP10(2)
#define DEEP10P(k) deep##k##0, deep##k##1, deep##k##2, deep##k##3, deep##k##4, deep##k##5, deep##k##6, deep##k##7, deep##k##8, deep##k##9
static void (*const deeps[20])(struct truth *) = {DEEP10P(1), DEEP10P(2)};

__attribute__((noipa)) void deep_rounds(struct truth *t, int rounds)
{
	for (int r = 0; r < 20 * rounds; r++)
		deeps[r % 20](t);
}

/* The 20 chains round robin: after warm-up no call walks the stack. */
static void *deep(void *arg)
{
	steady_rounds(deep_rounds, arg, 2, AT_CHAIN_MAX);
	return NULL;
}

/* Recursive code (chains.h: The lean walk): rec calls itself from two
 * places, the one chosen by a bit of `path` for each remaining depth d
 * (bit d % 6), so that the innermost frames of a call of any depth are a
 * function of the path alone: at the default depth 64 chains whose
 * words repeat, each met at 96 stack depths, 6144 (chain, stack pointer)
 * pairs, more than the memo holds.  Once every chain is made no call
 * walks the stack: the lean walk finds each at every depth. */
__attribute__((noipa)) void rec(struct truth *t, unsigned int path, int d)
{
	if (d <= 0) {
		leaf(t);
	} else if (path >> (d % 6) & 1) {
		rec(t, path, d - 1);
		__asm__ volatile("nop" ::: "memory"); /* two call sites, not one */
	} else {
		rec(t, path, d - 1);
		__asm__ volatile("nop; nop" ::: "memory");
	}
	__asm__ volatile("" ::: "memory");
}

__attribute__((noipa)) void recursion_rounds(struct truth *t, int rounds)
{
	for (int r = 0; r < 64 * rounds; r++)
		rec(t, (unsigned int)r % 64, 8 + (r / 64 * 5 + r) % 96);
}

static void *recursion(void *arg)
{
	/* every chain made in the first rounds; then no walk (the memo's
	 * sets, chosen by the stack pointer, hold 256 of the 6144 pairs) */
	steady_rounds(recursion_rounds, arg, 2, AT_CHAIN_MAX);
	return NULL;
}

static void *worker(void *arg)
{
	callers_and_recursion(arg, 1500);
	return NULL;
}

/* Leaf's chains, found by the site of their first frame. */
static uint64_t seen_calls;

static void check_chain(const struct at_chain_view *v, void *ctx)
{
	(void)ctx;
	int err;
	struct at_frame *fr = at_frame_get(v->frames[0], &err);
	CHECK(fr != NULL);
	if (strcmp(fr->tag.function, "leaf") && strcmp(fr->tag.function, "leaf_fp"))
		return;
	uint64_t want = 0;
	struct truth *all[] = {&main_truth, &thread_truth[0], &thread_truth[1],
			       &thread_truth[2], &thread_truth[3], &thread_truth[4],
			       &thread_truth[5], &thread_truth[6], &thread_truth[7]};
	for (unsigned int k = 0; k < AT_ARRAY_SIZE(all); k++)
		for (unsigned int i = 0; i < all[k]->nc; i++)
			if (all[k]->c[i].n == v->nr_frames - 1 &&
			    !memcmp(all[k]->c[i].f, v->frames + 1, (v->nr_frames - 1) * sizeof(uintptr_t)))
				want += all[k]->c[i].calls;
	if (v->alloc_calls != want)
		fprintf(stderr, "chain of %u frames: %lu calls, want %lu\n", v->nr_frames,
			(unsigned long)v->alloc_calls, (unsigned long)want);
	CHECK_EQ(v->alloc_calls, want);
	seen_calls += v->alloc_calls;
}

int main(void)
{
	alloctag_init();
	CHECK(at_state == AT_STATE_READY && at_profiling_on);
	pthread_t th[4]; /* no timer yet: its handler could run in few's thread */
	CHECK(pthread_create(&th[0], NULL, few, &thread_truth[4]) == 0);
	CHECK(pthread_join(th[0], NULL) == 0);
	CHECK(pthread_create(&th[0], NULL, once, &thread_truth[5]) == 0);
	CHECK(pthread_join(th[0], NULL) == 0);
	CHECK(pthread_create(&th[0], NULL, spill, &thread_truth[6]) == 0);
	CHECK(pthread_join(th[0], NULL) == 0);
	CHECK(pthread_create(&th[0], NULL, deep, &thread_truth[7]) == 0);
	CHECK(pthread_join(th[0], NULL) == 0);
	CHECK(pthread_create(&th[0], NULL, recursion, &thread_truth[3]) == 0);
	CHECK(pthread_join(th[0], NULL) == 0);

	struct sigaction sa = {.sa_handler = on_alarm};
	CHECK(sigaction(SIGALRM, &sa, NULL) == 0);
	for (int k = 0; k < 3; k++) /* the handler's chains made first: a chain */
		raise(SIGALRM);     /* made in a handler may get no tag (chains.h) */
	struct itimerval it = {{0, 200}, {0, 200}};
	CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);

	for (int i = 0; i < 4; i++)
		CHECK(pthread_create(&th[i], NULL, worker, &thread_truth[i]) == 0);
	callers_and_recursion(&main_truth, 3000);
	/* from depth 7 the 8 callers' chains differ: 8 entries of one key and
	 * stack pointer, one set whatever the mask, with
	 * the other chains: it grew */
#ifdef __OPTIMIZE__
	if (at_chain_depth >= 7)
		CHECK(at_memo_tls.m->mask > (1u << AT_MEMO_SHIFT_FIRST) - 1);
#endif
	for (int r = 0; r < 400; r++) {
		if (!setjmp(jb))
			dive(&main_truth, r % 12);
		callers[r % 8](&main_truth);
	}
	for (int r = 0; r < 400; r++) {
		leaf_fp(&main_truth, r);
		fp_caller(&main_truth, r);
		callers[r % 8](&main_truth);
	}
	at_chain_set_depth(at_chain_depth); /* this thread's memo emptied */
	CHECK(!memo_has_general());
	for (int r = 0; r < 400; r++) {
		fp_outer(&main_truth, r & 1); /* two stack pointers for leaf */
		callers[r % 4](&main_truth);
	}
	for (int r = 0; r < 400; r++)
		fp_outer(&main_truth, r & 1);
#ifdef __OPTIMIZE__
	/* An unoptimised build (the sanitizers') keeps rbp as every function's
	 * frame pointer, the library's own included: its walks take other
	 * shapes.  The exact counts at the end are checked in every build. */
	CHECK_EQ(memo_has_general(), at_chain_depth > 3);
#endif
	for (int i = 0; i < 4; i++)
		CHECK(pthread_join(th[i], NULL) == 0);
	struct itimerval off = {{0, 0}, {0, 0}};
	CHECK(setitimer(ITIMER_REAL, &off, NULL) == 0);
	/* one thread left, no timer: another depth and back */
	unsigned int d0 = at_chain_depth, d1 = d0 == 3 ? 5 : 3;
	for (int k = 0; k < 2; k++) {
		at_chain_set_depth(k ? d0 : d1);
		for (int r = 0; r < 400; r++)
			callers[r % 8](&main_truth);
	}

	at_sites_each(check_chain, NULL);
	CHECK_EQ(sig_wrong, 0);
	CHECK(sig_calls > 3);
	uint64_t made = main_truth.made;
	for (int i = 0; i < 8; i++)
		made += thread_truth[i].made;
	CHECK_EQ(seen_calls, made);

	/* fork: the child's thread starts a memo of its own at its first walk
	 * (not the parent's, whose pages it shares, nor an exited thread's);
	 * the counts of the one it left stay in the readers' sums */
	struct at_chain_memo *old = at_memo_tls.m;
	CHECK(old != AT_MEMO_NONE);
	uint64_t before = main_truth.made;
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (!pid) {
		CHECK(at_memo_tls.m == AT_MEMO_NONE);
		callers_and_recursion(&main_truth, 200);
		CHECK(at_memo_tls.m != old);
#ifdef __OPTIMIZE__ /* unoptimised, leaf's walks use rbp at malloc's CFA: no entry */
		CHECK(at_memo_tls.m != AT_MEMO_NONE);
#endif
		seen_calls = 0;
		at_sites_each(check_chain, NULL);
		CHECK_EQ(seen_calls, made + (main_truth.made - before));
		_exit(0);
	}
	int st;
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	printf("chain memo: ok (%lu mallocs, %d lookups in a signal handler, %u chains in main)\n",
	       (unsigned long)made, (int)sig_calls, main_truth.nc);
	return 0;
}
