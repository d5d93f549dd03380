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

/* The bytes of a tier that uses sets 0 .. mask (its frame sizes' table
 * included). */
static size_t compact_used(uintptr_t mask)
{
	return offsetof(struct at_memo_compact, e) + (mask + 1) * sizeof(((struct at_memo_compact *)0)->e[0]) +
	       sizeof(((struct at_memo_compact *)0)->k);
}

/* The hash of a chain from ra whose first words are w[0 .. used)
 * (memo_compact.h): its bits from AT_MEMO_SET_SHIFT up choose the set,
 * its high 16 bits are the entry's tag. */
static uint32_t compact_hash(uintptr_t ra, const uintptr_t *w, unsigned int used)
{
	uintptr_t h = ra;
	for (unsigned int i = 0; i < used; i++)
		h = at_memo_level_hash(h, w[i]);
	return (uint32_t)h;
}

/* The hash of a chain from ra whose word 0 is word0, at stack pointer sp
 * (a chain that repeats no word: memo_compact.h). */
static uint32_t compact_hash_sp(uintptr_t ra, uintptr_t sp, uintptr_t word0)
{
	return (uint32_t)at_memo_level_hash(ra + 2 * sp, word0);
}

/* Whether words w[0 .. n) repeat one (recursive code: memo_compact.h). */
static int repeats(const uintptr_t *w, unsigned int n)
{
	for (unsigned int i = 1; i < n; i++)
		for (unsigned int j = 0; j < i; j++)
			if (w[i] == w[j])
				return 1;
	return 0;
}

/* The print of words w[0 .. n) (memo_compact.h). */
static inline uint16_t compact_print(const uintptr_t *w, unsigned int n)
{
	uint32_t h = 0;
	for (unsigned int i = 0; i < n; i++)
		h = (h + (uint32_t)w[i]) * 0x9E3779B1u;
	return (uint16_t)(h >> 16);
}

static inline unsigned int hash_set(uint32_t h)
{
	return h >> AT_MEMO_SET_SHIFT;
}

/* The tag of hash h, of the words' set (deep) or of a stack pointer's. */
static inline uint16_t hash_tag(uint32_t h, int deep)
{
	return (uint16_t)(h >> 17) | (deep ? AT_MEMO_COMPACT_DEEP : 0);
}

#define K_ADDR (((uint64_t)1 << 48) - 1)

/* r's slot of the frame sizes. */
static inline uint64_t *k_slot(struct at_memo_compact *c, uintptr_t r)
{
	return &c->k[(uint32_t)r * 0x9E3779B1u >> (32 - AT_MEMO_COMPACT_K_SHIFT)];
}

/* The frame size at return address r, or 0 when the table has none. */
static inline uintptr_t k_of(struct at_memo_compact *c, uintptr_t r)
{
	uint64_t w = AT_LOAD_RELAXED(k_slot(c, r));
	return (w & K_ADDR) == r ? (uintptr_t)(w >> 48) : 0;
}

/* Frame size k at return address r (one word: a reader sees it whole). */
static void k_put(struct at_memo_compact *c, uintptr_t r, uintptr_t k)
{
	uint64_t *slot = k_slot(c, r), w = r | (uint64_t)k << 48;
	if (r && !(r >> 48) && k && k <= 0xffff && *slot != w)
		AT_STORE_RELAXED(slot, w);
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

/* Write x (idx 0 or another's) as the entry of index idx, key ra, span,
 * hash h (compact_hash), words' offsets off[0 .. n), its words w[0 .. n)
 * (frames 1 .. n). */
static void compact_write(struct at_memo_compact_entry *x, uint32_t idx, uintptr_t ra,
			  uint32_t span, uint32_t h, int deep, unsigned int n, const uint16_t *off,
			  const uintptr_t *w)
{
	AT_STORE_RELAXED(&x->idx, 0);
	__asm__ volatile("" ::: "memory");
	x->key = (uint16_t)ra;
	x->print = compact_print(w, n);
	x->word1 = n > 1 ? (uint8_t)w[1] : 0;
	x->tag = hash_tag(h, deep);
	x->span = (uint16_t)span;
	x->set = (uint8_t)hash_set(h);
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
	uint32_t hash;
	/* word 0's place, from ra's frame size; a chain that repeats a word,
	 * each word's place (memo_compact.h) */
	k_put(c, key, (uintptr_t)e->off[0] + sizeof(uintptr_t));
	int deep = repeats(e->val, n);
	if (deep) {
		for (unsigned int i = 0; i + 1 < n; i++)
			k_put(c, e->val[i], (uintptr_t)(e->off[i + 1] - e->off[i]));
		hash = compact_hash(key, e->val, n < AT_MEMO_COMPACT_KEYW ? n : AT_MEMO_COMPACT_KEYW);
	} else {
		hash = compact_hash_sp(key, AT_MEMO_SP(e), e->val[0]);
	}
	struct at_memo_compact_entry *set = c->e[hash_set(hash) & c->mask];
	unsigned int w = 0;
	for (; w < AT_MEMO_COMPACT_WAYS && set[w].idx; w++)
		if (set[w].idx == e->idx && set[w].span == e->span &&
		    !memcmp(set[w].off, e->off, n * sizeof(e->off[0])))
			return; /* the same proof (made at another depth): kept already */
	if (w == AT_MEMO_COMPACT_WAYS)
		w = c->next++ % AT_MEMO_COMPACT_WAYS;
	compact_write(&set[w], e->idx, key, e->span, hash, deep, n, e->off, e->val);
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

void at_memo_compact_missed(struct at_chain_memo *m, uintptr_t ra, uintptr_t from,
			    const uintptr_t *val, unsigned int n, uint32_t rbp)
{
	struct at_memo_compact *c = m->compact;
	if (!c || !n || rbp || n > AT_MEMO_COMPACT_WORDS || c->mask >= AT_MEMO_COMPACT_SETS - 1)
		return; /* no tier, or a walk it would not keep */
	uint32_t h = repeats(val, n)
			     ? compact_hash(ra, val, n < AT_MEMO_COMPACT_KEYW ? n : AT_MEMO_COMPACT_KEYW)
			     : compact_hash_sp(ra, from, val[0]);
	if (!c->e[hash_set(h) & c->mask][AT_MEMO_COMPACT_WAYS - 1].idx)
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
	if (!c || at_pass_over(&c->pass))
		return NULL;
	struct at_memo_compact_entry *x = compact_look(c, ra, from, chain);
	at_pass_judge(&c->pass, x != NULL, 2); /* passed over while most lookups miss */
	return x;
}

/* The entry of set x that proves the chain of (ra, from), whose hash is
 * h; `print`: the ways' words are read and their print compared before
 * the record (a set of chains that share their first words: the sets of
 * a stack pointer), else the hash covers the words (a set of chains that
 * repeat a word: memo_compact.h). */
static struct at_memo_compact_entry *compact_scan(struct at_memo_compact_entry *x, uintptr_t ra,
						  uintptr_t from, uintptr_t top, uint32_t h,
						  int print, struct at_chain **chain)
{
	const uint16_t tag = hash_tag(h, !print);
	/* tag and key compared as one 32-bit word, idx only then: no write
	 * comes between a lookup's reads (a signal handler's lookup during a
	 * write finds idx 0 or a whole entry, memo_compact.h) */
	const uint16_t pair[2] = {(uint16_t)ra, tag};
	uint32_t want;
	__builtin_memcpy(&want, pair, sizeof(want));
	for (unsigned int w = 0; w < AT_MEMO_COMPACT_WAYS; w++, x++) {
		uint16_t got[2] = {x->key, x->tag};
		uint32_t kw;
		__builtin_memcpy(&kw, got, sizeof(kw));
		if (kw != want)
			continue;
		__asm__ volatile("" ::: "memory");
		uint32_t idx = AT_LOAD_RELAXED(&x->idx);
		if (!idx)
			continue;
		if (from + x->span > top)
			continue; /* the walk's bound (unwind.h) */
		if (print && x->off[1] && (uint8_t)*(const uintptr_t *)(from + x->off[1]) != x->word1)
			continue; /* the record not read: word 1 differs */
		uintptr_t f[AT_MEMO_COMPACT_WORDS + 1];
		unsigned int n = 1;
		f[0] = ra;
		f[1] = *(const uintptr_t *)(from + x->off[0]);
		for (; n < AT_MEMO_COMPACT_WORDS && x->off[n]; n++)
			f[n + 1] = *(const uintptr_t *)(from + x->off[n]);
		if (print && compact_print(f + 1, n) != x->print)
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

/* at_memo_compact_find's lookup: the set of (ra, from, word 0), then the
 * set of the words read at the places their frame sizes give. */
static struct at_memo_compact_entry *compact_look(struct at_memo_compact *c, uintptr_t ra,
						  uintptr_t from, struct at_chain **chain)
{
	uintptr_t k = k_of(c, ra), top = at_stack_top(from);
	if (k < sizeof(uintptr_t))
		return NULL;
	uintptr_t w[AT_MEMO_COMPACT_KEYW], at = from + k - sizeof(uintptr_t);
	if (at + sizeof(uintptr_t) > top)
		return NULL; /* the walk's bound (unwind.h) */
	w[0] = *(const uintptr_t *)at;
	struct at_memo_compact_entry *x = NULL;
	uint32_t h;
	if ((k = k_of(c, w[0]))) { /* word 0 is a repeating chain's: its set first */
		/* the depth's words at most: a chain of the depth ends at a
		 * word whose frame size another chain has given */
		unsigned int used = 1, most = at_chain_depth - 1;
		uintptr_t next = at;
		if (most > AT_MEMO_COMPACT_KEYW)
			most = AT_MEMO_COMPACT_KEYW;
		while (used < most && (next += k) + sizeof(uintptr_t) <= top) { /* the walk's bound (unwind.h) */
			w[used] = *(const uintptr_t *)next;
			if (++used == most || !(k = k_of(c, w[used - 1])))
				break;
		}
		if (repeats(w, used)) { /* else not a chain of that set */
			h = compact_hash(ra, w, used);
			x = compact_scan(c->e[hash_set(h) & c->mask], ra, from, top, h, 0, chain);
		}
	}
	if (!x) {
		h = compact_hash_sp(ra, from, w[0]);
		x = compact_scan(c->e[hash_set(h) & c->mask], ra, from, top, h, 1, chain);
	}
	return x;
}

void at_memo_compact_forget(struct at_chain_memo *m)
{
	struct at_memo_compact *c = m->compact;
	if (!c)
		return;
	for (unsigned int s = 0; s <= c->mask; s++)
		for (unsigned int w = 0; w < AT_MEMO_COMPACT_WAYS; w++)
			AT_STORE_RELAXED(&c->e[s][w].idx, 0);
	c->pass = (struct at_pass){0};
}

size_t at_memo_compact_memory(void)
{
	return AT_LOAD_RELAXED(&compact_bytes);
}
