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
	uint32_t words;    /* a record's (chain_teach.h: W) */
	uint32_t cursor;   /* records read */
	uint32_t rules;    /* at_unwind_generation when the records were read */
	uint32_t depth;    /* at_chain_depth when the area was made */
	uint32_t made, read, refused, proved;
} teach;

static inline uint64_t *record(uint32_t i)
{
	return teach.area + AT_TEACH_HEAD / sizeof(uint64_t) + (size_t)i * teach.words;
}

/* Whether walk trace tr from `from` is one a record keeps (chain_teach.h). */
static int trace_kept(uintptr_t from, const struct at_unwind_trace *tr)
{
	if (tr->unusable || tr->bounded || tr->n > AT_TEACH_TRACE || tr->top - from > UINT16_MAX)
		return 0;
	for (unsigned int i = 0; i < tr->n; i++)
		if (tr->addr[i] < from || tr->addr[i] - from > UINT16_MAX)
			return 0;
	return 1;
}

void at_teach_publish(const uintptr_t *f, unsigned int n, uintptr_t from,
		      const struct at_unwind_trace *tr)
{
	uint64_t *a = teach.area;
	if (!a || !n || n > teach.depth)
		return;
	for (unsigned int k = 0; k < n; k++)
		if (!at_unwind_permanent(f[k]))
			return; /* an object the parent may not map */
	if (AT_LOAD_RELAXED(&a[0]) >= teach.capacity)
		return; /* full */
	uint64_t i = __atomic_fetch_add(&a[0], 1, __ATOMIC_RELAXED);
	if (i >= teach.capacity)
		return;
	uint64_t *r = record((uint32_t)i), head = (uint64_t)AT_TEACH_READY << 32 | n;
	for (unsigned int k = 0; k < n; k++)
		AT_STORE_RELAXED(&r[1 + k], (uint64_t)f[k]);
	if (trace_kept(from, tr)) {
		uint64_t *t = r + 1 + teach.depth;
		AT_STORE_RELAXED(&t[0], (uint64_t)from);
		AT_STORE_RELAXED(&t[1], (uint64_t)(tr->top - from) | (uint64_t)tr->rbp << 32);
		for (unsigned int k = 0; k < tr->n; k++) {
			AT_STORE_RELAXED(&t[2 + k], (uint64_t)tr->val[k]);
			/* four 16-bit offsets a word */
			t[2 + AT_TEACH_TRACE + k / 4] |= (uint64_t)(tr->addr[k] - from) << 16 * (k % 4);
		}
		head |= AT_TEACH_TRACED | (uint64_t)tr->n << 16;
	}
	AT_STORE(&r[0], head);
}

/* Record r's trace (its head's count of words) into *tr, the walk's from
 * `from`: its words' addresses from their offsets. */
static void trace_read(const uint64_t *r, uint64_t head, uintptr_t *from, struct at_unwind_trace *tr)
{
	const uint64_t *t = r + 1 + teach.depth;
	*from = (uintptr_t)AT_LOAD_RELAXED(&t[0]);
	tr->n = (unsigned int)(head >> 16 & 0xffu);
	uint64_t w = AT_LOAD_RELAXED(&t[1]);
	tr->unusable = tr->bounded = tr->rbp_from = 0;
	tr->rbp = (uint32_t)(w >> 32);
	tr->top = *from + (uintptr_t)(w & UINT16_MAX);
	for (unsigned int k = 0; k < tr->n && k < AT_TEACH_TRACE; k++) {
		uint64_t offs = AT_LOAD_RELAXED(&t[2 + AT_TEACH_TRACE + k / 4]);
		tr->addr[k] = *from + (uintptr_t)(offs >> 16 * (k % 4) & UINT16_MAX);
		tr->val[k] = (uintptr_t)AT_LOAD_RELAXED(&t[2 + k]);
	}
}

/* Record i adopted if it passes the checks (chain_teach.h): its rules and
 * its chain made. */
static AT_NOINLINE void adopt(uint32_t i)
{
	const uint64_t *r = record(i);
	uint64_t head = AT_LOAD(&r[0]);
	unsigned int n = (unsigned int)(head & 0xffu), depth = at_chain_depth;
	uintptr_t f[AT_CHAIN_MAX];
	teach.read++;
	if (head >> 32 != AT_TEACH_READY || !n || n > depth || depth != teach.depth ||
	    (head >> 16 & 0xffu) > AT_TEACH_TRACE) {
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
	int made;
	struct alloc_tag *tag = at_chain_adopt(f, n, &made);
	teach.made += made;
	if (!tag || !(head & AT_TEACH_TRACED))
		return;
	/* the walk's trace: an entry of the taught memo if it is what a walk of
	 * the chain reads, within this thread's stack (the child's thread is
	 * this one; an entry is used only where its words lie below the
	 * stack top of the thread looking it up, chains.h) */
	uintptr_t from;
	struct at_unwind_trace tr;
	trace_read(r, head, &from, &tr);
	uintptr_t top = at_stack_top((uintptr_t)__builtin_frame_address(0));
	if (from >= top || tr.top > top || !at_unwind_replay(f, n, depth, from, &tr))
		return;
	teach.proved++;
	at_chain_teach_memo(from, tag, &tr, f[0]);
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
		teach.depth = at_chain_depth;
		teach.words = 1 + teach.depth + 2 + AT_TEACH_TRACE + (AT_TEACH_TRACE + 3) / 4;
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
	s->proved = teach.proved;
	s->memo_sets = at_chain_teach_memo_sets();
}
