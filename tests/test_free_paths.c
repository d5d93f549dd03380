/*
 * Invalid, interior and double frees on every path (pages, small objects,
 * large blocks, huge blocks, aligned small and large objects, realloc and
 * at_usable_size of them) are caught before any metadata is touched: each
 * case runs in a child that catches the SIGABRT of alloctag's message,
 * jumps back, and checks that nothing changed - its call site's counters are
 * exactly what its live blocks hold, those blocks free normally, and every
 * kind of allocation still works (no lock left held: a hang fails the test
 * by its timeout).  The child's stderr must be the one "alloctag: " line
 * naming the address.
 */
#include <alloctag.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static sigjmp_buf back;
static struct alloc_tag *site;
static void *live[4];
static unsigned int live_order[4]; /* pages: order + 1; 0: malloc family */
static int nlive;
static char not_ours[64];

static void on_abort(int sig)
{
	(void)sig;
	siglongjmp(back, 1);
}

static void note(const void *p)
{
	char buf[64];
	int n = snprintf(buf, sizeof(buf), "addr=%p\n", p);
	CHECK(write(2, buf, (size_t)n) == n);
}

static void *keep(void *p, unsigned int order_plus_1)
{
	CHECK(p);
	live[nlive] = p;
	live_order[nlive++] = order_plus_1;
	return p;
}

static void *site_malloc(size_t n)
{
	DEFINE_ALLOC_TAG(t);
	site = &t;
	return keep(alloc_hooks_tag(t, at_malloc_noprof(n)), 0);
}

static void *site_aligned(size_t align, size_t n)
{
	DEFINE_ALLOC_TAG(t);
	site = &t;
	return keep(alloc_hooks_tag(t, at_aligned_alloc_noprof(align, n)), 0);
}

static void *site_pages(unsigned int order)
{
	DEFINE_ALLOC_TAG(t);
	site = &t;
	return keep(alloc_hooks_tag(t, at_alloc_pages_noprof(order)), order + 1);
}

/* A block freed (so not kept), for the double frees. */
static void *freed(void *p)
{
	nlive--;
	if (live_order[nlive])
		at_free_pages(p, live_order[nlive] - 1);
	else
		at_free(p);
	return p;
}

/* ---- the cases: each misuses one address, after noting it ---- */
#define CASE(name, body) static void name(void) { body }

CASE(pages_double, { void *p = freed(site_pages(2)); note(p); at_free_pages(p, 2); })
CASE(pages_interior, { char *p = site_pages(2); note(p + 4096); at_free_pages(p + 4096, 0); })
CASE(pages_wrong_order, { char *p = site_pages(2); note(p); at_free_pages(p, 1); })
CASE(pages_not_ours, { note(not_ours); at_free_pages(not_ours, 0); })
CASE(pages_unaligned, { char *p = site_pages(0); note(p + 8); at_free_pages(p + 8, 0); })
CASE(small_double, { void *p = freed(site_malloc(40)); note(p); at_free(p); })
CASE(small_interior, { char *p = site_malloc(64); note(p + 16); at_free(p + 16); })
CASE(small_not_ours, { note(not_ours + 16); at_free(not_ours + 16); })
CASE(small_stack, { char x[32] = {0}; note(x); at_free(x); })
CASE(small_libc, { char *p = calloc(1, 32); CHECK(p); note(p); at_free(p); })
CASE(small_mmap, {
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	note(p);
	at_free(p);
})
CASE(large_double, { void *p = freed(site_malloc(100000)); note(p); at_free(p); })
CASE(large_double_released, { void *p = freed(site_malloc(8u << 20)); note(p); at_free(p); })
CASE(large_interior, { char *p = site_malloc(100000); note(p + 4096); at_free(p + 4096); })
CASE(large_interior_unaligned, { char *p = site_malloc(100000); note(p + 100); at_free(p + 100); })
CASE(huge_double, { void *p = freed(site_aligned((size_t)2 << 30, 8192)); note(p); at_free(p); })
CASE(huge_interior, { char *p = site_aligned((size_t)2 << 30, 8192); note(p + 4096); at_free(p + 4096); })
CASE(aligned_small_double, { void *p = freed(site_aligned(256, 100)); note(p); at_free(p); })
CASE(aligned_small_interior, { char *p = site_aligned(256, 100); note(p + 16); at_free(p + 16); })
CASE(aligned_large_double, { void *p = freed(site_aligned(65536, 100000)); note(p); at_free(p); })
CASE(aligned_large_interior, { char *p = site_aligned(65536, 100000); note(p + 8192); at_free(p + 8192); })
CASE(realloc_double, { void *p = freed(site_malloc(200)); note(p); (void)at_realloc(p, 300); })
CASE(realloc_interior, { char *p = site_malloc(200); note(p + 8); (void)at_realloc(p + 8, 300); })
CASE(realloc_huge_freed, { void *p = freed(site_aligned((size_t)2 << 30, 8192)); note(p); (void)at_realloc(p, 10); })
CASE(usable_freed, { void *p = freed(site_malloc(200)); note(p); (void)at_usable_size(p); })
CASE(usable_not_ours, { note(not_ours); (void)at_usable_size(not_ours); })

/* After the jump: nothing changed, everything works. */
static void check_intact(void)
{
	int64_t bytes = 0;
	for (int i = 0; i < nlive; i++)
		bytes += live_order[i] ? (int64_t)4096 << (live_order[i] - 1)
				       : (int64_t)at_usable_size(live[i]);
	if (site) {
		struct alloctag_counters c = alloctag_read(site);
		CHECK_EQ(c.bytes, bytes);
		CHECK_EQ(c.calls, nlive);
	}
	for (int i = 0; i < nlive; i++) {
		if (live_order[i])
			at_free_pages(live[i], live_order[i] - 1);
		else
			at_free(live[i]);
	}
	if (site) {
		struct alloctag_counters c = alloctag_read(site);
		CHECK_EQ(c.bytes, 0);
		CHECK_EQ(c.calls, 0);
	}
	size_t sizes[] = {1, 40, 200, 5000, 100000, 8u << 20};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char *p = at_malloc(sizes[i]);
		CHECK(p);
		p[0] = p[sizes[i] - 1] = 1;
		at_free(p);
	}
	void *h = at_aligned_alloc((size_t)2 << 30, 8192);
	CHECK(h);
	at_free(h);
	void *pg = at_alloc_pages(3);
	CHECK(pg);
	at_free_pages(pg, 3);
}

static void run(const char *name, void (*fn)(void), const char *want)
{
	int fds[2];
	CHECK(!pipe(fds));
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (!pid) {
		dup2(fds[1], 2);
		close(fds[0]);
		struct sigaction sa = {.sa_handler = on_abort};
		sigaction(SIGABRT, &sa, NULL);
		if (!sigsetjmp(back, 1)) {
			fn();
			_exit(1); /* survived: not stopped */
		}
		signal(SIGABRT, SIG_DFL);
		check_intact();
		_exit(42);
	}
	close(fds[1]);
	char buf[1024];
	size_t n = 0;
	ssize_t k;
	while (n < sizeof(buf) - 1 && (k = read(fds[0], buf + n, sizeof(buf) - 1 - n)) > 0)
		n += (size_t)k;
	buf[n] = 0;
	close(fds[0]);
	int st;
	CHECK(waitpid(pid, &st, 0) == pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 42) {
		fprintf(stderr, "FAIL %s: %s (status %#x), stderr: %s\n", name,
			WIFEXITED(st) && WEXITSTATUS(st) == 1 ? "not stopped" : "not intact", st, buf);
		exit(1);
	}
	char addr[64];
	const char *nl = strchr(buf, '\n');
	CHECK(!strncmp(buf, "addr=", 5) && nl && nl - buf - 5 < 60);
	memcpy(addr, buf + 5, (size_t)(nl - buf - 5));
	addr[nl - buf - 5] = 0;
	const char *msg = nl + 1;
	if (strncmp(msg, "alloctag: ", 10) || !strstr(msg, want) || !strstr(msg, addr) ||
	    msg[strlen(msg) - 1] != '\n' || strchr(msg, '\n') != msg + strlen(msg) - 1) {
		fprintf(stderr, "FAIL %s: message \"%s\" is not one line with \"%s\" and %s\n",
			name, msg, want, addr);
		exit(1);
	}
	printf("%s: %s", name, msg);
}

int main(void)
{
	static const struct {
		const char *name;
		void (*fn)(void);
		const char *want;
	} cases[] = {
		{"pages_double", pages_double, "double free"},
		{"pages_interior", pages_interior, "not the start of an allocated block"},
		{"pages_wrong_order", pages_wrong_order, "was allocated with order 2"},
		{"pages_not_ours", pages_not_ours, "not a block alloctag handed out"},
		{"pages_unaligned", pages_unaligned, "not a block alloctag handed out"},
		{"small_double", small_double, "double free"},
		{"small_interior", small_interior, "not the start of an object"},
		{"small_not_ours", small_not_ours, "not a block alloctag handed out"},
		{"small_stack", small_stack, "not a block alloctag handed out"},
		{"small_libc", small_libc, "not a block alloctag handed out"},
		{"small_mmap", small_mmap, "not a block alloctag handed out"},
		{"large_double", large_double, "double free"},
		{"large_double_released", large_double_released, "double free"},
		{"large_interior", large_interior, "not the start of a block"},
		{"large_interior_unaligned", large_interior_unaligned, "not the start of a block"},
		{"huge_double", huge_double, "double free (the huge block is already free)"},
		{"huge_interior", huge_interior, "not a block alloctag handed out"},
		{"aligned_small_double", aligned_small_double, "double free"},
		{"aligned_small_interior", aligned_small_interior, "not the start of an object"},
		{"aligned_large_double", aligned_large_double, "double free"},
		{"aligned_large_interior", aligned_large_interior, "not the start of a block"},
		{"realloc_double", realloc_double, "realloc("},
		{"realloc_interior", realloc_interior, "realloc("},
		{"realloc_huge_freed", realloc_huge_freed, "realloc("},
		{"usable_freed", usable_freed, "the object is free"},
		{"usable_not_ours", usable_not_ours, "not a block alloctag handed out"},
	};
	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run(cases[i].name, cases[i].fn, cases[i].want);
	printf("%zu misuses stopped, state intact after each\n", sizeof(cases) / sizeof(cases[0]));
	return 0;
}
