/*
 * libpages NAME CMD [ARG...]: run CMD (standard output to /dev/null),
 * stop it when it exits (ptrace's exit event: the process's memory is
 * still whole) and print one line for the file mappings whose path ends
 * in /NAME:
 *     text_kib=T data_kib=D rx=P,P,... rc=R
 * text is the resident KiB of the mappings not writable (text, read-only
 * data, .eh_frame: with -z noseparate-code r-xp mappings, three for the
 * preload library, src/preload/text_order.ld; the file page where one
 * segment ends and the next begins is in both and counts in each), data
 * of the writable ones backed by the file; rx lists the resident pages of
 * the r-xp mappings as page numbers of the file (offset / 4096), the input to
 * libpages.sh's per-page and per-function tables.  Residency is the
 * present bit of /proc/PID/pagemap; pages fault-around mapped count, as
 * they count in the process's RSS.
 */
#include "exit_stop.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void report(pid_t pid, void *arg)
{
	const char *name = arg;
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
	FILE *maps = fopen(path, "r");
	snprintf(path, sizeof path, "/proc/%d/pagemap", (int)pid);
	int pm = open(path, O_RDONLY);
	if (!maps || pm < 0) {
		perror("libpages: /proc");
		exit(2);
	}
	size_t nlen = strlen(name);
	long text = 0, data = 0;
	char line[4096], rx[65536];
	size_t rxlen = 0;
	rx[0] = 0;
	while (fgets(line, sizeof line, maps)) {
		unsigned long lo, hi, off;
		char perms[8];
		int pathat = 0;
		if (sscanf(line, "%lx-%lx %7s %lx %*s %*s %n", &lo, &hi, perms, &off, &pathat) < 4 || !pathat)
			continue;
		char *p = line + pathat, *nl = strchr(p, '\n');
		if (nl)
			*nl = 0;
		size_t plen = strlen(p);
		if (plen <= nlen || strcmp(p + plen - nlen, name) || p[plen - nlen - 1] != '/')
			continue;
		for (unsigned long a = lo; a < hi; a += 4096) {
			uint64_t e = 0;
			if (pread(pm, &e, sizeof e, (off_t)(a / 4096) * 8) != sizeof e || !(e >> 63))
				continue;
			if (perms[1] == 'w')
				data += 4;
			else
				text += 4;
			if (!strcmp(perms, "r-xp") && rxlen + 16 < sizeof rx)
				rxlen += snprintf(rx + rxlen, sizeof rx - rxlen, "%s%lu", rxlen ? "," : "",
						  (a - lo + off) / 4096);
		}
	}
	fclose(maps);
	close(pm);
	printf("text_kib=%ld data_kib=%ld rx=%s", text, data, rxlen ? rx : "-");
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: libpages NAME CMD [ARG...]\n");
		return 2;
	}
	int st;
	int r = exit_stop_run(argv + 2, report, argv[1], &st);
	if (r < 0)
		return 2;
	if (!r)
		printf("text_kib=0 data_kib=0 rx=-");
	printf(" rc=%d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	return 0;
}
