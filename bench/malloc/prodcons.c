/* prodcons: producer/consumer.  threads/2 producer-consumer pairs, each
 * linked by a bounded lock-free single-producer/single-consumer ring.  The
 * producer mallocs messages of 32..512 bytes, fills them and pushes them; the
 * consumer checks and frees them, so every free is a cross-thread free.
 * Each side publishes its index every BATCH messages (and before it waits)
 * and rereads the other's only when its cached copy says full or empty, as
 * real queues do: publishing every message made the ring's index lines
 * bounce on every push, and the run settle at random into a fast or a 4x
 * slower regime (5-44 M msgs/s for one binary), measuring the ring, not
 * malloc.
 * usage: prodcons [threads=2] [messages per producer]
 * (threads is rounded down to an even number, min 2; ops = messages total) */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include "bench_common.h"

#define RING 1024 /* power of two */
#define BATCH 32 /* divides RING */
#define MIN_SZ 32 /* > sizeof(struct msg): the last byte is a check byte */
#define MAX_SZ 512

struct msg {
    uint64_t seq;
    uint32_t size;
    uint32_t check;
};

struct ring {
    _Alignas(64) atomic_size_t head; /* next slot to pop (consumer) */
    _Alignas(64) atomic_size_t tail; /* next slot to push (producer) */
    _Alignas(64) struct msg *slot[RING];
};

struct targ {
    unsigned id;
    struct ring *ring;
    uint64_t sum;
};

static long nmsgs;

static void backoff(unsigned *spins)
{
    if (++*spins > 64) {
        *spins = 0;
        sched_yield();
    }
}

static void *producer(void *vp)
{
    struct targ *a = vp;
    struct ring *r = a->ring;
    uint64_t rng = xs_seed(a->id);
    size_t tail = 0, head = 0; /* head: the consumer's, as last read */
    for (long i = 0; i < nmsgs; i++) {
        uint32_t n = (uint32_t)(MIN_SZ + xs_below(&rng, MAX_SZ - MIN_SZ + 1));
        struct msg *m = xmalloc(n);
        touch(m, n, 64, (unsigned char)i);
        m->seq = (uint64_t)i;
        m->size = n;
        m->check = (uint32_t)i ^ n;
        ((unsigned char *)m)[n - 1] = (unsigned char)i;
        if (tail - head >= RING) {
            unsigned spins = 0;
            atomic_store_explicit(&r->tail, tail, memory_order_release);
            while (tail - (head = atomic_load_explicit(&r->head, memory_order_acquire)) >= RING)
                backoff(&spins);
        }
        r->slot[tail & (RING - 1)] = m;
        if (++tail % BATCH == 0 || i == nmsgs - 1)
            atomic_store_explicit(&r->tail, tail, memory_order_release);
    }
    return NULL;
}

static void *consumer(void *vp)
{
    struct targ *a = vp;
    struct ring *r = a->ring;
    uint64_t sum = 0;
    size_t head = 0, tail = 0; /* tail: the producer's, as last read */
    for (long i = 0; i < nmsgs; i++) {
        if (head == tail) {
            unsigned spins = 0;
            atomic_store_explicit(&r->head, head, memory_order_release);
            while ((tail = atomic_load_explicit(&r->tail, memory_order_acquire)) == head)
                backoff(&spins);
        }
        struct msg *m = r->slot[head & (RING - 1)];
        if (++head % BATCH == 0)
            atomic_store_explicit(&r->head, head, memory_order_release);
        if (m->seq != (uint64_t)i || m->check != ((uint32_t)i ^ m->size) ||
            ((unsigned char *)m)[m->size - 1] != (unsigned char)i) {
            fprintf(stderr, "prodcons: corrupted message %ld\n", i);
            exit(3);
        }
        sum += m->size;
        free(m);
    }
    a->sum = sum;
    return NULL;
}

int main(int argc, char **argv)
{
    long threads = 2;
    nmsgs = 10000000;
    parse_args(argc, argv, &threads, &nmsgs);
    long pairs = threads / 2 > 0 ? threads / 2 : 1;
    threads = pairs * 2;

    struct ring *rings = aligned_alloc(64, (size_t)pairs * sizeof *rings);
    struct targ *ta = calloc((size_t)threads, sizeof *ta);
    pthread_t *th = calloc((size_t)threads, sizeof *th);
    if (!rings || !ta || !th)
        return 2;
    for (long p = 0; p < pairs; p++) {
        atomic_init(&rings[p].head, 0);
        atomic_init(&rings[p].tail, 0);
    }

    double t0 = now_sec();
    for (long t = 0; t < threads; t++) {
        ta[t].id = (unsigned)t;
        ta[t].ring = &rings[t / 2];
        if (pthread_create(&th[t], NULL, (t % 2) ? consumer : producer, &ta[t]) != 0) {
            fprintf(stderr, "prodcons: pthread_create failed\n");
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
    report("prodcons", threads, (uint64_t)pairs * (uint64_t)nmsgs, secs);
    free(rings);
    free(ta);
    free(th);
    return 0;
}
