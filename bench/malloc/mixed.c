/* mixed: mixed sizes, several threads.  Each thread keeps SLOTS live blocks;
 * every op picks a random slot and either grows its block with realloc (1 in
 * 4, while below 1 MiB) or frees it and allocates a new one.  New sizes are
 * log-uniform in [16 B, 1 MiB] (uniform power-of-two class, uniform within
 * it).  Blocks get one byte written per 4 KiB page plus the last byte, and
 * realloc is checked to have kept the contents.
 * usage: mixed [threads=2] [iterations per thread]  (ops = threads*iterations) */
#include <pthread.h>
#include "bench_common.h"

#define SLOTS 128
#define MAX_SZ ((size_t)1 << 20)
#define STRIDE 4096

struct targ {
    unsigned tid;
    long iters;
    uint64_t sum;
};

static size_t log_uniform_size(uint64_t *rng)
{
    unsigned e = 4 + (unsigned)xs_below(rng, 17); /* 2^4 .. 2^20 */
    size_t base = (size_t)1 << e;
    size_t n = base + (e < 20 ? xs_below(rng, base) : 0);
    return n > MAX_SZ ? MAX_SZ : n;
}

static void *run(void *vp)
{
    struct targ *a = vp;
    uint64_t rng = xs_seed(a->tid), sum = 0;
    unsigned char *p[SLOTS] = {0};
    size_t sz[SLOTS] = {0};
    unsigned char tag[SLOTS] = {0};

    for (long i = 0; i < a->iters; i++) {
        size_t j = xs_below(&rng, SLOTS);
        if (p[j] && sz[j] < MAX_SZ && xs_below(&rng, 4) == 0) {
            size_t old = sz[j];
            size_t n = old + old / 2 + xs_below(&rng, old / 2 + 1);
            if (n > MAX_SZ)
                n = MAX_SZ;
            unsigned char *q = realloc(p[j], n);
            if (!q) {
                fprintf(stderr, "mixed: realloc(%zu) failed\n", n);
                exit(2);
            }
            if (q[0] != tag[j] || q[old - 1] != tag[j]) {
                fprintf(stderr, "mixed: realloc lost data\n");
                exit(3);
            }
            touch(q + old, n - old, STRIDE, tag[j]);
            p[j] = q;
            sz[j] = n;
        } else {
            if (p[j]) {
                sum += p[j][0] + p[j][sz[j] - 1];
                free(p[j]);
            }
            size_t n = log_uniform_size(&rng);
            p[j] = xmalloc(n);
            sz[j] = n;
            tag[j] = (unsigned char)i;
            touch(p[j], n, STRIDE, tag[j]);
        }
    }
    for (size_t j = 0; j < SLOTS; j++)
        free(p[j]);
    a->sum = sum;
    return NULL;
}

int main(int argc, char **argv)
{
    long threads = 2, iters = 200000;
    parse_args(argc, argv, &threads, &iters);

    struct targ *ta = calloc((size_t)threads, sizeof *ta);
    pthread_t *th = calloc((size_t)threads, sizeof *th);
    if (!ta || !th)
        return 2;
    double t0 = now_sec();
    for (long t = 0; t < threads; t++) {
        ta[t].tid = (unsigned)t;
        ta[t].iters = iters;
        if (pthread_create(&th[t], NULL, run, &ta[t]) != 0) {
            fprintf(stderr, "mixed: pthread_create failed\n");
            return 2;
        }
    }
    for (long t = 0; t < threads; t++)
        pthread_join(th[t], NULL);
    double secs = now_sec() - t0;

    uint64_t sum = 0;
    for (long t = 0; t < threads; t++)
        sum += ta[t].sum;
    bench_sink = sum;
    report("mixed", threads, (uint64_t)threads * (uint64_t)iters, secs);
    free(ta);
    free(th);
    return 0;
}
