/*
 * Registration: the entry points that give tags their indexes after
 * start-up.  alloctag_register_image / alloctag_unregister_image run from
 * the constructor and destructor alloctag.h emits into every image that
 * includes it (module tags, module_tags.c).  They start alloctag up first
 * if it has not started yet (a tagged object loaded by another library's
 * constructor).
 */
#define _GNU_SOURCE /* dladdr */
#include "core/tag_registry.h"

#include <dlfcn.h>
#include <errno.h>
#include <string.h>

#include "core/control.h"
#include "core/message.h"
#include "modules/tag_area.h"
#include "startup/init.h"

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
