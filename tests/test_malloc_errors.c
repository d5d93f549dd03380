/*
 * Invalid and double frees end the program with an "alloctag: " message
 * naming the address (SIGABRT), before any metadata is touched.  Each case
 * runs in a child whose stderr is captured: the child first writes the
 * address it is about to misuse ("addr=<p>"), then alloctag's message must
 * follow, naming that address.
 */
#include <alloctag.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static void note(const void *p)
{
	char buf[64];
	int n = snprintf(buf, sizeof(buf), "addr=%p\n", p);
	CHECK(write(2, buf, (size_t)n) == n);
}

static void stack_free(void)
{
	int x = 0;
	note(&x);
	at_free(&x);
}

static void double_small(void)
{
	void *p = at_malloc(40);
	note(p);
	at_free(p);
	at_free(p);
}

static void double_large_cached(void)
{
	void *p = at_malloc(100000);
	note(p);
	at_free(p);
	at_free(p);
}

static void double_large_released(void)
{
	void *p = at_malloc(8u << 20);
	note(p);
	at_free(p);
	at_free(p);
}

static void interior(void)
{
	char *p = at_malloc(64);
	note(p + 16);
	at_free(p + 16);
}

static void interior_large(void)
{
	char *p = at_malloc(100000);
	note(p + 4096);
	at_free(p + 4096);
}

static void realloc_freed(void)
{
	void *p = at_malloc(200);
	at_free(p);
	note(p);
	at_realloc(p, 300);
}

static void *free_it(void *p)
{
	at_free(p);
	return NULL;
}

static void double_cross_thread(void)
{
	void *p = at_malloc(24);
	pthread_t t;
	note(p);
	pthread_create(&t, NULL, free_it, p);
	pthread_join(t, NULL);
	at_free(p);
}

static void never_allocated_slot(void)
{
	char *p = at_malloc(1024); /* the slab's other slots were never handed out */
	note(p + 8 * 1024);
	at_free(p + 8 * 1024);
}

static void slab_tail(void)
{
	/* class 48: 1365 objects, then 16 bytes that are no object's; the
	 * tail's address is a multiple of 48, so it reads as a free slot */
	char *p = at_malloc(40);
	char *tail = (char *)((uintptr_t)p & ~(uintptr_t)0xFFFF) + 1365 * 48;
	note(tail);
	at_free(tail);
}

static void run(const char *name, void (*fn)(void), const char *want)
{
	int fds[2];
	CHECK(!pipe(fds));
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (!pid) {
		dup2(fds[1], 2);
		close(fds[0]);
		fn();
		_exit(0); /* survived: a failure */
	}
	close(fds[1]);
	char buf[1024];
	size_t n = 0;
	ssize_t k;
	while (n < sizeof(buf) - 1 && (k = read(fds[0], buf + n, sizeof(buf) - 1 - n)) > 0)
		n += (size_t)k;
	buf[n] = 0;
	close(fds[0]);
	int st;
	CHECK(waitpid(pid, &st, 0) == pid);
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGABRT) {
		fprintf(stderr, "FAIL %s: child did not abort (status %#x), stderr: %s\n", name, st,
			buf);
		exit(1);
	}
	char addr[64];
	const char *nl = strchr(buf, '\n');
	CHECK(!strncmp(buf, "addr=", 5) && nl && nl - buf - 5 < 60);
	memcpy(addr, buf + 5, (size_t)(nl - buf - 5));
	addr[nl - buf - 5] = 0;
	const char *msg = nl + 1;
	if (strncmp(msg, "alloctag: ", 10) || !strstr(msg, want) || !strstr(msg, addr) ||
	    msg[strlen(msg) - 1] != '\n' || strchr(msg, '\n') != msg + strlen(msg) - 1) {
		fprintf(stderr, "FAIL %s: message \"%s\" is not one line with \"%s\" and %s\n",
			name, msg, want, addr);
		exit(1);
	}
	printf("%s: %s", name, msg);
}

int main(void)
{
	struct {
		const char *name;
		void (*fn)(void);
		const char *want;
	} cases[] = {
		{"stack_free", stack_free, "not a block alloctag handed out"},
		{"double_small", double_small, "double free"},
		{"double_large_cached", double_large_cached, "double free"},
		{"double_large_released", double_large_released, "free("},
		{"interior", interior, "not the start of an object"},
		{"interior_large", interior_large, "not the start of a block"},
		{"realloc_freed", realloc_freed, "realloc("},
		{"double_cross_thread", double_cross_thread, "double free"},
		{"never_allocated_slot", never_allocated_slot, "double free"},
		{"slab_tail", slab_tail, "double free (the slot is free: freed before, or never handed out)"},
	};
	for (unsigned int i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run(cases[i].name, cases[i].fn, cases[i].want);
	return 0;
}
