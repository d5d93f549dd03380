/*
 * The layer objects' dynamic-symbol index (src/sites/dynsym_index.h) names
 * every address of an object exactly as dladdr does: every loaded object
 * (libc, the loader, libm, libstdc++ and libgcc_s opened for it, this
 * program), at every symbol's start, end and neighbours and at every 11th
 * byte of its executable segments; the names of known libc functions;
 * an object opened, named, closed and opened again; no dynamic section.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <string.h>

#include "check.h"
#include "sites/dynsym_index.h"

static unsigned long compared, named;

static void same(const struct at_dynsym *d, const struct link_map *lm, uintptr_t a)
{
	Dl_info info;
	const char *want = dladdr((void *)a, &info) ? info.dli_sname : NULL;
	const char *got = at_dynsym_find(d, lm->l_addr, a);
	compared++;
	named += want != NULL;
	if (!want != !got || (want && strcmp(want, got))) {
		fprintf(stderr, "%s+0x%lx: dladdr %s, index %s\n", lm->l_name,
			(unsigned long)(a - lm->l_addr), want ? want : "(none)", got ? got : "(none)");
		CHECK(0);
	}
}

static int each(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	(void)arg;
	if (!info->dlpi_name || strstr(info->dlpi_name, "vdso"))
		return 0;
	struct dl_find_object fo;
	uintptr_t seg = 0;
	for (int i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_LOAD && (info->dlpi_phdr[i].p_flags & PF_X))
			seg = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr;
	if (!seg || _dl_find_object((void *)seg, &fo))
		return 0;
	struct link_map *lm = fo.dlfo_link_map;
	struct at_dynsym d;
	CHECK(at_dynsym_index(&d, lm->l_addr, lm->l_ld, (uintptr_t)fo.dlfo_map_start,
			      (uintptr_t)fo.dlfo_map_end) == 0);
	for (uint32_t i = 0; i < d.n; i++) {
		const Elf64_Sym *s = &d.syms[d.v[i]];
		uintptr_t v = lm->l_addr + s->st_value;
		for (uintptr_t a = v - 1; a <= v + 1; a++)
			same(&d, lm, a);
		same(&d, lm, v + s->st_size - 1);
		same(&d, lm, v + s->st_size);
	}
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		for (uintptr_t a = info->dlpi_addr + ph->p_vaddr;
		     a < info->dlpi_addr + ph->p_vaddr + ph->p_memsz; a += 11)
			same(&d, lm, a);
	}
	return 0;
}

/* The index's name of the address one byte into libc's fn. */
static const char *libc_name(void *libc, const char *fn)
{
	struct dl_find_object fo;
	char *p = dlsym(libc, fn);
	CHECK(p && !_dl_find_object(p, &fo));
	struct link_map *lm = fo.dlfo_link_map;
	struct at_dynsym d;
	CHECK(at_dynsym_index(&d, lm->l_addr, lm->l_ld, (uintptr_t)fo.dlfo_map_start,
			      (uintptr_t)fo.dlfo_map_end) == 0);
	return at_dynsym_find(&d, lm->l_addr, (uintptr_t)p + 1);
}

int main(void)
{
	void *cxx = dlopen("libstdc++.so.6", RTLD_NOW);
	void *gcc = dlopen("libgcc_s.so.1", RTLD_NOW);
	void *m = dlopen("libm.so.6", RTLD_NOW);
	CHECK(cxx && gcc && m);
	dl_iterate_phdr(each, NULL);
	CHECK(compared > 100000 && named > compared / 4);

	void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	CHECK(libc);
	CHECK(!strcmp(libc_name(libc, "qsort_r"), "qsort_r"));
	CHECK(!strcmp(libc_name(libc, "getpwnam_r"), "getpwnam_r"));
	CHECK(!strcmp(libc_name(libc, "mkstemp"), "mkstemp64")); /* the first of its aliases */

	/* an object opened, named, closed and opened again: named the same */
	for (int round = 0; round < 2; round++) {
		void *z = dlopen("libz.so.1", RTLD_NOW);
		CHECK(z);
		char *fn = dlsym(z, "inflateEnd");
		struct dl_find_object fo;
		CHECK(fn && !_dl_find_object(fn, &fo));
		struct link_map *lm = fo.dlfo_link_map;
		struct at_dynsym d;
		CHECK(!at_dynsym_index(&d, lm->l_addr, lm->l_ld, (uintptr_t)fo.dlfo_map_start,
				       (uintptr_t)fo.dlfo_map_end));
		CHECK(!strcmp(at_dynsym_find(&d, lm->l_addr, (uintptr_t)fn + 1), "inflateEnd"));
		CHECK(dlclose(z) == 0);
	}
	struct at_dynsym d;
	CHECK(at_dynsym_index(&d, 0, NULL, 0, 0) == -1);
	printf("dynsym_index: %lu addresses named as dladdr names them (%lu with a symbol)\n",
	       compared, named);
	return 0;
}
