/*
 * libFuzzer target: sizes (ALLOCTAG_HEAP_MAX, ALLOCTAG_TAG_BITS:
 * at_parse_size) against an independent reading: decimal digits, then one
 * optional K, M or G (either case), nothing else; the value must fit in 64
 * bits after the shift; no sign, no white space.  Accepted exactly then,
 * with that value.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[64];
	if (size >= sizeof(s))
		return -1;
	memcpy(s, data, size);
	s[size] = 0;

	unsigned __int128 v = 0;
	size_t i = 0;
	int ok = 1;
	size_t digits = 0;
	for (; s[i] >= '0' && s[i] <= '9'; i++, digits++) {
		v = v * 10 + (unsigned)(s[i] - '0');
		if (v > UINT64_MAX)
			ok = 0;
	}
	if (!digits || s[0] == '-')
		ok = 0;
	unsigned shift = 0;
	switch (s[i]) {
	case 'k': case 'K': shift = 10; i++; break;
	case 'm': case 'M': shift = 20; i++; break;
	case 'g': case 'G': shift = 30; i++; break;
	}
	if (s[i])
		ok = 0;
	if (ok && (v << shift) > UINT64_MAX)
		ok = 0;
	if (!s[0])
		ok = 0;

	size_t got = 12345;
	int r = at_parse_size(s, &got);
	if (ok != (r == 0))
		abort();
	if (ok && got != (size_t)(v << shift))
		abort();
	if (!ok && got != 12345)
		abort();
	return 0;
}
