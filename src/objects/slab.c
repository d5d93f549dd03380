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
 * (win_put), and the slab back to the page allocator with at_page_release
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
#include "objects/slab.h"
#include "objects/secure.h"
#include "core/peak_hook.h"
#include "core/counters.h"
#include "store/tag_ref.h"

#define KEEP_EMPTY 2

#define CLASS_SIZES \
	0, 16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512, \
	640, 768, 896, 1024, 1088, 1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096, 4368, \
	4672, 5040, 5456, 5952, 6544, 7280, 8192, 10240, 12288, 14336, 16384

const uint16_t at_class_size[AT_NR_CLASSES] = {CLASS_SIZES};
uint16_t at_class_charge[AT_NR_CLASSES] = {CLASS_SIZES};
uint8_t at_class_small[513] = { /* secure.c moves them at start-up */
	 1,  1,  2,  3,  4,  5,  6,  7,  8,  9,  9, 10, 10, 11, 11, 12, /* ..240 */
	12, 13, 13, 13, 13, 14, 14, 14, 14, 15, 15, 15, 15, 16, 16, 16, /* ..496 */
	16, 17, 17, 17, 17, 17, 17, 17, 17, 18, 18, 18, 18, 18, 18, 18, /* ..752 */
	18, 19, 19, 19, 19, 19, 19, 19, 19, 20, 20, 20, 20, 20, 20, 20, /* ..1008 */
	20, 21, 21, 21, 21, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, 22, /* ..1264 */
	22, 23, 23, 23, 23, 23, 23, 23, 23, 23, 23, 23, 23, 23, 23, 23, /* ..1520 */
	23, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, 24, /* ..1776 */
	24, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, /* ..2032 */
	25, 26, 26, 26, 26, 26, 26, 26, 26, 26, 26, 26, 26, 26, 26, 26, /* ..2288 */
	26, 26, 26, 26, 26, 26, 26, 26, 26, 26, 26, 26, 26, 26, 26, 26, /* ..2544 */
	26, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, /* ..2800 */
	27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, /* ..3056 */
	27, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, /* ..3312 */
	28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, /* ..3568 */
	28, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29, /* ..3824 */
	29, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29, /* ..4080 */
	29, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, /* ..4336 */
	30, 30, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, /* ..4592 */
	31, 31, 31, 31, 31, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, /* ..4848 */
	32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 33, 33, 33, 33, /* ..5104 */
	33, 33, 33, 33, 33, 33, 33, 33, 33, 33, 33, 33, 33, 33, 33, 33, /* ..5360 */
	33, 33, 33, 33, 33, 33, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, /* ..5616 */
	34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, 34, /* ..5872 */
	34, 34, 34, 34, 34, 35, 35, 35, 35, 35, 35, 35, 35, 35, 35, 35, /* ..6128 */
	35, 35, 35, 35, 35, 35, 35, 35, 35, 35, 35, 35, 35, 35, 35, 35, /* ..6384 */
	35, 35, 35, 35, 35, 35, 35, 35, 35, 35, 36, 36, 36, 36, 36, 36, /* ..6640 */
	36, 36, 36, 36, 36, 36, 36, 36, 36, 36, 36, 36, 36, 36, 36, 36, /* ..6896 */
	36, 36, 36, 36, 36, 36, 36, 36, 36, 36, 36, 36, 36, 36, 36, 36, /* ..7152 */
	36, 36, 36, 36, 36, 36, 36, 36, 37, 37, 37, 37, 37, 37, 37, 37, /* ..7408 */
	37, 37, 37, 37, 37, 37, 37, 37, 37, 37, 37, 37, 37, 37, 37, 37, /* ..7664 */
	37, 37, 37, 37, 37, 37, 37, 37, 37, 37, 37, 37, 37, 37, 37, 37, /* ..7920 */
	37, 37, 37, 37, 37, 37, 37, 37, 37, 37, 37, 37, 37, 37, 37, 37, /* ..8176 */
	37, /* ..8192 */
};
/* (n + 15) / 16 -> the class's bin offset in a thread's bins (class *
 * AT_BIN_BYTES), n <= 8192: at_class_small's, kept in step with it */
uint16_t at_bin_small[513] = { /* secure.c moves them at start-up */
	  32,   32,   64,   96,  128,  160,  192,  224,  256,  288,  288,  320,  320,  352,  352,  384,
	 384,  416,  416,  416,  416,  448,  448,  448,  448,  480,  480,  480,  480,  512,  512,  512,
	 512,  544,  544,  544,  544,  544,  544,  544,  544,  576,  576,  576,  576,  576,  576,  576,
	 576,  608,  608,  608,  608,  608,  608,  608,  608,  640,  640,  640,  640,  640,  640,  640,
	 640,  672,  672,  672,  672,  704,  704,  704,  704,  704,  704,  704,  704,  704,  704,  704,
	 704,  736,  736,  736,  736,  736,  736,  736,  736,  736,  736,  736,  736,  736,  736,  736,
	 736,  768,  768,  768,  768,  768,  768,  768,  768,  768,  768,  768,  768,  768,  768,  768,
	 768,  800,  800,  800,  800,  800,  800,  800,  800,  800,  800,  800,  800,  800,  800,  800,
	 800,  832,  832,  832,  832,  832,  832,  832,  832,  832,  832,  832,  832,  832,  832,  832,
	 832,  832,  832,  832,  832,  832,  832,  832,  832,  832,  832,  832,  832,  832,  832,  832,
	 832,  864,  864,  864,  864,  864,  864,  864,  864,  864,  864,  864,  864,  864,  864,  864,
	 864,  864,  864,  864,  864,  864,  864,  864,  864,  864,  864,  864,  864,  864,  864,  864,
	 864,  896,  896,  896,  896,  896,  896,  896,  896,  896,  896,  896,  896,  896,  896,  896,
	 896,  896,  896,  896,  896,  896,  896,  896,  896,  896,  896,  896,  896,  896,  896,  896,
	 896,  928,  928,  928,  928,  928,  928,  928,  928,  928,  928,  928,  928,  928,  928,  928,
	 928,  928,  928,  928,  928,  928,  928,  928,  928,  928,  928,  928,  928,  928,  928,  928,
	 928,  960,  960,  960,  960,  960,  960,  960,  960,  960,  960,  960,  960,  960,  960,  960,
	 960,  960,  992,  992,  992,  992,  992,  992,  992,  992,  992,  992,  992,  992,  992,  992,
	 992,  992,  992,  992,  992, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024,
	1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1056, 1056, 1056, 1056,
	1056, 1056, 1056, 1056, 1056, 1056, 1056, 1056, 1056, 1056, 1056, 1056, 1056, 1056, 1056, 1056,
	1056, 1056, 1056, 1056, 1056, 1056, 1088, 1088, 1088, 1088, 1088, 1088, 1088, 1088, 1088, 1088,
	1088, 1088, 1088, 1088, 1088, 1088, 1088, 1088, 1088, 1088, 1088, 1088, 1088, 1088, 1088, 1088,
	1088, 1088, 1088, 1088, 1088, 1120, 1120, 1120, 1120, 1120, 1120, 1120, 1120, 1120, 1120, 1120,
	1120, 1120, 1120, 1120, 1120, 1120, 1120, 1120, 1120, 1120, 1120, 1120, 1120, 1120, 1120, 1120,
	1120, 1120, 1120, 1120, 1120, 1120, 1120, 1120, 1120, 1120, 1152, 1152, 1152, 1152, 1152, 1152,
	1152, 1152, 1152, 1152, 1152, 1152, 1152, 1152, 1152, 1152, 1152, 1152, 1152, 1152, 1152, 1152,
	1152, 1152, 1152, 1152, 1152, 1152, 1152, 1152, 1152, 1152, 1152, 1152, 1152, 1152, 1152, 1152,
	1152, 1152, 1152, 1152, 1152, 1152, 1152, 1152, 1184, 1184, 1184, 1184, 1184, 1184, 1184, 1184,
	1184, 1184, 1184, 1184, 1184, 1184, 1184, 1184, 1184, 1184, 1184, 1184, 1184, 1184, 1184, 1184,
	1184, 1184, 1184, 1184, 1184, 1184, 1184, 1184, 1184, 1184, 1184, 1184, 1184, 1184, 1184, 1184,
	1184, 1184, 1184, 1184, 1184, 1184, 1184, 1184, 1184, 1184, 1184, 1184, 1184, 1184, 1184, 1184,
	1184,
};
/* n -> the class's bin offset, n <= AT_BIN_DIRECT_MAX: at_bin_small's,
 * indexed by n itself (no rounding) */
#define AT_X16(v) v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v
uint16_t at_bin_direct[AT_BIN_DIRECT_MAX + 1] = { /* secure.c moves them at start-up */
	32, /* 0 */
	AT_X16(32), /* ..16 */
	AT_X16(64), /* ..32 */
	AT_X16(96), /* ..48 */
	AT_X16(128), /* ..64 */
	AT_X16(160), /* ..80 */
	AT_X16(192), /* ..96 */
	AT_X16(224), /* ..112 */
	AT_X16(256), /* ..128 */
	AT_X16(288), /* ..144 */
	AT_X16(288), /* ..160 */
	AT_X16(320), /* ..176 */
	AT_X16(320), /* ..192 */
	AT_X16(352), /* ..208 */
	AT_X16(352), /* ..224 */
	AT_X16(384), /* ..240 */
	AT_X16(384), /* ..256 */
	AT_X16(416), /* ..272 */
	AT_X16(416), /* ..288 */
	AT_X16(416), /* ..304 */
	AT_X16(416), /* ..320 */
	AT_X16(448), /* ..336 */
	AT_X16(448), /* ..352 */
	AT_X16(448), /* ..368 */
	AT_X16(448), /* ..384 */
	AT_X16(480), /* ..400 */
	AT_X16(480), /* ..416 */
	AT_X16(480), /* ..432 */
	AT_X16(480), /* ..448 */
	AT_X16(512), /* ..464 */
	AT_X16(512), /* ..480 */
	AT_X16(512), /* ..496 */
	AT_X16(512), /* ..512 */
	AT_X16(544), /* ..528 */
	AT_X16(544), /* ..544 */
	AT_X16(544), /* ..560 */
	AT_X16(544), /* ..576 */
	AT_X16(544), /* ..592 */
	AT_X16(544), /* ..608 */
	AT_X16(544), /* ..624 */
	AT_X16(544), /* ..640 */
	AT_X16(576), /* ..656 */
	AT_X16(576), /* ..672 */
	AT_X16(576), /* ..688 */
	AT_X16(576), /* ..704 */
	AT_X16(576), /* ..720 */
	AT_X16(576), /* ..736 */
	AT_X16(576), /* ..752 */
	AT_X16(576), /* ..768 */
	AT_X16(608), /* ..784 */
	AT_X16(608), /* ..800 */
	AT_X16(608), /* ..816 */
	AT_X16(608), /* ..832 */
	AT_X16(608), /* ..848 */
	AT_X16(608), /* ..864 */
	AT_X16(608), /* ..880 */
	AT_X16(608), /* ..896 */
	AT_X16(640), /* ..912 */
	AT_X16(640), /* ..928 */
	AT_X16(640), /* ..944 */
	AT_X16(640), /* ..960 */
	AT_X16(640), /* ..976 */
	AT_X16(640), /* ..992 */
	AT_X16(640), /* ..1008 */
	AT_X16(640), /* ..1024 */
};
#undef AT_X16
/* (n - 1) >> 8 -> class, 8192 < n <= 16384 (every class there is a multiple of 256) */
uint8_t at_class_mid[64] = {
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	38, 38, 38, 38, 38, 38, 38, 38, 39, 39, 39, 39, 39, 39, 39, 39,
	40, 40, 40, 40, 40, 40, 40, 40, 41, 41, 41, 41, 41, 41, 41, 41,
};
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

/* Released slab s's window (its entries all 0) to its free list, its whole
 * pages given back first. */
static void win_put(struct central *c, struct at_slab *s, unsigned int cls)
{
	int wide = s->wide;
	uintptr_t lo = (uintptr_t)s - at_win_below(cls);
	uintptr_t a = (lo + AT_PAGE_SIZE - 1) & ~(uintptr_t)(AT_PAGE_SIZE - 1);
	uintptr_t e = (lo + at_win_bytes(cls, wide)) & ~(uintptr_t)(AT_PAGE_SIZE - 1);
	if (e > a)
		madvise((void *)a, e - a, MADV_DONTNEED);
	pthread_mutex_lock(&c->lock);
	s->next = win_free[cls][wide];
	win_free[cls][wide] = s;
	pthread_mutex_unlock(&c->lock);
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

/* Per cold class (slab.h, "Cold classes"): its objects from the page
 * allocator now live (at most AT_COLD_LIVE), and how many it may still take
 * (at 0 or below the class is warm for good). */
static struct {
	int live, left;
} cold[AT_NR_CLASSES] = {
	[AT_COLD_CLS ... AT_NR_CLASSES - 1] = {0, AT_COLD_MAX},
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
	if (AT_LOAD_RELAXED(&cold[cls].left) <= 0 || AT_LOAD_RELAXED(&at_secure_heap)) {
		AT_STORE_RELAXED(&at_class_cold[cls], 0); /* warm for good */
		return NULL;
	}
	if (AT_LOAD_RELAXED(&cold[cls].live) >= AT_COLD_LIVE)
		return NULL;
	if (__atomic_add_fetch(&cold[cls].live, 1, __ATOMIC_RELAXED) > AT_COLD_LIVE ||
	    __atomic_sub_fetch(&cold[cls].left, 1, __ATOMIC_RELAXED) < 0) {
		__atomic_sub_fetch(&cold[cls].live, 1, __ATOMIC_RELAXED);
		return NULL;
	}
	unsigned int order = cold_order(cls);
	char *p = at_page_alloc_raw(order, (uint64_t)cls << AT_CLASS_SHIFT);
	if (!p) {
		__atomic_sub_fetch(&cold[cls].live, 1, __ATOMIC_RELAXED);
		return NULL;
	}
	at_block_recharge(at_addr_to_pfn(p), -(int64_t)((AT_PAGE_SIZE << order) - at_class_charge[cls]));
	return p;
}

void at_cold_free(uint32_t pfn, uint64_t f)
{
	unsigned int cls = at_block_class(f);
	at_block_recharge(pfn, (int64_t)((AT_PAGE_SIZE << at_page_order(f)) - at_class_charge[cls]));
	__atomic_sub_fetch(&cold[cls].live, 1, __ATOMIC_RELAXED);
}

/* The slab of window s, of class cls, to the page allocator, its window
 * to its free list. */
static void slab_release(struct at_slab *s, unsigned int cls)
{
	at_page_release(s->base, AT_SLAB_ORDER);
	win_put(&centrals[cls], s, cls);
}

/* Objects back to their slabs (class lock taken per batch of 64). */
static void slabs_put(unsigned int cls, void *const *objs, unsigned int n)
{
	struct central *c = &centrals[cls];
	uint32_t size = at_class_size[cls];
	struct at_slab *dead[64];
	unsigned int ndead = 0;

	while (n) {
		unsigned int batch = n < 64 ? n : 64;
		pthread_mutex_lock(&c->lock);
		for (unsigned int i = 0; i < batch; i++) {
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
				dead[ndead++] = s;
			}
		}
		pthread_mutex_unlock(&c->lock);
		for (unsigned int i = 0; i < ndead; i++)
			slab_release(dead[i], cls);
		ndead = 0;
		objs += batch;
		n -= batch;
	}
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
		while (dead) {
			struct at_slab *next = dead->next;
			slab_release(dead, cls);
			bytes += AT_SLAB_SIZE;
			dead = next;
		}
	}
	return bytes;
}
