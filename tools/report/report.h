/*
 * The report writers, one per format, over the sites of one profile
 * (sites.h).  Each returns 0, or -1 after one "alloctag: " line.
 *   allocinfo  the kernel's allocinfo 2.0 text, one line per site
 *   top        a table, largest live bytes first, sizes in human units,
 *              then a total line
 *   json       the same data for scripts (schema: README, "JSON report")
 *   pprof      gzipped profile.proto (sample types inuse_objects,
 *              inuse_space, alloc_objects, alloc_space; period 1)
 */
#ifndef ALLOCTAG_TOOL_REPORT_H
#define ALLOCTAG_TOOL_REPORT_H

#include <stdio.h>

#include "sites.h"

enum report_format { FMT_ALLOCINFO, FMT_TOP, FMT_JSON, FMT_PPROF, FMT_HTML /* tools/live/html.c */ };

/* "allocinfo" ... "pprof" -> format; -1 for anything else. */
int report_format_parse(const char *s);
/* s as a JSON string (NULL: null); in_html also escapes < > & for a
 * script element. */
void report_json_str(FILE *out, const char *s, int in_html);
/* An output file written whole or not at all: out ("-" or NULL: standard
 * output) is created as OUT.tmp.PID (O_EXCL, O_NOFOLLOW, mode 0600) and
 * renamed over out when closed with rc == 0, removed otherwise.  open:
 * NULL after one message; close: rc, or -1 after one message. */
FILE *report_out_open(const char *out, char **tmp);
int report_out_close(FILE *fp, const char *out, char *tmp, int rc);

/* pprof: locations carry addresses, mappings and build IDs only, no lines
 * (report --unsymbolized; the HTTP endpoint's /debug/pprof/heap). */
extern int report_unsymbolized;

int report_allocinfo(FILE *out, const struct sites *s);
/* At most n sites (0: all); sorts s. */
int report_top(FILE *out, struct sites *s, size_t n);
int report_json(FILE *out, const struct profile *p, struct symbolizer *sym,
		const struct sites *s);
int report_pprof(FILE *out, const struct profile *p, struct symbolizer *sym,
		 const struct sites *s);
/* A diff: p's samples and base's with negated values (go tool pprof's
 * -diff_base). */
int report_pprof_diff(FILE *out, const struct profile *p, struct symbolizer *sym,
		      const struct sites *s, const struct profile *base, struct symbolizer *base_sym,
		      const struct sites *base_sites);

/*
 * The whole job: read nothing, symbolize p, build its sites with filter f
 * (may be NULL) and write the format to out ("-" or NULL: stdout; a file is
 * written whole or not at all).  top_n as for report_top.
 */
int report_write(const struct profile *p, enum report_format fmt, const struct filter *f,
		 const char *out, size_t top_n);
/* The same to an open stream. */
int report_write_to(const struct profile *p, enum report_format fmt, const struct filter *f,
		    FILE *fp, size_t top_n);

#endif
