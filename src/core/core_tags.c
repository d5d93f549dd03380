/*
 * Finding the main executable's "alloc_tags" section at start-up.
 *
 * The linker's __start_alloc_tags/__stop_alloc_tags symbols are hidden in
 * each image, and shared objects' constructors run before the executable's,
 * so the runtime reads the section table of /proc/self/exe itself (section
 * headers survive `strip`) and adds the executable's load bias, found from
 * the program headers the kernel passed in the auxiliary vector.  No malloc:
 * pread into stack buffers (at_find_core_tags: a few reads, not one per
 * section).
 *
 * Most executables have no tags (every program run under the preload
 * library unmodified), and the file is read only when it could have: an
 * image that includes alloctag.h imports alloctag_register_image (its
 * per-image constructor), and tags are used through the runtime
 * (alloctag_hooks_key, alloctag_current_tag, the at_* calls), so an
 * executable with tags either links the runtime in (this code is then
 * inside the executable) or imports one of its symbols: an undefined
 * "alloctag_*" or "at_*" entry of its dynamic symbol table, which is
 * mapped (no system call).  The one exception, an executable built with
 * ALLOCTAG_NO_AUTO_REGISTER that hands its tags only to another library's
 * functions, registers them itself (alloctag_register_image).  Anything
 * this check cannot read reads the file.
 */
#include <elf.h>
#include <fcntl.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "core/tag_registry.h"

static int read_at(int fd, void *buf, size_t len, off_t off)
{
	ssize_t n = pread(fd, buf, len, off);
	return n == (ssize_t)len ? 0 : -1;
}

static uintptr_t load_bias(void)
{
	const Elf64_Phdr *ph = (const Elf64_Phdr *)getauxval(AT_PHDR);
	unsigned long n = getauxval(AT_PHNUM);
	for (unsigned long i = 0; ph && i < n; i++)
		if (ph[i].p_type == PT_PHDR)
			return (uintptr_t)ph - ph[i].p_vaddr;
	/* No PT_PHDR: use the first PT_LOAD that maps file offset 0. */
	for (unsigned long i = 0; ph && i < n; i++)
		if (ph[i].p_type == PT_LOAD && ph[i].p_offset == 0)
			return (uintptr_t)ph - ph[i].p_vaddr - sizeof(Elf64_Ehdr);
	return 0;
}

/* Whether name is one of the runtime's public symbols. */
static int runtime_name(const char *name)
{
	return !strncmp(name, "alloctag_", 9) || !strncmp(name, "at_", 3);
}

/* A dynamic entry's address: glibc's loader relocates the main executable's
 * in place, other loaders may not. */
static uintptr_t dyn_addr(uintptr_t v, uintptr_t bias)
{
	return v < bias ? v + bias : v;
}

/*
 * The number of dynamic symbols a DT_GNU_HASH table covers: past the
 * highest bucket's first symbol, its chain to the entry with the end bit.
 * (Undefined symbols mostly come first, unhashed, below symoffset, but an
 * undefined function whose address the executable takes is hashed.)
 */
static uint32_t gnu_symbols(const uint32_t *gnu)
{
	uint32_t nbuckets = gnu[0], symoffset = gnu[1], bloom_words = gnu[2];
	const uint32_t *buckets = gnu + 4 + 2 * (size_t)bloom_words; /* 64-bit bloom words */
	const uint32_t *chain = buckets + nbuckets;
	uint32_t last = 0;
	for (uint32_t b = 0; b < nbuckets; b++)
		if (buckets[b] > last)
			last = buckets[b];
	if (last < symoffset)
		return symoffset;
	while (!(chain[last - symoffset] & 1))
		last++;
	return last + 1;
}

/*
 * 0 when the executable cannot have tags the runtime is handed: the runtime
 * is not inside it and its dynamic symbol table imports none of the
 * runtime's symbols.  1 when it may (or when that cannot be told).
 */
static int may_have_tags(void)
{
	const Elf64_Phdr *ph = (const Elf64_Phdr *)getauxval(AT_PHDR);
	unsigned long n = getauxval(AT_PHNUM);
	uintptr_t bias = load_bias(), self = (uintptr_t)&may_have_tags;
	const Elf64_Dyn *dyn = NULL;
	for (unsigned long i = 0; ph && i < n; i++) {
		if (ph[i].p_type == PT_LOAD && self - (bias + ph[i].p_vaddr) < ph[i].p_memsz)
			return 1; /* linked into the executable */
		if (ph[i].p_type == PT_DYNAMIC)
			dyn = (const Elf64_Dyn *)(bias + ph[i].p_vaddr);
	}
	if (!dyn)
		return 1; /* static: only with the runtime linked in, checked above */
	const Elf64_Sym *sym = NULL;
	const char *str = NULL;
	const uint32_t *hash = NULL, *gnu = NULL;
	for (; dyn->d_tag != DT_NULL; dyn++) {
		uintptr_t v = dyn_addr(dyn->d_un.d_ptr, bias);
		switch (dyn->d_tag) {
		case DT_SYMTAB: sym = (const Elf64_Sym *)v; break;
		case DT_STRTAB: str = (const char *)v; break;
		case DT_HASH: hash = (const uint32_t *)v; break;
		case DT_GNU_HASH: gnu = (const uint32_t *)v; break;
		}
	}
	if (!sym || !str || (!gnu && !hash))
		return 1;
	uint32_t nsym = gnu ? gnu_symbols(gnu) : hash[1];
	for (uint32_t i = 1; i < nsym; i++)
		if (sym[i].st_shndx == SHN_UNDEF && runtime_name(str + sym[i].st_name))
			return 1;
	return 0;
}

/*
 * Section headers are read SHDR_BATCH at a time and the section-name
 * string table whole when it fits NAMES_MAX bytes (so a typical
 * executable costs open, three preads and close); a name beyond that is
 * read on its own.  Only an allocated PROGBITS section with an address can
 * be the tags'.
 */
#define SHDR_BATCH 32
#define NAMES_MAX 4096

int at_find_core_tags(struct alloc_tag **start, struct alloc_tag **stop)
{
	static const char want[] = "alloc_tags";
	if (!may_have_tags())
		return -1;
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int ret = -1;
	Elf64_Ehdr eh;
	Elf64_Shdr strsec, sh[SHDR_BATCH];
	char names[NAMES_MAX];
	if (read_at(fd, &eh, sizeof(eh), 0) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_shentsize != sizeof(Elf64_Shdr) ||
	    eh.e_shstrndx >= eh.e_shnum)
		goto out;
	if (read_at(fd, &strsec, sizeof(strsec), eh.e_shoff + (off_t)eh.e_shstrndx * sizeof(sh[0])))
		goto out;
	int have_names = strsec.sh_size <= NAMES_MAX &&
			 !read_at(fd, names, strsec.sh_size, strsec.sh_offset);
	for (unsigned int i = 0; i < eh.e_shnum; i += SHDR_BATCH) {
		unsigned int n = eh.e_shnum - i < SHDR_BATCH ? eh.e_shnum - i : SHDR_BATCH;
		if (read_at(fd, sh, n * sizeof(sh[0]), eh.e_shoff + (off_t)i * sizeof(sh[0])))
			goto out;
		for (unsigned int j = 0; j < n; j++) {
			const Elf64_Shdr *s = &sh[j];
			char name[sizeof(want)];
			if (s->sh_type != SHT_PROGBITS || !(s->sh_flags & SHF_ALLOC) || !s->sh_addr ||
			    s->sh_name >= strsec.sh_size)
				continue;
			if (have_names) {
				if (strsec.sh_size - s->sh_name < sizeof(want) ||
				    memcmp(names + s->sh_name, want, sizeof(want)))
					continue;
			} else if (read_at(fd, name, sizeof(name), strsec.sh_offset + s->sh_name) ||
				   memcmp(name, want, sizeof(want))) {
				continue;
			}
			uintptr_t bias = eh.e_type == ET_DYN ? load_bias() : 0;
			*start = (struct alloc_tag *)(bias + s->sh_addr);
			*stop = (struct alloc_tag *)(bias + s->sh_addr + s->sh_size);
			ret = 0;
			goto out;
		}
	}
out:
	close(fd);
	return ret;
}
