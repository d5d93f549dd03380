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
#include <sys/syscall.h>
#include <unistd.h>
#include <time.h>

#include "core/control.h"
#include "core/message.h"
#include "objects/malloc_fast.h"
#include "objects/tcache.h"
#include "store/charge.h"

/* Per class, a ring: a free pushes its object at e[cls][next[cls]] and
 * releases the one it replaces (the oldest of its class); an empty entry
 * is NULL. */
struct quarantine {
	unsigned char next[AT_NR_CLASSES];
	char *e[AT_NR_CLASSES][AT_SECURE_Q];
};
_Static_assert(!(AT_SECURE_Q & (AT_SECURE_Q - 1)), "a ring of a power of two");

static uint64_t canary_word, poison_word;
uint64_t at_secure_fast_word;

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

/* The smallest class of at least n bytes, else the largest. */
static unsigned int class_above(size_t n)
{
	unsigned int c = 1;
	while (c < AT_NR_CLASSES - 1 && at_class_size[c] < n)
		c++;
	return c;
}

void at_secure_init(void)
{
	uint64_t r[2];
	/* getrandom by syscall(): libc's carries a symbol version (GLIBC_2.25)
	 * of its own, one more for the loader to check at every process start */
	if (syscall(SYS_getrandom, r, sizeof(r), GRND_NONBLOCK) != (long)sizeof(r)) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		r[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uintptr_t)&ts;
		r[1] = r[0] * 0xbf58476d1ce4e5b9ull ^ (uint64_t)ts.tv_sec;
	}
	canary_word = pattern_of(r[0]);
	poison_word = pattern_of(r[1]);
	if (poison_word == canary_word)
		poison_word ^= 0x0101010101010101ull;
	AT_STORE_RELAXED(&at_secure_fast_word,
			 AT_LOAD_RELAXED(&at_secure_heap) >= 2 ? canary_word ^ 1 : canary_word);
	/* A request of n bytes takes the class of n + 16 (the largest class
	 * for what no class holds with its canary). */
	for (unsigned int i = 0; i < 513; i++) {
		at_class_small[i] = (uint8_t)class_above(16u * (i ? i : 1u) + 16u);
		at_bin_small[i] = (uint16_t)(at_class_small[i] * AT_BIN_BYTES);
	}
	for (unsigned int n = 0; n <= AT_BIN_DIRECT_MAX; n++)
		at_bin_direct[n] = at_bin_small[(n + 15) >> 4];
	for (unsigned int i = 32; i < 64; i++) /* requests of 256 * i + 1 .. 256 * i + 256 */
		at_class_mid[i] = (uint8_t)class_above(256u * i + 256u + 16u);
	for (unsigned int c = 2; c < AT_NR_CLASSES - 1; c++)
		at_class_charge[c] = (uint16_t)(at_class_size[c] - 16u);
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

void at_secure_poison(char *from, char *to)
{
	fill(from, to, poison_word);
}

int at_secure_poisoned(const char *from, const char *to)
{
	return intact(from, to, poison_word);
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

/* Whether the object at p (class size size) has its canary: its last 16
 * bytes. */
static inline int canary_intact(const char *p, size_t size)
{
	return !diff16(p + size - 16, canary_word);
}

void at_secure_slab_new(char *base, unsigned int cls)
{
	size_t size = at_class_size[cls];
	for (uint32_t i = 0, n = at_class_nobj[cls]; i < n; i++)
		put16(base + i * size + size - 16, canary_word);
}

/* A freed slot's poison: its first AT_SECURE_POISON bytes (the first 16
 * in a 32-byte slot, the smallest the stricter heap hands out). */
_Static_assert(AT_SECURE_POISON == 32, "poison: two pieces, unrolled");
static inline void poison(char *p, size_t size)
{
	put16(p, poison_word);
	if (at_likely(size > 32))
		put16(p + 16, poison_word);
}

static inline int poisoned(const char *p, size_t size)
{
	uint64_t d = diff16(p, poison_word);
	if (at_likely(size > 32))
		d |= diff16(p + 16, poison_word);
	return !d;
}

static AT_COLD void underflow_seen(char *p, size_t n, const char *q, int live, const char *what)
{
	at_fatal("heap underflow before a %zu-byte object at %p (or an overflow past the "
		 "%s object before it, at %p); found by %s", n, (void *)p,
		 live ? "live" : "freed", (void *)q, what);
}

static AT_COLD void overflow_seen(void *p, size_t n, const char *what)
{
	at_fatal("heap overflow past a %zu-byte object at %p; found by %s", n, p, what);
}

static AT_COLD void written_after_free(char *p, size_t n)
{
	at_fatal("write after free to a %zu-byte object at %p (found when it left the "
		 "quarantine)", n, (void *)p);
}

/* Object p of class cls (size size) leaves the quarantine: still poisoned
 * and its canary intact, or it was written after its free. */
static inline void check_released(char *p, size_t size)
{
	if (at_unlikely(!poisoned(p, size) || !canary_intact(p, size)))
		written_after_free(p, size - 16);
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
 * too (a write after free shortly before the end). */
__attribute__((destructor)) static void check_at_exit(void)
{
	struct at_theap *h = at_tls_heap;
	if (!AT_LOAD_RELAXED(&at_secure_heap) || (uintptr_t)h <= 1 || !h->secure_q)
		return;
	struct quarantine *q = h->secure_q;
	for (unsigned int c = 1; c < AT_NR_CLASSES; c++)
		for (unsigned int i = 0; i < AT_SECURE_Q; i++)
			if (q->e[c][i])
				check_released(q->e[c][i], at_class_size[c]);
}

void at_secure_free(void *ptr, uintptr_t off, unsigned int cls, uint32_t idx, uint64_t f,
		    const char *what)
{
	char *p = ptr;
	int wide = (f & AT_PG_WIDE) != 0;
	uint64_t e = at_obj_get(off, idx, wide);
	if (at_unlikely(!e))
		at_double_free(p, what);
	size_t size = at_class_size[cls];
	if (at_unlikely(!canary_intact(p, size)))
		overflow_seen(ptr, size - 16, what);
	int level2 = AT_LOAD_RELAXED(&at_secure_heap) >= 2;
	/* Level 2: the slot before p in its slab: its canary, whatever its
	 * state. */
	if (level2 && idx && at_unlikely(!canary_intact(p - size, size)))
		underflow_seen(p, size - 16, p - size, at_obj_get(off - size, idx - 1, wide) != 0,
			       what);
	at_obj_clear(off, idx, wide);
	uint32_t ti = at_obj_decode_idx(e, wide);
	struct at_theap *h = at_tls_heap;
	struct quarantine *q;
	if (!level2) { /* level 1: straight back */
		if (at_likely(at_bin_put(cls, p, ti)))
			return;
		return at_small_free_slow(p, cls, ti);
	}
	poison(p, size);
	if (at_unlikely((uintptr_t)h <= 1 || !(q = h->secure_q))) {
		if ((uintptr_t)h <= 1 || !(q = quarantine_new(h)))
			return at_small_free_slow(p, cls, ti); /* straight back */
	}
	/* p takes the place of its class's oldest, which goes to the bin with
	 * p's tag: its count's update uncharges p (bin_charge.h). */
	unsigned int t = q->next[cls];
	char *old = q->e[cls][t];
	q->e[cls][t] = p;
	q->next[cls] = (unsigned char)((t + 1) % AT_SECURE_Q);
	if (at_unlikely(!old))
		return at_uncharge_idx(ti, (int64_t)at_class_charge[cls]);
	check_released(old, size);
	if (at_likely(at_bin_put(cls, old, ti)))
		return;
	return at_small_free_slow(old, cls, ti);
}
