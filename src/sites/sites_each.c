/*
 * at_sites_each: every chain that ever allocated, newest first (the list
 * of all chains, chains.h), with its live counters (per-CPU sum plus the
 * thread caches' part, bin_charge.h) and its cumulative counters
 * (counters.h, plus what the threads' memos hold, chains.h, and the
 * bins' cumulative counts, bin_charge.h).  The list is only ever prepended to, records are never
 * freed and are complete before they are published, so the walk takes no
 * lock; counters read while other threads allocate are as exact as
 * summing CPUs is.  A chain without an index (none was left) counts
 * nothing and is not visited.
 */
#include "sites/sites_each.h"

#include <sys/mman.h>

#include "core/control.h"
#include "core/counters.h"
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
	for (struct at_chain *c = AT_LOAD(&at_chain_all); c; c = c->next_all) {
		const struct alloc_tag *t = AT_LOAD(&c->tag.canon);
		if (!t)
			continue;
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
