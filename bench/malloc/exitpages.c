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
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

static uint64_t ent[1 << 16];

static void report(pid_t pid, const char *out_path)
{
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
	pid_t pid = fork();
	if (pid < 0) {
		perror("exitpages: fork");
		return 2;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		execvp(argv[2], argv + 2);
		perror("exitpages: exec");
		_exit(127);
	}
	int st, reported = 0;
	if (waitpid(pid, &st, 0) < 0 || !WIFSTOPPED(st)) {
		fprintf(stderr, "exitpages: %s did not start\n", argv[2]);
		return 2;
	}
	ptrace(PTRACE_SETOPTIONS, pid, 0, PTRACE_O_TRACEEXIT);
	ptrace(PTRACE_CONT, pid, 0, 0);
	while (waitpid(pid, &st, 0) == pid) {
		if (WIFEXITED(st) || WIFSIGNALED(st))
			break;
		int sig = 0;
		if (st >> 8 == (SIGTRAP | PTRACE_EVENT_EXIT << 8)) {
			if (!reported)
				report(pid, argv[1]);
			reported = 1;
		} else if (WIFSTOPPED(st) && WSTOPSIG(st) != SIGTRAP)
			sig = WSTOPSIG(st);
		ptrace(PTRACE_CONT, pid, 0, sig);
	}
	if (!reported) {
		fprintf(stderr, "exitpages: %s exited unseen\n", argv[2]);
		return 1;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
