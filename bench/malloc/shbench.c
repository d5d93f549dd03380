/* shbench: the sh6bench/sh8bench shape.  Each thread, per iteration,
 * allocates a batch of BATCH blocks (7 in 8 of 8..1024 bytes, 1 in 8 of
 * 1..8 KiB), frees the odd ones itself in reverse order, and, after a
 * barrier, frees the even ones of the previous thread's batch in a random
 * order (cross-thread frees, sh8bench's twist).  Every block's first and
 * last bytes are checked before it is freed.
 * usage: shbench [threads=2] [iterations per thread]  (ops = threads*iterations*BATCH mallocs) */
#include <pthread.h>
#include "bench_common.h"

#define BATCH 2000

struct blk {
    unsigned char *p;
    size_t n;
};

static long nthreads, niters;
static struct blk *batches; /* [thread][BATCH] */
static pthread_barrier_t barrier;

static void check(const struct blk *b, unsigned char v)
{
    if (b->p[0] != v || b->p[b->n - 1] != v) {
        fprintf(stderr, "shbench: data check failed\n");
        exit(1);
    }
}

static void *run(void *vp)
{
    unsigned tid = (unsigned)(uintptr_t)vp;
    uint64_t rng = xs_seed(tid);
    struct blk *mine = &batches[(size_t)tid * BATCH];
    struct blk *prev = &batches[(size_t)((tid + nthreads - 1) % nthreads) * BATCH];
    unsigned order[BATCH / 2];
    for (long it = 0; it < niters; it++) {
        for (unsigned i = 0; i < BATCH; i++) {
            size_t n = xs_below(&rng, 8) ? 8 + xs_below(&rng, 1017) : 1024 + xs_below(&rng, 7169);
            mine[i].p = xmalloc(n);
            mine[i].n = n;
            mine[i].p[0] = mine[i].p[n - 1] = (unsigned char)(i + it);
        }
        for (unsigned i = BATCH - 1; i < BATCH; i -= 2) {
            check(&mine[i], (unsigned char)(i + it));
            free(mine[i].p);
        }
        pthread_barrier_wait(&barrier);
        for (unsigned k = 0; k < BATCH / 2; k++)
            order[k] = 2 * k;
        for (unsigned k = BATCH / 2 - 1; k > 0; k--) {
            unsigned j = (unsigned)xs_below(&rng, k + 1), t = order[k];
            order[k] = order[j];
            order[j] = t;
        }
        for (unsigned k = 0; k < BATCH / 2; k++) {
            check(&prev[order[k]], (unsigned char)(order[k] + it));
            free(prev[order[k]].p);
        }
        pthread_barrier_wait(&barrier);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    nthreads = 2;
    niters = 2000;
    parse_args(argc, argv, &nthreads, &niters);
    batches = calloc((size_t)nthreads * BATCH, sizeof *batches);
    pthread_t *th = calloc((size_t)nthreads, sizeof *th);
    if (!batches || !th || pthread_barrier_init(&barrier, NULL, (unsigned)nthreads))
        return 2;
    double t0 = now_sec();
    for (long t = 0; t < nthreads; t++)
        if (pthread_create(&th[t], NULL, run, (void *)(uintptr_t)t)) {
            fprintf(stderr, "shbench: pthread_create failed\n");
            return 2;
        }
    for (long t = 0; t < nthreads; t++)
        pthread_join(th[t], NULL);
    report("shbench", nthreads, (uint64_t)nthreads * (uint64_t)niters * BATCH, now_sec() - t0);
    return 0;
}
