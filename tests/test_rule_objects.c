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
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "check.h"
#include "sites/site_names.h"

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

/* The walk's misses and the loader's lookups meanwhile (capture's
 * hooks). */
static uint64_t walk_misses;
static int walk_finds;
#define CAPTURE_BEFORE_WALK()                                                  \
	do {                                                                   \
		walk_misses = at_unwind_misses();                              \
		walk_finds = finds;                                            \
		walking = 1;                                                   \
	} while (0)
#define CAPTURE_AFTER_WALK()                                                   \
	do {                                                                   \
		walking = 0;                                                   \
		walk_misses = at_unwind_misses() - walk_misses;                \
		walk_finds = finds - walk_finds;                               \
	} while (0)
#include "unwind_capture.h"

/* capture(), its counts in *misses and *looked, checked against
 * backtrace(). */
static __attribute__((noinline)) void captured(uint64_t *misses, int *looked)
{
	capture();
	*misses = walk_misses;
	*looked = walk_finds;
	CHECK(n_ours >= 4); /* capture, its caller, main, libc */
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
	case 0: captured(misses, looked); break;
	case 1: captured(misses, looked); break;
	case 2: captured(misses, looked); break;
	case 3: captured(misses, looked); break;
	}
}

static uint64_t z_misses;
static int z_looked, z_calls;

static void *zalloc_cb(void *op, unsigned int items, unsigned int size)
{
	uint64_t m;
	int l;
	(void)op;
	captured(&m, &l);
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
	struct at_frame *fr = at_frame_get(ours[1], &err); /* site's call of captured */
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
