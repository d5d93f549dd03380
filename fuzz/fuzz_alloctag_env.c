/*
 * libFuzzer target: the ALLOCTAG value (at_parse_alloctag) against an
 * independent reading of its grammar, {0|1|never|boolean word}[,compressed|
 * ,uncompressed], any case.  Accepted exactly when the grammar says so, with
 * the grammar's mode and store; refused values leave the outputs untouched.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/control.h"

static int word_mode(const char *w, size_t n, int *mode)
{
	static const char *const on[] = {"1", "y", "yes", "t", "true", "on"};
	static const char *const off[] = {"0", "n", "no", "f", "false", "off"};
	for (size_t i = 0; i < 6; i++) {
		if (strlen(on[i]) == n && !strncasecmp(w, on[i], n)) {
			*mode = 1;
			return 1;
		}
		if (strlen(off[i]) == n && !strncasecmp(w, off[i], n)) {
			*mode = 0;
			return 1;
		}
	}
	if (n == 5 && !strncasecmp(w, "never", 5)) {
		*mode = -1;
		return 1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[256];
	if (size >= sizeof(s))
		return -1;
	memcpy(s, data, size);
	s[size] = 0;
	size_t len = strlen(s); /* as getenv would give it */

	int want_mode = 99, want_c = 1, ok;
	const char *comma = strchr(s, ',');
	size_t wn = comma ? (size_t)(comma - s) : len;
	ok = word_mode(s, wn, &want_mode);
	if (ok && comma) {
		if (!strcasecmp(comma + 1, "compressed"))
			want_c = 1;
		else if (!strcasecmp(comma + 1, "uncompressed"))
			want_c = 0;
		else
			ok = 0;
	}
	int mode = 99, c = 99;
	int r = at_parse_alloctag(s, &mode, &c);
	if (ok != (r == 0))
		abort();
	if (ok && (mode != want_mode || c != want_c))
		abort();
	if (!ok && (mode != 99 || c != 99))
		abort();
	return 0;
}
