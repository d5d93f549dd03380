/*
 * The seam between the allocator and the peak recorder (live/peak.c).
 *
 * The allocator's slow paths report the bytes that leave (positive) or
 * return to (negative) its central structures: slab objects leaving or
 * entering a slab, large blocks leaving or entering the page allocator or a
 * thread's block cache, huge blocks.  They call at_peak_add(), which calls
 * the sink the recorder installed at start-up (ALLOCTAG_PEAK=1), or nothing:
 * with the recorder off, one load and a not-taken branch, on slow paths
 * only.  The allocator knows nothing else of the recorder, which reads the
 * allocator's counters from above.
 */
#ifndef AT_PEAK_HOOK_H
#define AT_PEAK_HOOK_H

#include <stdint.h>

#include "core/compiler.h"

/* NULL while no recorder runs; set once, before the recorder is used. */
extern AT_HIDDEN void (*at_peak_sink)(int64_t bytes);

static inline void at_peak_add(int64_t bytes)
{
	void (*sink)(int64_t) = __atomic_load_n(&at_peak_sink, __ATOMIC_RELAXED);
	if (at_unlikely(sink != NULL))
		sink(bytes);
}

#endif
