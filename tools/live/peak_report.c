/*
 * The peak and the series in the `top` report (report --format top, and
 * `alloctag run` at exit), after the table:
 *
 *   peak: 100.0 MiB at 2026-11-30 10:02:03.123 UTC (1.234 s before the profile)
 *         live     calls  site at the peak
 *    100.0 MiB   102400  main at prog.c:12
 *   series: 51 samples every 100 ms over 5.0 s, highest 100.0 MiB at 10:02:03.100 UTC
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/common.h"
#include "records.h"
#include "report_live.h"

const char *live_time_text(double t, char *buf, size_t len)
{
	time_t s = (time_t)t;
	struct tm tm;
	gmtime_r(&s, &tm);
	snprintf(buf, len, "%04d-%02d-%02d %02d:%02d:%02d.%03d UTC", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (int)((t - (double)s) * 1000) % 1000);
	return buf;
}

static int by_bytes(const void *a, const void *b)
{
	const struct at_peak_site *x = a, *y = b;
	return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : 0;
}

size_t live_peak_sites(const struct profile *p, const struct sites *s, struct at_peak_site **out)
{
	const struct live_records *r = p->live;
	size_t nmap, n = 0;
	long *map = live_site_of_idx(r, s, &nmap);
	struct at_peak_site *v = xcalloc(r->nr_peak + 1, sizeof(*v));
	for (size_t i = 0; i < r->nr_peak; i++) {
		const struct peak_site *ps = &r->peak[i];
		long site = ps->idx < nmap ? map[ps->idx] : -1;
		size_t j = 0;
		while (j < n && !(site >= 0 && v[j].site == site))
			j++;
		if (j == n)
			v[n++] = (struct at_peak_site){site, ps->idx, 0, 0};
		v[j].bytes += ps->bytes;
		v[j].calls += ps->calls;
	}
	qsort(v, n, sizeof(*v), by_bytes);
	free(map);
	*out = v;
	return n;
}

void live_site_text(const struct site *x, char *buf, size_t len)
{
	if (x->file)
		snprintf(buf, len, "%s at %s:%u", x->func ? x->func : "??", x->file, x->line);
	else if (x->func)
		snprintf(buf, len, "%s in %s", x->func, x->object);
	else
		snprintf(buf, len, "%s", x->object);
}

void live_report_top(FILE *out, const struct profile *p, const struct sites *s, size_t top_n)
{
	const struct live_records *r = p->live;
	char b1[32], tb[64], name[512];
	if (!r)
		return;
	if (r->has_peak) {
		double written = p->time ? strtod(p->time, NULL) : r->peak_time;
		int recorded = live_peak_recorded(r);
		if (recorded)
			fprintf(out, "peak: %s at %s (%.3f s before the profile)\n",
				human_bytes(r->peak_total, b1, sizeof(b1)),
				live_time_text(r->peak_time, tb, sizeof(tb)), written - r->peak_time);
		else
			fprintf(out, "peak: none of 1 MiB or more (the recorder's floor); %s live when "
				"the profile was written, at %s\n",
				human_bytes(r->peak_total, b1, sizeof(b1)),
				live_time_text(r->peak_time, tb, sizeof(tb)));
		struct at_peak_site *v;
		size_t n = live_peak_sites(p, s, &v);
		if (top_n && n > top_n)
			n = top_n;
		fprintf(out, "%10s %9s  %s\n", "live", "calls",
			recorded ? "site at the peak" : "site when written");
		for (size_t i = 0; i < n; i++) {
			if (v[i].site >= 0)
				live_site_text(&s->v[v[i].site], name, sizeof(name));
			else
				snprintf(name, sizeof(name), "tag index %u (not in the profile)", v[i].idx);
			fprintf(out, "%10s %9" PRId64 "  %s\n", human_bytes(v[i].bytes, b1, sizeof(b1)),
				v[i].calls, name);
		}
		free(v);
	}
	if (r->nr_samples) {
		size_t hi = 0;
		for (size_t i = 1; i < r->nr_samples; i++)
			if (r->samples[i].total > r->samples[hi].total)
				hi = i;
		fprintf(out, "series: %zu samples every %g ms over %.1f s, highest %s at %s\n",
			r->nr_samples, (double)r->interval_ns / 1e6,
			r->samples[r->nr_samples - 1].time - r->samples[0].time,
			human_bytes(r->samples[hi].total, b1, sizeof(b1)),
			live_time_text(r->samples[hi].time, tb, sizeof(tb)));
	}
}
