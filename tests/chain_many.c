/*
 * Many distinct call chains, for chains.sh: chain i (0 <= i < N) goes
 * through call site i>>12 & 63 of l1, i>>6 & 63 of l2 and i & 63 of l3,
 * which allocates 16 + (i & 63) bytes: N distinct chains of depth 3 below
 * main, 64 sites (l3's call sites).  Everything stays live.  Prints, for the
 * script, the chains and memory alloctag reports (alloctag_chain_stats,
 * found with dlsym: the program does not link alloctag), and one line per
 * site of l3: "site K BYTES CALLS".
 */
#include <dlfcn.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>

#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")
/* an instruction of its own after each call: no two calls merged */
#define DISTINCT(k) __asm__ volatile("movl %0, %%eax" : : "i"(k) : "eax")
#define R4(X, b) X(b) X(b + 1) X(b + 2) X(b + 3)
#define R16(X, b) R4(X, b) R4(X, b + 4) R4(X, b + 8) R4(X, b + 12)
#define R64(X) R16(X, 0) R16(X, 16) R16(X, 32) R16(X, 48)

#define L3(k)                                                                  \
	case k:                                                                \
		p = malloc(16 + k);                                            \
		break;
__attribute__((noipa)) void *l3(unsigned int i)
{
	void *p = NULL;
	switch (i & 63) { R64(L3) }
	KEEP(p);
	return p;
}

#define L2(k)                                                                  \
	case k:                                                                \
		p = l3(i);                                                     \
		DISTINCT(k);                                                   \
		break;
__attribute__((noipa)) void *l2(unsigned int i)
{
	void *p = NULL;
	switch (i >> 6 & 63) { R64(L2) }
	KEEP(p);
	return p;
}

#define L1(k)                                                                  \
	case k:                                                                \
		p = l2(i);                                                     \
		DISTINCT(k);                                                   \
		break;
__attribute__((noipa)) void *l1(unsigned int i)
{
	void *p = NULL;
	switch (i >> 12 & 63) { R64(L1) }
	KEEP(p);
	return p;
}

struct alloctag_chain_stats {
	size_t chains, bytes;
};

int main(int argc, char **argv)
{
	unsigned int n = argc > 1 ? (unsigned int)atoi(argv[1]) : 200000;
	static size_t bytes[64], calls[64];
	for (unsigned int i = 0; i < n; i++) {
		void *p = l1(i);
		if (!p)
			return 2;
		bytes[i & 63] += malloc_usable_size(p);
		calls[i & 63]++;
	}
	int (*stats)(struct alloctag_chain_stats *) =
		(int (*)(struct alloctag_chain_stats *))dlsym(RTLD_DEFAULT, "alloctag_chain_stats");
	struct alloctag_chain_stats st = {0, 0};
	if (stats && stats(&st) == 0)
		printf("chains %zu bytes %zu\n", st.chains, st.bytes);
	for (int k = 0; k < 64; k++)
		printf("site %d %zu %zu\n", k, bytes[k], calls[k]);
	return 0;
}
