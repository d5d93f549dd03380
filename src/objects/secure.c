/*
 * The stricter heap's small objects: canaries, poison, quarantine (layouts
 * and invariants in secure.h), and the pattern of a guarded large block's
 * front slack (huge.c).
 */
#include "objects/secure.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>

#include "core/control.h"
#include "core/message.h"
#include "objects/tcache.h"
#include "store/charge.h"

/* A ring: a free pushes its object at e[next] and releases the one it
 * replaces (the oldest); an empty entry's p is NULL. */
struct quarantine {
	unsigned int next;
	unsigned int pad[3];
	struct {
		char *p;
		uint16_t *rec; /* its record */
		uint32_t n;    /* usable size */
		uint32_t cls;
	} e[AT_SECURE_Q];
};
_Static_assert(!(AT_SECURE_Q & (AT_SECURE_Q - 1)), "a ring of a power of two");
_Static_assert(sizeof(struct quarantine) <= 4096, "a quarantine fits a page");

static uint64_t canary_word, poison_word;

/* A secret whose bytes are all from 0x80 to 0xfe: none is 0, -1 or ASCII,
 * the bytes overflows of strings and memsets write most. */
static uint64_t pattern_of(uint64_t w)
{
	w |= 0x8080808080808080ull;
	for (unsigned int i = 0; i < 8; i++)
		if ((uint8_t)(w >> (8 * i)) == 0xff)
			w ^= (uint64_t)1 << (8 * i);
	return w;
}

void at_secure_init(void)
{
	uint64_t r[2];
	if (getrandom(r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		r[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uintptr_t)&ts;
		r[1] = r[0] * 0xbf58476d1ce4e5b9ull ^ (uint64_t)ts.tv_sec;
	}
	canary_word = pattern_of(r[0]);
	poison_word = pattern_of(r[1]);
	if (poison_word == canary_word)
		poison_word ^= 0x0101010101010101ull;
	__atomic_fetch_or(&at_small_slow, AT_SLOW_SECURE, __ATOMIC_SEQ_CST);
}

/* The 8 bytes of the pattern of word from address a on (byte a & 7 of
 * word at a): an unaligned load or store of it. */
static inline uint64_t at_addr(uint64_t word, const void *a)
{
	unsigned int s = 8u * ((uintptr_t)a & 7);
	return s ? word >> s | word << (64 - s) : word;
}

/* [from, to) := the pattern of word.  Ranges of 8 bytes or more: an
 * unaligned word at each end, aligned words between (two per step). */
static void fill(char *from, char *to, uint64_t word)
{
	if (to - from < 8) {
		for (; from < to; from++)
			*from = (char)(word >> (8 * ((uintptr_t)from & 7)));
		return;
	}
	uint64_t v = at_addr(word, from);
	memcpy(from, &v, 8);
	v = at_addr(word, to - 8);
	memcpy(to - 8, &v, 8);
	char *a = (char *)(((uintptr_t)from + 8) & ~(uintptr_t)7);
	for (; a + 16 <= to; a += 16) {
		memcpy(a, &word, 8);
		memcpy(a + 8, &word, 8);
	}
	if (a + 8 <= to)
		memcpy(a, &word, 8);
}

static int intact(const char *from, const char *to, uint64_t word)
{
	if (to - from < 8) {
		for (; from < to; from++)
			if (*from != (char)(word >> (8 * ((uintptr_t)from & 7))))
				return 0;
		return 1;
	}
	uint64_t x, y, diff;
	memcpy(&x, from, 8);
	memcpy(&y, to - 8, 8);
	diff = (x ^ at_addr(word, from)) | (y ^ at_addr(word, to - 8));
	const char *a = (const char *)(((uintptr_t)from + 8) & ~(uintptr_t)7);
	for (; a + 16 <= to; a += 16) {
		memcpy(&x, a, 8);
		memcpy(&y, a + 8, 8);
		diff |= (x ^ word) | (y ^ word);
	}
	if (a + 8 <= to) {
		memcpy(&x, a, 8);
		diff |= x ^ word;
	}
	return !diff;
}

void at_secure_fill(char *from, char *to)
{
	fill(from, to, canary_word);
}

int at_secure_intact(const char *from, const char *to)
{
	return intact(from, to, canary_word);
}

/*
 * Small objects' patterns come in aligned 16-byte pieces (slots, usable
 * sizes and the pieces below are multiples of 16): a piece is the pattern
 * word twice.  put16 writes one, diff16 is 0 if one is intact.  Relaxed
 * atomic words (plain moves on x86-64): another thread's neighbour check may
 * read a piece while it is written, and says so to ThreadSanitizer.
 */
static inline void put16(char *a, uint64_t w)
{
	AT_STORE_RELAXED((uint64_t *)(void *)a, w);
	AT_STORE_RELAXED((uint64_t *)(void *)(a + 8), w);
}

static inline uint64_t diff16(const char *a, uint64_t w)
{
	uint64_t x = AT_LOAD_RELAXED((const uint64_t *)(const void *)a);
	uint64_t y = AT_LOAD_RELAXED((const uint64_t *)(const void *)(a + 8));
	return (x ^ w) | (y ^ w);
}

/* A live slot's canary (secure.h): the 16 bytes past its usable size n and
 * the slot's last 16 (the same when the slot is 16 bytes larger). */
static inline void canary(char *p, size_t n, size_t size)
{
	if (n < size) {
		put16(p + n, canary_word);
		put16(p + size - 16, canary_word);
	}
}

static inline int canary_intact(const char *p, size_t n, size_t size)
{
	return n >= size || !(diff16(p + n, canary_word) | diff16(p + size - 16, canary_word));
}

/* A freed slot's poison: its first AT_SECURE_POISON bytes (or all of it)
 * and its last 16. */
_Static_assert(AT_SECURE_POISON == 64, "poison: four pieces, unrolled");
static inline void poison(char *p, size_t size)
{
	uint64_t w = poison_word;
	if (at_likely(size >= AT_SECURE_POISON)) {
		put16(p, w);
		put16(p + 16, w);
		put16(p + 32, w);
		put16(p + 48, w);
	} else {
		for (size_t i = 0; i < size; i += 16)
			put16(p + i, w);
	}
	put16(p + size - 16, w);
}

static inline int poisoned(const char *p, size_t size)
{
	uint64_t w = poison_word, d = diff16(p + size - 16, w);
	if (at_likely(size >= AT_SECURE_POISON))
		d |= diff16(p, w) | diff16(p + 16, w) | diff16(p + 32, w) | diff16(p + 48, w);
	else
		for (size_t i = 0; i < size; i += 16)
			d |= diff16(p + i, w);
	return !d;
}

/* Object idx's record: after the slab's free stack (secure.h). */
static inline uint16_t *rec_of(uintptr_t off, unsigned int cls, uint32_t idx)
{
	uint32_t nobj = at_class_nobj[cls];
	return (uint16_t *)((char *)at_slab_meta(off, cls) + AT_META_REFS + 8u * (nobj + 1) + 2u * nobj) +
	       idx;
}

/*
 * Bin words (bin_charge.h).  The stricter heap's bins hold objects of their
 * class as slots, and charge objects of their class as usable size: an
 * object of usable size n in a slot of class s is charged through bin c,
 * the class of size n (c < s but for the largest class), its pend counting
 * it (off + 1) and its free (off - 1), with count left alone; taking an
 * object out of bin s, or putting one in, moves count and off together
 * (pend unchanged).  Both are one add to the word while off stays well
 * inside its field; near its ends at_bin_fill (which folds) or the per-CPU
 * counters take over.
 */
#define OFF_NEAR (AT_BIN_OFF_MAX / 2)

/* w with doff added to off and dcount to count (count stays in its field:
 * a bin holds from 0 to cap objects); off is signed, so the add's carry or
 * borrow out of its field is dropped, the tag kept. */
static inline uint64_t word_add(uint64_t w, int doff, int dcount)
{
	const uint64_t tag = ~0ull << AT_BIN_TAG_SHIFT;
	uint64_t nw = w + (uint64_t)(int64_t)dcount + ((uint64_t)(int64_t)doff << 16);
	return (nw & ~tag) | (w & tag);
}

static inline int off_far_from_ends(uint64_t w)
{
	return (uint64_t)(at_bin_off(w) + OFF_NEAR) < 2 * OFF_NEAR;
}

/* Bin b (class cls) takes n objects in (n > 0) or gives -n out, leaving its
 * charges alone. */
static inline void bin_move(struct at_bin *b, unsigned int cls, int n)
{
	uint64_t w = b->word;
	if (at_likely(off_far_from_ends(w)))
		AT_STORE_RELAXED(&b->word, word_add(w, n, n));
	else
		at_bin_fill(&b->word, cls, n);
}

/* bin_charge's other cases: the bin's tag is not ti (at_bin_pop and
 * at_bin_push switch or fold as for any malloc and free, then count is put
 * back, off moving with it), or off is near its ends (per CPU). */
static AT_NOINLINE void bin_charge_slow(struct at_bin *b, unsigned int c, uint32_t ti,
					at_ref_t ref, int d)
{
	uint64_t w = b->word;
	unsigned int count = at_bin_count(w);
	if (off_far_from_ends(w)) {
		if (d > 0 && count) {
			at_bin_pop(&b->word, c, ti);
			AT_STORE_RELAXED(&b->word, word_add(b->word, 1, 1));
			return;
		}
		if (d < 0 && count < b->cap) {
			at_bin_push(&b->word, c, ti);
			AT_STORE_RELAXED(&b->word, word_add(b->word, -1, -1));
			return;
		}
	}
	if (d > 0)
		at_charge(ref, at_class_size[c]);
	else
		at_uncharge(ref, at_class_size[c]);
}

/* Charge (d = 1) or uncharge (d = -1) one object of class c's size to ref
 * (tag index ti) through the thread's bin c. */
static inline void bin_charge(struct at_theap *h, unsigned int c, uint32_t ti, at_ref_t ref,
			      int d)
{
	struct at_bin *b = &h->bins[c];
	uint64_t w = b->word;
	if (at_likely(at_bin_tag(w) == ti && off_far_from_ends(w))) {
		AT_STORE_RELAXED(&b->word, word_add(w, d, 0));
		return;
	}
	bin_charge_slow(b, c, ti, ref, d);
}

static void *no_memory(void)
{
	errno = ENOMEM;
	return NULL;
}

/* A free object of class cls from a wide slab: the thread's bin (objects of
 * narrow slabs, freed there by the ordinary path, go back to their slabs),
 * refilled from wide slabs only; or, with no heap, the central list. */
static AT_NOINLINE void *take_slow(unsigned int cls)
{
	struct at_theap *h = at_tls_heap;
	if (at_unlikely((uintptr_t)h <= 1))
		h = at_theap_get();
	void *p;
	if (!h)
		return at_slab_refill(cls, &p, 1, 2) ? p : NULL;
	struct at_bin *b = &h->bins[cls];
	for (;;) {
		unsigned int c = at_bin_count(b->word);
		if (!c) {
			c = at_slab_refill(cls, b->slots, b->cap / 2u, 2);
			if (!c)
				return NULL;
			bin_move(b, cls, (int)c);
		}
		p = b->slots[c - 1];
		bin_move(b, cls, -1);
		uintptr_t off = (uintptr_t)((char *)p - at_heap_base);
		if (AT_LOAD_RELAXED(&at_pages[(off >> AT_SLAB_SHIFT) << AT_SLAB_ORDER].flags) &
		    AT_PG_WIDE)
			return p;
		at_slab_flush(cls, &p, 1);
	}
}

/* take_slow's common case: the thread's bin holds a wide slab's object. */
static inline char *take(unsigned int cls)
{
	struct at_theap *h = at_tls_heap;
	if (at_likely((uintptr_t)h > 1)) {
		struct at_bin *b = &h->bins[cls];
		uint64_t w = b->word;
		unsigned int c = at_bin_count(w);
		if (at_likely(c && off_far_from_ends(w))) {
			char *p = b->slots[c - 1];
			uintptr_t off = (uintptr_t)(p - at_heap_base);
			if (at_likely(AT_LOAD_RELAXED(&at_pages[(off >> AT_SLAB_SHIFT) << AT_SLAB_ORDER]
							   .flags) &
				      AT_PG_WIDE)) {
				AT_STORE_RELAXED(&b->word, word_add(w, -1, -1));
				return p;
			}
		}
	}
	return take_slow(cls);
}

void *at_secure_alloc(unsigned int cls, size_t align, at_ref_t ref)
{
	size_t n = at_class_size[cls];
	unsigned int c = cls, slot = cls + 1; /* room for the canary, as aligned */
	if (at_unlikely(align > AT_MIN_SIZE))
		while (slot < AT_NR_CLASSES && (at_class_size[slot] & (align - 1)))
			slot++;
	if (at_likely(slot < AT_NR_CLASSES))
		cls = slot;
	char *p = take(cls);
	if (at_unlikely(!p))
		return no_memory();
	uintptr_t off = (uintptr_t)(p - at_heap_base);
	uint32_t idx = at_obj_index(off, cls);
	canary(p, n, at_class_size[cls]);
	AT_STORE(rec_of(off, cls, idx), (uint16_t)(n + 1)); /* after the canary */
	at_obj_set(off, idx, 1, ref);
	struct at_theap *h = at_tls_heap;
	if (at_likely((uintptr_t)h > 1) && at_likely(cls - c <= 1)) /* as at_secure_free finds c */
		bin_charge(h, c, at_ref_to_idx(ref), ref, 1);
	else
		at_charge(ref, (int64_t)n);
	return p;
}

size_t at_secure_usable(uintptr_t off, uint32_t idx, unsigned int cls)
{
	uint32_t r = AT_LOAD_RELAXED(rec_of(off, cls, idx));
	return r && r != AT_SECURE_QUARANTINED ? r - 1 : at_class_size[cls];
}

/* Whether the last 16 bytes of the slot at q (class size size) with record
 * r, the bytes an underflow of the next slot reaches first, are as the
 * record says: a live object's canary (if it has one), a quarantined
 * object's poison. */
static int slot_end_intact(const char *q, size_t size, uint32_t r)
{
	if (r == AT_SECURE_QUARANTINED)
		return !diff16(q + size - 16, poison_word);
	return r - 1 >= size || !diff16(q + size - 16, canary_word);
}

/* The neighbour's bytes (slot q, record r, read as was) did not match its
 * record: an underflow, unless an allocator changed them meanwhile.  The
 * allocator changes an object's bytes only while its record is 0
 * (at_secure_alloc, at_secure_free, release), and a record is set after the
 * bytes it describes: read again after them, an unchanged record means no
 * allocator wrote them in between. */
static AT_COLD void underflow_seen(char *p, const char *q, const uint16_t *r, uint32_t was,
				   size_t n, const char *what)
{
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (AT_LOAD_RELAXED(r) != was)
		return;
	at_fatal("heap underflow before a %zu-byte object at %p (or an overflow past the "
		 "%s object before it, at %p); found by %s", n, (void *)p,
		 was == AT_SECURE_QUARANTINED ? "freed" : "live", (void *)q, what);
}

static AT_COLD void overflow_seen(void *p, size_t n, const char *what)
{
	at_fatal("heap overflow past a %zu-byte object at %p; found by %s", n, p, what);
}

static AT_COLD void written_after_free(char *p, uint32_t n)
{
	at_fatal("write after free to a %u-byte object at %p (found when it left the "
		 "quarantine)", n, (void *)p);
}

/* Object p (class cls) leaves the quarantine into the full bin b, or one
 * whose tag counts (bin_move). */
static AT_NOINLINE void release_slow(struct at_theap *h, char *p, unsigned int cls)
{
	struct at_bin *b = &h->bins[cls];
	if (at_bin_count(b->word) == b->cap)
		at_bin_flush(h, cls);
	b->slots[at_bin_count(b->word)] = p;
	bin_move(b, cls, 1);
}

/* Object p (class cls, record rec, usable size n) leaves the quarantine:
 * still poisoned, or it was written after its free; then to the bin. */
static inline __attribute__((always_inline)) void release(struct at_theap *h, char *p,
							    uint16_t *rec, uint32_t n,
							    unsigned int cls)
{
	if (at_unlikely(!poisoned(p, at_class_size[cls])))
		written_after_free(p, n);
	AT_STORE(rec, 0); /* before any new bytes */
	struct at_bin *b = &h->bins[cls];
	uint64_t w = b->word;
	unsigned int c = at_bin_count(w);
	if (at_likely(c < b->cap && off_far_from_ends(w))) {
		b->slots[c] = p;
		AT_STORE_RELAXED(&b->word, word_add(w, 1, 1));
		return;
	}
	release_slow(h, p, cls);
}

static AT_NOINLINE struct quarantine *quarantine_new(struct at_theap *h)
{
	void *q = mmap(NULL, sizeof(struct quarantine), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (q == MAP_FAILED)
		return NULL;
	h->secure_q = q;
	return q;
}

/* At exit, the objects still in the exiting thread's quarantine are checked
 * too (a write after free shortly before the end), oldest first. */
__attribute__((destructor)) static void check_at_exit(void)
{
	struct at_theap *h = at_tls_heap;
	if (!AT_LOAD_RELAXED(&at_secure_heap) || (uintptr_t)h <= 1 || !h->secure_q)
		return;
	struct quarantine *q = h->secure_q;
	for (unsigned int i = 0; i < AT_SECURE_Q; i++) {
		unsigned int t = (q->next + i) % AT_SECURE_Q;
		char *p = q->e[t].p;
		if (p) {
			q->e[t].p = NULL;
			release(h, p, q->e[t].rec, q->e[t].n, q->e[t].cls);
		}
	}
}

/* A thread with no heap (exiting) or no quarantine yet: the quarantine made,
 * or the object straight back to its slab. */
static AT_NOINLINE struct quarantine *quarantine_slow(struct at_theap **hp)
{
	struct at_theap *h = at_tls_heap;
	if ((uintptr_t)h <= 1)
		h = at_theap_get();
	*hp = h;
	if (!h)
		return NULL;
	return h->secure_q ? h->secure_q : quarantine_new(h);
}

int at_secure_free(void *ptr, uintptr_t off, unsigned int cls, uint32_t idx, uint64_t e,
		   const char *what)
{
	char *p = ptr;
	uint16_t *r = rec_of(off, cls, idx);
	uint32_t rec = AT_LOAD_RELAXED(r);
	if (at_unlikely(!rec || rec == AT_SECURE_QUARANTINED))
		return 0;
	size_t n = rec - 1, size = at_class_size[cls];
	if (at_unlikely(!canary_intact(p, n, size)))
		overflow_seen(ptr, n, what);
	/* The object before p in its slab (index idx - 1, record r - 1), if
	 * the stricter heap tracks it, must be intact. */
	if (idx) {
		uint32_t was = AT_LOAD(r - 1);
		if (was && at_unlikely(!slot_end_intact(p - size, size, was)))
			underflow_seen(p, p - size, r - 1, was, n, what);
	}
	at_obj_clear(off, idx, 1);
	at_ref_t ref = (at_ref_t)(uintptr_t)(e & ~AT_OBJ_LIVE);
	struct at_theap *h = at_tls_heap;
	/* charged through the bin of its usable size's class (bin_charge) */
	unsigned int c = cls == AT_NR_CLASSES - 1 && n == size ? cls : cls - 1;
	if (at_likely((uintptr_t)h > 1) && at_likely(at_class_size[c] == n))
		bin_charge(h, c, at_obj_decode_idx(e, 1), ref, -1);
	else
		at_uncharge(ref, (int64_t)n);
	struct quarantine *q;
	if (at_unlikely((uintptr_t)h <= 1 || !(q = h->secure_q)) && !(q = quarantine_slow(&h))) {
		AT_STORE_RELAXED(r, 0); /* straight back */
		at_slab_flush(cls, &ptr, 1);
		return 1;
	}
	/* The bytes change only while the record is 0 (underflow_seen). */
	AT_STORE_RELAXED(r, 0);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	poison(p, size);
	AT_STORE(r, AT_SECURE_QUARANTINED);
	unsigned int t = q->next;
	char *old = q->e[t].p;
	uint16_t *orec = q->e[t].rec;
	uint32_t on = q->e[t].n, ocls = q->e[t].cls;
	q->e[t].p = p;
	q->e[t].rec = r;
	q->e[t].n = (uint32_t)n;
	q->e[t].cls = cls;
	q->next = (t + 1) % AT_SECURE_Q;
	if (old)
		release(h, old, orec, on, ocls);
	return 1;
}
