/*
 * Teaching a forking parent its children's call chains (the area's
 * layout and invariants: chain_teach.h).
 */
#include "sites/chain_teach.h"

#include <sys/mman.h>

#include "core/control.h"
#include "sites/chains.h"
#include "sites/unwind.h"

/* The area and what this process did with it: made and written by the
 * prepare handler only (glibc runs a fork's prepare handlers one fork at a
 * time), read by a child publishing (a page its parent wrote: present in
 * the child, not copied for a read). */
static struct {
	uint64_t *area;    /* NULL: none */
	uint32_t capacity; /* records */
	uint32_t words;    /* a record's: 1 + depth */
	uint32_t cursor;   /* records read */
	uint32_t rules;    /* at_unwind_generation when the records were read */
	uint32_t made, read, refused;
} teach;

static inline uint64_t *record(uint32_t i)
{
	return teach.area + AT_TEACH_HEAD / sizeof(uint64_t) + (size_t)i * teach.words;
}

void at_teach_publish(const uintptr_t *f, unsigned int n)
{
	uint64_t *a = teach.area;
	if (!a || n + 1 > teach.words)
		return;
	for (unsigned int k = 0; k < n; k++)
		if (!at_unwind_permanent(f[k]))
			return; /* an object the parent may not map */
	if (AT_LOAD_RELAXED(&a[0]) >= teach.capacity)
		return; /* full */
	uint64_t i = __atomic_fetch_add(&a[0], 1, __ATOMIC_RELAXED);
	if (i >= teach.capacity)
		return;
	uint64_t *r = record((uint32_t)i);
	for (unsigned int k = 0; k < n; k++)
		AT_STORE_RELAXED(&r[1 + k], (uint64_t)f[k]);
	AT_STORE(&r[0], (uint64_t)AT_TEACH_READY << 32 | n);
}

/* Record i adopted if it passes the checks (chain_teach.h): its rules and
 * its chain made. */
static AT_NOINLINE void adopt(uint32_t i)
{
	const uint64_t *r = record(i);
	uint64_t head = AT_LOAD(&r[0]);
	unsigned int n = (unsigned int)head, depth = at_chain_depth;
	uintptr_t f[AT_CHAIN_MAX];
	teach.read++;
	if (head >> 32 != AT_TEACH_READY || !n || n > depth || n + 1 > teach.words) {
		teach.refused++;
		return;
	}
	for (unsigned int k = 0; k < n; k++) { /* copied, then checked: read once */
		f[k] = (uintptr_t)AT_LOAD_RELAXED(&r[1 + k]);
		if (!at_unwind_permanent(f[k])) {
			teach.refused++;
			return;
		}
	}
	/* the rules the walk looks up: every frame's but the last of a chain
	 * of the whole depth (the walk stops there without one) */
	for (unsigned int k = 0; k < (n == depth ? n - 1 : n); k++)
		at_unwind_learn(f[k]);
	teach.made += at_chain_adopt(f, n);
}

void at_teach_prepare(void)
{
	if (AT_LOAD_RELAXED(&at_state) != AT_STATE_READY ||
	    AT_LOAD_RELAXED(&at_profiling_on) != AT_PROFILING_CHAINS)
		return;
	if (!teach.area) {
		void *p = mmap(NULL, AT_TEACH_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			       -1, 0);
		if (p == MAP_FAILED)
			return; /* tried again at the next fork */
		teach.words = 1 + at_chain_depth;
		teach.capacity = (AT_TEACH_BYTES - AT_TEACH_HEAD) / (8 * teach.words);
		teach.area = p;
		teach.rules = at_unwind_generation();
		return; /* nothing written in it yet */
	}
	if (at_unwind_generation() != teach.rules) { /* the rules taught may be gone: read again */
		teach.rules = at_unwind_generation();
		teach.cursor = 0;
	}
	uint64_t claimed = AT_LOAD_RELAXED(&teach.area[0]);
	uint32_t end = claimed < teach.capacity ? (uint32_t)claimed : teach.capacity;
	for (; teach.cursor < end; teach.cursor++)
		adopt(teach.cursor);
}

size_t at_teach_memory(void)
{
	return teach.area ? AT_TEACH_BYTES : 0;
}

void at_teach_stats(struct at_teach_stats *s)
{
	s->claimed = teach.area ? AT_LOAD_RELAXED(&teach.area[0]) : 0;
	s->capacity = teach.area ? teach.capacity : 0;
	s->made = teach.made;
	s->read = teach.read;
	s->refused = teach.refused;
}
