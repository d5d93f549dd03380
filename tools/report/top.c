/*
 * top: the sites holding the most live memory, largest first.
 *
 *       live    calls  site
 *    1.5 MiB     1000  load_names(int) at /src/cxx.cc:6
 *      512 B        2  /usr/bin/prog+0x11b9 (no debug information)
 *    1.5 MiB     1002  total, 2 of 2 sites
 *
 * "allocated" columns (cumulative bytes and calls) are added when the
 * profile has cumulative counts, and then, after the sites holding memory,
 * the rows left to fill take the sites that hold nothing now but
 * allocated, most allocated bytes first: a program that freed everything
 * before its exit still shows where it allocated.  Sites that hold and
 * allocated nothing are left out of the rows; the total line counts the
 * rows shown and every site.  A site's text: "FUNC at FILE:LINE", or
 * FUNC (symbol name) and the object, or the object alone.
 */
#include "report.h"

#include <inttypes.h>

#include "../common/common.h"

static void site_text(FILE *out, const struct site *x)
{
	if (x->tag >= 0)
		fprintf(out, "%s at %s:%u%s%s%s", x->func, x->file, x->line,
			x->object[0] != '-' ? " [" : "", x->object[0] != '-' ? x->object : "",
			x->object[0] != '-' ? "]" : "");
	else if (x->file)
		fprintf(out, "%s at %s:%u", x->func ? x->func : "??", x->file, x->line);
	else if (x->func)
		fprintf(out, "%s in %s", x->func, x->object);
	else
		fprintf(out, "%s", x->object);
}

/* Whether x holds nothing now. */
static int holds_nothing(const struct site *x)
{
	return !x->live_bytes && !x->live_calls;
}

int report_top(FILE *out, struct sites *s, size_t n)
{
	char b1[32], b2[32];
	int cumulative = s->alloc_calls != 0;
	sites_sort_by_bytes(s); /* those holding nothing most allocated first */
	if (!n || n > s->nr)
		n = s->nr;
	if (cumulative)
		fprintf(out, "%10s %9s %10s %9s  %s\n", "live", "calls", "allocated", "calls", "site");
	else
		fprintf(out, "%10s %9s  %s\n", "live", "calls", "site");
	size_t shown = 0;
	for (size_t i = 0; i < n; i++) {
		const struct site *x = &s->v[i];
		if (holds_nothing(x) && (!cumulative || (!x->alloc_bytes && !x->alloc_calls)))
			continue; /* held nothing, allocated nothing */
		shown++;
		fprintf(out, "%10s %9" PRId64, human_bytes(x->live_bytes, b1, sizeof(b1)),
			x->live_calls);
		if (cumulative)
			fprintf(out, " %10s %9" PRId64, human_bytes(x->alloc_bytes, b2, sizeof(b2)),
				x->alloc_calls);
		fputs("  ", out);
		site_text(out, x);
		fputc('\n', out);
	}
	fprintf(out, "%10s %9" PRId64, human_bytes(s->live_bytes, b1, sizeof(b1)), s->live_calls);
	if (cumulative)
		fprintf(out, " %10s %9" PRId64, human_bytes(s->alloc_bytes, b2, sizeof(b2)),
			s->alloc_calls);
	fprintf(out, "  total, %zu of %zu sites\n", shown, s->nr);
	return 0;
}
