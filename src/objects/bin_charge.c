/* Bin charges: the slow operations and the readers' walk (see bin_charge.h). */
#include "objects/bin_charge.h"

#include <stddef.h>
#include <string.h>
#include <sys/mman.h>

#include "objects/tcache.h"

/* The heap of bin *word of class cls (only a heap's bins are folded: the
 * empty bins at_bins_none have nothing to fold). */
static struct at_theap *heap_of(uint64_t *word, unsigned int cls)
{
	return (struct at_theap *)((char *)word - offsetof(struct at_bin, word) -
				   cls * sizeof(struct at_bin));
}

static struct at_bin *bin_of(uint64_t *word)
{
	return (struct at_bin *)((char *)word - offsetof(struct at_bin, word));
}

/* w (bin *word's) with its pend folded into its tag's counters (off =
 * count; at_fold: per CPU, or the heap's fold cache once the process has
 * forked), and the bin's cumulative count with it (one fold for both: the
 * same tag's); the caller stores the result. */
static uint64_t fold_word(uint64_t *word, uint64_t w, unsigned int cls)
{
	int64_t n = at_bin_pend(w);
	uint32_t tag = at_bin_tag(w);
	uint16_t *cum = &bin_of(word)->cum;
	uint16_t c = AT_LOAD_RELAXED(cum);
	if ((n || c) && tag >= AT_IDX_FIRST)
		at_fold(heap_of(word, cls), tag, cls, n, c);
	if (c)
		AT_STORE_RELAXED(cum, 0);
	return at_bin_word(tag, at_bin_count(w), at_bin_count(w));
}

/* calls mallocs of class cls to tag (counted in bin *word), into its
 * cumulative counters (at_fold) */
static void cum_add(uint64_t *word, uint32_t tag, unsigned int cls, int64_t calls)
{
	if (calls && tag >= AT_IDX_FIRST)
		at_fold(heap_of(word, cls), tag, cls, 0, calls);
}

/* The bin's cumulative count, of tag `tag` (its tag until now), folded. */
static void cum_fold(uint64_t *word, uint32_t tag, unsigned int cls)
{
	uint16_t *cum = &bin_of(word)->cum;
	uint16_t c = AT_LOAD_RELAXED(cum);
	if (c) {
		cum_add(word, tag, cls, c);
		AT_STORE_RELAXED(cum, 0);
	}
}

void at_bin_cum_wrap(uint64_t *word, unsigned int cls)
{
	cum_add(word, at_bin_tag(*word), cls, (int64_t)1 << 16);
}

void at_bin_fold(uint64_t *word, unsigned int cls)
{
	AT_STORE_RELAXED(word, fold_word(word, *word, cls));
}

/* count and off + d: pend unchanged (folded first if off would overflow). */
static uint64_t move(uint64_t *word, uint64_t w, unsigned int cls, int d)
{
	int64_t off = at_bin_off(w) + d;
	if (at_unlikely(off > AT_BIN_OFF_MAX || off < -AT_BIN_OFF_MAX - 1)) {
		w = fold_word(word, w, cls);
		off = at_bin_off(w) + d;
	}
	return at_bin_word(at_bin_tag(w), off, (unsigned int)((int)at_bin_count(w) + d));
}

/*
 * Never released (bin_charge.h): the main executable's and run-time tags;
 * and small enough for a narrow entry, so that malloc's fast path, which
 * only writes narrow entries, needs no size check once the tag matches.
 */
static int permanent(uint32_t idx)
{
	if (idx > AT_OBJ_NARROW_MAX)
		return 0;
	const struct alloc_tag *t = AT_LOAD(at_tag_slot(idx));
	return t && !t->modname;
}

/* w with tag ti, pend unchanged (the caller has made it 0). */
static uint64_t retag(uint64_t w, uint32_t ti)
{
	return at_bin_word(ti, at_bin_off(w), at_bin_count(w));
}

void at_bin_pop(uint64_t *word, unsigned int cls, uint32_t ti)
{
	uint64_t w = *word, nw;
	if (at_bin_tag(w) == ti)
		nw = w - 1;
	else if (ti < AT_IDX_FIRST) /* untagged: switch only if free to */
		nw = at_bin_pend(w) ? move(word, w, cls, -1) : retag(w, ti) - 1;
	else if (permanent(ti))
		nw = retag(fold_word(word, w, cls), ti) - 1;
	else {
		at_counters_charge(ti, at_class_charge[cls]);
		nw = move(word, w, cls, -1);
	}
	if (at_bin_tag(nw) != at_bin_tag(w))
		cum_fold(word, at_bin_tag(w), cls);
	AT_STORE_RELAXED(word, nw);
}

void at_bin_push(uint64_t *word, unsigned int cls, uint32_t ti)
{
	uint64_t w = *word, nw;
	if (at_bin_tag(w) == ti)
		nw = w + 1;
	else if (!at_bin_pend(w) && (ti < AT_IDX_FIRST || permanent(ti)) &&
		 !(ti == AT_IDX_NULL && AT_LOAD_RELAXED(&alloctag_debug_key))) /* debug mode: bin_charge.h */
		nw = retag(w, ti) + 1;
	else {
		if (ti >= AT_IDX_FIRST && permanent(ti))
			at_fold(heap_of(word, cls), ti, cls, -1, 0);
		else if (ti >= AT_IDX_FIRST)
			at_uncharge_idx(ti, at_class_charge[cls]);
		nw = move(word, w, cls, 1);
	}
	if (at_bin_tag(nw) != at_bin_tag(w))
		cum_fold(word, at_bin_tag(w), cls);
	AT_STORE_RELAXED(word, nw);
}

void at_bin_fill(uint64_t *word, unsigned int cls, int n)
{
	AT_STORE_RELAXED(word, move(word, *word, cls, n));
}

/* Call fn(idx, bytes, calls, ctx) for every bin of every heap holding a
 * pend, and for every live part of a heap's fold cache (fold_cache.h). */
static void each_bin(void (*fn)(uint32_t, int64_t, int64_t, void *), void *ctx)
{
	for (struct at_theap *h = AT_LOAD(&at_all_heaps); h; h = AT_LOAD(&h->next_all)) {
		for (unsigned int c = 1; c < AT_NR_CLASSES; c++) {
			uint64_t w = AT_LOAD_RELAXED(&h->bins[c].word);
			int64_t n = at_bin_pend(w);
			uint32_t idx = at_bin_tag(w);
			if (n && idx >= AT_IDX_FIRST)
				fn(idx, n * (int64_t)at_class_charge[c], n, ctx);
		}
		for (unsigned int i = 0; i < AT_FOLDS; i++) {
			uint32_t idx;
			struct alloctag_counters live;
			if (at_fold_entry(h, i, &idx, &live, NULL) && live.calls)
				fn(idx, live.bytes, live.calls, ctx);
		}
	}
}

/* Add the cumulative part (bytes, calls) of tag i to sums[i], or to *one
 * when i is idx (sums NULL). */
static void cum_to(struct alloctag_counters *sums, uint32_t idx, struct alloctag_counters *one,
		   uint32_t i, int64_t bytes, int64_t calls)
{
	if (!calls || i < AT_IDX_FIRST || i >= AT_IDX_MAX || (!sums && i != idx))
		return;
	struct alloctag_counters *to = sums ? &sums[i] : one;
	to->bytes += bytes;
	to->calls += calls;
}

void at_bin_cum(struct alloctag_counters *sums, uint32_t idx, struct alloctag_counters *one)
{
	for (struct at_theap *h = AT_LOAD(&at_all_heaps); h; h = AT_LOAD(&h->next_all)) {
		for (unsigned int c = 1; c < AT_NR_CLASSES; c++) {
			int64_t n = AT_LOAD_RELAXED(&h->bins[c].cum);
			uint32_t i = at_bin_tag(AT_LOAD_RELAXED(&h->bins[c].word));
			cum_to(sums, idx, one, i, n * (int64_t)at_class_charge[c], n);
		}
		for (unsigned int f = 0; f < AT_FOLDS; f++) {
			uint32_t i;
			struct alloctag_counters cum;
			if (at_fold_entry(h, f, &i, NULL, &cum))
				cum_to(sums, idx, one, i, cum.bytes, cum.calls);
		}
	}
}

struct one {
	uint32_t idx;
	struct alloctag_counters sum;
};

static void add_one(uint32_t idx, int64_t bytes, int64_t calls, void *ctx)
{
	struct one *o = ctx;
	if (idx == o->idx) {
		o->sum.bytes += bytes;
		o->sum.calls += calls;
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

static void add_scratch(uint32_t idx, int64_t bytes, int64_t calls, void *ctx)
{
	(void)ctx;
	if (idx < scratch_end) {
		scratch[idx].bytes += bytes;
		scratch[idx].calls += calls;
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

void at_bin_charges_forget(void)
{
	if (scratch && scratch_end > AT_IDX_FIRST)
		memset(scratch + AT_IDX_FIRST, 0, (scratch_end - AT_IDX_FIRST) * sizeof(*scratch));
}
