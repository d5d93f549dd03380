/*
 * The difference between two snapshots (raw profiles or allocinfo texts):
 * per site, by site name, the change of live bytes and calls, NEW - OLD;
 * with `allocated`, of the allocated (cumulative) bytes and calls, which
 * raw profiles have and allocinfo texts do not (two runs of a program
 * that frees everything before it exits differ there only).
 * Formats: top (a table, largest growth first, then the total), allocinfo
 * (allocinfo 2.0 lines with the changes, signed), json, pprof (NEW's
 * samples and OLD's negated: what go tool pprof -diff_base computes).
 * Sites that did not change are left out.  --min-bytes keeps sites whose
 * change is at least N bytes either way; --match as for reports.
 */
#ifndef ALLOCTAG_TOOL_DIFF_H
#define ALLOCTAG_TOOL_DIFF_H

#include <stdio.h>

#include "../report/report.h"

int diff_write(FILE *out, enum report_format fmt, const struct profile *old_p,
	       const struct profile *new_p, const struct filter *f, int allocated);

#endif
