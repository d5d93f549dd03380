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
 */
#include <elf.h>
#include <fcntl.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "core/message.h"
#include "core/tag_registry.h"
#include "core/tag_section.h"

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

static int pread_fn(void *ctx, void *buf, size_t len, uint64_t off)
{
	if (off > INT64_MAX)
		return -1;
	ssize_t n = pread(*(int *)ctx, buf, len, (off_t)off);
	return n == (ssize_t)len ? 0 : -1;
}

int at_find_core_tags(struct alloc_tag **start, struct alloc_tag **stop)
{
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	uint64_t addr, size;
	int dyn;
	int rc = at_elf_find_tags(pread_fn, &fd, &addr, &size, &dyn);
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
	unsigned int n = at_spans_of_phdrs((const void *)getauxval(AT_PHDR),
					   (unsigned int)getauxval(AT_PHNUM), bias, spans,
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
