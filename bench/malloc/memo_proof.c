/* memo_proof: the time of the chain memo's proof alone (src/sites/chains.h,
 * at_memo_fast), scalar against AVX2's gather, for 3, 4 and 7 stack words:
 * a loop that proves one entry against a stack of words, again and again,
 * its branch on the result always the same way (as a steady loop's hit).
 * The scalar proof is the one in malloc: word 0 (offset, word, compare,
 * branch), then per word offset, word, xor, or, and the branch; the gather
 * is at_memo_gather4's (vpmovzxwq of 4 offsets, vpcmpeqd for the mask,
 * vpgatherqq, vpxor, vptest, vzeroupper, branch), 3 words as 4 (the 3rd
 * repeated), 7 as words 0..3 and 3..6.  Rounds alternate the variants;
 * printed: median and best ns per proof, and the gather's ratio to the
 * scalar proof of the same words.  x86-64 with AVX2 only.
 * usage: memo_proof [rounds=15] [proofs per round=20000000] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct ent {
	uint16_t off[8];
	uint64_t val[8];
};

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

#define W(k) (*(const uint64_t *)(from + e->off[k]) ^ e->val[k])

/* the scalar proof of words 0 .. k: word 0 alone, then the others or'ed */
#define SCALAR(name, rest)                                                               \
	__attribute__((noinline)) static long name(const struct ent *e, uintptr_t from, long n) \
	{                                                                                \
		long bad = 0;                                                            \
		for (long i = 0; i < n; i++) {                                           \
			__asm__ volatile("" : "+r"(e), "+r"(from));                      \
			if (W(0) || (rest))                                              \
				bad++;                                                   \
		}                                                                        \
		return bad;                                                              \
	}
SCALAR(scalar3, W(1) | W(2))
SCALAR(scalar4, W(1) | W(2) | W(3))
SCALAR(scalar7, W(1) | W(2) | W(3) | W(4) | W(5) | W(6))

#define GATHER(o, v, idx, mask, dst)                                                     \
	"vpmovzxwq " #o "(%[e]), %%ymm" #idx "\n\t"                                      \
	"vpcmpeqd %%ymm" #mask ", %%ymm" #mask ", %%ymm" #mask "\n\t"                    \
	"vpgatherqq %%ymm" #mask ", (%[f],%%ymm" #idx ",1), %%ymm" #dst "\n\t"           \
	"vpxor " #v "(%[e]), %%ymm" #dst ", %%ymm" #dst "\n\t"

__attribute__((noinline)) static long gather4(const struct ent *e, uintptr_t from, long n)
{
	long bad = 0;
	for (long i = 0; i < n; i++) {
		__asm__ volatile("" : "+r"(e), "+r"(from));
		__asm__ goto(GATHER(0, 16, 0, 1, 2) "vptest %%ymm2, %%ymm2\n\tvzeroupper\n\tjz %l[same]"
			     : : [e] "r"(e), [f] "r"(from), "m"(*e) : "cc", "xmm0", "xmm1", "xmm2" : same);
		bad++;
	same:;
	}
	return bad;
}

__attribute__((noinline)) static long gather7(const struct ent *e, uintptr_t from, long n)
{
	long bad = 0;
	for (long i = 0; i < n; i++) {
		__asm__ volatile("" : "+r"(e), "+r"(from));
		__asm__ goto(GATHER(0, 16, 0, 1, 2) GATHER(6, 40, 3, 4, 5)
			     "vpor %%ymm5, %%ymm2, %%ymm2\n\tvptest %%ymm2, %%ymm2\n\tvzeroupper\n\tjz %l[same]"
			     : : [e] "r"(e), [f] "r"(from), "m"(*e)
			     : "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5" : same);
		bad++;
	same:;
	}
	return bad;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 15;
	long n = argc > 2 ? atol(argv[2]) : 20000000;
	if (rounds < 1 || rounds > 1000 || n < 1) {
		fprintf(stderr, "usage: memo_proof [rounds 1..1000] [proofs per round]\n");
		return 2;
	}
	__builtin_cpu_init();
	if (!__builtin_cpu_supports("avx2")) {
		fprintf(stderr, "memo_proof: this CPU has no AVX2\n");
		return 77;
	}
	static uint64_t stack[64];
	for (int i = 0; i < 64; i++)
		stack[i] = 0x555555550000ull + (uint64_t)i * 977;
	/* a walk's return addresses, a frame or two apart; 3 words as 4 */
	static const uint16_t offs[7] = {8, 40, 88, 136, 184, 232, 296};
	static struct ent e3, e7;
	for (int k = 0; k < 7; k++) {
		e7.off[k] = offs[k];
		e7.val[k] = stack[offs[k] / 8];
		if (k < 3)
			e3.off[k] = offs[k], e3.val[k] = stack[offs[k] / 8];
	}
	e3.off[3] = e3.off[2], e3.val[3] = e3.val[2];
	struct {
		const char *name;
		long (*f)(const struct ent *, uintptr_t, long);
		const struct ent *e;
		double *t;
	} v[] = {
		{"3 words, scalar", scalar3, &e3, NULL}, {"3 words, gather", gather4, &e3, NULL},
		{"4 words, scalar", scalar4, &e7, NULL}, {"4 words, gather", gather4, &e7, NULL},
		{"7 words, scalar", scalar7, &e7, NULL}, {"7 words, gather", gather7, &e7, NULL},
	};
	enum { NV = sizeof(v) / sizeof(v[0]) };
	for (int i = 0; i < NV; i++)
		v[i].t = calloc((size_t)rounds, sizeof(double));
	for (int r = 0; r < rounds; r++)
		for (int k = 0; k < NV; k++) {
			int i = (k + r) % NV;
			double t = now();
			long bad = v[i].f(v[i].e, (uintptr_t)stack, n);
			t = now() - t;
			if (bad) {
				fprintf(stderr, "memo_proof: %s failed to prove its entry\n", v[i].name);
				return 1;
			}
			v[i].t[r] = t / (double)n * 1e9;
		}
	printf("memo proof alone, %d rounds of %ld proofs: ns per proof; gather against the scalar proof of the same words\n",
	       rounds, n);
	double med[NV], best[NV];
	for (int i = 0; i < NV; i++) {
		qsort(v[i].t, (size_t)rounds, sizeof(double), cmp);
		med[i] = v[i].t[rounds / 2];
		best[i] = v[i].t[0];
		printf("%-16s median %6.2f  best %6.2f", v[i].name, med[i], best[i]);
		if (i & 1)
			printf("  x%.2f (best x%.2f)", med[i] / med[i - 1], best[i] / best[i - 1]);
		printf("\n");
	}
	return 0;
}
