/*
 * Registration: the entry points that give tags their indexes after
 * start-up.  alloctag_register_image / alloctag_unregister_image run from
 * the constructor and destructor alloctag.h emits into every image that
 * includes it (module tags, module_tags.c); at_registry_add_runtime gives a
 * run-time tag (a dynamic tag of the preload library, sites/) an index from
 * chunks of the tag area, reserving them in the store first
 * (store_migrate.h), so that a switch to the side table happens before an
 * index that does not fit is handed out.
 */
#define _GNU_SOURCE /* dladdr */
#include "modules/registration.h"

#include <dlfcn.h>
#include <errno.h>
#include <string.h>

#include "core/control.h"
#include "core/message.h"
#include "modules/tag_area.h"
#include "startup/init.h"
#include "store/store_migrate.h"

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
