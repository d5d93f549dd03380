/*
 * Start-up (init.c): read ALLOCTAG*, reserve the page heap, set up counters,
 * registry and store, hand early pages over.  Every entry point that needs
 * the store calls alloctag_init() first; it is cheap once done (one load).
 */
#ifndef AT_INIT_H
#define AT_INIT_H

#include "core/compiler.h"

AT_HIDDEN void alloctag_init(void);

/*
 * Test hook: if set, called by start-up between making the state READY and
 * storing the configured at_profiling_on, so that a test can hold that
 * window open while other threads allocate (tests/early_window.c).
 * Internal.
 */
extern AT_HIDDEN void (*at_init_test_hook)(void);

#endif
