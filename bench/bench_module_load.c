/*
 * Cost of loading and unloading a tagged shared object (128 call sites:
 * registration copies its tags and strings into the tag area, unregistration
 * reclaims them) against plain dlopen/dlclose of an untagged build of the
 * same object, in one run: rounds alternate the two, and the figure is the
 * median round's ns per load+unload and the ratio tagged / untagged.
 *
 *   build/bench/bench_module_load [cycles per round, default 2000]
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <alloctag.h>

#define ROUNDS 9

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double cycle(const char *path, int n)
{
	double t = now();
	for (int i = 0; i < n; i++) {
		void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
		if (!h) {
			fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
			exit(1);
		}
		dlclose(h);
	}
	return (now() - t) / n;
}

/* alloctag's own share: register + unregister of 128 tags (an array that
 * stands for an object's section; its strings are distinct per call site). */
static struct alloc_tag fake[128];
static char fnames[128][32];

static double reg_cycle(int n)
{
	double t = now();
	for (int i = 0; i < n; i++) {
		alloctag_register_image(fake, fake + 128);
		alloctag_unregister_image(fake, fake + 128);
	}
	return (now() - t) / n;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 2000;
	double tagged[ROUNDS], plain[ROUNDS], reg[ROUNDS];
	alloctag_profiling(); /* initialise first */
	for (int i = 0; i < 128; i++) {
		snprintf(fnames[i], sizeof(fnames[i]), "bench_site_%d", i);
		fake[i].function = fnames[i];
		fake[i].filename = "bench/bench_mod.c";
		fake[i].lineno = (unsigned int)i + 1;
	}
	cycle(BENCH_MOD_TAGGED, 100);
	cycle(BENCH_MOD_PLAIN, 100);
	for (int r = 0; r < ROUNDS; r++) {
		tagged[r] = cycle(BENCH_MOD_TAGGED, n);
		plain[r] = cycle(BENCH_MOD_PLAIN, n);
		reg[r] = reg_cycle(n);
	}
	qsort(reg, ROUNDS, sizeof(double), cmp);
	qsort(tagged, ROUNDS, sizeof(double), cmp);
	qsort(plain, ROUNDS, sizeof(double), cmp);
	double t = tagged[ROUNDS / 2], p = plain[ROUNDS / 2];
	printf("dlopen+dlclose of a 128-call-site object, median of %d rounds x %d cycles\n",
	       ROUNDS, n);
	printf("  untagged build (plain dlopen/dlclose): %9.0f ns\n", p);
	printf("  tagged build (register + copy + reclaim): %9.0f ns\n", t);
	printf("  ratio tagged / untagged: %.3f (+%.0f ns per load+unload)\n", t / p, t - p);
	printf("  of which alloctag_register_image + alloctag_unregister_image of 128 tags:"
	       " %.0f ns (%.3f of the untagged load+unload)\n",
	       reg[ROUNDS / 2], reg[ROUNDS / 2] / p);
	return 0;
}
