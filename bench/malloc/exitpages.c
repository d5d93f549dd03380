/*
 * exitpages OUT CMD [ARG...]: run CMD (standard output to /dev/null), stop
 * it when it exits (ptrace's exit event: its memory is still whole, and no
 * code of ours has run in it: a preloaded destructor that writes the
 * figures allocates, and under the preload library makes call chains of
 * its own) and write to OUT, for each of its mappings, the line of
 * /proc/PID/maps ("M " before it) and the offsets in pages from the
 * mapping's start of its present pages (/proc/PID/pagemap: "P" and the
 * offsets).  Pages fault-around mapped count, as they count in RSS.
 */
#include "exit_stop.h"

#include <stdint.h>
#include <stdlib.h>

static uint64_t ent[1 << 16];

static void report(pid_t pid, void *arg)
{
	const char *out_path = arg;
	char path[64], line[4096];
	snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
	FILE *maps = fopen(path, "r");
	snprintf(path, sizeof path, "/proc/%d/pagemap", (int)pid);
	int pm = open(path, O_RDONLY);
	FILE *out = fopen(out_path, "w");
	if (!maps || pm < 0 || !out) {
		perror("exitpages");
		exit(2);
	}
	while (fgets(line, sizeof line, maps)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx", &lo, &hi) != 2)
			continue;
		fprintf(out, "M %sP", line);
		for (unsigned long a = lo; a < hi;) {
			size_t n = (hi - a) >> 12;
			if (n > sizeof ent / sizeof ent[0])
				n = sizeof ent / sizeof ent[0];
			ssize_t r = pread(pm, ent, n * 8, (off_t)(a >> 12) * 8);
			if (r <= 0)
				break;
			n = (size_t)r / 8;
			for (size_t k = 0; k < n; k++)
				if (ent[k] >> 63)
					fprintf(out, " %lu", ((a - lo) >> 12) + k);
			a += n << 12;
		}
		fputc('\n', out);
	}
	fclose(out);
	fclose(maps);
	close(pm);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: exitpages OUT CMD [ARG...]\n");
		return 2;
	}
	int st;
	int r = exit_stop_run(argv + 2, report, argv[1], &st);
	if (r < 0)
		return 2;
	if (!r) {
		fprintf(stderr, "exitpages: %s exited unseen\n", argv[2]);
		return 1;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
