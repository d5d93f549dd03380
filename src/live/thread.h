/*
 * The live component's background threads (the sampler, the endpoint):
 * detached, and started with every signal blocked so that none of the
 * program's signals is delivered to them, named `name` (ps, top -H).  0 or
 * pthread_create's error.
 */
#ifndef AT_LIVE_THREAD_H
#define AT_LIVE_THREAD_H

#include <pthread.h>
#include <signal.h>

static inline int at_live_thread_start(void *(*run)(void *), const char *name)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pthread_t th;
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	int err = pthread_create(&th, &at, run, NULL);
	pthread_attr_destroy(&at);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!err)
		pthread_setname_np(th, name);
	return err;
}

#endif
