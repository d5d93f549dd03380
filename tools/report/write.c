/*
 * report_write: symbolize, build the sites, write one format (report.h).
 * A file is written to "<out>.tmp.<pid>" (created exclusively, never through
 * a symlink, mode 0600: owner-only, as everything alloctag writes) and
 * renamed over <out> when complete, so a failure never
 * leaves a partial report under the name asked for.
 */
#define _GNU_SOURCE
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/common.h"
#include "../live/report_live.h"

int report_format_parse(const char *s)
{
	static const char *names[] = {"allocinfo", "top", "json", "pprof", "html"};
	for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

static int write_format(FILE *fp, const struct profile *p, enum report_format fmt,
			const struct filter *f, size_t top_n)
{
	struct symbolizer *sym = sym_new(p);
	struct sites s;
	int rc;
	sites_build(&s, p, sym, f);
	switch (fmt) {
	case FMT_ALLOCINFO: rc = report_allocinfo(fp, &s); break;
	case FMT_TOP:
		rc = report_top(fp, &s, top_n);
		live_report_top(fp, p, &s, top_n); /* peak and series, if recorded */
		break;
	case FMT_JSON: rc = report_json(fp, p, sym, &s); break;
	case FMT_HTML: rc = report_html(fp, p, sym, &s); break;
	default: rc = report_pprof(fp, p, sym, &s); break;
	}
	sites_free(&s);
	sym_free(sym);
	return rc;
}

int report_write_to(const struct profile *p, enum report_format fmt, const struct filter *f,
		    FILE *fp, size_t top_n)
{
	int rc = write_format(fp, p, fmt, f, top_n);
	if (fflush(fp) && !rc) {
		tool_msg("cannot write the report: %s", strerror(errno));
		rc = -1;
	}
	return rc;
}

FILE *report_out_open(const char *out, char **tmp)
{
	*tmp = NULL;
	if (!out || strcmp(out, "-") == 0)
		return stdout;
	*tmp = xasprintf("%s.tmp.%ld", out, (long)getpid());
	int fd = open(*tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	FILE *fp = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!fp) {
		tool_msg("%s: cannot create: %s", *tmp, strerror(errno));
		free(*tmp);
		*tmp = NULL;
	}
	return fp;
}

int report_out_close(FILE *fp, const char *out, char *tmp, int rc)
{
	if (fflush(fp) || ferror(fp)) {
		if (!rc)
			tool_msg("%s: cannot write: %s", tmp ? out : "standard output", strerror(errno));
		rc = -1;
	}
	if (tmp) {
		if (fclose(fp) && !rc) {
			tool_msg("%s: cannot write: %s", out, strerror(errno));
			rc = -1;
		}
		if (!rc && rename(tmp, out)) {
			tool_msg("%s: cannot rename %s to it: %s", out, tmp, strerror(errno));
			rc = -1;
		}
		if (rc)
			unlink(tmp);
		free(tmp);
	}
	return rc;
}

int report_write(const struct profile *p, enum report_format fmt, const struct filter *f,
		 const char *out, size_t top_n)
{
	char *tmp;
	FILE *fp = report_out_open(out, &tmp);
	if (!fp)
		return -1;
	return report_out_close(fp, out, tmp, write_format(fp, p, fmt, f, top_n));
}
