/*
 * Indexes for run-time tags (call-chain tags, chains.h): taken from chunks
 * of AT_RT_CHUNK slots of the shared-object tag area (tag_area.h), so that
 * index <-> slot stays exact for the shared-object tags around them; the
 * slots themselves stay unused (the tags live in the chain table).  A chunk
 * is reserved in the store first (store_migrate.h), so that a switch to the
 * side table happens before an index that does not fit is handed out; it is
 * taken under the registry lock, indexes inside it lock-free.  Run-time
 * tags are never released.
 *
 * A forked child's first indexes: the child's new chains die with it and
 * its parent keeps its own chunk, so the child may skip indexes freely.
 * When fewer than AT_RT_CHILD_ROOM indexes are left before the next
 * counters group (counters.h: AT_COUNTERS_GROUP indexes, a page a CPU),
 * the child's next index is that group's first (or, at the chunk's end, a
 * new chunk's first).  A shell's child makes about 40 chains; started in
 * the parent's last few indexes they crossed into the next group and,
 * there at a chunk's end, into the next page of the registry's table
 * (512 entries a page): the child copied the page of the parent's last
 * entries for its first few (and wrote the next one).  The indexes
 * skipped are never listed (their entries stay NULL, as a released
 * index's) and never charged.
 */
#ifndef AT_RUNTIME_INDEX_H
#define AT_RUNTIME_INDEX_H

#include "core/tag_registry.h"

/*
 * Run-time tag t (not in any section): a fresh index, counters zeroed,
 * t->idx and t->canon = t set; not yet listed in the registry's table (the caller
 * lists it with at_registry_list() once it has published t).  0; -EDEADLK if
 * this thread holds the registry lock (try again later); -ENOSPC if the
 * index space or the tag area is exhausted (for good).  Registry lock not
 * held; called from inside malloc.
 */
AT_HIDDEN int at_registry_add_runtime(struct alloc_tag *t);

#define AT_RT_CHILD_ROOM 64u
/* In a forked child, from its fork handler (one thread): the next run-time
 * index moved to a group's start as above. */
AT_HIDDEN void at_registry_runtime_forked(void);

#endif
