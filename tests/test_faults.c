/*
 * Fault injection: every mmap, mprotect, madvise and munmap the runtime makes
 * fails in turn.  This program defines those four functions itself (they
 * make the system calls directly), so the runtime linked into it calls them;
 * the i-th call after arming fails with ENOMEM (FAULT_AT=i, FAULT_MODE=one),
 * or every call from the i-th on until the workload is done (FAULT_MODE=from:
 * memory gone for a while).  Arming happens in a constructor that runs
 * before start-up, so start-up's own calls are failed too.
 *
 * Each run (a child per i, re-executing this program) runs a workload of
 * small, large, huge, aligned, zeroed and reallocated blocks from one call
 * site and checks: an allocation either succeeds or returns NULL with errno
 * ENOMEM (realloc leaves the old block as it was); the site's counters equal
 * exactly the blocks that were handed out (when profiling is on); every
 * block keeps its contents; everything frees; then, with no more faults, the
 * same workload succeeds entirely: no set-up failure lasts (retry_once.h).
 * Every stderr line is one of alloctag's.  A report written
 * where it cannot be (/dev/full) returns the error and the program goes on.
 *
 * usage: test_faults            (the parent: counts, then one child per call)
 */
#define _GNU_SOURCE
#pragma GCC diagnostic ignored "-Wprio-ctor-dtor"
#include <alloctag.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

/* ---- the interposer ---------------------------------------------------- */

static long calls, fail_at, fail_from, injected;

static int fail_now(void)
{
	long n = __atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED);
	if ((fail_at && n == fail_at) || (fail_from && n >= fail_from)) {
		__atomic_add_fetch(&injected, 1, __ATOMIC_RELAXED);
		errno = ENOMEM;
		return 1;
	}
	return 0;
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (fail_now())
		return MAP_FAILED;
	long r = syscall(SYS_mmap, addr, len, prot, flags, fd, off);
	return r == -1 ? MAP_FAILED : (void *)r;
}

int munmap(void *addr, size_t len)
{
	if (fail_now())
		return -1;
	return (int)syscall(SYS_munmap, addr, len);
}

int mprotect(void *addr, size_t len, int prot)
{
	if (fail_now())
		return -1;
	return (int)syscall(SYS_mprotect, addr, len, prot);
}

int madvise(void *addr, size_t len, int advice)
{
	if (fail_now())
		return -1;
	return (int)syscall(SYS_madvise, addr, len, advice);
}

/* write(2) on one descriptor: the wfail_at-th call fails with ENOSPC
 * (wmode 0), is interrupted (EINTR, 1), or writes half (2). */
static int wfd = -1, wmode;
static long wcalls, wfail_at;

ssize_t write(int fd, const void *buf, size_t n)
{
	if (fd == wfd && ++wcalls == wfail_at) {
		if (wmode == 0) {
			errno = ENOSPC;
			return -1;
		}
		if (wmode == 1) {
			errno = EINTR;
			return -1;
		}
		if (n > 1)
			n /= 2;
	}
	return syscall(SYS_write, fd, buf, n);
}

__attribute__((constructor(100))) static void arm(void)
{
	const char *at = getenv("FAULT_AT"), *mode = getenv("FAULT_MODE");
	if (!at)
		return;
	long i = atol(at);
	if (mode && !strcmp(mode, "from"))
		fail_from = i;
	else
		fail_at = i;
}

/* ---- the workload ------------------------------------------------------ */

#define NBLK 250

struct blk {
	unsigned char *p;
	size_t n, usable;
	unsigned char seed;
};

static struct alloc_tag *site;
static int64_t want_bytes, want_calls;
static long nulls;

static void *site_call(int kind, void *old, size_t n)
{
	DEFINE_ALLOC_TAG(t);
	site = &t;
	switch (kind) {
	case 0: return alloc_hooks_tag(t, at_malloc_noprof(n));
	case 1: return alloc_hooks_tag(t, at_calloc_noprof(n, 1));
	case 2: return alloc_hooks_tag(t, at_aligned_alloc_noprof(4096, (n + 4095) & ~(size_t)4095));
	case 3: return alloc_hooks_tag(t, at_aligned_alloc_noprof((size_t)2 << 30, n));
	default: return alloc_hooks_tag(t, at_realloc_noprof(old, n));
	}
}

static void fill(struct blk *b)
{
	for (size_t i = 0; i < b->n; i += 61)
		b->p[i] = (unsigned char)(b->seed + i);
}

static void verify(const struct blk *b, size_t n)
{
	for (size_t i = 0; i < n; i += 61)
		CHECK(b->p[i] == (unsigned char)(b->seed + i));
}

static int charged(void)
{
	return alloctag_profiling();
}

static void got(struct blk *b, unsigned char *p, size_t n, int kind)
{
	if (!p) {
		CHECK_EQ(errno, ENOMEM);
		nulls++;
		b->p = NULL;
		return;
	}
	if (kind == 1)
		for (size_t i = 0; i < n; i += 61)
			CHECK(p[i] == 0);
	b->p = p;
	b->n = n;
	b->usable = at_usable_size(p);
	CHECK(b->usable >= n);
	b->seed = (unsigned char)(uintptr_t)p;
	fill(b);
	if (charged()) {
		want_bytes += (int64_t)b->usable;
		want_calls++;
	}
}

static void release(struct blk *b)
{
	if (!b->p)
		return;
	verify(b, b->n);
	if (charged()) {
		want_bytes -= (int64_t)b->usable;
		want_calls--;
	}
	at_free(b->p);
	b->p = NULL;
}

static void check_counters(void)
{
	if (!site || !charged())
		return;
	struct alloctag_counters c = alloctag_read(site);
	CHECK_EQ(c.bytes, want_bytes);
	CHECK_EQ(c.calls, want_calls);
}

/* Returns the number of allocations that failed. */
static long workload(void)
{
	static struct blk b[NBLK];
	nulls = 0;
	for (int i = 0; i < NBLK; i++) {
		int kind = i % 40 == 39 ? 3 : i % 7 == 3 ? 2 : i % 5 == 1 ? 1 : 0;
		size_t n = kind == 3 ? 8192 : i % 23 == 5 ? (size_t)(i + 1) * 9000 : 16 + (size_t)i * 37 % 4000;
		errno = 0;
		got(&b[i], site_call(kind, NULL, n), n, kind);
	}
	check_counters();
	for (int i = 0; i < NBLK; i += 3) { /* grow some: small to large, large to larger */
		if (!b[i].p || i % 40 == 39)
			continue;
		struct blk old = b[i];
		size_t n = old.n * 5 + 70000;
		errno = 0;
		unsigned char *p = site_call(4, old.p, n);
		if (!p) {
			CHECK_EQ(errno, ENOMEM);
			nulls++;
			verify(&old, old.n); /* the old block is as it was */
			continue;
		}
		struct blk nb = {p, old.n, 0, old.seed};
		verify(&nb, old.n); /* contents moved */
		if (charged()) {
			want_bytes -= (int64_t)old.usable;
			want_calls--;
		}
		got(&b[i], p, n, 4);
	}
	check_counters();
	for (int i = 0; i < NBLK; i += 2)
		release(&b[i]);
	check_counters();
	for (int i = 1; i < NBLK; i += 2)
		release(&b[i]);
	check_counters();
	CHECK_EQ(want_bytes, 0);
	CHECK_EQ(want_calls, 0);
	return nulls;
}

static void report_to_full_device(void)
{
	int fd = open("/dev/full", O_WRONLY);
	CHECK(fd >= 0);
	CHECK_EQ(alloctag_write_allocinfo_fd(fd), -ENOSPC);
	close(fd);
	CHECK(alloctag_write_allocinfo_fd(-1) < 0);
}

static int child(void)
{
	long failed = workload();
	long armed_calls = calls;
	fail_at = fail_from = 0; /* memory comes back */
	long after = workload();
	report_to_full_device();
	printf("calls=%ld injected=%ld failed=%ld after=%ld\n", armed_calls, injected, failed,
	       after);
	return 0;
}

struct run {
	long calls, injected, failed, after;
	char err[4096];
};

static void run_child(struct run *r, long at, const char *mode)
{
	int po[2], pe[2];
	CHECK(!pipe(po) && !pipe(pe));
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (!pid) {
		char v[32];
		snprintf(v, sizeof(v), "%ld", at);
		setenv("FAULT_AT", v, 1);
		setenv("FAULT_MODE", mode, 1);
		dup2(po[1], 1);
		dup2(pe[1], 2);
		execl("/proc/self/exe", "test_faults", "--child", (char *)NULL);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	char out[512] = {0};
	ssize_t k = 0, m;
	while ((m = read(po[0], out + k, sizeof(out) - 1 - (size_t)k)) > 0)
		k += m;
	k = 0;
	while ((m = read(pe[0], r->err + k, sizeof(r->err) - 1 - (size_t)k)) > 0)
		k += m;
	r->err[k] = 0;
	close(po[0]);
	close(pe[0]);
	int st;
	CHECK(waitpid(pid, &st, 0) == pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) ||
	    sscanf(out, "calls=%ld injected=%ld failed=%ld after=%ld", &r->calls, &r->injected,
		   &r->failed, &r->after) != 4) {
		fprintf(stderr, "FAIL: FAULT_AT=%ld FAULT_MODE=%s: status %#x\nstdout: %s\nstderr: %s\n",
			at, mode, st, out, r->err);
		exit(1);
	}
}

/* The allocinfo text into a memfd, with the armed write fault. */
static int allocinfo_with_fault(char *out, size_t len, size_t *got)
{
	int fd = memfd_create("allocinfo", 0);
	CHECK(fd >= 0);
	wfd = fd;
	wcalls = 0;
	int r = alloctag_write_allocinfo_fd(fd);
	wfd = -1;
	ssize_t n = pread(fd, out, len - 1, 0);
	CHECK(n >= 0);
	out[n] = 0;
	*got = (size_t)n;
	close(fd);
	return r;
}

/* Every write of a report fails in turn, or is interrupted, or is short. */
static long report_faults(void)
{
	static char want[1 << 16], text[1 << 16];
	void *keep[40];
	for (int i = 0; i < 40; i++) /* some lines with counters */
		keep[i] = site_call(i % 3, NULL, 100 + (size_t)i * 1000);
	size_t n, m;
	wfail_at = 0;
	CHECK_EQ(allocinfo_with_fault(want, sizeof(want), &n), 0);
	long writes = wcalls, faults = 0;
	CHECK(writes >= 2); /* the header, one line per tag */
	for (int mode = 0; mode < 3; mode++) {
		for (long i = 1; i <= writes; i++) {
			wmode = mode;
			wfail_at = i;
			int r = allocinfo_with_fault(text, sizeof(text), &m);
			faults++;
			if (mode == 0) {
				CHECK_EQ(r, -ENOSPC);
				CHECK(m < n && !memcmp(text, want, m)); /* a prefix, no garbage */
			} else {
				CHECK_EQ(r, 0);
				CHECK_STREQ(text, want);
			}
			wfail_at = 0; /* and the next report is whole */
			CHECK_EQ(allocinfo_with_fault(text, sizeof(text), &m), 0);
			CHECK_STREQ(text, want);
		}
	}
	for (int i = 0; i < 40; i++)
		at_free(keep[i]);
	printf("report writes: %ld writes failed, interrupted and cut short in turn (%ld faults): "
	       "the error returned, or the whole text written\n", writes, faults);
	return faults;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--child"))
		return child();
	report_faults();
	struct run r;
	run_child(&r, 0, "one"); /* no fault: how many calls */
	CHECK_EQ(r.injected, 0);
	CHECK_EQ(r.failed, 0);
	CHECK_EQ(r.after, 0);
	CHECK_STREQ(r.err, "");
	long total = r.calls, faults = 0, failed = 0, short_runs = 0;
	CHECK(total > 10);
	for (const char *mode = "one";; mode = "from") {
		for (long i = 1; i <= total; i++) {
			run_child(&r, i, mode);
			/* the i-th call is failed if the run makes one: under
			 * load a run makes a call more or fewer than the count's
			 * (the page allocator's purges are timed: free_block) */
			if (!r.injected) {
				CHECK(r.calls < i);
				short_runs++;
			}
			faults += r.injected;
			failed += r.failed;
			if (r.after) {
				fprintf(stderr, "FAIL: FAULT_AT=%ld FAULT_MODE=%s: %ld allocations "
					"failed after memory came back\nstderr: %s\n", i, mode,
					r.after, r.err);
				return 1;
			}
			/* each stderr line is one of alloctag's */
			for (const char *l = r.err; *l; l = strchr(l, '\n') + 1) {
				CHECK(!strncmp(l, "alloctag: ", 10));
				CHECK(strchr(l, '\n'));
			}
		}
		if (!strcmp(mode, "from"))
			break;
	}
	CHECK(short_runs <= total / 8); /* nearly every call failed in turn, twice */
	printf("faults: %ld system calls failed in turn, twice (one, and every call from it "
	       "on): %ld faults injected, %ld allocations returned NULL/ENOMEM; counters exact, "
	       "contents intact and every allocation working again afterwards in every run\n",
	       total, faults, failed);
	return 0;
}
