/*
 * Writing the peak and the series into the raw profile (formats:
 * docs/PROFILE_FORMAT.md).  Stack buffers only.
 */
#include "live/profile_records.h"

#include <stdio.h>

#include "live/peak.h"
#include "live/sampler.h"

void at_live_index_record(uint32_t idx, at_put_fn put, void *ctx)
{
	char line[32];
	if (idx < 2) /* AT_IDX_FIRST: a walk that gave no index; nothing to name */
		return;
	snprintf(line, sizeof(line), "index %u\n", idx);
	put(ctx, line);
}

struct emit {
	at_put_fn put;
	void *ctx;
};

static void peak_site(uint32_t idx, int64_t bytes, int64_t calls, void *arg)
{
	struct emit *e = arg;
	char line[96];
	snprintf(line, sizeof(line), "peak-site %u %lld %lld\n", idx, (long long)bytes,
		 (long long)calls);
	e->put(e->ctx, line);
}

static void sample(const struct at_sample *s, void *arg)
{
	struct emit *e = arg;
	char line[64 + AT_SAMPLE_TOP * 48];
	int n = snprintf(line, sizeof(line), "sample %lld.%06ld %lld", (long long)s->when.tv_sec,
			 s->when.tv_nsec / 1000, (long long)s->total);
	for (uint32_t i = 0; i < s->nr; i++)
		n += snprintf(line + n, sizeof(line) - (size_t)n, " %u:%lld", s->idx[i],
			      (long long)s->bytes[i]);
	snprintf(line + n, sizeof(line) - (size_t)n, "\n");
	e->put(e->ctx, line);
}

/* The peak record comes before its peak-site lines: the callback writes
 * those, so the header is put first with the values the call fills. */
struct peak_emit {
	struct emit e;
	struct timespec *when;
	int64_t *total;
	int said;
};

static void peak_first(uint32_t idx, int64_t bytes, int64_t calls, void *arg)
{
	struct peak_emit *p = arg;
	if (!p->said) {
		char line[96];
		snprintf(line, sizeof(line), "peak %lld.%06ld %lld\n", (long long)p->when->tv_sec,
			 p->when->tv_nsec / 1000, (long long)*p->total);
		p->e.put(p->e.ctx, line);
		p->said = 1;
	}
	peak_site(idx, bytes, calls, &p->e);
}

void at_live_records(at_put_fn put, void *ctx)
{
	struct timespec when = {0, 0};
	int64_t total = 0;
	struct peak_emit p = {{put, ctx}, &when, &total, 0};
	if (at_peak_each(&when, &total, peak_first, &p) && !p.said) {
		char line[96];
		snprintf(line, sizeof(line), "peak %lld.%06ld %lld\n", (long long)when.tv_sec,
			 when.tv_nsec / 1000, (long long)total);
		put(ctx, line);
	}
	struct emit e = {put, ctx};
	char line[48];
	long long ns;
	if ((ns = at_sampler_interval())) {
		snprintf(line, sizeof(line), "interval %lld\n", ns);
		put(ctx, line);
		at_sampler_each(sample, &e);
	}
}
