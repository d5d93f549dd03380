/*
 * Where a frame's function name is read from (src/sites/site_names.c): an
 * object indexed by its .dynsym (a file without .symtab) whose string
 * table is the loader's and at most 64 KiB has its names read from the
 * mapping and keeps no descriptor of its file; one whose string table is
 * larger (80 KiB), and an object indexed by its .symtab, keep one, and
 * when the program replaces every descriptor it did not open (our numbers
 * given to another file) their names are read from a file opened again.
 * Either way the names are the functions': four of each module's eight
 * are named before the descriptors are replaced, four after.  The first
 * object's symbols are indexed where the loader mapped them (its .dynsym
 * under 64 KiB, its names the loader's), the others' read from the file.
 *
 *   test_loaded_names STRIPPED_MODULE FULL_MODULE STRIPPED_BIG_MODULE
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "sites/site_names.h"

static const char *const fns[] = {
	"names_mod_alpha", "names_mod_bravo", "names_mod_charlie", "names_mod_delta",
	"names_mod_echo",  "names_mod_foxtrot", "names_mod_golf",  "names_mod_hotel",
};
#define NFNS (sizeof(fns) / sizeof(fns[0]))

/* The descriptors (3 and up, but dir's) open on the file at path. */
static unsigned int fds_on(const char *path)
{
	char want[PATH_MAX], link[64], got[PATH_MAX];
	unsigned int n = 0;
	CHECK(realpath(path, want) != NULL);
	DIR *d = opendir("/proc/self/fd");
	CHECK(d != NULL);
	for (struct dirent *e; (e = readdir(d));) {
		int fd = atoi(e->d_name);
		if (fd < 3 || fd == dirfd(d))
			continue;
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		ssize_t k = readlink(link, got, sizeof(got) - 1);
		if (k > 0) {
			got[k] = '\0';
			n += !strcmp(got, want);
		}
	}
	closedir(d);
	return n;
}

/* Every descriptor from 3 up but `keep` replaced by one of `other`. */
static void replace_fds(int keep, const char *other)
{
	int fds[256], n = 0;
	DIR *d = opendir("/proc/self/fd");
	CHECK(d != NULL);
	for (struct dirent *e; (e = readdir(d)) && n < 256;) {
		int fd = atoi(e->d_name);
		if (fd >= 3 && fd != dirfd(d) && fd != keep)
			fds[n++] = fd;
	}
	closedir(d);
	int o = open(other, O_RDONLY | O_CLOEXEC);
	CHECK(o >= 0);
	for (int i = 0; i < n; i++)
		if (fds[i] != o)
			CHECK(dup3(o, fds[i], O_CLOEXEC) == fds[i]);
	close(o);
}

/* Functions [from, to) of module h named through a return address just
 * past each one's first byte: each its own name. */
static void check_names(void *h, unsigned int from, unsigned int to)
{
	for (unsigned int i = from; i < to; i++) {
		uintptr_t a = (uintptr_t)dlsym(h, fns[i]);
		CHECK(a != 0);
		int err;
		struct at_frame *f = at_frame_get(a + 1, &err);
		CHECK(f != NULL);
		CHECK(f->tag.function != NULL);
		CHECK_STREQ(f->tag.function, fns[i]);
		CHECK_EQ(f->layer, 0);
	}
}

int main(int argc, char **argv)
{
	CHECK(argc == 4);
	void *stripped = dlopen(argv[1], RTLD_NOW), *full = dlopen(argv[2], RTLD_NOW);
	void *big = dlopen(argv[3], RTLD_NOW);
	CHECK(stripped != NULL && full != NULL && big != NULL);

	check_names(stripped, 0, NFNS / 2);
	check_names(full, 0, NFNS / 2);
	check_names(big, 0, NFNS / 2);
	CHECK_EQ(fds_on(argv[1]), 0); /* names from the mapping */
	CHECK_EQ(fds_on(argv[2]), 1); /* names from the file */
	CHECK_EQ(fds_on(argv[3]), 1); /* from the file: its .dynstr past 64 KiB */
	CHECK_EQ(at_sites_syms_in_place(), 1);

	replace_fds(-1, "/proc/self/exe");
	CHECK_EQ(fds_on(argv[2]), 0);
	CHECK_EQ(fds_on(argv[3]), 0);
	check_names(stripped, NFNS / 2, NFNS);
	check_names(full, NFNS / 2, NFNS);
	check_names(big, NFNS / 2, NFNS);
	CHECK_EQ(fds_on(argv[1]), 0);
	CHECK_EQ(fds_on(argv[2]), 1); /* opened again */
	CHECK_EQ(fds_on(argv[3]), 1);
	CHECK_EQ(at_sites_syms_in_place(), 1);
	printf("loaded_names: %zu names of each of 3 modules, before and after the descriptors' "
	       "replacement\n", NFNS);
	return 0;
}
