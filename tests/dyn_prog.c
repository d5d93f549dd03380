/*
 * An unmodified program (no alloctag header, plain malloc & co.) for
 * dyn_tags.sh, run under LD_PRELOAD=liballoctag-preload.so.  Each site_*
 * function holds one call site; the script finds its return address with
 * objdump and checks the site's allocinfo line exactly.
 *   site_a  malloc(100) x 3, kept until exit
 *   site_b  malloc(5000) x 1, kept
 *   site_c  malloc(200) x 4, all freed
 *   site_d  calloc(3, 100) x 1, kept
 *   site_e  malloc(100) x 1, freed: first, site_a's class's bin is made
 *           to change its tag from site_a's to site_e's by a free (no
 *           malloc from site_a in between), so that site_a's next malloc
 *           must not take the bin's top object as site_a's (the preload's
 *           site keys, src/preload.c).
 * Prints the usable sizes (the amounts charged): "usable A B D".
 * Linked with -rdynamic so that dladdr names the site functions.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>

void *kept[8];

/* The asm after the call keeps it a call (not a tail jump into malloc). */
#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

__attribute__((noipa)) void *site_a(size_t n)
{
	void *p = malloc(n);
	KEEP(p);
	return p;
}

__attribute__((noipa)) void *site_b(size_t n)
{
	void *p = malloc(n);
	KEEP(p);
	return p;
}

__attribute__((noipa)) void *site_c(size_t n)
{
	void *p = malloc(n);
	KEEP(p);
	return p;
}

__attribute__((noipa)) void *site_e(size_t n)
{
	void *p = malloc(n);
	KEEP(p);
	return p;
}

__attribute__((noipa)) void *site_d(size_t n, size_t size)
{
	void *p = calloc(n, size);
	KEEP(p);
	return p;
}

int main(void)
{
	void *c[4];
	void *e = site_e(100), *a = site_a(100); /* the bin's tag: site_a's */
	free(a);                                 /* nothing pending */
	free(e);                                 /* the bin's tag: site_e's */
	for (int i = 0; i < 3; i++)
		kept[i] = site_a(100);
	kept[3] = site_b(5000);
	for (int i = 0; i < 4; i++)
		c[i] = site_c(200);
	kept[4] = site_d(3, 100);
	for (int i = 0; i < 4; i++)
		free(c[i]);
	for (int i = 0; i < 5; i++)
		if (!kept[i])
			return 1;
	printf("usable %zu %zu %zu\n", malloc_usable_size(kept[0]), malloc_usable_size(kept[3]),
	       malloc_usable_size(kept[4]));
	return 0;
}
