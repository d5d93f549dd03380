/*
 * The small-object allocator: size classes, slabs and their out-of-band
 * metadata, per-object tag references.
 *
 * Size classes (AT_NR_CLASSES - 1 of them, class 0 unused): 16..128 in steps
 * of 16, then four per doubling (160 192 224 256, 320 .. 512, ..., 3584
 * 4096) with one more, 1088, just above 1024 (SQLite's 1032-byte requests,
 * 1024 + its 8-byte header, the most bytes live at its peak, waste 5%, not
 * 24% in 1280, and 60 fit a slab, not 51); from 4096 to 8192 the largest
 * size (a multiple of 16) of which k objects fill a slab, k = 15 .. 8
 * (4368 4672 5040 5456 5952 6544 7280 8192: a slab's tail wastes under 16
 * bytes, and SQLite's frequent 4104- and 4368-byte requests both fit 15 to
 * a slab, not 15 and 14); then four per doubling again (10240 .. 16384).
 * A resident slab costs its 64 KiB whatever its objects' sizes, so the
 * objects per slab, not the bytes per object, decide the RSS.  Every class
 * size is a multiple of 16 (malloc's alignment), and every power of two
 * from 16 to 16384 is a class, so an aligned request finds a class whose
 * objects are aligned (malloc.c).  Lookup: a table per 16 bytes up to 8192,
 * per 256 bytes above (every class there is a multiple of 256).
 *
 * Slabs: a slab is one order-4 block of the page allocator (64 KiB, aligned
 * to 64 KiB), allocated with AT_PG_SLAB | AT_PG_NO_CODETAG (the slab itself
 * is never charged; its objects are) and the size class in the head page's
 * class field; AT_PG_OWNER2 in the head's flags means "wide references".
 * Objects sit at offsets i * size, i < nobj = 65536 / size.  The slab of a
 * heap address is found with no search: the head page of its 64 KiB unit,
 * at_pages[(off >> 16) << 4], has AT_PG_SLAB iff the unit is a slab.
 *
 * Metadata, out of band: each slab has a window in a separate reservation
 * (at_meta_base, the heap's shadow: page.h at_heap_add_shadow, committed
 * by the kernel on first touch), sized to what its objects need:
 *
 *   -2 * nobj  uint16_t free stack: indexes of objects returned to the
 *              slab, growing down from the header (the k-th pushed at
 *              header - 2 * (k + 1); only slab.c uses it)
 *   +0         struct at_slab header (central lists, counts; central
 *              lock), 64-byte aligned
 *   +64        per-object references, nobj + 1 entries (AT_META_REFS), of
 *              the slab's width: 2 bytes narrow, 8 wide
 *
 * at_win_bytes(cls, wide) in all: 16450 bytes for the 16-byte class
 * narrow (41032 wide), 1090 for 256 bytes, 358 for 896, 82 for 16384; a
 * quarter of the slab at most narrow, 5/8 wide.  The stack's top, the
 * header and the first objects' entries (fresh objects are handed out
 * lowest first) lie together, so a slab with few objects out touches one
 * or two pages of its window whatever its class.  Windows are handed out
 * in the order slabs are made, one after the other from the shadow's start
 * (slab.c win_get: a bump offset, the header aligned up to 64 bytes; then
 * a free list per class and width), so the windows of a small program's
 * first slabs share pages, and under an address-space limit the shadow is
 * mapped as one growing prefix (page.h at_heap_shadow_cover): a class of
 * 256-byte objects takes 1.7-1.8% of its slabs' address space in windows,
 * the 16-byte class 25%.  A released slab's window goes on its class and
 * width's free list, its whole pages given back (MADV_DONTNEED), and is
 * reused only by a slab of the same class and width: its entries are all 0
 * (every object was free) and its layout the same, so a window never needs
 * clearing.  The shadow thus holds, per class and width, the most slabs it
 * had at once.
 * Everything that needs a slab's window reads it from the head page
 * descriptor (`ents` below, at_slab_of), never from the slab's address.
 * The address of the window's entries (window + AT_META_REFS) is kept in
 * the slab's head page descriptor (`ents`, over the free-list links an
 * allocated block has no use for: page.h), where free, which reads the
 * head's flags anyway, takes it with no class compare and no addition, as
 * a refill does for its batch (at_obj_entry_of); a thread cache keeps each
 * cached object's entry address (tcache.h).  The descriptor
 * after the head (the slab's second page: the same cache line, its links
 * as unused) holds what free needs of the class in one word (`cls`,
 * at_slab_cls): the class's magic number in its high 32 bits, its bin's
 * byte offset in a thread cache's bins (cls * sizeof(struct at_bin),
 * tcache.h) in its low 32, so that free reads them with no table lookup
 * (at_slab_class_of), and one product of the offset with the whole word
 * gives the object's index and the object-start check (at_obj_locate_cls).
 *
 * A slab's head flags: the page allocator writes AT_PG_HEAD and the flags
 * slab_new asks for (AT_PG_SLAB | AT_PG_NO_CODETAG, AT_PG_WIDE or
 * AT_PG_SECURE), the class and the rest above the low byte; AT_PG_EARLY
 * never comes with AT_PG_NO_CODETAG, AT_PG_BUDDY, AT_PG_DIRTY and the
 * owner bits of a large block's head never on a slab's.  So the low byte
 * of a narrow slab's head outside the stricter heap is exactly
 * AT_SLAB_NARROW_HEAD, which no other unit head's is: free tells such a
 * slab by one compare of that byte (at_slab_head_narrow).
 *
 * Per-object reference entries (one per object, also the object's state):
 *   narrow (uint16_t, 2 bytes): 0 = slot free, v > 0 = allocated, tag index
 *           v - 1 (0 none, 1 empty, >= 2 a tag).  Holds tag indexes up to
 *           AT_OBJ_NARROW_MAX = 65534.
 *   wide   (uint64_t, 8 bytes): 0 = slot free, AT_OBJ_LIVE | (uintptr_t)ref
 *           = allocated with reference ref (the side-table form: a pointer).
 * A slab's width is chosen when it is created: wide when the tag store is
 * the side table (ALLOCTAG=...,uncompressed), narrow otherwise (compressed,
 * never, or before start-up).  Both decode with no reference to the store
 * mode, so a run-time switch of the page store from compressed to side table
 * needs no migration here: existing narrow slabs keep working, new slabs are
 * wide, and an allocation whose tag index does not fit a narrow entry (only
 * possible once more than 65532 tags exist) is served from a wide slab
 * (malloc.c, narrow_overflow).
 *
 * Entry 0 means "free", which is what fresh (or MADV_DONTNEED'd) memory reads
 * as; the entry of index nobj (the one object start a slab's tail can hold,
 * past its last object: off % 64 KiB / size <= 65535 / size <= nobj) exists
 * and is never written, so free() needs no bound check;
 * every object is free when its slab is released, so windows never need
 * clearing (a window is reused by its class and width only).  free()
 * reads the entry before it writes anything: an entry of 0 is a double
 * free (or a pointer to a never-allocated slot).
 *
 * Cold classes: a class of AT_COLD_SIZE (4096) bytes or more takes its
 * objects from the page allocator, not from a slab, while fewer than
 * AT_COLD_LIVE of them are live and it has taken fewer than AT_COLD_MAX so
 * (in the whole process): each a block of the smallest order that holds the
 * class size (4096: one page; 4368 to 8192: two; 10240 to 16384: four),
 * aligned to its size, whose head page has the class in its class field and
 * no AT_PG_SLAB (a plain large block's class field is 0).  A small program's
 * few objects of these classes (python3's buffers of 4 to 16 KiB, each a
 * different size) then share the free blocks of the page allocator, which
 * merges and reuses them across sizes, where one slab per class kept each
 * class's own pages (python3 starting a thread: slabs of these classes would
 * touch 204 KiB for what needs 144 KiB pooled in pages;
 * bench/malloc/classpeaks.sh, BENCHMARKS.md "Small programs' peak RSS").
 * Such an object is what its class's slab object would be: usable size and
 * charge the class's (at_class_charge: at_cold_alloc takes the block
 * uncharged and charges the class's size to the reference it records,
 * objects/fold_cache.h at_fold_self; at_cold_free adds the difference to
 * the block's size back before the block is released, which uncharges
 * that size), found by free as a large block (at_large_free: the
 * unit head is not a slab), never grown in place by realloc, never cached by
 * a thread (its order is below AT_LC_MIN).  The stricter heap
 * (ALLOCTAG_SECURE) takes every object from slabs.  The bounds: a program
 * that uses a class hard pays at most AT_COLD_LIVE objects' page rounding
 * (4368 bytes in two pages, against 15 to a slab: 30 KiB for SQLite's most
 * frequent large request; with its first 64 from pages sqlite3's peak grew
 * by 0.3 MB), and a class that allocates more than AT_COLD_MAX objects takes
 * them from slabs for good, so that its objects' mallocs stop taking the
 * page allocator's lock (AT_COLD_MAX of them per class at most).
 *
 * Central lists (slab.c): per class, a mutex, the partial slabs (some
 * object not handed out), split by width, and a few whole batches in
 * transfer slots; thread caches (tcache.c) take and return objects in
 * batches.  The header's counts are changed only under the
 * class's lock.
 */
#ifndef AT_SLAB_H
#define AT_SLAB_H

#include <stddef.h>
#include <stdint.h>

#include "core/control.h"
#include "pages/page.h"
#include "store/tag_ref.h"

#define AT_SLAB_SHIFT 16
#define AT_SLAB_SIZE (1ul << AT_SLAB_SHIFT)
#define AT_SLAB_ORDER (AT_SLAB_SHIFT - AT_PAGE_SHIFT)
#define AT_NR_CLASSES 42 /* classes 1..41 */
#define AT_SMALL_MAX 16384u
#define AT_MIN_SIZE 16u
#define AT_BIN_HALF_MAX 64u /* the most objects a thread cache moves at once (tcache.h) */
#define AT_MAX_OBJS (AT_SLAB_SIZE / AT_MIN_SIZE)
#define AT_META_REFS 64u
#define AT_PG_WIDE AT_PG_OWNER2
#define AT_PG_SECURE AT_PG_OWNER1 /* the stricter heap's slab (secure.h) */
#define AT_COLD_CLS 29u    /* at_class_size[29] = AT_COLD_SIZE */
#define AT_COLD_SIZE 4096u
#define AT_COLD_LIVE 8
#define AT_COLD_MAX 32
#define AT_COLD_MAX_ORDER 2u /* 16384 bytes: below a thread cache's AT_LC_MIN */
#define AT_OBJ_LIVE (1ull << 63)
#ifndef AT_OBJ_NARROW_MAX /* a test build lowers it to reach the overflow */
#define AT_OBJ_NARROW_MAX 0xFFFEu
#endif

struct at_slab {
	struct at_slab *next, *prev; /* partial list of the class, if listed */
	uint16_t cls;
	uint16_t nobj;
	uint16_t used;  /* objects out of the slab (in caches or live) */
	uint16_t nfree; /* entries on the free stack */
	uint16_t fresh; /* objects [fresh, nobj) were never handed out */
	uint8_t wide;
	uint8_t listed;
	char *base; /* the slab's address */
};
_Static_assert(sizeof(struct at_slab) <= AT_META_REFS, "slab header size");

extern AT_HIDDEN char *at_meta_base;
/*
 * Why malloc's fast path (malloc.c) may not be taken, bits changed
 * atomically: AT_SLOW_EARLY while at_state is AT_STATE_EARLY (an allocation
 * marks the current tag inaccurate; cleared by init.c), AT_SLOW_WIDE for
 * good once the first wide slab is made (until then every entry is narrow),
 * AT_SLOW_DEBUG in debug mode (the checks are made on the slow path).
 */
#define AT_SLOW_EARLY 1u
#define AT_SLOW_WIDE 2u
#define AT_SLOW_DEBUG 4u
/* a byte of at_modes (core/control.h), starting at AT_SLOW_EARLY */
#define at_small_slow (at_modes.small_slow)
_Static_assert(AT_SLOW_EARLY == AT_MODES_EARLY, "at_small_slow starts EARLY");
extern AT_HIDDEN const uint16_t at_class_size[AT_NR_CLASSES];
/* What an object of a class is charged and its usable size: its size, but
 * with the stricter heap (secure.h) 16 bytes less below the largest. */
extern AT_HIDDEN uint16_t at_class_charge[AT_NR_CLASSES];
extern AT_HIDDEN uint8_t at_class_small[513]; /* (n + 15) / 16 -> class, n <= 8192 (0 too) */
extern AT_HIDDEN uint8_t at_class_mid[64];   /* (n - 1) >> 8 -> class, 8192 < n <= 16384 */
/* (n + 15) / 16 -> class * AT_BIN_BYTES, the class's bin offset in a
 * thread's bins (tcache.h at_small_bin), n <= 8192: at_class_small's (both
 * made from slab.c's one list of classes at compile time); a table of its
 * own so that malloc's fast path needs no shift of the class */
extern AT_HIDDEN uint16_t at_bin_small[513];
/* n -> the same bin offset for the most frequent sizes, n <=
 * AT_BIN_DIRECT_MAX: at_bin_small[(n + 15) / 16], indexed by n itself so
 * that malloc's fast path needs no rounding of n (2 instructions fewer);
 * 2 KiB, where a table for every n <= 8192 would take 16 KiB */
#define AT_BIN_DIRECT_MAX 1024u
extern AT_HIDDEN uint16_t at_bin_direct[AT_BIN_DIRECT_MAX + 1];
extern AT_HIDDEN uint32_t at_class_magic[AT_NR_CLASSES];
extern AT_HIDDEN uint16_t at_class_nobj[AT_NR_CLASSES];

/* Whether a request of n bytes is a small object's, with its class in
 * *cls: the sizes up to 8 KiB, the most frequent, with one compare. */
static inline __attribute__((always_inline)) int at_small_class(size_t n, unsigned int *cls)
{
	if (__builtin_expect(n <= 8192, 1)) {
		*cls = at_class_small[(n + 15) >> 4];
		return 1;
	}
	if (__builtin_expect(n <= AT_SMALL_MAX, 1)) {
		*cls = at_class_mid[(n - 1) >> 8];
		return 1;
	}
	return 0;
}

/* Class of a request of n <= AT_SMALL_MAX bytes. */
static inline unsigned int at_size_class(size_t n)
{
	if (n <= 8192)
		return at_class_small[(n + 15) >> 4];
	return at_class_mid[(n - 1) >> 8];
}

/* The bytes below a slab's header in its window: its free stack (the
 * layout above). */
static inline size_t at_win_below(unsigned int cls)
{
	return 2u * at_class_nobj[cls];
}

/* The bytes of a window of a slab of class cls and width wide, from its
 * stack's bottom to its last entry's end (the layout above). */
static inline size_t at_win_bytes(unsigned int cls, int wide)
{
	return at_win_below(cls) + AT_META_REFS + (wide ? 8u : 2u) * (at_class_nobj[cls] + 1u);
}

/* Entry k of the free stack of the slab whose header is s (k < nfree). */
static inline uint16_t *at_slab_stack_slot(struct at_slab *s, unsigned int k)
{
	return (uint16_t *)(void *)s - 1 - k;
}

#define AT_BIN_BYTES 32u /* sizeof(struct at_bin), tcache.h */

/* The second page descriptor's word of a slab of class cls (above). */
static inline uint64_t at_slab_cls(unsigned int cls)
{
	return (uint64_t)at_class_magic[cls] << 32 | cls * AT_BIN_BYTES;
}

/* A slab's class from its head page descriptor (the second page's). */
static inline unsigned int at_slab_class_of(const struct at_page *head)
{
	return (uint32_t)head[1].cls / AT_BIN_BYTES;
}

/* A slab's bin offset (the low half of its head's second descriptor's
 * word). */
static inline uint32_t at_slab_bin(const struct at_page *head)
{
	return (uint32_t)head[1].cls;
}

static inline uint32_t at_slab_magic(const struct at_page *head)
{
	return (uint32_t)(head[1].cls >> 32);
}

_Static_assert(AT_NR_CLASSES * AT_BIN_BYTES <= (1u << 11), "a bin offset fits 11 bits (at_obj_locate_cls)");
_Static_assert(AT_OBJ_NARROW_MAX < 0xFFFFu, "a bin's tag field (the index plus one) fits 16 bits");

#define AT_SLAB_NARROW_HEAD (AT_PG_HEAD | AT_PG_SLAB | AT_PG_NO_CODETAG)
_Static_assert(((AT_SLAB_NARROW_HEAD | AT_PG_WIDE | AT_PG_SECURE | AT_PG_EARLY) & ~0xFFull) == 0 &&
		       AT_CLASS_SHIFT >= 8 && AT_ORDER_SHIFT >= 8,
	       "the slab kind's flags are the flags word's low byte");

/* Whether unit head page head is a narrow slab's outside the stricter heap:
 * its flags' low byte (little-endian: the word's first) compared in memory
 * (above). */
static inline int at_slab_head_narrow(const struct at_page *head)
{
#if defined(__x86_64__) && defined(__GCC_ASM_FLAG_OUTPUTS__)
	typedef unsigned char __attribute__((may_alias)) byte_alias;
	int eq;
	__asm__("cmpb %2, %1" : "=@cce"(eq)
		: "m"(*(const byte_alias *)&head->flags), "i"((unsigned char)AT_SLAB_NARROW_HEAD));
	return eq;
#else
	return (uint8_t)AT_LOAD_RELAXED(&head->flags) == AT_SLAB_NARROW_HEAD;
#endif
}

static inline unsigned int at_page_class(uint64_t flags)
{
	return (unsigned int)AT_FIELD(flags, AT_CLASS_SHIFT, AT_CLASS_BITS);
}

/* Object index of heap offset off in a slab of class cls (off % 64 KiB / size). */
static inline uint32_t at_obj_index_m(uintptr_t off, uint32_t magic)
{
	return (uint32_t)(((off & (AT_SLAB_SIZE - 1)) * (uint64_t)magic) >> 32);
}

static inline uint32_t at_obj_index(uintptr_t off, unsigned int cls)
{
	return at_obj_index_m(off, at_class_magic[cls]);
}

/*
 * Locate heap offset off in a slab whose class has magic number magic:
 * *idx = off % 64 KiB / size, and whether off is an object's start, from
 * one product.  r = off % 64 KiB = q * size + m with m < size, magic =
 * ceil(2^32 / size) = (2^32 + e) / size with e < size.  The low 32 bits of
 * r * magic are q * e + m * magic: below 65536 when m = 0 (q * e < nobj *
 * size), at least magic >= 2^32 / 16384 = 262144 otherwise (and no wrap:
 * m * magic + q * e < 2^32 - 2^32 / size + size + 65536 <= 2^32).  So the
 * start check is one compare against magic.  Objects past nobj (the slab's
 * tail) are checked separately.
 */
static inline int at_obj_locate(uintptr_t off, uint32_t magic, uint32_t *idx)
{
	uint64_t prod = (off & (AT_SLAB_SIZE - 1)) * (uint64_t)magic;
	*idx = (uint32_t)(prod >> 32);
	return (uint32_t)prod < magic;
}

/*
 * The same from the second descriptor's whole word *cls (magic << 32 | bin,
 * bin < 2^11), r = off % 64 KiB: the 128-bit product r * cls is
 * (r * magic) * 2^32 + r * bin, where r * bin < 2^27 adds below the low 32
 * bits' place of r * magic and carries nowhere.  So its high 64 bits are
 * r * magic >> 32, the index, and its low 64 bits are the low 32 bits of r
 * * magic shifted up, plus r * bin: an object's start (low 32 bits below
 * 65536 <= magic - 1) makes them below (magic - 1) * 2^32 + 2^27 < *cls;
 * any other offset (low 32 bits >= magic, r >= 1) at least magic * 2^32 +
 * bin = *cls.  One multiply (x86-64: `mul` by the word in memory, the
 * index in %rdx) and one compare with the same word, for every class and
 * bin offset (checked exhaustively: every multiple of 16 up to 16384, every
 * offset below 64 KiB).
 */
static inline int at_obj_locate_cls(uint32_t r, const uint64_t *cls, uintptr_t *idx)
{
#if defined(__x86_64__) && defined(__GCC_ASM_FLAG_OUTPUTS__)
	uint64_t lo, hi;
	int start;
	/* %rdx early-clobbered: the word's address must not be in it */
	__asm__("mulq %3\n\tcmpq %3, %%rax" : "=a"(lo), "=&d"(hi), "=@ccb"(start)
		: "m"(*cls), "0"((uint64_t)r));
	(void)lo;
	*idx = hi;
	return start;
#else
	uint64_t w = *cls;
	unsigned __int128 prod = (unsigned __int128)r * w;
	*idx = (uintptr_t)(prod >> 64);
	return (uint64_t)prod < w;
#endif
}

/* The entries of the slab at heap offset off, read from its head page. */
static inline void *at_obj_entry(uintptr_t off)
{
	return AT_LOAD_RELAXED(&at_pages[(off >> AT_SLAB_SHIFT) << AT_SLAB_ORDER].ents);
}

/* The header of the slab at heap offset off (its window, wherever it is). */
static inline struct at_slab *at_slab_of(uintptr_t off)
{
	return (struct at_slab *)((char *)at_obj_entry(off) - AT_META_REFS);
}

/*
 * The narrow entry of object idx at address p (a heap address), from the
 * head page (a refill's batch and a bin's push of a freed object, tcache.h
 * at_bin_ents: with no branch on the class).
 */
static inline uint16_t *at_obj_entry_of(void *p, uint32_t idx)
{
	return (uint16_t *)at_obj_entry((uintptr_t)((char *)p - at_heap_base)) + idx;
}

/* Mark object idx of a narrow slab allocated with tag index ti <= AT_OBJ_NARROW_MAX. */
static inline void at_obj_set_narrow(uintptr_t off, uint32_t idx, uint32_t ti)
{
	AT_STORE_RELAXED((uint16_t *)at_obj_entry(off) + idx, (uint16_t)(ti + 1));
}

/*
 * Mark object idx allocated with reference ref.  Returns nonzero (and
 * writes nothing) if ref's index does not fit a narrow entry.
 */
static inline int at_obj_set(uintptr_t off, uint32_t idx, int wide, at_ref_t ref)
{
	if (wide) {
		AT_STORE_RELAXED((uint64_t *)at_obj_entry(off) + idx, AT_OBJ_LIVE | (uintptr_t)ref);
		return 0;
	}
	uint32_t ti = at_ref_to_idx(ref);
	if (at_unlikely(ti > AT_OBJ_NARROW_MAX))
		return 1;
	at_obj_set_narrow(off, idx, ti);
	return 0;
}

/* Object idx's entry (0: free), read before anything is written. */
static inline uint64_t at_obj_get(uintptr_t off, uint32_t idx, int wide)
{
	if (wide)
		return AT_LOAD_RELAXED((uint64_t *)at_obj_entry(off) + idx);
	return AT_LOAD_RELAXED((uint16_t *)at_obj_entry(off) + idx);
}

/* The entry's tag index (narrow entries hold it: no index -> tag lookup). */
static inline uint32_t at_obj_decode_idx(uint64_t e, int wide)
{
	if (wide)
		return at_ref_to_idx((at_ref_t)(uintptr_t)(e & ~AT_OBJ_LIVE));
	return (uint32_t)e - 1;
}

static inline void at_obj_clear(uintptr_t off, uint32_t idx, int wide)
{
	if (wide)
		AT_STORE_RELAXED((uint64_t *)at_obj_entry(off) + idx, 0);
	else
		AT_STORE_RELAXED((uint16_t *)at_obj_entry(off) + idx, 0);
}

/* The class of a large block's head flags f: a cold class's object (above),
 * or 0 for a plain large block. */
static inline unsigned int at_block_class(uint64_t f)
{
	return at_page_class(f);
}

/* Whether class c may still take objects from the page allocator (a cold
 * class not warm yet: slab.h "Cold classes"); cleared for good. */
extern AT_HIDDEN unsigned char at_class_cold[AT_NR_CLASSES];

/* slab.c */
AT_HIDDEN int at_slab_init(void);
/*
 * An object of cold class cls (AT_COLD_CLS and up) from the page allocator,
 * charged to the current tag as the page allocator charges, its class's
 * charge; NULL if the class is warm (its AT_COLD_MAX objects taken), in the
 * stricter heap, or if the page allocator has no block (the caller then
 * takes a slab's object).
 */
AT_HIDDEN void *at_cold_alloc(unsigned int cls);
/* Cold object p (head page pfn, flags f) is about to be released by the
 * page allocator, which uncharges its block's size: its charge made that. */
AT_HIDDEN void at_cold_free(uint32_t pfn, uint64_t f);
/* The bytes (not the calls) charged to the reference of the block whose head
 * page is pfn moved by d: a block charged less than its size. */
AT_HIDDEN void at_block_recharge(uint32_t pfn, int64_t d);
/*
 * Take up to want free objects of class cls (entries already 0); how many
 * (0: errno = ENOMEM).  wide: 0 prefer narrow slabs, 1 prefer wide, 2 wide only.
 */
AT_HIDDEN unsigned int at_slab_refill(unsigned int cls, void **out, unsigned int want, int wide);
/* Return n free objects of class cls to their slabs. */
AT_HIDDEN void at_slab_flush(unsigned int cls, void *const *objs, unsigned int n);
/* Free object p of class cls back to its slab if the class's lock is free
 * (no wait): 1; 0, nothing done, when another thread holds it. */
AT_HIDDEN int at_slab_put_try(unsigned int cls, void *p);
/* The objects (and their bytes) held in the classes' transfer slots
 * (slab.c); every class lock held. */
AT_HIDDEN void at_slab_xfer_stats(size_t *count, size_t *bytes);
/* Release every entirely free slab, after emptying the transfer slots
 * (malloc_trim); returns their bytes. */
AT_HIDDEN size_t at_slab_trim(void);
AT_HIDDEN void at_slab_lock_all(void);
AT_HIDDEN void at_slab_unlock_all(void);
AT_HIDDEN void at_slab_fork_child(void); /* fork's child: the locks put back (fork_locks.h) */

#endif
