#define _GNU_SOURCE /* dladdr */
#include "tag_registry.h"

#include <dlfcn.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "control.h"
#include "message.h"
#include "store_migrate.h"
#include "tag_area.h"

struct alloc_tag **at_tag_by_idx;
uint32_t at_nr_idx = AT_IDX_FIRST;
struct alloc_tag *at_core_start, *at_core_stop;
/* error-checking: a thread that holds it and mallocs gets -EDEADLK from
 * at_registry_add_runtime() instead of hanging */
pthread_mutex_t at_registry_lock = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;

void at_registry_assign(struct alloc_tag *start, struct alloc_tag *stop, uint32_t first,
			struct alloc_tag *canon_start)
{
	uint32_t idx = first;
	for (struct alloc_tag *t = start, *c = canon_start; t < stop; t++, c++, idx++) {
		at_counters_reset(idx);
		c->idx = idx;
		c->canon = c;
		AT_STORE(&at_tag_by_idx[idx], c);
		t->idx = idx;
		/* last: a call site that sees canon sees an indexed tag */
		AT_STORE(&t->canon, c);
	}
	if (idx > at_nr_idx)
		AT_STORE(&at_nr_idx, idx);
}

/* fork(): the child gets the lock free (run-time tags take it inside malloc) */
static void fork_prepare(void)
{
	pthread_mutex_lock(&at_registry_lock);
}

static void fork_parent(void)
{
	pthread_mutex_unlock(&at_registry_lock);
}

static void fork_child(void)
{
	/* an error-checking mutex names its owner's thread id, which fork changed */
	at_registry_lock = (pthread_mutex_t)PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP;
}

int at_registry_init(void)
{
	void *p = mmap(NULL, AT_IDX_MAX * sizeof(*at_tag_by_idx), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	at_tag_by_idx = p;
	pthread_atfork(fork_prepare, fork_parent, fork_child);

	struct alloc_tag *start = NULL, *stop = NULL;
	if (at_find_core_tags(&start, &stop) == 0 && start && stop > start) {
		if ((size_t)(stop - start) + AT_IDX_FIRST > AT_IDX_MAX) {
			at_msg("%zu core allocation tags exceed the index space (%u); "
			       "they will not be counted",
			       (size_t)(stop - start), AT_IDX_MAX);
			return 0;
		}
		at_core_start = start;
		at_core_stop = stop;
		pthread_mutex_lock(&at_registry_lock);
		at_registry_assign(start, stop, AT_IDX_FIRST, start);
		pthread_mutex_unlock(&at_registry_lock);
	}
	return 0;
}

/*
 * The object's name: the base name of the file it was loaded from.  dladdr
 * does not allocate; it takes the loader's lock, so it is called before the
 * registry lock (a dlopen holds the loader's lock when it runs constructors
 * that take the registry lock).
 */
static const char *image_name(const struct alloc_tag *start)
{
	Dl_info info;
	if (!dladdr(start, &info) || !info.dli_fname || !info.dli_fname[0])
		return "?";
	const char *slash = strrchr(info.dli_fname, '/');
	return slash ? slash + 1 : info.dli_fname;
}

void alloctag_register_image(struct alloc_tag *start, struct alloc_tag *stop)
{
	alloctag_init();
	if (!start || stop <= start || !at_tag_by_idx)
		return;
	if (start >= at_core_start && start < at_core_stop)
		return; /* the main executable: indexed at start-up */
	if (AT_LOAD(&start->canon))
		return; /* registered already (by another translation unit's constructor) */
	const char *name = image_name(start);
	pthread_mutex_lock(&at_registry_lock);
	if (!start->canon)
		at_module_register(start, stop, name);
	pthread_mutex_unlock(&at_registry_lock);
}

void alloctag_unregister_image(struct alloc_tag *start, struct alloc_tag *stop)
{
	if (!start || stop <= start || !at_tag_by_idx)
		return;
	if (start >= at_core_start && start < at_core_stop)
		return; /* core tags are never unloaded */
	pthread_mutex_lock(&at_registry_lock);
	if (start->canon)
		at_module_unregister(start, stop);
	pthread_mutex_unlock(&at_registry_lock);
}

#define AT_RT_CHUNK 256u
static uint64_t rt_chunk;   /* free run-time indexes [next, end): next << 32 | end */
static int rt_exhausted;

/* A new chunk of run-time indexes, registry lock held.  0 or -ENOSPC. */
static int rt_refill(void)
{
	static int once;
	struct at_area_span sp;
	if (rt_exhausted)
		return -ENOSPC;
	if (at_area_alloc(AT_RT_CHUNK, 0, &sp) == 0) {
		uint32_t first = at_area_slot_idx(sp.slot);
		if ((uint64_t)first + AT_RT_CHUNK <= AT_IDX_MAX &&
		    at_store_reserve(first + AT_RT_CHUNK) == 0) {
			if (first + AT_RT_CHUNK > at_nr_idx)
				AT_STORE(&at_nr_idx, first + AT_RT_CHUNK);
			AT_STORE(&rt_chunk, (uint64_t)first << 32 | (first + AT_RT_CHUNK));
			return 0;
		}
		at_area_release(sp);
	}
	rt_exhausted = 1;
	at_msg_once(once, "no index left for run-time allocation tags; allocations "
			  "from further call sites will not be counted");
	return -ENOSPC;
}

int at_registry_add_runtime(struct alloc_tag *t)
{
	for (;;) {
		uint64_t c = AT_LOAD(&rt_chunk);
		uint32_t next = (uint32_t)(c >> 32);
		if (next < (uint32_t)c) {
			if (!__atomic_compare_exchange_n(&rt_chunk, &c, c + (1ull << 32), 0,
							 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
				continue;
			at_counters_reset(next);
			t->idx = next;
			AT_STORE(&t->canon, t);
			return 0;
		}
		if (pthread_mutex_lock(&at_registry_lock))
			return -EDEADLK;
		int err = AT_LOAD(&rt_chunk) == c ? rt_refill() : 0;
		pthread_mutex_unlock(&at_registry_lock);
		if (err)
			return err;
	}
}
