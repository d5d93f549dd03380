/* realloc: single-thread alloc/realloc test.  256 buffers grow by 1..64
 * bytes per realloc (the appended bytes written), like strings being
 * built; a buffer that reaches its target length (1..64 KiB, random) is
 * checked whole and freed, and starts again from malloc(16).
 * usage: realloc [threads=1] [iterations per thread]  (ops = reallocs) */
#include <pthread.h>
#include "bench_common.h"

#define NBUF 256

static long niters;

static void *run(void *vp)
{
    unsigned tid = (unsigned)(uintptr_t)vp;
    uint64_t rng = xs_seed(tid);
    unsigned char *b[NBUF];
    size_t len[NBUF], target[NBUF];
    for (unsigned j = 0; j < NBUF; j++) {
        b[j] = xmalloc(16);
        len[j] = 0;
        target[j] = 1024 + xs_below(&rng, 63 * 1024);
    }
    for (long i = 0; i < niters; i++) {
        unsigned j = (unsigned)xs_below(&rng, NBUF);
        size_t add = 1 + xs_below(&rng, 64);
        unsigned char *q = realloc(b[j], len[j] + add);
        if (!q) {
            fprintf(stderr, "realloc: out of memory\n");
            exit(2);
        }
        for (size_t k = 0; k < add; k++)
            q[len[j] + k] = (unsigned char)(len[j] + k + j);
        b[j] = q;
        len[j] += add;
        if (len[j] >= target[j]) {
            for (size_t k = 0; k < len[j]; k++)
                if (q[k] != (unsigned char)(k + j)) {
                    fprintf(stderr, "realloc: data check failed\n");
                    exit(1);
                }
            free(q);
            b[j] = xmalloc(16);
            len[j] = 0;
            target[j] = 1024 + xs_below(&rng, 63 * 1024);
        }
    }
    for (unsigned j = 0; j < NBUF; j++)
        free(b[j]);
    return NULL;
}

int main(int argc, char **argv)
{
    long threads = 1;
    niters = 2000000;
    parse_args(argc, argv, &threads, &niters);
    double secs = run_threads("realloc", threads, run);
    if (secs < 0)
        return 2;
    report("realloc", threads, (uint64_t)threads * (uint64_t)niters, secs);
    return 0;
}
