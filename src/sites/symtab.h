/*
 * An object's .symtab (else its .dynsym: a stripped file) as outside input: its functions indexed by address,
 * read from a file held in memory (the runtime: a private read-only
 * mapping of the object's file, kept for the process's lifetime; the
 * fuzzer: a buffer).  Never through malloc.
 *
 * The index: the defined functions with a size (STT_FUNC, st_shndx !=
 * SHN_UNDEF, st_size > 0, a name inside the string table), sorted by start
 * address (heapsort: qsort may call malloc), a global name first among
 * aliases at one address, in an mmap'd array.
 *
 * A file that is not a 64-bit ELF file, or has neither table, has no
 * index.  A corrupt one (the section header table or the table or its string table
 * outside the file or misaligned, a string table link out of range) has
 * none either, and at_symtab_read says so, for its caller to say once.
 */
#ifndef AT_SYMTAB_H
#define AT_SYMTAB_H

#include <elf.h>
#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"

/* A function of .symtab: [start, end), its name's offset in .strtab. */
struct at_fsym {
	uintptr_t start, end;
	uint32_t name;
	uint32_t global;
};

struct at_symtab {
	const Elf64_Sym *syms;
	size_t nsyms;
	const char *strtab;
	size_t strsz;
	struct at_fsym *funcs; /* its defined functions, by address */
	size_t nfuncs;
	size_t bytes; /* of the funcs array */
};

#define AT_SYMTAB_CORRUPT (-1)

/* Index the .symtab of the ELF file [data, data + size) into t (which keeps
 * pointers into the data): 0; 1 when there is none (or no memory for the
 * index); AT_SYMTAB_CORRUPT. */
AT_HIDDEN int at_symtab_read(const void *data, size_t size, struct at_symtab *t);
/* The function of t holding file address off (its index in funcs in *fi:
 * aliases are its neighbours of the same start), or NULL. */
AT_HIDDEN const char *at_symtab_name(const struct at_symtab *t, uintptr_t off, size_t *fi);
/* Unmap t's index (the runtime keeps every index for good). */
AT_HIDDEN void at_symtab_release(struct at_symtab *t);

#endif
