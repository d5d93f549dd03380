/* Indexes for run-time tags (see runtime_index.h). */
#include "sites/runtime_index.h"

#include <errno.h>

#include "core/message.h"
#include "modules/tag_area.h"
#include "store/store_migrate.h"

#define AT_RT_CHUNK 256u
AT_CHAIN_HOT static uint64_t rt_chunk;   /* free run-time indexes [next, end): next << 32 | end */
static int rt_exhausted;

/* A new chunk of run-time indexes, registry lock held.  0 or -ENOSPC. */
static int rt_refill(void)
{
	static int once;
	struct at_area_span sp;
	if (rt_exhausted)
		return -ENOSPC;
	if (at_area_alloc(AT_RT_CHUNK, 0, &sp) == 0) {
		uint32_t first = at_area_slot_idx(sp.slot);
		if ((uint64_t)first + AT_RT_CHUNK <= AT_IDX_MAX &&
		    at_store_reserve(first + AT_RT_CHUNK) == 0) {
			if (first + AT_RT_CHUNK > at_nr_idx)
				AT_STORE(&at_nr_idx, first + AT_RT_CHUNK);
			AT_STORE(&rt_chunk, (uint64_t)first << 32 | (first + AT_RT_CHUNK));
			return 0;
		}
		at_area_release(sp);
	}
	rt_exhausted = 1;
	at_msg_once(once, "no index left for run-time allocation tags; allocations "
			  "from further call sites will not be counted");
	return -ENOSPC;
}

int at_registry_add_runtime(struct alloc_tag *t)
{
	for (;;) {
		uint64_t c = AT_LOAD(&rt_chunk);
		uint32_t next = (uint32_t)(c >> 32);
		if (next < (uint32_t)c) {
			if (!__atomic_compare_exchange_n(&rt_chunk, &c, c + (1ull << 32), 0,
							 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
				continue;
			at_counters_reset(next);
			t->idx = next;
			AT_STORE(&t->canon, t);
			return 0;
		}
		if (pthread_mutex_lock(&at_registry_lock))
			return -EDEADLK;
		int err = AT_LOAD(&rt_chunk) == c ? rt_refill() : 0;
		pthread_mutex_unlock(&at_registry_lock);
		if (err)
			return err;
	}
}

AT_FORK_TEXT void at_registry_runtime_forked(void)
{
	uint64_t c = rt_chunk;
	uint32_t next = (uint32_t)(c >> 32), end = (uint32_t)c;
	uint32_t group_end = (next | (AT_COUNTERS_GROUP - 1)) + 1;
	if (next >= end || !(next & (AT_COUNTERS_GROUP - 1)) ||
	    group_end - next >= AT_RT_CHILD_ROOM)
		return;
	next = group_end < end ? group_end : end;
	rt_chunk = (uint64_t)next << 32 | end;
}
