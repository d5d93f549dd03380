/* bigblocks: blocks of 64 KiB..2 MiB (log-uniform) allocated and freed in
 * a loop: 16 live slots per thread, each op frees a random slot (its
 * first and last bytes checked) and allocates a new block, writing one
 * byte per 4 KiB page.
 * usage: bigblocks [threads=1] [iterations per thread] */
#include <math.h>
#include <pthread.h>
#include "bench_common.h"

#define SLOTS 16

static long niters;

static void *run(void *vp)
{
    unsigned tid = (unsigned)(uintptr_t)vp;
    uint64_t rng = xs_seed(tid);
    unsigned char *s[SLOTS] = {0};
    size_t n[SLOTS] = {0};
    for (long i = 0; i < niters; i++) {
        unsigned j = (unsigned)xs_below(&rng, SLOTS);
        unsigned char v = (unsigned char)(j + 3 * tid);
        if (s[j]) {
            if (s[j][0] != v || s[j][n[j] - 1] != v) {
                fprintf(stderr, "bigblocks: data check failed\n");
                exit(1);
            }
            free(s[j]);
        }
        double u = (double)xs_below(&rng, 1u << 20) / (1u << 20);
        n[j] = (size_t)(65536.0 * pow(32.0, u)); /* 64 KiB .. 2 MiB */
        s[j] = xmalloc(n[j]);
        touch(s[j], n[j], 4096, v);
    }
    for (unsigned j = 0; j < SLOTS; j++)
        free(s[j]);
    return NULL;
}

int main(int argc, char **argv)
{
    long threads = 1;
    niters = 50000;
    parse_args(argc, argv, &threads, &niters);
    double secs = run_threads("bigblocks", threads, run);
    if (secs < 0)
        return 2;
    report("bigblocks", threads, (uint64_t)threads * (uint64_t)niters, secs);
    return 0;
}
