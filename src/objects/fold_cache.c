/* Fold cache: a thread's folds kept per tag and class in its heap (see
 * fold_cache.h). */
#include "objects/fold_cache.h"

#include <limits.h>
#if defined(__x86_64__)
#include <emmintrin.h>
#endif

#include "objects/tcache.h"

AT_DATA_PAGE unsigned char at_fold_on;

_Static_assert(AT_IDX_MAX <= AT_FOLD_NIDX_MASK, "an index plus one fits the key");
_Static_assert(AT_NR_CLASSES <= (AT_FOLD_USED >> AT_FOLD_CLS_SHIFT), "a class fits the key");
_Static_assert(AT_FOLD_WAYS == 8, "a set's keys are two 16-byte vectors");

/* Way w of set s to the per-CPU counters, emptied. */
static AT_NOINLINE void fold_spill_one(struct at_fold_set *s, unsigned int w)
{
	uint32_t key = s->key[w];
	at_fold_percpu((key & AT_FOLD_NIDX_MASK) - 1, at_fold_cls(key), s->calls[w], s->ccalls[w]);
	/* the counts first, then the key: a reader sees them with no key
	   (counted nowhere) rather than with another's */
	AT_STORE_RELAXED(&s->calls[w], 0);
	AT_STORE_RELAXED(&s->ccalls[w], 0);
	AT_STORE_RELAXED(&s->key[w], 0);
}

/* The ways of set s whose key is k (AT_FOLD_USED aside), a bit each, and
 * in *empty those whose key is 0. */
static inline unsigned int set_find(const struct at_fold_set *s, uint32_t k, unsigned int *empty)
{
#if defined(__x86_64__)
	__m128i lo = _mm_load_si128((const __m128i *)s->key);
	__m128i hi = _mm_load_si128((const __m128i *)s->key + 1);
	__m128i m = _mm_set1_epi32((int)~AT_FOLD_USED), kk = _mm_set1_epi32((int)k);
	__m128i z = _mm_setzero_si128();
	*empty = (unsigned int)(_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(lo, z))) |
				_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(hi, z))) << 4);
	return (unsigned int)(_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(_mm_and_si128(lo, m), kk))) |
			      _mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(_mm_and_si128(hi, m), kk))) << 4);
#else
	unsigned int eq = 0, em = 0;
	for (unsigned int w = 0; w < AT_FOLD_WAYS; w++) {
		eq |= (unsigned int)((s->key[w] & ~AT_FOLD_USED) == k) << w;
		em |= (unsigned int)(s->key[w] == 0) << w;
	}
	*empty = em;
	return eq;
#endif
}

/* at_fold_add's rare cases: the set full of other pairs, or counts that
 * would leave their fields: spill, then add. */
static AT_NOINLINE void fold_add_spill(struct at_theap *h, uint32_t idx, unsigned int cls,
				       int64_t calls, int64_t ccalls)
{
	uint32_t k = (idx + 1) | cls << AT_FOLD_CLS_SHIFT, q = idx + cls;
	struct at_fold_set *s = &h->folds[q % AT_FOLD_SETS];
	unsigned int empty, found = set_find(s, k, &empty);
	unsigned int w = found ? (unsigned int)__builtin_ctz(found) : q / AT_FOLD_SETS % AT_FOLD_WAYS;
	fold_spill_one(s, w);
	AT_STORE_RELAXED(&s->key[w], k | AT_FOLD_USED);
	h->folded = 1;
	AT_STORE_RELAXED(&s->calls[w], (int32_t)calls);
	AT_STORE_RELAXED(&s->ccalls[w], (uint32_t)ccalls);
}

void at_fold_add(struct at_theap *h, uint32_t idx, unsigned int cls, int64_t calls, int64_t ccalls)
{
	uint32_t k = (idx + 1) | cls << AT_FOLD_CLS_SHIFT, q = idx + cls;
	struct at_fold_set *s = &h->folds[q % AT_FOLD_SETS];
	unsigned int empty, found = set_find(s, k, &empty);
	if (at_unlikely(!(found | empty))) {
		fold_add_spill(h, idx, cls, calls, ccalls);
		return;
	}
	unsigned int w = (unsigned int)__builtin_ctz(found ? found : empty);
	int64_t c = s->calls[w] + calls, cc = (int64_t)s->ccalls[w] + ccalls;
	if (at_unlikely(c < INT32_MIN || c > INT32_MAX || cc > UINT32_MAX)) {
		fold_add_spill(h, idx, cls, calls, ccalls);
		return;
	}
	if (s->key[w] != (k | AT_FOLD_USED)) {
		AT_STORE_RELAXED(&s->key[w], k | AT_FOLD_USED);
		h->folded = 1;
	}
	AT_STORE_RELAXED(&s->calls[w], (int32_t)c);
	AT_STORE_RELAXED(&s->ccalls[w], (uint32_t)cc);
}

void at_fold_percpu(uint32_t idx, unsigned int cls, int64_t calls, int64_t ccalls)
{
	int64_t charge = at_class_charge[cls];
	if (calls)
		at_percpu_add2(at_counter0(idx), calls * charge, calls);
	if (ccalls)
		at_percpu_add2(at_cum0(idx), ccalls * charge, ccalls);
}

void at_fold_self(uint32_t idx, unsigned int cls, int64_t calls, int64_t ccalls)
{
	struct at_theap *h = at_tls_heap;
	const struct alloc_tag *t;
	if ((uintptr_t)h > 1 && AT_LOAD_RELAXED(&at_fold_on) && idx < AT_IDX_MAX &&
	    (t = AT_LOAD(at_tag_slot(idx))) && !t->modname) /* permanent */
		at_fold_add(h, idx, cls, calls, ccalls);
	else
		at_fold_percpu(idx, cls, calls, ccalls);
}

int at_fold_entry(const struct at_theap *h, unsigned int i, uint32_t *idx,
		  struct alloctag_counters *live, struct alloctag_counters *cum)
{
	const struct at_fold_set *s = &h->folds[i / AT_FOLD_WAYS];
	unsigned int w = i % AT_FOLD_WAYS;
	uint32_t key = AT_LOAD_RELAXED(&s->key[w]), n = key & AT_FOLD_NIDX_MASK;
	unsigned int c = at_fold_cls(key);
	if (n <= AT_IDX_FIRST || n > AT_IDX_MAX || c >= AT_NR_CLASSES)
		return 0;
	int64_t charge = at_class_charge[c];
	*idx = n - 1;
	if (live) {
		live->calls = AT_LOAD_RELAXED(&s->calls[w]);
		live->bytes = live->calls * charge;
	}
	if (cum) {
		cum->calls = AT_LOAD_RELAXED(&s->ccalls[w]);
		cum->bytes = cum->calls * charge;
	}
	return 1;
}

void at_fold_spill(struct at_theap *h)
{
	for (unsigned int i = 0; i < AT_FOLD_SETS; i++)
		for (unsigned int w = 0; w < AT_FOLD_WAYS; w++)
			if (h->folds[i].key[w])
				fold_spill_one(&h->folds[i], w);
}

void at_fold_fork(struct at_theap *h)
{
	for (unsigned int i = 0; i < AT_FOLD_SETS; i++) {
		struct at_fold_set *s = &h->folds[i];
		for (unsigned int w = 0; w < AT_FOLD_WAYS; w++) {
			uint32_t key = s->key[w];
			if (key & AT_FOLD_USED)
				AT_STORE_RELAXED(&s->key[w], key & ~AT_FOLD_USED);
			else if (key)
				fold_spill_one(s, w);
		}
	}
}
