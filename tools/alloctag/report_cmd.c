/* alloctag report: one report of one profile (report.h). */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/common.h"
#include "commands.h"

static const char usage[] =
	"usage: alloctag report [OPTIONS] PROFILE\n"
	"\n"
	"Symbolize a raw profile (written by `alloctag run` or ALLOCTAG_PROFILE) and write\n"
	"a report of its allocation sites.  PROFILE may also be an allocinfo 2.0 text\n"
	"(/proc/allocinfo, ALLOCTAG_ALLOCINFO): its lines are the sites.\n"
	"\n"
	"options:\n"
	"  --format FMT      allocinfo (the kernel's allocinfo 2.0 text), top (a table,\n"
	"                    largest first; the default), json, pprof (gzipped profile.proto\n"
	"                    for go tool pprof and continuous profilers), html (one\n"
	"                    self-contained page: live bytes over time, the peak, a flame\n"
	"                    graph, the top sites)\n"
	"  -o, --output OUT  write to OUT (default: standard output)\n"
	"  --unsymbolized    pprof: addresses with their mappings and build IDs only, for\n"
	"                    profilers that symbolize themselves\n"
	"  --min-bytes N     only sites holding at least N live bytes (suffix K, M, G)\n"
	"  --match REGEX     only sites whose file, function or object matches REGEX\n"
	"                    (POSIX extended)\n"
	"  --top N           top: at most N sites (default: all)\n"
	"  -h, --help        this text\n";

int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{"format", required_argument, NULL, 'f'}, {"output", required_argument, NULL, 'o'},
		{"min-bytes", required_argument, NULL, 'm'}, {"match", required_argument, NULL, 'r'},
		{"top", required_argument, NULL, 't'},    {"help", no_argument, NULL, 'h'},
		{"unsymbolized", no_argument, NULL, 'U'},
		{NULL, 0, NULL, 0}};
	enum report_format fmt = FMT_TOP;
	const char *out = NULL;
	struct filter f = {0};
	int64_t top = 0;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f': fmt = parse_format("report", optarg); break;
		case 'o': out = optarg; break;
		case 'm':
			if (parse_bytes(optarg, &f.min_bytes))
				usage_error("report", "--min-bytes '%s': expected a byte count such as 4096 or 1M", optarg);
			break;
		case 'r': parse_match("report", optarg, &f); break;
		case 't':
			if (parse_bytes(optarg, &top))
				usage_error("report", "--top '%s': expected a number", optarg);
			break;
		case 'h': fputs(usage, stdout); return 0;
		case 'U': report_unsymbolized = 1; break;
		default:
			if (optopt)
				usage_error("report", "option '-%c' %s", optopt,
					    strchr("o", optopt) ? "needs a value" : "is unknown");
			usage_error("report", "option '%s' is unknown or needs a value", argv[optind - 1]);
		}
	}
	if (optind == argc)
		usage_error("report", "no profile given");
	if (argc - optind > 1)
		usage_error("report", "one profile at a time ('%s' is extra)", argv[optind + 1]);
	struct profile p;
	if (profile_read_any(argv[optind], &p))
		return 1;
	int rc = report_write(&p, fmt, &f, out, (size_t)top);
	profile_free(&p);
	if (f.has_match)
		regfree(&f.match);
	return rc ? 1 : 0;
}
