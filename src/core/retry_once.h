/*
 * A set-up that runs until it has succeeded once (where pthread_once would
 * run it once, and a failure - an mmap refused for a moment - would last
 * for the life of the process).  setup() returns 0 or a positive errno; it
 * must leave nothing half done when it fails, so that it can run again.
 * After the first success the cost is one load.
 *
 * One state byte, no mutex: AT_ONCE_IDLE -> AT_ONCE_RUNNING (the caller
 * that wins the compare-and-swap runs setup()) -> AT_ONCE_DONE, or back to
 * AT_ONCE_IDLE when it failed.  Calls made while another thread runs the
 * set-up wait for it, yielding the CPU (set-ups must not recurse: a
 * recursive call would wait for itself).  Start-up runs every set-up this
 * way, and a pthread mutex would have the loader bind pthread_mutex_lock
 * and pthread_mutex_unlock and page in their text in every process.
 */
#ifndef AT_RETRY_ONCE_H
#define AT_RETRY_ONCE_H

#include <sched.h>

#include "core/compiler.h"

enum { AT_ONCE_IDLE, AT_ONCE_RUNNING, AT_ONCE_DONE };

struct at_retry_once {
	unsigned char state;
};
#define AT_RETRY_ONCE_INIT {AT_ONCE_IDLE}

/* Wait until o leaves AT_ONCE_RUNNING; 1 if it is AT_ONCE_DONE then. */
static inline int at_once_wait(const unsigned char *state)
{
	unsigned char s;
	while ((s = AT_LOAD(state)) == AT_ONCE_RUNNING)
		sched_yield();
	return s == AT_ONCE_DONE;
}

/* 1 when the caller now owns the set-up (state AT_ONCE_RUNNING), 0 when it
 * is done (by the caller's turn or another thread's). */
static inline int at_once_begin(unsigned char *state)
{
	for (;;) {
		unsigned char s = AT_ONCE_IDLE;
		if (__atomic_compare_exchange_n(state, &s, AT_ONCE_RUNNING, 0, __ATOMIC_ACQUIRE,
						__ATOMIC_ACQUIRE))
			return 1;
		if (s == AT_ONCE_DONE || at_once_wait(state))
			return 0;
	}
}

/* The owner's end of the set-up: done (ok) or back to idle. */
static inline void at_once_end(unsigned char *state, int ok)
{
	AT_STORE(state, ok ? AT_ONCE_DONE : AT_ONCE_IDLE);
}

/* 0 once setup() has succeeded (now or before), else -(its errno). */
static inline int at_retry_once(struct at_retry_once *o, int (*setup)(void))
{
	if (at_likely(AT_LOAD(&o->state) == AT_ONCE_DONE))
		return 0;
	if (!at_once_begin(&o->state))
		return 0;
	int err = setup();
	at_once_end(&o->state, !err);
	return err ? -err : 0;
}

#endif
