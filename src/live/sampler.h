/*
 * The interval sampler (ALLOCTAG_INTERVAL=T; sampler.c): total live bytes
 * and the top sites' live bytes every T, kept for the raw profile.
 */
#ifndef AT_SAMPLER_H
#define AT_SAMPLER_H

#include <stdint.h>
#include <time.h>

#include "core/compiler.h"

#define AT_SAMPLE_TOP 8 /* sites kept per sample */

struct at_sample {
	struct timespec when; /* CLOCK_REALTIME */
	int64_t total;        /* live bytes of every tag */
	uint32_t nr;          /* sites kept, at most AT_SAMPLE_TOP, largest first */
	uint32_t idx[AT_SAMPLE_TOP];
	int64_t bytes[AT_SAMPLE_TOP];
};

/* Start-up: start the sampling thread if ALLOCTAG_INTERVAL asks for it. */
AT_HIDDEN void at_sampler_start(void);
AT_HIDDEN void at_sampler_child_reset(void);
/* The interval in nanoseconds, 0 when the sampler is off. */
AT_HIDDEN long long at_sampler_interval(void);
/* For the writer: the interval (ns, 0 when off) and every sample in order;
 * a last sample is taken first, so the series ends at the write. */
AT_HIDDEN long long at_sampler_each(void (*fn)(const struct at_sample *s, void *ctx), void *ctx);

#endif
