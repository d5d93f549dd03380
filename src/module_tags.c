/*
 * Shared-object tags.  Interim version: indexes are handed out after the core
 * tags and the tags stay in the object (no copy); the contiguous tag area,
 * unload with live allocations and overflow migration replace this.
 */
#include "tag_ref.h"
#include "message.h"

void at_module_register(struct alloc_tag *start, struct alloc_tag *stop)
{
	uint32_t n = (uint32_t)(stop - start);
	if ((uint64_t)at_nr_idx + n > AT_IDX_MAX ||
	    (at_store_mode == AT_STORE_COMPRESSED && (uint64_t)at_nr_idx + n > (1ull << at_tag_bits))) {
		static int once;
		at_msg_once(once, "no room for %u more allocation tags; they will not be counted", n);
		return;
	}
	at_registry_assign(start, stop, at_nr_idx, start);
}

void at_module_unregister(struct alloc_tag *start, struct alloc_tag *stop)
{
	for (struct alloc_tag *t = start; t < stop; t++) {
		AT_STORE(&at_tag_by_idx[t->idx], NULL);
		AT_STORE(&t->canon, NULL);
	}
}
