/*
 * Run this test program again as a child with extra environment variables,
 * capturing its stdout, stderr and exit status (for checking messages,
 * start-up behaviour and fatal errors).
 */
#ifndef AT_TEST_CHILD_H
#define AT_TEST_CHILD_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct child_result {
	char out[16384];
	char err[16384];
	int status; /* raw wait status */
};

static void child_slurp(int fd, char *buf, size_t len)
{
	size_t n = 0;
	ssize_t r;
	while ((r = read(fd, buf + n, len - 1 - n)) > 0 && n < len - 1)
		n += (size_t)r;
	buf[n] = 0;
	close(fd);
}

/* env: NULL-terminated "NAME=value" list ("NAME" alone unsets); args after argv[0]. */
static __attribute__((unused)) void run_child(struct child_result *r, const char *const *env, const char *const *args)
{
	int po[2], pe[2];
	if (pipe(po) || pipe(pe))
		abort();
	fflush(NULL);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		close(po[0]);
		close(pe[0]);
		for (const char *const *e = env; e && *e; e++) {
			if (strchr(*e, '='))
				putenv((char *)*e);
			else
				unsetenv(*e);
		}
		const char *argv[16] = {"/proc/self/exe"};
		int i = 1;
		for (const char *const *a = args; a && *a && i < 15; a++)
			argv[i++] = *a;
		argv[i] = NULL;
		execv("/proc/self/exe", (char *const *)argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	/* outputs are small: read stderr after stdout */
	child_slurp(po[0], r->out, sizeof(r->out));
	child_slurp(pe[0], r->err, sizeof(r->err));
	waitpid(pid, &r->status, 0);
}

/* Run fn in a forked child whose stderr is captured into err (len bytes);
 * the child _exits 1 if fn returns.  Returns the raw wait status. */
static __attribute__((unused)) int fork_stderr(void (*fn)(void), char *err, size_t len)
{
	int pe[2];
	if (pipe(pe))
		abort();
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		abort();
	if (pid == 0) {
		dup2(pe[1], 2);
		close(pe[0]);
		fn();
		_exit(1);
	}
	close(pe[1]);
	child_slurp(pe[0], err, len);
	int st;
	if (waitpid(pid, &st, 0) != pid)
		abort();
	return st;
}

#endif
