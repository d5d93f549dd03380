/* A shared object for chain_dl.c, loaded with dlopen and unloaded with
 * dlclose while its allocations are live: lib_alloc is the site. */
#include <stdlib.h>

#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

__attribute__((noipa)) void *lib_alloc(size_t n)
{
	void *p = malloc(n);
	KEEP(p);
	return p;
}
