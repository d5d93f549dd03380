#include "core/counters.h"

#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>

char *at_counters_base;
char *at_cum_base;
long at_rseq_offset;
unsigned int at_counters_ncpu;

int at_counters_init(void)
{
	long n = sysconf(_SC_NPROCESSORS_CONF);
	if (n < 1)
		n = 1;
	size_t stride = AT_COUNTERS_STRIDE;
	void *p = mmap(NULL, stride * ((size_t)n + 1), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	void *q = mmap(NULL, stride * ((size_t)n + 1), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (q == MAP_FAILED) {
		munmap(p, stride * ((size_t)n + 1));
		return -1;
	}
	at_cum_base = q;
	at_rseq_offset = (long)__rseq_offset;
	at_counters_ncpu = (unsigned int)n;
	AT_STORE(&at_counters_base, (char *)p);
	return 0;
}

/*
 * No rseq (or the sequence aborted): add atomically to the shared array after
 * the last CPU's.  rseq writers update their CPU's slot with a plain add, so a
 * thread that is not inside a sequence must never touch those slots.
 */
void at_counters_add_slow(int64_t *slot0, int64_t v)
{
	int64_t *slot = (int64_t *)((char *)slot0 + (size_t)at_counters_ncpu * AT_COUNTERS_STRIDE);
	__atomic_fetch_add(slot, v, __ATOMIC_RELAXED);
}

static struct alloctag_counters sum(char *p)
{
	struct alloctag_counters r = {0, 0};

	for (unsigned int cpu = 0; cpu <= at_counters_ncpu; cpu++, p += AT_COUNTERS_STRIDE) {
		struct at_counter *c = (struct at_counter *)p;
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
	return sum((char *)((struct at_counter *)at_cum_base + idx));
}

static void zero(struct at_counter *c)
{
	/* An index never used before reads zero: no store, so the page of a
	 * CPU that never charges it is not made resident (nor copied in a
	 * forked child). */
	if (AT_LOAD_RELAXED(&c->bytes) | AT_LOAD_RELAXED(&c->calls)) {
		AT_STORE_RELAXED(&c->bytes, 0);
		AT_STORE_RELAXED(&c->calls, 0);
	}
}

/* Zero a tag's slots; only for an index being (re)assigned with no users. */
void at_counters_reset(uint32_t idx)
{
	char *p = (char *)at_counter0(idx);

	for (unsigned int cpu = 0; cpu <= at_counters_ncpu; cpu++, p += AT_COUNTERS_STRIDE) {
		zero((struct at_counter *)p);
		zero((struct at_counter *)(p - at_counters_base + at_cum_base));
	}
}
