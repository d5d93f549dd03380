/*
 * The grammar of ALLOCTAG_INTERVAL and `alloctag run --interval`, shared by
 * the runtime's sampler (sampler.c) and the tool (tools/live/snapshot.c):
 * a decimal number of seconds, or of milliseconds with "ms" ("100ms",
 * "0.5s", "2"), from 1 ms to 1 h.  Header-only: the tool does not link the
 * runtime.
 */
#ifndef AT_INTERVAL_H
#define AT_INTERVAL_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Nanoseconds, or -1. */
static inline long long at_parse_interval(const char *s)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || v != v)
		return -1;
	double mul = 1e9;
	if (!strcmp(end, "ms"))
		mul = 1e6;
	else if (strcmp(end, "s") && *end)
		return -1;
	double ns = v * mul;
	if (ns < 1e6 || ns > 3600e9)
		return -1;
	return (long long)ns;
}

#endif
