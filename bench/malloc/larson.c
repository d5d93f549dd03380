/* larson: Larson-like server workload.  T threads and T slot arrays of SLOTS
 * blocks each.  In round r, thread i works on array (i + r) % T: it replaces
 * randomly chosen slots with new blocks of 8..1000 bytes.  After every round
 * (a barrier) the arrays rotate to the next thread, so most frees release
 * blocks that another thread allocated (cross-thread frees).
 * usage: larson [threads=2] [iterations per thread]  (ops = threads*rounds*ROUND_OPS) */
#include <pthread.h>
#include "bench_common.h"

#define SLOTS 1024
#define ROUND_OPS 2048
#define MIN_SZ 8
#define MAX_SZ 1000

struct slot {
    unsigned char *p;
    size_t n;
};

static long nthreads, nrounds;
static struct slot **arrays;
static pthread_barrier_t barrier;

struct targ {
    unsigned tid;
    uint64_t sum;
};

static void fill(struct slot *s, uint64_t *rng, unsigned char tag)
{
    size_t n = MIN_SZ + xs_below(rng, MAX_SZ - MIN_SZ + 1);
    s->p = xmalloc(n);
    s->n = n;
    touch(s->p, n, 64, tag);
}

static void *run(void *vp)
{
    struct targ *a = vp;
    uint64_t rng = xs_seed(a->tid), sum = 0;

    /* Each thread populates its own array first. */
    for (size_t j = 0; j < SLOTS; j++)
        fill(&arrays[a->tid][j], &rng, (unsigned char)j);
    pthread_barrier_wait(&barrier);

    for (long r = 0; r < nrounds; r++) {
        struct slot *arr = arrays[(a->tid + (unsigned long)r) % (unsigned long)nthreads];
        for (long k = 0; k < ROUND_OPS; k++) {
            struct slot *s = &arr[xs_below(&rng, SLOTS)];
            sum += s->p[0] + s->p[s->n - 1];
            free(s->p);
            fill(s, &rng, (unsigned char)k);
        }
        pthread_barrier_wait(&barrier); /* hand the array to the next thread */
    }

    struct slot *arr = arrays[(a->tid + (unsigned long)nrounds) % (unsigned long)nthreads];
    for (size_t j = 0; j < SLOTS; j++)
        free(arr[j].p);
    a->sum = sum;
    return NULL;
}

int main(int argc, char **argv)
{
    long iters = 10000000;
    nthreads = 2;
    parse_args(argc, argv, &nthreads, &iters);
    nrounds = iters / ROUND_OPS;
    if (nrounds < 1)
        nrounds = 1;

    arrays = calloc((size_t)nthreads, sizeof *arrays);
    struct targ *ta = calloc((size_t)nthreads, sizeof *ta);
    pthread_t *th = calloc((size_t)nthreads, sizeof *th);
    if (!arrays || !ta || !th)
        return 2;
    for (long t = 0; t < nthreads; t++) {
        arrays[t] = calloc(SLOTS, sizeof **arrays);
        if (!arrays[t])
            return 2;
    }
    if (pthread_barrier_init(&barrier, NULL, (unsigned)nthreads) != 0) {
        fprintf(stderr, "larson: pthread_barrier_init failed\n");
        return 2;
    }

    double t0 = now_sec();
    for (long t = 0; t < nthreads; t++) {
        ta[t].tid = (unsigned)t;
        if (pthread_create(&th[t], NULL, run, &ta[t]) != 0) {
            fprintf(stderr, "larson: pthread_create failed\n");
            return 2;
        }
    }
    for (long t = 0; t < nthreads; t++)
        pthread_join(th[t], NULL);
    double secs = now_sec() - t0;

    uint64_t sum = 0;
    for (long t = 0; t < nthreads; t++) {
        sum += ta[t].sum;
        free(arrays[t]);
    }
    bench_sink = sum;
    pthread_barrier_destroy(&barrier);
    report("larson", nthreads, (uint64_t)nthreads * (uint64_t)nrounds * ROUND_OPS, secs);
    free(arrays);
    free(ta);
    free(th);
    return 0;
}
