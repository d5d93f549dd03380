/*
 * An object's .symtab (else its .dynsym: a stripped file) as outside
 * input: its functions indexed by address, read through a read function
 * (core/tag_section.h's at_elf_read_fn: the runtime preads the object's
 * file, the fuzzer reads a buffer), in pieces: nothing of the file is
 * mapped, so none of it counts in the process's RSS (a mapping of cc1's
 * file kept its 2 MB of .dynsym and .dynstr resident); or, a .dynsym of
 * at most AT_SYMTAB_MAPPED_MAX bytes whose names are read in place, where
 * the loader mapped it (at_symtab_read_mapped).  Never through malloc.
 *
 * The index: the defined functions with a size (STT_FUNC, st_shndx !=
 * SHN_UNDEF, st_size > 0, a name inside the string table) whose extent
 * lies below 4 GiB (file addresses), sorted by start address, a global
 * name first among aliases at one address, in an mmap'd block of 6 bytes
 * and 2 bits an entry (8 and 2 bits past 65536 symbols: start, the
 * symbol's index in its table, its binding and whether its extent reaches
 * past the next start: its size and name read from the file when asked
 * for), or, when
 * its names may be read where the loader mapped them (a .dynsym whose
 * strings are loaded, at most AT_SYMTAB_MAPPED_MAX bytes), 12 bytes an
 * entry (start, size, name offset with the binding in bit 31: nothing
 * read but names).  cc1's 27k functions: 166 KiB, not 318.  The sort
 * (qsort may call malloc) is of 8-byte keys (start, binding, place) in an
 * mmap'd scratch: a radix sort, most significant digit first (the first
 * of up to 9 bits, about a bucket a key, then bytes), in place, buckets of
 * 32 keys or fewer by insertion;
 * when two keys have the same start and binding (aliases of one binding),
 * a heapsort sifting bottom-up instead, whose order among them decides
 * which alias names the function (so the order is always the heapsort's:
 * with distinct keys there is only one).  Names are read from the string table when
 * asked for (at_symtab_name), or found in it where it is mapped
 * (at_symtab_name_mapped: a .dynsym's strings as the loader mapped them).
 *
 * A file that is not a 64-bit ELF file, or has neither table, or a string
 * table of 2 GiB or more, has no index.  A corrupt one (the section header
 * table or the table or its string table outside the file or misaligned, a
 * string table link out of range) has none either, and at_symtab_read says
 * so, for its caller to say once.
 */
#ifndef AT_SYMTAB_H
#define AT_SYMTAB_H

#include <elf.h>
#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"
#include "core/tag_section.h"

#define AT_FSYM_GLOBAL 0x80000000u
/* A string table read in place at most this long (site_names.c) */
#define AT_SYMTAB_MAPPED_MAX (64u << 10)

/* A function: [start, start + size), its name's offset in the string
 * table | AT_FSYM_GLOBAL when it is not local. */
struct at_fsym {
	uint32_t start, size;
	uint32_t name;
};

/* The symbols' indexes an index by reference keeps in 16 bits (else 32). */
#define AT_FREF_NARROW 65536u
#define AT_FREF_MAX 0x7fffffffu

struct at_symtab {
	uint64_t stroff;  /* the string table's file offset */
	uint32_t strsz;   /* and size */
	uint64_t straddr; /* and address when the table is .dynsym and its
			   * strings are loaded (SHF_ALLOC), else 0 */
	uint64_t symoff;  /* the symbol table's file offset */
	/* its defined functions, by address: at_fsym's, else (refs) their
	 * starts (uint32_t), their symbols' indexes (uint16_t when narrow,
	 * else uint32_t), a bitmap of the global ones and one of those whose
	 * extent reaches past the next function's start (an enclosing
	 * symbol, an alias: the others' end at or before it, so a lookup
	 * reads no symbol of theirs but the nearest's), one after another */
	void *funcs;
	size_t nfuncs;
	size_t bytes; /* of the funcs mapping (0: in the sites' pool) */
	int refs, narrow;
};

/* The bytes of t's funcs. */
static inline size_t at_symtab_size(const struct at_symtab *t)
{
	size_t n = t->nfuncs;
	return t->refs ? n * (4 + (t->narrow ? 2 : 4)) + 2 * ((n + 7) / 8) : n * sizeof(struct at_fsym);
}

/* Bit fi of the refs' bitmap k (0: global, 1: past the next start). */
static inline int at_symtab_bit(const struct at_symtab *t, unsigned int k, size_t fi)
{
	size_t n = t->nfuncs;
	const uint8_t *b = (const uint8_t *)t->funcs + n * (4 + (t->narrow ? 2 : 4)) + k * ((n + 7) / 8);
	return b[fi >> 3] >> (fi & 7) & 1;
}

/* The start of function fi of t. */
static inline uint32_t at_symtab_start(const struct at_symtab *t, size_t fi)
{
	return t->refs ? ((const uint32_t *)t->funcs)[fi] : ((const struct at_fsym *)t->funcs)[fi].start;
}

/* Whether function fi of t is not local. */
static inline int at_symtab_global(const struct at_symtab *t, size_t fi)
{
	return t->refs ? at_symtab_bit(t, 0, fi)
		       : !!(((const struct at_fsym *)t->funcs)[fi].name & AT_FSYM_GLOBAL);
}

#define AT_SYMTAB_CORRUPT (-1)

/* Index the .symtab (else .dynsym) of the ELF file of `size` bytes read
 * through rd into t: 0; 1 when there is none (or no memory for the index);
 * AT_SYMTAB_CORRUPT. */
AT_HIDDEN int at_symtab_read(at_elf_read_fn rd, void *ctx, uint64_t size, struct at_symtab *t);
/* The table sym (a .dynsym of at most AT_SYMTAB_MAPPED_MAX bytes, whose
 * names, str, are read in place) where the loader mapped it, or NULL. */
typedef const Elf64_Sym *(*at_syms_mapped_fn)(void *mctx, const Elf64_Shdr *sym,
					     const Elf64_Shdr *str);
/* The same, a table that mapped(mctx, ...) finds read there, not through
 * rd: its pages are the loader's, resident as its string table's (no
 * system call, no copy). */
AT_HIDDEN int at_symtab_read_mapped(at_elf_read_fn rd, void *ctx, uint64_t size,
				    struct at_symtab *t, at_syms_mapped_fn mapped, void *mctx);
/* Function fi of t in *f (its symbol read through rd when t's entries
 * are references): 0, or -1 (unreadable). */
AT_HIDDEN int at_symtab_func(const struct at_symtab *t, at_elf_read_fn rd, void *ctx, size_t fi,
			     struct at_fsym *f);
/* The function of t holding file address off (the global alias first):
 * its index in funcs (aliases are its neighbours of the same start), the
 * function in *f; or -1, or AT_SYMTAB_UNREAD (a symbol read through rd,
 * as at_symtab_func reads it, failed). */
#define AT_SYMTAB_UNREAD (-2)
AT_HIDDEN long at_symtab_find(const struct at_symtab *t, at_elf_read_fn rd, void *ctx,
			      uintptr_t off, struct at_fsym *f);
/* Function f's name (f as at_symtab_func gives it), read through rd into
 * buf (size bytes, cut to fit), or NULL (unreadable, or not ended inside
 * the string table); the same from the string table mapped at strs. */
AT_HIDDEN const char *at_symtab_fname(const struct at_symtab *t, at_elf_read_fn rd, void *ctx,
				      const struct at_fsym *f, char *buf, size_t size);
AT_HIDDEN const char *at_symtab_fname_mapped(const struct at_symtab *t, const char *strs,
					     const struct at_fsym *f, char *buf, size_t size);
/* Function fi's name, read through rd into buf (size bytes, cut to fit),
 * or NULL (unreadable, or not ended inside the string table). */
AT_HIDDEN const char *at_symtab_name(const struct at_symtab *t, at_elf_read_fn rd, void *ctx,
				     size_t fi, char *buf, size_t size);
/* The same name from the string table mapped at strs (the table's bytes,
 * as loaded; t's entries not references): a pointer into it, or the
 * name cut into buf (size bytes). */
AT_HIDDEN const char *at_symtab_name_mapped(const struct at_symtab *t, const char *strs,
					    size_t fi, char *buf, size_t size);
/* Unmap t's index (the runtime keeps every index for good). */
AT_HIDDEN void at_symtab_release(struct at_symtab *t);

#endif
