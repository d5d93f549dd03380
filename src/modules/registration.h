/* Registration of tags after start-up (registration.c). */
#ifndef AT_REGISTRATION_H
#define AT_REGISTRATION_H

#include "core/tag_registry.h"

/*
 * Run-time tag t (not in any section): a fresh index, counters zeroed,
 * t->idx and t->canon = t set; not yet listed in at_tag_by_idx[] (the caller
 * lists it with at_registry_list() once it has published t).  0; -EDEADLK if
 * this thread holds the registry lock (try again later); -ENOSPC if the
 * index space or the tag area is exhausted (for good).  Registry lock not
 * held; called from inside malloc.
 */
AT_HIDDEN int at_registry_add_runtime(struct alloc_tag *t);

#endif
