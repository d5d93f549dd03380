/*
 * Start-up's check whether the executable may have tags (core_tags.c): an
 * executable imports the runtime's symbols when it was built with
 * alloctag.h, and its tags are looked for in its file only then.
 */
#ifndef AT_CORE_TAGS_H
#define AT_CORE_TAGS_H

#include <elf.h>
#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"

/* The most bytes of the symbol table's exports (and of a GNU hash table's
 * buckets) read in place; more are read from the file. */
#define AT_DYNSYM_IN_PLACE 16384u

/*
 * Whether the image whose program headers are ph[0 .. phnum), loaded at
 * bias, imports one of the runtime's symbols (an undefined "alloctag_*" or
 * "at_*" dynamic symbol), or may (also when that cannot be told): 1; 0 if
 * not.  The symbols past those the loader reads (the exports, a GNU hash
 * table's hashed part) and its buckets, when larger than in_place bytes,
 * are read from /proc/self/exe, not in place: the image must then be the
 * executable.
 */
AT_HIDDEN int at_imports_runtime(const Elf64_Phdr *ph, unsigned long phnum, uintptr_t bias,
				 size_t in_place);

#endif
