/*
 * An image's "alloc_tags" section as outside input (tag_section.h).
 */
#include "core/tag_section.h"

#include <elf.h>
#include <string.h>

/*
 * Section headers are read SHDR_BATCH at a time and the section-name
 * string table whole when it fits NAMES_MAX bytes (so a typical
 * executable costs three reads); a name beyond that is read on its own.
 * Only an allocated PROGBITS section with an address can be the tags'.
 */
#define SHDR_BATCH 32
#define NAMES_MAX 4096

int at_elf_find_tags(at_elf_read_fn rd, void *ctx, uint64_t *addr, uint64_t *size, int *dyn)
{
	static const char want[] = "alloc_tags";
	Elf64_Ehdr eh;
	Elf64_Shdr strsec, sh[SHDR_BATCH];
	char names[NAMES_MAX];
	if (rd(ctx, &eh, sizeof(eh), 0) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64)
		return 1;
	if (!eh.e_shoff)
		return 1; /* no section headers */
	if (eh.e_shentsize != sizeof(Elf64_Shdr))
		return AT_TAGS_CORRUPT;
	uint64_t shnum = eh.e_shnum, strndx = eh.e_shstrndx;
	if (!shnum || strndx == SHN_XINDEX) { /* extended numbering: in section 0 */
		if (rd(ctx, sh, sizeof(sh[0]), eh.e_shoff))
			return AT_TAGS_CORRUPT;
		if (!shnum)
			shnum = sh[0].sh_size;
		if (strndx == SHN_XINDEX)
			strndx = sh[0].sh_link;
	}
	if (strndx >= shnum || shnum > (UINT64_MAX - eh.e_shoff) / sizeof(sh[0]) ||
	    rd(ctx, &strsec, sizeof(strsec), eh.e_shoff + strndx * sizeof(sh[0])))
		return AT_TAGS_CORRUPT;
	int have_names = strsec.sh_size <= NAMES_MAX &&
			 !rd(ctx, names, strsec.sh_size, strsec.sh_offset);
	for (uint64_t i = 0; i < shnum; i += SHDR_BATCH) {
		unsigned int n = shnum - i < SHDR_BATCH ? (unsigned int)(shnum - i) : SHDR_BATCH;
		if (rd(ctx, sh, n * sizeof(sh[0]), eh.e_shoff + i * sizeof(sh[0])))
			return AT_TAGS_CORRUPT;
		for (unsigned int j = 0; j < n; j++) {
			const Elf64_Shdr *s = &sh[j];
			char name[sizeof(want)];
			if (s->sh_type != SHT_PROGBITS || !(s->sh_flags & SHF_ALLOC) || !s->sh_addr ||
			    s->sh_name >= strsec.sh_size || strsec.sh_size - s->sh_name < sizeof(want))
				continue;
			if (have_names ? memcmp(names + s->sh_name, want, sizeof(want))
				       : strsec.sh_offset > UINT64_MAX - s->sh_name ||
						 rd(ctx, name, sizeof(name),
						    strsec.sh_offset + s->sh_name) ||
						 memcmp(name, want, sizeof(want)))
				continue;
			*addr = s->sh_addr;
			*size = s->sh_size;
			*dyn = eh.e_type == ET_DYN;
			return 0;
		}
	}
	return 1;
}

int at_elf_mem_read(void *ctx, void *buf, size_t len, uint64_t off)
{
	const struct at_elf_mem *m = ctx;
	if (off > m->size || len > m->size - off)
		return -1;
	memcpy(buf, (const unsigned char *)m->data + off, len);
	return 0;
}

int at_elf_find_tags_mem(const void *data, size_t size, uint64_t *addr, uint64_t *tsize,
			 int *dyn)
{
	struct at_elf_mem m = {data, size};
	return at_elf_find_tags(at_elf_mem_read, &m, addr, tsize, dyn);
}

unsigned int at_spans_of_phdrs(const void *phdrs, unsigned int phnum, uintptr_t bias,
			       struct at_span *spans, unsigned int max)
{
	const Elf64_Phdr *ph = phdrs;
	unsigned int n = 0;
	for (unsigned int i = 0; i < phnum && n < max; i++) {
		if (ph[i].p_type != PT_LOAD && ph[i].p_type != PT_GNU_RELRO)
			continue;
		uintptr_t s = bias + ph[i].p_vaddr;
		if (ph[i].p_memsz > UINTPTR_MAX - s)
			continue;
		spans[n].start = s;
		spans[n].end = s + ph[i].p_memsz;
		spans[n].flags = ph[i].p_type == PT_GNU_RELRO
					 ? AT_SPAN_RELRO
					 : ph[i].p_flags & (AT_SPAN_R | AT_SPAN_W);
		n++;
	}
	return n;
}

/* The span with all of `flags` holding [a, a + len), or NULL. */
static const struct at_span *span_of(const struct at_span *spans, unsigned int n, uintptr_t a,
				     uintptr_t len, unsigned int flags)
{
	for (unsigned int i = 0; i < n; i++)
		if ((spans[i].flags & flags) == flags && a >= spans[i].start &&
		    a < spans[i].end && len <= spans[i].end - a)
			return &spans[i];
	return NULL;
}

/* A string that ends inside the readable span holding it; *last: the span
 * the previous string was in (names of one object share one or two). */
static int string_ok(const struct at_span *spans, unsigned int n, const char *p,
		     const struct at_span **last)
{
	uintptr_t a = (uintptr_t)p;
	const struct at_span *s = *last;
	if (!s || a < s->start || a >= s->end)
		s = *last = span_of(spans, n, a, 1, AT_SPAN_R);
	return s && memchr(p, 0, s->end - a);
}

const char *at_tags_check(const struct at_span *spans, unsigned int n, uintptr_t start,
			  uintptr_t stop, int *placed)
{
	*placed = 0;
	if (stop < start)
		return "it ends before it starts";
	if (start % 8 || (stop - start) % sizeof(struct alloc_tag))
		return "not a whole number of aligned tags";
	if (!span_of(spans, n, start, stop - start, AT_SPAN_R | AT_SPAN_W))
		return "outside the writable segments";
	for (unsigned int i = 0; i < n; i++)
		if ((spans[i].flags & AT_SPAN_RELRO) && start < spans[i].end &&
		    stop > spans[i].start)
			return "in the read-only-after-relocation range";
	*placed = 1;
	const struct at_span *last = NULL;
	const char *fn = NULL, *file = NULL; /* checked already (runs share them) */
	for (const struct alloc_tag *t = (const struct alloc_tag *)start;
	     t < (const struct alloc_tag *)stop; t++) {
		if (t->canon)
			return "a tag is filled in already";
		int first = t == (const struct alloc_tag *)start;
		if (((first || t->function != fn) && !string_ok(spans, n, fn = t->function, &last)) ||
		    ((first || t->filename != file) &&
		     !string_ok(spans, n, file = t->filename, &last)) ||
		    (t->modname && !string_ok(spans, n, t->modname, &last)))
			return "a name outside the object";
	}
	return NULL;
}
