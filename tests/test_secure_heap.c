/*
 * The stricter heap (run with ALLOCTAG_SECURE=1 or 2 set: src/objects/secure.h,
 * src/objects/secure_block.h, src/pages/huge.c): each detection in a
 * child, which writes the exact line it expects on stderr ("want=<line>")
 * before its misuse; the child must then end by SIGABRT with exactly that
 * line after it (or by SIGSEGV and no line, for the guard pages).  Then, in
 * the test itself: usable sizes, exact counters, realloc, the quarantine's
 * delay (level 2) or a freed object handed out again at once (level 1), and
 * two threads freeing each other's neighbours (no false report).  The
 * writes after free of small objects and an underflow into a freed object
 * are cases at level 2 only; at level 1 the same child ends normally,
 * unreported.  Level 1's large blocks below 4 MiB have canaries (an
 * overflow, an underflow, a write after free end by SIGABRT), level 2's
 * guard pages (SIGSEGV).
 */
#include <alloctag.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "child.h"

static void want(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void want(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = snprintf(buf, sizeof(buf), "want=");
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	buf[n++] = '\n';
	CHECK(write(2, buf, (size_t)n) == n);
}

/* Two objects of n bytes, adjacent: *lo right below *hi in their slab. */
static void adjacent(size_t n, char **lo, char **hi)
{
	char *v[64];
	for (int i = 0; i < 64; i++)
		v[i] = at_malloc(n);
	for (int i = 0; i < 64; i++)
		for (int j = 0; j < 64; j++)
			if (v[j] > v[i] && (size_t)(v[j] - v[i]) <= 2 * n + 16 && j != i) {
				int next = 1; /* no object between them */
				for (int k = 0; k < 64; k++)
					if (v[k] > v[i] && v[k] < v[j])
						next = 0;
				if (!next)
					continue;
				*lo = v[i];
				*hi = v[j];
				return;
			}
	CHECK(!"two adjacent objects");
}

static void small_overflow(void)
{
	char *p = at_malloc(24); /* the class of 40 (48), less the canary */
	want("alloctag: heap overflow past a 32-byte object at %p; found by free", (void *)p);
	p[32] = 'X';
	at_free(p);
}

static void small_overflow_16(void)
{
	char *p = at_malloc(112);
	want("alloctag: heap overflow past a 112-byte object at %p; found by free", (void *)p);
	memset(p + 112, 0, 16);
	at_free(p);
}

/* A write to the canary's second 8 bytes only, skipping the first: both
 * levels read all 16 at free. */
static void small_overflow_skipping(void)
{
	char *p = at_malloc(112);
	want("alloctag: heap overflow past a 112-byte object at %p; found by free", (void *)p);
	p[112 + 8] = 'X';
	at_free(p);
}

static void aligned_overflow(void)
{
	char *p = at_aligned_alloc(64, 64);
	CHECK(!((uintptr_t)p & 63));
	/* its slot: the next class with room for the canary that is a
	 * multiple of 64 (128), less the canary */
	CHECK_EQ(at_usable_size(p), 112);
	want("alloctag: heap overflow past a 112-byte object at %p; found by free", (void *)p);
	p[112] = 0;
	at_free(p);
}

static void realloc_overflow(void)
{
	char *p = at_malloc(48);
	want("alloctag: heap overflow past a 48-byte object at %p; found by realloc", (void *)p);
	p[48] = 1;
	p = at_realloc(p, 400);
}

static int level;

/* An underflow of by bytes into the object below, live or freed.  Level 2
 * finds it at the free of the object above (its check of the slot below);
 * level 1 checks only the freed object's own canary, so it finds the live
 * one at the free of the object below, as an overflow past that one, and
 * the freed one not at all (the child then _exits, unreported). */
static void underflow(size_t by, int freed)
{
	char *lo, *hi;
	adjacent(48, &lo, &hi);
	if (freed)
		at_free(lo);
	if (level == 2)
		want("alloctag: heap underflow before a 48-byte object at %p (or an overflow past "
		     "the %s object before it, at %p); found by free", (void *)hi,
		     freed ? "freed" : "live", (void *)lo);
	else
		want("alloctag: heap overflow past a 48-byte object at %p; found by free", (void *)lo);
	memset(hi - by, 'X', by);
	at_free(hi);
	if (!freed)
		at_free(lo);
	_exit(0);
}

static void small_underflow_live(void)
{
	underflow(1, 0);
}

static void small_underflow_freed(void)
{
	underflow(16, 1);
}

/* A write at offset at of a freed n-byte object; found after `later` more
 * frees (the child then _exits: no check at exit), or at exit. */
static void write_after_free(size_t n, size_t at, int later)
{
	char *p = at_malloc(n);
	size_t u = at_usable_size(p); /* n's class is that of n + 16: 192 in 224 */
	at_free(p);
	want("alloctag: write after free to a %zu-byte object at %p (found when it left the "
	     "quarantine)", u, (void *)p);
	p[at] = 1;
	for (int i = 0; i < later; i++)
		at_free(at_malloc(n));
	if (!later)
		exit(0); /* destructors run: the check at exit */
	_exit(0); /* unreported (level 1) */
}

static void small_write_after_free(void)
{
	write_after_free(32, 8, 70); /* the quarantine's length and more */
}

static void write_after_free_at_exit(void)
{
	write_after_free(192, 0, 0);
}

static void double_free_quarantined(void)
{
	char *p = at_malloc(32);
	at_free(p);
	want("alloctag: free(%p): double free (the slot is free: freed before, or never handed "
	     "out)", (void *)p);
	at_free(p);
}

/* Level 2: the canary in the front slack of a guarded block's page.
 * Level 1: the end canary of the block below, found at its free (two
 * adjacent blocks of 256 KiB, the order of 200000 + 16 bytes). */
static void large_underflow(void)
{
	if (level == 2) {
		char *p = at_malloc(200000);
		want("alloctag: heap underflow before a 200000-byte block at %p; found by free",
		     (void *)p);
		p[-1] = 'X';
		at_free(p);
		return;
	}
	char *v[8], *lo = NULL, *hi = NULL;
	for (int i = 0; i < 8; i++)
		v[i] = at_malloc(200000);
	for (int i = 0; i < 8; i++)
		for (int j = 0; j < 8; j++)
			if (v[j] == v[i] + (256u << 10))
				lo = v[i], hi = v[j];
	CHECK(lo && hi);
	want("alloctag: heap underflow before the block at %p, into the end of the 200000-byte "
	     "block at %p below it; found by free", (void *)hi, (void *)lo);
	hi[-1] = 'X';
	at_free(hi);
	at_free(lo);
}

/* Level 2: the back guard.  Level 1: the tail canary. */
static void large_overflow(void)
{
	char *p = at_malloc(200000);
	if (level == 1)
		want("alloctag: heap overflow past a 200000-byte block at %p; found by free",
		     (void *)p);
	else
		want("%s", "");
	p[200000] = 1;
	at_free(p);
}

/* Level 1: a block of AT_SECURE_GUARD_MIN (4 MiB) or more is guarded too. */
static void large_overflow_guarded(void)
{
	char *p = at_malloc(5u << 20);
	want("%s", "");
	p[5u << 20] = 1;
	at_free(p);
}

static void large_underflow_page(void) /* level 2: the front guard */
{
	char *p = at_malloc(300000);
	want("%s", "");
	p[-4096 - 1] = 1;
	at_free(p);
}

/* Level 2: the freed block's first page faults.  Level 1: its first bytes'
 * poison is found changed when it is handed out again. */
static void large_write_after_free(void)
{
	char *p = at_malloc(200000);
	at_free(p);
	if (level == 1)
		want("alloctag: write after free to a 200000-byte block at %p (found when it was "
		     "handed out again)", (void *)p);
	else
		want("%s", "");
	p[100] = 1;
	at_free(at_malloc(200000));
}

/* A block grown by realloc: it ends at its back guard (level 2) or its tail
 * canary (level 1) still. */
static void large_grown_overflow(void)
{
	char *p = at_malloc(200000);
	p = at_realloc(p, 300000);
	size_t u = at_usable_size(p);
	if (level == 1)
		want("alloctag: heap overflow past a %zu-byte block at %p; found by free", u,
		     (void *)p);
	else
		want("%s", "");
	p[u] = 1;
	at_free(p);
}

/* A misuse level 1 does not catch: the child ends normally, its stderr
 * only the line it wrote. */
static void run_unreported(const char *name, void (*fn)(void))
{
	char buf[2048];
	int st = fork_stderr(fn, buf, sizeof(buf));
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || strncmp(buf, "want=", 5) ||
	    strchr(buf, '\n') != buf + strlen(buf) - 1) {
		fprintf(stderr, "FAIL %s: want exit 0, status %#x; stderr:\n%s", name, st, buf);
		exit(1);
	}
	printf("%s: not reported at level 1\n", name);
}

static void run(const char *name, void (*fn)(void), int sig)
{
	char buf[2048];
	int st = fork_stderr(fn, buf, sizeof(buf));
	if (!WIFSIGNALED(st) || WTERMSIG(st) != sig) {
		fprintf(stderr, "FAIL %s: want signal %d, status %#x; stderr:\n%s", name, sig, st, buf);
		exit(1);
	}
	CHECK(!strncmp(buf, "want=", 5));
	char *nl = strchr(buf, '\n');
	CHECK(nl);
	*nl = 0;
	char expect[600];
	snprintf(expect, sizeof(expect), "%s%s", buf + 5, buf[5] ? "\n" : "");
	if (strcmp(nl + 1, expect)) {
		fprintf(stderr, "FAIL %s: stderr\n%s--- want:\n%s", name, nl + 1, expect);
		exit(1);
	}
	printf("%s: %s%s", name, sig == SIGSEGV ? "SIGSEGV" : "", expect[0] ? expect : "\n");
}

static struct alloc_tag *site;

static void *site_malloc(size_t n)
{
	DEFINE_ALLOC_TAG(t);
	site = &t;
	return alloc_hooks_tag(t, at_malloc_noprof(n));
}

static struct alloc_tag *rsite;

static void *site_realloc(void *p, size_t n)
{
	DEFINE_ALLOC_TAG(t);
	rsite = &t;
	return alloc_hooks_tag(t, at_realloc_noprof(p, n));
}

static void counts_are(struct alloc_tag *t, int64_t bytes, int64_t calls)
{
	struct alloctag_counters c = alloctag_read(t);
	CHECK_EQ(c.bytes, bytes);
	CHECK_EQ(c.calls, calls);
}

/* Two threads allocating and freeing objects of one class, half of each
 * other's: neighbours change under every free's check. */
#define SLOTS 512
static char *volatile shared[SLOTS];

static void *churn(void *arg)
{
	uint64_t x = (uintptr_t)arg * 0x9e3779b97f4a7c15ull + 1;
	for (int i = 0; i < 200000; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		unsigned int j = (unsigned int)(x % SLOTS);
		size_t n = 33 + (size_t)(x >> 40) % 16; /* one class, several requested sizes */
		char *p = __atomic_exchange_n(&shared[j], NULL, __ATOMIC_ACQ_REL);
		if (p)
			at_free(p);
		p = at_malloc(n);
		CHECK(p && at_usable_size(p) == 48);
		memset(p, 0x41, n);
		p = __atomic_exchange_n(&shared[j], p, __ATOMIC_ACQ_REL);
		if (p)
			at_free(p);
	}
	return NULL;
}

int main(void)
{
	/* usable sizes (those of the default mode) and exact counters */
	char *p = site_malloc(24);
	CHECK_EQ(at_usable_size(p), 32);
	struct alloctag_counters c = alloctag_read(site);
	CHECK_EQ(c.bytes, 32);
	CHECK_EQ(c.calls, 1);
	memset(p, 7, 32);
	char *q = at_realloc(p, 20); /* in place: the canary is past the usable size */
	CHECK(q == p && at_usable_size(q) == 32);
	q = at_realloc(p, 100); /* moves */
	CHECK(q != p && at_usable_size(q) == 112 && q[31] == 7);
	at_free(q);
	char *z = at_calloc(3, 5);
	CHECK(at_usable_size(z) == 16 && !z[14]);
	at_free(z);
	p = site_malloc(16384); /* the largest class: no room for a canary */
	CHECK_EQ(at_usable_size(p), 16384);
	at_free(p);
	p = site_malloc(200000); /* between guard pages: its size rounded to 16 */
	CHECK_EQ(at_usable_size(p), 200000);
	c = alloctag_read(site);
	CHECK_EQ(c.bytes, 200000);
	CHECK_EQ(c.calls, 1);
	at_free(p);
	c = alloctag_read(site);
	CHECK_EQ(c.bytes, 0);
	CHECK_EQ(c.calls, 0);
	const char *lv = getenv("ALLOCTAG_SECURE");
	level = lv && !strcmp(lv, "2") ? 2 : 1;
	/* realloc of a large block grows it in place.  Level 2: its back guard
	 * moved up, the size rounded up to end at a page boundary (200000 =
	 * 48 pages and 3392 bytes: 300000 -> 302400, 73 pages and 3392).
	 * Level 1: within its block of 256 KiB (250000 + 16 fits), its canary
	 * moved: the size rounded to 16.  Charged as a move to the realloc's
	 * tag. */
	p = site_malloc(200000);
	for (int i = 0; i < 200000; i += 997)
		p[i] = (char)i;
	size_t grown = level == 2 ? 300000 : 250000;
	q = site_realloc(p, grown);
	CHECK(q == p);
	CHECK_EQ(at_usable_size(q), level == 2 ? 302400 : 250000);
	for (int i = 0; i < 200000; i += 997)
		CHECK(q[i] == (char)i);
	memset(q + 200000, 1, at_usable_size(q) - 200000);
	counts_are(site, 0, 0);
	counts_are(rsite, level == 2 ? 302400 : 250000, 1);
	/* level 2: past its mapping's room (2 x 229376): moves; level 1: moves
	 * or grows by its buddies */
	q = at_realloc(p, 1u << 20);
	CHECK((q != p || level == 1) && at_usable_size(q) == 1u << 20 && q[997] == (char)997);
	counts_are(rsite, 0, 0);
	at_free(q);
	/* level 2's quarantine: a freed object is not handed out again soon;
	 * level 1: it is the next of its class handed out, as by default */
	p = at_malloc(72);
	at_free(p);
	char *v[60];
	for (int i = 0; i < 60; i++) {
		v[i] = at_malloc(72);
		CHECK(level == 2 ? v[i] != p : (v[i] == p) == (i == 0));
	}
	for (int i = 0; i < 60; i++)
		at_free(v[i]);

	static const struct {
		const char *name;
		void (*fn)(void);
		int sig1, sig2; /* the end at each level: 0 unreported, -1 not run */
	} cases[] = {
		{"small_overflow", small_overflow, SIGABRT, SIGABRT},
		{"small_overflow_16", small_overflow_16, SIGABRT, SIGABRT},
		{"small_overflow_skipping", small_overflow_skipping, SIGABRT, SIGABRT},
		{"aligned_overflow", aligned_overflow, SIGABRT, SIGABRT},
		{"realloc_overflow", realloc_overflow, SIGABRT, SIGABRT},
		{"small_underflow_live", small_underflow_live, SIGABRT, SIGABRT},
		{"small_underflow_freed", small_underflow_freed, 0, SIGABRT},
		{"write_after_free", small_write_after_free, 0, SIGABRT},
		{"write_after_free_at_exit", write_after_free_at_exit, 0, SIGABRT},
		{"double_free_quarantined", double_free_quarantined, SIGABRT, SIGABRT},
		{"large_underflow", large_underflow, SIGABRT, SIGABRT},
		{"large_overflow", large_overflow, SIGABRT, SIGSEGV},
		{"large_overflow_guarded", large_overflow_guarded, SIGSEGV, SIGSEGV},
		{"large_underflow_page", large_underflow_page, -1, SIGSEGV},
		{"large_write_after_free", large_write_after_free, SIGABRT, SIGSEGV},
		{"large_grown_overflow", large_grown_overflow, SIGABRT, SIGSEGV},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int sig = level == 1 ? cases[i].sig1 : cases[i].sig2;
		if (sig > 0)
			run(cases[i].name, cases[i].fn, sig);
		else if (!sig)
			run_unreported(cases[i].name, cases[i].fn);
	}

	pthread_t t[2];
	for (uintptr_t i = 0; i < 2; i++)
		CHECK(!pthread_create(&t[i], NULL, churn, (void *)(i + 1)));
	for (int i = 0; i < 2; i++)
		CHECK(!pthread_join(t[i], NULL));
	for (int j = 0; j < SLOTS; j++)
		at_free(shared[j]);
	printf("threads: 800000 cross-thread allocations and frees, no report\n");
	return 0;
}
