/*
 * liballoctag-preload.so: alloctag as the process's malloc, for unmodified
 * programs (LD_PRELOAD=liballoctag-preload.so prog).  Exports the C and
 * POSIX malloc family and glibc's memalign, valloc, pvalloc,
 * malloc_usable_size.  ALLOCTAG=never|0|1[,compressed|,uncompressed]
 * selects the store as for any alloctag program.
 *
 * Tags: an allocation is charged to the caller's current tag if it set one
 * (alloc_hooks); otherwise, when profiling is on, to the dynamic tag of its
 * call site, the return address of the malloc (calloc, realloc, ...) call
 * (dyn_tags.h: one tag per address, made on first use).  Before
 * alloctag_init (the loader's and libc's start-up allocations) nothing is
 * charged.  ALLOCTAG_ALLOCINFO=<path> writes allocinfo at exit
 * (exit_report.c).  liballoctag.so itself exports none of these names.
 */
#include <malloc.h>
#include <stdlib.h>

#include "control.h"
#include "dyn_tags.h"
#include "malloc_fast.h"

#define EXPORT __attribute__((visibility("default")))

/*
 * Run alloc with the call site's dynamic tag current, unless a tag is
 * current already or nothing would be charged.  A macro: the return
 * address must be taken in the exported function itself.
 */
#define WITH_SITE_TAG(alloc)                                                            \
	({                                                                              \
		__typeof__(alloc) _r;                                                   \
		if (at_likely(AT_LOAD_RELAXED(&at_profiling_on)) && /* implies READY */ \
		    at_likely(!alloctag_current_tag)) {                                 \
			alloctag_current_tag = at_dyn_tag(__builtin_return_address(0)); \
			_r = alloc;                                                     \
			alloctag_current_tag = NULL;                                    \
		} else {                                                                \
			_r = alloc;                                                     \
		}                                                                       \
		_r;                                                                     \
	})

/* The hottest entries: malloc.c's fast paths inlined (malloc_fast.h); the
 * call site's tag is passed, not made current. */
EXPORT void *malloc(size_t n)
{
	struct alloc_tag *tag = NULL;
	if (at_likely(AT_LOAD_RELAXED(&at_profiling_on))) {
		tag = alloctag_current_tag;
		if (at_likely(!tag))
			tag = at_dyn_tag(__builtin_return_address(0));
	}
	if (at_likely(n <= AT_SMALL_MAX))
		return at_small_alloc(at_size_class(n), tag);
	return at_large_malloc(n, tag);
}

EXPORT void free(void *p)
{
	if (at_likely(p != NULL))
		at_free_fast(p, "free");
}

EXPORT void *calloc(size_t n, size_t size)
{
	return WITH_SITE_TAG(at_calloc_noprof(n, size));
}

EXPORT void *realloc(void *p, size_t n)
{
	return WITH_SITE_TAG(at_realloc_noprof(p, n));
}

EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
	return WITH_SITE_TAG(at_posix_memalign_noprof(out, align, n));
}

EXPORT void *aligned_alloc(size_t align, size_t n)
{
	return WITH_SITE_TAG(at_aligned_alloc_noprof(align, n));
}

EXPORT void *memalign(size_t align, size_t n)
{
	return WITH_SITE_TAG(at_memalign_noprof(align, n));
}

EXPORT void *valloc(size_t n)
{
	return WITH_SITE_TAG(at_valloc_noprof(n));
}

EXPORT void *pvalloc(size_t n)
{
	return WITH_SITE_TAG(at_pvalloc_noprof(n));
}

EXPORT size_t malloc_usable_size(void *p)
{
	return at_usable_size(p);
}
