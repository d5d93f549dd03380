/*
 * allocinfo: the kernel's /proc/allocinfo text, version 2.0, byte for byte:
 *   allocinfo - version: 2.0
 *   #     <size>  <calls> <tag info>
 *   %12lli %8llu <name>[ key:value ...] \n
 * one line per site, in the order sites_build() lists them.
 */
#include "report.h"

int report_allocinfo(FILE *out, const struct sites *s)
{
	fputs("allocinfo - version: 2.0\n#     <size>  <calls> <tag info>\n", out);
	for (size_t i = 0; i < s->nr; i++) {
		const struct site *x = &s->v[i];
		fprintf(out, "%12lli %8llu %s%s \n", (long long)x->live_bytes,
			(unsigned long long)x->live_calls, x->name, x->extra);
	}
	return 0;
}
