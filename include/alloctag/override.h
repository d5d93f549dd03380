/*
 * Compile a whole program with `-include alloctag/override.h` to turn its
 * malloc, calloc, realloc, free, aligned_alloc, posix_memalign, memalign,
 * valloc, pvalloc, strdup, strndup and malloc_usable_size calls into alloctag
 * calls, each allocation charged to its own line.  Link with -lalloctag.
 *
 * The macros are function-like: a call `malloc(n)` is tagged; taking the
 * address (`f = malloc`) still names the C library's function, whose blocks
 * must be freed by the C library.  Memory that libc functions allocate
 * internally (e.g. getline, asprintf) comes from the C library's malloc
 * too: free it with `(free)(p)`.  The system headers that declare these
 * functions are included first, so that later includes are not rewritten.
 */
#ifndef ALLOCTAG_OVERRIDE_H
#define ALLOCTAG_OVERRIDE_H

#include <stdlib.h>
#include <string.h>
#if defined(__has_include)
#if __has_include(<malloc.h>)
#include <malloc.h>
#endif
#endif
#include <alloctag.h>

#define malloc(n) at_malloc(n)
#define calloc(n, s) at_calloc(n, s)
#define realloc(p, n) at_realloc(p, n)
#define free(p) at_free(p)
#define aligned_alloc(a, n) at_aligned_alloc(a, n)
#define posix_memalign(pp, a, n) at_posix_memalign(pp, a, n)
#define memalign(a, n) at_memalign(a, n)
#define valloc(n) at_valloc(n)
#define pvalloc(n) at_pvalloc(n)
#define strdup(s) at_strdup(s)
#define strndup(s, n) at_strndup(s, n)
#define malloc_usable_size(p) at_usable_size(p)

#endif
