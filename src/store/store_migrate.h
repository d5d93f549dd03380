/*
 * Run-time switch of the tag reference store from compressed indexes to
 * the side table, when a shared object's tags would not fit the index bits
 * (the kernel turns profiling off here; alloctag goes on).
 *
 * at_store_reserve(idx_end) is called, with at_registry_lock held, before
 * indexes below idx_end are handed out.  In compressed mode, if idx_end
 * exceeds 1 << at_tag_bits, or the idx_limit of any registered migrator, it
 * runs at_store_migrate(): the page store first (every arena lock held while
 * each allocated block's reference is copied, tag_ref.h), then every
 * registered subsystem in registration order, then one "alloctag: " line.
 *
 * The page allocator lends its locks and its walk of allocated blocks
 * through struct at_store_pages, registered once when its heap is set up
 * (at_store_set_pages): the store calls down through it, never up into
 * page_alloc.c.
 *
 * Hook for other allocators with compressed references of their own (the
 * small-object allocator's per-object references): fill a static struct
 * at_store_migrator and pass it to at_store_add_migrator() at its start-up.
 *   idx_limit  the number of indexes its compressed references can hold
 *              (0 = as many as the page store)
 *   migrate    called with at_registry_lock held, after the page store has
 *              switched (at_store_mode == AT_STORE_SIDE, the side table
 *              mapped): move every live object's reference to its
 *              uncompressed form without losing one, while other threads
 *              allocate and free (e.g. under all of its own locks, like the
 *              page store).  No new index is assigned while it runs.
 *              0 or -errno; an error leaves the new tags unregistered.
 */
#ifndef AT_STORE_MIGRATE_H
#define AT_STORE_MIGRATE_H

#include <stdint.h>

#include "core/compiler.h"

struct at_store_migrator {
	const char *name;
	uint32_t idx_limit;
	int (*migrate)(void);
	struct at_store_migrator *next; /* the list; set by at_store_add_migrator */
};

struct at_store_pages {
	void (*lock_all)(void);   /* every arena lock (and the grow lock) */
	void (*unlock_all)(void);
	void (*lock_pfn)(uint32_t pfn);   /* the arena lock of one block */
	void (*unlock_pfn)(uint32_t pfn);
	/* every allocated block's head, every lock held */
	void (*each_head)(void (*fn)(uint32_t pfn, uint64_t flags, void *ctx), void *ctx);
};

AT_HIDDEN void at_store_set_pages(const struct at_store_pages *ops);
AT_HIDDEN void at_store_add_migrator(struct at_store_migrator *m);
/* 0 when indexes below idx_end can be stored, else -errno.  Registry lock held. */
AT_HIDDEN int at_store_reserve(uint32_t idx_end);
/* Switch to the side table now.  Registry lock held. */
AT_HIDDEN int at_store_migrate(uint32_t idx_end);

#endif
