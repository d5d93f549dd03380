/*
 * The unwinder's rule misses in objects that are never unloaded
 * (src/sites/unwind.c, perm_objs): once a miss has found the main
 * program's object (here also the runtime's own, linked in) and libc's,
 * a miss at a new return address in them asks the loader nothing
 * (_dl_find_object, interposed here, is not called), and the chain it
 * gives equals glibc's backtrace(): at once, after another object was
 * loaded and unloaded (a real dlopen and dlclose of zlib), and in a
 * forked child; a new frame's record is named without asking it too.  A
 * miss in the unloaded-and-loaded-again object still asks the loader.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <execinfo.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "sites/site_names.h"
#include "sites/unwind.h"

static int (*real_find)(void *, struct dl_find_object *);
static int finds; /* calls of _dl_find_object while the walk runs */
static int walking;

int _dl_find_object(void *pc, struct dl_find_object *r)
{
	if (!real_find)
		real_find = (int (*)(void *, struct dl_find_object *))dlsym(RTLD_NEXT, "_dl_find_object");
	finds += walking;
	return real_find(pc, r);
}

#define MAXF 64
static uintptr_t ours[MAXF];
static void *theirs[MAXF + 1];
static unsigned int n_ours;
static int n_theirs;
static volatile int sink;

/* The walk from here; its misses and the loader's lookups in *misses,
 * *looked; then the check against backtrace(). */
static __attribute__((noinline)) void capture(uint64_t *misses, int *looked)
{
	uint64_t m = at_unwind_misses();
	int f = finds;
	walking = 1;
	n_ours = at_unwind(ours, MAXF, (uintptr_t)__builtin_dwarf_cfa(), NULL);
	walking = 0;
	*misses = at_unwind_misses() - m;
	*looked = finds - f;
	n_theirs = backtrace(theirs, MAXF + 1); /* theirs[0]: inside capture */
	sink++;
	CHECK(n_ours >= 3); /* capture's caller, main, libc */
	CHECK_EQ((int)n_ours, n_theirs - 1);
	for (unsigned int k = 0; k < n_ours; k++)
		CHECK(ours[k] == (uintptr_t)theirs[k + 1]);
}

/* Calls of capture from return addresses of their own, each new to the
 * rule cache, as main's call of site is each time: two misses, both in
 * the main program. */
static __attribute__((noinline, optimize("O0"))) void site(int i, uint64_t *misses, int *looked)
{
	switch (i) {
	case 0: capture(misses, looked); break;
	case 1: capture(misses, looked); break;
	case 2: capture(misses, looked); break;
	case 3: capture(misses, looked); break;
	}
}

static uint64_t z_misses;
static int z_looked, z_calls;

static void *zalloc_cb(void *op, unsigned int items, unsigned int size)
{
	uint64_t m;
	int l;
	(void)op;
	capture(&m, &l);
	z_misses += m;
	z_looked += l;
	z_calls++;
	return calloc(items, size);
}

static void zfree_cb(void *op, void *p)
{
	(void)op;
	free(p);
}

int main(void)
{
	uint64_t misses;
	int looked;
	site(0, &misses, &looked); /* the first: capture, site, main, libc's frames */
	CHECK(misses >= 3);
	CHECK(looked >= 1); /* the objects found through the loader once */
	site(1, &misses, &looked);
	CHECK_EQ(misses, 2); /* site's and main's new return addresses */
	CHECK_EQ(looked, 0);

	/* a frame of the main program named without the loader either: its
	 * record's function is site's (from the executable's .symtab) */
	int err, f0 = finds;
	walking = 1;
	struct at_frame *fr = at_frame_get(ours[0], &err);
	walking = 0;
	CHECK(fr != NULL);
	CHECK_EQ(finds - f0, 0);
	CHECK_STREQ(fr->tag.function, "site");

	/* an object loaded and unloaded: the loader's count of unloads moves */
	void *z = dlopen("libz.so.1", RTLD_NOW | RTLD_LOCAL);
	CHECK(z != NULL);
	CHECK_EQ(dlclose(z), 0);
	site(2, &misses, &looked);
	CHECK_EQ(misses, 2);
	CHECK_EQ(looked, 0);

	pid_t pid = fork();
	CHECK(pid >= 0);
	if (!pid) {
		site(3, &misses, &looked);
		CHECK_EQ(misses, 2);
		CHECK_EQ(looked, 0);
		_exit(0);
	}
	int st;
	CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);

	/* a frame in an object that can be unloaded: its object found through
	 * the loader (zlib's deflateInit2_ calls our zalloc) */
	z = dlopen("libz.so.1", RTLD_NOW | RTLD_LOCAL);
	CHECK(z != NULL);
	int (*init)(z_streamp, int, const char *, int) =
		(int (*)(z_streamp, int, const char *, int))dlsym(z, "deflateInit_");
	int (*end)(z_streamp) = (int (*)(z_streamp))dlsym(z, "deflateEnd");
	CHECK(init && end);
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	zs.zalloc = zalloc_cb;
	zs.zfree = zfree_cb;
	CHECK_EQ(init(&zs, 6, ZLIB_VERSION, (int)sizeof(zs)), Z_OK);
	CHECK(z_calls > 0);
	CHECK(z_misses >= 2); /* zalloc_cb's caller in zlib, and main's call */
	CHECK(z_looked >= 1);
	CHECK_EQ(end(&zs), Z_OK);
	CHECK_EQ(dlclose(z), 0);
	printf("ok\n");
	return 0;
}
