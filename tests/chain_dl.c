/*
 * dlopen/dlclose of a library that allocates (chain_lib.c), for chains.sh
 * (output: see chain_c.c).  Six allocations from lib_alloc, three freed
 * before and after dlclose; the object is then loaded again and allocates
 * twice more from the same function.  argv[1]: the library's path.
 */
#include <dlfcn.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	void *p[8];
	size_t b = 0;
	if (argc < 2)
		return 2;
	for (int round = 0; round < 2; round++) {
		void *h = dlopen(argv[1], RTLD_NOW);
		if (!h) {
			fprintf(stderr, "%s\n", dlerror());
			return 2;
		}
		void *(*fn)(size_t) = (void *(*)(size_t))dlsym(h, "lib_alloc");
		if (!fn)
			return 2;
		if (round == 0) {
			for (int i = 0; i < 6; i++)
				p[i] = fn(300);
			for (int i = 0; i < 3; i++)
				b += malloc_usable_size(p[i]);
			free(p[3]);
			free(p[4]);
			dlclose(h);
			free(p[5]); /* after the object is gone */
		} else {
			p[6] = fn(300);
			p[7] = fn(300);
			b += malloc_usable_size(p[6]) + malloc_usable_size(p[7]);
			dlclose(h);
		}
	}
	printf("expect lib_alloc %zu 5\n", b);
	return 0;
}
