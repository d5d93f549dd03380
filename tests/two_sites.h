/* Two allocation sites, each with its own tag (tag_a, tag_b, set by the
 * first call), for tests that interleave two tags' objects in the same
 * slabs. */
#ifndef AT_TEST_TWO_SITES_H
#define AT_TEST_TWO_SITES_H

#include <alloctag.h>
#include <stddef.h>

static struct alloc_tag *tag_a, *tag_b;

static __attribute__((noinline)) void *site_a(size_t n)
{
	DEFINE_ALLOC_TAG(t);
	tag_a = &t;
	return alloc_hooks_tag(t, at_malloc_noprof(n));
}

static __attribute__((noinline)) void *site_b(size_t n)
{
	DEFINE_ALLOC_TAG(t);
	tag_b = &t;
	return alloc_hooks_tag(t, at_malloc_noprof(n));
}

#endif
