/*
 * Indexes for run-time tags (call-chain tags, chains.h): taken from chunks
 * of AT_RT_CHUNK slots of the shared-object tag area (tag_area.h), so that
 * index <-> slot stays exact for the shared-object tags around them; the
 * slots themselves stay unused (the tags live in the chain table).  A chunk
 * is reserved in the store first (store_migrate.h), so that a switch to the
 * side table happens before an index that does not fit is handed out; it is
 * taken under the registry lock, indexes inside it lock-free.  Run-time
 * tags are never released.
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

#endif
