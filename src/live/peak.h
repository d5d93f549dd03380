/*
 * The peak recorder (ALLOCTAG_PEAK=1; peak.c holds its rules and tolerance).
 *
 * This header is a leaf (like pages/page.h): the page allocator, the slab
 * layer, the thread caches and the huge blocks include it to report bytes
 * leaving or returning to the allocator's central structures, and it calls
 * nothing of theirs.  With the recorder off each report costs one load and
 * a not-taken branch, on slow paths only (refill, flush, large blocks).
 */
#ifndef AT_PEAK_H
#define AT_PEAK_H

#include <stdint.h>
#include <time.h>

#include "core/compiler.h"

extern AT_HIDDEN unsigned char at_peak_on;

AT_HIDDEN void at_peak_add_slow(int64_t bytes);

/* bytes (positive: handed out; negative: given back) of the central
 * structures: slab objects leaving/entering a slab, large blocks leaving or
 * entering the page allocator or a thread's block cache, huge blocks. */
static inline void at_peak_add(int64_t bytes)
{
	if (at_unlikely(__atomic_load_n(&at_peak_on, __ATOMIC_RELAXED)))
		at_peak_add_slow(bytes);
}

/* Start-up: ALLOCTAG_PEAK. */
AT_HIDDEN void at_peak_start(void);
AT_HIDDEN void at_peak_child_reset(void);

/*
 * The recorded peak for a writer: calls fn(idx, bytes, calls, ctx) for every
 * index with a nonzero count at the peak, after filling *when and *total.
 * First records the present moment if it is higher than the peak (so a
 * profile written at exit has a peak even when it never grew past the
 * recorder's floor).  Returns 0 if the recorder is off.
 */
AT_HIDDEN int at_peak_each(struct timespec *when, int64_t *total,
			   void (*fn)(uint32_t idx, int64_t bytes, int64_t calls, void *ctx),
			   void *ctx);

#endif
