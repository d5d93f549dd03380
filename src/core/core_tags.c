/*
 * Finding the main executable's "alloc_tags" section at start-up.
 *
 * The linker's __start_alloc_tags/__stop_alloc_tags symbols are hidden in
 * each image, and shared objects' constructors run before the executable's,
 * so the runtime reads the section table of /proc/self/exe itself (section
 * headers survive `strip`) and adds the executable's load bias, found from
 * the program headers the kernel passed in the auxiliary vector.  No malloc:
 * pread into stack buffers (the reading and the checks: tag_section.h).  A
 * section header table that cannot be read, or a section that is not a
 * sound tag array of the loaded executable, is said once and the main
 * program's tags are not indexed at start-up: the constructor alloctag.h
 * emits registers them like a shared object's (with the linker's bounds),
 * and allocations before it runs are not charged.
 *
 * Most executables have no tags (every program run under the preload
 * library unmodified), and the file is read only when it could have: an
 * image that includes alloctag.h imports alloctag_register_image (its
 * per-image constructor), and tags are used through the runtime
 * (alloctag_hooks_key, alloctag_current_tag, the at_* calls), so an
 * executable with tags either links the runtime in (this code is then
 * inside the executable) or imports one of its symbols: an undefined
 * "alloctag_*" or "at_*" entry of its dynamic symbol table, which is
 * mapped (no system call for a small table; a large one's exports are
 * read from the file: at_imports_runtime below).  The one exception, an executable built with
 * ALLOCTAG_NO_AUTO_REGISTER that hands its tags only to another library's
 * functions, registers them itself (alloctag_register_image).  Anything
 * this check cannot read reads the file.
 *
 * The check costs a test per dynamic symbol, and large executables export
 * thousands (bash 2578, python3 2211: 27k instructions at every start).
 * Undefined symbols sit below DT_GNU_HASH's symoffset, unhashed, except an
 * undefined function whose address a non-PIC executable takes (it is
 * hashed, for pointer equality).  So with a GNU hash table of more than
 * AT_SCAN_BUCKETS buckets, start-up tests the unhashed symbols one by one
 * (their names from the file when the table is large, as below) and
 * searches the hashed ones for the runtime's own public names, looked up
 * in the executable's table (its bloom filter, then a bucket: a few words
 * read in place): the runtime's exported symbols (its own dynamic symbol
 * table, through _DYNAMIC), with the hashes its own table keeps for them.
 * at_imports_runtime, the test of every symbol, is the fallback.
 */
#include <elf.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "core/control.h"
#include "core/core_tags.h"
#include "core/gnu_hash.h"
#include "core/message.h"
#include "core/read_at.h"
#include "core/tag_registry.h"
#include "core/tag_section.h"

static uintptr_t load_bias(void)
{
	const Elf64_Phdr *ph = (const Elf64_Phdr *)at_auxval(AT_PHDR);
	unsigned long n = at_auxval(AT_PHNUM);
	for (unsigned long i = 0; ph && i < n; i++)
		if (ph[i].p_type == PT_PHDR)
			return (uintptr_t)ph - ph[i].p_vaddr;
	/* No PT_PHDR: use the first PT_LOAD that maps file offset 0. */
	for (unsigned long i = 0; ph && i < n; i++)
		if (ph[i].p_type == PT_LOAD && ph[i].p_offset == 0)
			return (uintptr_t)ph - ph[i].p_vaddr - sizeof(Elf64_Ehdr);
	return 0;
}

/* Whether name is one of the runtime's public symbols.  Byte by byte, no
 * strncmp: this runs on every undefined symbol of every executable at
 * start-up, and most names fail at their first byte (a libc call would be
 * bound by the loader and its text paged in for this alone). */
static int runtime_name(const char *name)
{
	static const char pre[] = "alloctag_";
	if (name[0] != 'a')
		return 0;
	if (name[1] == 't' && name[2] == '_')
		return 1;
	for (unsigned int i = 1; i < sizeof(pre) - 1; i++)
		if (name[i] != pre[i])
			return 0;
	return 1;
}

/* A dynamic entry's address: glibc's loader relocates the main executable's
 * in place, other loaders may not. */
static uintptr_t dyn_addr(uintptr_t v, uintptr_t bias)
{
	return v < bias ? v + bias : v;
}

/*
 * Reading the dynamic symbol table without paging it in.  The undefined
 * symbols of a GNU-hashed table mostly come first, unhashed, below its
 * symoffset: the loader reads them (and their names) to bind them, so they
 * are read in place.  The hashed part is the executable's exports (an
 * executable linked with -rdynamic, like gcc's cc1, exports 28,000
 * symbols: 680 KB of .dynsym and 100 KB of buckets) with, here and there,
 * an undefined function whose address the executable takes (60 of cc1's
 * 498).  Read in place, every 64 KiB window of it fault-around touches
 * would stay mapped for the process's life (cc1: +384 KiB); past
 * AT_DYNSYM_IN_PLACE bytes it is read from /proc/self/exe instead, in
 * DYNSYM_CHUNK pieces into a stack buffer (the file offset from the
 * PT_LOAD that maps it), with the names of all its undefined entries.
 */
#define DYNSYM_CHUNK 8192u

struct dynscan {
	const Elf64_Phdr *ph;
	unsigned long phnum;
	uintptr_t bias;
	int fd; /* /proc/self/exe once opened, -1 before, -2 when it cannot be */
};

/* The file offset of len bytes at run-time address a, if one PT_LOAD maps
 * them from the file; 0 if none does. */
static int file_off(const struct dynscan *d, uintptr_t a, size_t len, uint64_t *off)
{
	for (unsigned long i = 0; i < d->phnum; i++) {
		const Elf64_Phdr *p = &d->ph[i];
		uintptr_t v = d->bias + p->p_vaddr;
		if (p->p_type == PT_LOAD && a >= v && a - v <= p->p_filesz && len <= p->p_filesz - (a - v)) {
			*off = p->p_offset + (a - v);
			return 1;
		}
	}
	return 0;
}

/* len bytes at run-time address a, read from the file; 0, else -1. */
static int read_mapped(struct dynscan *d, void *buf, uintptr_t a, size_t len)
{
	uint64_t off;
	if (!file_off(d, a, len, &off))
		return -1;
	if (d->fd == -1)
		d->fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (d->fd < 0) {
		d->fd = -2;
		return -1;
	}
	return at_read_fd(&d->fd, buf, len, off);
}

/*
 * The number of dynamic symbols a DT_GNU_HASH table covers: past the
 * highest bucket's first symbol, its chain to the entry with the end bit.
 * Buckets of more than AT_DYNSYM_IN_PLACE bytes are read from the file;
 * 0 if they cannot be.
 */
static uint32_t gnu_symbols(struct dynscan *d, const uint32_t *gnu, size_t in_place)
{
	uint32_t nbuckets = gnu[0];
	if ((size_t)nbuckets * 4 <= in_place)
		return at_gnu_end(gnu);
	const uint32_t *buckets = at_gnu_buckets(gnu);
	uint32_t buf[DYNSYM_CHUNK / 4], last = 0;
	for (uint32_t b = 0; b < nbuckets;) {
		uint32_t k = nbuckets - b < DYNSYM_CHUNK / 4 ? nbuckets - b : DYNSYM_CHUNK / 4;
		if (read_mapped(d, buf, (uintptr_t)(buckets + b), (size_t)k * 4))
			return 0;
		for (uint32_t i = 0; i < k; i++)
			if (buf[i] > last)
				last = buf[i];
		b += k;
	}
	return at_gnu_end_from(gnu, last);
}

/*
 * Whether dynamic symbol s is an import of the runtime's.  Its name is read
 * in place, or from the file (from_file): in a large table the undefined
 * entries' names are spread over the string table (cc1's 498 over its 1.3
 * MB), and in place each would map a 64 KiB window the loader did not read
 * (weak imports never bound, functions bound lazily and never called: four
 * windows of cc1's).  -1 when the name cannot be read.
 */
static int runtime_import(struct dynscan *d, const Elf64_Sym *s, const char *str, int from_file)
{
	if (s->st_shndx != SHN_UNDEF)
		return 0;
	if (!from_file)
		return runtime_name(str + s->st_name);
	char name[sizeof("alloctag_")];
	uintptr_t a = (uintptr_t)(str + s->st_name);
	size_t len = sizeof(name);
	while (len > 1 && read_mapped(d, name, a, len))
		len /= 2; /* the end of the segment */
	if (len <= 1)
		return -1;
	name[len - 1] = '\0'; /* a shorter name ends in the buffer */
	return runtime_name(name);
}

/* The dynamic tables of an image: symbols, names, GNU hash (NULL if none),
 * SysV hash (NULL if none). */
struct dyn_tables {
	const Elf64_Sym *sym;
	const char *str;
	const uint32_t *gnu, *hash;
};

static void dyn_tables(const Elf64_Dyn *dyn, uintptr_t bias, struct dyn_tables *t)
{
	t->sym = NULL;
	t->str = NULL;
	t->gnu = t->hash = NULL;
	/* DT_HASH is read only without DT_GNU_HASH: done when the other three
	 * are found (most executables list them among their first entries) */
	for (; dyn->d_tag != DT_NULL && !(t->sym && t->str && t->gnu); dyn++) {
		uintptr_t v = dyn_addr(dyn->d_un.d_ptr, bias);
		switch (dyn->d_tag) {
		case DT_SYMTAB: t->sym = (const Elf64_Sym *)v; break;
		case DT_STRTAB: t->str = (const char *)v; break;
		case DT_HASH: t->hash = (const uint32_t *)v; break;
		case DT_GNU_HASH: t->gnu = (const uint32_t *)v; break;
		}
	}
}

/* The dynamic section of the image whose program headers are ph (at load
 * bias bias), or NULL (a static image). */
static const Elf64_Dyn *dynamic_of(const Elf64_Phdr *ph, unsigned long phnum, uintptr_t bias)
{
	for (unsigned long i = 0; ph && i < phnum; i++)
		if (ph[i].p_type == PT_DYNAMIC)
			return (const Elf64_Dyn *)(bias + ph[i].p_vaddr);
	return NULL;
}

int at_imports_runtime(const Elf64_Phdr *ph, unsigned long phnum, uintptr_t bias, size_t in_place)
{
	struct dynscan d = {ph, phnum, bias, -1};
	const Elf64_Dyn *dyn = dynamic_of(ph, phnum, bias);
	if (!dyn)
		return 1; /* static: only with the runtime linked in */
	struct dyn_tables t;
	dyn_tables(dyn, bias, &t);
	const Elf64_Sym *sym = t.sym;
	const char *str = t.str;
	const uint32_t *hash = t.hash, *gnu = t.gnu;
	if (!sym || !str || (!gnu && !hash))
		return 1;
	uint32_t nsym = gnu ? gnu_symbols(&d, gnu, in_place) : hash[1];
	uint32_t i = 1, unhashed = !gnu ? 1 : gnu[1] < nsym ? gnu[1] : nsym;
	if (!nsym)
		return 1; /* cannot be told */
	/* The entries the loader reads (a GNU table's unhashed imports) in
	 * place; the exports and the names of a large table from the file. */
	int from_file = (size_t)(nsym - unhashed) * sizeof(Elf64_Sym) > in_place ||
			(gnu && (size_t)gnu[0] * 4 > in_place);
	int found = 0;
	for (; !found && i < unhashed; i++)
		found = runtime_import(&d, &sym[i], str, from_file);
	for (; !found && !from_file && i < nsym; i++)
		found = runtime_import(&d, &sym[i], str, 0);
	while (!found && i < nsym) {
		Elf64_Sym buf[DYNSYM_CHUNK / sizeof(Elf64_Sym)];
		uint32_t k = nsym - i < DYNSYM_CHUNK / sizeof(Elf64_Sym) ? nsym - i
									  : DYNSYM_CHUNK / sizeof(Elf64_Sym);
		if (read_mapped(&d, buf, (uintptr_t)&sym[i], (size_t)k * sizeof(Elf64_Sym))) {
			found = -1;
			break;
		}
		for (uint32_t j = 0; !found && j < k; j++)
			found = runtime_import(&d, &buf[j], str, 1);
		i += k;
	}
	if (d.fd >= 0)
		close(d.fd);
	return found != 0; /* -1: cannot be told */
}

static int same_name(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

/* name, whose GNU hash is h, is an undefined symbol of t's hashed ones. */
static int gnu_undefined(const struct dyn_tables *t, const char *name, uint32_t h)
{
	const uint32_t *gnu = t->gnu;
	uint32_t nbuckets = gnu[0], symoffset = gnu[1], words = gnu[2], shift = gnu[3];
	const uint64_t *bloom = (const uint64_t *)(gnu + 4);
	uint64_t w = bloom[(h / 64) % words];
	if (!((w >> (h % 64)) & (w >> ((h >> shift) % 64)) & 1))
		return 0;
	const uint32_t *buckets = at_gnu_buckets(gnu), *chain = at_gnu_chain(gnu);
	uint32_t i = buckets[h % nbuckets];
	if (i < symoffset)
		return 0; /* an empty bucket */
	for (;; i++) {
		uint32_t c = chain[i - symoffset];
		if ((c | 1) == (h | 1) && t->sym[i].st_shndx == SHN_UNDEF &&
		    same_name(t->str + t->sym[i].st_name, name))
			return 1;
		if (c & 1)
			return 0;
	}
}

/* Set by the linker in every image that has them; weak: a static program
 * has no _DYNAMIC (and links the runtime in: never asked). */
extern const Elf64_Dyn _DYNAMIC[] __attribute__((weak, visibility("hidden")));
extern const char __ehdr_start[] __attribute__((weak, visibility("hidden")));

/*
 * Whether a public name of the runtime is among exe's hashed undefined
 * symbols: 1 or 0, or -1 when the runtime's own tables cannot be read.
 * The runtime's GNU hash chain keeps each name's hash but for its lowest
 * bit (the chain's end mark): both values are tried.
 */
static int hashed_runtime_names(const struct dyn_tables *exe)
{
	if (!_DYNAMIC || !__ehdr_start)
		return -1;
	struct dyn_tables own;
	dyn_tables(_DYNAMIC, (uintptr_t)__ehdr_start, &own);
	if (!own.sym || !own.str || !own.gnu)
		return -1;
	uint32_t symoffset = own.gnu[1], nsym = at_gnu_end(own.gnu);
	const uint32_t *chain = at_gnu_chain(own.gnu);
	for (uint32_t i = symoffset; i < nsym; i++) {
		const char *name = own.str + own.sym[i].st_name;
		if (own.sym[i].st_shndx == SHN_UNDEF || !runtime_name(name))
			continue;
		uint32_t h = chain[i - symoffset] & ~1u;
		if (gnu_undefined(exe, name, h) || gnu_undefined(exe, name, h | 1))
			return 1;
	}
	return 0;
}

/* Above this many buckets, hashed symbols are looked up, not tested. */
#define AT_SCAN_BUCKETS 64

/*
 * Start-up's check of a large GNU-hashed table: its unhashed symbols tested
 * one by one, its hashed ones searched for the runtime's names.  1 or 0;
 * -1 for a table this does not apply to or that cannot be read (then
 * at_imports_runtime tests every symbol).
 */
static int hashed_imports(const Elf64_Phdr *ph, unsigned long phnum, uintptr_t bias)
{
	const Elf64_Dyn *dyn = dynamic_of(ph, phnum, bias);
	if (!dyn)
		return -1;
	struct dyn_tables t;
	dyn_tables(dyn, bias, &t);
	if (!t.sym || !t.str || !t.gnu || t.gnu[0] <= AT_SCAN_BUCKETS || !t.gnu[2])
		return -1;
	struct dynscan d = {ph, phnum, bias, -1};
	int from_file = (size_t)t.gnu[0] * 4 > AT_DYNSYM_IN_PLACE;
	int found = 0;
	for (uint32_t i = 1; !found && i < t.gnu[1]; i++)
		found = runtime_import(&d, &t.sym[i], t.str, from_file);
	if (d.fd >= 0)
		close(d.fd);
	return found ? found : hashed_runtime_names(&t);
}

/*
 * 0 when the executable cannot have tags the runtime is handed: the runtime
 * is not inside it and its dynamic symbol table imports none of the
 * runtime's symbols.  1 when it may (or when that cannot be told).
 */
static int may_have_tags(void)
{
	const Elf64_Phdr *ph = (const Elf64_Phdr *)at_auxval(AT_PHDR);
	unsigned long n = at_auxval(AT_PHNUM);
	uintptr_t bias = load_bias(), self = (uintptr_t)&may_have_tags;
	for (unsigned long i = 0; ph && i < n; i++)
		if (ph[i].p_type == PT_LOAD && self - (bias + ph[i].p_vaddr) < ph[i].p_memsz)
			return 1; /* linked into the executable */
	int r = hashed_imports(ph, n, bias);
	return r >= 0 ? r : at_imports_runtime(ph, n, bias, AT_DYNSYM_IN_PLACE);
}
int at_find_core_tags(struct alloc_tag **start, struct alloc_tag **stop)
{
	if (!may_have_tags())
		return -1;
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	uint64_t addr, size;
	int dyn;
	int rc = at_elf_find_tags(at_read_fd, &fd, &addr, &size, &dyn);
	close(fd);
	if (rc == 1)
		return -1; /* no tags */
	char path[256];
	ssize_t k = readlink("/proc/self/exe", path, sizeof(path) - 1);
	path[k > 0 ? k : 0] = '\0';
	if (rc) {
		at_msg("%s: corrupt section headers; the main program's tags are left to its "
		       "constructor",
		       path);
		return -1;
	}
	uintptr_t bias = dyn ? load_bias() : 0;
	struct at_span spans[AT_SPANS_MAX];
	unsigned int n = at_spans_of_phdrs((const void *)at_auxval(AT_PHDR),
					   (unsigned int)at_auxval(AT_PHNUM), bias, spans,
					   AT_SPANS_MAX);
	int placed;
	const char *why = addr > UINTPTR_MAX - bias || size > UINTPTR_MAX - bias - addr
				  ? "outside the address space"
				  : at_tags_check(spans, n, bias + addr, bias + addr + size, &placed);
	if (why) {
		at_msg("%s: corrupt alloc_tags section (%s); the main program's tags are left to "
		       "its constructor",
		       path, why);
		return -1;
	}
	*start = (struct alloc_tag *)(bias + addr);
	*stop = (struct alloc_tag *)(bias + addr + size);
	return 0;
}
