/*
 * Finding the main executable's "alloc_tags" section at start-up.
 *
 * The linker's __start_alloc_tags/__stop_alloc_tags symbols are hidden in
 * each image, and shared objects' constructors run before the executable's,
 * so the runtime reads the section table of /proc/self/exe itself (section
 * headers survive `strip`) and adds the executable's load bias, found from
 * the program headers the kernel passed in the auxiliary vector.  No malloc:
 * pread into stack buffers.
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

int at_find_core_tags(struct alloc_tag **start, struct alloc_tag **stop)
{
	static const char want[] = "alloc_tags";
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int ret = -1;
	Elf64_Ehdr eh;
	Elf64_Shdr strsec, sh;
	if (read_at(fd, &eh, sizeof(eh), 0) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_shentsize != sizeof(Elf64_Shdr) ||
	    eh.e_shstrndx >= eh.e_shnum)
		goto out;
	if (read_at(fd, &strsec, sizeof(strsec), eh.e_shoff + (off_t)eh.e_shstrndx * sizeof(sh)))
		goto out;
	for (unsigned int i = 0; i < eh.e_shnum; i++) {
		char name[sizeof(want)];
		if (read_at(fd, &sh, sizeof(sh), eh.e_shoff + (off_t)i * sizeof(sh)))
			goto out;
		if (sh.sh_name >= strsec.sh_size ||
		    read_at(fd, name, sizeof(name), strsec.sh_offset + sh.sh_name))
			continue;
		if (memcmp(name, want, sizeof(want)) || !sh.sh_addr)
			continue;
		uintptr_t bias = eh.e_type == ET_DYN ? load_bias() : 0;
		*start = (struct alloc_tag *)(bias + sh.sh_addr);
		*stop = (struct alloc_tag *)(bias + sh.sh_addr + sh.sh_size);
		ret = 0;
		break;
	}
out:
	close(fd);
	return ret;
}
