/*
 * Deliberate heap misuse, one kind per case, for comparing allocators
 * (tests/misuse.sh runs every case under glibc's malloc and under the
 * preload library).  An unmodified program: plain malloc and free.
 *
 * usage: misuse <case>     misuse --list
 * The case does its misuse and then goes on using the heap as a program
 * would (frees its neighbours, allocates again); if it gets to the end it
 * prints "<case>: not stopped" and exits 0.  Stopped means the process was
 * ended by a signal (an allocator's abort, or a fault on a guard or unmapped
 * page) before that.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Pointers pass through here so that the compiler cannot see the misuse. */
static void *volatile launder_slot;
static void *launder(void *p)
{
	launder_slot = p;
	return launder_slot;
}

static char global_buf[256];

/* Some ordinary heap traffic after the misuse. */
static void go_on(void)
{
	void *v[64];
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < 64; i++) {
			v[i] = malloc((size_t)(i * 97 % 3000) + 1 + (i == 7 ? 300000 : 0));
			if (v[i])
				memset(v[i], i, 1);
		}
		for (int i = 0; i < 64; i++)
			free(v[i]);
	}
}

/* A block with neighbours on both sides (same size). */
static char *with_neighbours(size_t n, char **before, char **after)
{
	*before = malloc(n);
	char *p = malloc(n);
	*after = malloc(n);
	memset(*before, 'b', n);
	memset(p, 'p', n);
	memset(*after, 'a', n);
	return launder(p);
}

static void overflow(size_t n, size_t by)
{
	char *b, *a, *p = with_neighbours(n, &b, &a);
	memset(p + n, 'X', by);
	free(p);
	free(a);
	free(b);
}

static void underflow(size_t n, size_t by)
{
	char *b, *a, *p = with_neighbours(n, &b, &a);
	memset(p - by, 'X', by);
	free(p);
	free(b);
	free(a);
}

static void double_free(size_t n)
{
	char *p = malloc(n);
	free(p);
	free(launder(p));
}

static void delayed_double(size_t n)
{
	char *p = malloc(n);
	free(p);
	void *v[100];
	for (int i = 0; i < 100; i++)
		v[i] = malloc(n / 2 + 8);
	for (int i = 0; i < 100; i++)
		free(v[i]);
	free(launder(p));
}

static void interleaved_double(size_t n)
{
	char *a = malloc(n), *b = malloc(n);
	free(a);
	free(b);
	free(launder(a));
}

static void double_after_reuse(size_t n)
{
	char *p = malloc(n);
	free(p);
	char *q = malloc(n); /* often the same block */
	free(launder(p));
	free(launder(q));
}

static void use_after_free(size_t n)
{
	char *p = malloc(n);
	free(p);
	memset(launder(p), 'U', n); /* the whole block, metadata or not */
	char *q = malloc(n), *r = malloc(n);
	free(q);
	free(r);
}

static void bad_free(void *p)
{
	free(launder(p));
}

struct misuse {
	const char *name;
	void (*fn)(size_t, size_t);
	size_t a, b;
};

#define S 64
#define L 200000
static void c_overflow(size_t n, size_t by) { overflow(n, by); }
static void c_underflow(size_t n, size_t by) { underflow(n, by); }
static void c_double(size_t n, size_t k) { (void)k; double_free(n); }
static void c_delayed(size_t n, size_t k) { (void)k; delayed_double(n); }
static void c_interleaved(size_t n, size_t k) { (void)k; interleaved_double(n); }
static void c_reuse(size_t n, size_t k) { (void)k; double_after_reuse(n); }
static void c_uaf(size_t n, size_t k) { (void)k; use_after_free(n); }
static void c_stack(size_t n, size_t k) { (void)n; (void)k; char x[64]; x[0] = 0; bad_free(x); }
static void c_global(size_t n, size_t k) { (void)n; (void)k; bad_free(global_buf + 16); }
static void c_far(size_t n, size_t k) { (void)n; (void)k; bad_free((void *)(uintptr_t)0x100000000000ull); }
static void c_unaligned(size_t n, size_t k) { (void)k; char *p = malloc(n); bad_free(p + 1); }
static void c_interior(size_t n, size_t k) { char *p = malloc(n); bad_free(p + k); }
static void c_realloc_freed(size_t n, size_t k)
{
	(void)k;
	char *p = malloc(n);
	free(p);
	p = realloc(launder(p), n * 2);
	free(p);
}

static const struct misuse cases[] = {
	{"double_free_small", c_double, S, 0},
	{"double_free_large", c_double, L, 0},
	{"double_free_huge", c_double, 64u << 20, 0},
	{"delayed_double_small", c_delayed, S, 0},
	{"delayed_double_large", c_delayed, L, 0},
	{"interleaved_double_small", c_interleaved, S, 0},
	{"interleaved_double_large", c_interleaved, L, 0},
	{"double_after_reuse_small", c_reuse, S, 0},
	{"double_after_reuse_large", c_reuse, L, 0},
	{"free_stack", c_stack, 0, 0},
	{"free_global", c_global, 0, 0},
	{"free_far", c_far, 0, 0},
	{"free_unaligned_small", c_unaligned, S, 0},
	{"free_unaligned_large", c_unaligned, L, 0},
	{"free_interior_small", c_interior, S, 16},
	{"free_interior_large", c_interior, L, 4096},
	{"realloc_freed_small", c_realloc_freed, S, 0},
	{"realloc_freed_large", c_realloc_freed, L, 0},
	{"overflow_small_1", c_overflow, S, 1},
	{"overflow_small_16", c_overflow, S, 16},
	{"overflow_small_4k", c_overflow, S, 4096},
	{"overflow_small_1m", c_overflow, S, 1u << 20},
	{"overflow_large_1", c_overflow, L, 1},
	{"overflow_large_4k", c_overflow, L, 4096 + 3232},
	{"overflow_large_1m", c_overflow, L, 1u << 20},
	{"underflow_small_1", c_underflow, S, 1},
	{"underflow_small_16", c_underflow, S, 16},
	{"underflow_small_4k", c_underflow, S, 4096},
	{"underflow_small_1m", c_underflow, S, 1u << 20},
	{"underflow_large_1", c_underflow, L, 1},
	{"underflow_large_4k", c_underflow, L, 4096},
	{"underflow_large_1m", c_underflow, L, 1u << 20},
	{"use_after_free_small", c_uaf, S, 0},
	{"use_after_free_large", c_uaf, L, 0},
};

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: misuse <case> | --list\n");
		return 2;
	}
	size_t n = sizeof(cases) / sizeof(cases[0]);
	if (!strcmp(argv[1], "--list")) {
		for (size_t i = 0; i < n; i++)
			printf("%s\n", cases[i].name);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(argv[1], cases[i].name))
			continue;
		go_on(); /* a heap in use */
		cases[i].fn(cases[i].a, cases[i].b);
		go_on();
		printf("%s: not stopped\n", cases[i].name);
		return 0;
	}
	fprintf(stderr, "misuse: no case %s\n", argv[1]);
	return 2;
}
