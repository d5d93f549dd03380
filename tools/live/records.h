/*
 * The raw profile's peak and series records (docs/PROFILE_FORMAT.md, "Peak
 * and series"), read beside the profile reader (which skips them): which
 * tag index each chain and tag record holds, the peak, the samples.
 */
#ifndef ALLOCTAG_TOOL_RECORDS_H
#define ALLOCTAG_TOOL_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include "../report/sites.h"

struct peak_site {
	uint32_t idx;
	int64_t bytes, calls;
};

#define SAMPLE_TOP 8

struct sample {
	double time; /* seconds since the epoch */
	int64_t total;
	unsigned int nr;
	uint32_t idx[SAMPLE_TOP];
	int64_t bytes[SAMPLE_TOP];
};

struct live_records {
	long *chain_idx; /* tag index of the profile's chain k, -1 if none */
	size_t nr_chains;
	long *tag_idx; /* of the profile's tag k */
	size_t nr_tags;
	int has_peak;
	double peak_time;
	int64_t peak_total;
	struct peak_site *peak;
	size_t nr_peak;
	long long interval_ns; /* 0: no series */
	struct sample *samples;
	size_t nr_samples;
};

/* The peak recorder's floor (src/live/peak.c AT_PEAK_FLOOR): it records no
 * moment below 1 MiB of live bytes, and the profile's writer records the
 * moment it writes if that is higher; so a peak below it is the live
 * state when the profile was written (a process that never held 1 MiB),
 * not the highest, which an interval series may show higher. */
#define LIVE_PEAK_FLOOR (1ll << 20)

/* Whether r's peak is one the recorder kept (else the writing moment). */
static inline int live_peak_recorded(const struct live_records *r)
{
	return r->has_peak && r->peak_total >= LIVE_PEAK_FLOOR;
}

/* Parse the records of profile text (name for messages).  0, or -1 after
 * one "alloctag: NAME: line N: ..." line. */
int live_records_parse(const char *name, const char *text, size_t len, struct live_records *r);
/* The same, reading the file. */
int live_records_read(const char *path, struct live_records *r);
void live_records_free(struct live_records *r);

/* The profile reader's hooks (profile/read.c): p->live from the text (0, or
 * -1 after one line), and its release. */
int live_records_attach(const char *name, const char *text, size_t len, struct profile *p);
void live_records_detach(struct profile *p);

/* For each tag index, the index of its site in s (-1: none); returns an
 * array of `*n` entries (malloc'd). */
long *live_site_of_idx(const struct live_records *r, const struct sites *s, size_t *n);

#endif
