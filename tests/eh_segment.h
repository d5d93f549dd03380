/*
 * A loaded object's .eh_frame_hdr (its PT_GNU_EH_FRAME) and the PT_LOAD
 * segment that holds it, from its dl_iterate_phdr record (the unwinder's
 * file reader's tests).
 */
#ifndef TEST_EH_SEGMENT_H
#define TEST_EH_SEGMENT_H

#include <link.h>
#include <stdint.h>

/* 1 with *hdr the run-time address of info's .eh_frame_hdr and *seg the
 * PT_LOAD segment whose file bytes hold it (NULL: none); 0 when info has
 * no PT_GNU_EH_FRAME. */
static inline int eh_segment(const struct dl_phdr_info *info, uintptr_t *hdr,
			     const ElfW(Phdr) **seg)
{
	*hdr = 0;
	*seg = NULL;
	for (int i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_GNU_EH_FRAME)
			*hdr = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr;
	if (!*hdr)
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t s = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && *hdr >= s && *hdr < s + ph->p_filesz)
			*seg = ph;
	}
	return 1;
}

#endif
