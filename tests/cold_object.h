/*
 * Tests' check of a cold class's object (src/objects/slab.h, "Cold
 * classes"): an object of a class from AT_COLD_CLS whose unit is not a slab
 * must be a block of the page allocator, page-aligned, its head page's
 * class field the object's class.
 */
#ifndef TEST_COLD_OBJECT_H
#define TEST_COLD_OBJECT_H

#include <stdint.h>

#include "check.h"
#include "objects/slab.h"
#include "store/tag_ref.h"

/* Whether p is a cold object (checked as above, of class cls if cls is not
 * 0); if so its class and its tag index (its block's reference) in *cls_out
 * and *idx when not NULL. */
static inline int cold_object(const void *p, unsigned int cls, unsigned int *cls_out,
			      uint32_t *idx)
{
	uintptr_t off = (uintptr_t)((const char *)p - at_heap_base);
	if (at_pages[(off >> AT_SLAB_SHIFT) << AT_SLAB_ORDER].flags & AT_PG_SLAB)
		return 0;
	uint64_t f = at_pages[off >> AT_PAGE_SHIFT].flags;
	CHECK_EQ(off & (AT_PAGE_SIZE - 1), 0);
	CHECK(f & AT_PG_HEAD);
	CHECK(at_block_class(f) >= AT_COLD_CLS);
	if (cls)
		CHECK_EQ(at_block_class(f), cls);
	if (cls_out)
		*cls_out = at_block_class(f);
	if (idx)
		*idx = at_ref_to_idx(at_page_ref_get((uint32_t)(off >> AT_PAGE_SHIFT)));
	return 1;
}

#endif
