/* forktouch: the pages one forked child of a program touched, read or
 * written, by mapping.  fork leaves the page-table entries it copies into
 * a child old (not accessed), so at the child's exit /proc/PID/smaps
 * "Referenced" counts the anonymous and written pages the child touched;
 * a file mapping's pages are mapped in the child by its own faults
 * (fault-around: 64 KiB at a time), all of them counted.
 *
 *   forktouch NTH CMD [ARGS...]
 *
 * Runs CMD under ptrace, following its forks (not their children's), and
 * prints, at the NTH forked child's exit, each of its mappings with pages
 * referenced: "KiB  <the smaps header line>", then the total.  On a virtual
 * machine with shadow page tables a child pays for each page it first
 * touches, read or written (childtouch.c). */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

static void dump(pid_t pid)
{
	char path[64], line[512], cur[512] = "";
	snprintf(path, sizeof path, "/proc/%d/smaps", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f) {
		perror(path);
		return;
	}
	long total = 0, kb;
	unsigned long a, b;
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, "%lx-%lx ", &a, &b) == 2) {
			line[strcspn(line, "\n")] = 0;
			snprintf(cur, sizeof cur, "%s", line);
		} else if (sscanf(line, "Referenced: %ld kB", &kb) == 1 && kb) {
			printf("%6ld KiB  %s\n", kb, cur);
			total += kb;
		}
	}
	printf("%6ld KiB  total\n", total);
	fclose(f);
}

int main(int argc, char **argv)
{
	int nth = argc > 2 ? atoi(argv[1]) : 0, seen = 0, st;
	if (nth < 1) {
		fprintf(stderr, "usage: forktouch NTH CMD [ARGS...]\n");
		return 2;
	}
	pid_t root = fork();
	if (root < 0) {
		perror("fork");
		return 1;
	}
	if (!root) {
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		raise(SIGSTOP);
		execvp(argv[2], argv + 2);
		perror(argv[2]);
		_exit(127);
	}
	if (waitpid(root, &st, 0) != root || !WIFSTOPPED(st) ||
	    ptrace(PTRACE_SETOPTIONS, root, 0, PTRACE_O_TRACEFORK | PTRACE_O_TRACEEXIT | PTRACE_O_EXITKILL)) {
		perror("forktouch: ptrace");
		return 1;
	}
	ptrace(PTRACE_CONT, root, 0, 0);
	for (pid_t p; (p = waitpid(-1, &st, __WALL)) > 0;) {
		if (!WIFSTOPPED(st))
			continue;
		int sig = 0, ev = st >> 16;
		if (ev == PTRACE_EVENT_EXIT && p != root) {
			if (++seen == nth)
				dump(p);
		} else if (!ev && WSTOPSIG(st) != SIGSTOP && WSTOPSIG(st) != SIGTRAP) {
			sig = WSTOPSIG(st); /* the program's own signal, delivered */
		}
		ptrace(PTRACE_CONT, p, 0, sig);
	}
	if (seen < nth) {
		fprintf(stderr, "forktouch: only %d forked children exited\n", seen);
		return 1;
	}
	return 0;
}
