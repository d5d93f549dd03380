/*
 * libFuzzer target: the unwinder's CFI reader (at_eh_rule, sites/unwind.c)
 * on an object's readable span.  Input: a u32 offset of .eh_frame_hdr in
 * the span, an i32 call address relative to it, then the span's bytes
 * (copied to a buffer of exactly that size, so that any read outside it is
 * an AddressSanitizer report).  Property: 0 with a rule the walk can use
 * (CFA offset below 64 KiB, no key bits), else AT_EH_STOP or
 * AT_EH_CORRUPT with the stop rule; never a crash, a hang or UB.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sites/unwind.h"

#define R_STOP (1ull << 32)

/* The main thread's stack end, which the runtime's constructor sets
 * (startup/init.c); unwind.c's walk reads it, this target never walks. */
uintptr_t at_main_stack_end;

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
	if (r == 0 ? (rule & (R_STOP | 0xffffffffull)) || ((rule >> 34) & 0xffff) > 0xffff
		   : (r != AT_EH_STOP && r != AT_EH_CORRUPT) || rule != R_STOP)
		abort();
	free(span);
	return 0;
}
