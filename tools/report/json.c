/*
 * json: the sites and their chains for scripts.  The schema is the README's
 * "JSON report" section; strings are escaped per RFC 8259 (control
 * characters as \u00XX), numbers are integers.
 */
#include "report.h"

#include <inttypes.h>

void report_json_str(FILE *out, const char *s, int in_html)
{
	if (!s) {
		fputs("null", out);
		return;
	}
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20 || (in_html && (c == '<' || c == '>' || c == '&')))
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static void str(FILE *out, const char *s)
{
	report_json_str(out, s, 0);
}

static void counters(FILE *out, int64_t lb, int64_t lc, int64_t ab, int64_t ac)
{
	fprintf(out,
		"\"live_bytes\": %" PRId64 ", \"live_calls\": %" PRId64 ", \"alloc_bytes\": %" PRId64
		", \"alloc_calls\": %" PRId64,
		lb, lc, ab, ac);
}

static void frame(FILE *out, const struct profile *p, struct symbolizer *sym,
		  const struct prof_frame *f)
{
	const struct sym_loc *l = sym_get(sym, f->map, f->addr);
	fputs("{\"object\": ", out);
	str(out, f->map >= 0 ? p->maps[f->map].path : NULL);
	fputs(", \"build_id\": ", out);
	str(out, f->map >= 0 ? p->maps[f->map].build_id : NULL);
	fprintf(out, ", \"address\": \"0x%" PRIx64 "\", \"lines\": [", f->addr);
	for (unsigned int i = 0; i < l->nr_frames; i++) {
		fputs(i ? ", {\"function\": " : "{\"function\": ", out);
		str(out, l->frames[i].func);
		fputs(", \"file\": ", out);
		str(out, l->frames[i].file);
		fprintf(out, ", \"line\": %u}", l->frames[i].line);
	}
	fputs("]}", out);
}

int report_json(FILE *out, const struct profile *p, struct symbolizer *sym,
		const struct sites *s)
{
	fputs("{\"version\": 1, \"pid\": ", out);
	fprintf(out, "%ld, \"exe\": ", p->pid);
	str(out, p->exe);
	fputs(", \"time\": ", out);
	str(out, p->time);
	fprintf(out, ", \"depth\": %u, \"store\": ", p->depth);
	str(out, p->store);
	if (p->nr_runtime_chains >= 0)
		fprintf(out, ", \"profiling_memory\": {\"chains\": %" PRId64 ", \"bytes\": %" PRId64 "}",
			p->nr_runtime_chains, p->chain_memory);
	fputs(",\n \"total\": {", out);
	counters(out, s->live_bytes, s->live_calls, s->alloc_bytes, s->alloc_calls);
	fputs("},\n \"sites\": [", out);
	for (size_t i = 0; i < s->nr; i++) {
		const struct site *x = &s->v[i];
		fputs(i ? ",\n  {\"name\": " : "\n  {\"name\": ", out);
		str(out, x->name);
		fputs(", \"function\": ", out);
		str(out, x->func);
		fputs(", \"file\": ", out);
		str(out, x->file);
		fprintf(out, ", \"line\": %u, \"object\": ", x->line);
		str(out, x->object);
		fprintf(out, ", \"kind\": \"%s\", ", x->tag >= 0 ? "tag" : "chain");
		counters(out, x->live_bytes, x->live_calls, x->alloc_bytes, x->alloc_calls);
		fputs(", \"chains\": [", out);
		for (size_t k = 0; k < x->nr_chains; k++) {
			const struct prof_chain *c = &p->chains[x->chains[k]];
			fputs(k ? ",\n    {" : "\n    {", out);
			counters(out, c->live_bytes, c->live_calls, c->alloc_bytes, c->alloc_calls);
			fprintf(out, ", \"site\": %u, \"frames\": [", c->site);
			for (unsigned int j = 0; j < c->nr_frames; j++) {
				if (j)
					fputs(", ", out);
				frame(out, p, sym, &c->frames[j]);
			}
			fputs("]}", out);
		}
		fputs("]}", out);
	}
	fputs("\n ]}\n", out);
	return 0;
}
