/*
 * libFuzzer target: the unwinder's CFI readers on an object's readable
 * span.  Input: a u32 offset of .eh_frame_hdr in the span, an i32 call
 * address relative to it, then the span's bytes.
 *
 * The mapping's reader (at_eh_rule, sites/unwind.c) reads the span copied
 * to a buffer of exactly its size, so that any read outside it is an
 * AddressSanitizer report.  Property: 0 with a rule the walk can use (CFA
 * offset below 64 KiB, no key bits), else AT_EH_STOP or AT_EH_CORRUPT with
 * the stop rule; never a crash, a hang or UB.
 *
 * The file's reader (at_eh_file_rule, sites/eh_file.c) reads the same
 * bytes as an object's file: an ELF header and one read-only PT_LOAD
 * program header before the span, in a memfd opened by its /proc path,
 * the object loaded at an address never read (the reader reads the file
 * only), its records dropped before each input.  Property: 0 with a rule
 * the walk can use, else AT_EH_STOP, AT_EH_CORRUPT or AT_EH_MEMORY (the
 * mapping's reader asked to say); never a crash, a hang or UB.
 */
#define _GNU_SOURCE /* memfd_create */
#include <elf.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sites/eh_file.h"
#include "sites/unwind.h"

#define R_STOP (1ull << 32)
#define FILE_BASE 0x100000000000ull /* the object's load address: never read */

static int usable_rule(uint64_t rule)
{
	return !(rule & (R_STOP | 0xffffffffull)) && ((rule >> 34) & 0xffff) <= 0xffff;
}

/* The file's reader on span[0 .. n) (n > 0), .eh_frame_hdr at hdr_at. */
static void file_reader(const uint8_t *span, size_t n, size_t hdr_at, int32_t pc_rel)
{
	static int fd = -1;
	static char path[64];
	if (fd < 0) {
		fd = memfd_create("fuzz_eh_frame", MFD_CLOEXEC);
		if (fd < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	ElfW(Ehdr) eh;
	ElfW(Phdr) ph;
	memset(&eh, 0, sizeof(eh));
	memset(&ph, 0, sizeof(ph));
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_phoff = sizeof(eh);
	eh.e_phentsize = sizeof(ph);
	eh.e_phnum = 1;
	size_t at = sizeof(eh) + sizeof(ph);
	ph.p_type = PT_LOAD;
	ph.p_flags = PF_R;
	ph.p_filesz = ph.p_memsz = at + n;
	if (ftruncate(fd, 0) || pwrite(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh) ||
	    pwrite(fd, &ph, sizeof(ph), sizeof(eh)) != (ssize_t)sizeof(ph) ||
	    pwrite(fd, span, n, (off_t)at) != (ssize_t)n)
		abort();
	struct dl_phdr_info info;
	memset(&info, 0, sizeof(info));
	info.dlpi_addr = FILE_BASE;
	info.dlpi_name = path;
	info.dlpi_phdr = &ph;
	info.dlpi_phnum = 1;
	const uint8_t *hdr = (const uint8_t *)(uintptr_t)(FILE_BASE + at + hdr_at);
	at_eh_file_forget(); /* a record per input: its file changed */
	uint64_t rule = R_STOP;
	int r = at_eh_file_rule(&info, hdr, (uintptr_t)hdr + (uintptr_t)(intptr_t)pc_rel, &rule);
	if (r == 0 ? !usable_rule(rule) : r != AT_EH_STOP && r != AT_EH_CORRUPT && r != AT_EH_MEMORY)
		abort();
}

/* The main thread's stack end, which the runtime's constructor sets
 * (startup/init.c); unwind.c's walk reads it, this target never walks. */
uintptr_t at_main_stack_end;

/* The sites' pool (site_names.c), where unwind.c makes its first rule
 * table: this target reads rules without the cache, so a fixed arena
 * (NULL once spent, as the pool's is without memory) serves. */
void *at_sites_pool_alloc(size_t n)
{
	static _Alignas(64) char arena[1 << 16];
	static size_t used;
	n = (n + 7) & ~(size_t)7;
	if (n > sizeof(arena) - used)
		return NULL;
	used += n;
	return arena + used - n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 8)
		return -1;
	uint32_t hdr_off;
	int32_t pc_rel;
	memcpy(&hdr_off, data, 4);
	memcpy(&pc_rel, data + 4, 4);
	size_t n = size - 8;
	uint8_t *span = malloc(n ? n : 1);
	memcpy(span, data + 8, n);
	const uint8_t *hdr = hdr_off < n ? span + hdr_off : span; /* span: empty or hdr 0 */
	uint64_t rule = 0;
	int r = at_eh_rule(span, n, hdr, (uintptr_t)hdr + (uintptr_t)(intptr_t)pc_rel, &rule);
	if (r == 0 ? !usable_rule(rule) : (r != AT_EH_STOP && r != AT_EH_CORRUPT) || rule != R_STOP)
		abort();
	if (n)
		file_reader(span, n, (size_t)(hdr - span), pc_rel);
	free(span);
	return 0;
}
