/*
 * Rules read from an object's file (src/sites/eh_file.h: a stride's FDEs
 * read in one piece and scanned, else the table's stretch and the FDE)
 * equal the rules read in place from its mapping (at_eh_rule), for every
 * FDE of every loaded object (this program, libc, the loader, libstdc++,
 * libgcc_s and libm opened for it: C and C++ CFI, personality and LSDA
 * augmentations), at each function's first byte, middle and last byte
 * and the byte after it (often no FDE: a stop).  Misses alternating
 * between two functions of this program, strides apart, read nothing once
 * both have been met (the file's blocks kept: at_eh_file_reads).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <string.h>

#include "check.h"
#include "eh_segment.h"
#include "sites/eh_file.h"
#include "sites/unwind.h"

static unsigned long compared, stops, objects;
static int alternated;

static int each(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	(void)arg;
	uintptr_t hdr;
	const ElfW(Phdr) *seg;
	if (!eh_segment(info, &hdr, &seg) || !info->dlpi_name || strstr(info->dlpi_name, "vdso"))
		return 0;
	CHECK(seg != NULL);
	uintptr_t lo = (info->dlpi_addr + seg->p_vaddr) & ~4095ul;
	uintptr_t hi = info->dlpi_addr + seg->p_vaddr + seg->p_memsz;
	const uint8_t *h = (const uint8_t *)hdr;
	CHECK_EQ(h[0], 1);
	CHECK_EQ(h[3], 0x3b); /* the table ld writes: datarel sdata4 pairs */
	uint32_t count;
	memcpy(&count, h + 8, 4);
	const int32_t *tab = (const int32_t *)(h + 12);
	objects++;
	for (uint32_t e = 0; e < count; e++) {
		uintptr_t start = hdr + (intptr_t)tab[2 * e];
		uintptr_t next = e + 1 < count ? hdr + (intptr_t)tab[2 * e + 2] : start + 1;
		uintptr_t pcs[4] = {start, start + (next - start) / 2, next - 1, next};
		for (int k = 0; k < 4; k++) {
			uint64_t in_place, from_file;
			int a = at_eh_rule((const uint8_t *)lo, hi - lo, h, pcs[k], &in_place);
			int b = at_eh_file_rule(info, h, pcs[k], &from_file);
			CHECK(b != AT_EH_MEMORY); /* read from the file */
			if (a != b || (!a && in_place != from_file)) {
				fprintf(stderr, "%s+0x%lx: in place %d %#llx, file %d %#llx\n",
					info->dlpi_name, (unsigned long)(pcs[k] - info->dlpi_addr), a,
					(unsigned long long)in_place, b, (unsigned long long)from_file);
				CHECK(0);
			}
			compared++;
			stops += a != 0;
		}
	}
	if (objects == 1 && count >= 4 * AT_EH_STRIDE) { /* this program */
		/* two functions strides apart, alternately: the second round of
		 * misses finds every byte it needs kept, and reads nothing */
		uintptr_t f[2] = {hdr + (intptr_t)tab[2 * (count / 4)],
				  hdr + (intptr_t)tab[2 * (3 * count / 4)]};
		uint64_t rule;
		for (int k = 0; k < 4; k++)
			at_eh_file_rule(info, h, f[k & 1] + (k >> 1), &rule);
		unsigned long reads = at_eh_file_reads();
		for (int k = 0; k < 8; k++)
			at_eh_file_rule(info, h, f[k & 1] + (k >> 1), &rule);
		CHECK_EQ(at_eh_file_reads() - reads, 0);
		alternated = 1;
	}
	return 0;
}

int main(void)
{
	const char *libs[] = {"libstdc++.so.6", "libgcc_s.so.1", "libm.so.6"};
	for (size_t i = 0; i < sizeof(libs) / sizeof(libs[0]); i++)
		CHECK(dlopen(libs[i], RTLD_NOW) != NULL);
	dl_iterate_phdr(each, NULL);
	CHECK(objects >= 6);
	CHECK(compared > 30000);
	CHECK(stops > 0 && stops < compared);
	CHECK(at_eh_file_objects() >= 6);
	CHECK(alternated);
	printf("eh_window: %lu addresses of %lu objects, %lu stops, the same rules\n", compared,
	       objects, stops);
	return 0;
}
