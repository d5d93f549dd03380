/*
 * alloctag top PID: a live, refreshing table of a running process's
 * allocation sites, largest live bytes first, with each site's change since
 * the previous refresh; `q` quits (standard input in a terminal), as does
 * the end of the process (one line says so).  --once prints the table once,
 * in the format of `alloctag report --format top` (with the peak so far
 * when the process records one, ALLOCTAG_PEAK).
 *
 * Each refresh is one live read (live_read.c): the process is not stopped;
 * the snapshot is of one instant.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "alloctag/commands.h"
#include "common/common.h"
#include "live.h"
#include "report/report.h"
#include "report_live.h"

static const char usage[] =
	"usage: alloctag top [OPTIONS] PID\n"
	"\n"
	"Show the allocation sites of running process PID (started with `alloctag run`, the\n"
	"preload library, or linked with liballoctag), largest live bytes first, refreshed\n"
	"with each site's change since the previous refresh.  q quits.  Only the process's\n"
	"owner or root can read it.\n"
	"\n"
	"options:\n"
	"  --once             print the table once (the format of report --format top)\n"
	"  -d, --delay SECS   seconds between refreshes (default 2; 0.1 to 3600)\n"
	"  -n, --top N        at most N sites (default: what fits the terminal, or 30)\n"
	"  -h, --help         this text\n";

struct prev {
	char *name;
	int64_t bytes, calls;
};

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct prev *)a)->name, ((const struct prev *)b)->name);
}

static struct termios saved_tio;
static int raw_on;

static void restore_tty(void)
{
	if (raw_on)
		tcsetattr(0, TCSANOW, &saved_tio);
	raw_on = 0;
}

static void on_signal(int sig)
{
	restore_tty();
	signal(sig, SIG_DFL);
	raise(sig);
}

static const char *signed_bytes(int64_t v, char *buf, size_t len)
{
	char h[32];
	if (!v)
		return "0";
	human_bytes(v < 0 ? -v : v, h, sizeof(h));
	snprintf(buf, len, "%c%s", v < 0 ? '-' : '+', h);
	return buf;
}

/* One refresh: the table with changes against *prev (replaced). */
static void show(pid_t pid, const struct profile *p, struct sites *s, struct prev **prev,
		 size_t *nprev, size_t rows, double delay)
{
	char b1[32], b2[48], name[512];
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	sites_sort_by_bytes(s);
	fputs("\033[H\033[2J", stdout);
	printf("alloctag top: process %ld (%s)  %02d:%02d:%02d  every %g s; q quits\n", (long)pid,
	       p->exe ? p->exe : "?", tm.tm_hour, tm.tm_min, tm.tm_sec, delay);
	printf("%10s %10s %9s %9s  %s\n", "live", "change", "calls", "change", "site");
	size_t n = rows && rows < s->nr ? rows : s->nr;
	struct prev *nv = xcalloc(s->nr ? s->nr : 1, sizeof(*nv));
	for (size_t i = 0; i < s->nr; i++) {
		const struct site *x = &s->v[i];
		struct prev key = {x->name, 0, 0}, *old = NULL;
		if (*prev)
			old = bsearch(&key, *prev, *nprev, sizeof(key), by_name);
		if (i < n) {
			live_site_text(x, name, sizeof(name));
			printf("%10s %10s %9" PRId64 " %9" PRId64 "  %s\n",
			       human_bytes(x->live_bytes, b1, sizeof(b1)),
			       old ? signed_bytes(x->live_bytes - old->bytes, b2, sizeof(b2)) : "new",
			       x->live_calls, x->live_calls - (old ? old->calls : 0), name);
		}
		nv[i] = (struct prev){xstrdup(x->name), x->live_bytes, x->live_calls};
	}
	printf("%10s %10s %9" PRId64 " %9s  total, %zu of %zu sites\n",
	       human_bytes(s->live_bytes, b1, sizeof(b1)), "", s->live_calls, "", n, s->nr);
	if (p->live && p->live->has_peak) {
		char tb[64];
		printf("peak so far: %s at %s\n", human_bytes(p->live->peak_total, b1, sizeof(b1)),
		       live_time_text(p->live->peak_time, tb, sizeof(tb)));
	}
	fflush(stdout);
	for (size_t i = 0; i < *nprev; i++)
		free((*prev)[i].name);
	free(*prev);
	qsort(nv, s->nr, sizeof(*nv), by_name);
	*prev = nv;
	*nprev = s->nr;
}

/* One read: 0 shown, 1 the process is gone (said), -1 failed. */
static int refresh(pid_t pid, int once, size_t top, double delay, struct prev **prev,
		   size_t *nprev)
{
	char *text, name[64];
	size_t len;
	int r = live_read(pid, &text, &len);
	if (r < 0)
		return -1;
	snprintf(name, sizeof(name), "process %ld", (long)pid);
	struct profile p;
	if (profile_parse(name, text, len, &p)) {
		free(text);
		return -1;
	}
	free(text);
	struct symbolizer *sym = sym_new(&p);
	struct sites s;
	sites_build(&s, &p, sym, NULL);
	if (once) {
		report_top(stdout, &s, top);
		live_report_top(stdout, &p, &s, top); /* the peak so far, the series, if recorded */
		fflush(stdout);
	} else {
		size_t rows = top;
		struct winsize ws;
		if (!rows)
			rows = ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 5 ? ws.ws_row - 4u : 30;
		show(pid, &p, &s, prev, nprev, rows, delay);
	}
	sites_free(&s);
	sym_free(sym);
	profile_free(&p);
	return r;
}

int cmd_top(int argc, char **argv)
{
	static const struct option opts[] = {{"once", no_argument, NULL, '1'},
					     {"delay", required_argument, NULL, 'd'},
					     {"top", required_argument, NULL, 'n'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	int once = 0, c;
	double delay = 2;
	int64_t top = 0;
	char *end;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "d:n:h", opts, NULL)) != -1) {
		switch (c) {
		case '1': once = 1; break;
		case 'd':
			errno = 0;
			delay = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(delay >= 0.1 && delay <= 3600))
				usage_error("top", "--delay '%s': expected seconds from 0.1 to 3600", optarg);
			break;
		case 'n':
			if (parse_bytes(optarg, &top) || top <= 0)
				usage_error("top", "--top '%s': expected a positive number", optarg);
			break;
		case 'h': fputs(usage, stdout); return 0;
		default:
			if (optopt == 'd' || optopt == 'n')
				usage_error("top", "option '-%c' needs a value", optopt);
			usage_error("top", "option '%s' is unknown or needs a value", argv[optind - 1]);
		}
	}
	if (optind == argc)
		usage_error("top", "no process id given");
	if (argc - optind > 1)
		usage_error("top", "one process at a time ('%s' is extra)", argv[optind + 1]);
	pid_t pid = live_parse_pid("top", argv[optind]);
	struct prev *prev = NULL;
	size_t nprev = 0;
	if (once)
		return refresh(pid, 1, (size_t)top, delay, &prev, &nprev) < 0 ? 1 : 0;

	if (isatty(0) && tcgetattr(0, &saved_tio) == 0) {
		struct termios t = saved_tio;
		t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		t.c_cc[VMIN] = 0;
		t.c_cc[VTIME] = 0;
		if (tcsetattr(0, TCSANOW, &t) == 0) {
			raw_on = 1;
			atexit(restore_tty);
			signal(SIGINT, on_signal);
			signal(SIGTERM, on_signal);
			signal(SIGHUP, on_signal);
		}
	}
	int rc = 0;
	for (int first = 1;; first = 0) {
		int r = refresh(pid, 0, (size_t)top, delay, &prev, &nprev);
		if (r != 0) {
			rc = first && r < 0 ? 1 : 0; /* the process ended: said by live_read */
			break;
		}
		struct pollfd pf = {raw_on ? 0 : -1, POLLIN, 0};
		int ms = (int)(delay * 1000);
		if (poll(&pf, 1, ms) > 0 && raw_on) {
			char ch;
			if (read(0, &ch, 1) == 1 && (ch == 'q' || ch == 'Q'))
				break;
		}
	}
	restore_tty();
	for (size_t i = 0; i < nprev; i++)
		free(prev[i].name);
	free(prev);
	return rc;
}
