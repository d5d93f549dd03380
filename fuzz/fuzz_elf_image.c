/*
 * libFuzzer target: the runtime's readers of an ELF file (the input), as
 * start-up and dlopen use them: the section-header reader that finds
 * alloc_tags (at_elf_find_tags_mem), the check of the tag array against the
 * loaded segments (at_tags_check, core/tag_section.h), and the .symtab
 * index (at_symtab_read, at_symtab_name: sites/symtab.h).
 *
 * The file is loaded as the loader would: each PT_LOAD segment in a buffer
 * of its own (p_memsz bytes, the file's bytes then zeros), so that a read
 * outside the segments is an AddressSanitizer report, and the tags' pointers
 * that fall in a segment are relocated to its buffer (as R_X86_64_RELATIVE
 * relocations are).  Properties: an accepted tag array is used as
 * registration uses it (every name read whole, idx and canon written) with
 * no report; every index at_symtab_find gives is in the index and every
 * name at_symtab_name gives is a string in the buffer given;
 * never a crash, a hang or UB.
 */
#include <elf.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/tag_section.h"
#include "sites/symtab.h"

#define SEGS 16
#define SEG_MAX (1u << 20)

struct seg {
	uint64_t vaddr, memsz;
	unsigned char *buf;
};

static struct seg segs[SEGS];
static unsigned int nsegs;

static uintptr_t relocate(uint64_t v)
{
	for (unsigned int i = 0; i < nsegs; i++)
		if (v >= segs[i].vaddr && v - segs[i].vaddr < segs[i].memsz)
			return (uintptr_t)segs[i].buf + (uintptr_t)(v - segs[i].vaddr);
	return (uintptr_t)v; /* outside the object: left as it is, never read */
}

static void check_tags(const uint8_t *data, size_t size, const Elf64_Phdr *ph, unsigned int phnum)
{
	uint64_t addr, tsize;
	int dyn;
	if (at_elf_find_tags_mem(data, size, &addr, &tsize, &dyn) != 0)
		return;
	struct at_span spans[AT_SPANS_MAX];
	unsigned int n = 0;
	for (unsigned int i = 0; i < phnum && n < AT_SPANS_MAX; i++) {
		if (ph[i].p_type == PT_LOAD) {
			for (unsigned int k = 0; k < nsegs; k++)
				if (segs[k].vaddr == ph[i].p_vaddr && segs[k].memsz == ph[i].p_memsz) {
					spans[n].start = (uintptr_t)segs[k].buf;
					spans[n].end = (uintptr_t)segs[k].buf + segs[k].memsz;
					spans[n++].flags = ph[i].p_flags & (AT_SPAN_R | AT_SPAN_W);
					break;
				}
		} else if (ph[i].p_type == PT_GNU_RELRO) {
			uintptr_t s = relocate(ph[i].p_vaddr);
			spans[n].start = s;
			spans[n].end = s + ph[i].p_memsz;
			spans[n++].flags = AT_SPAN_RELRO;
		}
	}
	uintptr_t start = relocate(addr), stop = start + (uintptr_t)tsize;
	/* relocate the tags' pointers when the whole array is in one segment */
	for (unsigned int k = 0; k < nsegs; k++) {
		uintptr_t b = (uintptr_t)segs[k].buf;
		if (start < b || start - b > segs[k].memsz || tsize > segs[k].memsz - (start - b) ||
		    tsize % sizeof(struct alloc_tag) || start % 8)
			continue;
		for (struct alloc_tag *t = (struct alloc_tag *)start; t < (struct alloc_tag *)stop;
		     t++) {
			t->function = (const char *)relocate((uintptr_t)t->function);
			t->filename = (const char *)relocate((uintptr_t)t->filename);
			if (t->modname)
				t->modname = (const char *)relocate((uintptr_t)t->modname);
		}
		break;
	}
	int placed;
	if (at_tags_check(spans, n, start, stop, &placed))
		return;
	uint32_t idx = 2;
	volatile size_t sum = 0;
	for (struct alloc_tag *t = (struct alloc_tag *)start; t < (struct alloc_tag *)stop; t++) {
		sum += strlen(t->function) + strlen(t->filename);
		if (t->modname)
			sum += strlen(t->modname);
		t->idx = idx++;
		t->canon = t;
	}
}

static void check_symtab(const uint8_t *data, size_t size)
{
	struct at_elf_mem im = {data, size};
	struct at_symtab t;
	char name[64];
	if (at_symtab_read(at_elf_mem_read, &im, size, &t) != 0)
		return;
	for (size_t i = 0; i < t.nfuncs && i < 64; i++) {
		struct at_fsym f;
		long fi = at_symtab_find(&t, at_elf_mem_read, &im, at_symtab_start(&t, i) + i % 3, &f);
		if (fi < AT_SYMTAB_UNREAD || fi >= (long)t.nfuncs)
			abort();
		const char *nm = fi < 0 ? NULL : at_symtab_name(&t, at_elf_mem_read, &im, (size_t)fi, name,
								 sizeof(name));
		if (nm && (nm != name || !memchr(name, 0, sizeof(name))))
			abort();
	}
	struct at_fsym f;
	(void)at_symtab_find(&t, at_elf_mem_read, &im, 0, &f);
	(void)at_symtab_find(&t, at_elf_mem_read, &im, UINTPTR_MAX, &f);
	at_symtab_release(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	nsegs = 0;
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)data;
	const Elf64_Phdr *ph = NULL;
	unsigned int phnum = 0;
	Elf64_Phdr phs[64];
	if (size >= sizeof(*eh) && eh->e_phentsize == sizeof(Elf64_Phdr) && eh->e_phoff <= size &&
	    (size - eh->e_phoff) / sizeof(Elf64_Phdr) >= eh->e_phnum) {
		phnum = eh->e_phnum < 64 ? eh->e_phnum : 64;
		memcpy(phs, data + eh->e_phoff, phnum * sizeof(phs[0]));
		ph = phs;
	}
	size_t total = 0;
	for (unsigned int i = 0; i < phnum && nsegs < SEGS; i++) {
		if (ph[i].p_type != PT_LOAD || ph[i].p_memsz == 0 || ph[i].p_memsz > SEG_MAX ||
		    (total += ph[i].p_memsz) > 4 * SEG_MAX)
			continue;
		struct seg *s = &segs[nsegs++];
		s->vaddr = ph[i].p_vaddr;
		s->memsz = ph[i].p_memsz;
		s->buf = calloc(1, s->memsz);
		uint64_t n = ph[i].p_filesz < s->memsz ? ph[i].p_filesz : s->memsz;
		if (ph[i].p_offset <= size)
			memcpy(s->buf, data + ph[i].p_offset,
			       n < size - ph[i].p_offset ? n : size - ph[i].p_offset);
	}
	check_tags(data, size, ph, phnum);
	check_symtab(data, size);
	for (unsigned int i = 0; i < nsegs; i++)
		free(segs[i].buf);
	return 0;
}
