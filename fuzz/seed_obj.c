/*
 * The small real object the ELF seeds of fuzz/corpus/ are made from
 * (fuzz/make_seeds.py): tagged call sites (an alloc_tags section), a
 * function with a frame pointer, one without, one with a large frame.
 */
#include <alloca.h>
#include <stdlib.h>
#include <string.h>

#include <alloctag.h>

void *seed_alloc(size_t n)
{
	return alloc_hooks(malloc(n));
}

void *seed_zalloc(size_t n)
{
	return alloc_hooks(calloc(1, n));
}

__attribute__((noinline)) int seed_vla(int n)
{
	char *b = alloca((size_t)n * 16 + 16); /* CFA = rbp + 16 */
	memset(b, n, (size_t)n * 16 + 16);
	return b[n] + 1;
}

__attribute__((noinline)) int seed_big(int n)
{
	volatile char big[20000];
	big[n] = (char)n;
	return big[n] + seed_vla(n);
}

int main(void)
{
	free(seed_alloc(10));
	free(seed_zalloc(10));
	return seed_big(3) == 4 ? 0 : 1;
}
