#include "core/counters.h"
#include "pages/page.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/raw_syscall.h"
#include "core/read_at.h"

char *at_counters_base;
size_t at_counters_group;
long at_rseq_offset;
unsigned int at_counters_ncpu;

/*
 * The number of CPU ids the kernel can give (one more than the highest
 * possible CPU), from /sys/devices/system/cpu/possible ("0-1", "0,2-5"):
 * what sysconf(_SC_NPROCESSORS_CONF) reads, parsed here so that nothing
 * pages in libc's sysconf and strtoul code and tables, and read with the
 * system calls made here (read_at.h), so that the loader binds none of
 * libc's open, read and close for it.  -1 when the file cannot be read.
 * Only readers need it (at_counters_nread), never start-up: opening a
 * sysfs file took three system calls and about 7 us of every process
 * start.
 */
static long possible_cpus(void)
{
	char buf[256];
	int fd = at_open_rdonly("/sys/devices/system/cpu/possible");
	if (fd < 0)
		return -1;
	ssize_t len = at_pread_once(fd, buf, sizeof(buf) - 1, 0); /* all of it, at once */
	at_close(fd);
	if (len <= 0)
		return -1;
	buf[len] = 0;
	long max = -1, v = -1;
	for (const char *p = buf;; p++) {
		if (*p >= '0' && *p <= '9') {
			v = (v < 0 ? 0 : v * 10) + (*p - '0');
			if (v > 1 << 20)
				return -1;
			continue;
		}
		if (v > max)
			max = v;
		v = -1;
		if (*p != '-' && *p != ',')
			break;
	}
	return max + 1 > 0 ? max + 1 : -1;
}

/*
 * The CPU ids the layout covers (at_counters_ncpu), at least the kernel's
 * nr_cpu_ids, in one cheap system call: sched_getaffinity refuses a mask
 * shorter than nr_cpu_ids bits (EINVAL), so the shortest length it accepts,
 * in words, bounds every CPU id rseq can give: 64 on a machine of up to 64
 * CPUs.  The bound costs address space only (a group is a page per id, and
 * a CPU that never runs a charge never touches its page); readers sum the
 * possible CPUs alone (at_counters_nread).  -1 when the call fails
 * otherwise, or beyond 4096 CPUs.
 */
static long cpu_id_bound(void)
{
#if defined(__x86_64__) && defined(__linux__)
	unsigned long mask[64];
	for (size_t len = sizeof(unsigned long); len <= sizeof(mask); len *= 2) {
		long r = at_raw_syscall4(SYS_sched_getaffinity, 0, (long)len, (long)mask, 0);
		if (r > 0)
			return (long)len * 8;
		if (r != -EINVAL)
			break;
	}
#endif
	return -1;
}

static unsigned int ncpu_once; /* 0 until read */

static unsigned int ncpu(void)
{
	unsigned int got = AT_LOAD_RELAXED(&ncpu_once);
	if (got)
		return got;
	long n = cpu_id_bound();
	if (n < 1)
		n = possible_cpus();
	if (n < 1)
		n = sysconf(_SC_NPROCESSORS_CONF);
	if (n < 1)
		n = 1;
	AT_STORE_RELAXED(&ncpu_once, (unsigned int)n); /* any reader reads the same */
	return (unsigned int)n;
}

static unsigned int nread_once; /* 0 until read */

unsigned int at_counters_nread(void)
{
	unsigned int got = AT_LOAD_RELAXED(&nread_once);
	if (got)
		return got;
	long n = possible_cpus();
	if (n < 1 || n > (long)at_counters_ncpu)
		n = at_counters_ncpu;
	AT_STORE_RELAXED(&nread_once, (unsigned int)n); /* any reader reads the same */
	return (unsigned int)n;
}

size_t at_counters_bytes(void)
{
	return (size_t)(AT_IDX_MAX / AT_COUNTERS_GROUP) * AT_COUNTERS_STRIDE * ((size_t)ncpu() + 1);
}

int at_counters_init(void)
{
	unsigned int n = ncpu();
	void *p = at_meta_map(AT_META_COUNTERS, at_counters_bytes());
	if (p == MAP_FAILED)
		return -1;
	at_rseq_offset = (long)__rseq_offset;
	at_counters_ncpu = n;
	at_counters_group = AT_COUNTERS_STRIDE * ((size_t)n + 1);
	/* group 0: the last */
	AT_STORE(&at_counters_base, (char *)p + at_counters_bytes() - at_counters_group);
	return 0;
}

/*
 * No rseq (or the sequence aborted): add atomically to the shared array, the
 * page after the last CPU's in each group.  rseq writers update their CPU's slot with a plain add, so a
 * thread that is not inside a sequence must never touch those slots.
 */
void at_counters_add_slow(int64_t *slot0, int64_t v)
{
	int64_t *slot = (int64_t *)((char *)slot0 + (size_t)at_counters_ncpu * AT_COUNTERS_STRIDE);
	__atomic_fetch_add(slot, v, __ATOMIC_RELAXED);
}

/* The slot of the n-th place a tag's count can be in: the possible CPUs'
 * (0 .. at_counters_nread() - 1), then the shared one (at_counters_ncpu). */
static char *slot_at(char *p0, unsigned int i, unsigned int nread)
{
	return p0 + (size_t)(i < nread ? i : at_counters_ncpu) * AT_COUNTERS_STRIDE;
}

static struct alloctag_counters sum(char *p)
{
	struct alloctag_counters r = {0, 0};
	unsigned int n = at_counters_nread();

	for (unsigned int i = 0; i <= n; i++) {
		struct at_counter *c = (struct at_counter *)slot_at(p, i, n);
		r.bytes += AT_LOAD_RELAXED(&c->bytes);
		r.calls += AT_LOAD_RELAXED(&c->calls);
	}
	return r;
}

struct alloctag_counters at_counters_read(uint32_t idx)
{
	return sum((char *)at_counter0(idx));
}

struct alloctag_counters at_cum_read(uint32_t idx)
{
	return sum((char *)at_cum0(idx));
}

/*
 * One more than the highest index ever reset.  Every index is reset when it
 * is assigned, before anything charges it, so the slots of an index at or
 * above the mark have never been written: they are zero already, and
 * resetting them would only make each CPU's page of them resident (and
 * copied by every fork) for a tag that may never run on that CPU.
 */
/* written by making a chain's tag; the first of the fork page, page-aligned
 * (core/compiler.h) */
AT_CHAIN_HOT __attribute__((aligned(4096))) static uint32_t reset_mark;

static void zero(struct at_counter *c)
{
	if (AT_LOAD_RELAXED(&c->bytes) | AT_LOAD_RELAXED(&c->calls)) {
		AT_STORE_RELAXED(&c->bytes, 0);
		AT_STORE_RELAXED(&c->calls, 0);
	}
}

/* Zero a tag's slots; only for an index being (re)assigned with no users. */
void at_counters_reset(uint32_t idx)
{
	uint32_t mark = AT_LOAD_RELAXED(&reset_mark);
	if (idx >= mark) {
		while (mark <= idx && !__atomic_compare_exchange_n(&reset_mark, &mark, idx + 1, 1,
								    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
			;
		return;
	}
	char *p0 = (char *)at_counter0(idx);
	unsigned int n = at_counters_nread();

	for (unsigned int i = 0; i <= n; i++) {
		struct at_counter *c = (struct at_counter *)slot_at(p0, i, n);
		zero(c);
		zero(c + 1);
	}
}
