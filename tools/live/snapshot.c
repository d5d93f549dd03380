/*
 * alloctag snapshot PID -o FILE: the raw profile of a running process, as
 * `alloctag report` reads it.  FILE is written to "FILE.tmp.<pid>"
 * (created exclusively, never through a symlink, mode 0600: a profile
 * names the program's code and data sizes) and renamed over FILE when
 * complete; "-" writes to standard output.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "live/interval.h" /* src/live: the runtime's grammar */
#include "alloctag/commands.h"
#include "common/common.h"
#include "live.h"

static const char usage[] =
	"usage: alloctag snapshot PID -o FILE\n"
	"\n"
	"Write the raw profile of running process PID (started with `alloctag run`, the\n"
	"preload library, or linked with liballoctag) to FILE (\"-\": standard output), as\n"
	"`alloctag report` reads it.  Only the process's owner or root can read it.\n"
	"\n"
	"options:\n"
	"  -o, --output FILE  where to write the profile (required)\n"
	"  -h, --help         this text\n";

static int write_whole(const char *out, const char *text, size_t n)
{
	if (!strcmp(out, "-")) {
		if (fwrite(text, 1, n, stdout) != n || fflush(stdout)) {
			tool_msg("standard output: cannot write: %s", strerror(errno));
			return -1;
		}
		return 0;
	}
	char *tmp = xasprintf("%s.tmp.%ld", out, (long)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		tool_msg("%s: cannot create: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	size_t done = 0;
	while (done < n) {
		ssize_t w = write(fd, text + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	int err = done < n ? errno : 0;
	if (close(fd) && !err)
		err = errno;
	if (!err && rename(tmp, out))
		err = errno;
	if (err) {
		unlink(tmp);
		tool_msg("%s: cannot write: %s", out, strerror(err));
	}
	free(tmp);
	return err ? -1 : 0;
}

/* "PID": the number, or exit 2. */
pid_t live_parse_pid(const char *cmd, const char *s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v <= 0 || v > 0x3fffffff)
		usage_error(cmd, "'%s' is not a process id", s);
	return (pid_t)v;
}

int cmd_snapshot(int argc, char **argv)
{
	static const struct option opts[] = {{"output", required_argument, NULL, 'o'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *out = NULL;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'h': fputs(usage, stdout); return 0;
		default:
			if (optopt == 'o')
				usage_error("snapshot", "option '-o' needs a value");
			usage_error("snapshot", "option '%s' is unknown or needs a value",
				    argv[optind - 1]);
		}
	}
	if (optind == argc)
		usage_error("snapshot", "no process id given");
	if (argc - optind > 1)
		usage_error("snapshot", "one process at a time ('%s' is extra)", argv[optind + 1]);
	if (!out)
		usage_error("snapshot", "no output file given (-o FILE)");
	pid_t pid = live_parse_pid("snapshot", argv[optind]);
	char *text;
	size_t n;
	if (live_read(pid, &text, &n) < 0)
		return 1;
	int rc = write_whole(out, text, n);
	free(text);
	return rc ? 1 : 0;
}

long long live_parse_interval(const char *s)
{
	return at_parse_interval(s);
}

void live_set_tool_env(void)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		setenv("ALLOCTAG_TOOL", self, 0);
	}
}
