/*
 * An unmodified C program for alloctag_cmd.sh (`alloctag run`, reports,
 * diff), built by the script with -g, without -g, and stripped.  Each
 * site_* function holds one malloc call on a line marked SITE_X; the script
 * finds the line with grep and the return address with objdump.
 *   prog N [C]      site_a: malloc(100) x N, kept; site_b: malloc(5000) x 1,
 *                   kept; site_c: malloc(200) x C (default 4), freed.  Prints
 *                   "usable A B C" (the sizes charged) and exits with status 0
 *   prog exit S     as `prog 3`, then exit(S)
 *   prog _exit S    as `prog 3`, then _exit(S): no profile
 *   prog segv       as `prog 3`, then dies by SIGSEGV: no profile
 *   prog fork       as `prog 3`; forks a child that execs `prog 7`, waits
 *                   for it, prints "child PID"
 *   prog fork_exit  the same, then _exit(0): only the child writes a profile
 *   prog chdir      as `prog 3`, then changes its directory to / and exits
 */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

void *kept[4096];

/* The asm after the call keeps it a call (not a tail jump into malloc). */
#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

__attribute__((noipa)) void *site_a(size_t n)
{
	void *p = malloc(n); /* SITE_A */
	KEEP(p);
	return p;
}

__attribute__((noipa)) void *site_b(size_t n)
{
	void *p = malloc(n); /* SITE_B */
	KEEP(p);
	return p;
}

__attribute__((noipa)) void *site_c(size_t n)
{
	void *p = malloc(n); /* SITE_C */
	KEEP(p);
	return p;
}

static void work(int n, int nc)
{
	for (int i = 0; i < n; i++)
		kept[i] = site_a(100);
	kept[n] = site_b(5000);
	size_t uc = 0;
	for (int i = 0; i < nc; i++) {
		void *c = site_c(200);
		uc = malloc_usable_size(c);
		free(c);
	}
	printf("usable %zu %zu %zu\n", malloc_usable_size(kept[0]), malloc_usable_size(kept[n]), uc);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "3";
	int forking = strcmp(mode, "fork") == 0 || strcmp(mode, "fork_exit") == 0;
	if (strcmp(mode, "exit") == 0 || strcmp(mode, "_exit") == 0 || strcmp(mode, "segv") == 0 ||
	    forking)
		work(3, 4);
	else
		work(atoi(mode) > 0 && atoi(mode) < 4000 ? atoi(mode) : 3,
		     argc > 2 && atoi(argv[2]) > 0 ? atoi(argv[2]) : 4);
	if (strcmp(mode, "chdir") == 0 && chdir("/") != 0)
		return 1;
	if (strcmp(mode, "exit") == 0)
		exit(atoi(argv[2]));
	if (strcmp(mode, "_exit") == 0)
		_exit(atoi(argv[2]));
	if (strcmp(mode, "segv") == 0)
		raise(SIGSEGV);
	if (forking) {
		pid_t pid = fork();
		if (pid == 0) {
			execl("/proc/self/exe", argv[0], "7", (char *)NULL);
			_exit(127);
		}
		int st;
		waitpid(pid, &st, 0);
		printf("child %ld\n", (long)pid);
		fflush(stdout);
		if (strcmp(mode, "fork_exit") == 0)
			_exit(0);
	}
	return 0;
}
