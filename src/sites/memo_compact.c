/*
 * The memo's compact tier (layout and invariants: memo_compact.h).
 */
#include "sites/memo_compact.h"

#include <stddef.h>
#include <string.h>
#include <sys/mman.h>

#include "core/compiler.h"
#include "core/tag_registry.h"
#include "sites/unwind.h"

static size_t compact_bytes; /* the tiers' sets in use */

/* The bytes of a tier that uses sets 0 .. mask. */
static size_t compact_used(uintptr_t mask)
{
	return offsetof(struct at_memo_compact, e) + (mask + 1) * sizeof(((struct at_memo_compact *)0)->e[0]);
}

/* The set of an entry of key ra, stack pointer sp and word 0 word0,
 * before the mask (memo_compact.h). */
static unsigned int compact_set(uintptr_t ra, uintptr_t sp, uintptr_t word0)
{
	return at_memo_level_hash(ra + 2 * sp, word0) >> AT_MEMO_SET_SHIFT;
}

/* ra's slot of word 0's offset. */
static unsigned int compact_ra(uintptr_t ra)
{
	return (uint32_t)ra * 0x9E3779B1u >> (32 - AT_MEMO_COMPACT_RA_SHIFT);
}

static struct at_memo_compact *compact_make(void)
{
	struct at_memo_compact *c = mmap(NULL, sizeof(*c), PROT_READ | PROT_WRITE,
					 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (c == MAP_FAILED)
		return NULL;
	c->mask = (1u << AT_MEMO_COMPACT_SHIFT_FIRST) - 1;
	__atomic_fetch_add(&compact_bytes, compact_used(c->mask), __ATOMIC_RELAXED);
	return c;
}

/* The chain listed at index idx (a chain's: memo_compact.h). */
static inline struct at_chain *compact_chain(uint32_t idx)
{
	struct alloc_tag *t = AT_LOAD_RELAXED(at_tag_slot(idx));
	return (struct at_chain *)((char *)t - offsetof(struct at_chain, tag));
}

/* The words of memo entry e that its chain's frames 1 .. n are (its
 * padding dropped), n; or AT_MEMO_COMPACT_WORDS + 1 when they are not. */
static unsigned int entry_words(const struct at_memo_entry *e, const struct at_chain *c)
{
	unsigned int n = e->nabs;
	if (e->n != n || e->span >= UINT16_MAX)
		return AT_MEMO_COMPACT_WORDS + 1; /* a saved rbp's word, a bound, a span too far */
	while (n > 1 && e->off[n - 1] == e->off[n - 2])
		n--;
	if (!n || n > AT_MEMO_COMPACT_WORDS || n + 1 != at_chain_nr(c) ||
	    at_chain_frame(c, 0) != e->key)
		return AT_MEMO_COMPACT_WORDS + 1;
	for (unsigned int i = 0; i < n; i++)
		if (e->val[i] != at_chain_frame(c, i + 1))
			return AT_MEMO_COMPACT_WORDS + 1;
	return n;
}

/* The fingerprint of words w[0 .. n) (memo_compact.h). */
static inline uint16_t compact_print(const uintptr_t *w, unsigned int n)
{
	uint32_t h = 0;
	for (unsigned int i = 0; i < n; i++)
		h = (h + (uint32_t)w[i]) * 0x9E3779B1u;
	return (uint16_t)(h >> 16);
}

/* Write x (idx 0 or another's) as the entry of index idx, key ra, span,
 * set hash bits `set`, words' offsets off[0 .. n), its words w[0 .. n)
 * (frames 1 .. n). */
static void compact_write(struct at_memo_compact_entry *x, uint32_t idx, uintptr_t ra,
			  uint32_t span, unsigned int set, unsigned int n, const uint16_t *off,
			  const uintptr_t *w)
{
	AT_STORE_RELAXED(&x->idx, 0);
	__asm__ volatile("" ::: "memory");
	x->key = (uint16_t)ra;
	x->word0 = (uint16_t)w[0];
	x->word1 = n > 1 ? (uint8_t)w[1] : 0;
	x->print = compact_print(w, n);
	x->span = (uint16_t)span;
	x->set = (uint8_t)set;
	for (unsigned int i = 0; i < AT_MEMO_COMPACT_WORDS; i++)
		x->off[i] = i < n ? off[i] : 0;
	__asm__ volatile("" ::: "memory");
	AT_STORE_RELAXED(&x->idx, idx);
}

void at_memo_compact_keep(struct at_chain_memo *m, const struct at_memo_entry *e)
{
	struct at_chain *chain = at_chain_of(e->tag);
	/* a chain listed at its index (none past AT_IDX_MAX) */
	if (!chain || e->idx < AT_IDX_FIRST || e->idx != e->tag->idx ||
	    AT_LOAD_RELAXED(at_tag_slot(e->idx)) != e->tag)
		return;
	unsigned int n = entry_words(e, chain);
	if (n > AT_MEMO_COMPACT_WORDS)
		return;
	struct at_memo_compact *c = m->compact;
	if (!c && !(c = m->compact = compact_make()))
		return;
	uintptr_t key = e->key;
	struct at_memo_compact_ra *r = &c->ra[compact_ra(key)];
	AT_STORE_RELAXED(&r->ra, 0);
	__asm__ volatile("" ::: "memory");
	r->off0 = e->off[0];
	__asm__ volatile("" ::: "memory");
	AT_STORE_RELAXED(&r->ra, key);
	unsigned int hash = compact_set(key, AT_MEMO_SP(e), e->val[0]);
	struct at_memo_compact_entry *set = c->e[hash & c->mask];
	unsigned int w = 0;
	for (; w < AT_MEMO_COMPACT_WAYS && set[w].idx; w++)
		if (set[w].idx == e->idx && set[w].span == e->span &&
		    !memcmp(set[w].off, e->off, n * sizeof(e->off[0])))
			return; /* the same proof (made at another sp): kept already */
	if (w == AT_MEMO_COMPACT_WAYS)
		w = c->next++ % AT_MEMO_COMPACT_WAYS;
	compact_write(&set[w], e->idx, key, e->span, hash, n, e->off, e->val);
}

/* Use one more bit of the set (memo_compact.h: Size; busy). */
static void compact_grow(struct at_memo_compact *c)
{
	uintptr_t old = c->mask, mask = 2 * old + 1;
	AT_STORE_RELAXED(&c->mask, mask);
	for (unsigned int s = 0; s <= old; s++)
		for (unsigned int w = 0; w < AT_MEMO_COMPACT_WAYS; w++) {
			struct at_memo_compact_entry *x = &c->e[s][w];
			uint32_t idx = x->idx;
			unsigned int b;
			if (!idx || (b = x->set & mask) == s)
				continue;
			unsigned int to = 0; /* b's first empty way: b's entries all come from s */
			while (c->e[b][to].idx)
				to++;
			struct at_memo_compact_entry *y = &c->e[b][to];
			struct at_memo_compact_entry t = *x;
			t.idx = 0;
			*y = t; /* idx 0: written whole, then listed */
			__asm__ volatile("" ::: "memory");
			AT_STORE_RELAXED(&y->idx, idx);
			AT_STORE_RELAXED(&x->idx, 0);
		}
	__atomic_fetch_add(&compact_bytes, compact_used(mask) - compact_used(old), __ATOMIC_RELAXED);
}

void at_memo_compact_missed(struct at_chain_memo *m, uintptr_t ra, uintptr_t from, uintptr_t word0)
{
	struct at_memo_compact *c = m->compact;
	if (!c || c->mask >= AT_MEMO_COMPACT_SETS - 1 ||
	    !c->e[compact_set(ra, from, word0) & c->mask][AT_MEMO_COMPACT_WAYS - 1].idx)
		return;
	if (++c->again >= (c->mask + 1) * AT_MEMO_COMPACT_WAYS) {
		c->again = 0;
		compact_grow(c);
	}
}

static struct at_memo_compact_entry *compact_look(struct at_memo_compact *c, uintptr_t ra,
						  uintptr_t from, struct at_chain **chain);

struct at_memo_compact_entry *at_memo_compact_find(const struct at_chain_memo *m, uintptr_t ra,
						   uintptr_t from, struct at_chain **chain)
{
	struct at_memo_compact *c = m->compact;
	if (!c || (c->skip && ++c->calls % AT_MEMO_COMPACT_SAMPLE))
		return NULL;
	struct at_memo_compact_entry *x = compact_look(c, ra, from, chain);
	c->hits += x != NULL;
	if (++c->looks == AT_MEMO_COMPACT_JUDGE) { /* passed over while most lookups miss */
		c->skip = 2u * c->hits < c->looks;
		c->looks = c->hits = 0;
	}
	return x;
}

/* at_memo_compact_find's lookup. */
static struct at_memo_compact_entry *compact_look(struct at_memo_compact *c, uintptr_t ra,
						  uintptr_t from, struct at_chain **chain)
{
	const struct at_memo_compact_ra *r = &c->ra[compact_ra(ra)];
	if (AT_LOAD_RELAXED(&r->ra) != ra)
		return NULL;
	uintptr_t at = from + r->off0, top = at_stack_top(from);
	if (at + sizeof(uintptr_t) > top)
		return NULL; /* the walk's bound (unwind.h) */
	uintptr_t word0 = *(const uintptr_t *)at;
	struct at_memo_compact_entry *x = c->e[compact_set(ra, from, word0) & c->mask];
	/* key and word 0 compared as one 32-bit word, idx only then: no
	 * write comes between a lookup's reads (a signal handler's lookup
	 * during a write finds idx 0 or a whole entry, memo_compact.h) */
	const uint16_t pair[2] = {(uint16_t)ra, (uint16_t)word0};
	uint32_t want;
	__builtin_memcpy(&want, pair, sizeof(want));
	for (unsigned int w = 0; w < AT_MEMO_COMPACT_WAYS; w++, x++) {
		uint32_t kw;
		__builtin_memcpy(&kw, &x->key, sizeof(kw));
		if (kw != want)
			continue;
		__asm__ volatile("" ::: "memory");
		uint32_t idx = AT_LOAD_RELAXED(&x->idx);
		if (!idx)
			continue;
		if (from + x->span > top)
			continue; /* the walk's bound (unwind.h) */
		uintptr_t f[AT_MEMO_COMPACT_WORDS + 1];
		unsigned int n = 1;
		f[0] = ra;
		f[1] = *(const uintptr_t *)(from + x->off[0]);
		if (x->off[1] && (uint8_t)(f[2] = *(const uintptr_t *)(from + x->off[1])) != x->word1)
			continue;
		for (; n < AT_MEMO_COMPACT_WORDS && x->off[n]; n++)
			f[n + 1] = *(const uintptr_t *)(from + x->off[n]);
		if (compact_print(f + 1, n) != x->print)
			continue; /* the record not read: a word differs */
		/* the record's nr is n + 1 (kept so); its w[0] compared here,
		 * at_chain_same compares the rest */
		struct at_chain *ch = compact_chain(idx);
		if (ch->w[0] == (uint32_t)ra && at_chain_same(ch, f, n + 1)) {
			*chain = ch;
			return x;
		}
	}
	return NULL;
}

void at_memo_compact_forget(struct at_chain_memo *m)
{
	struct at_memo_compact *c = m->compact;
	if (!c)
		return;
	for (unsigned int s = 0; s <= c->mask; s++)
		for (unsigned int w = 0; w < AT_MEMO_COMPACT_WAYS; w++)
			AT_STORE_RELAXED(&c->e[s][w].idx, 0);
	c->looks = c->hits = c->skip = c->calls = 0;
}

size_t at_memo_compact_memory(void)
{
	return AT_LOAD_RELAXED(&compact_bytes);
}
