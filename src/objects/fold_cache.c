/* Fold cache: a thread's folds kept per tag and class in its heap (see
 * fold_cache.h). */
#include "objects/fold_cache.h"

#include <limits.h>

#include "objects/tcache.h"

_Static_assert(AT_IDX_MAX <= AT_FOLD_NIDX_MASK, "an index plus one fits the key");
_Static_assert(AT_NR_CLASSES <= (AT_FOLD_USED >> AT_FOLD_CLS_SHIFT), "a class fits the key");

static void fold_spill_one(struct at_fold *e)
{
	uint32_t key = e->key;
	uint32_t idx = (key & AT_FOLD_NIDX_MASK) - 1;
	int64_t charge = at_class_charge[at_fold_cls(key)];
	if (e->calls)
		at_percpu_add2(at_counter0(idx), e->calls * charge, e->calls);
	if (e->ccalls)
		at_percpu_add2(at_cum0(idx), (int64_t)e->ccalls * charge, e->ccalls);
	/* the counts first, then the key: a reader sees them with no key
	   (counted nowhere) rather than with another's */
	AT_STORE_RELAXED(&e->calls, 0);
	AT_STORE_RELAXED(&e->ccalls, 0);
	AT_STORE_RELAXED(&e->key, 0);
}

void at_fold_add(struct at_theap *h, uint32_t idx, unsigned int cls, int64_t calls, int64_t ccalls)
{
	uint32_t k = (idx + 1) | cls << AT_FOLD_CLS_SHIFT;
	struct at_fold *set = &h->folds[(idx + cls) % AT_FOLD_SETS * AT_FOLD_WAYS], *e = NULL;
	for (unsigned int w = 0; w < AT_FOLD_WAYS; w++) {
		if ((set[w].key & ~AT_FOLD_USED) == k) {
			e = &set[w];
			break;
		}
		if (!e && !set[w].key)
			e = &set[w];
	}
	if (!e) {
		e = &set[(idx ^ cls) & (AT_FOLD_WAYS - 1)];
		fold_spill_one(e);
	}
	int64_t c = e->calls + calls, cc = (int64_t)e->ccalls + ccalls;
	if (e->key && (c < INT32_MIN || c > INT32_MAX || cc > UINT32_MAX)) {
		fold_spill_one(e);
		c = calls;
		cc = ccalls;
	}
	if (e->key != (k | AT_FOLD_USED)) {
		AT_STORE_RELAXED(&e->key, k | AT_FOLD_USED);
		h->folded = 1;
	}
	AT_STORE_RELAXED(&e->calls, (int32_t)c);
	AT_STORE_RELAXED(&e->ccalls, (uint32_t)cc);
}

void at_fold_cum_self(uint32_t idx, unsigned int cls)
{
	struct at_theap *h = at_tls_heap;
	if ((uintptr_t)h > 1)
		at_fold_add(h, idx, cls, 0, 1);
	else
		at_percpu_add2(at_cum0(idx), at_class_charge[cls], 1);
}

void at_fold_spill(struct at_theap *h)
{
	for (unsigned int i = 0; i < AT_FOLDS; i++)
		if (h->folds[i].key)
			fold_spill_one(&h->folds[i]);
}

void at_fold_fork(struct at_theap *h)
{
	for (unsigned int i = 0; i < AT_FOLDS; i++) {
		struct at_fold *e = &h->folds[i];
		uint32_t key = e->key;
		if (key & AT_FOLD_USED)
			AT_STORE_RELAXED(&e->key, key & ~AT_FOLD_USED);
		else if (key)
			fold_spill_one(e);
	}
}
