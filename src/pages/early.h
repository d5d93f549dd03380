/*
 * Early pages: pages handed out before the tag store is ready (early.c has
 * the layout of the tracking pages and the hand-over protocol).
 */
#ifndef AT_EARLY_H
#define AT_EARLY_H

#include <stdint.h>

#include "core/compiler.h"
#include "pages/page.h"

/* A page handed out while at_state was AT_STATE_EARLY (page_alloc.c). */
AT_HIDDEN void at_early_page(uint32_t pfn, uint64_t page_flags);

/*
 * Called once by alloctag_init() after the store is set up: close the
 * recorder, wait for recorders in flight, give every still-live early page
 * the empty reference (if `clear`; not under ALLOCTAG=never), free the
 * tracking pages.
 */
AT_HIDDEN void at_early_handover(int clear);

/* at_early_handover() sets at_early_handed_over (tag_ref.h) when done. */

/*
 * What the recorder and the hand-over did (read by the tests; written by the
 * hand-over, except `direct`, `races` and `lost`, counted as they happen).
 */
struct at_early_stats {
	uint64_t recorded;       /* entries found in tracking pages */
	uint64_t tracking_pages; /* tracking pages installed (and freed) */
	uint64_t races;          /* tracking pages given back by a loser */
	uint64_t direct;         /* pages that came after recording closed */
	uint64_t lost;           /* not recorded: no tracking page to be had */
	uint64_t cleared;        /* given the empty reference by the hand-over */
	uint64_t kept;           /* live and re-tagged meanwhile: tag kept */
	uint64_t repeat;         /* live, already emptied by an earlier entry */
	uint64_t gone;           /* freed, or freed and re-allocated after ready */
};
extern AT_HIDDEN struct at_early_stats at_early_stats;

/* Entries per tracking page. */
#define AT_EARLY_PER_PAGE ((AT_PAGE_SIZE - 16) / sizeof(uint32_t))

/*
 * Test hook: if set, called by the hand-over after the store is ready
 * (at_state == AT_STATE_READY) and before recording closes, so that a test
 * can free, re-allocate and re-tag early pages in that window.  Internal.
 */
extern AT_HIDDEN void (*at_early_test_hook)(void);

#endif
