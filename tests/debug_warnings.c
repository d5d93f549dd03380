/*
 * Debug mode (ALLOCTAG_DEBUG=1): each warning appears exactly when expected,
 * once per tag, and never otherwise.  The parent runs each scenario in a
 * child process (this program re-executed with the scenario's environment),
 * which prints on stdout the stderr it expects from the runtime; the parent
 * compares that with the child's real stderr, read through a pipe.
 *
 * Every child allocates early pages in a constructor that runs before the
 * runtime's, and frees one in the window between "store ready" and the
 * hand-over (the internal test hook): neither those nor the ones freed after
 * the hand-over may warn.  The constructor also allocates small objects,
 * which must not warn when freed either (they record the empty reference).
 * The obj_* scenarios check small objects' references the same way as the
 * page scenarios check pages'.
 */
#pragma GCC diagnostic ignored "-Wprio-ctor-dtor"
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/charge.h"
#include "check.h"
#include "pages/early.h"
#include "objects/slab.h"

static int debug; /* the child's expectation: debug mode on */
static void *early[4];
static void *early_obj[4];

static void *page(struct alloc_tag **site)
{
	DEFINE_ALLOC_TAG(t);
	if (site)
		__atomic_store_n(site, &t, __ATOMIC_RELAXED);
	return alloc_hooks_tag(t, at_alloc_pages_noprof(0));
}

static void *page2(struct alloc_tag **site)
{
	DEFINE_ALLOC_TAG(t);
	__atomic_store_n(site, &t, __ATOMIC_RELAXED);
	return alloc_hooks_tag(t, at_alloc_pages_noprof(0));
}

static struct alloc_tag *site_s1(void)
{
	DEFINE_ALLOC_TAG(t);
	return &t;
}

static struct alloc_tag *site_s2(void)
{
	DEFINE_ALLOC_TAG(t);
	return &t;
}

static void expect(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void expect(const char *fmt, ...)
{
	va_list ap;
	if (!debug)
		return;
	printf("alloctag: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static void hook(void)
{
	at_free_pages(early[3], 0); /* READY, not yet handed over */
	early[3] = NULL;
}

__attribute__((constructor(100))) static void early_ctor(void)
{
	CHECK_EQ(at_state, AT_STATE_EARLY);
	for (int i = 0; i < 4; i++)
		CHECK((early[i] = page(NULL)) != NULL);
	for (int i = 0; i < 4; i++)
		CHECK((early_obj[i] = at_malloc_noprof(40)) != NULL);
	at_early_test_hook = hook;
}

static uint32_t pfn_of(void *p)
{
	return at_addr_to_pfn(p);
}

/* Frees with a given hook current. */
static int free_page_ret(void *p)
{
	at_free_pages(p, 0);
	return 0;
}

static int set_current(struct alloc_tag *t)
{
	alloctag_current_tag = t;
	return 0;
}

static void scenario_clean(void)
{
	struct alloc_tag *t;
	for (int i = 0; i < 3; i++)
		at_free_pages(early[i], 0); /* emptied by the hand-over */
	void *p = page(&t);
	at_free_pages(p, 0);
	p = at_alloc_pages_noprof(0); /* no current tag */
	at_free_pages(p, 0);
	/* Allocated while off, freed while on. */
	int was_on = alloctag_profiling();
	CHECK_EQ(alloctag_set_profiling(false), 0);
	p = page(&t);
	void *q = at_alloc_pages_noprof(0);
	CHECK_EQ(alloctag_set_profiling(true), 0);
	at_free_pages(p, 0);
	at_free_pages(q, 0);
	/* Allocated while on, freed while off. */
	p = page(&t);
	CHECK_EQ(alloctag_set_profiling(false), 0);
	at_free_pages(p, 0);
	CHECK_EQ(alloctag_set_profiling(was_on), 0);
	/* alloctag's own pages. */
	p = at_page_alloc_raw(0, AT_PG_NO_CODETAG);
	at_page_free_raw(p, 0);
	/* Hooks that restore properly, nested. */
	DEFINE_ALLOC_TAG(outer);
	p = alloc_hooks_tag(outer, page(&t));
	at_free_pages(p, 0);
}

/*
 * A page left holding a tag by a stale write after its free: the next
 * allocation of that page warns, naming the left-behind tag, once per tag.
 * Only the side table can carry it: a compressed reference lives in the
 * flags word, which the allocator rewrites (free pages' flags are zero).
 */
static void scenario_not_cleared(void)
{
	struct alloc_tag *t, *s1 = site_s1(), *s2 = site_s2();
	void *pages[64];
	int at = -1;
	for (int i = 0; i < 64; i++)
		pages[i] = page2(&t);
	for (int i = 0; i < 64 && at < 0; i++)
		for (int j = 0; j < 64; j++)
			if (pfn_of(pages[j]) == (pfn_of(pages[i]) ^ 1) && pfn_of(pages[i]) < (1u << AT_MAX_ORDER))
				at = i;
	CHECK(at >= 0);
	void *p = pages[at];
	struct alloc_tag *stale[3] = {s1, s1, s2};
	for (int k = 0; k < 3; k++) {
		at_free_pages(p, 0);
		at_page_ref_update(pfn_of(p), stale[k]); /* the bug */
		CHECK(page2(&t) == p);
		if (!alloctag_compressed() && (k == 0 || k == 2))
			expect("alloc_tag was not cleared (got tag for %s:%u)", stale[k]->filename,
			       stale[k]->lineno);
		CHECK_EQ(at_page_ref_get(pfn_of(p)), t);
	}
	for (int i = 0; i < 64; i++)
		at_free_pages(pages[i], 0);
}

/* Pages whose reference was lost (the bug), freed while profiling is on. */
static void scenario_not_set(void)
{
	struct alloc_tag *t;
	/* An early page: emptied by the hand-over, then lost. */
	at_page_ref_update(pfn_of(early[0]), AT_REF_NONE);
	at_free_pages(early[0], 0);
	expect("alloc_tag was not set (page %p freed with no current tag)", early[0]);
	void *p = page(&t);
	at_page_ref_update(pfn_of(p), AT_REF_NONE);
	at_free_pages(p, 0); /* same (no current tag): once */

	DEFINE_ALLOC_TAG(h);
	for (int k = 0; k < 2; k++) {
		p = page(&t);
		at_page_ref_update(pfn_of(p), AT_REF_NONE);
		alloc_hooks_tag(h, free_page_ret(p));
		if (k == 0)
			expect("alloc_tag was not set (page %p freed under %s:%u func:%s)", p,
			       h.filename, h.lineno, h.function);
	}
	/* Profiling off: no check. */
	DEFINE_ALLOC_TAG(h2);
	p = page(&t);
	at_page_ref_update(pfn_of(p), AT_REF_NONE);
	CHECK_EQ(alloctag_set_profiling(false), 0);
	alloc_hooks_tag(h2, free_page_ret(p));
	CHECK_EQ(alloctag_set_profiling(true), 0);
	/* alloctag's own pages never hold a reference. */
	p = at_page_alloc_raw(0, AT_PG_NO_CODETAG);
	alloc_hooks_tag(h2, (at_page_free_raw(p, 0), 0));
	for (int i = 1; i < 3; i++)
		at_free_pages(early[i], 0);
}

static struct alloc_tag *other_site(void)
{
	DEFINE_ALLOC_TAG(t);
	return &t;
}

/* A hook finds another current tag on restore: once per hook. */
static void scenario_changed(void)
{
	struct alloc_tag *o = other_site();
	DEFINE_ALLOC_TAG(h);
	for (int k = 0; k < 2; k++) {
		alloc_hooks_tag(h, set_current(o));
		if (k == 0)
			expect("current tag was changed (hook at %s:%u func:%s found %s:%u func:%s)",
			       h.filename, h.lineno, h.function, o->filename, o->lineno, o->function);
	}
	DEFINE_ALLOC_TAG(h2);
	alloc_hooks_tag(h2, set_current(NULL));
	expect("current tag was changed (hook at %s:%u func:%s found no tag)", h2.filename,
	       h2.lineno, h2.function);
	CHECK(alloctag_current_tag == NULL);
}

/* ---- small objects ---- */

static void *obj(struct alloc_tag **site)
{
	DEFINE_ALLOC_TAG(t);
	__atomic_store_n(site, &t, __ATOMIC_RELAXED);
	return alloc_hooks_tag(t, at_malloc_noprof(40));
}

static int free_obj_ret(void *p)
{
	at_free(p);
	return 0;
}

/* Write object p's entry behind the allocator's back (the bug): allocated,
 * with reference ref (AT_REF_NONE: allocated, no reference). */
static void set_entry(void *p, at_ref_t ref)
{
	uintptr_t off = (uintptr_t)((char *)p - at_heap_base);
	uint64_t f = at_pages[(off >> AT_SLAB_SHIFT) << AT_SLAB_ORDER].flags;
	CHECK(f & AT_PG_SLAB);
	uint32_t idx = at_obj_index(off, at_page_class(f));
	if (f & AT_PG_WIDE)
		AT_STORE_RELAXED((uint64_t *)at_obj_entry(off) + idx, AT_OBJ_LIVE | (uintptr_t)ref);
	else
		at_obj_set_narrow(off, idx, at_ref_to_idx(ref));
}

static void *free_from_thread(void *p)
{
	at_free(p);
	return NULL;
}

static void *obj_in_thread(void *arg)
{
	struct alloc_tag *t;
	(void)arg;
	return obj(&t);
}

static void scenario_obj_clean(void)
{
	struct alloc_tag *t;
	/* made before start-up: empty reference; freed here and from a new
	 * thread (whose caches are fresh) */
	pthread_t th;
	for (int i = 0; i < 2; i++)
		at_free(early_obj[i]);
	for (int i = 2; i < 4; i++) {
		CHECK(!pthread_create(&th, NULL, free_from_thread, early_obj[i]));
		CHECK(!pthread_join(th, NULL));
	}
	void *p = obj(&t);
	at_free(p);
	p = at_malloc_noprof(40); /* no current tag */
	at_free(p);
	/* Allocated while off, freed while on, and the other way round. */
	CHECK_EQ(alloctag_set_profiling(false), 0);
	p = obj(&t);
	void *q = at_malloc_noprof(40);
	CHECK_EQ(alloctag_set_profiling(true), 0);
	at_free(p);
	at_free(q);
	p = obj(&t);
	CHECK_EQ(alloctag_set_profiling(false), 0);
	at_free(p);
	CHECK_EQ(alloctag_set_profiling(true), 0);
	/* Large blocks through the thread's cache of large blocks, reused
	 * untagged, then released when the cache overflows. */
	void *big[40];
	p = at_malloc_noprof(100000);
	at_free(p);
	CHECK(at_malloc_noprof(100000) == p); /* from the cache */
	at_free(p);
	for (int i = 0; i < 40; i++)
		CHECK((big[i] = at_malloc_noprof(100000)) != NULL);
	for (int i = 0; i < 40; i++)
		at_free(big[i]);
	/* Across threads, both ways. */
	p = obj(&t);
	CHECK(!pthread_create(&th, NULL, free_from_thread, p));
	CHECK(!pthread_join(th, NULL));
	CHECK(!pthread_create(&th, NULL, obj_in_thread, NULL));
	CHECK(!pthread_join(th, &p));
	at_free(p);
}

/* A free slot left holding a tag: the allocation that hands it out warns,
 * naming the left-behind tag, once per tag (both stores: entries are the
 * allocator's own, out of band). */
static void scenario_obj_not_cleared(void)
{
	struct alloc_tag *t, *s1 = site_s1(), *s2 = site_s2();
	void *p = obj(&t);
	struct alloc_tag *stale[3] = {s1, s1, s2};
	for (int k = 0; k < 3; k++) {
		at_free(p);
		set_entry(p, stale[k]); /* the bug */
		CHECK(obj(&t) == p);    /* the bin hands back the last slot freed */
		if (k == 0 || k == 2)
			expect("alloc_tag was not cleared (got tag for %s:%u)", stale[k]->filename,
			       stale[k]->lineno);
	}
	at_free(p);
}

/* Live objects whose reference was lost (the bug), freed with profiling on. */
static void scenario_obj_not_set(void)
{
	struct alloc_tag *t;
	void *p = obj(&t);
	set_entry(p, AT_REF_NONE);
	at_free(p);
	expect("alloc_tag was not set (object %p freed with no current tag)", p);
	p = obj(&t);
	set_entry(p, AT_REF_NONE);
	at_free(p); /* same (no current tag): once */

	DEFINE_ALLOC_TAG(h);
	for (int k = 0; k < 2; k++) {
		p = obj(&t);
		set_entry(p, AT_REF_NONE);
		alloc_hooks_tag(h, free_obj_ret(p));
		if (k == 0)
			expect("alloc_tag was not set (object %p freed under %s:%u func:%s)", p,
			       h.filename, h.lineno, h.function);
	}
	/* A large block's lost reference, freed into the thread's cache. */
	p = at_malloc_noprof(100000);
	at_page_ref_update(pfn_of(p), AT_REF_NONE);
	at_free(p);
	expect("alloc_tag was not set (page %p freed with no current tag)", p);
	/* Profiling off: no check. */
	DEFINE_ALLOC_TAG(h2);
	p = obj(&t);
	set_entry(p, AT_REF_NONE);
	CHECK_EQ(alloctag_set_profiling(false), 0);
	alloc_hooks_tag(h2, free_obj_ret(p));
	CHECK_EQ(alloctag_set_profiling(true), 0);
}

static int child(const char *name)
{
	CHECK(AT_LOAD(&at_early_handed_over));
	CHECK(early[3] == NULL);
	CHECK_EQ(alloctag_debug_key, debug);
	if (strcmp(name, "clean")) /* under ALLOCTAG=0 too */
		CHECK_EQ(alloctag_set_profiling(true), 0);
	if (!strcmp(name, "clean"))
		scenario_clean();
	else if (!strcmp(name, "not_cleared"))
		scenario_not_cleared();
	else if (!strcmp(name, "not_set"))
		scenario_not_set();
	else if (!strcmp(name, "changed"))
		scenario_changed();
	else if (!strcmp(name, "obj_clean"))
		scenario_obj_clean();
	else if (!strcmp(name, "obj_not_cleared"))
		scenario_obj_not_cleared();
	else if (!strcmp(name, "obj_not_set"))
		scenario_obj_not_set();
	else
		CHECK(!"unknown scenario");
	fflush(stdout);
	return 0;
}

static char *slurp(int fd)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	for (;;) {
		ssize_t r = read(fd, buf + n, cap - n - 1);
		if (r <= 0)
			break;
		n += (size_t)r;
		if (n + 1 == cap)
			buf = realloc(buf, cap *= 2);
	}
	buf[n] = 0;
	close(fd);
	return buf;
}

static void run(const char *name, const char *alloctag, int dbg)
{
	int out[2], err[2];
	CHECK(pipe(out) == 0 && pipe(err) == 0);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		close(out[0]);
		close(err[0]);
		if (alloctag)
			setenv("ALLOCTAG", alloctag, 1);
		else
			unsetenv("ALLOCTAG");
		if (dbg)
			setenv("ALLOCTAG_DEBUG", "1", 1);
		else
			unsetenv("ALLOCTAG_DEBUG");
		execl("/proc/self/exe", "debug_warnings", name, dbg ? "1" : "0", (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	char *want = slurp(out[0]);
	char *got = slurp(err[0]);
	int status;
	CHECK(waitpid(pid, &status, 0) == pid);
	printf("%-12s ALLOCTAG=%-14s debug=%d: %s", name, alloctag ? alloctag : "(unset)", dbg,
	       *want ? "\n" : "no warnings\n");
	printf("%s", want);
	CHECK_STREQ(got, want);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	free(want);
	free(got);
}

int main(int argc, char **argv)
{
	if (argc == 3) {
		debug = argv[2][0] == '1';
		return child(argv[1]);
	}
	static const char *const modes[] = {NULL, "1,uncompressed", "0"};
	static const char *const scenarios[] = {"clean",     "not_cleared",     "not_set",
						"changed",   "obj_clean",       "obj_not_cleared",
						"obj_not_set"};
	for (size_t s = 0; s < AT_ARRAY_SIZE(scenarios); s++)
		for (size_t m = 0; m < AT_ARRAY_SIZE(modes); m++)
			for (int dbg = 0; dbg < 2; dbg++)
				run(scenarios[s], modes[m], dbg);
	return 0;
}
