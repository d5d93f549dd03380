/*
 * Pages handed out before the tag store is ready (before alloctag_init()).
 * They cannot be charged; the tag that was current is marked inaccurate.
 */
#include "charge.h"

void at_early_page(uint32_t pfn, uint64_t page_flags)
{
	(void)pfn;
	if (page_flags & AT_PG_NO_CODETAG)
		return;
	struct alloc_tag *tag = alloctag_current_tag;
	if (tag)
		__atomic_fetch_or(&tag->flags, ALLOCTAG_FLAG_INACCURATE, __ATOMIC_RELAXED);
}
