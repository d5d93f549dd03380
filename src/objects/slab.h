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
 * Metadata, out of band: a separate reservation (at_meta_base, the heap's
 * shadow: as large as the heap's and grown with it, committed by the kernel
 * on first touch, page.h at_heap_add_shadow) holds one 64 KiB window
 * per 64 KiB heap unit, at the same offset.  A slab's window:
 *
 *   +0      struct at_slab header (central lists, counts; central lock)
 *   +64     per-object references, nobj + 1 entries (AT_META_REFS), room
 *           for wide ones (8 bytes each) whatever the slab's width
 *   +64 + 8 * (nobj + 1)   uint16_t free stack: indexes of objects
 *           returned to the slab (at_slab_stack; only slab.c uses it)
 * for the classes below AT_COMPACT_SIZE (at most 41032 bytes: the smallest
 * class, wide).  A slab of the classes from AT_COMPACT_SIZE up (at most 73
 * objects: 64 + 8 * 74 + 2 * 73 = 802 bytes) has a compact window instead,
 * 1 KiB, and the compact windows of 16 consecutive units share the last
 * 16 KiB of the first unit's 64 KiB window:
 *
 *   unit u, class < AT_COMPACT_CLS:  shadow + u * 64 KiB
 *   unit u, class >= AT_COMPACT_CLS: shadow + (u & ~15) * 64 KiB + 48 KiB
 *                                    + (u & 15) * 1 KiB
 *
 * (the first unit's own window, if it is a slab of a small class, ends
 * below 48 KiB).
 *
 * Slot windows: a narrow slab of the classes from AT_SLOT_CLS (160 bytes)
 * below AT_COMPACT_CLS (not the stricter heap's) has its header and
 * entries in its unit's compact window (at_win_compact), which a unit of
 * those classes does not otherwise use: 64 + 2 * (nobj + 1) bytes, at
 * most 884, fit its 1 KiB.  Four slabs' headers and entries share a page
 * of metadata, where each touched a page of its own 64 KiB window (a small
 * program's first slab of each class: 7 of `git status`'s 23 pages of
 * metadata).  Its free stack, written only when objects come back to the
 * slab, stays at the big window's offset in the unit's own window
 * (at_slab_stack, from the offset and the class); a released slot
 * window's entries are all 0, and its stack's pages are given back.  The
 * classes below 160 bytes have more entries than a slot holds (128
 * bytes: 1090 bytes of header and entries) and keep their big windows.
 * Everything that needs a slab's window reads it from the head page
 * descriptor (`ents` below, at_slab_of), not from the class: which
 * window a slab of the slot classes has depends on its width.  So four slabs of large objects share one page of
 * metadata, where each touched a page of its own: 1/16 of their memory
 * (1.5 MB of sqlite3's peak).  A released slab's entries are all 0 and
 * slab_new writes the header, so all a released compact window needs is
 * its free stack cleared (it may lie under the next slab's entries); a big
 * window's pages are given back (MADV_DONTNEED).
 * The address of the window's entries (window + AT_META_REFS) is kept in
 * the slab's head page descriptor (`ents`, over the free-list links an
 * allocated block has no use for: page.h), where free, which reads the
 * head's flags anyway, takes it with no class compare and no addition, as
 * a refill does for its batch (at_obj_entry_of); a thread cache keeps each
 * cached object's entry address (tcache.h).  The descriptor
 * after the head (the slab's second page: the same cache line, its links
 * as unused) holds what free needs of the class (`cls`): the class's magic
 * number (at_obj_locate) and its bin's byte offset in a thread cache's bins
 * (cls * sizeof(struct at_bin), tcache.h), so that free reads them with no
 * table lookup (at_slab_class_of).
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
 * clearing.  free() reads the entry before it writes anything: an entry of 0
 * is a double free (or a pointer to a never-allocated slot).
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
 * charge the class's (at_class_charge; the page allocator charges the
 * block's size to the block's reference, at_cold_alloc takes the difference
 * off the bytes, not the calls, and at_cold_free puts it back before the
 * block is released), found by free as a large block (at_large_free: the
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
#define AT_COMPACT_CLS 19u    /* at_class_size[19] = AT_COMPACT_SIZE */
#define AT_COMPACT_SIZE 896u
#define AT_WIN_COMPACT 1024u  /* a compact window */
#define AT_WIN_GROUP_SHIFT 20 /* 16 units share their compact windows */
#define AT_WIN_COMPACT_AT (48u << 10)
#define AT_SLOT_CLS 9u        /* at_class_size[9] = 160: slot windows from here */
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

/* a big window's pages (released whole) end below the compact windows */
_Static_assert(((AT_META_REFS + 8u * (AT_MAX_OBJS + 1) + 2u * AT_MAX_OBJS + 4095u) & ~4095u) <=
		       AT_WIN_COMPACT_AT,
	       "metadata window too small");
_Static_assert(AT_META_REFS + 8u * (AT_SLAB_SIZE / AT_COMPACT_SIZE + 1) +
			       2u * (AT_SLAB_SIZE / AT_COMPACT_SIZE) +
			       2u * (AT_SLAB_SIZE / AT_COMPACT_SIZE + 1) <= AT_WIN_COMPACT,
	       "compact window too small");
_Static_assert(AT_META_REFS + 2u * (AT_SLAB_SIZE / 160u + 1) <= AT_WIN_COMPACT &&
		       AT_META_REFS + 2u * (AT_SLAB_SIZE / 128u + 1) > AT_WIN_COMPACT,
	       "a slot window holds the narrow header and entries from 160 bytes, not 128");
_Static_assert(AT_WIN_COMPACT_AT + (16u * AT_WIN_COMPACT) <= AT_SLAB_SIZE &&
		       (1u << (AT_WIN_GROUP_SHIFT - AT_SLAB_SHIFT)) == 16u,
	       "16 compact windows in a unit's window");

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

/* The offset in the shadow of the window of the slab at heap offset (or,
 * the heap being arena-aligned, heap address) off, of class cls. */
/* The compact window's offset of the unit at heap offset (or address) off
 * (the layout above). */
static inline uintptr_t at_win_compact(uintptr_t off)
{
	return (off & ~((1ul << AT_WIN_GROUP_SHIFT) - 1)) + AT_WIN_COMPACT_AT +
	       ((off >> (AT_SLAB_SHIFT - 10)) & (15ul << 10));
}

static inline uintptr_t at_win_off(uintptr_t off, unsigned int cls)
{
	if (at_likely(cls < AT_COMPACT_CLS))
		return off & ~(AT_SLAB_SIZE - 1);
	return at_win_compact(off);
}

/* The window of a slab at heap offset off, of class cls, by the class
 * alone: big or compact (a slot window's slab keeps only its free stack in
 * the big one). */
static inline struct at_slab *at_slab_meta(uintptr_t off, unsigned int cls)
{
	return (struct at_slab *)(at_meta_base + at_win_off(off, cls));
}

/* The shadow window's free stack, after room for wide references (see the
 * window above). */
static inline uint16_t *at_win_stack(struct at_slab *w, unsigned int nobj)
{
	return (uint16_t *)((char *)w + AT_META_REFS + 8u * (nobj + 1u));
}

/* The free stack of the slab at heap offset off, of class cls (in the
 * compact window for the compact classes, else at the big window's offset,
 * a slot window's slab's too). */
static inline uint16_t *at_slab_stack(uintptr_t off, unsigned int cls)
{
	return at_win_stack(at_slab_meta(off, cls), at_class_nobj[cls]);
}

#define AT_BIN_BYTES 32u /* sizeof(struct at_bin), tcache.h */

/* A slab's class from its head page descriptor (the second page's). */
static inline unsigned int at_slab_class_of(const struct at_page *head)
{
	return head[1].cls.bin / AT_BIN_BYTES;
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
 * at_bin_ents: with no branch on the class or the window's kind).
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

/*
 * The parts of the shadow a slab of class cls at heap offset off may use
 * (the layout above), for a shadow mapped piece by piece (under an
 * address-space limit: page.h at_heap_add_shadow, page_alloc.c): below
 * AT_COMPACT_CLS its unit's own 64 KiB window (a big window, or a slot
 * window's free stack), from AT_SLOT_CLS its group's 16 compact windows.
 * So a slab of the large classes needs 16 KiB per MiB of heap, not 64 KiB
 * per 64 KiB.  The number of parts, 1 or 2, in lo[] and len[].
 */
static inline unsigned int at_slab_shadow_parts(uintptr_t off, unsigned int cls, uintptr_t lo[2],
						size_t len[2])
{
	unsigned int n = 0;
	if (cls < AT_COMPACT_CLS) {
		lo[n] = off & ~(AT_SLAB_SIZE - 1);
		len[n++] = AT_SLAB_SIZE;
	}
	if (cls >= AT_SLOT_CLS) {
		lo[n] = (off & ~((1ul << AT_WIN_GROUP_SHIFT) - 1)) + AT_WIN_COMPACT_AT;
		len[n++] = AT_WIN_COMPACT * 16u;
	}
	return n;
}

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
