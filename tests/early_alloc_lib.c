/*
 * A shared library whose constructor allocates (malloc, posix_memalign):
 * the loader runs the constructors of a program's libraries before a
 * preloaded library's, so under the preload library these allocations
 * come before its start-up, as glib's and libstdc++'s do.  Linked into
 * tests/thread_exit.c for tests/text_order.sh.
 */
#include <stdlib.h>

static int allocated;

__attribute__((constructor)) static void early_alloc(void)
{
	char *volatile p = malloc(64);
	void *q = NULL;
	if (p)
		p[0] = 1;
	if (posix_memalign(&q, 64, 256) == 0)
		((char *volatile)q)[0] = 1;
	allocated = p && q;
	free(q);
	free(p);
}

/* 1 when the constructor's allocations succeeded (the program's call
 * keeps the library linked). */
int early_alloc_done(void)
{
	return allocated;
}
