/*
 * A set-up that runs until it has succeeded once (where pthread_once would
 * run it once, and a failure - an mmap refused for a moment - would last
 * for the life of the process).  setup() returns 0 or a positive errno; it
 * must leave nothing half done when it fails, so that it can run again.
 * After the first success the cost is one load.  Calls made while another
 * thread runs the set-up wait for it (a mutex: set-ups must not recurse).
 */
#ifndef AT_RETRY_ONCE_H
#define AT_RETRY_ONCE_H

#include <pthread.h>

#include "core/compiler.h"

struct at_retry_once {
	pthread_mutex_t lock;
	unsigned char done;
};
#define AT_RETRY_ONCE_INIT {PTHREAD_MUTEX_INITIALIZER, 0}

/* 0 once setup() has succeeded (now or before), else -(its errno). */
static inline int at_retry_once(struct at_retry_once *o, int (*setup)(void))
{
	if (at_likely(AT_LOAD(&o->done)))
		return 0;
	pthread_mutex_lock(&o->lock);
	int err = 0;
	if (!o->done) {
		err = setup();
		if (!err)
			AT_STORE(&o->done, 1);
	}
	pthread_mutex_unlock(&o->lock);
	return err ? -err : 0;
}

#endif
