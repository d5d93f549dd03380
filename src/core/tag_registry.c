#define _GNU_SOURCE /* PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP */
#include "core/tag_registry.h"

#include <errno.h>
#include <sys/mman.h>

#include "core/fork_locks.h"
#include "core/message.h"
#include "pages/page.h"

struct alloc_tag **at_tag_top;
struct alloc_tag *at_core_start, *at_core_stop;
/* in the registry lock's slot of the fork page (the compiler emits this
 * file's statics there in reverse order: it lies after the lock): a new
 * chunk of run-time indexes raises it (runtime_index.c), a forked child's
 * first one too */
AT_FORK_PACKED uint32_t at_nr_idx = AT_IDX_FIRST;
/* error-checking: a thread that holds it and mallocs gets -EDEADLK from
 * at_registry_add_runtime() instead of hanging */
/* in the fork page (compiler.h): making a chain's tag takes it */
AT_FORK_LOCK pthread_mutex_t at_registry_lock =
	PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;

void at_registry_assign(struct alloc_tag *start, struct alloc_tag *stop, uint32_t first,
			struct alloc_tag *canon_start)
{
	uint32_t idx = first;
	for (struct alloc_tag *t = start, *c = canon_start; t < stop; t++, c++, idx++) {
		at_counters_reset(idx);
		AT_STORE_RELAXED(&c->idx, idx);
		AT_STORE_RELAXED(&c->canon, c);
		AT_STORE(at_tag_slot(idx), c);
		AT_STORE_RELAXED(&t->idx, idx);
		/* last: a call site that sees canon sees an indexed tag */
		AT_STORE(&t->canon, c);
	}
	if (idx > at_nr_idx)
		AT_STORE(&at_nr_idx, idx);
}

/* fork(): the child gets the lock free (run-time tags take it inside
 * malloc); taken only when the process has had threads (fork_locks.h) */
static void fork_prepare(void)
{
	if (at_fork_locking())
		pthread_mutex_lock(&at_registry_lock);
}

static void fork_parent(void)
{
	if (at_fork_locking())
		pthread_mutex_unlock(&at_registry_lock);
}

AT_FORK_TEXT static void fork_child(void)
{
	/* an error-checking mutex names its owner's thread id, which fork
	 * changed: put back, not unlocked */
	at_fork_child_reset(&at_registry_lock, (pthread_mutex_t)PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP);
}

size_t at_registry_bytes(void)
{
	return AT_IDX_MAX * sizeof(*at_tag_top);
}

int at_registry_init(void)
{
	void *p = at_meta_map(AT_META_REGISTRY, at_registry_bytes());
	if (p == MAP_FAILED)
		return -ENOMEM;
	at_tag_top = (struct alloc_tag **)p + AT_IDX_MAX;
	pthread_atfork(fork_prepare, fork_parent, fork_child);

	struct alloc_tag *start = NULL, *stop = NULL;
	if (at_find_core_tags(&start, &stop) == 0 && start && stop > start) {
		if ((size_t)(stop - start) + AT_IDX_FIRST > AT_IDX_MAX) {
			at_msg("%zu core allocation tags exceed the index space (%u); "
			       "they will not be counted",
			       (size_t)(stop - start), AT_IDX_MAX);
			return 0;
		}
		pthread_mutex_lock(&at_registry_lock);
		if (at_meta_cover_idx(AT_IDX_FIRST + (uint32_t)(stop - start))) { /* page.h */
			pthread_mutex_unlock(&at_registry_lock);
			at_msg("no room under the address-space limit for %zu core allocation "
			       "tags; they will not be counted", (size_t)(stop - start));
			return 0;
		}
		at_core_start = start;
		at_core_stop = stop;
		at_registry_assign(start, stop, AT_IDX_FIRST, start);
		pthread_mutex_unlock(&at_registry_lock);
	}
	return 0;
}

