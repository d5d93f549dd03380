/* gmthread: the shape of glibc's bench-malloc-thread.  Each thread keeps a
 * working set of 1024 blocks; every op frees a random one and allocates a
 * block of a size drawn 4..32768 bytes with probability ~ 1/size (most
 * small, a long tail), as glibc's benchmark draws them.  One thread is
 * glibc's single-thread figure, several threads its threaded one.  Each
 * block's first and last bytes are checked before it is freed.
 * usage: gmthread [threads=1] [iterations per thread] */
#include <math.h>
#include <pthread.h>
#include "bench_common.h"

#define WSET 1024
#define MIN_SZ 4
#define MAX_SZ 32768
#define NSIZES 4096

static long niters;
static size_t sizes[NSIZES]; /* the 1/x distribution, precomputed */

static void *run(void *vp)
{
    unsigned tid = (unsigned)(uintptr_t)vp;
    uint64_t rng = xs_seed(tid);
    unsigned char *w[WSET] = {0};
    size_t n[WSET] = {0};
    for (long i = 0; i < niters; i++) {
        unsigned j = (unsigned)xs_below(&rng, WSET);
        unsigned char v = (unsigned char)(j * 7 + tid);
        if (w[j]) {
            if (w[j][0] != v || w[j][n[j] - 1] != v) {
                fprintf(stderr, "gmthread: data check failed\n");
                exit(1);
            }
            free(w[j]);
        }
        n[j] = sizes[xs_below(&rng, NSIZES)];
        w[j] = xmalloc(n[j]);
        w[j][0] = w[j][n[j] - 1] = v;
    }
    for (unsigned j = 0; j < WSET; j++)
        free(w[j]);
    return NULL;
}

int main(int argc, char **argv)
{
    long threads = 1;
    niters = 4000000;
    parse_args(argc, argv, &threads, &niters);
    /* inverse transform of p(x) ~ 1/x on [MIN_SZ, MAX_SZ] */
    for (unsigned k = 0; k < NSIZES; k++)
        sizes[k] = (size_t)(MIN_SZ * pow((double)MAX_SZ / MIN_SZ, (k + 0.5) / NSIZES));
    double secs = run_threads("gmthread", threads, run);
    if (secs < 0)
        return 2;
    report("gmthread", threads, (uint64_t)threads * (uint64_t)niters, secs);
    return 0;
}
