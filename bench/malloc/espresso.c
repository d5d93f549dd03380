/* espresso: the shape of the espresso logic minimizer (single thread).
 * Each problem is a random single-output function of 10..17 inputs given
 * as a sum of cubes (the ON-set); it is minimized the way espresso does:
 * the OFF-set by the unate recursive complement, then EXPAND against it,
 * IRREDUNDANT (a cube is dropped when the others cover it: a tautology
 * check of their cofactor) and REDUCE / EXPAND / IRREDUNDANT again while
 * the cover shrinks.  Cubes are in positional notation (2 bits a
 * variable: 01 the variable 0, 10 it is 1, 11 either), and the
 * allocations are espresso's: every cube, cofactor, complement and set
 * family (a header and an array of cubes grown by realloc, by half again
 * each time) and the per-variable counts are malloc'd at their own call
 * sites and freed when the step ends, so a few dozen sites in recursive
 * code allocate small blocks of short and mixed lifetimes.
 *
 * Data checked: the minimized cover must equal the problem's function,
 * each one inside the other (each cube's cofactor of the other cover is a
 * tautology), and on 512 random input vectors as well; and it must not
 * have more cubes than the problem had.
 * usage: espresso [threads=1] [problems per thread]  (ops = problems) */
#include <pthread.h>
#include "bench_common.h"

typedef uint32_t word;

/* The current problem's shape (per thread). */
static __thread int nv;   /* variables */
static __thread int nw;   /* words a cube */

struct fam {
    int n, cap;
    word *d; /* cube i at d + i * nw */
};

static void *must(void *p)
{
    if (!p) {
        fprintf(stderr, "espresso: out of memory\n");
        exit(2);
    }
    return p;
}

#define CUBE(f, i) ((f)->d + (size_t)(i) * nw)

static inline int field(const word *c, int v)
{
    return c[v >> 4] >> ((v & 15) * 2) & 3;
}

static inline void set_field(word *c, int v, int x)
{
    c[v >> 4] = (c[v >> 4] & ~((word)3 << ((v & 15) * 2))) | (word)x << ((v & 15) * 2);
}

/* The bits of word k that belong to variables. */
static inline word valid(int k)
{
    int left = nv - 16 * k;
    return left >= 16 ? ~(word)0 : ((word)1 << (2 * left)) - 1;
}

static struct fam *fam_new(int cap)
{
    struct fam *f = must(malloc(sizeof *f));
    f->n = 0;
    f->cap = cap < 1 ? 1 : cap;
    f->d = must(malloc((size_t)f->cap * nw * sizeof(word)));
    return f;
}

static void fam_free(struct fam *f)
{
    free(f->d);
    free(f);
}

static word *fam_add(struct fam *f, const word *c)
{
    if (f->n == f->cap) {
        f->cap += f->cap / 2 + 1;
        f->d = must(realloc(f->d, (size_t)f->cap * nw * sizeof(word)));
    }
    word *to = CUBE(f, f->n++);
    memcpy(to, c, nw * sizeof(word));
    return to;
}

static word *cube_new(void)
{
    return must(malloc(nw * sizeof(word)));
}

static void cube_universe(word *c)
{
    for (int k = 0; k < nw; k++)
        c[k] = valid(k);
}

/* a and b share a minterm: no variable's field of a & b is 00 */
static int intersect(const word *a, const word *b)
{
    for (int k = 0; k < nw; k++) {
        word x = a[k] & b[k];
        if (((x | x >> 1) & 0x55555555u & valid(k)) != (0x55555555u & valid(k)))
            return 0;
    }
    return 1;
}

static int contains(const word *big, const word *small)
{
    for (int k = 0; k < nw; k++)
        if (small[k] & ~big[k])
            return 0;
    return 1;
}

static int universal(const word *c)
{
    for (int k = 0; k < nw; k++)
        if (c[k] != valid(k))
            return 0;
    return 1;
}

static int literals(const word *c)
{
    int n = 0;
    for (int v = 0; v < nv; v++)
        n += field(c, v) != 3;
    return n;
}

/* The cubes of f that meet c, each with c's variables raised. */
static struct fam *cofactor(const struct fam *f, const word *c, int skip)
{
    struct fam *r = fam_new(f->n);
    word *t = cube_new();
    for (int i = 0; i < f->n; i++) {
        if (i == skip || !intersect(CUBE(f, i), c))
            continue;
        for (int k = 0; k < nw; k++)
            t[k] = (CUBE(f, i)[k] | ~c[k]) & valid(k);
        fam_add(r, t);
    }
    free(t);
    return r;
}

/* The variable to split on: the most binate, else the most used; -1 when
 * f is unate and *unate is set (or no variable is used). */
static int split_var(const struct fam *f, int *unate)
{
    int *zero = must(calloc((size_t)nv, sizeof(int)));
    int *one = must(calloc((size_t)nv, sizeof(int)));
    for (int i = 0; i < f->n; i++)
        for (int v = 0; v < nv; v++) {
            int x = field(CUBE(f, i), v);
            zero[v] += x == 1;
            one[v] += x == 2;
        }
    int best = -1, bestn = 0, used = -1, usedn = 0;
    for (int v = 0; v < nv; v++) {
        if (zero[v] && one[v] && zero[v] + one[v] > bestn)
            best = v, bestn = zero[v] + one[v];
        if (zero[v] + one[v] > usedn)
            used = v, usedn = zero[v] + one[v];
    }
    free(zero);
    free(one);
    *unate = best < 0;
    return best >= 0 ? best : used;
}

static struct fam *cofactor_var(const struct fam *f, int v, int x)
{
    word *c = cube_new();
    cube_universe(c);
    set_field(c, v, x);
    struct fam *r = cofactor(f, c, -1);
    free(c);
    return r;
}

static int tautology(const struct fam *f)
{
    if (f->n == 0)
        return 0;
    for (int i = 0; i < f->n; i++)
        if (universal(CUBE(f, i)))
            return 1;
    int unate, v = split_var(f, &unate);
    if (unate)
        return 0; /* a unate cover without the universal cube */
    struct fam *g = cofactor_var(f, v, 1);
    int r = tautology(g);
    fam_free(g);
    if (r) {
        g = cofactor_var(f, v, 2);
        r = tautology(g);
        fam_free(g);
    }
    return r;
}

/* The cubes of f marked gone dropped, the others kept in order. */
static void drop_gone(struct fam *f, const char *gone)
{
    int n = 0;
    for (int i = 0; i < f->n; i++)
        if (!gone[i])
            memmove(CUBE(f, n++), CUBE(f, i), nw * sizeof(word));
    f->n = n;
}

/* Drop the cubes of f contained in another (the first of equal ones kept). */
static void scc(struct fam *f)
{
    char *gone = must(calloc((size_t)f->n + 1, 1));
    for (int i = 0; i < f->n; i++)
        for (int j = 0; j < f->n && !gone[i]; j++)
            if (j != i && !gone[j] && contains(CUBE(f, j), CUBE(f, i)) &&
                (j < i || !contains(CUBE(f, i), CUBE(f, j))))
                gone[i] = 1;
    drop_gone(f, gone);
    free(gone);
}

static struct fam *complement(const struct fam *f)
{
    struct fam *r;
    if (f->n == 0) {
        r = fam_new(1);
        word *u = cube_new();
        cube_universe(u);
        fam_add(r, u);
        free(u);
        return r;
    }
    for (int i = 0; i < f->n; i++)
        if (universal(CUBE(f, i)))
            return fam_new(1);
    if (f->n == 1) { /* De Morgan */
        r = fam_new(nv);
        word *t = cube_new();
        for (int v = 0; v < nv; v++) {
            int x = field(CUBE(f, 0), v);
            if (x == 3)
                continue;
            cube_universe(t);
            set_field(t, v, 3 ^ x);
            fam_add(r, t);
        }
        free(t);
        return r;
    }
    int unate, v = split_var(f, &unate);
    struct fam *f0 = cofactor_var(f, v, 1), *f1 = cofactor_var(f, v, 2);
    struct fam *c0 = complement(f0), *c1 = complement(f1);
    fam_free(f0);
    fam_free(f1);
    r = fam_new(c0->n + c1->n);
    char *taken = must(calloc((size_t)c1->n + 1, 1));
    word *t = cube_new();
    for (int i = 0; i < c0->n; i++) { /* a cube in both halves loses v */
        int both = 0;
        for (int j = 0; j < c1->n && !both; j++)
            if (!taken[j] && !memcmp(CUBE(c0, i), CUBE(c1, j), nw * sizeof(word)))
                taken[j] = both = 1;
        memcpy(t, CUBE(c0, i), nw * sizeof(word));
        if (!both)
            set_field(t, v, 1);
        fam_add(r, t);
    }
    for (int j = 0; j < c1->n; j++)
        if (!taken[j]) {
            memcpy(t, CUBE(c1, j), nw * sizeof(word));
            set_field(t, v, 2);
            fam_add(r, t);
        }
    free(t);
    free(taken);
    fam_free(c0);
    fam_free(c1);
    scc(r);
    return r;
}

/* The order cubes are taken in: fewest literals first (the largest). */
static int by_literals(const void *a, const void *b)
{
    const int *x = a, *y = b;
    return x[1] != y[1] ? x[1] - y[1] : x[0] - y[0];
}

static int *order_of(const struct fam *f)
{
    int *o = must(malloc((size_t)(f->n ? f->n : 1) * 2 * sizeof(int)));
    for (int i = 0; i < f->n; i++) {
        o[2 * i] = i;
        o[2 * i + 1] = literals(CUBE(f, i));
    }
    qsort(o, (size_t)f->n, 2 * sizeof(int), by_literals);
    return o;
}

/* Each cube raised, variable by variable, while it meets no cube of the
 * OFF-set off; the cubes an expanded one contains dropped. */
static struct fam *expand(const struct fam *f, const struct fam *off)
{
    int *o = order_of(f);
    char *gone = must(calloc((size_t)f->n + 1, 1));
    struct fam *r = fam_new(f->n);
    for (int k = 0; k < f->n; k++) {
        int i = o[2 * k];
        if (gone[i])
            continue;
        word *c = cube_new();
        memcpy(c, CUBE(f, i), nw * sizeof(word));
        for (int v = 0; v < nv; v++) {
            if (field(c, v) == 3)
                continue;
            word *t = cube_new();
            memcpy(t, c, nw * sizeof(word));
            set_field(t, v, 3);
            int ok = 1;
            for (int j = 0; j < off->n && ok; j++)
                ok = !intersect(t, CUBE(off, j));
            if (ok)
                memcpy(c, t, nw * sizeof(word));
            free(t);
        }
        for (int j = 0; j < f->n; j++)
            if (j != i && !gone[j] && contains(c, CUBE(f, j)))
                gone[j] = 1;
        fam_add(r, c);
        free(c);
    }
    free(gone);
    free(o);
    scc(r);
    return r;
}

/* The cubes the others do not cover dropped, largest first kept. */
static void irredundant(struct fam *f)
{
    int *o = order_of(f);
    char *gone = must(calloc((size_t)f->n + 1, 1));
    for (int k = f->n - 1; k >= 0; k--) { /* the smallest cubes tried first */
        int i = o[2 * k];
        struct fam *rest = fam_new(f->n);
        for (int j = 0; j < f->n; j++)
            if (j != i && !gone[j])
                fam_add(rest, CUBE(f, j));
        struct fam *g = cofactor(rest, CUBE(f, i), -1);
        gone[i] = tautology(g);
        fam_free(g);
        fam_free(rest);
    }
    drop_gone(f, gone);
    free(gone);
    free(o);
}

/* Each cube shrunk to the smallest cube holding what only it covers. */
static void reduce(struct fam *f)
{
    int *o = order_of(f);
    char *gone = must(calloc((size_t)f->n + 1, 1));
    for (int k = 0; k < f->n; k++) {
        int i = o[2 * k];
        word *c = CUBE(f, i);
        struct fam *rest = fam_new(f->n);
        for (int j = 0; j < f->n; j++)
            if (j != i && !gone[j])
                fam_add(rest, CUBE(f, j));
        struct fam *g = cofactor(rest, c, -1);
        struct fam *h = complement(g);
        if (h->n == 0) {
            gone[i] = 1;
        } else {
            word *sup = cube_new();
            memset(sup, 0, nw * sizeof(word));
            for (int j = 0; j < h->n; j++)
                for (int w = 0; w < nw; w++)
                    sup[w] |= CUBE(h, j)[w];
            for (int w = 0; w < nw; w++)
                c[w] &= sup[w];
            free(sup);
        }
        fam_free(h);
        fam_free(g);
        fam_free(rest);
    }
    drop_gone(f, gone);
    free(gone);
    free(o);
}

static long cost(const struct fam *f)
{
    long lit = 0;
    for (int i = 0; i < f->n; i++)
        lit += literals(CUBE(f, i));
    return (long)f->n * 1000 + lit;
}

/* a inside b: every cube of a covered by b */
static int covered(const struct fam *a, const struct fam *b)
{
    for (int i = 0; i < a->n; i++) {
        struct fam *g = cofactor(b, CUBE(a, i), -1);
        int t = tautology(g);
        fam_free(g);
        if (!t)
            return 0;
    }
    return 1;
}

static int eval(const struct fam *f, const word *m)
{
    for (int i = 0; i < f->n; i++)
        if (intersect(CUBE(f, i), m))
            return 1;
    return 0;
}

static void fail(const char *what)
{
    fprintf(stderr, "espresso: data check failed: %s\n", what);
    exit(1);
}

/* One problem: its function made, minimized, checked. */
static void problem(uint64_t *rng)
{
    nv = 10 + (int)xs_below(rng, 8);
    nw = (nv + 15) / 16;
    int ncubes = 12 + (int)xs_below(rng, 24);
    struct fam *on = fam_new(4);
    word *c = cube_new();
    for (int i = 0; i < ncubes; i++) {
        cube_universe(c);
        for (int v = 0; v < nv; v++) /* about a third of the variables fixed */
            if (xs_below(rng, 3) == 0)
                set_field(c, v, 1 + (int)xs_below(rng, 2));
        fam_add(on, c);
    }
    struct fam *off = complement(on);
    struct fam *f = expand(on, off);
    irredundant(f);
    for (int round = 0; round < 4; round++) {
        long before = cost(f);
        reduce(f);
        struct fam *g = expand(f, off);
        fam_free(f);
        f = g;
        irredundant(f);
        if (cost(f) >= before)
            break;
    }
    if (f->n > on->n)
        fail("more cubes than the problem");
    if (!covered(f, on) || !covered(on, f))
        fail("the cover is not the function");
    for (int t = 0; t < 512; t++) {
        for (int v = 0; v < nv; v++)
            set_field(c, v, 1 + (int)xs_below(rng, 2));
        if (eval(f, c) != eval(on, c) || eval(off, c) == eval(on, c))
            fail("a vector's value");
    }
    bench_sink += (uint64_t)f->n;
    free(c);
    fam_free(f);
    fam_free(off);
    fam_free(on);
}

static long niters;

static void *run(void *vp)
{
    uint64_t rng = xs_seed((unsigned)(uintptr_t)vp);
    for (long i = 0; i < niters; i++)
        problem(&rng);
    return NULL;
}

int main(int argc, char **argv)
{
    long threads = 1;
    niters = 400;
    parse_args(argc, argv, &threads, &niters);
    double secs = run_threads("espresso", threads, run);
    if (secs < 0)
        return 2;
    report("espresso", threads, (uint64_t)threads * (uint64_t)niters, secs);
    return 0;
}
