/*
 * at_sites_each: every chain that ever allocated, newest index first (the
 * registry's table, tag_registry.h, read from its last index down: its
 * tags of chains, AT_TAG_CHAIN), with its live counters (per-CPU sum plus
 * the thread caches' part, bin_charge.h) and its cumulative counters
 * (counters.h, plus what the threads' memos hold, chains.h, and the
 * bins' cumulative counts, bin_charge.h).  A chain's index is listed once
 * its record is complete and never released, records are never freed,
 * so the walk takes no lock; counters read while other threads allocate
 * are as exact as summing CPUs is.  A chain without an index (none was
 * left) counts nothing and is not visited.
 */
#include "sites/sites_each.h"

#include <sys/mman.h>

#include "core/control.h"
#include "core/counters.h"
#include "core/tag_registry.h"
#include "objects/bin_charge.h"
#include "sites/chains.h"

void at_sites_each(void (*fn)(const struct at_chain_view *v, void *ctx), void *ctx)
{
	if (AT_LOAD(&at_state) != AT_STATE_READY)
		return;
	/* the memos' counts, by index (pages of it touched only where counted) */
	size_t bytes = (size_t)AT_IDX_MAX * sizeof(struct alloctag_counters);
	struct alloctag_counters *memo = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
					      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (memo == MAP_FAILED)
		memo = NULL; /* then looked up chain by chain */
	else {
		at_memo_cum(memo, 0, NULL);
		at_bin_cum(memo, 0, NULL);
	}
	for (uint32_t i = AT_LOAD(&at_nr_idx); i-- > AT_IDX_FIRST;) {
		const struct alloc_tag *t = AT_LOAD(at_tag_slot(i));
		const struct at_chain *c = at_chain_of(t);
		if (!c)
			continue; /* released, or not a chain's */
		struct alloctag_counters live = at_counters_read(t->idx), b = at_bin_charges_of(t->idx);
		struct alloctag_counters cum = at_cum_read(t->idx), mc = {0, 0};
		if (memo)
			mc = memo[t->idx];
		else {
			at_memo_cum(NULL, t->idx, &mc);
			at_bin_cum(NULL, t->idx, &mc);
		}
		cum.bytes += mc.bytes;
		cum.calls += mc.calls;
		if (!cum.calls && !live.calls && !b.calls)
			continue; /* made, never charged (a failed allocation) */
		uintptr_t f[AT_CHAIN_MAX];
		struct at_chain_view v = {
			.frames = f,
			.nr_frames = at_chain_frames(c, f),
			.site = at_chain_site(c),
			.live_bytes = (uint64_t)(live.bytes + b.bytes),
			.live_calls = (uint64_t)(live.calls + b.calls),
			.alloc_bytes = (uint64_t)cum.bytes,
			.alloc_calls = (uint64_t)cum.calls,
			.idx = t->idx,
		};
		fn(&v, ctx);
	}
	if (memo)
		munmap(memo, bytes);
}
