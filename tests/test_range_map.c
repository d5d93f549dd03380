/* Tests for the range map; exits 0 on success, 1 at the first failure. */
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/resource.h>
#include "modules/range_map.h"

#define CHECK(c) do { if (!(c)) { \
	printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); \
	return 1; } } while (0)
#define RUN(f) do { if (f()) { printf("FAIL in %s\n", #f); return 1; } \
	printf("ok %s\n", #f); } while (0)

#define TOP ((~0UL >> 1) + 1)	/* top bit of unsigned long */

static void *P(unsigned long v) { return (void *)(v + 1); }

static unsigned long long rng = 88172645463325252ULL;
static unsigned long rnd(unsigned long n)
{
	rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
	return (unsigned long)(rng % n);
}

static int test_basic(void)
{
	struct at_rmap m;
	struct at_rmap_entry e;
	unsigned long s;

	CHECK(at_rmap_init(&m, 1000) == 0);
	CHECK(at_rmap_count(&m) == 0);
	CHECK(at_rmap_first(&m, &e) == -ENOENT);
	CHECK(at_rmap_last(&m, &e) == -ENOENT);
	CHECK(at_rmap_lookup(&m, 0, &e) == -ENOENT);
	CHECK(at_rmap_erase(&m, 0) == -ENOENT);
	CHECK(at_rmap_used_end(&m) == 0);

	/* argument errors */
	CHECK(at_rmap_insert(&m, 0, 0, 0) == -EINVAL);
	CHECK(at_rmap_insert(&m, 1000, 1, 0) == -EINVAL);
	CHECK(at_rmap_insert(&m, 999, 2, 0) == -EINVAL);
	CHECK(at_rmap_insert(&m, 1, ~0UL, 0) == -EINVAL);
	CHECK(at_rmap_find_free(&m, 0, 1, &s) == -EINVAL);
	CHECK(at_rmap_find_free(&m, 1, 0, &s) == -EINVAL);
	CHECK(at_rmap_find_free(&m, 1, 3, &s) == -EINVAL);
	CHECK(at_rmap_find_free(&m, 1001, 1, &s) == -ENOMEM);
	CHECK(at_rmap_find_free(&m, 1000, 1, &s) == 0 && s == 0);

	/* [100,200) [300,350) [600,1000) */
	CHECK(at_rmap_insert(&m, 300, 50, P(300)) == 0);
	CHECK(at_rmap_insert(&m, 100, 100, P(100)) == 0);
	CHECK(at_rmap_insert(&m, 600, 400, P(600)) == 0);
	CHECK(at_rmap_count(&m) == 3);
	CHECK(at_rmap_used_end(&m) == 1000);

	/* overlaps, touching is fine */
	CHECK(at_rmap_insert(&m, 100, 100, 0) == -EEXIST);
	CHECK(at_rmap_insert(&m, 50, 51, 0) == -EEXIST);
	CHECK(at_rmap_insert(&m, 199, 1, 0) == -EEXIST);
	CHECK(at_rmap_insert(&m, 150, 10, 0) == -EEXIST);
	CHECK(at_rmap_insert(&m, 0, 1000, 0) == -EEXIST);
	CHECK(at_rmap_insert(&m, 250, 51, 0) == -EEXIST);
	CHECK(at_rmap_insert(&m, 349, 300, 0) == -EEXIST);
	CHECK(at_rmap_count(&m) == 3);

	/* find_free: gaps [0,100) [200,300) [350,600) */
	CHECK(at_rmap_find_free(&m, 1, 1, &s) == 0 && s == 0);
	CHECK(at_rmap_find_free(&m, 100, 1, &s) == 0 && s == 0);
	CHECK(at_rmap_find_free(&m, 101, 1, &s) == 0 && s == 350);
	CHECK(at_rmap_find_free(&m, 250, 1, &s) == 0 && s == 350);
	CHECK(at_rmap_find_free(&m, 251, 1, &s) == -ENOMEM);
	CHECK(at_rmap_find_free(&m, 64, 64, &s) == 0 && s == 0);
	CHECK(at_rmap_find_free(&m, 64, 128, &s) == 0 && s == 0);
	CHECK(at_rmap_find_free(&m, 100, 256, &s) == 0 && s == 0);
	CHECK(at_rmap_insert(&m, 0, 10, P(0)) == 0);
	/* gap [10,100): 16-aligned 84 bytes fit at 16; 85 go to 208 */
	CHECK(at_rmap_find_free(&m, 84, 16, &s) == 0 && s == 16);
	CHECK(at_rmap_find_free(&m, 85, 16, &s) == 0 && s == 208);
	/* [200,300) holds no 64-aligned 64 bytes: 256+64 > 300 */
	CHECK(at_rmap_find_free(&m, 64, 64, &s) == 0 && s == 384);
	CHECK(at_rmap_find_free(&m, 44, 64, &s) == 0 && s == 256);
	CHECK(at_rmap_find_free(&m, 200, 128, &s) == 0 && s == 384);
	CHECK(at_rmap_find_free(&m, 217, 128, &s) == -ENOMEM);
	CHECK(at_rmap_find_free(&m, 88, 512, &s) == 0 && s == 512);
	CHECK(at_rmap_find_free(&m, 89, 512, &s) == -ENOMEM);
	CHECK(at_rmap_find_free(&m, 10, 1, &s) == 0 && s == 10);

	/* lookup */
	CHECK(at_rmap_lookup(&m, 100, &e) == 0 && e.start == 100 &&
	      e.len == 100 && e.owner == P(100));
	CHECK(at_rmap_lookup(&m, 199, &e) == 0 && e.start == 100);
	CHECK(at_rmap_lookup(&m, 200, &e) == -ENOENT);
	CHECK(at_rmap_lookup(&m, 99, &e) == -ENOENT);
	CHECK(at_rmap_lookup(&m, 9, &e) == 0 && e.start == 0 && e.len == 10);
	CHECK(at_rmap_lookup(&m, 999, &e) == 0 && e.start == 600);
	CHECK(at_rmap_lookup(&m, 1000, &e) == -ENOENT);
	CHECK(at_rmap_lookup(&m, ~0UL, &e) == -ENOENT);

	/* iteration */
	CHECK(at_rmap_first(&m, &e) == 0 && e.start == 0);
	CHECK(at_rmap_next(&m, &e) == 0 && e.start == 100);
	CHECK(at_rmap_next(&m, &e) == 0 && e.start == 300 && e.len == 50);
	CHECK(at_rmap_next(&m, &e) == 0 && e.start == 600 &&
	      e.owner == P(600));
	CHECK(at_rmap_next(&m, &e) == -ENOENT);
	CHECK(at_rmap_last(&m, &e) == 0 && e.start == 600 && e.len == 400);
	CHECK(at_rmap_prev(&m, &e) == 0 && e.start == 300);
	CHECK(at_rmap_prev(&m, &e) == 0 && e.start == 100);
	CHECK(at_rmap_prev(&m, &e) == 0 && e.start == 0);
	CHECK(at_rmap_prev(&m, &e) == -ENOENT);
	e.start = 250;	/* next/prev from an arbitrary offset */
	CHECK(at_rmap_next(&m, &e) == 0 && e.start == 300);
	e.start = 250;
	CHECK(at_rmap_prev(&m, &e) == 0 && e.start == 100);

	/* erase */
	CHECK(at_rmap_erase(&m, 101) == -ENOENT);
	CHECK(at_rmap_erase(&m, 600) == 0);
	CHECK(at_rmap_erase(&m, 600) == -ENOENT);
	CHECK(at_rmap_count(&m) == 3);
	CHECK(at_rmap_used_end(&m) == 350);
	CHECK(at_rmap_last(&m, &e) == 0 && e.start == 300);
	CHECK(at_rmap_lookup(&m, 700, &e) == -ENOENT);
	CHECK(at_rmap_find_free(&m, 512, 512, &s) == -ENOMEM);
	CHECK(at_rmap_find_free(&m, 488, 512, &s) == 0 && s == 512);
	CHECK(at_rmap_find_free(&m, 650, 1, &s) == 0 && s == 350);
	CHECK(at_rmap_erase(&m, 100) == 0);
	CHECK(at_rmap_find_free(&m, 290, 1, &s) == 0 && s == 10);
	CHECK(at_rmap_erase(&m, 0) == 0);
	CHECK(at_rmap_erase(&m, 300) == 0);
	CHECK(at_rmap_count(&m) == 0);
	CHECK(at_rmap_first(&m, &e) == -ENOENT);
	CHECK(at_rmap_find_free(&m, 1000, 1, &s) == 0 && s == 0);

	/* fill up completely */
	CHECK(at_rmap_insert(&m, 0, 1000, 0) == 0);
	CHECK(at_rmap_find_free(&m, 1, 1, &s) == -ENOMEM);
	at_rmap_destroy(&m);
	CHECK(at_rmap_count(&m) == 0 && m.chunks == 0);

	/* an area reaching the top of the address range */
	CHECK(at_rmap_init(&m, ~0UL) == 0);
	CHECK(at_rmap_insert(&m, ~0UL - 10, 10, 0) == 0);
	CHECK(at_rmap_find_free(&m, 1, TOP, &s) == 0 && s == 0);
	CHECK(at_rmap_insert(&m, 0, TOP, 0) == 0);
	CHECK(at_rmap_find_free(&m, 1, TOP, &s) == 0 &&
	      s == TOP);
	CHECK(at_rmap_insert(&m, TOP, 1, 0) == 0);
	CHECK(at_rmap_find_free(&m, 1, TOP, &s) == -ENOMEM);
	CHECK(at_rmap_find_free(&m, 10, 16, &s) == 0 &&
	      s == TOP + 16);
	CHECK(at_rmap_find_free(&m, 11, 1, &s) == 0 && s == TOP + 1);
	at_rmap_destroy(&m);
	return 0;
}

/* Randomized against a brute-force model: owner[] per offset (0 = free). */
#define CAP 4096
static unsigned long model[CAP];	/* start+1 of the covering range */
static unsigned long mlen[CAP];		/* len of the range starting here */
static unsigned long used_prefix[CAP + 1];

static long brute_find(unsigned long size, unsigned long align)
{
	unsigned long s, i;

	for (i = 0; i < CAP; i++)
		used_prefix[i + 1] = used_prefix[i] + (model[i] != 0);
	for (s = 0; s + size <= CAP; s += align)
		if (used_prefix[s + size] == used_prefix[s])
			return (long)s;
	return -1;
}

static int check_walks(struct at_rmap *m)
{
	struct at_rmap_entry e;
	unsigned long i, n = 0, end = 0;
	int r;

	i = 0;
	for (r = at_rmap_first(m, &e); !r; r = at_rmap_next(m, &e)) {
		while (i < CAP && !mlen[i])
			i++;
		CHECK(i < CAP && e.start == i && e.len == mlen[i] &&
		      e.owner == P(i));
		end = i + mlen[i];
		i++;
		n++;
	}
	while (i < CAP && !mlen[i])
		i++;
	CHECK(i == CAP && n == at_rmap_count(m));
	CHECK(at_rmap_used_end(m) == end);
	i = CAP;
	for (r = at_rmap_last(m, &e); !r; r = at_rmap_prev(m, &e)) {
		while (i > 0 && !mlen[i - 1])
			i--;
		CHECK(i > 0 && e.start == i - 1 && e.owner == P(i - 1));
		i--;
		n--;
	}
	CHECK(n == 0);
	return 0;
}

static int test_random(void)
{
	struct at_rmap m;
	struct at_rmap_entry e;
	unsigned long s, len, i, align;
	long want;
	int op, r, want_r;

	memset(model, 0, sizeof model);
	memset(mlen, 0, sizeof mlen);
	CHECK(at_rmap_init(&m, CAP) == 0);
	for (op = 0; op < 20000; op++) {
		switch (rnd(5)) {
		case 0:	/* insert anywhere */
			s = rnd(CAP + 8);
			len = 1 + rnd(rnd(2) ? 8 : 200);
			want_r = 0;
			if (s >= CAP || len > CAP - s)
				want_r = -EINVAL;
			else
				for (i = s; i < s + len; i++)
					if (model[i])
						want_r = -EEXIST;
			r = at_rmap_insert(&m, s, len, P(s));
			CHECK(r == want_r);
			if (!r) {
				for (i = s; i < s + len; i++)
					model[i] = s + 1;
				mlen[s] = len;
			}
			break;
		case 1:	/* find_free, then insert there */
			len = 1 + rnd(rnd(4) ? 16 : 300);
			align = 1UL << rnd(8);
			want = brute_find(len, align);
			r = at_rmap_find_free(&m, len, align, &s);
			if (want < 0) {
				CHECK(r == -ENOMEM);
				break;
			}
			CHECK(r == 0 && s == (unsigned long)want);
			CHECK(at_rmap_insert(&m, s, len, P(s)) == 0);
			for (i = s; i < s + len; i++)
				model[i] = s + 1;
			mlen[s] = len;
			break;
		case 2:	/* erase an existing range, or a random offset */
		case 3:
			s = rnd(CAP);
			if (rnd(4) && model[s])
				s = model[s] - 1;
			r = at_rmap_erase(&m, s);
			CHECK(r == (mlen[s] ? 0 : -ENOENT));
			if (!r) {
				for (i = s; i < s + mlen[s]; i++)
					model[i] = 0;
				mlen[s] = 0;
			}
			break;
		case 4:	/* lookup */
			s = rnd(CAP + 4);
			r = at_rmap_lookup(&m, s, &e);
			if (s >= CAP || !model[s]) {
				CHECK(r == -ENOENT);
			} else {
				i = model[s] - 1;
				CHECK(r == 0 && e.start == i &&
				      e.len == mlen[i] && e.owner == P(i));
			}
			break;
		}
		if (op % 97 == 0 && check_walks(&m))
			return 1;
	}
	if (check_walks(&m))
		return 1;
	at_rmap_destroy(&m);
	return 0;
}

/* 10,000 ranges: more nodes than one chunk holds. */
static int test_many(void)
{
	enum { N = 10000 };
	struct at_rmap m;
	struct at_rmap_entry e;
	static const unsigned long off[3] = { 0, 16, 48 };
	unsigned long s, i, n;
	int r;

	CHECK(at_rmap_init(&m, 1UL << 30) == 0);
	/* sizes 16, 32, 48 in turn, packed from 0: 96 bytes per triple */
	for (i = 0; i < N; i++) {
		CHECK(at_rmap_find_free(&m, 16 + 16 * (i % 3), 16, &s) == 0);
		CHECK(s == 96 * (i / 3) + off[i % 3]);
		CHECK(at_rmap_insert(&m, s, 16 + 16 * (i % 3), P(i)) == 0);
	}
	CHECK(at_rmap_count(&m) == N);
	n = 0;
	for (r = at_rmap_last(&m, &e); !r; r = at_rmap_prev(&m, &e))
		CHECK(e.owner == P(N - 1 - n++));
	CHECK(n == N);
	CHECK(at_rmap_used_end(&m) == 96 * (N / 3) + 16);
	/* erase every 16-byte range (i % 3 == 0): 16-byte holes at 96*k */
	for (i = 0; i < N; i += 3)
		CHECK(at_rmap_erase(&m, 96 * (i / 3)) == 0);
	CHECK(at_rmap_count(&m) == N - (N + 2) / 3);
	CHECK(at_rmap_lookup(&m, 96 * 5 + 3, &e) == -ENOENT);
	CHECK(at_rmap_lookup(&m, 96 * 5 + 16, &e) == 0 &&
	      e.start == 96 * 5 + 16 && e.len == 32 && e.owner == P(16));
	/* holes are too small for 17 bytes; those go to the end */
	CHECK(at_rmap_find_free(&m, 17, 1, &s) == 0 &&
	      s == at_rmap_used_end(&m));
	/* 16-byte requests refill the holes lowest first */
	for (i = 0; i < N; i += 3) {
		CHECK(at_rmap_find_free(&m, 16, 16, &s) == 0 && s == 96 * (i / 3));
		CHECK(at_rmap_insert(&m, s, 16, P(i)) == 0);
	}
	CHECK(at_rmap_find_free(&m, 1, 1, &s) == 0 &&
	      s == at_rmap_used_end(&m));
	n = 0;
	for (r = at_rmap_first(&m, &e); !r; r = at_rmap_next(&m, &e))
		CHECK(e.owner == P(n++));
	CHECK(n == N);
	/* erase each range found by its last byte, in a scattered order */
	for (n = 0; n < N; n++) {
		i = n * 7919 % N;
		s = 96 * (i / 3) + off[i % 3] + 16 * (i % 3);
		CHECK(at_rmap_lookup(&m, s + 15, &e) == 0 && e.owner == P(i));
		CHECK(at_rmap_erase(&m, e.start) == 0);
		CHECK(at_rmap_lookup(&m, s + 15, &e) == -ENOENT);
	}
	CHECK(at_rmap_count(&m) == 0 && at_rmap_used_end(&m) == 0);
	CHECK(at_rmap_find_free(&m, 1UL << 30, 1, &s) == 0 && s == 0);
	at_rmap_destroy(&m);
	return 0;
}

/* Cap the address space at current use plus extra bytes (the old limit
 * in *old); 0, or 1 when that cannot be done (the test is skipped). */
static int limit_as(unsigned long extra, struct rlimit *old, const char *test)
{
	struct rlimit lim;
	char buf[64] = "";
	unsigned long vm = 0;
	int fd = open("/proc/self/statm", O_RDONLY);

	if (fd < 0 || read(fd, buf, sizeof buf - 1) <= 0 ||
	    sscanf(buf, "%lu", &vm) != 1 || getrlimit(RLIMIT_AS, old)) {
		printf("skip %s: no /proc/self/statm or rlimit\n", test);
		return 1;
	}
	close(fd);
	lim = *old;
	lim.rlim_cur = vm * (unsigned long)sysconf(_SC_PAGESIZE) + extra;
	if (setrlimit(RLIMIT_AS, &lim)) {
		printf("skip %s: setrlimit failed\n", test);
		return 1;
	}
	return 0;
}

/* Node memory exhaustion: cap the address space just above current use. */
static int test_nomem(void)
{
	struct at_rmap m;
	struct at_rmap_entry e;
	struct rlimit old;
	unsigned long n, i;
	int r = 0;

	if (limit_as(4UL << 20, &old, "test_nomem"))
		return 0;
	at_rmap_init(&m, ~0UL);
	for (n = 0; n < (1UL << 20); n++)
		if ((r = at_rmap_insert(&m, 2 * n, 1, P(n))))
			break;
	setrlimit(RLIMIT_AS, &old);
	CHECK(r == -ENOMEM);
	CHECK(n > 1000 && at_rmap_count(&m) == n);
	CHECK(at_rmap_lookup(&m, 2 * n, &e) == -ENOENT);
	for (i = 0; i < n; i += 1 + n / 100)
		CHECK(at_rmap_lookup(&m, 2 * i, &e) == 0 && e.owner == P(i));
	CHECK(at_rmap_last(&m, &e) == 0 && e.start == 2 * (n - 1));
	at_rmap_destroy(&m);
	return 0;
}

/* A map given its first nodes (at_rmap_init_nodes) takes them before any
 * chunk: with the address space limited to what is mapped now, its first
 * three ranges are inserted (three 72-byte nodes, range_map.c), the fourth
 * needs a chunk and fails; the bytes past the three nodes stay untouched;
 * with the limit lifted the map goes on in chunks. */
static int test_given_nodes(void)
{
	static unsigned long mem[64];
	struct at_rmap m;
	struct at_rmap_entry e;
	struct rlimit old;
	int r, i;

	memset(mem, 0xa5, sizeof(mem));
	CHECK(at_rmap_init_nodes(&m, 100, mem, 3 * 72) == 0);
	if (limit_as(32UL << 10, &old, "test_given_nodes"))
		return 0;
	for (i = 0; i < 3; i++)
		if ((r = at_rmap_insert(&m, 10 * i, 5, P(i))))
			break;
	int fourth = at_rmap_insert(&m, 50, 5, P(5));
	setrlimit(RLIMIT_AS, &old);
	CHECK(i == 3);
	CHECK(fourth == -ENOMEM);
	CHECK(at_rmap_count(&m) == 3);
	for (i = 3 * 72 / 8; i < 64; i++)
		CHECK(mem[i] == 0xa5a5a5a5a5a5a5a5UL);
	CHECK(at_rmap_insert(&m, 50, 5, P(5)) == 0);
	CHECK(at_rmap_count(&m) == 4);
	for (i = 0; i < 3; i++)
		CHECK(at_rmap_lookup(&m, 10 * i + 4, &e) == 0 && e.start == 10UL * i &&
		      e.len == 5 && e.owner == P(i));
	CHECK(at_rmap_lookup(&m, 52, &e) == 0 && e.owner == P(5));
	at_rmap_destroy(&m);
	CHECK(at_rmap_count(&m) == 0);
	return 0;
}

int main(void)
{
	RUN(test_basic);
	RUN(test_random);
	RUN(test_many);
	RUN(test_nomem);
	RUN(test_given_nodes);
	printf("all range map tests passed\n");
	return 0;
}
