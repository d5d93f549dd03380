/*
 * liballoctag-preload.so: alloctag as the process's malloc, for unmodified
 * programs (LD_PRELOAD=liballoctag-preload.so prog).  Exports the C and
 * POSIX malloc family and glibc's memalign, valloc, pvalloc,
 * malloc_usable_size.  Allocations made through it carry no call-site tag
 * (the caller's current tag, if it set one with alloc_hooks, is charged);
 * ALLOCTAG=never|0|1[,compressed|,uncompressed] still selects the store.
 * liballoctag.so itself exports none of these names.
 */
#include <malloc.h>
#include <stdlib.h>

#include "compiler.h"

#define EXPORT __attribute__((visibility("default")))

EXPORT void *malloc(size_t n)
{
	return at_malloc_noprof(n);
}

EXPORT void free(void *p)
{
	at_free(p);
}

EXPORT void *calloc(size_t n, size_t size)
{
	return at_calloc_noprof(n, size);
}

EXPORT void *realloc(void *p, size_t n)
{
	return at_realloc_noprof(p, n);
}

EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
	return at_posix_memalign_noprof(out, align, n);
}

EXPORT void *aligned_alloc(size_t align, size_t n)
{
	return at_aligned_alloc_noprof(align, n);
}

EXPORT void *memalign(size_t align, size_t n)
{
	return at_memalign_noprof(align, n);
}

EXPORT void *valloc(size_t n)
{
	return at_valloc_noprof(n);
}

EXPORT void *pvalloc(size_t n)
{
	return at_pvalloc_noprof(n);
}

EXPORT size_t malloc_usable_size(void *p)
{
	return at_usable_size(p);
}
