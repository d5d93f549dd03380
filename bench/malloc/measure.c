/*
 * measure CMD [ARG...]: run CMD (standard output to /dev/null unless
 * MEASURE_OUT names a file), wait for it and print one line:
 *     wall_s=S cpu_s=C maxrss_kb=K minflt=F rc=R
 * cpu is user + system time, maxrss the kernel's peak resident set of CMD
 * or of its largest descendant, minflt the minor page faults (wait4's
 * rusage, as GNU time reports them).  On a shared, loaded machine cpu_s
 * is the steadier time figure.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: measure CMD [ARG...]\n");
		return 2;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid_t pid = fork();
	if (pid < 0) {
		perror("measure: fork");
		return 2;
	}
	if (!pid) {
		const char *out = getenv("MEASURE_OUT");
		int fd = open(out && *out ? out : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0)
			dup2(fd, 1);
		execvp(argv[1], argv + 1);
		perror("measure: exec");
		_exit(127);
	}
	int st;
	struct rusage ru;
	if (wait4(pid, &st, 0, &ru) != pid) {
		perror("measure: wait4");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
	int rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	double cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
		     (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
	printf("wall_s=%.4f cpu_s=%.4f maxrss_kb=%ld minflt=%ld rc=%d\n", wall, cpu, ru.ru_maxrss,
	       ru.ru_minflt, rc);
	return 0;
}
