/*
 * A thread that allocates and exits, joined by the main thread: under the
 * preload library its first malloc makes it a call-chain memo, and its
 * exit releases it (sites/chains.c, memo_release).  Linked with
 * early_alloc_lib, whose constructor allocates before the preload
 * library's start-up.  An unmodified program: tests/text_order.sh runs it
 * under callgrind to find the library's functions such a program runs.
 */
#include <pthread.h>
#include <stdlib.h>

static void *run(void *arg)
{
	char *volatile p = malloc(100);
	void *q = NULL;
	(void)arg;
	if (p)
		p[0] = 1;
	if (posix_memalign(&q, 64, 200) == 0) /* as glib's slices, once started */
		((char *volatile)q)[0] = 1;
	free(q);
	free(p);
	return NULL;
}

int early_alloc_done(void);

int main(void)
{
	pthread_t t;
	if (!early_alloc_done() || pthread_create(&t, NULL, run, NULL) || pthread_join(t, NULL))
		return 1;
	return 0;
}
