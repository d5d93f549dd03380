/* deepchurn: churn (churn.c) with every malloc made three frames deeper,
 * through noinline wrappers that are not tail calls: under the preload
 * library at the default depth its chain is 7 return addresses (the memo's
 * 7-word shape, src/sites/chains.h) where churn's is 4.  It prints churn's
 * line (the workload's name stays "churn").
 * usage: deepchurn [threads=1] [iterations per thread] */
#include <stdlib.h>
#include "bench_common.h"

#define WRAP(k, next)                                                          \
    __attribute__((noinline)) static void *deep##k(size_t n)                   \
    {                                                                          \
        void *p = next(n);                                                     \
        __asm__ volatile("" : : "r"(p) : "memory");                            \
        return p;                                                              \
    }
WRAP(3, xmalloc)
WRAP(2, deep3)
WRAP(1, deep2)
#define xmalloc(n) deep1(n)
#include "churn.c"
