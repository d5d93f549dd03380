/*
 * A command run to its exit under ptrace, stopped there (ptrace's exit
 * event: its memory is still whole, and nothing of the caller's runs in
 * it) for a report on its memory: libpages.c and exitpages.c.
 */
#ifndef EXIT_STOP_H
#define EXIT_STOP_H

#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* Run argv (standard output to /dev/null) and call report(pid, ctx) at its
 * exit event; signals it receives are passed on.  1 when report ran, 0
 * when the command exited unseen, -1 when it could not start (said on
 * stderr); *status its wait status. */
static int exit_stop_run(char **argv, void (*report)(pid_t, void *), void *ctx, int *status)
{
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		execvp(argv[0], argv);
		perror("exec");
		_exit(127);
	}
	int st, reported = 0;
	if (waitpid(pid, &st, 0) < 0 || !WIFSTOPPED(st)) {
		fprintf(stderr, "%s did not start\n", argv[0]);
		return -1;
	}
	ptrace(PTRACE_SETOPTIONS, pid, 0, PTRACE_O_TRACEEXIT);
	ptrace(PTRACE_CONT, pid, 0, 0);
	while (waitpid(pid, &st, 0) == pid) {
		if (WIFEXITED(st) || WIFSIGNALED(st))
			break;
		int sig = 0;
		if (st >> 8 == (SIGTRAP | PTRACE_EVENT_EXIT << 8)) {
			if (!reported)
				report(pid, ctx);
			reported = 1;
		} else if (WIFSTOPPED(st) && WSTOPSIG(st) != SIGTRAP)
			sig = WSTOPSIG(st);
		ptrace(PTRACE_CONT, pid, 0, sig);
	}
	*status = st;
	return reported;
}

#endif
