/*
 * at_sites_each over the one-address dynamic tags (dyn_tags.h): each tag is
 * a chain of one frame, its caller's return address, which is also its site
 * frame; cumulative counts are not kept (0).
 *
 * The walk is allocinfo's (allocinfo.c): registry lock held, every index
 * from AT_IDX_FIRST read with the bins' part gathered once; an index whose
 * tag is neither a core tag (in the main executable's section) nor a
 * shared-object tag (modname set) is a dynamic tag, the first member of its
 * struct at_dyn_tag record.  fn runs under the registry lock.
 */
#include "sites/sites_each.h"

#include <stddef.h>

#include "core/control.h"
#include "core/tag_registry.h"
#include "objects/bin_charge.h"
#include "sites/dyn_tags.h"
#include "startup/init.h"

void at_sites_each(void (*fn)(const struct at_chain_view *v, void *ctx), void *ctx)
{
	alloctag_init();
	if (AT_LOAD(&at_state) != AT_STATE_READY)
		return;
	pthread_mutex_lock(&at_registry_lock);
	uint32_t end = AT_LOAD(&at_nr_idx);
	at_bin_charges_gather(end);
	for (uint32_t i = AT_IDX_FIRST; i < end; i++) {
		struct alloc_tag *t = AT_LOAD(&at_tag_by_idx[i]);
		struct alloctag_counters c = at_counters_read(i), b = at_bin_charges_take(i);
		if (!t || t->modname || (t >= at_core_start && t < at_core_stop))
			continue;
		const struct at_dyn_tag *d = (const struct at_dyn_tag *)((char *)t -
									 offsetof(struct at_dyn_tag, tag));
		uintptr_t frame = (uintptr_t)d->addr;
		struct at_chain_view v = {
			.frames = &frame,
			.nr_frames = 1,
			.site = 1,
			.live_bytes = (uint64_t)(c.bytes + b.bytes),
			.live_calls = (uint64_t)(c.calls + b.calls),
			.idx = i,
		};
		fn(&v, ctx);
	}
	pthread_mutex_unlock(&at_registry_lock);
}
