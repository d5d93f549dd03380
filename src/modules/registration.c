/*
 * Registration: the entry points that give tags their indexes after
 * start-up.  alloctag_register_image / alloctag_unregister_image run from
 * the constructor and destructor alloctag.h emits into every image that
 * includes it (module tags, module_tags.c).  They start alloctag up first
 * if it has not started yet (a tagged object loaded by another library's
 * constructor).
 */
#define _GNU_SOURCE /* dladdr, dl_iterate_phdr */
#include "core/tag_registry.h"

#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <string.h>

#include "core/control.h"
#include "core/message.h"
#include "core/tag_section.h"
#include "modules/tag_area.h"
#include "startup/init.h"

/*
 * The object's name: the base name of the file it was loaded from (the
 * loader's name from dl_iterate_phdr; dladdr's for the main program, which
 * the loader calls "").  Neither allocates; both take the loader's lock, so
 * they are called before the registry lock (a dlopen holds the loader's
 * lock when it runs constructors that take the registry lock).
 */
static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

static const char *image_name(const struct alloc_tag *start)
{
	Dl_info info;
	if (!dladdr(start, &info) || !info.dli_fname || !info.dli_fname[0])
		return "?";
	return base_name(info.dli_fname);
}

/*
 * A corrupt object's tags (tag_section.h) are not registered: said once,
 * their canon cleared where they can be written (its call sites then charge
 * nothing), and its later constructors and its destructor do nothing.  The
 * objects refused and still loaded, by section start (registry lock).
 */
#define REFUSED_MAX 16
static struct alloc_tag *refused[REFUSED_MAX];

static int refused_find(const struct alloc_tag *start)
{
	for (int i = 0; i < REFUSED_MAX; i++)
		if (refused[i] == start)
			return i;
	return -1;
}

/* The loaded object holding addr: its segments and the loader's name for
 * it ("" for the main program). */
struct image {
	uintptr_t addr;
	const char *name;
	struct at_span spans[AT_SPANS_MAX];
	unsigned int n;
};

static int image_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	struct image *im = data;
	(void)size;
	struct at_span s[AT_SPANS_MAX];
	unsigned int n = at_spans_of_phdrs(info->dlpi_phdr, info->dlpi_phnum, info->dlpi_addr, s,
					   AT_SPANS_MAX);
	for (unsigned int i = 0; i < n; i++) {
		if (s[i].flags != AT_SPAN_RELRO && im->addr >= s[i].start && im->addr < s[i].end) {
			memcpy(im->spans, s, n * sizeof(s[0]));
			im->n = n;
			im->name = info->dlpi_name;
			return 1;
		}
	}
	return 0;
}

void alloctag_register_image(struct alloc_tag *start, struct alloc_tag *stop)
{
	alloctag_init();
	if (!start || stop <= start || !at_tag_top)
		return;
	if (start >= at_core_start && start < at_core_stop)
		return; /* the main executable: indexed at start-up */
	struct alloc_tag *c = AT_LOAD(&start->canon);
	if (c && at_area_holds(c))
		return; /* registered already (by another translation unit's constructor) */
	pthread_mutex_lock(&at_registry_lock);
	int was_refused = refused_find(start) >= 0;
	pthread_mutex_unlock(&at_registry_lock);
	if (was_refused)
		return;
	/* Before the registry lock (the loader's lock: see base_name).  Tags
	 * outside every loaded object (made at run time by the caller) were
	 * not read from a file: not checked. */
	struct image im = {(uintptr_t)start, NULL, {{0, 0, 0}}, 0};
	int placed = 0;
	const char *why = NULL, *name;
	if (dl_iterate_phdr(image_cb, &im)) {
		why = at_tags_check(im.spans, im.n, (uintptr_t)start, (uintptr_t)stop, &placed);
		name = im.name && im.name[0] ? base_name(im.name) : image_name(start);
	} else {
		name = image_name(start);
	}
	pthread_mutex_lock(&at_registry_lock);
	if (why) {
		int i = refused_find(NULL);
		if (i >= 0)
			refused[i] = start;
		at_msg("%s: corrupt alloc_tags section (%s); its allocations are not counted", name,
		       why);
		for (struct alloc_tag *t = start; placed && t < stop; t++)
			AT_STORE(&t->canon, NULL);
	} else if (!start->canon) {
		at_module_register(start, stop, name);
	}
	pthread_mutex_unlock(&at_registry_lock);
}

void alloctag_unregister_image(struct alloc_tag *start, struct alloc_tag *stop)
{
	if (!start || stop <= start || !at_tag_top)
		return;
	if (start >= at_core_start && start < at_core_stop)
		return; /* core tags are never unloaded */
	pthread_mutex_lock(&at_registry_lock);
	int i = refused_find(start);
	if (i >= 0)
		refused[i] = NULL; /* the object goes: its address may be reused */
	else if (start->canon)
		at_module_unregister(start, stop);
	pthread_mutex_unlock(&at_registry_lock);
}
