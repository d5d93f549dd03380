/*
 * Whether the memo's inline check gathers (chains.h: at_memo_gathers): on
 * x86-64, the stack words of a 4- or 7-word entry are loaded by AVX2's
 * vpgatherqq and compared with the entry's in one vector compare when the
 * CPU has AVX2 and the OS keeps the YMM registers' state (XCR0's SSE and
 * AVX bits); else the entries take the scalar shapes.  Asked once, when a
 * thread first keeps a chain in its memo (a program that never makes a
 * chain executes no cpuid), and kept in at_memo_gather; racing threads
 * store the same answer.
 */
#include "sites/chains.h"

#if AT_MEMO_GATHER
#include <cpuid.h>

AT_CHAIN_HOT unsigned char at_memo_gather;

unsigned char at_memo_gather_check(void)
{
	unsigned int a, b, c, d, lo, hi;
	unsigned char yes = 0;
	/* OSXSAVE and AVX (leaf 1), XCR0's SSE and AVX state, AVX2 (leaf 7) */
	if (__get_cpuid(1, &a, &b, &c, &d) && (c & bit_OSXSAVE) && (c & bit_AVX)) {
		__asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
		(void)hi;
		if ((lo & 6) == 6 && __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_AVX2))
			yes = 1;
	}
	unsigned char v = yes ? AT_MEMO_GATHER_YES : AT_MEMO_GATHER_NO;
	AT_STORE_RELAXED(&at_memo_gather, v);
	return v;
}
#endif
