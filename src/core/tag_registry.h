/*
 * Tag registry: every tag gets an index, and index <-> tag is O(1) both ways.
 *
 * Index space (the kernel's reserved ids):
 *   0  AT_IDX_NULL   no tag
 *   1  AT_IDX_EMPTY  explicitly cleared
 *   2  AT_IDX_FIRST  the main executable's ("core") tags, in section order,
 *                    then shared-object tags as they are registered.
 * tag -> index: tag->idx (filled at registration).  index -> tag:
 *at_tag_slot(idx), a table reserved for AT_IDX_MAX entries (in the heap's
 * reservation, page.h at_heap_meta, or a mapping of its own) and committed
 * as it grows; entries of released indexes are NULL.  An index is valid in
 * [AT_IDX_FIRST, at_nr_idx).  The table is used from its end down: entry
 * idx is at at_tag_top - 1 - idx, so that its first entries lie at the top
 * of its reservation, in the 2 MiB region (one page-table page) where the
 * small-object shadow's first windows begin (page_alloc.c, Reservation).
 *
 * Registration is per ELF image: the main executable's tags are found at
 * start-up (core_tags.c, from /proc/self/exe's section headers, so that they
 * come first whatever order constructors run in); any other image's tags are
 * registered by the constructor that alloctag.h emits into it, copied into
 * the shared-object tag area (module_tags.c, tag_area.h) and released by its
 * destructor.  Idempotent: an image is registered while the first tag of its
 * section has canon != NULL (set by registration, cleared by unregistration;
 * a fresh mapping of the object starts with NULL), so the one copy of the
 * constructor/destructor per translation unit acts once.
 *
 * Run-time tags (sites/chains.c: one per call chain, made while the program
 * runs) get their indexes from chunks of tag-area slots
 * (sites/runtime_index.h) and are never released.
 */
#ifndef AT_TAG_REGISTRY_H
#define AT_TAG_REGISTRY_H

#include <pthread.h>
#include <stdint.h>

#include "core/compiler.h"
#include "core/counters.h"

#define AT_IDX_NULL 0u
#define AT_IDX_EMPTY 1u
#define AT_IDX_FIRST 2u

extern AT_HIDDEN struct alloc_tag **at_tag_top; /* the table's end: entry 0 is its last */
extern AT_HIDDEN uint32_t at_nr_idx;
extern AT_HIDDEN struct alloc_tag *at_core_start, *at_core_stop;
extern AT_HIDDEN pthread_mutex_t at_registry_lock;

AT_HIDDEN int at_registry_init(void);
/* The table's bytes (AT_IDX_MAX entries), carved from the
 * heap's reservation when it made room (page.h at_heap_meta). */
AT_HIDDEN size_t at_registry_bytes(void);
/* Give [start, stop) the indexes [first, first + n); registry lock held. */
AT_HIDDEN void at_registry_assign(struct alloc_tag *start, struct alloc_tag *stop, uint32_t first,
				  struct alloc_tag *canon_start);
/* Find the main executable's alloc_tags section (core_tags.c). */
AT_HIDDEN int at_find_core_tags(struct alloc_tag **start, struct alloc_tag **stop);
/* Shared-object tags (module_tags.c). Registry lock held. */
AT_HIDDEN void at_module_register(struct alloc_tag *start, struct alloc_tag *stop,
				 const char *name);
AT_HIDDEN void at_module_unregister(struct alloc_tag *start, struct alloc_tag *stop);
/* Reclaim unloaded objects whose tags are all zero. */
AT_HIDDEN void at_module_reclaim(void);
/* The table's entry for idx: index -> tag. */
static inline struct alloc_tag **at_tag_slot(uint32_t idx)
{
	return at_tag_top - 1 - idx;
}
static inline void at_registry_list(struct alloc_tag *t)
{
	AT_STORE(at_tag_slot(t->idx), t);
}
/* Unloaded objects whose tags still hold live allocations. */
AT_HIDDEN unsigned long at_module_unloaded_count(void);

static inline uint32_t at_core_count(void)
{
	return (uint32_t)(at_core_stop - at_core_start);
}

#endif
