/* Reading the peak and series records (records.h). */
#define _GNU_SOURCE
#include "records.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/common.h"

static int bad(const char *name, size_t line, const char *what)
{
	tool_msg("%s: line %zu: malformed %s record", name, line, what);
	return -1;
}

static int num(const char **p, long long *v)
{
	char *end;
	errno = 0;
	if (**p != '-' && (**p < '0' || **p > '9'))
		return -1;
	*v = strtoll(*p, &end, 10);
	if (errno || end == *p)
		return -1;
	*p = end;
	return 0;
}

static int dbl(const char **p, double *v)
{
	char *end;
	errno = 0;
	if (**p < '0' || **p > '9')
		return -1;
	*v = strtod(*p, &end);
	if (errno || end == *p)
		return -1;
	*p = end;
	return 0;
}

static int sp(const char **p)
{
	if (**p != ' ')
		return -1;
	(*p)++;
	return 0;
}

static int parse(const char *name, const char *text, size_t len, struct live_records *r)
{
	size_t cap_c = 0, cap_t = 0, cap_p = 0, cap_s = 0, line = 0;
	int last = 0; /* 1 chain, 2 tag, 0 other */
	memset(r, 0, sizeof(*r));
	const char *p = text, *end = text + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		char buf[1024];
		size_t n = (size_t)(e - p);
		line++;
		if (!strncmp(p, "chain ", 6)) {
			GROW(r->chain_idx, cap_c, r->nr_chains + 1);
			r->chain_idx[r->nr_chains++] = -1;
			last = 1;
		} else if (!strncmp(p, "tag ", 4)) {
			GROW(r->tag_idx, cap_t, r->nr_tags + 1);
			r->tag_idx[r->nr_tags++] = -1;
			last = 2;
		} else if (n < sizeof(buf) - 1 || !strncmp(p, "sample ", 7)) {
			if (n >= sizeof(buf))
				return bad(name, line, "sample");
			memcpy(buf, p, n);
			buf[n] = '\0';
			const char *q = buf;
			long long a, b, c;
			double t;
			if (!strncmp(buf, "index ", 6)) {
				q += 6;
				if (num(&q, &a) || *q || a < 0 || !last)
					return bad(name, line, "index");
				if (last == 1)
					r->chain_idx[r->nr_chains - 1] = a;
				else
					r->tag_idx[r->nr_tags - 1] = a;
				last = 0;
			} else if (!strncmp(buf, "peak ", 5)) {
				q += 5;
				if (dbl(&q, &t) || sp(&q) || num(&q, &a) || *q)
					return bad(name, line, "peak");
				r->has_peak = 1;
				r->peak_time = t;
				r->peak_total = a;
			} else if (!strncmp(buf, "peak-site ", 10)) {
				q += 10;
				if (num(&q, &a) || sp(&q) || num(&q, &b) || sp(&q) || num(&q, &c) || *q ||
				    a < 0 || !r->has_peak)
					return bad(name, line, "peak-site");
				GROW(r->peak, cap_p, r->nr_peak + 1);
				r->peak[r->nr_peak++] = (struct peak_site){(uint32_t)a, b, c};
			} else if (!strncmp(buf, "interval ", 9)) {
				q += 9;
				if (num(&q, &a) || *q || a <= 0)
					return bad(name, line, "interval");
				r->interval_ns = a;
			} else if (!strncmp(buf, "sample ", 7)) {
				struct sample s;
				memset(&s, 0, sizeof(s));
				q += 7;
				if (dbl(&q, &s.time) || sp(&q) || num(&q, &a))
					return bad(name, line, "sample");
				s.total = a;
				while (*q) {
					if (sp(&q) || num(&q, &a) || *q++ != ':' || num(&q, &b) || a < 0 ||
					    s.nr == SAMPLE_TOP)
						return bad(name, line, "sample");
					s.idx[s.nr] = (uint32_t)a;
					s.bytes[s.nr++] = b;
				}
				GROW(r->samples, cap_s, r->nr_samples + 1);
				r->samples[r->nr_samples++] = s;
			}
		}
		p = e + 1;
	}
	return 0;
}

int live_records_parse(const char *name, const char *text, size_t len, struct live_records *r)
{
	int rc = parse(name, text, len, r);
	if (rc)
		live_records_free(r);
	return rc;
}

int live_records_read(const char *path, struct live_records *r)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		tool_msg("%s: %s", path, strerror(errno));
		return -1;
	}
	size_t cap = 1 << 16, n = 0;
	char *buf = xmalloc(cap);
	size_t k;
	while ((k = fread(buf + n, 1, cap - n, f)) > 0) {
		n += k;
		if (n == cap)
			buf = xrealloc(buf, cap *= 2);
	}
	fclose(f);
	int rc = live_records_parse(path, buf, n, r);
	free(buf);
	return rc;
}

void live_records_free(struct live_records *r)
{
	free(r->chain_idx);
	free(r->tag_idx);
	free(r->peak);
	free(r->samples);
	memset(r, 0, sizeof(*r));
}

long *live_site_of_idx(const struct live_records *r, const struct sites *s, size_t *n)
{
	long max = -1;
	for (size_t i = 0; i < r->nr_chains; i++)
		if (r->chain_idx[i] > max)
			max = r->chain_idx[i];
	for (size_t i = 0; i < r->nr_tags; i++)
		if (r->tag_idx[i] > max)
			max = r->tag_idx[i];
	*n = (size_t)(max + 1);
	long *m = xmalloc((*n ? *n : 1) * sizeof(long));
	for (size_t i = 0; i < *n; i++)
		m[i] = -1;
	for (size_t k = 0; k < s->nr; k++) {
		const struct site *x = &s->v[k];
		if (x->tag >= 0 && (size_t)x->tag < r->nr_tags && r->tag_idx[x->tag] >= 0)
			m[r->tag_idx[x->tag]] = (long)k;
		for (size_t j = 0; j < x->nr_chains; j++) {
			size_t c = x->chains[j];
			if (c < r->nr_chains && r->chain_idx[c] >= 0)
				m[r->chain_idx[c]] = (long)k;
		}
	}
	return m;
}

int live_records_attach(const char *name, const char *text, size_t len, struct profile *p)
{
	struct live_records r;
	if (live_records_parse(name, text, len, &r))
		return -1;
	p->live = xmalloc(sizeof(r));
	*p->live = r;
	return 0;
}

void live_records_detach(struct profile *p)
{
	if (!p->live)
		return;
	live_records_free(p->live);
	free(p->live);
	p->live = NULL;
}
