/*
 * The call chains of the dynamic tags, for the raw profile (report/profile.c)
 * and anything else that reports chains.  at_sites_each() calls fn once per
 * chain that has a tag index, with a view valid only during the call; it
 * never allocates through malloc.
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
AT_HIDDEN void at_sites_each(void (*fn)(const struct at_chain_view *v, void *ctx), void *ctx);

#endif
