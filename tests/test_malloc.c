/*
 * The malloc family's semantics and charges: sizes 0, huge and impossible
 * sizes, calloc overflow, realloc NULL / shrink / grow / 0, alignments up to
 * a page and beyond, usable sizes, and the exact bytes and calls charged to
 * each call site (the usable size, see malloc.c).
 */
#include <alloctag.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "check.h"

static struct alloc_tag *last_tag;

/* Hides a constant from the compiler's alloc_size checks. */
static size_t opaque(size_t n)
{
	volatile size_t v = n;
	return v;
}

/* Each helper is its own call site; last_tag is the tag it charged. */
#define SITE(name, proto, call)                                   \
	static void *name proto                                    \
	{                                                          \
		DEFINE_ALLOC_TAG(t);                               \
		__atomic_store_n(&last_tag, &t, __ATOMIC_RELAXED);                                     \
		return alloc_hooks_tag(t, call);                   \
	}
SITE(m_site, (size_t n), at_malloc_noprof(n))
SITE(c_site, (size_t n, size_t s), at_calloc_noprof(n, s))
SITE(r_site, (void *p, size_t n), at_realloc_noprof(p, n))
SITE(a_site, (size_t a, size_t n), at_aligned_alloc_noprof(a, n))
SITE(d_site, (size_t n), at_malloc_noprof(n))

static void check_charge(struct alloc_tag *tag, long long bytes, long long calls)
{
	struct alloctag_counters c = alloctag_read(tag);
	CHECK_EQ(c.bytes, bytes);
	CHECK_EQ(c.calls, calls);
}

static void sizes(void)
{
	/* malloc(0): a unique, freeable pointer. */
	void *a = at_malloc(0), *b = at_malloc(0);
	CHECK(a && b && a != b);
	CHECK_EQ(at_usable_size(a), 16);
	at_free(a);
	at_free(b);
	at_free(NULL);
	CHECK_EQ(at_usable_size(NULL), 0);

	errno = 0;
	CHECK(at_malloc(opaque(SIZE_MAX)) == NULL);
	CHECK_EQ(errno, ENOMEM);
	errno = 0;
	CHECK(at_malloc(opaque((size_t)PTRDIFF_MAX + 1)) == NULL);
	CHECK_EQ(errno, ENOMEM);
	errno = 0;
	CHECK(at_malloc((size_t)1 << 46) == NULL); /* 64 TiB: mmap refuses */
	CHECK_EQ(errno, ENOMEM);

	/* Every size class boundary, and sizes up to 2 MiB: usable >= size, writable. */
	for (size_t n = 1; n <= (2u << 20); n = n < 20000 ? n + 7 : n * 2 - 1) {
		unsigned char *p = at_malloc(n);
		CHECK(p);
		CHECK(((uintptr_t)p & 15) == 0);
		size_t u = at_usable_size(p);
		CHECK(u >= n);
		memset(p, 0xab, u);
		at_free(p);
	}
	/* A class's usable size is the class size. */
	void *p = at_malloc(100);
	CHECK_EQ(at_usable_size(p), 112);
	at_free(p);
	p = at_malloc(16385);
	CHECK_EQ(at_usable_size(p), 32768);
	at_free(p);
}

static void charges(void)
{
	void *p = m_site(100);
	struct alloc_tag *t = last_tag;
	check_charge(t, 112, 1);
	void *q = m_site(1000);
	check_charge(t, 112 + 1024, 2);
	at_free(p);
	check_charge(t, 1024, 1);
	at_free(q);
	check_charge(t, 0, 0);

	/* The classes around 1024 + a header (SQLite's 1032-byte requests get
	 * 1088) and 4096 + a header (4104 and 4368 get 4368, 15 to a slab);
	 * charged their usable size; a realloc that fits stays in place with
	 * its charge, one that does not moves. */
	static const size_t req[][2] = {{1024, 1024}, {1025, 1088}, {1032, 1088}, {1088, 1088},
					{1089, 1280}, {2048, 2048}, {2049, 2560}, {4104, 4368},
					{4368, 4368}, {4369, 4672}, {8192, 8192}, {8193, 10240}};
	for (unsigned int i = 0; i < sizeof(req) / sizeof(req[0]); i++) {
		p = m_site(req[i][0]);
		CHECK_EQ(at_usable_size(p), req[i][1]);
		check_charge(t, (long long)req[i][1], 1);
		at_free(p);
		check_charge(t, 0, 0);
	}
	p = m_site(1032);
	q = r_site(p, 1088);
	CHECK(q == p);
	check_charge(t, 1088, 1);
	q = r_site(p, 1089);
	CHECK(q != p);
	CHECK_EQ(at_usable_size(q), 1280);
	check_charge(t, 0, 0);
	check_charge(last_tag, 1280, 1);
	at_free(q);
	check_charge(last_tag, 0, 0);

	p = m_site(100000); /* a 128 KiB block of the page allocator */
	check_charge(t, 131072, 1);
	at_free(p);
	check_charge(t, 0, 0);
	p = m_site(100000); /* again, from the thread's large-block cache */
	check_charge(t, 131072, 1);
	at_free(p);
	check_charge(t, 0, 0);

	/* Huge: a direct mapping, charged its page-rounded length. */
	size_t huge = ((size_t)3 << 29) + 5; /* 1.5 GiB + 5 */
	p = m_site(huge);
	CHECK(p);
	CHECK_EQ(at_usable_size(p), ((size_t)3 << 29) + 4096);
	check_charge(t, ((size_t)3 << 29) + 4096, 1);
	((char *)p)[huge - 1] = 1;
	at_free(p);
	check_charge(t, 0, 0);

	/* calloc: zeroed, overflow-checked, charged like malloc. */
	unsigned char *z = c_site(10, 30);
	struct alloc_tag *tc = last_tag;
	for (int i = 0; i < 300; i++)
		CHECK_EQ(z[i], 0);
	check_charge(tc, 320, 1);
	errno = 0;
	CHECK(c_site(SIZE_MAX / 2, 3) == NULL);
	CHECK_EQ(errno, ENOMEM);
	CHECK(c_site((size_t)1 << 32, (size_t)1 << 32) == NULL);
	check_charge(tc, 320, 1);
	at_free(z);
	check_charge(tc, 0, 0);
	/* calloc reusing a dirty slot still zeroes. */
	p = at_malloc(64);
	memset(p, 0xff, 64);
	at_free(p);
	z = at_calloc(1, 64);
	for (int i = 0; i < 64; i++)
		CHECK_EQ(z[i], 0);
	at_free(z);
}

static void reallocs(void)
{
	/* realloc(NULL, n) is malloc, charged to the realloc site. */
	char *p = r_site(NULL, 40);
	struct alloc_tag *tr = last_tag;
	check_charge(tr, 48, 1);
	memcpy(p, "0123456789", 10);
	/* In place within the usable size: same pointer, tag and charge. */
	CHECK(r_site(p, 48) == p);
	check_charge(tr, 48, 1);
	/* Grow: moves, contents kept, old uncharged, new charged. */
	char *m = m_site(40);
	struct alloc_tag *tm = last_tag;
	memcpy(m, "abcdefghij", 10);
	char *g = r_site(m, 5000);
	CHECK(g != m);
	CHECK(!memcmp(g, "abcdefghij", 10));
	check_charge(tm, 0, 0);
	check_charge(tr, 48 + 5040, 2);
	/* Shrink to less than half: moves to a smaller class. */
	char *s = r_site(g, 10);
	CHECK(!memcmp(s, "abcdefghij", 10));
	check_charge(tr, 48 + 16, 2);
	/* Large grow and shrink. */
	char *l = r_site(s, 300000);
	CHECK(!memcmp(l, "abcdefghij", 10));
	check_charge(tr, 48 + 524288, 2);
	l[299999] = 'z';
	char *l2 = r_site(l, 400000); /* fits the 512 KiB block: in place */
	CHECK(l2 == l);
	check_charge(tr, 48 + 524288, 2);
	/* realloc(p, 0) frees and returns NULL. */
	CHECK(r_site(l2, 0) == NULL);
	check_charge(tr, 48, 1);
	/* Impossible size: NULL, ENOMEM, the block untouched. */
	errno = 0;
	CHECK(at_realloc(p, opaque(SIZE_MAX)) == NULL);
	CHECK_EQ(errno, ENOMEM);
	CHECK(!memcmp(p, "0123456789", 10));
	check_charge(tr, 48, 1);
	at_free(p);
	check_charge(tr, 0, 0);
}

static void alignments(void)
{
	for (size_t a = 1; a <= ((size_t)4 << 20); a *= 2) {
		size_t sizes[] = {1, a / 2 + 1, a, 3 * a + 1, 20000};
		for (unsigned int i = 0; i < 5; i++) {
			char *p = a_site(a, sizes[i]);
			CHECK(p);
			CHECK(((uintptr_t)p & (a - 1)) == 0);
			CHECK(at_usable_size(p) >= sizes[i]);
			check_charge(last_tag, (long long)at_usable_size(p), 1);
			memset(p, 1, sizes[i]);
			void *q = NULL;
			if (a >= sizeof(void *)) {
				CHECK_EQ(at_posix_memalign(&q, a, sizes[i]), 0);
				CHECK(((uintptr_t)q & (a - 1)) == 0);
				at_free(q);
			}
			q = at_memalign(a, sizes[i]);
			CHECK(q && ((uintptr_t)q & (a - 1)) == 0);
			at_free(q);
			at_free(p);
			check_charge(last_tag, 0, 0);
		}
	}
	/* Beyond the page allocator's largest block: 2 GiB alignment. */
	void *h = at_aligned_alloc((size_t)2 << 30, 4096);
	CHECK(h && ((uintptr_t)h & (((size_t)2 << 30) - 1)) == 0);
	at_free(h);

	errno = 0;
	CHECK(at_aligned_alloc(24, 100) == NULL);
	CHECK_EQ(errno, EINVAL);
	errno = 0;
	CHECK(at_aligned_alloc(0, 100) == NULL);
	CHECK_EQ(errno, EINVAL);
	void *q = (void *)1;
	errno = 1234;
	CHECK_EQ(at_posix_memalign(&q, 4, 10), EINVAL); /* not a multiple of sizeof(void *) */
	CHECK_EQ(at_posix_memalign(&q, 24, 10), EINVAL);
	CHECK_EQ(at_posix_memalign(&q, 0, 10), EINVAL);
	CHECK_EQ(at_posix_memalign(&q, 64, SIZE_MAX), ENOMEM);
	CHECK(q == (void *)1);
	CHECK_EQ(errno, 1234); /* errno untouched */
	/* memalign rounds a non-power-of-two alignment up. */
	q = at_memalign(48, 10);
	CHECK(q && ((uintptr_t)q & 63) == 0);
	at_free(q);
	q = at_valloc(10);
	CHECK(q && ((uintptr_t)q & 4095) == 0);
	at_free(q);
	q = at_pvalloc(5000);
	CHECK(q && ((uintptr_t)q & 4095) == 0 && at_usable_size(q) >= 8192);
	at_free(q);
}

static void strings(void)
{
	char *s = at_strdup("hello");
	CHECK_STREQ(s, "hello");
	CHECK_EQ(at_usable_size(s), 16);
	char *t = at_strndup("hello, world", 5);
	CHECK_STREQ(t, "hello");
	at_free(s);
	at_free(t);
}

/*
 * A large block grows in place when its buddies are free, charged like a
 * move; it moves when its buddy is taken.  The buddy allocator splits a
 * larger block keeping the lower half and lists the upper half first, so
 * once no order-11 block is free, an 8 MiB request gets a 16 MiB aligned
 * block and the next one its buddy.  Any order-11 blocks free at the start
 * are taken (and held) on the way.
 */
static void grow_in_place(void)
{
	const size_t mb = 1u << 20;
	void *held[64];
	unsigned int nheld = 0;
	char *a, *x;
	for (;;) {
		a = d_site(5 * mb);
		if (!((uintptr_t)a & (16 * mb - 1))) {
			x = d_site(5 * mb);
			if (x == a + 8 * mb)
				break;
			held[nheld++] = x;
		}
		held[nheld++] = a;
		CHECK(nheld + 2 <= 64);
	}
	struct alloc_tag *td = last_tag;
	check_charge(td, (long long)(nheld + 2) * 8 * mb, nheld + 2);
	memset(a, 'a', 5 * mb);
	/* x is a's buddy: the grow moves. */
	char *b = r_site(a, 12 * mb);
	struct alloc_tag *tr = last_tag;
	CHECK(b != a);
	CHECK(b[0] == 'a' && b[5 * mb - 1] == 'a');
	check_charge(td, (long long)(nheld + 1) * 8 * mb, nheld + 1);
	check_charge(tr, 16 * mb, 1);
	at_free(b);
	at_free(x); /* merges with a's old place */
	check_charge(tr, 0, 0);
	check_charge(td, (long long)nheld * 8 * mb, nheld);
	/* A fresh split: aligned, buddy free: the grow stays in place. */
	char *c = m_site(5 * mb);
	struct alloc_tag *tm = last_tag;
	CHECK(!((uintptr_t)c & (16 * mb - 1)));
	memset(c, 'c', 5 * mb);
	char *g = r_site(c, 12 * mb);
	CHECK(g == c);
	CHECK_EQ(at_usable_size(g), 16 * mb);
	CHECK(g[0] == 'c' && g[5 * mb - 1] == 'c');
	g[16 * mb - 1] = 'g';
	check_charge(tm, 0, 0);
	check_charge(tr, 16 * mb, 1);
	at_free(g);
	check_charge(tr, 0, 0);
	while (nheld)
		at_free(held[--nheld]);
	check_charge(td, 0, 0);
}

/*
 * The tag-passing entries (what the tagged macros call) charge their tag
 * exactly as alloc_hooks over the _noprof function does: small, large and
 * huge blocks, in-place realloc grows, every function; the passed tag wins
 * over a current one (the innermost), which is left current and uncharged.
 */
static void tag_passing(void)
{
	const size_t mb = 1u << 20;
	DEFINE_ALLOC_TAG(t);
	DEFINE_ALLOC_TAG(outer);
	DEFINE_ALLOC_TAG(r);
	struct alloc_tag *old = alloctag_save(&outer);

	/* A large grow, moved or in place, is charged to the realloc's tag.
	 * 8 MiB blocks are held until one is 16 MiB-aligned with its buddy
	 * free (the grow stays in place); the moved ones are held too. */
	char *c, *held[64];
	unsigned int nheld = 0, nc = 0, ng = 0;
	for (;;) {
		c = at_malloc_tag_noprof(&t, 5 * mb);
		check_charge(&t, (long long)(nc + 1) * 8 * mb, nc + 1);
		CHECK(nheld < 63);
		if ((uintptr_t)c & (16 * mb - 1)) {
			held[nheld++] = c;
			nc++;
			continue;
		}
		char *g = at_realloc_tag_noprof(&r, c, 12 * mb);
		check_charge(&t, (long long)nc * 8 * mb, nc);
		check_charge(&r, (long long)(ng + 1) * 16 * mb, ng + 1);
		if (g == c)
			break;
		held[nheld++] = g;
		ng++;
	}
	while (nheld)
		at_free(held[--nheld]);
	check_charge(&t, 0, 0);
	check_charge(&r, 16 * mb, 1);

	void *p[12];
	p[0] = at_malloc_tag_noprof(&t, 100);
	p[1] = at_malloc_tag_noprof(&t, 100000);
	check_charge(&t, 112 + 131072, 2);
	unsigned char *z = at_calloc_tag_noprof(&t, 10, 30);
	p[2] = z;
	for (int i = 0; i < 300; i++)
		CHECK_EQ(z[i], 0);
	p[3] = at_calloc_tag_noprof(&t, 1, 20000); /* 32 KiB block */
	check_charge(&t, 112 + 131072 + 320 + 32768, 4);
	p[4] = at_aligned_alloc_tag_noprof(&t, 4096, 4096);
	CHECK(p[4] && !((uintptr_t)p[4] & 4095));
	CHECK_EQ(at_posix_memalign_tag_noprof(&t, &p[5], 64, 100), 0);
	CHECK(!((uintptr_t)p[5] & 63));
	p[6] = at_memalign_tag_noprof(&t, 8192, 10); /* a block of the page allocator */
	CHECK(p[6] && !((uintptr_t)p[6] & 8191));
	p[7] = at_valloc_tag_noprof(&t, 1);
	p[8] = at_pvalloc_tag_noprof(&t, 5000);
	p[9] = at_strdup_tag_noprof(&t, "tag");
	p[10] = at_strndup_tag_noprof(&t, "passing", 4);
	CHECK_STREQ(p[9], "tag");
	CHECK_STREQ(p[10], "pass");
	long long want = 112 + 131072 + 320 + 32768 + 4096 + 128 + 8192 + 4096 + 8192 + 16 + 16;
	check_charge(&t, want, 11);
	check_charge(&outer, 0, 0);
	CHECK(alloctag_current_tag == &outer);

	/* realloc: a small move, charged to the realloc's tag too. */
	p[0] = at_realloc_tag_noprof(&r, p[0], 1000);
	check_charge(&t, want - 112, 10);
	check_charge(&r, 16 * mb + 1024, 2);
	at_free(c);
	check_charge(&r, 1024, 1);
	/* huge: a direct mapping */
	p[11] = at_malloc_tag_noprof(&t, (size_t)3 << 29);
	check_charge(&t, want - 112 + ((long long)3 << 29), 11);
	for (int i = 0; i < 12; i++)
		at_free(p[i]);
	check_charge(&t, 0, 0);
	check_charge(&r, 0, 0);
	check_charge(&outer, 0, 0);
	CHECK(alloctag_current_tag == &outer);
	alloctag_restore(&outer, old);
}

int main(void)
{
	CHECK(alloctag_profiling());
	sizes();
	charges();
	reallocs();
	grow_in_place();
	tag_passing();
	alignments();
	strings();
	printf("ok (%s)\n", alloctag_compressed() ? "compressed" : "side table");
	return 0;
}
