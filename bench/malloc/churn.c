/* churn: small-object churn.  Each thread (default: one) keeps a window of
 * WINDOW live slots; every op picks a random slot, frees what is there and
 * allocates a new block of 8..256 bytes, so objects die in random order.
 * usage: churn [threads=1] [iterations per thread]  (ops = threads*iterations) */
#include <pthread.h>
#include "bench_common.h"

#define WINDOW 8192
#define MIN_SZ 8
#define MAX_SZ 256

struct targ {
    unsigned tid;
    long iters;
    uint64_t sum;
};

static void *run(void *vp)
{
    struct targ *a = vp;
    uint64_t rng = xs_seed(a->tid), sum = 0;
    unsigned char **win = calloc(WINDOW, sizeof *win);
    size_t *sz = calloc(WINDOW, sizeof *sz);
    if (!win || !sz) {
        fprintf(stderr, "churn: out of memory\n");
        exit(2);
    }
    for (long i = 0; i < a->iters; i++) {
        size_t j = xs_below(&rng, WINDOW);
        if (win[j]) {
            sum += win[j][sz[j] - 1];
            free(win[j]);
        }
        size_t n = MIN_SZ + xs_below(&rng, MAX_SZ - MIN_SZ + 1);
        win[j] = xmalloc(n);
        sz[j] = n;
        touch(win[j], n, 64, (unsigned char)i);
    }
    for (size_t j = 0; j < WINDOW; j++)
        free(win[j]);
    free(win);
    free(sz);
    a->sum = sum;
    return NULL;
}

int main(int argc, char **argv)
{
    long threads = 1, iters = 20000000;
    parse_args(argc, argv, &threads, &iters);

    struct targ *ta = calloc((size_t)threads, sizeof *ta);
    pthread_t *th = calloc((size_t)threads, sizeof *th);
    if (!ta || !th)
        return 2;
    double t0 = now_sec();
    for (long t = 0; t < threads; t++) {
        ta[t].tid = (unsigned)t;
        ta[t].iters = iters;
        if (threads == 1)
            break;
        if (pthread_create(&th[t], NULL, run, &ta[t]) != 0) {
            fprintf(stderr, "churn: pthread_create failed\n");
            return 2;
        }
    }
    if (threads == 1)
        run(&ta[0]);
    else
        for (long t = 0; t < threads; t++)
            pthread_join(th[t], NULL);
    double secs = now_sec() - t0;

    uint64_t sum = 0;
    for (long t = 0; t < threads; t++)
        sum += ta[t].sum;
    bench_sink = sum;
    report("churn", threads, (uint64_t)threads * (uint64_t)iters, secs);
    free(ta);
    free(th);
    return 0;
}
