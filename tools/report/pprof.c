/*
 * pprof: the sites' chains as a gzipped profile.proto (proto/profile.proto;
 * encoded by protobuf-c, compressed by zlib), for `go tool pprof` and
 * continuous profilers.
 *
 *   sample types   inuse_objects/count, inuse_space/bytes,
 *                  alloc_objects/count, alloc_space/bytes (default
 *                  inuse_space); period_type space/bytes, period 1: every
 *                  value is an exact count, not a sample
 *   sample         one per chain: its locations leaf (malloc's caller)
 *                  first, values (live calls, live bytes, allocated calls,
 *                  allocated bytes), label "site" = the site's name; one
 *                  per compile-time tag, at a location of its own (its
 *                  file:line, no mapping)
 *   mapping        one per object (path, build ID): its executable
 *                  segment's run-time range and file offset; has_* set when
 *                  its DWARF was read
 *   location       one per (map, return address): the run-time return
 *                  address, and one Line per frame of the symbolizer,
 *                  innermost inlined first (pprof's order)
 *   function       one per (name, file)
 * A diff (base given) adds the base's samples with negated values, which is
 * what `go tool pprof -diff_base` computes.
 */
#define _GNU_SOURCE
#include "report.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../common/common.h"
#include "profile.pb-c.h"

int report_unsymbolized;

typedef Perftools__Profiles__Profile PProfile;
typedef Perftools__Profiles__Sample PSample;
typedef Perftools__Profiles__Location PLocation;
typedef Perftools__Profiles__Line PLine;
typedef Perftools__Profiles__Function PFunction;
typedef Perftools__Profiles__Mapping PMapping;
typedef Perftools__Profiles__ValueType PValueType;
typedef Perftools__Profiles__Label PLabel;

/* A string-keyed table: key -> id (1-based position). */
struct table {
	char **keys;
	uint64_t *ids;
	size_t cap, used;
};

static uint64_t hash_bytes(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* The id of key; *added set when new (the table then owns a copy). */
static uint64_t table_id(struct table *t, const char *key, uint64_t next, int *added)
{
	if ((t->used + 1) * 2 > t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 1024;
		char **nk = xcalloc(ncap, sizeof(*nk));
		uint64_t *ni = xcalloc(ncap, sizeof(*ni));
		for (size_t i = 0; i < t->cap; i++) {
			if (!t->keys[i])
				continue;
			size_t j = hash_bytes(t->keys[i]) & (ncap - 1);
			while (nk[j])
				j = (j + 1) & (ncap - 1);
			nk[j] = t->keys[i];
			ni[j] = t->ids[i];
		}
		free(t->keys);
		free(t->ids);
		t->keys = nk;
		t->ids = ni;
		t->cap = ncap;
	}
	size_t j = hash_bytes(key) & (t->cap - 1);
	for (; t->keys[j]; j = (j + 1) & (t->cap - 1))
		if (strcmp(t->keys[j], key) == 0) {
			*added = 0;
			return t->ids[j];
		}
	t->keys[j] = xstrdup(key);
	t->ids[j] = next;
	t->used++;
	*added = 1;
	return next;
}

static void table_free(struct table *t)
{
	for (size_t i = 0; i < t->cap; i++)
		free(t->keys[i]);
	free(t->keys);
	free(t->ids);
}

struct builder {
	PProfile prof;
	struct table strings, functions, mappings, tag_locations;
	const void **loc_keys; /* see loc_slot() */
	uint64_t *loc_ids;
	size_t nr_locs, cap_locs;
	size_t cap_str, cap_fn, cap_map, cap_loc, cap_sample;
};

static int64_t str_id(struct builder *b, const char *s)
{
	int added;
	if (!s)
		s = "";
	uint64_t id = table_id(&b->strings, s, b->prof.n_string_table, &added);
	if (added) {
		GROW(b->prof.string_table, b->cap_str, b->prof.n_string_table + 1);
		b->prof.string_table[b->prof.n_string_table++] = xstrdup(s);
	}
	return (int64_t)id;
}

static uint64_t function_id(struct builder *b, const char *name, const char *file)
{
	char *key = xasprintf("%s\n%s", name, file ? file : "");
	int added;
	uint64_t id = table_id(&b->functions, key, b->prof.n_function + 1, &added);
	free(key);
	if (added) {
		PFunction *f = xmalloc(sizeof(*f));
		perftools__profiles__function__init(f);
		f->id = id;
		f->name = str_id(b, name);
		f->system_name = f->name;
		f->filename = str_id(b, file);
		GROW(b->prof.function, b->cap_fn, b->prof.n_function + 1);
		b->prof.function[b->prof.n_function++] = f;
	}
	return id;
}

static uint64_t mapping_id(struct builder *b, const struct prof_map *m, int dwarf)
{
	char *key = xasprintf("%s\n%s", m->path, m->build_id ? m->build_id : "");
	int added;
	uint64_t id = table_id(&b->mappings, key, b->prof.n_mapping + 1, &added);
	free(key);
	PMapping *pm;
	if (added) {
		pm = xmalloc(sizeof(*pm));
		perftools__profiles__mapping__init(pm);
		pm->id = id;
		pm->memory_start = m->start;
		pm->memory_limit = m->end;
		pm->file_offset = m->offset;
		pm->filename = str_id(b, m->path);
		pm->build_id = str_id(b, m->build_id);
		GROW(b->prof.mapping, b->cap_map, b->prof.n_mapping + 1);
		b->prof.mapping[b->prof.n_mapping++] = pm;
	}
	pm = b->prof.mapping[id - 1];
	if (dwarf)
		pm->has_functions = pm->has_filenames = pm->has_line_numbers =
			pm->has_inline_frames = 1;
	return id;
}

static PLocation *new_location(struct builder *b, uint64_t id)
{
	PLocation *l = xmalloc(sizeof(*l));
	perftools__profiles__location__init(l);
	l->id = id;
	GROW(b->prof.location, b->cap_loc, b->prof.n_location + 1);
	b->prof.location[b->prof.n_location++] = l;
	return l;
}

static void add_line(PLocation *l, uint64_t fn, int64_t line)
{
	PLine *ln = xmalloc(sizeof(*ln));
	perftools__profiles__line__init(ln);
	ln->function_id = fn;
	ln->line = line;
	l->line = xrealloc(l->line, (l->n_line + 1) * sizeof(*l->line));
	l->line[l->n_line++] = ln;
}

/* Locations by symbolized location (sym_get returns one sym_loc per (map,
 * address) of a profile): pointer -> location id. */
static uint64_t *loc_slot(struct builder *b, const void *key)
{
	if ((b->nr_locs + 1) * 2 > b->cap_locs) {
		size_t ncap = b->cap_locs ? b->cap_locs * 2 : 4096;
		const void **nk = xcalloc(ncap, sizeof(*nk));
		uint64_t *ni = xcalloc(ncap, sizeof(*ni));
		for (size_t i = 0; i < b->cap_locs; i++) {
			if (!b->loc_keys[i])
				continue;
			size_t j = ((uintptr_t)b->loc_keys[i] * 0x9E3779B97F4A7C15ull >> 20) & (ncap - 1);
			while (nk[j])
				j = (j + 1) & (ncap - 1);
			nk[j] = b->loc_keys[i];
			ni[j] = b->loc_ids[i];
		}
		free(b->loc_keys);
		free(b->loc_ids);
		b->loc_keys = nk;
		b->loc_ids = ni;
		b->cap_locs = ncap;
	}
	size_t j = ((uintptr_t)key * 0x9E3779B97F4A7C15ull >> 20) & (b->cap_locs - 1);
	while (b->loc_keys[j] && b->loc_keys[j] != key)
		j = (j + 1) & (b->cap_locs - 1);
	if (!b->loc_keys[j]) {
		b->loc_keys[j] = key;
		b->loc_ids[j] = 0;
		b->nr_locs++;
	}
	return &b->loc_ids[j];
}

static uint64_t location_id(struct builder *b, const struct profile *p, struct symbolizer *sym,
			    const struct prof_frame *f)
{
	const struct sym_loc *sl = sym_get(sym, f->map, f->addr);
	uint64_t *slot = loc_slot(b, sl);
	if (*slot)
		return *slot;
	const struct prof_map *m = f->map >= 0 ? &p->maps[f->map] : NULL;
	PLocation *l = new_location(b, b->prof.n_location + 1);
	*slot = l->id;
	if (m) {
		l->mapping_id = mapping_id(b, m, !report_unsymbolized && sl->frames[0].file != NULL);
		l->address = m->bias + f->addr;
	} else {
		l->address = f->addr;
	}
	if (report_unsymbolized) /* the profiler symbolizes by build ID */
		return l->id;
	for (unsigned int i = 0; i < sl->nr_frames; i++) {
		const struct sym_frame *fr = &sl->frames[i];
		add_line(l, function_id(b, fr->func ? fr->func : sl->object, fr->file), fr->line);
	}
	return l->id;
}

static void add_sample(struct builder *b, size_t nloc, int64_t v[4], const char *site)
{
	PSample *s = xmalloc(sizeof(*s));
	perftools__profiles__sample__init(s);
	s->n_location_id = nloc;
	s->location_id = xcalloc(nloc, sizeof(*s->location_id));
	s->n_value = 4;
	s->value = xmalloc(4 * sizeof(*s->value));
	memcpy(s->value, v, 4 * sizeof(*v));
	PLabel *lb = xmalloc(sizeof(*lb));
	perftools__profiles__label__init(lb);
	lb->key = str_id(b, "site");
	lb->str = str_id(b, site);
	s->n_label = 1;
	s->label = xmalloc(sizeof(*s->label));
	s->label[0] = lb;
	GROW(b->prof.sample, b->cap_sample, b->prof.n_sample + 1);
	b->prof.sample[b->prof.n_sample++] = s;
}

/* v or -v (a diff's base), clamped: -INT64_MIN does not exist. */
static int64_t signed_value(int sign, int64_t v)
{
	return sign > 0 ? v : sat_sub(0, v);
}

static void add_profile(struct builder *b, const struct profile *p, struct symbolizer *sym,
			const struct sites *s, int sign)
{
	for (size_t i = 0; i < s->nr; i++) {
		const struct site *x = &s->v[i];
		if (x->tag >= 0) {
			int64_t v[4] = {signed_value(sign, x->live_calls), signed_value(sign, x->live_bytes),
					signed_value(sign, x->alloc_calls), signed_value(sign, x->alloc_bytes)};
			char *key = xasprintf("tag\n%s", x->name);
			int added;
			uint64_t id = table_id(&b->tag_locations, key, b->prof.n_location + 1, &added);
			free(key);
			if (added) {
				PLocation *l = new_location(b, id);
				char *fn = x->object[0] != '-' ? xasprintf("%s [%s]", x->func, x->object)
								: xstrdup(x->func);
				add_line(l, function_id(b, fn, x->file), x->line);
				free(fn);
			}
			add_sample(b, 1, v, x->name);
			b->prof.sample[b->prof.n_sample - 1]->location_id[0] = id;
			continue;
		}
		for (size_t k = 0; k < x->nr_chains; k++) {
			const struct prof_chain *c = &p->chains[x->chains[k]];
			int64_t v[4] = {signed_value(sign, c->live_calls), signed_value(sign, c->live_bytes),
					signed_value(sign, c->alloc_calls), signed_value(sign, c->alloc_bytes)};
			add_sample(b, c->nr_frames, v, x->name);
			PSample *smp = b->prof.sample[b->prof.n_sample - 1];
			for (unsigned int j = 0; j < c->nr_frames; j++)
				smp->location_id[j] = location_id(b, p, sym, &c->frames[j]);
		}
	}
}

static PValueType *value_type(struct builder *b, const char *type, const char *unit)
{
	PValueType *v = xmalloc(sizeof(*v));
	perftools__profiles__value_type__init(v);
	v->type = str_id(b, type);
	v->unit = str_id(b, unit);
	return v;
}

static int gzip_out(FILE *out, const uint8_t *data, size_t len)
{
	z_stream z = {0};
	unsigned char buf[65536];
	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		tool_msg("pprof: cannot start gzip compression");
		return -1;
	}
	z.next_in = (Bytef *)data;
	z.avail_in = (uInt)len; /* profiles stay far below 4 GiB */
	int rc;
	do {
		z.next_out = buf;
		z.avail_out = sizeof(buf);
		rc = deflate(&z, Z_FINISH);
		if (rc == Z_STREAM_ERROR)
			break;
		fwrite(buf, 1, sizeof(buf) - z.avail_out, out);
	} while (rc != Z_STREAM_END);
	deflateEnd(&z);
	if (rc != Z_STREAM_END) {
		tool_msg("pprof: gzip compression failed");
		return -1;
	}
	return 0;
}

static void free_builder(struct builder *b)
{
	PProfile *p = &b->prof;
	for (size_t i = 0; i < p->n_sample; i++) {
		PSample *s = p->sample[i];
		free(s->location_id);
		free(s->value);
		free(s->label[0]);
		free(s->label);
		free(s);
	}
	for (size_t i = 0; i < p->n_location; i++) {
		for (size_t k = 0; k < p->location[i]->n_line; k++)
			free(p->location[i]->line[k]);
		free(p->location[i]->line);
		free(p->location[i]);
	}
	for (size_t i = 0; i < p->n_function; i++)
		free(p->function[i]);
	for (size_t i = 0; i < p->n_mapping; i++)
		free(p->mapping[i]);
	for (size_t i = 0; i < p->n_sample_type; i++)
		free(p->sample_type[i]);
	for (size_t i = 0; i < p->n_string_table; i++)
		free(p->string_table[i]);
	free(p->sample);
	free(p->location);
	free(p->function);
	free(p->mapping);
	free(p->sample_type);
	free(p->string_table);
	free(p->period_type);
	table_free(&b->strings);
	table_free(&b->functions);
	table_free(&b->mappings);
	table_free(&b->tag_locations);
	free(b->loc_keys);
	free(b->loc_ids);
}

int report_pprof_diff(FILE *out, const struct profile *p, struct symbolizer *sym,
		      const struct sites *s, const struct profile *base, struct symbolizer *base_sym,
		      const struct sites *base_sites)
{
	struct builder b = {0};
	perftools__profiles__profile__init(&b.prof);
	str_id(&b, ""); /* string 0 */
	static const char *types[4][2] = {{"inuse_objects", "count"},
					   {"inuse_space", "bytes"},
					   {"alloc_objects", "count"},
					   {"alloc_space", "bytes"}};
	b.prof.sample_type = xmalloc(4 * sizeof(*b.prof.sample_type));
	for (int i = 0; i < 4; i++)
		b.prof.sample_type[i] = value_type(&b, types[i][0], types[i][1]);
	b.prof.n_sample_type = 4;
	b.prof.period_type = value_type(&b, "space", "bytes");
	b.prof.period = 1;
	b.prof.default_sample_type = str_id(&b, "inuse_space");
	if (p->time) { /* SECONDS[.FRACTION] (the reader checked it: below 9e9 s) */
		char *frac;
		int64_t ns = (int64_t)strtoll(p->time, &frac, 10) * 1000000000;
		int64_t scale = 100000000;
		for (const char *f = *frac == '.' ? frac + 1 : ""; *f && scale; f++, scale /= 10)
			ns += (*f - '0') * scale;
		b.prof.time_nanos = ns;
	}
	for (size_t i = 0; p->exe && i < p->nr_maps; i++) /* pprof's main binary: mapping 1 */
		if (!strcmp(p->maps[i].path, p->exe)) {
			mapping_id(&b, &p->maps[i], 0);
			break;
		}
	add_profile(&b, p, sym, s, 1);
	if (base)
		add_profile(&b, base, base_sym, base_sites, -1);

	size_t len = perftools__profiles__profile__get_packed_size(&b.prof);
	uint8_t *buf = xmalloc(len);
	perftools__profiles__profile__pack(&b.prof, buf);
	int rc = gzip_out(out, buf, len);
	free(buf);
	free_builder(&b);
	return rc;
}

int report_pprof(FILE *out, const struct profile *p, struct symbolizer *sym,
		 const struct sites *s)
{
	return report_pprof_diff(out, p, sym, s, NULL, NULL, NULL);
}
