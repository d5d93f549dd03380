/*
 * An object's .symtab indexed by address (symtab.h).
 */
#include "sites/symtab.h"

#include <string.h>
#include <sys/mman.h>

static int fsym_before(const struct at_fsym *a, const struct at_fsym *b)
{
	return a->start < b->start || (a->start == b->start && a->global > b->global);
}

static void sift(struct at_fsym *v, size_t i, size_t n)
{
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			return;
		if (c + 1 < n && fsym_before(&v[c], &v[c + 1]))
			c++;
		if (!fsym_before(&v[i], &v[c]))
			return;
		struct at_fsym t = v[i];
		v[i] = v[c];
		v[c] = t;
		i = c;
	}
}

int at_symtab_read(const void *data, size_t size, struct at_symtab *t)
{
	const unsigned char *b = data;
	const Elf64_Ehdr *eh = data;
	memset(t, 0, sizeof(*t));
	if (size < sizeof(*eh) || memcmp(b, ELFMAG, SELFMAG) || b[EI_CLASS] != ELFCLASS64 ||
	    !eh->e_shoff)
		return 1;
	if (eh->e_shentsize != sizeof(Elf64_Shdr) || eh->e_shoff > size || eh->e_shoff % 8 ||
	    (size - eh->e_shoff) / sizeof(Elf64_Shdr) < eh->e_shnum)
		return AT_SYMTAB_CORRUPT;
	const Elf64_Shdr *sh = (const Elf64_Shdr *)(b + eh->e_shoff);
	unsigned int pick = eh->e_shnum; /* .symtab, else .dynsym (a stripped file) */
	for (unsigned int i = 0; i < eh->e_shnum; i++)
		if (sh[i].sh_type == SHT_SYMTAB ||
		    (sh[i].sh_type == SHT_DYNSYM && pick == eh->e_shnum))
			pick = i;
	if (pick < eh->e_shnum) {
		const Elf64_Shdr *sym = &sh[pick];
		if (sym->sh_link >= eh->e_shnum)
			return AT_SYMTAB_CORRUPT;
		const Elf64_Shdr *str = &sh[sym->sh_link];
		if (sym->sh_offset > size || sym->sh_size > size - sym->sh_offset ||
		    sym->sh_offset % 8 || str->sh_offset > size ||
		    str->sh_size > size - str->sh_offset || !str->sh_size)
			return AT_SYMTAB_CORRUPT;
		t->syms = (const Elf64_Sym *)(b + sym->sh_offset);
		t->nsyms = sym->sh_size / sizeof(Elf64_Sym);
		t->strtab = (const char *)(b + str->sh_offset);
		t->strsz = str->sh_size;
	}
	if (!t->syms)
		return 1;

	size_t n = 0;
	for (size_t i = 0; i < t->nsyms; i++) {
		const Elf64_Sym *sy = &t->syms[i];
		if (ELF64_ST_TYPE(sy->st_info) == STT_FUNC && sy->st_shndx != SHN_UNDEF &&
		    sy->st_name < t->strsz && sy->st_size)
			n++;
	}
	if (!n)
		return 1;
	size_t bytes = n * sizeof(struct at_fsym);
	struct at_fsym *v =
		mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (v == MAP_FAILED)
		return 1;
	size_t k = 0;
	for (size_t i = 0; i < t->nsyms && k < n; i++) {
		const Elf64_Sym *sy = &t->syms[i];
		if (ELF64_ST_TYPE(sy->st_info) != STT_FUNC || sy->st_shndx == SHN_UNDEF ||
		    sy->st_name >= t->strsz || !sy->st_size)
			continue;
		v[k].start = sy->st_value;
		v[k].end = sy->st_value + sy->st_size;
		v[k].name = (uint32_t)sy->st_name;
		v[k].global = ELF64_ST_BIND(sy->st_info) != STB_LOCAL;
		k++;
	}
	for (size_t i = n / 2; i-- > 0;)
		sift(v, i, n);
	for (size_t e = n; e-- > 1;) {
		struct at_fsym x = v[0];
		v[0] = v[e];
		v[e] = x;
		sift(v, 0, e);
	}
	t->funcs = v;
	t->nfuncs = n;
	t->bytes = bytes;
	return 0;
}

const char *at_symtab_name(const struct at_symtab *t, uintptr_t off, size_t *fi)
{
	size_t lo = 0, hi = t->nfuncs; /* first start > off */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->funcs[mid].start <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* the nearest starts at or below off; an enclosing one may lie further
	 * down (nested symbols are rare: look a few back) */
	for (size_t i = lo, tries = 0; i-- > 0 && tries < 8; tries++) {
		const struct at_fsym *f = &t->funcs[i];
		if (off >= f->start && off < f->end) {
			while (i > 0 && t->funcs[i - 1].start == f->start && t->funcs[i - 1].global)
				f = &t->funcs[--i]; /* the global alias first in order */
			const char *nm = t->strtab + f->name;
			*fi = i;
			return memchr(nm, 0, t->strsz - f->name) ? nm : NULL;
		}
	}
	return NULL;
}

void at_symtab_release(struct at_symtab *t)
{
	if (t->funcs)
		munmap(t->funcs, t->bytes);
	memset(t, 0, sizeof(*t));
}
