/*
 * Reports of the peak and the series (tools/live): the lines the top
 * report adds (peak_report.c) and the HTML page (html.c).
 */
#ifndef ALLOCTAG_TOOL_REPORT_LIVE_H
#define ALLOCTAG_TOOL_REPORT_LIVE_H

#include <stdio.h>

#include "../report/report.h"
#include "records.h"

struct at_peak_site {
	long site; /* index in the sites, -1: not in the profile */
	uint32_t idx;
	int64_t bytes, calls;
};

/* After report_top: the peak (its sites, at most top_n; 0: all) and a line
 * on the series, when p has them. */
void live_report_top(FILE *out, const struct profile *p, const struct sites *s, size_t top_n);
/* The peak's sites, largest first (malloc'd array, returns its length). */
size_t live_peak_sites(const struct profile *p, const struct sites *s, struct at_peak_site **out);
/* "2026-11-30 10:02:03.123 UTC" */
const char *live_time_text(double t, char *buf, size_t len);
/* A site as the top table names it. */
void live_site_text(const struct site *x, char *buf, size_t len);
/* The HTML page (html.c). */
int report_html(FILE *out, const struct profile *p, struct symbolizer *sym, struct sites *s);

#endif
