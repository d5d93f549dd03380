/*
 * Allocate until malloc returns NULL and print the bytes obtained (run
 * under `ulimit -v`, by tests/as_limit.sh, with and without the preload
 * library).  The objects are not touched (address space, not memory, is
 * what is measured): one in 4096 gets a byte written and checked, so that
 * what malloc hands out is usable.
 *   as_fill small   sizes 16, 32, ..., 4096 bytes in turn
 *   as_fill large   sizes 64 KiB, 128 KiB, ..., 2 MiB in turn
 *   as_fill N       N bytes each
 * Output: "<bytes> <errno name>" (ENOMEM expected).  Exit 1 if a sampled
 * object does not hold what was written.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	int large = argc > 1 && !strcmp(argv[1], "large");
	size_t fixed = argc > 1 && argv[1][0] >= '1' && argv[1][0] <= '9' ? strtoul(argv[1], NULL, 0) : 0;
	unsigned int shift = large ? 16 : 4, steps = large ? 6 : 9;
	size_t total = 0, n = 0, cap = 1u << 16, ns = 0;
	unsigned char **sample = malloc(cap * sizeof *sample);
	if (!sample)
		return 2;
	for (;; n++) {
		size_t sz = fixed ? fixed : (size_t)1 << (shift + n % steps);
		unsigned char *p = malloc(sz);
		if (!p)
			break;
		total += sz;
		if (n % 4096 == 0 && ns < cap) {
			p[sz - 1] = (unsigned char)ns;
			sample[ns++] = p + sz - 1;
		}
	}
	int err = errno;
	for (size_t i = 0; i < ns; i++)
		if (*sample[i] != (unsigned char)i) {
			fprintf(stderr, "as_fill: sample %zu lost its byte\n", i);
			return 1;
		}
	printf("%zu %s\n", total, err == ENOMEM ? "ENOMEM" : strerror(err));
	return 0;
}
