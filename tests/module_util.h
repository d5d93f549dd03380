/*
 * Test helper: loading the test objects (at_testmod.so, at_testmod_big.so,
 * paths compiled in by tests/CMakeLists.txt) with dlopen and finding their
 * functions.
 */
#ifndef AT_TEST_MODULE_UTIL_H
#define AT_TEST_MODULE_UTIL_H

#include <dlfcn.h>

#include <alloctag.h>

#include "check.h"

struct testmod {
	void *h;
	void *(*a)(unsigned int), *(*b)(unsigned int), *(*c)(unsigned int);
	void (*free)(void *, unsigned int);
	void (*section)(struct alloc_tag **, struct alloc_tag **);
	unsigned int la, lb, lc;
	struct alloc_tag *start, *stop;
};

struct bigmod {
	void *h;
	void *(*alloc)(int, unsigned int);
	void (*free)(void *, unsigned int);
	void (*section)(struct alloc_tag **, struct alloc_tag **);
	struct alloc_tag *start, *stop;
};

static void *must_sym(void *h, const char *name)
{
	void *p = dlsym(h, name);
	if (!p) {
		fprintf(stderr, "FAIL dlsym %s: %s\n", name, dlerror());
		exit(1);
	}
	return p;
}

static void *must_open(const char *path)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		fprintf(stderr, "FAIL dlopen %s: %s\n", path, dlerror());
		exit(1);
	}
	return h;
}

static inline struct testmod testmod_load(void)
{
	struct testmod m;
	m.h = must_open(TESTMOD);
	m.a = (void *(*)(unsigned int))must_sym(m.h, "mod_alloc_a");
	m.b = (void *(*)(unsigned int))must_sym(m.h, "mod_alloc_b");
	m.c = (void *(*)(unsigned int))must_sym(m.h, "mod_alloc_c");
	m.free = (void (*)(void *, unsigned int))must_sym(m.h, "mod_free");
	m.section = (void (*)(struct alloc_tag **, struct alloc_tag **))must_sym(m.h, "mod_section");
	m.la = *(const unsigned int *)must_sym(m.h, "mod_line_a");
	m.lb = *(const unsigned int *)must_sym(m.h, "mod_line_b");
	m.lc = *(const unsigned int *)must_sym(m.h, "mod_line_c");
	m.section(&m.start, &m.stop);
	return m;
}

/* dlclose, and check that the object is really gone. */
static inline void unload(void *h, const char *path)
{
	CHECK(dlclose(h) == 0);
	CHECK(dlopen(path, RTLD_NOW | RTLD_NOLOAD) == NULL);
}

/* The section tag of function fn in [start, stop). */
static inline struct alloc_tag *tag_of(struct alloc_tag *start, struct alloc_tag *stop,
				       const char *fn)
{
	for (struct alloc_tag *t = start; t < stop; t++)
		if (!strcmp(t->function, fn))
			return t;
	CHECK(!"no such tag");
	return NULL;
}

#define TAG(m, fn) tag_of((m).start, (m).stop, fn)

static inline struct bigmod bigmod_load(void)
{
	struct bigmod m;
	m.h = must_open(TESTMOD_BIG);
	m.alloc = (void *(*)(int, unsigned int))must_sym(m.h, "big_alloc");
	m.free = (void (*)(void *, unsigned int))must_sym(m.h, "big_free");
	m.section = (void (*)(struct alloc_tag **, struct alloc_tag **))must_sym(m.h, "big_section");
	m.section(&m.start, &m.stop);
	return m;
}

#endif
