/*
 * An unmodified C program for chains.sh, run under the preload library:
 * allocations through one and two levels of wrappers, libc functions that
 * allocate (strdup, asprintf, getline), a signal handler, and functions
 * without CFI (chain_noci.S).  Everything allocated is kept until exit, so
 * each site's live counters are exact; the program prints what they must
 * be, one line per function that must be named as the site:
 *     expect <function> <bytes> <calls>
 * (bytes: the sum of malloc_usable_size of the blocks, what is charged).
 * Signal handlers run on the thread's stack and on an alternate one.
 * argv[1] = "pool": pool_get/pool_raw must be skipped (ALLOCTAG_WRAPPERS
 * set by the script), else pool_raw is the site.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

static void *kept[4096];
static int nkept;

static size_t keep(void *p)
{
	if (!p)
		exit(2);
	kept[nkept++] = p;
	return malloc_usable_size(p);
}

/* A wrapper in the built-in list: its callers are the sites. */
__attribute__((noipa)) void *xmalloc(size_t n)
{
	void *p = malloc(n);
	KEEP(p);
	return p;
}

/* Two levels of a wrapper the user names (ALLOCTAG_WRAPPERS=pool_*). */
__attribute__((noipa)) void *pool_raw(size_t n)
{
	void *p = malloc(n);
	KEEP(p);
	return p;
}

__attribute__((noipa)) void *pool_get(size_t n)
{
	void *p = pool_raw(n);
	KEEP(p);
	return p;
}

__attribute__((noipa)) size_t parse_config(void)
{
	size_t b = 0;
	for (int i = 0; i < 10; i++)
		b += keep(xmalloc(100));
	return b;
}

__attribute__((noipa)) size_t load_index(void)
{
	size_t b = 0;
	for (int i = 0; i < 5; i++)
		b += keep(xmalloc(2000));
	return b;
}

__attribute__((noipa)) size_t build_pool(void)
{
	size_t b = 0;
	for (int i = 0; i < 7; i++)
		b += keep(pool_get(48));
	return b;
}

__attribute__((noipa)) size_t dup_names(void)
{
	size_t b = 0;
	for (int i = 0; i < 4; i++)
		b += keep(strdup("a name of some length"));
	return b;
}

__attribute__((noipa)) size_t fmt_names(void)
{
	size_t b = 0;
	for (int i = 0; i < 3; i++) {
		char *s;
		if (asprintf(&s, "name-%d-%0*d", i, 40, i) < 0)
			exit(2);
		b += keep(s);
	}
	return b;
}

static char input[] = "first line\nsecond line\n";
static char iobuf[256];

__attribute__((noipa)) FILE *open_input(void)
{
	FILE *f = fmemopen(input, sizeof(input) - 1, "r");
	if (!f || setvbuf(f, iobuf, _IOFBF, sizeof(iobuf)))
		exit(2);
	return f;
}

__attribute__((noipa)) size_t read_lines(FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	if (getline(&line, &cap, f) < 0)
		exit(2);
	return keep(line);
}

static volatile size_t sig_bytes;

__attribute__((noipa)) void on_signal(int sig)
{
	(void)sig;
	void *p = malloc(48); /* kept[] is written only outside the handler */
	KEEP(p);
	kept[nkept++] = p;
	sig_bytes += malloc_usable_size(p);
}

static volatile size_t alt_bytes;

/* The same on an alternate signal stack (sigaltstack, SA_ONSTACK). */
__attribute__((noipa)) void on_alt_signal(int sig)
{
	(void)sig;
	void *p = malloc(200);
	KEEP(p);
	kept[nkept++] = p;
	alt_bytes += malloc_usable_size(p);
}

static void alt_stack_signals(void)
{
	static char altstack[1 << 16];
	stack_t ss = {.ss_sp = altstack, .ss_size = sizeof(altstack)};
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alt_signal;
	sa.sa_flags = SA_ONSTACK;
	if (sigaltstack(&ss, NULL) || sigaction(SIGUSR2, &sa, NULL))
		exit(2);
	for (int i = 0; i < 4; i++)
		raise(SIGUSR2);
}

/* chain_noci.S: no CFI at all; CFI that lies */
void *noci_alloc(size_t n);
void *noci_call(void *(*fn)(size_t), size_t n);
void *corrupt_call(void *(*fn)(size_t), size_t n);

__attribute__((noipa)) void *inner_alloc(size_t n)
{
	void *p = malloc(n);
	KEEP(p);
	return p;
}

__attribute__((noipa)) void *inner_alloc2(size_t n)
{
	void *p = malloc(n);
	KEEP(p);
	return p;
}

__attribute__((noipa)) size_t via_corrupt(void)
{
	size_t b = 0;
	for (int i = 0; i < 3; i++)
		b += keep(corrupt_call(inner_alloc2, 96));
	return b;
}

/* Generated code (as a JIT makes): calls malloc through a register from an
 * anonymous executable mapping, which no object and no FDE covers. */
static void *(*jit_alloc)(size_t);

static void make_jit(void)
{
	static const unsigned char code[] = {
		0x48, 0x83, 0xec, 0x08,                         /* sub $8, %rsp */
		0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0,             /* movabs $malloc, %rax */
		0xff, 0xd0,                                     /* call *%rax */
		0x48, 0x83, 0xc4, 0x08,                         /* add $8, %rsp */
		0xc3,                                           /* ret */
	};
	unsigned char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		exit(2);
	memcpy(p, code, sizeof(code));
	void *(*m)(size_t) = malloc;
	memcpy(p + 6, &m, sizeof(m));
	if (mprotect(p, 4096, PROT_READ | PROT_EXEC))
		exit(2);
	jit_alloc = (void *(*)(size_t))p;
	printf("jit %p\n", (void *)(p + 16)); /* the return address of its call */
}

__attribute__((noipa)) size_t via_jit(void)
{
	size_t b = 0;
	for (int i = 0; i < 4; i++)
		b += keep(jit_alloc(40));
	return b;
}

__attribute__((noipa)) size_t via_asm(void)
{
	size_t b = 0;
	for (int i = 0; i < 6; i++)
		b += keep(noci_alloc(64));
	return b;
}

__attribute__((noipa)) size_t via_asm_call(void)
{
	size_t b = 0;
	for (int i = 0; i < 2; i++)
		b += keep(noci_call(inner_alloc, 80));
	return b;
}

int main(int argc, char **argv)
{
	int pool = argc > 1 && !strcmp(argv[1], "pool");
	size_t b;
	b = parse_config();
	printf("expect parse_config %zu 10\n", b);
	b = load_index();
	printf("expect load_index %zu 5\n", b);
	b = build_pool();
	printf("expect %s %zu 7\n", pool ? "build_pool" : "pool_raw", b);
	b = dup_names();
	printf("expect dup_names %zu 4\n", b);
	b = fmt_names();
	printf("expect fmt_names %zu 3\n", b);
	FILE *f = open_input();
	b = read_lines(f);
	printf("expect read_lines %zu 1\n", b);
	signal(SIGUSR1, on_signal);
	for (int i = 0; i < 5; i++)
		raise(SIGUSR1);
	printf("expect on_signal %zu 5\n", (size_t)sig_bytes);
	alt_stack_signals();
	printf("expect on_alt_signal %zu 4\n", (size_t)alt_bytes);
	b = via_asm();
	printf("expect noci_alloc %zu 6\n", b);
	b = via_asm_call();
	printf("expect inner_alloc %zu 2\n", b);
	b = via_corrupt();
	printf("expect inner_alloc2 %zu 3\n", b);
	make_jit();
	b = via_jit();
	printf("expect-jit %zu 4\n", b);
	fflush(stdout);
	return 0;
}
