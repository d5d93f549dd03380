/*
 * range_map.c - used/free ranges of one area, as an augmented AVL tree.
 *
 * Data structure
 *   One AVL tree node per used range, keyed by start.  Besides the range
 *   and its owner, each node caches facts about its own subtree:
 *	lo   start of the subtree's leftmost range
 *	hi   end of the subtree's rightmost range
 *	gap  largest free gap between two consecutive ranges of the subtree
 *   These depend only on the subtree itself, so a rotation just recomputes
 *   the two nodes it moves (pull()) and nothing outside the path changes.
 *   The free space left of a subtree's first range is found during the
 *   descent, from the end of the range before it.
 *
 * Invariants
 *   - ranges are non-empty, disjoint, inside [0, capacity), and in-order
 *     traversal gives increasing starts;
 *   - for every node |height(l) - height(r)| <= 1 (height <= 1.44 log2 n);
 *   - h, lo, hi, gap of every node are as above for its current subtree;
 *   - count is the number of nodes; free lists erased nodes and
 *     [fresh, fresh_end) the never used tail of the newest chunk; all
 *     nodes live in the mmapped chunks listed from chunks, or in the
 *     caller's memory given at init (at_rmap_init_nodes), used first.
 *
 * Complexity (n ranges)
 *   insert, erase, lookup, first, last, next, prev: O(log n).
 *   used_end, count: O(1).  A full walk with next/prev: O(n log n).
 *   find_free: O(log n) for align 1, since a subtree is entered only if it
 *   holds a gap >= size.  With align > 1 a gap can be big enough yet miss
 *   an aligned slot; each such gap below the answer (all shorter than
 *   size + align - 1) costs another O(log n).
 *   Recursion depth is the tree height.  Memory: one 72-byte node per
 *   range (on LP64), from 64 KiB mmapped chunks, never malloc; erased
 *   nodes are reused, and chunks go back to the system only at destroy.
 *
 * Not thread-safe; the caller holds a lock.
 */
#include <limits.h>
#include <sys/mman.h>
#include "modules/range_map.h"

#define CHUNK_SIZE (64UL << 10)

struct at_rmap_node {
	struct at_rmap_node *l, *r;	/* l links the free list */
	unsigned long start, end;	/* the range [start, end) */
	unsigned long lo, hi, gap;	/* subtree summary, see top */
	void *owner;
	int h;
};

struct at_rmap_chunk {
	struct at_rmap_chunk *next;
};

typedef struct at_rmap_node node;
_Static_assert(sizeof(node) == AT_RMAP_NODE_BYTES, "a node's bytes, as range_map.h says");

static unsigned long max(unsigned long a, unsigned long b)
{
	return a > b ? a : b;
}

static int height(const node *n)
{
	return n ? n->h : 0;
}

/* Recompute n's summary from its children. */
static void pull(node *n)
{
	node *l = n->l, *r = n->r;
	int hl = height(l), hr = height(r);

	n->h = 1 + (hl > hr ? hl : hr);
	n->lo = l ? l->lo : n->start;
	n->hi = r ? r->hi : n->end;
	n->gap = 0;
	if (l)
		n->gap = max(l->gap, n->start - l->hi);
	if (r)
		n->gap = max(n->gap, max(r->gap, r->lo - n->end));
}

static node *rotl(node *n)
{
	node *r = n->r;

	n->r = r->l;
	r->l = n;
	pull(n);
	pull(r);
	return r;
}

static node *rotr(node *n)
{
	node *l = n->l;

	n->l = l->r;
	l->r = n;
	pull(n);
	pull(l);
	return l;
}

/* Restore the AVL property at n (children already balanced) and pull. */
static node *balance(node *n)
{
	int bf = height(n->l) - height(n->r);

	if (bf > 1) {
		if (height(n->l->l) < height(n->l->r))
			n->l = rotl(n->l);
		return rotr(n);
	}
	if (bf < -1) {
		if (height(n->r->r) < height(n->r->l))
			n->r = rotr(n->r);
		return rotl(n);
	}
	pull(n);
	return n;
}

static node *insert(node *t, node *x)
{
	if (!t)
		return x;
	if (x->start < t->start)
		t->l = insert(t->l, x);
	else
		t->r = insert(t->r, x);
	return balance(t);
}

/* Unlink the leftmost node of t into *min. */
static node *unlink_min(node *t, node **min)
{
	if (!t->l) {
		*min = t;
		return t->r;
	}
	t->l = unlink_min(t->l, min);
	return balance(t);
}

static node *erase(node *t, unsigned long start, node **found)
{
	node *s;

	if (!t)
		return 0;
	if (start < t->start) {
		t->l = erase(t->l, start, found);
	} else if (start > t->start) {
		t->r = erase(t->r, start, found);
	} else {
		*found = t;
		if (!t->l || !t->r)
			return t->l ? t->l : t->r;
		t->r = unlink_min(t->r, &s);
		s->l = t->l;
		s->r = t->r;
		t = s;
	}
	return balance(t);
}

/* Lowest multiple of mask+1 in [a, b) with size bytes before b. */
static int fit(unsigned long a, unsigned long b, unsigned long size,
	       unsigned long mask, unsigned long *out)
{
	unsigned long s;

	if (a > ULONG_MAX - mask)
		return 0;
	s = (a + mask) & ~mask;
	if (s > b || b - s < size)
		return 0;
	*out = s;
	return 1;
}

/* Lowest fit in t's span, whose free space starts at base (<= t->lo). */
static int search(const node *t, unsigned long base, unsigned long size,
		  unsigned long mask, unsigned long *out)
{
	if (!t || max(t->lo - base, t->gap) < size)
		return 0;
	if (t->l) {
		if (search(t->l, base, size, mask, out))
			return 1;
		base = t->l->hi;
	}
	if (fit(base, t->start, size, mask, out))
		return 1;
	return search(t->r, t->end, size, mask, out);
}

static void fill(struct at_rmap_entry *e, const node *n)
{
	e->start = n->start;
	e->len = n->end - n->start;
	e->owner = n->owner;
}

/* A node from the free list, else from the newest chunk, else a new one. */
static node *node_get(struct at_rmap *m)
{
	struct at_rmap_chunk *c;
	node *n = m->free;

	if (n) {
		m->free = n->l;
		return n;
	}
	if (m->fresh == m->fresh_end) {
		c = mmap(0, CHUNK_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (c == MAP_FAILED)
			return 0;
		c->next = m->chunks;
		m->chunks = c;
		/* the first node slot holds the chunk header */
		m->fresh = (node *)c + 1;
		m->fresh_end = (node *)c + CHUNK_SIZE / sizeof(node);
	}
	return m->fresh++;
}

int at_rmap_init(struct at_rmap *m, unsigned long capacity)
{
	m->root = 0;
	m->free = 0;
	m->fresh = m->fresh_end = 0;
	m->chunks = 0;
	m->capacity = capacity;
	m->count = 0;
	return 0;
}

int at_rmap_init_nodes(struct at_rmap *m, unsigned long capacity, void *mem, size_t bytes)
{
	at_rmap_init(m, capacity);
	m->fresh = mem;
	m->fresh_end = m->fresh + bytes / sizeof(node);
	return 0;
}

void at_rmap_destroy(struct at_rmap *m)
{
	struct at_rmap_chunk *c, *next;

	for (c = m->chunks; c; c = next) {
		next = c->next;
		munmap(c, CHUNK_SIZE);
	}
	at_rmap_init(m, m->capacity);
}

int at_rmap_find_free(const struct at_rmap *m, unsigned long size,
		      unsigned long align, unsigned long *start)
{
	unsigned long mask = align - 1;

	if (!size || !align || (align & mask))
		return -EINVAL;
	if (search(m->root, 0, size, mask, start))
		return 0;
	if (fit(at_rmap_used_end(m), m->capacity, size, mask, start))
		return 0;
	return -ENOMEM;
}

int at_rmap_insert(struct at_rmap *m, unsigned long start, unsigned long len,
		   void *owner)
{
	unsigned long end = start + len;
	node *t, *x;

	if (!len || start >= m->capacity || len > m->capacity - start)
		return -EINVAL;
	/* a range overlapping [start, end) lies on this search path */
	for (t = m->root; t; t = end <= t->start ? t->l : t->r)
		if (end > t->start && start < t->end)
			return -EEXIST;
	x = node_get(m);
	if (!x)
		return -ENOMEM;
	x->l = x->r = 0;
	x->start = start;
	x->end = end;
	x->owner = owner;
	pull(x);
	m->root = insert(m->root, x);
	m->count++;
	return 0;
}

int at_rmap_erase(struct at_rmap *m, unsigned long start)
{
	node *found = 0;

	m->root = erase(m->root, start, &found);
	if (!found)
		return -ENOENT;
	found->l = m->free;
	m->free = found;
	m->count--;
	return 0;
}

int at_rmap_lookup(const struct at_rmap *m, unsigned long off,
		   struct at_rmap_entry *e)
{
	const node *t = m->root;

	while (t) {
		if (off < t->start) {
			t = t->l;
		} else if (off >= t->end) {
			t = t->r;
		} else {
			fill(e, t);
			return 0;
		}
	}
	return -ENOENT;
}

int at_rmap_first(const struct at_rmap *m, struct at_rmap_entry *e)
{
	const node *t = m->root;

	if (!t)
		return -ENOENT;
	while (t->l)
		t = t->l;
	fill(e, t);
	return 0;
}

int at_rmap_last(const struct at_rmap *m, struct at_rmap_entry *e)
{
	const node *t = m->root;

	if (!t)
		return -ENOENT;
	while (t->r)
		t = t->r;
	fill(e, t);
	return 0;
}

int at_rmap_next(const struct at_rmap *m, struct at_rmap_entry *e)
{
	const node *t = m->root, *best = 0;

	while (t) {
		if (t->start > e->start) {
			best = t;
			t = t->l;
		} else {
			t = t->r;
		}
	}
	if (!best)
		return -ENOENT;
	fill(e, best);
	return 0;
}

int at_rmap_prev(const struct at_rmap *m, struct at_rmap_entry *e)
{
	const node *t = m->root, *best = 0;

	while (t) {
		if (t->start < e->start) {
			best = t;
			t = t->r;
		} else {
			t = t->l;
		}
	}
	if (!best)
		return -ENOENT;
	fill(e, best);
	return 0;
}

unsigned long at_rmap_count(const struct at_rmap *m)
{
	return m->count;
}

unsigned long at_rmap_used_end(const struct at_rmap *m)
{
	return m->root ? m->root->hi : 0;
}
