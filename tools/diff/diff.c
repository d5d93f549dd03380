/* Snapshot differences (diff.h). */
#define _GNU_SOURCE
#include "diff.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../common/common.h"

struct row {
	const struct site *o, *n; /* either may be NULL */
	int64_t db, dc;
};

static int by_growth(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	if (x->db != y->db)
		return x->db > y->db ? -1 : 1;
	if (x->dc != y->dc)
		return x->dc > y->dc ? -1 : 1;
	const char *nx = x->n ? x->n->name : x->o->name, *ny = y->n ? y->n->name : y->o->name;
	return strcmp(nx, ny);
}

static int by_name(const void *a, const void *b)
{
	const struct site *const *x = a, *const *y = b;
	return strcmp((*x)->name, (*y)->name);
}

static void site_text(FILE *out, const struct site *x)
{
	if (x->file)
		fprintf(out, "%s at %s:%u", x->func ? x->func : "??", x->file, x->line);
	else if (x->func)
		fprintf(out, "%s in %s", x->func, x->object);
	else
		fputs(x->object, out);
	if (x->tag >= 0 && x->object[0] != '-')
		fprintf(out, " [%s]", x->object);
}

/* x's bytes and calls in the measure compared (NULL: none). */
static int64_t bytes_of(const struct site *x, int allocated)
{
	return !x ? 0 : allocated ? x->alloc_bytes : x->live_bytes;
}

static int64_t calls_of(const struct site *x, int allocated)
{
	return !x ? 0 : allocated ? x->alloc_calls : x->live_calls;
}

int diff_write(FILE *out, enum report_format fmt, const struct profile *old_p,
	       const struct profile *new_p, const struct filter *f, int allocated)
{
	struct symbolizer *so = sym_new(old_p), *sn = sym_new(new_p);
	struct filter match = {0};
	if (f && f->has_match) {
		match.has_match = 1;
		match.match = f->match;
	}
	match.min_bytes = INT64_MIN;
	struct sites os, ns;
	sites_build(&os, old_p, so, &match);
	sites_build(&ns, new_p, sn, &match);
	int rc = 0;
	if (allocated && fmt != FMT_PPROF) {
		const struct profile *bad = !os.alloc_calls && os.live_calls ? old_p
					    : !ns.alloc_calls && ns.live_calls ? new_p
									     : NULL;
		if (bad) {
			tool_msg("diff: %s has no allocated (cumulative) counts (an allocinfo text?): "
				 "--allocated compares raw profiles",
				 bad->path ? bad->path : "a snapshot");
			rc = -1;
			goto out;
		}
	}
	if (fmt == FMT_PPROF) {
		rc = report_pprof_diff(out, new_p, sn, &ns, old_p, so, &os);
		goto out;
	}
	/* join by name: both sides sorted by name, then merged */
	const struct site **a = xcalloc(os.nr + 1, sizeof(*a)), **b = xcalloc(ns.nr + 1, sizeof(*b));
	for (size_t i = 0; i < os.nr; i++)
		a[i] = &os.v[i];
	for (size_t i = 0; i < ns.nr; i++)
		b[i] = &ns.v[i];
	qsort(a, os.nr, sizeof(*a), by_name);
	qsort(b, ns.nr, sizeof(*b), by_name);
	struct row *rows = xcalloc(os.nr + ns.nr + 1, sizeof(*rows));
	size_t nr = 0, i = 0, j = 0, unchanged = 0;
	int64_t tb = 0, tc = 0, min = f ? f->min_bytes : 0;
	while (i < os.nr || j < ns.nr) {
		int c = i == os.nr ? 1 : j == ns.nr ? -1 : strcmp(a[i]->name, b[j]->name);
		struct row r = {c <= 0 ? a[i] : NULL, c >= 0 ? b[j] : NULL, 0, 0};
		i += c <= 0;
		j += c >= 0;
		r.db = sat_sub(bytes_of(r.n, allocated), bytes_of(r.o, allocated));
		r.dc = sat_sub(calls_of(r.n, allocated), calls_of(r.o, allocated));
		if (!r.db && !r.dc) {
			unchanged++;
			continue;
		}
		if (r.db < min && r.db > -min)
			continue;
		tb = sat_add(tb, r.db);
		tc = sat_add(tc, r.dc);
		rows[nr++] = r;
	}
	qsort(rows, nr, sizeof(*rows), by_growth);
	char b1[32], b2[32], b3[32];
	if (fmt == FMT_ALLOCINFO) {
		fputs("allocinfo - version: 2.0\n#     <size>  <calls> <tag info>\n", out);
		for (size_t k = 0; k < nr; k++) {
			const struct site *x = rows[k].n ? rows[k].n : rows[k].o;
			fprintf(out, "%12" PRId64 " %8" PRId64 " %s%s \n", rows[k].db, rows[k].dc,
				x->name, x->extra);
		}
	} else if (fmt == FMT_JSON) {
		fprintf(out, "{\"version\": 1, \"measure\": \"%s\", \"old\": ", allocated ? "allocated" : "live");
		report_json_str(out, old_p->path, 0);
		fputs(", \"new\": ", out);
		report_json_str(out, new_p->path, 0);
		fprintf(out, ",\n \"total\": {\"delta_bytes\": %" PRId64 ", \"delta_calls\": %" PRId64
			     "},\n \"sites\": [",
			tb, tc);
		for (size_t k = 0; k < nr; k++) {
			const struct row *r = &rows[k];
			const struct site *x = r->n ? r->n : r->o;
			fputs(k ? ",\n  {\"name\": " : "\n  {\"name\": ", out);
			report_json_str(out, x->name, 0);
			fputs(", \"function\": ", out);
			report_json_str(out, x->func, 0);
			fputs(", \"file\": ", out);
			report_json_str(out, x->file, 0);
			fprintf(out,
				", \"line\": %u, \"old_bytes\": %" PRId64 ", \"old_calls\": %" PRId64
				", \"new_bytes\": %" PRId64 ", \"new_calls\": %" PRId64
				", \"delta_bytes\": %" PRId64 ", \"delta_calls\": %" PRId64 "}",
				x->line, bytes_of(r->o, allocated), calls_of(r->o, allocated),
				bytes_of(r->n, allocated), calls_of(r->n, allocated), r->db, r->dc);
		}
		fputs("\n ]}\n", out);
	} else {
		fprintf(out, "%10s %9s %10s %10s  %s\n", "change", "calls", allocated ? "old alloc" : "old",
			allocated ? "new alloc" : "new", "site");
		for (size_t k = 0; k < nr; k++) {
			const struct row *r = &rows[k];
			const struct site *x = r->n ? r->n : r->o;
			human_bytes(r->db, b1 + 1, sizeof(b1) - 1);
			b1[0] = '+';
			fprintf(out, "%10s %+9" PRId64 " %10s %10s  ", r->db >= 0 ? b1 : b1 + 1, r->dc,
				human_bytes(bytes_of(r->o, allocated), b2, sizeof(b2)),
				human_bytes(bytes_of(r->n, allocated), b3, sizeof(b3)));
			site_text(out, x);
			fputc('\n', out);
		}
		human_bytes(tb, b1 + 1, sizeof(b1) - 1);
		b1[0] = '+';
		fprintf(out, "%10s %+9" PRId64 " %10s %10s  total, %zu sites changed, %zu unchanged\n",
			tb >= 0 ? b1 : b1 + 1, tc,
			human_bytes(allocated ? os.alloc_bytes : os.live_bytes, b2, sizeof(b2)),
			human_bytes(allocated ? ns.alloc_bytes : ns.live_bytes, b3, sizeof(b3)), nr, unchanged);
	}
	free(rows);
	free(a);
	free(b);
out:
	sites_free(&os);
	sites_free(&ns);
	sym_free(so);
	sym_free(sn);
	return rc;
}
