/*
 * Debug mode (ALLOCTAG_DEBUG=1): checks called by the allocators, only when
 * alloctag_debug_key is set and the store is ready (debug.c).
 */
#ifndef AT_DEBUG_H
#define AT_DEBUG_H

#include "store/tag_ref.h"

/*
 * A block being handed out with reference ref, its arena lock held: warn if
 * the page still holds a tag; returns the reference to record (AT_REF_EMPTY
 * instead of none, so that its free is not taken for a lost reference).
 */
AT_HIDDEN at_ref_t at_debug_page_alloc(uint32_t pfn, at_ref_t ref, uint64_t extra_flags);
/* A block freed: flags = its head's flags, ref = the reference it held. */
AT_HIDDEN void at_debug_page_free(const void *addr, uint64_t flags, at_ref_t ref);
/* A small object being handed out whose entry (a free slot's) still says
 * allocated with tag index old (malloc.c). */
AT_HIDDEN void at_debug_obj_alloc(uint32_t old);
/* Small object addr freed with no reference (its entry held none). */
AT_HIDDEN void at_debug_obj_free(const void *addr);

#endif
