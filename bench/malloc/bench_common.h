/* Shared helpers for the malloc workload programs (header-only, no deps). */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>

/* Sink so that reads of allocated memory are never optimized away. */
static volatile uint64_t bench_sink;

/* xorshift64: deterministic, fast, never returns 0 for a non-zero state. */
static inline uint64_t xs_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* Uniform-ish integer in [0, n) (n > 0; modulo bias is irrelevant here). */
static inline uint64_t xs_below(uint64_t *s, uint64_t n)
{
    return xs_next(s) % n;
}

/* Fixed per-thread seed, never 0. */
static inline uint64_t xs_seed(unsigned tid)
{
    uint64_t s = 0x9E3779B97F4A7C15ull ^ ((uint64_t)(tid + 1) * 0xD1B54A32D192ED03ull);
    return s ? s : 1;
}

/* Write one byte per `stride` bytes plus the last byte. */
static inline void touch(void *p, size_t n, size_t stride, unsigned char v)
{
    unsigned char *c = p;
    for (size_t i = 0; i < n; i += stride)
        c[i] = v;
    c[n - 1] = v;
}

static inline void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) {
        fprintf(stderr, "malloc(%zu) failed\n", n);
        exit(2);
    }
    return p;
}

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static long peak_rss_kb(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return -1;
    return ru.ru_maxrss; /* kilobytes on Linux */
}

static long parse_pos(const char *prog, const char *what, const char *s)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v <= 0) {
        fprintf(stderr, "usage: %s [threads] [iterations]  (bad %s: '%s')\n", prog, what, s);
        exit(2);
    }
    return v;
}

/* argv: [threads] [iterations]; missing ones keep their defaults. */
static void parse_args(int argc, char **argv, long *threads, long *iters)
{
    if (argc > 3 || (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))) {
        fprintf(stderr, "usage: %s [threads (default %ld)] [iterations (default %ld)]\n",
                argv[0], *threads, *iters);
        exit(argc > 3 ? 2 : 0);
    }
    if (argc > 1)
        *threads = parse_pos(argv[0], "threads", argv[1]);
    if (argc > 2)
        *iters = parse_pos(argv[0], "iterations", argv[2]);
}

static void report(const char *name, long threads, uint64_t ops, double secs)
{
    if (secs <= 0)
        secs = 1e-9;
    printf("%s threads=%ld ops=%llu seconds=%.3f ops_per_sec=%.0f peak_rss_kb=%ld\n",
           name, threads, (unsigned long long)ops, secs, (double)ops / secs, peak_rss_kb());
    fflush(stdout);
}

/* Run fn(thread number) on `threads` threads and wait for them: the seconds
 * it took, or a negative value (after a message) if a thread could not
 * start. */
static inline double run_threads(const char *name, long threads, void *(*fn)(void *))
{
    pthread_t *th = calloc((size_t)threads, sizeof *th);
    if (!th)
        return -1;
    double t0 = now_sec();
    for (long t = 0; t < threads; t++)
        if (pthread_create(&th[t], NULL, fn, (void *)(uintptr_t)t)) {
            fprintf(stderr, "%s: pthread_create failed\n", name);
            return -1;
        }
    for (long t = 0; t < threads; t++)
        pthread_join(th[t], NULL);
    free(th);
    return now_sec() - t0;
}

#endif
