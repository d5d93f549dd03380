/*
 * alloctag: the command.  `alloctag COMMAND [ARGS...]`; COMMAND --help for
 * each command's usage.  See commands.h for exit statuses.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/common.h"
#include "commands.h"
#include "live/live.h"

static const char usage[] =
	"usage: alloctag COMMAND [ARGS...]\n"
	"\n"
	"Exact memory allocation profiles of C and C++ programs.\n"
	"\n"
	"commands:\n"
	"  run [OPTIONS] -- CMD [ARGS...]   run CMD with alloctag as its malloc; at exit, print\n"
	"                                   its top allocation sites and write its profile\n"
	"  report [OPTIONS] PROFILE         write a report of a profile (allocinfo, top, json,\n"
	"                                   pprof)\n"
	"  diff [OPTIONS] OLD NEW           per-site change between two profiles or allocinfo\n"
	"                                   texts, largest growth first\n"
	"  top [OPTIONS] PID                a running process's sites, refreshed, with changes\n"
	"  snapshot PID -o FILE             write a running process's profile to FILE\n"
	"  help [COMMAND]                   this text, or a command's usage\n"
	"\n"
	"`alloctag COMMAND --help` prints a command's options.\n";

void usage_error(const char *cmd, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	tool_die(2, "%s%s%s (see alloctag %s%s--help)", cmd ? cmd : "", cmd ? ": " : "", buf,
		 cmd ? cmd : "", cmd ? " " : "");
}

int parse_bytes(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	if (!*s || *s == '-' || *s == '+' || *s == ' ')
		return -1;
	unsigned long long v = strtoull(s, &end, 10);
	int shift = 0;
	if (*end == 'K' || *end == 'k')
		shift = 10;
	else if (*end == 'M' || *end == 'm')
		shift = 20;
	else if (*end == 'G' || *end == 'g')
		shift = 30;
	if (shift)
		end++;
	if (errno || end == s || *end || v > (unsigned long long)INT64_MAX >> shift)
		return -1;
	*out = (int64_t)(v << shift);
	return 0;
}

enum report_format parse_format(const char *cmd, const char *s)
{
	int f = report_format_parse(s);
	if (f < 0)
		usage_error(cmd, "unknown format '%s'; expected allocinfo, top, json, pprof or html", s);
	return (enum report_format)f;
}

void parse_match(const char *cmd, const char *re, struct filter *f)
{
	int err = regcomp(&f->match, re, REG_EXTENDED | REG_NOSUB);
	if (err) {
		char msg[256];
		regerror(err, &f->match, msg, sizeof(msg));
		usage_error(cmd, "--match '%s': %s", re, msg);
	}
	f->has_match = 1;
}

static int dispatch(int argc, char **argv)
{
	const char *cmd = argv[0];
	if (strcmp(cmd, "run") == 0)
		return cmd_run(argc, argv);
	if (strcmp(cmd, "report") == 0)
		return cmd_report(argc, argv);
	if (strcmp(cmd, "diff") == 0)
		return cmd_diff(argc, argv);
	if (strcmp(cmd, "top") == 0)
		return cmd_top(argc, argv);
	if (strcmp(cmd, "snapshot") == 0)
		return cmd_snapshot(argc, argv);
	usage_error(NULL, "unknown command '%s'", cmd);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage_error(NULL, "no command given");
	const char *cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 ||
	    (strcmp(cmd, "help") == 0 && argc == 2)) {
		fputs(usage, stdout);
		return 0;
	}
	if (strcmp(cmd, "help") == 0) { /* help COMMAND: COMMAND --help */
		char *av[] = {argv[2], "--help", NULL};
		return dispatch(2, av);
	}
	return dispatch(argc - 1, argv + 1);
}
