/*
 * The raw profile reader (docs/PROFILE_FORMAT.md).  The whole file is read
 * into memory and parsed line by line; any defect stops the parse with one
 * message naming the file, the line and what is wrong, and nothing of the
 * profile is kept.  Every number is checked for range and every field for
 * presence, so corrupt input gives an error, never a crash.
 */
#define _GNU_SOURCE
#include "profile.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/common.h"
#include "../live/records.h"

struct parser {
	const char *name;
	unsigned long lineno;
	const char *s; /* cursor in the current line (NUL-terminated copy) */
	char err[256];
};

static int fail(struct parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(struct parser *ps, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ps->err, sizeof(ps->err), fmt, ap);
	va_end(ap);
	return -1;
}

/* Next space-separated field: its start and length; 0 if none. */
static size_t field(struct parser *ps, const char **start)
{
	if (*ps->s == ' ')
		ps->s++;
	*start = ps->s;
	size_t n = strcspn(ps->s, " ");
	ps->s += n;
	return n;
}

static int get_u64(struct parser *ps, const char *rec, const char *what, uint64_t *v)
{
	const char *f;
	size_t n = field(ps, &f);
	char *end;
	if (n == 0 || f[0] == '-' || f[0] == '+')
		return fail(ps, "malformed %s record (%s)", rec, what);
	errno = 0;
	unsigned long long x = (n > 2 && f[0] == '0' && f[1] == 'x') ? strtoull(f + 2, &end, 16)
								   : strtoull(f, &end, 10);
	if (errno || end != f + n || (n > 2 && f[0] == '0' && f[1] == 'x' && end == f + 2))
		return fail(ps, "malformed %s record (%s)", rec, what);
	*v = x;
	return 0;
}

static int get_i64(struct parser *ps, const char *rec, const char *what, int64_t *v)
{
	const char *f;
	size_t n = field(ps, &f);
	char *end;
	if (n == 0)
		return fail(ps, "malformed %s record (%s)", rec, what);
	errno = 0;
	long long x = strtoll(f, &end, 10);
	if (errno || end != f + n || f[0] == '+')
		return fail(ps, "malformed %s record (%s)", rec, what);
	*v = x;
	return 0;
}

/* The rest of the line, after one space: a string field. */
static int get_rest(struct parser *ps, const char *rec, const char *what, char **out)
{
	if (*ps->s != ' ' || !ps->s[1])
		return fail(ps, "malformed %s record (%s)", rec, what);
	*out = xstrdup(ps->s + 1);
	ps->s += strlen(ps->s);
	return 0;
}

static int at_end(struct parser *ps, const char *rec)
{
	if (*ps->s)
		return fail(ps, "malformed %s record (extra fields)", rec);
	return 0;
}

int profile_parse_tag_name(const char *s, struct prof_tag *t)
{
	/* "file:line func:name[ key:value ...]"; the file may hold spaces and
	 * colons: the line number is the digits before the first " func:" */
	const char *fn = strstr(s, " func:");
	if (!fn)
		return -1;
	const char *colon = fn;
	while (colon > s && colon[-1] >= '0' && colon[-1] <= '9')
		colon--;
	if (colon == fn || colon == s || colon[-1] != ':')
		return -1;
	char *end;
	errno = 0;
	unsigned long line = strtoul(colon, &end, 10);
	if (errno || end != fn || line > UINT32_MAX)
		return -1;
	const char *name = fn + 6, *extra = strchr(name, ' ');
	if (!extra)
		extra = name + strlen(name);
	if (extra == name)
		return -1;
	t->file = xstrndup(s, (size_t)(colon - 1 - s));
	t->line = (unsigned int)line;
	t->func = xstrndup(name, (size_t)(extra - name));
	t->extra = xstrdup(extra);
	return 0;
}

static int parse_map(struct parser *ps, struct profile *p)
{
	uint64_t id;
	struct prof_map m = {0};
	const char *f;
	if (get_u64(ps, "map", "id", &id))
		return -1;
	if (id != p->nr_maps)
		return fail(ps, "malformed map record (id %" PRIu64 ", expected %zu)", id,
			    p->nr_maps);
	if (get_u64(ps, "map", "start", &m.start) || get_u64(ps, "map", "end", &m.end) ||
	    get_u64(ps, "map", "offset", &m.offset) || get_u64(ps, "map", "bias", &m.bias))
		return -1;
	if (m.end < m.start)
		return fail(ps, "malformed map record (end before start)");
	size_t n = field(ps, &f);
	if (n == 0 || (strspn(f, "0123456789abcdef") != n && !(n == 1 && f[0] == '-')))
		return fail(ps, "malformed map record (build ID)");
	char *path = NULL;
	if (get_rest(ps, "map", "path", &path))
		return -1;
	m.build_id = f[0] == '-' ? NULL : xstrndup(f, n);
	m.path = path;
	size_t cap = p->nr_maps; /* arrays grow one by one: maps are few */
	p->maps = xrealloc(p->maps, (cap + 1) * sizeof(*p->maps));
	p->maps[p->nr_maps++] = m;
	return 0;
}

static int parse_chain(struct parser *ps, struct profile *p, size_t *cap)
{
	struct prof_chain c = {0};
	uint64_t site;
	if (get_i64(ps, "chain", "live bytes", &c.live_bytes) ||
	    get_i64(ps, "chain", "live calls", &c.live_calls) ||
	    get_i64(ps, "chain", "allocated bytes", &c.alloc_bytes) ||
	    get_i64(ps, "chain", "allocated calls", &c.alloc_calls) ||
	    get_u64(ps, "chain", "site", &site))
		return -1;
	size_t fcap = 0;
	while (*ps->s) {
		const char *f;
		size_t n = field(ps, &f);
		const char *colon = memchr(f, ':', n);
		if (!colon || colon == f || colon + 3 > f + n || colon[1] != '0' || colon[2] != 'x')
			goto bad;
		struct prof_frame fr = {-1, 0};
		char *end;
		if (!(colon - f == 1 && f[0] == '-')) {
			errno = 0;
			unsigned long m = strtoul(f, &end, 10);
			if (errno || end != colon || f[0] == '-' || f[0] == '+')
				goto bad;
			if (m >= p->nr_maps) {
				free(c.frames);
				return fail(ps, "chain names map %lu, which is not declared", m);
			}
			fr.map = (int)m;
		}
		errno = 0;
		fr.addr = strtoull(colon + 3, &end, 16);
		if (errno || end != f + n || end == colon + 3 || colon[3] == '-' || colon[3] == '+')
			goto bad;
		GROW(c.frames, fcap, c.nr_frames + 1);
		c.frames[c.nr_frames++] = fr;
	}
	if (c.nr_frames == 0) {
		free(c.frames);
		return fail(ps, "malformed chain record (no frames)");
	}
	if (site > c.nr_frames) {
		free(c.frames);
		return fail(ps, "malformed chain record (site %" PRIu64 " beyond %u frames)", site,
			    c.nr_frames);
	}
	c.site = (unsigned int)site;
	GROW(p->chains, *cap, p->nr_chains + 1);
	p->chains[p->nr_chains++] = c;
	return 0;
bad:
	free(c.frames);
	return fail(ps, "malformed chain record (frame %u)", c.nr_frames + 1);
}

static int parse_tag(struct parser *ps, struct profile *p, size_t *cap)
{
	struct prof_tag t = {0};
	const char *f;
	char *rest = NULL;
	if (get_i64(ps, "tag", "live bytes", &t.live_bytes) ||
	    get_i64(ps, "tag", "live calls", &t.live_calls) ||
	    get_i64(ps, "tag", "allocated bytes", &t.alloc_bytes) ||
	    get_i64(ps, "tag", "allocated calls", &t.alloc_calls))
		return -1;
	size_t n = field(ps, &f);
	if (n == 0)
		return fail(ps, "malformed tag record (module)");
	char *module = (n == 1 && f[0] == '-') ? NULL : xstrndup(f, n);
	if (get_rest(ps, "tag", "name", &rest)) {
		free(module);
		return -1;
	}
	int bad = profile_parse_tag_name(rest, &t);
	free(rest);
	if (bad) {
		free(module);
		return fail(ps, "malformed tag record (name: expected file:line func:name)");
	}
	t.module = module;
	GROW(p->tags, *cap, p->nr_tags + 1);
	p->tags[p->nr_tags++] = t;
	return 0;
}

static int parse_header(struct parser *ps, struct profile *p, const char *rec, int *seen_map)
{
	uint64_t v;
	if (*seen_map)
		return fail(ps, "malformed %s record (header record after the first map)", rec);
	if (strcmp(rec, "pid") == 0) {
		if (p->pid >= 0)
			return fail(ps, "malformed pid record (repeated)");
		if (get_u64(ps, rec, "process id", &v) || at_end(ps, rec))
			return -1;
		p->pid = (long)v;
	} else if (strcmp(rec, "chains") == 0) {
		uint64_t bytes;
		if (p->nr_runtime_chains >= 0)
			return fail(ps, "malformed chains record (repeated)");
		if (get_u64(ps, rec, "number of chains", &v) ||
		    get_u64(ps, rec, "bytes", &bytes) || at_end(ps, rec))
			return -1;
		if (v > INT64_MAX || bytes > INT64_MAX)
			return fail(ps, "malformed chains record (out of range)");
		p->nr_runtime_chains = (int64_t)v;
		p->chain_memory = (int64_t)bytes;
	} else if (strcmp(rec, "depth") == 0) {
		if (get_u64(ps, rec, "depth", &v) || at_end(ps, rec))
			return -1;
		if (v > 1u << 20)
			return fail(ps, "malformed depth record (depth %" PRIu64 ")", v);
		p->depth = (unsigned int)v;
	} else {
		char **dst = strcmp(rec, "exe") == 0 ? &p->exe : strcmp(rec, "time") == 0 ? &p->time
											    : &p->store;
		if (*dst)
			return fail(ps, "malformed %s record (repeated)", rec);
		if (get_rest(ps, rec, rec, dst))
			return -1;
		if (dst == &p->time) { /* SECONDS[.FRACTION], seconds of 1 to 10 digits below
					* 9e9 (their nanoseconds fit an int64) */
			const char *t = p->time;
			size_t sec = strspn(t, "0123456789"), frac = 0;
			if (t[sec] == '.')
				frac = strspn(t + sec + 1, "0123456789") + 1;
			if (sec < 1 || sec > 10 || (sec == 10 && t[0] == '9') || frac == 1 ||
			    frac > 10 || t[sec + frac])
				return fail(ps, "malformed time record (expected SECONDS.MICROS)");
		}
	}
	return 0;
}

int profile_parse(const char *name, const char *text, size_t len, struct profile *p)
{
	struct parser ps = {.name = name};
	size_t chain_cap = 0, tag_cap = 0, records = 0;
	int seen_map = 0, ended = 0, rc = -1;
	char *line = NULL;
	size_t line_cap = 0;

	memset(p, 0, sizeof(*p));
	p->pid = -1;
	p->nr_runtime_chains = p->chain_memory = -1;
	p->path = xstrdup(name);
	if (len == 0) {
		tool_msg("%s: empty file", name);
		goto out;
	}
	for (size_t pos = 0; pos < len;) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		ps.lineno++;
		if (ended) {
			fail(&ps, "data after the end record");
			break;
		}
		if (!nl) {
			if (ps.lineno == 1) {
				tool_msg("%s: not an alloctag profile (no \"alloctag-profile\" line)", name);
				goto out;
			}
			fail(&ps, "truncated (the last line has no end)");
			break;
		}
		size_t n = (size_t)(nl - (text + pos));
		GROW(line, line_cap, n + 1);
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos += n + 1;
		if (strlen(line) != n) {
			if (ps.lineno == 1) {
				tool_msg("%s: not an alloctag profile (no \"alloctag-profile\" line)", name);
				goto out;
			}
			fail(&ps, "malformed record (a NUL byte)");
			break;
		}
		ps.s = line;
		const char *f;
		size_t k = field(&ps, &f);
		char rec[32];
		if (k == 0 || k >= sizeof(rec)) {
			if (ps.lineno == 1) {
				tool_msg("%s: not an alloctag profile (no \"alloctag-profile\" line)", name);
				goto out;
			}
			fail(&ps, "malformed record (no record name)");
			break;
		}
		memcpy(rec, f, k);
		rec[k] = '\0';
		if (ps.lineno == 1) {
			uint64_t v;
			if (strcmp(rec, "alloctag-profile") != 0) {
				tool_msg("%s: not an alloctag profile (no \"alloctag-profile\" line)", name);
				goto out;
			}
			if (get_u64(&ps, rec, "version", &v) || at_end(&ps, rec)) {
				tool_msg("%s: line 1: %s", name, ps.err);
				goto out;
			}
			if (v != PROFILE_VERSION) {
				tool_msg("%s: unsupported profile version %" PRIu64
					 " (this alloctag reads version %d)",
					 name, v, PROFILE_VERSION);
				goto out;
			}
			continue;
		}
		int err = 0;
		if (strcmp(rec, "map") == 0) {
			seen_map = 1;
			err = parse_map(&ps, p);
			records++;
		} else if (strcmp(rec, "chain") == 0) {
			seen_map = 1;
			err = parse_chain(&ps, p, &chain_cap);
			records++;
		} else if (strcmp(rec, "tag") == 0) {
			seen_map = 1;
			err = parse_tag(&ps, p, &tag_cap);
			records++;
		} else if (strcmp(rec, "end") == 0) {
			uint64_t v;
			err = get_u64(&ps, rec, "count", &v) || at_end(&ps, rec);
			if (!err && v != records) {
				tool_msg("%s: truncated or corrupt: the end record counts %" PRIu64
					 " records, the file has %zu",
					 name, v, records);
				goto out;
			}
			ended = 1;
		} else if (strcmp(rec, "pid") == 0 || strcmp(rec, "exe") == 0 ||
			   strcmp(rec, "time") == 0 || strcmp(rec, "depth") == 0 ||
			   strcmp(rec, "store") == 0 || strcmp(rec, "chains") == 0) {
			err = parse_header(&ps, p, rec, &seen_map);
		} /* else: a record of a later writer of this version: skipped */
		if (err)
			break;
	}
	if (ps.err[0])
		tool_msg("%s: line %lu: %s", name, ps.lineno, ps.err);
	else if (!ended)
		tool_msg("%s: truncated (no end record)", name);
	else
		rc = live_records_attach(name, text, len, p);
out:
	free(line);
	if (rc)
		profile_free(p);
	return rc;
}

char *profile_slurp(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		tool_msg("%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	size_t len = 0, cap = 0;
	char *buf = NULL;
	for (;;) {
		GROW(buf, cap, len + 65536);
		size_t n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	int err = ferror(f);
	fclose(f);
	if (err) {
		free(buf);
		tool_msg("%s: cannot read: %s", path, strerror(EIO));
		return NULL;
	}
	*lenp = len;
	return buf;
}

int profile_read(const char *path, struct profile *p)
{
	size_t len;
	char *buf = profile_slurp(path, &len);
	if (!buf)
		return -1;
	int rc = profile_parse(path, buf, len, p);
	free(buf);
	return rc;
}

void profile_free(struct profile *p)
{
	for (size_t i = 0; i < p->nr_maps; i++) {
		free(p->maps[i].build_id);
		free(p->maps[i].path);
	}
	for (size_t i = 0; i < p->nr_chains; i++)
		free(p->chains[i].frames);
	for (size_t i = 0; i < p->nr_tags; i++) {
		free(p->tags[i].module);
		free(p->tags[i].file);
		free(p->tags[i].func);
		free(p->tags[i].extra);
	}
	free(p->maps);
	free(p->chains);
	free(p->tags);
	free(p->exe);
	free(p->time);
	free(p->store);
	free(p->path);
	live_records_detach(p);
	memset(p, 0, sizeof(*p));
}
