/*
 * Call-chain tags (src/sites/chains.h), called directly:
 *   basic    a real code address is named "<exe>+0x<offset>:0 func:<symbol>"
 *            with offset = address - load bias (from dl_iterate_phdr) and the
 *            symbol from .symtab (the function is not exported); an
 *            unmapped address "?+0x<address>"; the same chain gives the same
 *            tag, indexed and listed; charging through it is exact
 *   deep     chains that differ only in an outer frame are distinct tags
 *            named after the same frame; a chain whose frames are all in
 *            the allocation layer is named after its last frame, site 0
 *   untagged an at_malloc_noprof call with no current tag is charged to its
 *            chain, whose site is the calling function; with a current
 *            tag, to that tag
 *   threads  4 threads create the tags of the same 2000 chains in
 *            different orders: one tag per chain, every index distinct
 *   records  chains of 1 to 9 frames whose addresses use every part of
 *            the 48 bits (and the high half-word's top bit) read back exact
 *            from their 32-bit-word records, 112 bytes at 8 frames and 72
 *            at 1; a frame at or above 2^48 makes a wide record, read back
 *            exact, and a distinct chain from the one with the same low 48
 *            bits
 *   forked   a forked child makes 200 new chains (and a grandchild 40
 *            more): each is listed, found again, charged exact (its
 *            allocinfo line); those made before the fork are found
 *            too, the main table (shared with the parent) is not written
 *            (its bytes as at the fork), and the parent has none of them;
 *            the child's frames are found again and the main frame
 *            table's bytes are as at the fork
 *   forked_index  a forked child's first new chain takes the next index
 *            when 64 or more are left in its counters group (128 indexes)
 *            and the next group's first when fewer are (the ones between
 *            unlisted), 1 to 127 left; the parent's next index is the one
 *            it had
 *   grow     100,000 chains (the table starts at 4,096 slots): each
 *            found again afterwards, the table grown, no message
 *   noidx    a shared object takes almost the whole index space: the
 *            dynamic tags that still get an index are charged, the next
 *            site's tag has none (charged nothing) and one message says so
 * The runner forks itself for full and noidx (they use up a resource).
 */
#define _GNU_SOURCE
#include <link.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "allocinfo_capture.h"
#include "check.h"
#include "child.h"
#include "core/control.h"
#include "sites/chains.h"
#include "sites/runtime_index.h"
#include "sites/site_names.h"
#include "sites/site_names.h"
#include "sites/sites_each.h"
#include "startup/init.h"
#include "core/tag_registry.h"

/* A fake, unmapped code address (dladdr finds no object). */
#define FAKE(i) ((const void *)(0x10000ul + 16ul * (unsigned long)(i)))

static struct alloc_tag *at_dyn_tag(const void *addr)
{
	uintptr_t f = (uintptr_t)addr;
	return at_chain_tag(&f, 1);
}

static void check_listed(struct alloc_tag *t)
{
	CHECK(t != NULL);
	CHECK(t->canon == t);
	CHECK(t->idx >= AT_IDX_FIRST && t->idx < at_nr_idx);
	CHECK(*at_tag_slot(t->idx) == t);
}

static int find_bias(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	if (info->dlpi_name[0] == '\0') { /* the main executable: first entry */
		*(uintptr_t *)arg = info->dlpi_addr;
		return 1;
	}
	return 0;
}

static __attribute__((noinline)) void code_here(void) { __asm__ volatile(""); }

static void basic(void)
{
	const void *addr = (const char *)(uintptr_t)code_here + 1;
	uintptr_t bias = 0;
	dl_iterate_phdr(find_bias, &bias);
	char exe[4096], want[4200];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	CHECK(n > 0);
	exe[n] = 0;

	struct alloc_tag *t = at_dyn_tag(addr);
	check_listed(t);
	snprintf(want, sizeof(want), "%s+0x%lx", exe, (unsigned long)((uintptr_t)addr - bias));
	CHECK_STREQ(t->filename, want);
	CHECK_STREQ(t->function, "code_here"); /* not exported: from .symtab */
	CHECK_EQ(t->lineno, 0);
	CHECK(t->modname == NULL);
	CHECK(at_dyn_tag(addr) == t);

	struct alloc_tag *f = at_dyn_tag(FAKE(1));
	check_listed(f);
	CHECK_STREQ(f->filename, "?+0x10010");
	CHECK_STREQ(f->function, "0x10010");
	CHECK(f != t && f->idx != t->idx);
	CHECK_EQ(at_chain_count(), 2);

	char line[256];
	alloctag_tag_name(f, line, sizeof(line));
	CHECK_STREQ(line, "?+0x10010:0 func:0x10010");

	/* charged like any tag: its usable size and one call, uncharged at free */
	struct alloc_tag *old = alloctag_save(f);
	void *p = at_malloc_noprof(1000);
	alloctag_restore(f, old);
	struct alloctag_counters c = alloctag_read(f);
	CHECK_EQ(c.bytes, (long long)at_usable_size(p));
	CHECK_EQ(c.calls, 1);
	at_free(p);
	c = alloctag_read(f);
	CHECK_EQ(c.bytes, 0);
	CHECK_EQ(c.calls, 0);
	printf("basic: ok\n");
}

#define NT 4
#define NADDR 2000
static struct alloc_tag *seen[NT][NADDR];

static void *creator(void *arg)
{
	int id = (int)(long)arg;
	for (int k = 0; k < NADDR; k++) {
		int i = id & 1 ? NADDR - 1 - k : k; /* half the threads go backwards */
		seen[id][i] = at_dyn_tag(FAKE(100 + i));
	}
	return NULL;
}

static void threads(void)
{
	pthread_t th[NT];
	uint32_t before = at_chain_count();
	for (long i = 0; i < NT; i++)
		CHECK(pthread_create(&th[i], NULL, creator, (void *)i) == 0);
	for (int i = 0; i < NT; i++)
		pthread_join(th[i], NULL);
	CHECK_EQ(at_chain_count() - before, NADDR);
	static unsigned char used[AT_IDX_MAX];
	for (int i = 0; i < NADDR; i++) {
		struct alloc_tag *t = seen[0][i];
		check_listed(t);
		for (int k = 1; k < NT; k++)
			CHECK(seen[k][i] == t);
		CHECK(!used[t->idx]);
		used[t->idx] = 1;
		char want[64];
		snprintf(want, sizeof(want), "?+0x%lx", (unsigned long)(uintptr_t)FAKE(100 + i));
		CHECK_STREQ(t->filename, want);
	}
	printf("threads: ok\n");
}

static void deep(void)
{
	uintptr_t a[3] = {(uintptr_t)FAKE(5000), (uintptr_t)FAKE(5001), (uintptr_t)FAKE(5002)};
	uintptr_t b[3] = {(uintptr_t)FAKE(5000), (uintptr_t)FAKE(5001), (uintptr_t)FAKE(5003)};
	struct alloc_tag *ta = at_chain_tag(a, 3), *tb = at_chain_tag(b, 3);
	check_listed(ta);
	check_listed(tb);
	CHECK(ta != tb && ta->idx != tb->idx);
	CHECK(at_chain_tag(a, 2) != ta); /* a prefix is a chain of its own */
	CHECK(at_chain_tag(a, 3) == ta);
	struct at_chain *ca = at_chain_of(ta), *cb = at_chain_of(tb);
	CHECK(ca && cb && at_frame_of_name(ca->tag.filename) == at_frame_of_name(cb->tag.filename));
	CHECK_EQ(at_chain_site(ca), 1);
	CHECK_EQ(at_chain_nr(ca), 3);
	CHECK_STREQ(ta->filename, "?+0x23880");
	/* every frame in the layer (libc, by its object's name): named after
	 * the last frame, no site.  Functions no sanitizer intercepts, so that
	 * their addresses are libc's under TSan too. */
	uintptr_t l[2] = {(uintptr_t)labs + 1, (uintptr_t)llabs + 1};
	struct at_chain *cl = at_chain_of(at_chain_tag(l, 2));
	CHECK(cl != NULL);
	CHECK_EQ(at_chain_site(cl), 0);
	CHECK(at_frame_of_name(cl->tag.filename)->addr == l[1]);
	CHECK(at_chain_of(&at_frame_of_name(cl->tag.filename)->tag) == NULL); /* a frame's tag is no chain */
	/* a wrapper pattern */
	CHECK(at_glob_match("pool_[gr]*", 10, "pool_get"));
	CHECK(!at_glob_match("pool_[gr]*", 10, "pool_put"));
	CHECK(at_glob_match("x?", 2, "xy") && !at_glob_match("x?", 2, "x"));
	CHECK(at_glob_match("[!a]b", 5, "cb") && !at_glob_match("[!a]b", 5, "ab"));
	printf("deep: ok\n");
}

/* An untagged call of the at_* functions: charged to its call chain. */
/* A frame of its own, under its own name: gcc's noipa (noinline alone lets
 * gcc clone it as untagged_site.constprop.0), clang's noinline (it has no
 * noipa; the TSan build is clang's). */
#ifdef __clang__
#define OWN_FRAME noinline, used
#else
#define OWN_FRAME noipa, used
#endif
static __attribute__((OWN_FRAME)) void *untagged_site(size_t n)
{
	void *p = at_malloc_noprof(n);
	__asm__ volatile("" : : "r"(p) : "memory");
	return p;
}

struct found {
	uint64_t bytes, calls, all_bytes, all_calls;
	int chains;
};

static void find_untagged(const struct at_chain_view *v, void *ctx)
{
	struct found *f = ctx;
	int err;
	struct at_frame *fr = v->site ? at_frame_get(v->frames[v->site - 1], &err) : NULL;
	if (fr && !strcmp(fr->tag.function, "untagged_site")) {
		f->bytes += v->live_bytes;
		f->calls += v->live_calls;
		f->all_bytes += v->alloc_bytes;
		f->all_calls += v->alloc_calls;
		f->chains++;
	}
}

static void untagged(void)
{
	void *p[3];
	size_t usable = 0;
#pragma GCC unroll 1 /* one call site: one chain (clang unrolls this loop) */
	for (int i = 0; i < 3; i++) {
		p[i] = untagged_site(300);
		usable += at_usable_size(p[i]);
	}
	struct found f = {0};
	at_sites_each(find_untagged, &f);
	CHECK_EQ(f.chains, 1);
	CHECK_EQ(f.calls, 3);
	CHECK_EQ(f.bytes, usable);
	CHECK_EQ(f.all_calls, 3);
	CHECK_EQ(f.all_bytes, usable);
	/* a current tag wins: no chain */
	DEFINE_ALLOC_TAG(t);
	struct alloc_tag *old = alloctag_save(&t);
	void *q = untagged_site(300);
	alloctag_restore(&t, old);
	CHECK_EQ(alloctag_read(&t).calls, 1);
	f = (struct found){0};
	at_sites_each(find_untagged, &f);
	CHECK_EQ(f.calls, 3);
	for (int i = 0; i < 3; i++)
		at_free(p[i]);
	at_free(q);
	f = (struct found){0};
	at_sites_each(find_untagged, &f);
	CHECK_EQ(f.calls, 0);
	CHECK_EQ(f.bytes, 0);
	CHECK_EQ(f.all_calls, 3); /* cumulative: never decreased */
	CHECK_EQ(f.all_bytes, usable);
	printf("untagged: ok\n");
}

/* A chain of n frames made from f, found again, and read back exact. */
static struct at_chain *record_of(const uintptr_t *f, unsigned int n)
{
	struct alloc_tag *t = at_chain_tag(f, n);
	CHECK(t != NULL);
	CHECK(at_chain_tag(f, n) == t);
	struct at_chain *c = at_chain_of(t);
	uintptr_t back[AT_CHAIN_MAX];
	CHECK(c != NULL);
	CHECK_EQ(at_chain_nr(c), n);
	CHECK_EQ(at_chain_frames(c, back), n);
	for (unsigned int k = 0; k < n; k++) {
		CHECK_EQ(at_chain_frame(c, k), f[k]);
		CHECK_EQ(back[k], f[k]);
	}
	CHECK_EQ(at_chain_site(c), 1); /* the first frame: no object, not in the layer */
	return c;
}

static void records(void)
{
	static const uintptr_t high[] = {0x0000, 0x0001, 0x5555, 0x7fff, 0x8000, 0xabcd, 0xffff};
	uintptr_t f[9];
	uint32_t format;
	for (unsigned int n = 1; n <= 9; n++) {
		for (unsigned int k = 0; k < n; k++)
			f[k] = high[(n + k) % 7] << 32 | (0xfffffff0u - 0x01010100u * k) | n;
		f[0] = 0x7ffe00000000ul | 0x12340000u | n << 4; /* distinct from every FAKE() */
		record_of(f, n);
		CHECK_EQ(at_chain_bytes(f, n, &format), n == 8 ? 96 : n == 1 ? 52 : 48 + 4 * n + 4 * ((n + 1) / 2));
		CHECK_EQ(format, n == 1 ? AT_CHAIN_SHARED : 0);
		/* every frame's bits 32..47 frame 0's: shared, 4 bytes a frame */
		for (unsigned int k = 1; k < n; k++)
			f[k] = (f[0] & 0xffff00000000ul) | (0xfffffff0u - 0x01010100u * k) | n | 8;
		struct at_chain *c = record_of(f, n);
		CHECK_EQ(at_chain_bytes(f, n, &format), n == 8 ? 80 : 48 + 4 * n);
		CHECK_EQ(format, AT_CHAIN_SHARED);
		CHECK_EQ(c->tag.reserved, n | 1u << 7 | AT_CHAIN_SHARED | 0x7ffeu << AT_CHAIN_HIGH_SHIFT);
		if (n > 1) { /* one frame's high half another: not that chain */
			f[n - 1] ^= (uintptr_t)1 << 40;
			CHECK(record_of(f, n) != c);
			CHECK_EQ(at_chain_bytes(f, n, &format), 48 + 4 * n + 4 * ((n + 1) / 2));
			CHECK_EQ(format, 0);
			f[n - 1] ^= (uintptr_t)1 << 40;
			CHECK(at_chain_of(at_chain_tag(f, n)) == c);
		}
	}
	/* f[0 .. 3) as above, then frame 2 with bit 48 set: another chain */
	struct at_chain *narrow = record_of(f, 3);
	f[2] |= (uintptr_t)1 << 48;
	CHECK_EQ(at_chain_bytes(f, 3, &format), 48 + 8 * 3);
	CHECK_EQ(format, AT_CHAIN_WIDE);
	struct at_chain *w = record_of(f, 3);
	CHECK(w != narrow && w->tag.idx != narrow->tag.idx);
	CHECK(w->tag.reserved & AT_CHAIN_WIDE);
	CHECK(!(narrow->tag.reserved & AT_CHAIN_WIDE));
	f[1] = UINTPTR_MAX - 15;
	record_of(f, 3);
}

/* The allocinfo line of FAKE(i)'s chain, with bytes and calls. */
static const char *fake_line(unsigned int i, long long bytes, long long calls)
{
	static char line[256];
	unsigned long a = (unsigned long)(uintptr_t)FAKE(i);
	snprintf(line, sizeof(line), "%12lli %8lli ?+0x%lx:0 func:0x%lx \n", bytes, calls, a, a);
	return line;
}

/* Chains FAKE(from .. from + n - 1), each new: made, listed, found
 * again; the first charged with one allocation of 1000 bytes. */
static void fork_chains(unsigned int from, unsigned int n)
{
	uint32_t before = at_chain_count();
	for (unsigned int i = from; i < from + n; i++)
		check_listed(at_dyn_tag(FAKE(i)));
	CHECK_EQ(at_chain_count() - before, n);
	for (unsigned int i = from; i < from + n; i++)
		CHECK(at_chain_frame(at_chain_of(at_dyn_tag(FAKE(i))), 0) == (uintptr_t)FAKE(i));
	CHECK_EQ(at_chain_count() - before, n);
	struct alloc_tag *t = at_dyn_tag(FAKE(from)), *old = alloctag_save(t);
	void *p = at_malloc_noprof(1000);
	alloctag_restore(t, old);
	char needle[64];
	snprintf(needle, sizeof(needle), "func:0x%lx ", (unsigned long)(uintptr_t)FAKE(from));
	CHECK_STREQ(allocinfo_grep(needle), fake_line(from, (long long)at_usable_size(p), 1));
}

static void forked(void)
{
	struct at_chain_table *t = at_chain_table;
	uint64_t *slots = t->slots;
	size_t bytes = ((size_t)1 << t->shift) * sizeof(*slots);
	void *copy = malloc(bytes);
	CHECK(copy != NULL);
	memcpy(copy, slots, bytes);
	struct alloc_tag *made = at_dyn_tag(FAKE(1)); /* basic's */
	uint32_t before = at_chain_count();
	size_t fbytes;
	const void *ft = at_sites_frame_table(&fbytes);
	CHECK(ft != NULL);
	void *fcopy = malloc(fbytes);
	CHECK(fcopy != NULL);
	memcpy(fcopy, ft, fbytes);
	int err;
	struct at_frame *f1 = at_frame_get((uintptr_t)FAKE(1), &err);
	CHECK(f1 != NULL);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		fork_chains(300000, 200);
		CHECK(at_dyn_tag(FAKE(1)) == made);
		/* the child's frames in its own table: the main one as at the fork */
		size_t now;
		CHECK(at_sites_frame_table(&now) == ft && now == fbytes && !memcmp(fcopy, ft, fbytes));
		struct at_frame *f = at_frame_get((uintptr_t)FAKE(300000), &err);
		CHECK(f != NULL && f == at_frame_get((uintptr_t)FAKE(300000), &err));
		CHECK(at_frame_get((uintptr_t)FAKE(1), &err) == f1);
		pid_t g = fork();
		CHECK(g >= 0);
		if (g == 0) {
			fork_chains(300200, 40);
			CHECK(at_dyn_tag(FAKE(300000)) == at_dyn_tag(FAKE(300000)));
			CHECK_EQ(at_chain_count() - before, 240);
			CHECK(at_dyn_tag(FAKE(1)) == made);
			CHECK(at_chain_table == t && t->slots == slots && !memcmp(copy, slots, bytes));
			_exit(0);
		}
		int st;
		CHECK(waitpid(g, &st, 0) == g && WIFEXITED(st) && WEXITSTATUS(st) == 0);
		CHECK_EQ(at_chain_count() - before, 200);
		CHECK(at_chain_table == t && t->slots == slots && !memcmp(copy, slots, bytes));
		_exit(0);
	}
	int st;
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK_EQ(at_chain_count(), before);
	CHECK_STREQ(allocinfo_grep("func:0x4a3e00 "), "");
	free(copy);
	free(fcopy);
	printf("forked: ok\n");
}

/* The index the next new chain gets, in this process (a chain made). */
static uint32_t next_index(unsigned int *fake)
{
	return at_dyn_tag(FAKE((*fake)++))->idx;
}

static void forked_index(void)
{
	unsigned int fake = 400000;
	for (uint32_t left = 1; left < AT_COUNTERS_GROUP; left++) {
		/* chains made until the next index has `left` left in its group */
		uint32_t next = next_index(&fake) + 1;
		while (AT_COUNTERS_GROUP - next % AT_COUNTERS_GROUP != left)
			next = next_index(&fake) + 1;
		uint32_t want = left >= AT_RT_CHILD_ROOM ? next : next + left;
		pid_t pid = fork();
		CHECK(pid >= 0);
		if (pid == 0) {
			struct alloc_tag *t = at_dyn_tag(FAKE(fake));
			check_listed(t);
			CHECK_EQ(t->idx, want);
			for (uint32_t k = next; k < want; k++)
				CHECK(*at_tag_slot(k) == NULL);
			CHECK_EQ(next_index(&(unsigned int){fake + 1}), want + 1);
			_exit(0);
		}
		int st;
		CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
		CHECK_EQ(next_index(&fake), next);
	}
	printf("forked_index: ok\n");
}

static void grow(void)
{
	enum { N = 100000 };
	uint32_t before = at_chain_count();
	struct at_chain_table *t0 = at_chain_table; /* replaced below: its slots given back */
	for (uint32_t i = 0; i < N; i++)
		CHECK(at_dyn_tag(FAKE(20000 + i)) != NULL);
	CHECK_EQ(at_chain_count() - before, N);
	for (uint32_t i = 0; i < N; i++) {
		struct alloc_tag *t = at_dyn_tag(FAKE(20000 + i));
		CHECK(at_chain_frame(at_chain_of(t), 0) == (uintptr_t)FAKE(20000 + i));
	}
	/* kept at most three quarters full, at the least size that is */
	uint32_t shift = 8;
	while ((uint64_t)at_chain_count() * 4 > 3ull << shift)
		shift++;
	CHECK_EQ(at_chain_table->shift, shift);
	CHECK(t0 != at_chain_table && t0->shift > 8);
	unsigned char res[64];
	size_t pages = ((size_t)8 << t0->shift) / 4096;
	CHECK(pages <= sizeof(res) && !mincore(t0->slots, pages * 4096, res));
	for (size_t i = 0; i < pages; i++)
		CHECK_EQ(res[i] & 1, 0);
	struct alloctag_chain_stats st;
	CHECK_EQ(alloctag_chain_stats(&st), 0);
	CHECK_EQ(st.chains, at_chain_count());
	CHECK(st.bytes > st.chains * 100);
}

/* The memory reported for the sites' pool is what it handed out, by the
 * page, not the blocks it mapped: a program with a few chains reports a
 * few pages, and each page handed out counts once. */
static void pool_memory(void)
{
	size_t m0 = at_sites_memory();
	CHECK(at_sites_pool_alloc(3 * 4096) != NULL);
	size_t m1 = at_sites_memory();
	CHECK_EQ(m1 - m0, 3 * 4096);
	CHECK(at_sites_pool_alloc(8) != NULL); /* within the page the cursor is in, or the next */
	size_t m2 = at_sites_memory();
	CHECK(m2 == m1 || m2 == m1 + 4096);
}

static void noidx(void)
{
	/* a fake shared object whose tags leave 300 indexes free */
	uint32_t n = (AT_IDX_MAX - at_nr_idx - 300) & ~3u;
	struct alloc_tag *tags = mmap(NULL, (size_t)n * sizeof(*tags), PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(tags != MAP_FAILED);
	for (uint32_t k = 0; k < n; k++) {
		tags[k].function = "f";
		tags[k].filename = "big.c";
		tags[k].lineno = k + 1;
	}
	alloctag_register_image(tags, tags + n);
	CHECK(tags[0].canon != NULL);
	uint32_t got = 0;
	struct alloc_tag *t;
	for (;; got++) {
		t = at_dyn_tag(FAKE(got));
		CHECK(t != NULL);
		if (!t->canon)
			break;
		check_listed(t);
	}
	/* one chunk of 256 fits in the 300 left, the next does not */
	CHECK_EQ(got, 256);
	CHECK(at_dyn_tag(FAKE(got)) == t); /* kept: looked up, not retried */
	CHECK(at_dyn_tag(FAKE(got + 1))->canon == NULL);
	/* 1000 more without an index, each found again (its own ref) */
	for (uint32_t k = 2; k < 1002; k++)
		CHECK(at_dyn_tag(FAKE(got + k))->canon == NULL);
	uint32_t made = at_chain_count();
	for (uint32_t k = 0; k < 1002; k++) {
		struct alloc_tag *u = at_dyn_tag(FAKE(got + k));
		CHECK(at_chain_frame(at_chain_of(u), 0) == (uintptr_t)FAKE(got + k));
	}
	CHECK_EQ(at_chain_count(), made);
	struct alloc_tag *old = alloctag_save(t);
	void *p = at_malloc_noprof(100);
	alloctag_restore(t, old);
	CHECK(p != NULL);
	CHECK_EQ(alloctag_read(t).calls, 0);
	at_free(p);
}

int main(int argc, char **argv)
{
	alloctag_init();
	CHECK(at_state == AT_STATE_READY);
	if (argc > 1 && strcmp(argv[1], "noidx") == 0) {
		noidx();
		return 0;
	}
	basic();
	deep();
	untagged();
	records();
	threads();
	forked();
	forked_index();

	pool_memory();
	printf("pool memory: ok\n");
	grow();
	printf("grow: ok\n");

	struct child_result r;

	const char *noidx_args[] = {"noidx", NULL};
	run_child(&r, NULL, noidx_args);
	CHECK_STREQ(r.err, "alloctag: no index left for run-time allocation tags; allocations "
			   "from further call sites will not be counted\n");
	CHECK(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
	printf("noidx: ok\n");
	return 0;
}
