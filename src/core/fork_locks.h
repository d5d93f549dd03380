/*
 * The allocator's locks around fork().
 *
 * pthread_atfork handlers take the allocator's locks before fork() and
 * release them after, so that no other thread is half way through a list
 * the child inherits.  Every page a handler writes costs the parent and the
 * child a copy-on-write fault per fork; the locks share one page for that
 * reason (AT_FORK_LOCK, compiler.h).
 *
 * A process that has never had a second thread (glibc's
 * __libc_single_threaded) has no such thread, and there the handlers take
 * and release nothing, as glibc's own malloc does: the parent's prepare and
 * parent handlers write no page.  The decision cannot change between them
 * (no thread can be created while the only one forks).  The child does not
 * repeat the decision (glibc may say single-threaded in a child whose parent
 * was not): it puts back every lock that is held (its lock word not 0), the
 * ones the prepare handler took, and stores nothing when none was taken,
 * so its page is not copied.  Resetting is right for any lock in the child:
 * it has one thread, the one that forked, and the lock's holder in the
 * parent, if any, does not exist there.
 */
#ifndef ALLOCTAG_FORK_LOCKS_H
#define ALLOCTAG_FORK_LOCKS_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/single_threaded.h>

/* Whether the fork handlers take the locks (prepare) and release them
 * (parent). */
static inline bool at_fork_locking(void)
{
	return !__libc_single_threaded;
}

/* The child's handlers: put lock m back to init if it is held.  A
 * mutex is held exactly when its lock word (__data.__lock: glibc's layout)
 * is not 0, and a free one equals its initializer (unlocking puts back
 * the owner and the users' count before the lock word), so one word is
 * read per lock (the slabs' 41 locks cost a child about 120 instructions,
 * where comparing every word of each costs 1.2k); init by value (always
 * inlined): no constant initializer in .rodata, a page the child would
 * fault in for this alone. */
static inline __attribute__((always_inline)) void at_fork_child_reset(pthread_mutex_t *m,
								       pthread_mutex_t init)
{
	if (__atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED))
		*m = init;
}

#endif
