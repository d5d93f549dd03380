/*
 * Every call chain with its counters, for the reports that need the chains
 * themselves (the raw profile, report/profile.c).  allocinfo sums chains
 * by site instead (report/allocinfo.c).
 */
#ifndef AT_SITES_EACH_H
#define AT_SITES_EACH_H

#include <stdint.h>

#include "core/compiler.h"

struct at_chain_view {
	const uintptr_t *frames;   /* run-time return addresses, innermost (malloc's caller) first */
	unsigned int nr_frames;
	unsigned int site;         /* 1-based index in frames of the site frame (first outside the allocation layer), 0 = none */
	uint64_t live_bytes, live_calls;   /* live now */
	uint64_t alloc_bytes, alloc_calls; /* cumulative since start (0 if not kept) */
	uint32_t idx;                      /* the chain's tag index (the profile's "index" record) */
};
/* Visit every chain that ever allocated; safe while other threads allocate; never calls malloc. */
AT_HIDDEN void at_sites_each(void (*fn)(const struct at_chain_view *v, void *ctx), void *ctx);

#endif
