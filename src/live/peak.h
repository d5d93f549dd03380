/*
 * The peak recorder (ALLOCTAG_PEAK=1; peak.c holds its rules and tolerance).
 *
 * The allocator reports bytes through core/peak_hook.h, whose sink
 * at_peak_start() installs; this header is for the readers of the peak
 * (the profile writer, the live read).
 */
#ifndef AT_PEAK_H
#define AT_PEAK_H

#include <stdint.h>
#include <time.h>

#include "core/compiler.h"

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
