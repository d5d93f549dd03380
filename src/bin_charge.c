/* Bin charges: switching, folding, and the readers' walk (see bin_charge.h). */
#include "bin_charge.h"

#include <sys/mman.h>

#include "tcache.h"

static void fold(uint64_t *pend, unsigned int cls, uint64_t next)
{
	uint64_t w = *pend;
	int64_t n = at_pend_count(w);
	uint32_t idx = at_pend_idx(w);
	if (n && idx >= AT_IDX_FIRST)
		at_percpu_add2(at_counter0(idx), n * (int64_t)at_class_size[cls], n);
	AT_STORE_RELAXED(pend, next);
}

void at_bin_charge_fold(uint64_t *pend, unsigned int cls)
{
	fold(pend, cls, *pend & AT_PEND_IDX_MASK);
}

/* Never released (bin_charge.h): the main executable's and run-time tags. */
static int permanent(uint32_t idx)
{
	const struct alloc_tag *t = AT_LOAD(&at_tag_by_idx[idx]);
	return t && !t->modname;
}

/* Also called when idx is the bin tag and its count would overflow. */
void at_bin_charge_switch(uint64_t *pend, unsigned int cls, uint32_t idx)
{
	if (permanent(idx))
		fold(pend, cls, idx | AT_PEND_ONE);
	else
		at_counters_charge(idx, at_class_size[cls]);
}

void at_bin_uncharge(uint64_t *pend, unsigned int cls, uint32_t idx)
{
	uint64_t w = *pend, nw;
	if (idx < AT_IDX_FIRST) /* untagged: nothing to uncharge */
		return;
	if (at_pend_idx(w) != idx) {
		/*
		 * A thread that only frees (a consumer) takes the tag of what it
		 * frees, if its bin holds no count: nothing to fold, and no
		 * ping-pong with the tag its own mallocs set.
		 */
		if (!at_pend_count(w) && permanent(idx))
			at_pend_dec(idx, &nw);
		else {
			at_uncharge_idx(idx, at_class_size[cls]);
			return;
		}
		AT_STORE_RELAXED(pend, nw);
		return;
	}
	if (at_pend_dec(w, &nw)) {
		fold(pend, cls, idx);
		at_pend_dec(idx, &nw);
	}
	AT_STORE_RELAXED(pend, nw);
}

/* Call fn(idx, count, cls, ctx) for every bin of every heap holding a count. */
static void each_bin(void (*fn)(uint32_t, int64_t, unsigned int, void *), void *ctx)
{
	for (struct at_theap *h = AT_LOAD(&at_all_heaps); h; h = AT_LOAD(&h->next_all)) {
		for (unsigned int c = 1; c < AT_NR_CLASSES; c++) {
			uint64_t w = AT_LOAD_RELAXED(&h->bins[c].pend);
			int64_t n = at_pend_count(w);
			uint32_t idx = at_pend_idx(w);
			if (n && idx >= AT_IDX_FIRST)
				fn(idx, n, c, ctx);
		}
	}
}

struct one {
	uint32_t idx;
	struct alloctag_counters sum;
};

static void add_one(uint32_t idx, int64_t n, unsigned int cls, void *ctx)
{
	struct one *o = ctx;
	if (idx == o->idx) {
		o->sum.bytes += n * (int64_t)at_class_size[cls];
		o->sum.calls += n;
	}
}

struct alloctag_counters at_bin_charges_of(uint32_t idx)
{
	struct one o = {idx, {0, 0}};
	each_bin(add_one, &o);
	return o.sum;
}

/*
 * The readers' scratch table, indexed by tag index (reserved for AT_IDX_MAX
 * entries, committed where touched); used under the registry lock only.
 * Between a gather and the takes of its walk every entry below the walk's
 * end is the bins' part of that tag; outside a walk every entry is zero.
 */
static struct alloctag_counters *scratch;
static unsigned char scratch_failed;
static uint32_t scratch_end;

static void add_scratch(uint32_t idx, int64_t n, unsigned int cls, void *ctx)
{
	(void)ctx;
	if (idx < scratch_end) {
		scratch[idx].bytes += n * (int64_t)at_class_size[cls];
		scratch[idx].calls += n;
	}
}

void at_bin_charges_gather(uint32_t end)
{
	if (!scratch && !scratch_failed) {
		void *p = mmap(NULL, AT_IDX_MAX * sizeof(*scratch), PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED)
			scratch_failed = 1;
		else
			scratch = p;
	}
	if (!scratch)
		return;
	scratch_end = end;
	each_bin(add_scratch, NULL);
}

struct alloctag_counters at_bin_charges_take(uint32_t idx)
{
	if (!scratch)
		return at_bin_charges_of(idx);
	struct alloctag_counters r = scratch[idx];
	if (r.bytes || r.calls)
		scratch[idx] = (struct alloctag_counters){0, 0};
	return r;
}
