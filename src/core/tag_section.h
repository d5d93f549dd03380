/*
 * An image's "alloc_tags" section, as outside input: finding it in an ELF
 * file's section headers, and checking a tag array against the image's
 * loaded segments before the registry writes to it or reads its strings.
 * Both read only what they are given and never allocate: the runtime uses
 * them at start-up (core_tags.c: /proc/self/exe through pread, the
 * segments from the auxiliary vector) and at dlopen (registration.c: the
 * object's segments from dl_iterate_phdr); fuzz/fuzz_elf_image.c gives
 * them a buffer.
 *
 * A sound tag array lies, 8-byte aligned and a whole number of tags, in one
 * writable loaded segment and outside the read-only-after-relocation range
 * (PT_GNU_RELRO); every tag's canon is NULL before registration (a fresh
 * mapping) and its function and file name (and module name, when set) are
 * strings that end inside readable segments.
 */
#ifndef AT_TAG_SECTION_H
#define AT_TAG_SECTION_H

#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"

#define AT_TAGS_CORRUPT (-1)

/* Read len bytes at file offset off into buf: 0, or -1 (short, error). */
typedef int (*at_elf_read_fn)(void *ctx, void *buf, size_t len, uint64_t off);

/* A file held in memory, and the read function over it (ctx: the struct). */
struct at_elf_mem {
	const void *data;
	size_t size;
};
AT_HIDDEN int at_elf_mem_read(void *ctx, void *buf, size_t len, uint64_t off);

/*
 * The address and size of section "alloc_tags" (an allocated PROGBITS
 * section with an address) in the ELF file read through rd; *dyn is
 * nonzero for an ET_DYN file (its addresses are relative to the load bias).
 * Returns 0; 1 when the file has no such section (or is not a 64-bit ELF
 * file); AT_TAGS_CORRUPT when its section headers cannot be read.  A few
 * reads, not one per section.
 */
AT_HIDDEN int at_elf_find_tags(at_elf_read_fn rd, void *ctx, uint64_t *addr, uint64_t *size,
			       int *dyn);
/* at_elf_find_tags on a file held in memory. */
AT_HIDDEN int at_elf_find_tags_mem(const void *data, size_t size, uint64_t *addr,
				   uint64_t *tsize, int *dyn);

/* One loaded segment (or PT_GNU_RELRO range) of an image, at run-time
 * addresses. */
#define AT_SPAN_R 4u     /* PF_R */
#define AT_SPAN_W 2u     /* PF_W */
#define AT_SPAN_RELRO 8u /* made read-only after relocation */
struct at_span {
	uintptr_t start, end;
	unsigned int flags;
};

/* The spans of an image's program headers ph[0 .. phnum) loaded at bias:
 * its PT_LOAD segments and PT_GNU_RELRO range, at most max of them. */
AT_HIDDEN unsigned int at_spans_of_phdrs(const void *ph, unsigned int phnum, uintptr_t bias,
					 struct at_span *spans, unsigned int max);
#define AT_SPANS_MAX 32

/*
 * Whether [start, stop) is a sound tag array of the image whose segments
 * are spans[0 .. n): NULL, or what is wrong with it (a phrase for the
 * message "NAME: corrupt alloc_tags section (WHAT); ...").  *placed is set
 * when the array itself lies where the runtime may write (so that a caller
 * may clear its canon fields).
 */
AT_HIDDEN const char *at_tags_check(const struct at_span *spans, unsigned int n, uintptr_t start,
				    uintptr_t stop, int *placed);

#endif
