/*
 * A loaded object's dynamic symbols indexed by address, answering exactly
 * what dladdr answers for an address of the object, without dladdr's
 * linear search of the whole .dynsym on every call.  Used for the
 * allocation layer's objects (libc, the loader, libstdc++...), whose files
 * are not indexed (site_names.h), so that naming a new return address in
 * them is a binary search.
 *
 * What dladdr picks (glibc's _dl_addr): among the symbols the object's hash
 * table lists (DT_GNU_HASH: bucket by bucket, each chain in order; else
 * DT_HASH: every symbol in order), those defined (not SHN_UNDEF, or with a
 * value), not SHN_ABS, not STT_TLS, with a name inside the string table,
 * and holding the address: value <= a < value + size, or a == value when
 * the size is 0 or the symbol undefined.  Of those, the one with the
 * highest value; among equal values the first met.
 *
 * The index: each such symbol's number in .dynsym (4 bytes), sorted by
 * value, equal values in the order dladdr meets them (a stable radix sort
 * by value), and for each block of AT_DYNSYM_BLOCK entries the highest end
 * (value + size, or value + 1) of the entries up to the block's last, in
 * the sites pool (never freed: the object's frames are named once; libc's
 * 3,000 symbols take 12 KiB).  A lookup binary-searches the last value <=
 * a and walks back while an entry at or before it could still hold a (its
 * block's highest end is above a).  Values, sizes and names are read from
 * the object's mapped .dynsym and .dynstr, which is what dladdr reads.
 *
 * No index (the caller falls back to dladdr): no dynamic section, symbol
 * or string table or hash table; an end at or above 4 GiB (file
 * addresses); no memory.
 */
#ifndef AT_DYNSYM_INDEX_H
#define AT_DYNSYM_INDEX_H

#include <elf.h>
#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"

#define AT_DYNSYM_BLOCK 16

struct at_dynsym {
	const Elf64_Sym *syms; /* the mapped .dynsym */
	const char *strs;      /* and .dynstr */
	uint32_t *v;           /* symbol numbers by value */
	uint32_t *blk;         /* each block's highest end so far */
	uint32_t n;
};

/* Index the object loaded at bias l_addr with dynamic section dyn, mapped
 * at [start, end): 0, or -1 (no index: use dladdr). */
AT_HIDDEN int at_dynsym_index(struct at_dynsym *d, uintptr_t l_addr, const Elf64_Dyn *dyn,
			      uintptr_t start, uintptr_t end);
/* The name dladdr gives run-time address a (bias l_addr), or NULL when no
 * symbol holds it. */
AT_HIDDEN const char *at_dynsym_find(const struct at_dynsym *d, uintptr_t l_addr, uintptr_t a);

#endif
