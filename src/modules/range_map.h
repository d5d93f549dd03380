/*
 * range_map.h - map of used ranges inside one reserved virtual area.
 *
 * The map covers offsets [0, capacity).  It holds non-overlapping used
 * ranges [start, start+len), each with an owner pointer; everything else
 * is free.  alloctag uses it to place shared objects' allocation tags in
 * one contiguous area (the kernel uses a maple tree for the same job).
 *
 * Not thread-safe: the caller serializes all calls with its own lock.
 * Never calls malloc & co.: node memory comes from mmap, in chunks that
 * at_rmap_destroy() unmaps.
 *
 * Return values are 0 or a negative errno value.
 */
#ifndef ALLOCTAG_RANGE_MAP_H
#define ALLOCTAG_RANGE_MAP_H

#include <errno.h>

#ifndef AT_HIDDEN
#define AT_HIDDEN __attribute__((visibility("hidden")))
#endif

struct at_rmap_node;
struct at_rmap_chunk;

struct at_rmap {
	struct at_rmap_node *root;
	struct at_rmap_node *free;	/* free list of nodes */
	struct at_rmap_node *fresh;	/* never used nodes of the newest */
	struct at_rmap_node *fresh_end;	/* chunk: [fresh, fresh_end) */
	struct at_rmap_chunk *chunks;	/* mmapped node chunks */
	unsigned long capacity;
	unsigned long count;
};

struct at_rmap_entry {
	unsigned long start, len;
	void *owner;
};

/* Empty map over [0, capacity).  Allocates nothing yet; returns 0. */
AT_HIDDEN int at_rmap_init(struct at_rmap *m, unsigned long capacity);
/* The same, its first nodes taken from [mem, mem + bytes) (8-byte
 * aligned, AT_RMAP_NODE_BYTES a node; the caller's, never unmapped: maps
 * that hold a few ranges keep no chunk); chunks are mapped when they run
 * out.  Returns 0. */
#define AT_RMAP_NODE_BYTES 72
AT_HIDDEN int at_rmap_init_nodes(struct at_rmap *m, unsigned long capacity, void *mem,
				 size_t bytes);
/* Drop all ranges and unmap node memory (the caller's first nodes are
 * not used again).  The map may be re-inited. */
AT_HIDDEN void at_rmap_destroy(struct at_rmap *m);

/*
 * Lowest multiple of align (a power of two) at which size free bytes fit.
 * -ENOMEM if none, -EINVAL if size == 0 or align is not a power of two.
 */
AT_HIDDEN int at_rmap_find_free(const struct at_rmap *m, unsigned long size,
				unsigned long align, unsigned long *start);
/* -EINVAL if len == 0 or past capacity, -EEXIST if it overlaps a range,
 * -ENOMEM if no node memory. */
AT_HIDDEN int at_rmap_insert(struct at_rmap *m, unsigned long start,
			     unsigned long len, void *owner);
/* Erase the range starting exactly at start, else -ENOENT. */
AT_HIDDEN int at_rmap_erase(struct at_rmap *m, unsigned long start);
/* Range containing off, else -ENOENT. */
AT_HIDDEN int at_rmap_lookup(const struct at_rmap *m, unsigned long off,
			     struct at_rmap_entry *e);

/*
 * Iteration.  first/last fill *e; next/prev replace *e by the range after
 * or before e->start.  All return -ENOENT when there is none.  They only
 * read e->start, so the map may be changed between calls.
 *	for (r = at_rmap_last(m, &e); !r; r = at_rmap_prev(m, &e)) ...
 */
AT_HIDDEN int at_rmap_first(const struct at_rmap *m, struct at_rmap_entry *e);
AT_HIDDEN int at_rmap_last(const struct at_rmap *m, struct at_rmap_entry *e);
AT_HIDDEN int at_rmap_next(const struct at_rmap *m, struct at_rmap_entry *e);
AT_HIDDEN int at_rmap_prev(const struct at_rmap *m, struct at_rmap_entry *e);

AT_HIDDEN unsigned long at_rmap_count(const struct at_rmap *m);
/* End of the highest used range (0 if empty), in O(1). */
AT_HIDDEN unsigned long at_rmap_used_end(const struct at_rmap *m);

#endif
