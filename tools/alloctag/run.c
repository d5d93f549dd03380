/*
 * alloctag run: run a program with liballoctag-preload.so as its malloc,
 * then report.
 *
 * The preload library is found relative to this executable (no path to
 * type): first where `cmake --install` puts it (AT_PRELOAD_INSTALL_REL,
 * e.g. ../lib/liballoctag-preload.so from bin/), then where the build tree
 * has it (AT_PRELOAD_BUILD_REL).
 *
 * Profiles: with the target T (-o, default ./alloctag.<cmd>.<pid>.prof,
 * <pid> alloctag's own, with .1, .2 ... added if taken), the program runs
 * with ALLOCTAG_PROFILE=T.%p, so every process of its fork/exec tree writes
 * its own T.<its pid> at exit (an exec keeps the pid; the image that exits
 * writes).  The program's own (the child's pid) is then renamed to T
 * without replacing anything (link + unlink); the others are listed.  With
 * --format the program's profile becomes a report at T instead (default
 * ./alloctag.<cmd>.<pid>.<ext>).
 *
 * While the program runs, SIGINT and SIGQUIT are ignored here (the terminal
 * sends them to the program, as system() does), SIGTERM and SIGHUP are
 * passed on to it.  The exit status is the program's; if it died by a
 * signal, this process dies by the same signal (without a core dump of its
 * own) after reporting.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/common.h"
#include "commands.h"
#include "../live/live.h"

static const char usage[] =
	"usage: alloctag run [OPTIONS] -- CMD [ARGS...]\n"
	"\n"
	"Run CMD with alloctag as its malloc (liballoctag-preload.so) and the environment\n"
	"passed through.  When CMD exits, print its top allocation sites (symbolized) on\n"
	"standard error and write its profile.  Every process of CMD's fork/exec tree\n"
	"writes its own profile.  The exit status is CMD's (a death by signal is passed on).\n"
	"\n"
	"options:\n"
	"  -o, --output PATH   the profile (default: ./alloctag.CMD.PID.prof, never\n"
	"                      overwriting an earlier one); other processes' profiles are\n"
	"                      PATH.PID\n"
	"  --format FMT        write a report in FMT (allocinfo, top, json, pprof) to PATH\n"
	"                      instead of the raw profile\n"
	"  --depth D           return addresses kept per call chain (ALLOCTAG_DEPTH)\n"
	"  --wrappers LIST     functions to see through, comma-separated names or globs\n"
	"                      (ALLOCTAG_WRAPPERS)\n"
	"  --never             no profiling at all (ALLOCTAG=never)\n"
	"  --uncompressed      tag references in a side table (ALLOCTAG=1,uncompressed)\n"
	"  --top N             sites printed at exit (default 10; 0: none)\n"
	"  --peak              also record every site at the moment live bytes were highest\n"
	"                      (ALLOCTAG_PEAK=1)\n"
	"  --interval T        record total live bytes and the top sites every T (100ms,\n"
	"                      0.5s, 2; ALLOCTAG_INTERVAL)\n"
	"  -h, --help          this text\n";

static const char *const exts[] = {"allocinfo", "txt", "json", "pb.gz", "html"};

/* The preload library next to this executable; exits 1 if there is none. */
static char *find_preload(void)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		tool_die(1, "run: cannot find this executable (/proc/self/exe): %s", strerror(errno));
	self[n] = '\0';
	char *dir = dirname(self);
	const char *rel[] = {AT_PRELOAD_INSTALL_REL, AT_PRELOAD_BUILD_REL};
	for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		char *p = xasprintf("%s/%s", dir, rel[i]);
		char *real = realpath(p, NULL);
		free(p);
		if (real && access(real, R_OK) == 0)
			return real;
		free(real);
	}
	tool_die(1, "run: liballoctag-preload.so not found at %s/%s or %s/%s", dir,
		 AT_PRELOAD_INSTALL_REL, dir, AT_PRELOAD_BUILD_REL);
}

static volatile sig_atomic_t child_pid;

static void pass_on(int sig)
{
	if (child_pid > 0)
		kill(child_pid, sig);
}

/* Paths T.PID, by PID. */
static int by_pid_suffix(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	long px = atol(strrchr(x, '.') + 1), py = atol(strrchr(y, '.') + 1);
	return (px > py) - (px < py);
}

#define OTHERS_LISTED 8
#define OTHERS_READ 64
#define OTHERS_SHOWN 3

/*
 * T.PID files of other processes of this run (modified since it started),
 * listed on stderr by PID, the first OTHERS_LISTED and how many more (a
 * build or a shell script makes hundreds).  When the program itself wrote
 * none (a shell that ends through _exit, say), the top sites of the
 * OTHERS_SHOWN of the first OTHERS_READ that allocated the most are
 * printed after the list.
 */
static void list_others(const char *target, pid_t main_pid, time_t start, int main_wrote,
			size_t top)
{
	char *copy = xstrdup(target), *copy2 = xstrdup(target);
	const char *dir = dirname(copy), *base = basename(copy2);
	size_t bl = strlen(base), n = 0, cap = 0;
	char **paths = NULL;
	DIR *d = opendir(dir);
	if (!d)
		goto out;
	struct dirent *e;
	while ((e = readdir(d))) {
		const char *s = e->d_name;
		if (strncmp(s, base, bl) != 0 || s[bl] != '.' || !s[bl + 1] ||
		    strspn(s + bl + 1, "0123456789") != strlen(s + bl + 1) ||
		    atol(s + bl + 1) == (long)main_pid)
			continue;
		char *path = strcmp(dir, ".") ? xasprintf("%s/%s", dir, s) : xstrdup(s);
		struct stat st;
		if (stat(path, &st) == 0 && st.st_mtime >= start) {
			GROW(paths, cap, n + 1);
			paths[n++] = path;
		} else {
			free(path);
		}
	}
	closedir(d);
	if (n) {
		qsort(paths, n, sizeof(*paths), by_pid_suffix);
		tool_msg("profiles of %zu other process%s of the run:", n, n == 1 ? "" : "es");
	}
	for (size_t i = 0; i < n && i < OTHERS_LISTED; i++)
		fprintf(stderr, "  %s\n", paths[i]);
	if (n > OTHERS_LISTED)
		fprintf(stderr, "  and %zu more: %s.*\n", n - OTHERS_LISTED, target);
	/* of the first OTHERS_READ, the OTHERS_SHOWN that allocated the most
	   (one that allocated nothing has no table to show) */
	struct other {
		size_t i;
		int64_t bytes;
	} best[OTHERS_SHOWN];
	size_t nbest = 0;
	for (size_t i = 0; !main_wrote && top && i < n && i < OTHERS_READ; i++) {
		struct profile p;
		if (profile_read(paths[i], &p))
			continue;
		int64_t bytes = 0;
		for (size_t k = 0; k < p.nr_chains; k++)
			bytes += p.chains[k].alloc_bytes > 0 ? p.chains[k].alloc_bytes : p.chains[k].live_bytes;
		for (size_t k = 0; k < p.nr_tags; k++)
			bytes += p.tags[k].alloc_bytes > 0 ? p.tags[k].alloc_bytes : p.tags[k].live_bytes;
		profile_free(&p);
		size_t at = nbest;
		while (at > 0 && best[at - 1].bytes < bytes)
			at--;
		if (bytes <= 0 || at == OTHERS_SHOWN)
			continue;
		if (nbest < OTHERS_SHOWN)
			nbest++;
		memmove(best + at + 1, best + at, (nbest - 1 - at) * sizeof(*best));
		best[at] = (struct other){i, bytes};
	}
	for (size_t b = 0; b < nbest; b++) {
		struct profile p;
		if (profile_read(paths[best[b].i], &p))
			continue;
		tool_msg("top allocation sites of %s (pid %ld) at exit:", p.exe ? p.exe : "?", p.pid);
		report_write_to(&p, FMT_TOP, NULL, stderr, top);
		profile_free(&p);
	}
	for (size_t i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
out:
	free(copy);
	free(copy2);
}

static char *default_target(const char *cmd, int fmt)
{
	char *c = xstrdup(cmd), *b = basename(c);
	const char *ext = fmt < 0 ? "prof" : exts[fmt];
	char *t = xasprintf("alloctag.%s.%ld.%s", b, (long)getpid(), ext);
	for (int i = 1; access(t, F_OK) == 0; i++) {
		free(t);
		t = xasprintf("alloctag.%s.%ld.%d.%s", b, (long)getpid(), i, ext);
	}
	free(c);
	return t;
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"output", required_argument, NULL, 'o'}, {"format", required_argument, NULL, 'f'},
		{"depth", required_argument, NULL, 'd'},  {"wrappers", required_argument, NULL, 'w'},
		{"never", no_argument, NULL, 'n'},        {"uncompressed", no_argument, NULL, 'u'},
		{"top", required_argument, NULL, 't'},    {"help", no_argument, NULL, 'h'},
		{"peak", no_argument, NULL, 'P'},         {"interval", required_argument, NULL, 'I'},
		{NULL, 0, NULL, 0}};
	const char *interval = NULL; /* --peak, --interval: tools/live */
	int peak = 0;
	const char *out = NULL, *depth = NULL, *wrappers = NULL, *mode = NULL;
	int fmt = -1, c;
	int64_t top = 10;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'f': fmt = (int)parse_format("run", optarg); break;
		case 'd': {
			char *end;
			long d = strtol(optarg, &end, 10);
			if (!*optarg || *end || d < 1 || d > 64)
				usage_error("run", "--depth '%s': expected a number of frames, 1 to 64", optarg);
			depth = optarg;
			break;
		}
		case 'w': wrappers = optarg; break;
		case 'n': mode = "never"; break;
		case 'u': mode = "1,uncompressed"; break;
		case 't':
			if (parse_bytes(optarg, &top))
				usage_error("run", "--top '%s': expected a number", optarg);
			break;
		case 'h': fputs(usage, stdout); return 0;
		case 'P': peak = 1; break;
		case 'I':
			if (live_parse_interval(optarg) < 0)
				usage_error("run", "--interval '%s': expected a time from 1ms to 3600s "
					    "(e.g. 100ms, 0.5s, 2)", optarg);
			interval = optarg;
			break;
		default:
			if (optopt)
				usage_error("run", "option '-%c' %s", optopt,
					    optopt == 'o' ? "needs a value" : "is unknown");
			usage_error("run", "option '%s' is unknown or needs a value", argv[optind - 1]);
		}
	}
	if (optind == argc)
		usage_error("run", "no command given (alloctag run [OPTIONS] -- CMD [ARGS...])");
	char **cmd = argv + optind;
	char *preload = find_preload();
	char *target = out ? xstrdup(out) : default_target(cmd[0], fmt);
	/* absolute: the program may change its directory (git -C, make -C) */
	char cwd[PATH_MAX];
	char *pattern = target[0] == '/' || !getcwd(cwd, sizeof(cwd))
				? xasprintf("%s.%%p", target)
				: xasprintf("%s/%s.%%p", cwd, target);
	time_t start = time(NULL);

	struct sigaction ign = {.sa_handler = SIG_IGN}, fwd = {.sa_handler = pass_on}, old_int,
			 old_quit;
	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGQUIT, &ign, &old_quit);
	sigaction(SIGTERM, &fwd, NULL);
	sigaction(SIGHUP, &fwd, NULL);
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		tool_die(1, "run: cannot fork: %s", strerror(errno));
	if (pid == 0) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGQUIT, &old_quit, NULL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		const char *lp = getenv("LD_PRELOAD");
		char *v = lp && *lp ? xasprintf("%s:%s", preload, lp) : xstrdup(preload);
		setenv("LD_PRELOAD", v, 1);
		setenv("ALLOCTAG_PROFILE", pattern, 1);
		if (depth)
			setenv("ALLOCTAG_DEPTH", depth, 1);
		if (wrappers)
			setenv("ALLOCTAG_WRAPPERS", wrappers, 1);
		if (mode)
			setenv("ALLOCTAG", mode, 1);
		if (peak)
			setenv("ALLOCTAG_PEAK", "1", 1);
		if (interval)
			setenv("ALLOCTAG_INTERVAL", interval, 1);
		live_set_tool_env(); /* ALLOCTAG_TOOL: this executable, for ALLOCTAG_HTTP */
		execvp(cmd[0], cmd);
		int err = errno;
		tool_msg("run: cannot run %s: %s", cmd[0], strerror(err));
		_exit(err == ENOENT ? 127 : 126);
	}
	child_pid = pid;
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			tool_die(1, "run: waitpid: %s", strerror(errno));
	child_pid = 0;

	char *mine = xasprintf("%s.%ld", target, (long)pid);
	struct stat st;
	int rc = 0, main_wrote = stat(mine, &st) == 0;
	if (!main_wrote) {
		if (WIFSIGNALED(status))
			tool_msg("run: %s was killed by signal %d (%s) and wrote no profile", cmd[0],
				 WTERMSIG(status), strsignal(WTERMSIG(status)));
		else if (!(WIFEXITED(status) && (WEXITSTATUS(status) == 127 || WEXITSTATUS(status) == 126)))
			tool_msg("run: %s wrote no profile (it ended through _exit, or could not "
				 "write %s)", cmd[0], mine);
	} else {
		struct profile p;
		if (profile_read(mine, &p)) {
			rc = 1;
		} else {
			if (top > 0) {
				fflush(stdout);
				tool_msg("top allocation sites of %s (pid %ld) at exit:", cmd[0], (long)pid);
				report_write_to(&p, FMT_TOP, NULL, stderr, (size_t)top);
			}
			if (p.nr_runtime_chains > 0) {
				char mem[32];
				tool_msg("profiling memory: %" PRId64 " call chains, %s", p.nr_runtime_chains,
					 human_bytes((int64_t)p.chain_memory, mem, sizeof(mem)));
			}
			if (fmt >= 0) {
				if (report_write(&p, (enum report_format)fmt, NULL, target, 0) == 0) {
					unlink(mine);
					tool_msg("report: %s", target);
				} else {
					rc = 1;
				}
			} else if (link(mine, target) == 0 || (errno == EEXIST && out &&
							       rename(mine, target) == 0)) {
				unlink(mine);
				tool_msg("profile: %s", target);
			} else {
				tool_msg("run: cannot name the profile %s: %s; it stays at %s", target,
					 strerror(errno), mine);
			}
			profile_free(&p);
		}
	}
	list_others(target, pid, start, main_wrote, (size_t)top);
	free(mine);
	free(pattern);
	free(target);
	free(preload);
	if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);
		struct rlimit no_core = {0, 0};
		setrlimit(RLIMIT_CORE, &no_core);
		signal(sig, SIG_DFL);
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, sig);
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		raise(sig);
		return 128 + sig;
	}
	(void)rc; /* a profile that could not be read was said; the status stays CMD's */
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
