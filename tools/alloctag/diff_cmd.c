/* alloctag diff: the change between two snapshots (diff/diff.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/common.h"
#include "../diff/diff.h"
#include "commands.h"

static const char usage[] =
	"usage: alloctag diff [OPTIONS] OLD NEW\n"
	"\n"
	"Per-site change of live bytes and calls from OLD to NEW, largest growth first.\n"
	"OLD and NEW are raw profiles or allocinfo texts (either kind, mixed).\n"
	"\n"
	"options:\n"
	"  --format FMT      top (a table; the default), allocinfo (signed changes), json,\n"
	"                    pprof (NEW with OLD subtracted, for go tool pprof)\n"
	"  -o, --output OUT  write to OUT (default: standard output)\n"
	"  --min-bytes N     only sites that changed by at least N bytes either way\n"
	"  --match REGEX     only sites whose file, function or object matches REGEX\n"
	"  --allocated       compare the bytes and calls allocated since start, not the\n"
	"                    live ones (raw profiles only; pprof has both anyway)\n"
	"  -h, --help        this text\n";

int cmd_diff(int argc, char **argv)
{
	static const struct option opts[] = {
		{"format", required_argument, NULL, 'f'}, {"output", required_argument, NULL, 'o'},
		{"min-bytes", required_argument, NULL, 'm'}, {"match", required_argument, NULL, 'r'},
		{"allocated", no_argument, NULL, 'A'},    {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	int allocated = 0;
	enum report_format fmt = FMT_TOP;
	const char *out = NULL;
	struct filter f = {0};
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f': fmt = parse_format("diff", optarg); break;
		case 'o': out = optarg; break;
		case 'm':
			if (parse_bytes(optarg, &f.min_bytes))
				usage_error("diff", "--min-bytes '%s': expected a byte count such as 4096 or 1M", optarg);
			break;
		case 'r': parse_match("diff", optarg, &f); break;
		case 'A': allocated = 1; break;
		case 'h': fputs(usage, stdout); return 0;
		default:
			if (optopt)
				usage_error("diff", "option '-%c' %s", optopt,
					    optopt == 'o' ? "needs a value" : "is unknown");
			usage_error("diff", "option '%s' is unknown or needs a value", argv[optind - 1]);
		}
	}
	if (argc - optind != 2)
		usage_error("diff", "expected two snapshots, OLD and NEW; got %d", argc - optind);
	struct profile o, n;
	if (profile_read_any(argv[optind], &o))
		return 1;
	if (profile_read_any(argv[optind + 1], &n)) {
		profile_free(&o);
		return 1;
	}
	char *tmp;
	FILE *fp = report_out_open(out, &tmp);
	int rc = fp ? report_out_close(fp, out, tmp, diff_write(fp, fmt, &o, &n, &f, allocated)) : -1;
	profile_free(&o);
	profile_free(&n);
	if (f.has_match)
		regfree(&f.match);
	return rc ? 1 : 0;
}
