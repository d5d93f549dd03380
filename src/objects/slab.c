/*
 * Size classes and slabs: the central per-class lists behind the thread
 * caches (layout and invariants in slab.h).
 *
 * Per class: one mutex, a list of partial slabs per width, and a count of
 * listed slabs that are entirely free.  Lock order: class lock, then the page
 * allocator's arena lock (a new slab is allocated under the class lock).
 * A slab whose last object comes back is kept while the class has fewer than
 * KEEP_EMPTY empty slabs, otherwise released: MADV_DONTNEED on its metadata
 * window's whole pages, the window on its class and width's free list
 * (slabs_release: the class lock taken once for a batch's released
 * slabs), and the slab back to the page allocator with at_page_release
 * (it is purged there, page_alloc.c), so RSS follows live data.
 */
#include "core/retry_once.h"
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>

#include "core/control.h"
#include "core/fork_locks.h"
#include "core/message.h"
#include "objects/fold_cache.h"
#include "objects/slab.h"
#include "objects/secure.h"
#include "core/peak_hook.h"
#include "core/counters.h"
#include "store/tag_ref.h"

#define KEEP_EMPTY 2

/*
 * The size classes (slab.h), smallest first: every table below is made
 * from this one list by the preprocessor, so that no table can disagree
 * with it.  X(size, a) for each class 1 .. AT_NR_CLASSES - 1.
 */
#define CLASS_LIST(X, a)                                                                  \
	X(16, a) X(32, a) X(48, a) X(64, a) X(80, a) X(96, a) X(112, a) X(128, a)          \
	X(160, a) X(192, a) X(224, a) X(256, a) X(320, a) X(384, a) X(448, a) X(512, a)    \
	X(640, a) X(768, a) X(896, a) X(1024, a) X(1088, a) X(1280, a) X(1536, a)          \
	X(1792, a) X(2048, a) X(2560, a) X(3072, a) X(3584, a) X(4096, a) X(4368, a)       \
	X(4672, a) X(5040, a) X(5456, a) X(5952, a) X(6544, a) X(7280, a) X(8192, a)       \
	X(10240, a) X(12288, a) X(14336, a) X(16384, a)
#define SIZE_OF(s, a) s,
#define ONE(s, a) +1
#define BELOW(s, n) +((s) < (n))
/* The class of a request of n bytes, 0 <= n <= AT_SMALL_MAX: 1 + the
 * number of classes smaller than n (a constant expression). */
#define CLASS_OF(n) (1 CLASS_LIST(BELOW, n))
_Static_assert(0 CLASS_LIST(ONE, ~) == AT_NR_CLASSES - 1, "AT_NR_CLASSES counts the list");
_Static_assert(CLASS_OF(AT_COLD_SIZE) == AT_COLD_CLS && CLASS_OF(AT_SMALL_MAX) == AT_NR_CLASSES - 1,
	       "AT_COLD_CLS and AT_SMALL_MAX are the list's");
/* m(i) for i = b .. b + 15, b .. b + 255 */
#define EACH16(m, b)                                                                       \
	m((b) + 0) m((b) + 1) m((b) + 2) m((b) + 3) m((b) + 4) m((b) + 5) m((b) + 6)          \
	m((b) + 7) m((b) + 8) m((b) + 9) m((b) + 10) m((b) + 11) m((b) + 12) m((b) + 13)      \
	m((b) + 14) m((b) + 15)
#define EACH256(m, b)                                                                      \
	EACH16(m, (b) + 0) EACH16(m, (b) + 16) EACH16(m, (b) + 32) EACH16(m, (b) + 48)        \
	EACH16(m, (b) + 64) EACH16(m, (b) + 80) EACH16(m, (b) + 96) EACH16(m, (b) + 112)      \
	EACH16(m, (b) + 128) EACH16(m, (b) + 144) EACH16(m, (b) + 160) EACH16(m, (b) + 176)   \
	EACH16(m, (b) + 192) EACH16(m, (b) + 208) EACH16(m, (b) + 224) EACH16(m, (b) + 240)
/* entry i of at_class_small and at_bin_small: requests of 16 * i bytes
 * and the 15 below (classes are multiples of 16: the same class) */
#define SMALL_CLASS(i) CLASS_OF(16 * (i)),
#define SMALL_BIN(i) CLASS_OF(16 * (i)) * AT_BIN_BYTES,
/* entry n of at_bin_direct: requests of n bytes */
#define DIRECT_BIN(n) CLASS_OF(n) * AT_BIN_BYTES,
/* entry k of at_class_mid: requests of 256 * k + 1 .. 256 * k + 256 bytes
 * (classes above 8192 are multiples of 256: the same class); 0 below */
#define MID_CLASS(k) ((k) >= 32 ? CLASS_OF(256 * (k) + 256) : 0),

const uint16_t at_class_size[AT_NR_CLASSES] = {0, CLASS_LIST(SIZE_OF, ~)};
uint16_t at_class_charge[AT_NR_CLASSES] = {0, CLASS_LIST(SIZE_OF, ~)};
/* (n + 15) / 16 -> class, n <= 8192; secure.c moves them at start-up */
uint8_t at_class_small[513] = {EACH256(SMALL_CLASS, 0) EACH256(SMALL_CLASS, 256) SMALL_CLASS(512)};
/* (n + 15) / 16 -> the class's bin offset in a thread's bins (class *
 * AT_BIN_BYTES), n <= 8192; secure.c moves them at start-up */
uint16_t at_bin_small[513] = {EACH256(SMALL_BIN, 0) EACH256(SMALL_BIN, 256) SMALL_BIN(512)};
/* n -> the class's bin offset, n <= AT_BIN_DIRECT_MAX (indexed by n
 * itself: no rounding); secure.c moves them at start-up */
_Static_assert(AT_BIN_DIRECT_MAX == 1024, "at_bin_direct's initializer: 1025 entries");
uint16_t at_bin_direct[AT_BIN_DIRECT_MAX + 1] = {
	EACH256(DIRECT_BIN, 0) EACH256(DIRECT_BIN, 256) EACH256(DIRECT_BIN, 512)
	EACH256(DIRECT_BIN, 768) DIRECT_BIN(1024)};
/* (n - 1) >> 8 -> class, 8192 < n <= 16384 */
uint8_t at_class_mid[64] = {EACH16(MID_CLASS, 0) EACH16(MID_CLASS, 16) EACH16(MID_CLASS, 32)
				    EACH16(MID_CLASS, 48)};
uint32_t at_class_magic[AT_NR_CLASSES];
uint16_t at_class_nobj[AT_NR_CLASSES];
char *at_meta_base;

/*
 * Transfer slots: a batch a thread cache gave back (at_slab_flush of at
 * most XFER_MAX objects) is kept whole, under the class lock, and handed
 * whole to the next cache that asks (at_slab_refill), instead of being
 * pushed object by object onto its slabs' stacks and popped off again: a
 * producer/consumer pair's objects travel consumer -> producer for a
 * memcpy.  Objects in a slot are free (entries 0) and out of their slabs
 * (counted in their slabs' used), as objects in a bin are.  At most
 * XFER_SLOTS batches per class (each at most 32 KiB: a bin's half).
 */
#define XFER_SLOTS 4
#define XFER_MAX (AT_BIN_HALF_MAX)

struct xfer {
	unsigned int n;
	void *objs[XFER_MAX];
};

/* The class's lock and lists in one cache line, the lines of all classes
 * together: fork's handlers lock and unlock every class, and each page they
 * write costs the parent and the child a copy-on-write fault per fork (the
 * slots inside this struct made it 21 pages: 45 more faults per fork). */
struct central {
	pthread_mutex_t lock;
	struct at_slab *partial[2]; /* by width */
	unsigned int nempty;
	unsigned int nxfer; /* xfers[class][0 .. nxfer) hold batches */
} __attribute__((aligned(64)));
_Static_assert(sizeof(struct central) == 64, "a class's central state is one line");

AT_BIG_BSS static struct xfer xfers[AT_NR_CLASSES][XFER_SLOTS];
/* The windows of released slabs, per class and width (slab.h), linked by
 * their headers' `next`; the class lock held. */
static struct at_slab *win_free[AT_NR_CLASSES][2];
/* The shadow's bytes handed out as windows (slab.h): a bump offset,
 * advanced by compare-and-swap once at_heap_shadow_cover has mapped it. */
static uintptr_t win_top;

AT_FORK_LOCK static struct central centrals[AT_NR_CLASSES]; /* in the fork locks' page */
AT_DATA_PAGE static struct at_retry_once slab_once = AT_RETRY_ONCE_INIT;
static unsigned char classes_set;

/* Run until it succeeds (retry_once.h); the class tables are set once. */
static int slab_setup(void)
{
	for (unsigned int c = 1; !classes_set && c < AT_NR_CLASSES; c++) {
		unsigned int s = at_class_size[c];
		at_class_magic[c] = (uint32_t)(0xFFFFFFFFull / s + 1); /* ceil(2^32 / s) */
		at_class_nobj[c] = (uint16_t)(AT_SLAB_SIZE / s);
		pthread_mutex_init(&centrals[c].lock, NULL);
	}
	classes_set = 1;
	if (at_heap_init())
		return ENOMEM;
	char *m;
	if (at_heap_add_shadow(&m))
		return ENOMEM;
	AT_STORE(&at_meta_base, (char *)m);
	return 0;
}

int at_slab_init(void)
{
	return at_retry_once(&slab_once, slab_setup);
}

static void list_add(struct central *c, struct at_slab *s)
{
	struct at_slab **head = &c->partial[s->wide];
	s->prev = NULL;
	s->next = *head;
	if (*head)
		(*head)->prev = s;
	*head = s;
	s->listed = 1;
}

static void list_del(struct central *c, struct at_slab *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		c->partial[s->wide] = s->next;
	if (s->next)
		s->next->prev = s->prev;
	s->listed = 0;
}

/* A window for a new slab of class cls and width wide (slab.h): a
 * released one of the same class and width, else the next bytes of the
 * shadow; NULL when the shadow cannot grow.  Class lock held. */
static struct at_slab *win_get(unsigned int cls, int wide)
{
	struct at_slab *s = win_free[cls][wide];
	if (s) {
		win_free[cls][wide] = s->next;
		return s;
	}
	size_t below = at_win_below(cls), above = at_win_bytes(cls, wide) - below;
	uintptr_t top = AT_LOAD_RELAXED(&win_top), h;
	do { /* the header 64-byte aligned, the stack below it */
		h = (top + below + 63) & ~(uintptr_t)63;
		if (at_heap_shadow_cover(h + above))
			return NULL;
	} while (!__atomic_compare_exchange_n(&win_top, &top, h + above, 0, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	return (struct at_slab *)(at_meta_base + h);
}

/* The whole pages of released slab s's window (its entries all 0) given
 * back, before the window goes on its free list (slabs_release). */
static void win_purge(struct at_slab *s, unsigned int cls)
{
	uintptr_t lo = (uintptr_t)s - at_win_below(cls);
	uintptr_t a = (lo + AT_PAGE_SIZE - 1) & ~(uintptr_t)(AT_PAGE_SIZE - 1);
	uintptr_t e = (lo + at_win_bytes(cls, s->wide)) & ~(uintptr_t)(AT_PAGE_SIZE - 1);
	if (e > a)
		madvise((void *)a, e - a, MADV_DONTNEED);
}

/* A new empty slab of class cls, listed.  Class lock held. */
static struct at_slab *slab_new(struct central *c, unsigned int cls, int wide)
{
	uint64_t fl = AT_PG_SLAB | AT_PG_NO_CODETAG | ((uint64_t)cls << AT_CLASS_SHIFT) |
		      (wide ? AT_PG_WIDE : 0);
	int secure = AT_LOAD_RELAXED(&at_secure_heap) && cls > 1 && cls < AT_NR_CLASSES - 1;
	struct at_slab *s = win_get(cls, wide);
	if (!s)
		return NULL;
	char *p = at_page_alloc_raw(AT_SLAB_ORDER, fl | (secure ? AT_PG_SECURE : 0));
	if (!p) {
		s->next = win_free[cls][wide];
		win_free[cls][wide] = s;
		return NULL;
	}
	if (secure)
		at_secure_slab_new(p, cls);
	s->base = p;
	struct at_page *head = &at_pages[at_addr_to_pfn(p)];
	head->ents = (uint16_t *)((char *)s + AT_META_REFS);
	head[1].cls = at_slab_cls(cls);
	s->cls = (uint16_t)cls;
	s->nobj = at_class_nobj[cls];
	s->used = 0;
	s->nfree = 0;
	s->fresh = 0;
	s->wide = (uint8_t)wide;
	if (wide && !(AT_LOAD_RELAXED(&at_small_slow) & AT_SLOW_WIDE))
		__atomic_fetch_or(&at_small_slow, AT_SLOW_WIDE, __ATOMIC_SEQ_CST);
	list_add(c, s);
	c->nempty++;
	return s;
}

unsigned int at_slab_refill(unsigned int cls, void **out, unsigned int want, int wide)
{
	struct central *c = &centrals[cls];
	size_t size = at_class_size[cls];
	unsigned int n = 0;

	if (at_unlikely(!AT_LOAD(&at_meta_base)) && at_slab_init())
		return 0;
	int w = wide != 0; /* the kind preferred (2: the only one) */
	pthread_mutex_lock(&c->lock);
	if (c->nxfer && wide < 2 &&
	    xfers[cls][c->nxfer - 1].n <= want) {
		struct xfer *x = &xfers[cls][--c->nxfer];
		memcpy(out, x->objs, x->n * sizeof(void *));
		n = x->n;
		pthread_mutex_unlock(&c->lock);
		at_peak_add((int64_t)n * (int64_t)size);
		return n;
	}
	while (n < want) {
		struct at_slab *s = c->partial[w];
		if (!s && wide < 2)
			s = c->partial[!w];
		if (!s && !(s = slab_new(c, cls, w)))
			break;
		if (!s->used)
			c->nempty--;
		char *base = s->base;
		unsigned int k = 0;
		while (n + k < want && s->nfree)
			out[n + k++] = base + *at_slab_stack_slot(s, --s->nfree) * size;
		/* Fresh objects in descending order: a bin pops its last slot
		 * first, so the lowest is handed out first (a class's first
		 * object on the slab's first page, not 8 objects in), and the
		 * next ones after it, a page at a time. */
		unsigned int m = s->nobj - s->fresh;
		if (m > want - n - k)
			m = want - n - k;
		for (unsigned int j = 0; j < m; j++)
			out[n + k + j] = base + (size_t)(s->fresh + m - 1 - j) * size;
		s->fresh = (uint16_t)(s->fresh + m);
		k += m;
		s->used = (uint16_t)(s->used + k);
		n += k;
		if (s->used == s->nobj)
			list_del(c, s);
	}
	pthread_mutex_unlock(&c->lock);
	if (!n)
		errno = ENOMEM;
	at_peak_add((int64_t)n * (int64_t)size);
	return n;
}

/* Per cold class (slab.h, "Cold classes"; class cls at cold[cls -
 * AT_COLD_CLS]: 104 bytes of the fork page, not 336): its objects from the
 * page allocator now live (at most AT_COLD_LIVE), and how many it may still
 * take (at 0 or below the class is warm for good). */
AT_FORK_COLD static struct {
	int live, left;
} cold[AT_NR_CLASSES - AT_COLD_CLS] = {
	[0 ... AT_NR_CLASSES - AT_COLD_CLS - 1] = {0, AT_COLD_MAX},
};
unsigned char at_class_cold[AT_NR_CLASSES] = {
	[AT_COLD_CLS ... AT_NR_CLASSES - 1] = 1,
};

static unsigned int cold_order(unsigned int cls)
{
	unsigned int pages = (at_class_size[cls] + AT_PAGE_SIZE - 1) >> AT_PAGE_SHIFT;
	return pages <= 1 ? 0 : 32u - (unsigned int)__builtin_clz(pages - 1);
}

void at_block_recharge(uint32_t pfn, int64_t d)
{
	at_ref_t ref = at_page_ref_get(pfn);
	if (at_ref_is_tag(ref))
		at_percpu_add2(at_counter0(ref->idx), d, 0);
}

void *at_cold_alloc(unsigned int cls)
{
	__typeof__(cold[0]) *c = &cold[cls - AT_COLD_CLS];
	if (AT_LOAD_RELAXED(&c->left) <= 0 || AT_LOAD_RELAXED(&at_secure_heap)) {
		AT_STORE_RELAXED(&at_class_cold[cls], 0); /* warm for good */
		return NULL;
	}
	if (AT_LOAD_RELAXED(&c->live) >= AT_COLD_LIVE)
		return NULL;
	if (__atomic_add_fetch(&c->live, 1, __ATOMIC_RELAXED) > AT_COLD_LIVE ||
	    __atomic_sub_fetch(&c->left, 1, __ATOMIC_RELAXED) < 0) {
		__atomic_sub_fetch(&c->live, 1, __ATOMIC_RELAXED);
		return NULL;
	}
	unsigned int order = cold_order(cls);
	at_ref_t ref;
	char *p = at_page_alloc_uncharged(order, (uint64_t)cls << AT_CLASS_SHIFT, &ref);
	if (!p) {
		__atomic_sub_fetch(&c->live, 1, __ATOMIC_RELAXED);
		return NULL;
	}
	/* charged its class's size, as a slab's object would be: through the
	 * thread's fold cache once the process has forked (a forked child's
	 * first stdio buffer wrote a counters page) */
	if (at_ref_is_tag(ref))
		at_fold_self(ref->idx, cls, 1, 0);
	return p;
}

void at_cold_free(uint32_t pfn, uint64_t f)
{
	unsigned int cls = at_block_class(f);
	at_block_recharge(pfn, (int64_t)((AT_PAGE_SIZE << at_page_order(f)) - at_class_charge[cls]));
	__atomic_sub_fetch(&cold[cls - AT_COLD_CLS].live, 1, __ATOMIC_RELAXED);
}

/* The slabs of class cls on list dead (unlisted, linked by their windows'
 * `next`, which an unlisted slab has no use for; NULL: none) to the page
 * allocator, their windows purged (win_purge), then every window to its
 * class and width's free list, the class lock taken once for them all. */
static void slabs_release(unsigned int cls, struct at_slab *dead)
{
	if (!dead)
		return;
	for (struct at_slab *s = dead; s; s = s->next) {
		at_page_release(s->base, AT_SLAB_ORDER);
		win_purge(s, cls);
	}
	struct central *c = &centrals[cls];
	pthread_mutex_lock(&c->lock);
	while (dead) {
		struct at_slab *next = dead->next;
		dead->next = win_free[cls][dead->wide];
		win_free[cls][dead->wide] = dead;
		dead = next;
	}
	pthread_mutex_unlock(&c->lock);
}

/* Objects objs[0 .. n) of class cls back to their slabs, the class lock
 * held; the slabs they leave empty past KEEP_EMPTY unlisted, on *dead
 * (for slabs_release once the lock is given back). */
static void put_locked(struct central *c, unsigned int cls, void *const *objs, unsigned int n,
		       struct at_slab **dead)
{
	uint32_t size = at_class_size[cls];
	for (unsigned int i = 0; i < n; i++) {
		uintptr_t off = (uintptr_t)((char *)objs[i] - at_heap_base);
		struct at_slab *s = at_slab_of(off);
		*at_slab_stack_slot(s, s->nfree++) = (uint16_t)((off & (AT_SLAB_SIZE - 1)) / size);
		if (!s->listed)
			list_add(c, s);
		if (--s->used)
			continue;
		if (c->nempty < KEEP_EMPTY) {
			c->nempty++;
		} else {
			list_del(c, s);
			s->next = *dead; /* unlisted: the link is free */
			*dead = s;
		}
	}
}

/* Objects back to their slabs (class lock taken per batch of 64). */
static void slabs_put(unsigned int cls, void *const *objs, unsigned int n)
{
	struct central *c = &centrals[cls];
	while (n) {
		struct at_slab *dead = NULL;
		unsigned int batch = n < 64 ? n : 64;
		pthread_mutex_lock(&c->lock);
		put_locked(c, cls, objs, batch, &dead);
		pthread_mutex_unlock(&c->lock);
		slabs_release(cls, dead);
		objs += batch;
		n -= batch;
	}
}

int at_slab_put_try(unsigned int cls, void *p)
{
	struct central *c = &centrals[cls];
	struct at_slab *dead = NULL;
	if (pthread_mutex_trylock(&c->lock))
		return 0;
	put_locked(c, cls, &p, 1, &dead);
	pthread_mutex_unlock(&c->lock);
	at_peak_add(-(int64_t)at_class_size[cls]);
	slabs_release(cls, dead);
	return 1;
}

void at_slab_flush(unsigned int cls, void *const *objs, unsigned int n)
{
	struct central *c = &centrals[cls];
	uint32_t size = at_class_size[cls];

	at_peak_add(-(int64_t)n * size);
	if (n > 1 && n <= XFER_MAX) {
		pthread_mutex_lock(&c->lock);
		if (c->nxfer < XFER_SLOTS) {
			struct xfer *x = &xfers[cls][c->nxfer++];
			x->n = n;
			memcpy(x->objs, objs, n * sizeof(void *));
			pthread_mutex_unlock(&c->lock);
			return;
		}
		pthread_mutex_unlock(&c->lock);
	}
	slabs_put(cls, objs, n);
}

void at_slab_lock_all(void)
{
	for (unsigned int c = 1; c < AT_NR_CLASSES; c++)
		pthread_mutex_lock(&centrals[c].lock);
}

void at_slab_unlock_all(void)
{
	for (unsigned int c = AT_NR_CLASSES; --c > 0;)
		pthread_mutex_unlock(&centrals[c].lock);
}

AT_FORK_TEXT void at_slab_fork_child(void)
{
	for (unsigned int c = 1; c < AT_NR_CLASSES; c++)
		at_fork_child_reset(&centrals[c].lock, (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER);
}

/* Give class cls's transfer slots back to their slabs. */
static void xfer_drain(unsigned int cls)
{
	struct central *c = &centrals[cls];
	for (;;) {
		struct xfer x;
		pthread_mutex_lock(&c->lock);
		if (!c->nxfer) {
			pthread_mutex_unlock(&c->lock);
			return;
		}
		x = xfers[cls][--c->nxfer];
		pthread_mutex_unlock(&c->lock);
		for (unsigned int i = 0; i < x.n; i++) /* one at a time: never into a slot */
			slabs_put(cls, &x.objs[i], 1);
	}
}

void at_slab_xfer_stats(size_t *count, size_t *bytes)
{
	size_t n = 0, b = 0;
	for (unsigned int cls = 1; cls < AT_NR_CLASSES; cls++)
		for (unsigned int k = 0; k < centrals[cls].nxfer; k++) {
			n += xfers[cls][k].n;
			b += (size_t)xfers[cls][k].n * at_class_size[cls];
		}
	*count = n;
	*bytes = b;
}

size_t at_slab_trim(void)
{
	size_t bytes = 0;
	for (unsigned int cls = 1; cls < AT_NR_CLASSES; cls++) {
		struct central *c = &centrals[cls];
		struct at_slab *dead = NULL;
		xfer_drain(cls);
		pthread_mutex_lock(&c->lock);
		for (int w = 0; w < 2; w++) {
			struct at_slab *s = c->partial[w], *next;
			for (; s; s = next) {
				next = s->next;
				if (s->used)
					continue;
				list_del(c, s);
				c->nempty--;
				s->next = dead; /* unlisted: the link is free */
				dead = s;
			}
		}
		pthread_mutex_unlock(&c->lock);
		for (struct at_slab *s = dead; s; s = s->next)
			bytes += AT_SLAB_SIZE;
		slabs_release(cls, dead);
	}
	return bytes;
}
