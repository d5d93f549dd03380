/* Grouping chains into sites, and filters (sites.h). */
#define _GNU_SOURCE
#include "sites.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../common/common.h"

const struct sym_frame *site_frame(const struct sym_loc *l)
{
	for (unsigned int i = 0; i < l->nr_frames; i++)
		if (l->frames[i].file && !sym_system_file(l->frames[i].file))
			return &l->frames[i];
	return &l->frames[l->nr_frames - 1];
}

/* Every frame of l is in a system header (and l has DWARF). */
static int all_system(const struct sym_loc *l)
{
	for (unsigned int i = 0; i < l->nr_frames; i++)
		if (!sym_system_file(l->frames[i].file))
			return 0;
	return 1;
}

struct index {
	size_t *slot; /* site index + 1, 0 = empty */
	size_t cap;
};

static uint64_t str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static struct site *find_or_add(struct sites *out, size_t *cap, struct index *ix, char *name)
{
	if ((out->nr + 1) * 2 > ix->cap) {
		size_t ncap = ix->cap ? ix->cap * 2 : 1024;
		size_t *ns = xcalloc(ncap, sizeof(*ns));
		for (size_t k = 0; k < out->nr; k++) {
			size_t j = str_hash(out->v[k].name) & (ncap - 1);
			while (ns[j])
				j = (j + 1) & (ncap - 1);
			ns[j] = k + 1;
		}
		free(ix->slot);
		ix->slot = ns;
		ix->cap = ncap;
	}
	size_t j = str_hash(name) & (ix->cap - 1);
	for (; ix->slot[j]; j = (j + 1) & (ix->cap - 1)) {
		struct site *s = &out->v[ix->slot[j] - 1];
		if (strcmp(s->name, name) == 0) {
			free(name);
			return s;
		}
	}
	GROW(out->v, *cap, out->nr + 1);
	struct site *s = &out->v[out->nr];
	memset(s, 0, sizeof(*s));
	s->name = name;
	s->tag = -1;
	ix->slot[j] = ++out->nr;
	return s;
}

static int matches(const struct filter *f, const struct site *s)
{
	if (s->live_bytes < f->min_bytes)
		return 0;
	if (!f->has_match)
		return 1;
	const char *fields[] = {s->file, s->func, s->object, s->name};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (fields[i] && regexec(&f->match, fields[i], 0, NULL, 0) == 0)
			return 1;
	return 0;
}

static void site_clear(struct site *s)
{
	free(s->name);
	free(s->extra);
	free(s->func);
	free(s->file);
	free(s->object);
	free(s->chains);
}

void sites_build(struct sites *out, const struct profile *p, struct symbolizer *sym,
		 const struct filter *f)
{
	size_t cap = 0;
	struct index ix = {0};
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < p->nr_tags; i++) {
		const struct prof_tag *t = &p->tags[i];
		char *name = t->module ? xasprintf("%s:%u [%s] func:%s", t->file, t->line, t->module,
						   t->func)
				       : xasprintf("%s:%u func:%s", t->file, t->line, t->func);
		struct site *s = find_or_add(out, &cap, &ix, name);
		if (s->tag < 0 && !s->extra) {
			s->tag = (long)i;
			s->extra = xstrdup(t->extra);
			s->func = xstrdup(t->func);
			s->file = xstrdup(t->file);
			s->line = t->line;
			s->object = xstrdup(t->module ? t->module : "-");
		}
		s->live_bytes = sat_add(s->live_bytes, t->live_bytes);
		s->live_calls = sat_add(s->live_calls, t->live_calls);
		s->alloc_bytes = sat_add(s->alloc_bytes, t->alloc_bytes);
		s->alloc_calls = sat_add(s->alloc_calls, t->alloc_calls);
	}
	for (size_t i = 0; i < p->nr_chains; i++) {
		const struct prof_chain *c = &p->chains[i];
		/* no site (every frame kept is in the allocation layer): the
		 * outermost frame kept, as the runtime's allocinfo names it */
		unsigned int at = c->site ? c->site - 1 : (c->nr_frames ? c->nr_frames - 1 : 0);
		const struct prof_frame *fr = &c->frames[at];
		const struct sym_loc *l = sym_get(sym, fr->map, fr->addr);
		/* a site frame entirely in system headers (a template instantiated
		 * out of line in the program, e.g. std::vector::_M_realloc_insert):
		 * its caller, while the chain goes on */
		for (unsigned int k = at + 1; k < c->nr_frames && all_system(l); k++) {
			fr = &c->frames[k];
			l = sym_get(sym, fr->map, fr->addr);
		}
		const struct sym_frame *sf = site_frame(l);
		char *name;
		if (sf->file) {
			char *fn = sym_short_name(sf->func ? sf->func : "?");
			name = xasprintf("%s:%u func:%s", sf->file, sf->line, fn);
			free(fn);
		} else if (sf->func) {
			char *fn = sym_short_name(sf->func);
			name = xasprintf("%s:0 func:%s", l->object, fn);
			free(fn);
		} else {
			name = xasprintf("%s:0 func:0x%" PRIx64, l->object, fr->addr);
		}
		struct site *s = find_or_add(out, &cap, &ix, name);
		if (!s->extra) {
			s->extra = xstrdup("");
			s->func = sf->func ? xstrdup(sf->func) : NULL;
			s->file = sf->file ? xstrdup(sf->file) : NULL;
			s->line = sf->line;
			s->object = xstrdup(l->object);
		}
		s->live_bytes = sat_add(s->live_bytes, c->live_bytes);
		s->live_calls = sat_add(s->live_calls, c->live_calls);
		s->alloc_bytes = sat_add(s->alloc_bytes, c->alloc_bytes);
		s->alloc_calls = sat_add(s->alloc_calls, c->alloc_calls);
		GROW(s->chains, s->cap_chains, s->nr_chains + 1);
		s->chains[s->nr_chains++] = i;
	}
	free(ix.slot);
	size_t kept = 0;
	for (size_t i = 0; i < out->nr; i++) {
		struct site *s = &out->v[i];
		if (f && !matches(f, s)) {
			site_clear(s);
			continue;
		}
		out->live_bytes = sat_add(out->live_bytes, s->live_bytes);
		out->live_calls = sat_add(out->live_calls, s->live_calls);
		out->alloc_bytes = sat_add(out->alloc_bytes, s->alloc_bytes);
		out->alloc_calls = sat_add(out->alloc_calls, s->alloc_calls);
		out->v[kept++] = *s;
	}
	out->nr = kept;
}

static int by_bytes(const void *a, const void *b)
{
	const struct site *x = a, *y = b;
	if (x->live_bytes != y->live_bytes)
		return x->live_bytes > y->live_bytes ? -1 : 1;
	if (x->live_calls != y->live_calls)
		return x->live_calls > y->live_calls ? -1 : 1;
	/* holding as much (most often nothing): most allocated first */
	if (x->alloc_bytes != y->alloc_bytes)
		return x->alloc_bytes > y->alloc_bytes ? -1 : 1;
	if (x->alloc_calls != y->alloc_calls)
		return x->alloc_calls > y->alloc_calls ? -1 : 1;
	return strcmp(x->name, y->name);
}

void sites_sort_by_bytes(struct sites *s)
{
	if (s->nr)
		qsort(s->v, s->nr, sizeof(*s->v), by_bytes);
}

void sites_free(struct sites *s)
{
	for (size_t i = 0; i < s->nr; i++)
		site_clear(&s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}
