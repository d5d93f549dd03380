/*
 * The page allocator: a binary buddy allocator per arena.
 *
 * Orders 0..AT_MAX_ORDER (18): a block of order k is 2^k pages (4 KiB ..
 * 1 GiB), starts at a pfn that is a multiple of 2^k, and, since the heap
 * base is aligned to AT_ARENA_SIZE, at an address aligned to its size.
 *
 * The top: an arena's pages from `top` to its end were never handed out
 * and have no block (their descriptors are 0, never written); a request no
 * free block can serve is carved there (carve: at top rounded up to its
 * size, the pages skipped freed as blocks), so that a process touches the
 * descriptors of what it uses.  (Splitting the arena's one order-18 block
 * wrote the head of a free buddy at pfn 2^k for every k: ten descriptor
 * pages, 40 KiB resident in every process, 256 pages apart.)  A freed
 * block never merges across the top; the top never moves down.
 *
 * Invariants (arena lock held to change any of them):
 *  - [first_pfn, top) is tiled by blocks, free or allocated;
 *  - every free block's head has AT_PG_BUDDY and its order in its flags and
 *    is on exactly one list, free_head[order] of its arena; every other page
 *    of a free block has flags 0;
 *  - every allocated block's head has AT_PG_HEAD and its order;
 *  - two free buddies of the same order never coexist: a freed block merges
 *    with its buddy (pfn ^ 2^k) while that buddy is free with the same order.
 * Hence, with Robson's bound for power-of-two buddy heaps, no request that
 * fits in a free block is refused, and splitting costs at most AT_MAX_ORDER
 * steps, coalescing likewise.
 *
 * Memory: the heap is reserved PROT_NONE (Reservation, below); an arena's
 * 2 MiB chunks are made read-write (committed) the first time a block in
 * them is handed out, counting against ALLOCTAG_HEAP_MAX.  (A stray write
 * past what was ever handed out faults.  Chunks are committed upward from
 * the arena's start, as blocks are carved, so the committed ones join one
 * mapping with the metadata below them.  Without an address-space limit
 * the heap is mapped read-write with the metadata, one system call at
 * start-up, and made PROT_NONE above the first block at its commit:
 * commit.)  A chunk committed for a block of
 * 2 MiB or more (whole chunks, the user's alone) is advised MADV_HUGEPAGE;
 * one committed for smaller blocks (slabs) is not: a huge page there is
 * resident whole from the first touch of any of its slabs (a small program
 * paid 2 MiB for 76 KiB touched, sqlite3 and git 8-35% of their peak RSS),
 * its first fault zeroes 2 MiB, and purging a block inside it splits it
 * (BENCHMARKS.md, "Start, fork and small programs").
 * Descriptors live out of band (at_pages[]), where a user's overflow cannot
 * reach them.
 *
 * Tag references are recorded under the arena lock (tag_ref.h); counters are
 * updated outside it.
 *
 * Purging: blocks the allocators give back to the system (at_page_release:
 * idle slabs, large blocks) become free blocks marked AT_PG_DIRTY, still
 * resident, so that reusing them soon costs no page faults, with the time
 * of the release in their head's spare bits (page.h).  A split of a dirty
 * block is dirty with its time; a merge is dirty if either half is, with
 * the earlier of the halves' times.  a->dirty counts the pages released
 * since the last purge (plus the young ones it kept), less those handed
 * out again from dirty blocks (at_page_grow's absorbed buddies included:
 * uncounted, realloc's growth kept the count high and the purges coming)
 * (not the dirty blocks' sizes: a 64 KiB slab released beside a free,
 * never touched 512 MiB buddy made the count jump by 512 MiB).  When it
 * passes purge_limit() (AT_PURGE_PAGES or half the heap's committed
 * memory, whichever is larger; mallopt's M_TRIM_THRESHOLD if set), or
 * AT_PURGE_MS after the last purge, and at least AT_PURGE_AGE_MS after it,
 * the releasing thread purges the arena: takes every dirty free block
 * released AT_PURGE_AGE_MS ago or earlier off its list (so no one can be
 * handed it), drops the lock, MADV_DONTNEEDs them, and frees them back
 * clean, until none is left; the younger ones stay, and count as dirty.
 * (Purging every dirty block, young ones included, purged memory about to
 * be handed out again: bench/malloc mixed, whose heap is half free and
 * whose free blocks are all reused within 10 ms, took 60000-70000 page
 * faults where mimalloc took 25000, and ran at half its speed.)  RSS thus
 * follows live data: a block not handed out again is purged at the first
 * release AT_PURGE_AGE_MS after it once the arena holds purge_limit()
 * dirty pages, or AT_PURGE_MS after the last purge.  malloc_trim purges
 * every dirty block at once, and so does a release past a threshold set
 * by mallopt (M_TRIM_THRESHOLD), whatever the blocks' age.
 */
#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

#include "store/charge.h"
#include "store/debug.h"
#include "pages/early.h"
#include "core/fork_locks.h"
#include "core/counters.h"
#include "core/message.h"
#include "core/tag_registry.h"
#include "modules/tag_area.h"
#include "pages/page.h"
#include "core/peak_hook.h"
#include "store/store_migrate.h"
#include "core/retry_once.h"

#define CHUNK_SHIFT 21
#define CHUNK_SIZE (1ul << CHUNK_SHIFT)
#define CHUNKS_PER_ARENA (AT_ARENA_SIZE / CHUNK_SIZE)
#define PURGE_BATCH 64
#define PURGE_ROUNDS 64

struct arena {
	pthread_mutex_t lock;
	uint32_t first_pfn;
	uint32_t top; /* pages from here to the arena's end: never carved */
	uint32_t free_head[AT_MAX_ORDER + 1];
	uint32_t dirty;      /* pages in dirty free blocks */
	uint32_t last_purge; /* now_ms() of the last purge */
	uint64_t committed[CHUNKS_PER_ARENA / 64];
};

char *at_heap_base = AT_HEAP_UNSET;
size_t at_heap_span;
struct at_page *at_pages;
AT_FORK_TAIL static struct arena arenas[AT_NR_ARENAS]; /* arena 0's lock with the others */
static unsigned int nr_arenas; /* arenas [0, nr_arenas) are set up */
AT_FORK_LOCK static pthread_mutex_t grow_lock = PTHREAD_MUTEX_INITIALIZER;
static size_t heap_limit, heap_committed;
AT_DATA_PAGE static struct at_retry_once heap_once = AT_RETRY_ONCE_INIT;
static uint32_t purge_pages; /* mallopt's M_TRIM_THRESHOLD, in pages, once purge_set */
static unsigned char purge_set;

/* Dirty pages an arena may hold before a release purges it: the larger of
 * AT_PURGE_PAGES and half the heap's committed memory, unless mallopt set
 * it.  (A fixed 32 MiB purged bench/malloc mixed's 90 MB working set over
 * and over: 1.7 GB advised away, 250000 faults; with half the heap, 35000
 * faults, RSS +5%.) */
static inline uint32_t purge_limit(void)
{
	if (AT_LOAD_RELAXED(&purge_set))
		return AT_LOAD_RELAXED(&purge_pages);
	size_t half = AT_LOAD_RELAXED(&heap_committed) >> (AT_PAGE_SHIFT + 1);
	return half > AT_PURGE_PAGES ? (half > UINT32_MAX ? UINT32_MAX : (uint32_t)half)
				     : AT_PURGE_PAGES;
}

/* A free block head's bits beyond BUDDY, order and arena: AT_PG_DIRTY,
 * AT_PG_ZERO and, with AT_PG_DIRTY, the time of its last release. */
#define FREE_BITS (AT_PG_DIRTY | AT_PG_ZERO | AT_PG_RELEASED_MASK)

/* The bits of two free blocks merged: dirty if either is, zero if both
 * are, released when the earlier of the dirty ones was (so that a block
 * released beside a free one that has waited long is purged with it,
 * rather than keeping it resident for as long as releases merge into it). */
static inline uint64_t merge_bits(uint64_t x, uint64_t y)
{
	if (!(x & AT_PG_DIRTY))
		return (x & y & AT_PG_ZERO) | (y & (AT_PG_DIRTY | AT_PG_RELEASED_MASK));
	if (!(y & AT_PG_DIRTY))
		return x & (AT_PG_DIRTY | AT_PG_RELEASED_MASK);
	uint32_t tx = at_pg_released(x), ty = at_pg_released(y);
	return ((int32_t)(tx - ty) < 0 ? x : y) & (AT_PG_DIRTY | AT_PG_RELEASED_MASK);
}

static void free_list_push(struct arena *a, uint32_t pfn, unsigned int order, unsigned int id,
			   uint64_t dirty)
{
	struct at_page *pg = &at_pages[pfn];
	uint32_t head = a->free_head[order];
	pg->next = head;
	pg->prev = AT_PFN_NIL;
	if (head != AT_PFN_NIL)
		at_pages[head].prev = pfn;
	a->free_head[order] = pfn;
	AT_STORE_RELAXED(&pg->flags, AT_PG_BUDDY | (dirty & FREE_BITS) | ((uint64_t)order << AT_ORDER_SHIFT) |
					     ((uint64_t)id << AT_ARENA_ID_SHIFT));
}

/* Take free block pfn off its list; returns its FREE_BITS. */
static uint64_t free_list_del(struct arena *a, uint32_t pfn, unsigned int order)
{
	struct at_page *pg = &at_pages[pfn];
	uint64_t dirty = pg->flags & FREE_BITS;
	if (pg->prev != AT_PFN_NIL)
		at_pages[pg->prev].next = pg->next;
	else
		a->free_head[order] = pg->next;
	if (pg->next != AT_PFN_NIL)
		at_pages[pg->next].prev = pg->prev;
	AT_STORE_RELAXED(&pg->flags, 0);
	return dirty;
}

static void arena_setup(unsigned int id)
{
	struct arena *a = &arenas[id];
	a->lock = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER; /* no libc call at start-up */
	a->first_pfn = id << AT_MAX_ORDER;
	for (unsigned int k = 0; k <= AT_MAX_ORDER; k++)
		a->free_head[k] = AT_PFN_NIL;
	a->top = a->first_pfn; /* every page never committed: AT_PG_ZERO when carved */
}

/* Every lock (grow lock first, then arenas in order): fork, store switch. */
void at_page_lock_all(void)
{
	pthread_mutex_lock(&grow_lock);
	for (unsigned int i = 0; i < nr_arenas; i++)
		pthread_mutex_lock(&arenas[i].lock);
}

void at_page_unlock_all(void)
{
	for (unsigned int i = nr_arenas; i-- > 0;)
		pthread_mutex_unlock(&arenas[i].lock);
	pthread_mutex_unlock(&grow_lock);
}

/* fork(): the locks, when the process has had threads (core/fork_locks.h) */
static void fork_prepare(void)
{
	if (at_fork_locking())
		at_page_lock_all();
}

static void fork_parent(void)
{
	if (at_fork_locking())
		at_page_unlock_all();
}

AT_FORK_TEXT static void fork_child(void)
{
	at_fork_child_reset(&grow_lock, (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER);
	for (unsigned int i = 0; i < nr_arenas; i++)
		at_fork_child_reset(&arenas[i].lock, (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER);
}

void at_page_lock_pfn(uint32_t pfn)
{
	pthread_mutex_lock(&arenas[pfn >> AT_MAX_ORDER].lock);
}

void at_page_unlock_pfn(uint32_t pfn)
{
	pthread_mutex_unlock(&arenas[pfn >> AT_MAX_ORDER].lock);
}

/*
 * Every allocated block's head, with every lock held (at_page_lock_all):
 * each arena is tiled by blocks up to its top, each starting with a head
 * that says BUDDY (free) or HEAD (allocated) and gives the order, so the
 * walk hops block to block.
 */
void at_page_each_head(void (*fn)(uint32_t pfn, uint64_t flags, void *ctx), void *ctx)
{
	for (unsigned int id = 0; id < nr_arenas; id++) {
		uint32_t pfn = arenas[id].first_pfn, end = arenas[id].top;
		while (pfn < end) {
			uint64_t f = at_pages[pfn].flags;
			if (f & AT_PG_HEAD)
				fn(pfn, f, ctx);
			pfn += 1u << at_page_order(f);
		}
	}
}

/*
 * Reservation: one mapping for the runtime metadata and the heap, so that
 * a fork copies few mappings and the metadata's first pages share
 * page-table pages:
 *
 *   meta:   the shared-object tag area | the counters (per CPU, used
 *           downward) | page descriptors (at_pages[], for heap_span_max)
 *           | the tag registry's table (used downward)   (the area, the
 *           counters and the registry only when start-up plans
 *           profiling: at_heap_plan)
 *   shadow: the small-object metadata windows (at_heap_add_shadow)
 *   heap:   the arenas, aligned to AT_ARENA_SIZE, PROT_NONE until committed
 *
 * A process touches each of these large arrays at one end: the
 * descriptors, the shadow and the heap at their starts (pfn, heap offset),
 * the counters and the registry at the end where their first tag indexes
 * are (counters.h, tag_registry.h).  Each 2 MiB region a process touches
 * costs a page-table page, copied by every fork, so the ends meet: the
 * counters' first group (a page per CPU) ends FIRST_SPLIT into a 2 MiB
 * region where the descriptors begin, and the registry ends
 * REGISTRY_FIRST into the one where the shadow begins (meta_layout).  A
 * small process's metadata thus takes two page-table pages however many
 * CPUs it ran on (it took three, and one more for each further CPU), and
 * those two and the shadow's start lie in one 1 GiB region (one
 * page-middle-directory page): the descriptors begin FIRST_SPLIT past a
 * 1 GiB boundary, the tag area and the counters below it (what lies
 * between their end and the area's start is never touched).  The heap's
 * first pages take a third 2 MiB region and a second 1 GiB one: its base
 * is aligned to AT_ARENA_SIZE (blocks aligned to their size, above), so
 * nothing else lies in its first arena's 1 GiB region, and the three
 * arrays used upward (descriptors, shadow, heap) cannot all begin where
 * one used downward ends.  Sharing that region would need the metadata
 * carved from the first arena's range and the shadow used downward from
 * the descriptors' start.
 *
 * meta and the shadow are read-write and MAP_NORESERVE (the kernel commits
 * a page at its first touch; nothing of theirs is mprotect'ed later).
 * Without an address-space limit (RLIMIT_AS) all of it, the heap
 * included, is mapped read-write at once, one mapping made by one system
 * call (the heap reserved PROT_NONE and the metadata mapped read-write
 * over it took two, about 3 us of every process start; the heap above its
 * first block is made PROT_NONE when that block is committed, in place of
 * the first chunk's mprotect), its end NEAR_GAP
 * below this library when that range is free (MAP_FIXED_NOREPLACE, no
 * alignment slack), else wherever the kernel places it (never over a range another mapping
 * holds, as a sanitizer's runtime or another allocator may reserve for
 * itself): meta at a 1 GiB boundary and the shadow right after it, then
 * the heap at the next arena boundary AT_HEAP_SIZE on.
 *
 * Under a limit, or where the whole reservation is refused (valgrind's
 * address-space manager refuses it), every reserved byte counts against
 * the limit, PROT_NONE or not, so nothing is reserved ahead of need
 * beyond a step: meta and AT_HEAP_GROW_STEP of heap at first, placed,
 * when the address is free, in a window at a random 1 GiB-aligned address
 * between 16 and 80 TiB (16 bits from the stack's and this library's
 * placement and the time stamp counter: no system call), far below where
 * the kernel puts mappings (top-down from near 128 TiB) and the
 * executable: meta right below the heap, free to grow upward.  When every
 * arena refuses a block, grow() extends the reservation (reserve_to, one
 * MAP_FIXED_NOREPLACE mapping joining the last) by AT_HEAP_GROW_STEP or
 * what the block needs at the last arena's top, halving the step down to
 * that when the limit refuses it, and starts a new arena when the last is
 * full; so the heap takes address space as it is used until the limit is
 * reached, leaving the rest to the program's other mappings.  The
 * descriptors cover as many arenas as the limit could ever hold (16 bytes
 * a page: 16 MiB under 4 GB).  The shadow lies AT_HEAP_SIZE above the
 * heap and is mapped as a growing prefix (MAP_FIXED_NOREPLACE, SHADOW_STEP
 * ahead, or just what is asked when the limit refuses that): the slabs'
 * windows are handed out from its start one after the other, sized to
 * their objects (objects/slab.h; at_heap_shadow_cover, under a class lock,
 * shadow_lock taken under it).  A shadow as large
 * as the heap, reserved with it, held the heap to one 1 GiB arena under
 * `ulimit -v 4000000`.  Profiling's parts (tag area 320 MiB, registry
 * 8 MiB, counters 32 MiB a CPU), reserved whole they took 424 MiB of it on
 * 2 CPUs, are sparse too, 2 * AT_HEAP_SIZE above the heap (sparse_setup):
 * mapped 64 KiB at a time as the tag area commits its slots and strings
 * (at_meta_cover) and as tag indexes are covered (at_meta_cover_idx: the
 * area's slots' indexes, the core tags' at registry start-up).  When
 * growing fails (the limit, or the address taken), at_heap_full() says so
 * and large blocks are mapped directly (huge.c); a slab whose windows
 * cannot be mapped is not handed out.
 */
#define WINDOW_LOW (16ull << 40)
#define WINDOW_SLOTS 65536u /* 1 GiB steps (16 random bits): up to 80 TiB */
#define META_ALIGN (64ul << 10)
/* Without a limit the heap ends at least this far below this library (the
 * libraries the loader mapped after it, libc's, lie in between): the small
 * mappings made later (the preload library's tables, thread caches) find
 * room right below the libraries, in their page-table pages, rather than
 * below the reservation. */
#define NEAR_GAP (64ul << 20)
#define SHADOW_STEP (256ul << 10) /* limited: the shadow is mapped this far ahead */
/* Unlimited, profiling planned: the 2 MiB region (one page-table page) the
 * counters' first groups share with the descriptors' first (FIRST_SPLIT of
 * each: 256 pages of counter groups, the first group's every CPU below 255 ids
 * covered, counters.h; 256 MiB of heap), and the one the registry's
 * first entries share with the shadow's first windows (REGISTRY_FIRST of
 * entries: 8192 tag indexes; the windows of the heap's first 2 MiB less
 * that). */
#define PT_REGION (2ul << 20)
#define FIRST_SPLIT (1ul << 20)
#define REGISTRY_FIRST (64ul << 10)

static char *shadow_base; /* 0: no shadow yet */
static int heap_as_full;
/* Unlimited: the whole heap still read-write, as map_aligned mapped it
 * with its metadata, until the first commit (commit); rw_end: the end of
 * that mapping (the heap's, or its alignment slack's). */
static unsigned char heap_rw;
static char *rw_end;
static size_t heap_span_max; /* what the descriptors cover */
/* The shadow's bytes mapped, a prefix of it (all of it without a limit). */
static size_t shadow_top;
/* Taken only under a class lock (slab.c), and nothing is taken under it. */
static pthread_mutex_t shadow_lock = PTHREAD_MUTEX_INITIALIZER;
/* Limited, profiling planned: the tag area, the registry's table and the
 * counters sparse, 2 * AT_HEAP_SIZE above the heap, mapped SPARSE_GRAIN at
 * a time (at_meta_cover, at_meta_cover_idx; at_registry_lock held). */
#define SPARSE_GRAIN_SHIFT 16
#define SPARSE_FIRST_IDX 2048u /* indexes covered from the start */
static char *sparse_base; /* NULL: the parts are in meta (or their own) */
static size_t sparse_len;
static uint64_t *sparse_mapped;
static uint32_t sparse_idx; /* indexes [0, sparse_idx) covered */
static unsigned char heap_no_profiling; /* at_heap_plan(0): no registry nor counters */
static char *meta_ptr[AT_META_KINDS];
static size_t meta_len[AT_META_KINDS];

void at_heap_plan(int profiling)
{
	heap_no_profiling = !profiling;
}

void *at_heap_meta(unsigned int which, size_t bytes)
{
	return which < AT_META_KINDS && meta_len[which] == bytes ? meta_ptr[which] : NULL;
}

void *at_meta_map(unsigned int which, size_t bytes)
{
	void *p = at_heap_meta(which, bytes);
	return p ? p
		 : mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
}

/* mmap at exactly addr, or MAP_FAILED (no replacing, no moving). */
static void *map_at(void *addr, size_t len, int prot)
{
	void *p = mmap(addr, len, prot,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
	if (p != MAP_FAILED && p != addr) { /* a kernel that took it as a hint */
		munmap(p, len);
		return MAP_FAILED;
	}
	return p;
}

/* [base - lead, base + len) with base aligned to the arena size (lead and
 * len multiples of the page size); base, or NULL.  Not limited, all of it
 * read-write in one mmap (heap_rw), and the alignment's slack stays mapped
 * (no munmap): up to an arena below the lead and above the heap, each
 * joining its neighbour.  Limited, the lead read-write and the rest
 * PROT_NONE (commit makes chunks usable as they are handed out). */
static char *map_aligned(size_t lead, size_t len, int limited)
{
	char *lo, *base;
	size_t big;
	int prot = limited ? PROT_NONE : PROT_READ | PROT_WRITE;
	if (!limited) { /* nothing to grow into: below this library */
		uintptr_t near = ((uintptr_t)&heap_span_max - NEAR_GAP - len) & ~(AT_ARENA_SIZE - 1);
		base = (char *)near;
		if (near > lead + NEAR_GAP && near < (uintptr_t)&heap_span_max &&
		    map_at(base - lead, lead + len, prot) != MAP_FAILED) {
			rw_end = base + len;
			return base;
		}
		goto anywhere; /* taken: where the kernel likes */
	}
	/* Not AT_RANDOM: its bytes are libc's stack and pointer guards, and
	 * the heap's address must not tell them.  The kernel's own placement
	 * of the stack and of this library, and the time stamp counter, mixed. */
	int local;
	uint64_t x = (uint64_t)(uintptr_t)&local ^ ((uint64_t)(uintptr_t)&heap_span_max << 17);
#if defined(__x86_64__)
	x ^= __builtin_ia32_rdtsc();
#endif
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull; /* murmur3's finalizer */
	x ^= x >> 33;
	base = (char *)(uintptr_t)(WINDOW_LOW + ((x % WINDOW_SLOTS) << AT_ARENA_SHIFT));
	lo = base - lead;
	big = lead + len;
	if (map_at(lo, big, PROT_NONE) != MAP_FAILED)
		goto lead_rw;
anywhere:
	big = lead + len + AT_ARENA_SIZE;
	lo = mmap(NULL, big, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (lo == MAP_FAILED) /* a limit that leaves room for lead + len only */
		lo = mmap(NULL, big = lead + len, prot,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (lo == MAP_FAILED)
		return NULL;
	base = (char *)(((uintptr_t)lo + lead + AT_ARENA_SIZE - 1) & ~(AT_ARENA_SIZE - 1));
	if (base + len > lo + big) { /* the small retry was not aligned: give up */
		munmap(lo, big);
		return NULL;
	}
	if (!limited) {
		rw_end = lo + big;
		return base;
	}
	/* the heap grows into what lies above it */
	if (base - lead > lo)
		munmap(lo, (size_t)(base - lead - lo));
	if (lo + big > base + len)
		munmap(base + len, (size_t)((lo + big) - (base + len)));
	lo = base - lead;
	big = lead + len;
lead_rw:
	/* over our own PROT_NONE range (mmap: no other libc call to bind) */
	if (mmap(lo, (size_t)(base - lo), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) == MAP_FAILED) {
		munmap(lo, big);
		return NULL;
	}
	return base;
}

static size_t align_up(size_t n, size_t a)
{
	return (n + a - 1) & ~(a - 1);
}

static int sparse_setup(char *at, const size_t *len);

/* Unlimited: where each part of meta (len[], 0 for a part not planned)
 * lies, off[] from the reservation's start (a 1 GiB boundary), and the
 * shadow's offset, which is returned (Reservation: the parts used downward
 * end where a part used upward, or the shadow, begins, inside one 2 MiB
 * region). */
static size_t meta_layout(const size_t *len, size_t *off)
{
	off[AT_META_AREA] = 0;
	off[AT_META_PAGES] = 0;
	if (len[AT_META_COUNTERS])
		off[AT_META_PAGES] = align_up(len[AT_META_AREA] + len[AT_META_COUNTERS] + FIRST_SPLIT,
					      AT_ARENA_SIZE) + FIRST_SPLIT;
	off[AT_META_COUNTERS] = off[AT_META_PAGES] - len[AT_META_COUNTERS];
	size_t end = off[AT_META_PAGES] + len[AT_META_PAGES];
	if (!len[AT_META_REGISTRY]) {
		off[AT_META_REGISTRY] = end;
		return align_up(end, META_ALIGN);
	}
	size_t shadow = align_up(end + len[AT_META_REGISTRY], PT_REGION) + REGISTRY_FIRST;
	off[AT_META_REGISTRY] = shadow - len[AT_META_REGISTRY];
	return shadow;
}

/* Run until it succeeds (retry_once.h): a failure leaves nothing mapped. */
static int heap_setup(void)
{
	struct rlimit rl;
	size_t span = AT_HEAP_SIZE;
	heap_span_max = AT_HEAP_SIZE;
	if (!getrlimit(RLIMIT_AS, &rl) && rl.rlim_cur != RLIM_INFINITY) {
		size_t n = (rl.rlim_cur + AT_ARENA_SIZE - 1) / AT_ARENA_SIZE;
		span = AT_ARENA_SIZE;
		heap_span_max = n < AT_NR_ARENAS ? n * AT_ARENA_SIZE : AT_HEAP_SIZE;
	}
	size_t len[AT_META_KINDS] = {(heap_span_max >> AT_PAGE_SHIFT) * sizeof(struct at_page)};
	if (!heap_no_profiling) {
		len[AT_META_REGISTRY] = at_registry_bytes();
		len[AT_META_COUNTERS] = at_counters_bytes();
		len[AT_META_AREA] = at_area_bytes();
	}
	/* unlimited: meta, the shadow, the heap at the next arena boundary */
	size_t off[AT_META_KINDS];
	size_t meta = meta_layout(len, off);
	size_t lead = align_up(meta + AT_HEAP_SIZE, AT_ARENA_SIZE);
	char *base = span < AT_HEAP_SIZE ? NULL : map_aligned(lead, span, 0);
	if (base) {
		heap_rw = 1;
		shadow_base = base - lead + meta;
		shadow_top = AT_HEAP_SIZE;
		for (unsigned int k = 0; k < AT_META_KINDS; k++) {
			meta_ptr[k] = len[k] ? base - lead + off[k] : NULL;
			meta_len[k] = len[k];
		}
	} else {
		/* under the limit, or no room for the whole reservation at once
		 * (valgrind's address space, a kernel with a small map count or
		 * overcommit rules): meta and AT_HEAP_GROW_STEP of heap now, more as
		 * it is needed */
		span = AT_HEAP_GROW_STEP;
		base = map_aligned(lead = align_up(len[AT_META_PAGES], META_ALIGN), span, 1);
		if (!base)
			return ENOMEM;
		/* profiling's parts sparse, 2 * AT_HEAP_SIZE above the heap
		 * (above the shadow's range), else their owners' own */
		if (len[AT_META_REGISTRY])
			sparse_setup(base + 2 * AT_HEAP_SIZE, len);
		meta_ptr[AT_META_PAGES] = base - lead;
		meta_len[AT_META_PAGES] = len[AT_META_PAGES];
	}
	at_pages = (struct at_page *)(void *)meta_ptr[AT_META_PAGES];
	arena_setup(0);
	nr_arenas = 1;
	pthread_atfork(fork_prepare, fork_parent, fork_child);
	static const struct at_store_pages ops = {
		at_page_lock_all, at_page_unlock_all, at_page_lock_pfn, at_page_unlock_pfn,
		at_page_each_head,
	};
	at_store_set_pages(&ops);
	AT_STORE(&at_heap_span, span);
	AT_STORE(&at_heap_base, base);
	return 0;
}

int at_heap_add_shadow(char **basep)
{
	if (at_heap_init())
		return -ENOMEM;
	pthread_mutex_lock(&grow_lock);
	if (!shadow_base) /* limited: AT_HEAP_SIZE above the heap, mapped as it is used */
		shadow_base = at_heap_base + AT_HEAP_SIZE;
	AT_STORE(basep, shadow_base);
	pthread_mutex_unlock(&grow_lock);
	return 0;
}

int at_heap_shadow_cover(size_t end)
{
	if (at_likely(end <= AT_LOAD_RELAXED(&shadow_top)))
		return 0;
	if (end > AT_HEAP_SIZE)
		return -ENOMEM;
	int err = 0;
	pthread_mutex_lock(&shadow_lock);
	size_t top = shadow_top, want = align_up(end, AT_PAGE_SIZE);
	if (end > top) {
		size_t to = top + SHADOW_STEP > want ? top + SHADOW_STEP : want;
		if (to > AT_HEAP_SIZE)
			to = want;
		if (map_at(shadow_base + top, to - top, PROT_READ | PROT_WRITE) == MAP_FAILED &&
		    (to == want || map_at(shadow_base + top, (to = want) - top,
					   PROT_READ | PROT_WRITE) == MAP_FAILED))
			err = -ENOMEM;
		else
			AT_STORE(&shadow_top, to);
	}
	pthread_mutex_unlock(&shadow_lock);
	return err;
}

/* The first grain in [g, e) whose bit in map is `set` (0 or 1), or e:
 * a word at a time (the counters' first groups are 65 grains a word of
 * CPU ids covers, counters.h). */
static size_t grain_find(const uint64_t *map, size_t g, size_t e, int set)
{
	while (g < e) {
		uint64_t w = AT_LOAD(&map[g / 64]);
		w = (set ? w : ~w) >> (g % 64);
		if (w)
			return g + (size_t)__builtin_ctzll(w) < e ? g + (size_t)__builtin_ctzll(w) : e;
		g = (g / 64 + 1) * 64;
	}
	return e;
}

/* [lo, lo + len) of a sparse range at base mapped read-write, in grains of
 * 1 << shift bytes, map a bit per grain (set once mapped): 0, or -ENOMEM
 * (the limit, or the address taken).  The caller serialises. */
static int sparse_cover(char *base, uint64_t *map, uintptr_t lo, size_t len, unsigned int shift)
{
	size_t g = lo >> shift, e = (lo + len + (1ul << shift) - 1) >> shift;
	while ((g = grain_find(map, g, e, 0)) < e) {
		size_t r = grain_find(map, g + 1, e, 1); /* [g, r): a run not mapped */
		if (map_at(base + (g << shift), (r - g) << shift, PROT_READ | PROT_WRITE) == MAP_FAILED)
			return -ENOMEM;
		while (g < r) { /* their bits set, a word at a time */
			size_t n = 64 - g % 64 < r - g ? 64 - g % 64 : r - g;
			uint64_t m = (n == 64 ? ~0ull : (1ull << n) - 1) << (g % 64);
			__atomic_fetch_or(&map[g / 64], m, __ATOMIC_RELEASE);
			g += n;
		}
	}
	return 0;
}

int at_meta_cover_idx(uint32_t end)
{
	if (!sparse_base || end <= sparse_idx)
		return 0;
	/* both used from their ends down (tag_registry.h; counters.h: whole
	 * groups of every CPU's) */
	char *reg = meta_ptr[AT_META_REGISTRY] + meta_len[AT_META_REGISTRY];
	char *cnt = meta_ptr[AT_META_COUNTERS] + meta_len[AT_META_COUNTERS];
	size_t cnt_len = (size_t)((end + AT_COUNTERS_GROUP - 1) / AT_COUNTERS_GROUP) *
			 (meta_len[AT_META_COUNTERS] / (AT_IDX_MAX / AT_COUNTERS_GROUP));
	if (sparse_cover(sparse_base, sparse_mapped,
			 (uintptr_t)(reg - sparse_base) - (size_t)end * sizeof(void *),
			 (size_t)end * sizeof(void *), SPARSE_GRAIN_SHIFT) ||
	    sparse_cover(sparse_base, sparse_mapped, (uintptr_t)(cnt - sparse_base) - cnt_len,
			 cnt_len, SPARSE_GRAIN_SHIFT))
		return -ENOMEM;
	sparse_idx = end;
	return 0;
}

int at_meta_cover(const void *p, size_t len)
{
	const char *c = p, *area = meta_ptr[AT_META_AREA];
	if (!sparse_base || c < sparse_base || c + len > sparse_base + sparse_len)
		return 0;
	if (sparse_cover(sparse_base, sparse_mapped, (uintptr_t)(c - sparse_base), len,
			 SPARSE_GRAIN_SHIFT))
		return -ENOMEM;
	/* tag slots: their indexes' registry entries and counters too */
	size_t end = (size_t)(c + len - area);
	if (c >= area && end <= AT_AREA_TAG_BYTES)
		return at_meta_cover_idx(at_area_slot_idx(
			(end + sizeof(struct alloc_tag) - 1) / sizeof(struct alloc_tag)));
	return 0;
}

/* Limited: profiling's parts (len[], the sizes at_heap_plan asked for)
 * placed, sparse, at `at` (area, registry, counters), the first indexes
 * covered.  0, or -ENOMEM (the parts then left to their owners). */
static int sparse_setup(char *at, const size_t *len)
{
	static const unsigned char order[] = {AT_META_AREA, AT_META_REGISTRY, AT_META_COUNTERS};
	size_t total = 0;
	for (unsigned int i = 0; i < sizeof order; i++)
		total += align_up(len[order[i]], 1ul << SPARSE_GRAIN_SHIFT);
	size_t bytes = align_up(((total >> SPARSE_GRAIN_SHIFT) + 63) / 64 * 8, AT_PAGE_SIZE);
	void *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		return -ENOMEM;
	sparse_mapped = m;
	sparse_len = total;
	char *p = at;
	for (unsigned int i = 0; i < sizeof order; i++) {
		meta_ptr[order[i]] = p;
		meta_len[order[i]] = len[order[i]];
		p += align_up(len[order[i]], 1ul << SPARSE_GRAIN_SHIFT);
	}
	sparse_base = at;
	if (at_meta_cover_idx(SPARSE_FIRST_IDX)) {
		sparse_base = NULL;
		for (unsigned int i = 0; i < sizeof order; i++)
			meta_ptr[order[i]] = NULL, meta_len[order[i]] = 0;
		return -ENOMEM;
	}
	return 0;
}

int at_heap_full(void)
{
	return AT_LOAD_RELAXED(&heap_as_full);
}

/* The heap's reservation extended to at least `bytes` from its base (AT_HEAP_GROW_STEP
 * or more at a time, down to what is needed if that is refused): 1 grown,
 * 0 it was already, -1 refused (the limit, or the address above taken:
 * at_heap_full).  grow_lock held. */
static int reserve_to(size_t bytes)
{
	size_t span = at_heap_span;
	if (bytes <= span)
		return 0;
	if (bytes <= heap_span_max) {
		size_t want = align_up(bytes - span, CHUNK_SIZE);
		size_t step = want < AT_HEAP_GROW_STEP ? AT_HEAP_GROW_STEP : want;
		if (step > heap_span_max - span)
			step = heap_span_max - span;
		for (;;) {
			if (map_at(at_heap_base + span, step, PROT_NONE) != MAP_FAILED) {
				AT_STORE(&at_heap_span, span + step);
				return 1;
			}
			if (step == want)
				break;
			step = step / 2 > want ? align_up(step / 2, CHUNK_SIZE) : want;
		}
	}
	AT_STORE(&heap_as_full, 1);
	return -1;
}

int at_heap_init(void)
{
	return at_retry_once(&heap_once, heap_setup);
}

void at_heap_set_limit(size_t bytes)
{
	AT_STORE_RELAXED(&heap_limit, bytes);
}

size_t at_heap_committed(void)
{
	return AT_LOAD_RELAXED(&heap_committed);
}

/*
 * Make the chunks under [pfn, pfn + 2^order) usable.  Arena lock held.
 * Unlimited, the heap is mapped read-write (map_aligned: one system call
 * at start-up, where a PROT_NONE reservation and the metadata mapped over
 * it took two); the first commit, the first block ever handed out (arena
 * 0 is the only arena until it is full: grow), makes the rest of the heap
 * PROT_NONE in the call that made its first chunk read-write before, so
 * that a stray write past what was handed out faults from then on.
 */
static int commit(struct arena *a, uint32_t pfn, unsigned int order)
{
	size_t off = (size_t)(pfn - a->first_pfn) << AT_PAGE_SHIFT;
	size_t end = off + (AT_PAGE_SIZE << order);
	int rw = AT_LOAD_RELAXED(&heap_rw);
	for (size_t c = off >> CHUNK_SHIFT; c < (end + CHUNK_SIZE - 1) >> CHUNK_SHIFT; c++) {
		if (a->committed[c / 64] & (1ull << (c % 64)))
			continue;
		size_t now = __atomic_add_fetch(&heap_committed, CHUNK_SIZE, __ATOMIC_RELAXED);
		char *addr = at_pfn_to_addr(a->first_pfn) + (c << CHUNK_SHIFT);
		size_t limit = AT_LOAD_RELAXED(&heap_limit);
		if ((limit && now > limit) ||
		    (!rw && mprotect(addr, CHUNK_SIZE, PROT_READ | PROT_WRITE))) {
			__atomic_sub_fetch(&heap_committed, CHUNK_SIZE, __ATOMIC_RELAXED);
			return -ENOMEM;
		}
		/* Transparent huge pages for a block of whole chunks (see above). */
		if (order >= CHUNK_SHIFT - AT_PAGE_SHIFT)
			madvise(addr, CHUNK_SIZE, MADV_HUGEPAGE);
		a->committed[c / 64] |= 1ull << (c % 64);
	}
	if (at_unlikely(rw)) {
		char *from = at_pfn_to_addr(a->first_pfn) + align_up(end, CHUNK_SIZE);
		if (from < rw_end) /* failing, the heap stays read-write: nothing lost */
			mprotect(from, (size_t)(rw_end - from), PROT_NONE);
		AT_STORE_RELAXED(&heap_rw, 0);
	}
	return 0;
}

/* Free [pfn, pfn + 2^order) into its arena, merging buddies; `dirty` its
 * AT_PG_DIRTY and AT_PG_ZERO bits.  Lock held. */
static void buddy_put(struct arena *a, unsigned int id, uint32_t pfn, unsigned int order,
		      uint64_t dirty)
{
	AT_STORE_RELAXED(&at_pages[pfn].flags, 0);
	while (order < AT_MAX_ORDER) {
		uint32_t b = pfn ^ (1u << order);
		uint64_t f = AT_LOAD_RELAXED(&at_pages[b].flags);
		if (!(f & AT_PG_BUDDY) || at_page_order(f) != order)
			break;
		dirty = merge_bits(dirty, free_list_del(a, b, order));
		pfn &= ~(1u << order);
		order++;
	}
	free_list_push(a, pfn, order, id, dirty);
}

/* A block of `order` at the top (rounded up to its size), the pages
 * skipped given to the free lists (merging with free blocks below); the
 * block's pfn, or AT_PFN_NIL when the arena has no room.  Lock held. */
static uint32_t carve(struct arena *a, unsigned int id, unsigned int order)
{
	uint32_t size = 1u << order, end = a->first_pfn + (1u << AT_MAX_ORDER);
	size_t reserved = AT_LOAD_RELAXED(&at_heap_span) >> AT_PAGE_SHIFT;
	if (end > reserved) /* under a limit: the arena reserved up to here */
		end = (uint32_t)reserved;
	uint32_t pfn = (a->top + size - 1) & ~(size - 1);
	if (pfn >= end || end - pfn < size)
		return AT_PFN_NIL;
	while (a->top < pfn) {
		unsigned int k = (unsigned int)__builtin_ctz(a->top); /* top < pfn <= end: not 0 */
		while (a->top + (1u << k) > pfn)
			k--;
		uint32_t b = a->top;
		a->top += 1u << k;
		buddy_put(a, id, b, k, AT_PG_ZERO);
	}
	a->top = pfn + size;
	return pfn;
}

/* Take a block of `order` from the arena, splitting, or carving it at the
 * top; *bits gets its AT_PG_DIRTY and AT_PG_ZERO bits.  Lock held. */
static uint32_t buddy_take(struct arena *a, unsigned int id, unsigned int order, uint64_t *bits)
{
	unsigned int k = order;
	while (k <= AT_MAX_ORDER && a->free_head[k] == AT_PFN_NIL)
		k++;
	uint32_t pfn;
	uint64_t dirty;
	if (k > AT_MAX_ORDER) {
		if ((pfn = carve(a, id, order)) == AT_PFN_NIL)
			return AT_PFN_NIL;
		k = order;
		dirty = AT_PG_ZERO;
	} else {
		pfn = a->free_head[k];
		dirty = free_list_del(a, pfn, k);
	}
	while (k > order) {
		k--;
		free_list_push(a, pfn + (1u << k), k, id, dirty);
	}
	*bits = dirty;
	if (dirty & AT_PG_DIRTY) /* released pages reused: fewer left to purge */
		a->dirty -= a->dirty < (1u << order) ? a->dirty : (1u << order);
	if (at_unlikely(commit(a, pfn, order))) {
		buddy_put(a, id, pfn, order, dirty);
		return AT_PFN_NIL;
	}
	return pfn;
}

/* Room for a block of `order` when every arena refused it: a new arena
 * since the caller looked (`seen` arenas), else the last arena's
 * reservation extended to hold the block at its top, else a new arena.
 * 1: grown, try again from the last arena; 0: no room; 2: the last
 * arena's reservation holds the block already (another thread grew it
 * since the caller's try, or the commit failed: ALLOCTAG_HEAP_MAX): the
 * caller tries again at most GROW_RETRIES times. */
#define GROW_RETRIES 64
static int grow(unsigned int seen, unsigned int order)
{
	int ok = 0;
	pthread_mutex_lock(&grow_lock);
	unsigned int n = nr_arenas;
	if (n > seen) {
		ok = 1;
	} else {
		uint32_t size = 1u << order, end = n << AT_MAX_ORDER;
		pthread_mutex_lock(&arenas[n - 1].lock);
		uint32_t at = (arenas[n - 1].top + size - 1) & ~(size - 1);
		pthread_mutex_unlock(&arenas[n - 1].lock);
		if (at + size <= end) {
			int r = reserve_to((size_t)(at + size) << AT_PAGE_SHIFT);
			ok = r > 0 ? 1 : r == 0 ? 2 : 0;
		} else if (n < AT_NR_ARENAS && reserve_to((size_t)(end + size) << AT_PAGE_SHIFT) >= 0) {
			arena_setup(n);
			AT_STORE(&nr_arenas, n + 1);
			ok = 1;
		}
	}
	pthread_mutex_unlock(&grow_lock);
	return ok;
}

/* at_page_alloc_raw, the reference given: what the block records and is
 * charged to if the state is READY (else unused).  With `current`, the
 * reference is the current tag's, taken after the one read of the state
 * (at_alloc_state) that decides whether the block is early or charged: a
 * second read could see a later state than the first and leave the block
 * neither early nor charged.  zero, if not NULL, gets 1 when every byte of
 * the block is known to be 0 (AT_PG_ZERO), else 0.  With uncharged not
 * NULL the block is not charged: *uncharged gets the reference it records
 * when the state is READY (the caller charges it), AT_REF_NONE otherwise. */
static inline __attribute__((always_inline)) void *page_alloc(unsigned int order,
							     uint64_t extra_flags, at_ref_t ref,
							     int current, int *zero,
							     at_ref_t *uncharged)
{
	if (at_unlikely(order > AT_MAX_ORDER)) {
		errno = EINVAL;
		return NULL;
	}
	if (at_unlikely(AT_LOAD(&at_heap_base) == AT_HEAP_UNSET) && at_heap_init()) {
		errno = ENOMEM;
		return NULL;
	}
	unsigned char state;
	if (current) {
		state = at_alloc_state();
		if (state == AT_STATE_READY && !(extra_flags & AT_PG_NO_CODETAG))
			ref = at_current_ref();
	} else {
		state = AT_LOAD_RELAXED(&at_state);
	}

	unsigned int n = AT_LOAD(&nr_arenas), fits = 0;
	for (unsigned int id = 0;; id++) {
		if (id == n) {
			int g = grow(n, order);
			if (!g || (g == 2 && ++fits > GROW_RETRIES))
				break;
			id = n - 1; /* its reservation may have grown; then any new one */
			n = AT_LOAD(&nr_arenas);
		}
		struct arena *a = &arenas[id];
		pthread_mutex_lock(&a->lock);
		uint64_t bits;
		uint32_t pfn = buddy_take(a, id, order, &bits);
		if (pfn == AT_PFN_NIL) {
			pthread_mutex_unlock(&a->lock);
			continue;
		}
		uint64_t flags = AT_PG_HEAD | extra_flags | ((uint64_t)order << AT_ORDER_SHIFT) |
				 ((uint64_t)id << AT_ARENA_ID_SHIFT);
		if (at_unlikely(AT_LOAD_RELAXED(&alloctag_debug_key)) && state == AT_STATE_READY)
			ref = at_debug_page_alloc(pfn, ref, extra_flags);
		if (state)
			flags |= at_page_ref_init(pfn, ref);
		AT_STORE(&at_pages[pfn].flags, flags);
		pthread_mutex_unlock(&a->lock);
		if (state == AT_STATE_READY) {
			if (uncharged)
				*uncharged = ref;
			else
				at_charge(ref, (int64_t)AT_PAGE_SIZE << order);
		} else if (state == AT_STATE_EARLY)
			at_early_page(pfn, flags);
		if (!(extra_flags & AT_PG_NO_CODETAG)) /* after the charge: a recording sees it */
			at_peak_add((int64_t)AT_PAGE_SIZE << order);
		if (zero)
			*zero = !!(bits & AT_PG_ZERO);
		return at_pfn_to_addr(pfn);
	}
	errno = ENOMEM;
	return NULL;
}

/* page_alloc with the current tag's reference, one copy of it for the
 * three entries below (each copy was 1.1 KiB of the text's first 64 KiB,
 * where the allocator's paths under ALLOCTAG=never lie: text_order.ld). */
static AT_NOINLINE void *page_alloc_current(unsigned int order, uint64_t extra_flags, int *zero,
					    at_ref_t *uncharged)
{
	return page_alloc(order, extra_flags, AT_REF_NONE, 1, zero, uncharged);
}

void *at_page_alloc_raw(unsigned int order, uint64_t extra_flags)
{
	return page_alloc_current(order, extra_flags, NULL, NULL);
}

void *at_page_alloc_zeroed(unsigned int order, int *zero)
{
	return page_alloc_current(order, 0, zero, NULL);
}

void *at_page_alloc_uncharged(unsigned int order, uint64_t extra_flags, at_ref_t *ref)
{
	*ref = AT_REF_NONE;
	return page_alloc_current(order, extra_flags, NULL, ref);
}

struct at_page *at_page_checked(const void *addr, unsigned int order, const char *what)
{
	uint32_t pfn = at_addr_to_pfn(addr);
	if (at_unlikely(pfn == AT_PFN_NIL || ((uintptr_t)addr & (AT_PAGE_SIZE - 1))))
		at_fatal("%s(%p): not a block alloctag handed out", what, addr);
	uint64_t f = AT_LOAD_RELAXED(&at_pages[pfn].flags);
	if (at_unlikely(!(f & AT_PG_HEAD))) {
		if (f & AT_PG_BUDDY)
			at_fatal("%s(%p): double free (the block is already free)", what, addr);
		at_fatal("%s(%p): not the start of an allocated block", what, addr);
	}
	if (at_unlikely(at_page_order(f) != order))
		at_fatal("%s(%p, order %u): the block was allocated with order %u", what, addr,
			 order, at_page_order(f));
	return &at_pages[pfn];
}

static uint32_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

/* Purge arena a's dirty free blocks released `age` ms or more before
 * `now` (lock held; dropped and retaken): see "Purging" above. */
static size_t purge(struct arena *a, unsigned int id, uint32_t now, uint32_t age)
{
	size_t done = 0;
	a->last_purge = now;
	for (int round = 0; round < PURGE_ROUNDS; round++) {
		uint32_t pfn[PURGE_BATCH], young = 0;
		unsigned int ord[PURGE_BATCH], n = 0;
		uint64_t zero[PURGE_BATCH];
		for (unsigned int k = 0; k <= AT_MAX_ORDER && n < PURGE_BATCH; k++) {
			uint32_t p = a->free_head[k];
			while (p != AT_PFN_NIL && n < PURGE_BATCH) {
				uint32_t next = at_pages[p].next;
				uint64_t f = AT_LOAD_RELAXED(&at_pages[p].flags);
				if ((f & AT_PG_DIRTY) && now - at_pg_released(f) < age) {
					young += 1u << k;
				} else if (f & AT_PG_DIRTY) {
					free_list_del(a, p, k);
					pfn[n] = p;
					ord[n++] = k;
				}
				p = next;
			}
		}
		if (!n) { /* none left old enough: the rest is the young ones */
			a->dirty = young;
			break;
		}
		pthread_mutex_unlock(&a->lock);
		for (unsigned int i = 0; i < n; i++) /* 0 once the pages are dropped */
			zero[i] = madvise(at_pfn_to_addr(pfn[i]), AT_PAGE_SIZE << ord[i],
					  MADV_DONTNEED) ? 0 : AT_PG_ZERO;
		pthread_mutex_lock(&a->lock);
		for (unsigned int i = 0; i < n; i++) {
			buddy_put(a, id, pfn[i], ord[i], zero[i]);
			done += (size_t)1 << ord[i];
		}
	}
	return done;
}

static void free_block(void *addr, unsigned int order, uint64_t dirty)
{
	struct at_page *pg = at_page_checked(addr, order, "at_free_pages");
	uint32_t pfn = (uint32_t)(pg - at_pages);
	unsigned int id = pfn >> AT_MAX_ORDER;
	struct arena *a = &arenas[id];
	uint32_t idx = AT_IDX_NULL;

	pthread_mutex_lock(&a->lock);
	uint64_t f = AT_LOAD_RELAXED(&at_pages[pfn].flags);
	if (at_unlikely(!(f & AT_PG_HEAD))) {
		pthread_mutex_unlock(&a->lock);
		at_fatal("at_free_pages(%p): double free (freed concurrently)", addr);
	}
	unsigned char state = AT_LOAD_RELAXED(&at_state);
	if (state)
		idx = at_page_ref_take_idx(pfn, f);
	uint32_t now = dirty ? now_ms() : 0;
	if (dirty)
		dirty |= (uint64_t)now << AT_PG_RELEASED_SHIFT;
	buddy_put(a, id, pfn, order, dirty);
	if (dirty) {
		uint32_t since = now - a->last_purge;
		a->dirty += 1u << order;
		/* mallopt's threshold is the user's: kept to, every dirty block
		 * purged, as glibc trims at once */
		uint32_t age = AT_LOAD_RELAXED(&purge_set) ? 0 : AT_PURGE_AGE_MS;
		if (since >= age && (a->dirty > purge_limit() || since > AT_PURGE_MS))
			purge(a, id, now, age);
	}
	pthread_mutex_unlock(&a->lock);
	if (at_unlikely(AT_LOAD_RELAXED(&alloctag_debug_key)) && state == AT_STATE_READY)
		at_debug_page_free(addr, f, at_idx_to_ref(idx));
	at_uncharge_idx(idx, (int64_t)AT_PAGE_SIZE << order);
	if (!(f & AT_PG_NO_CODETAG))
		at_peak_add(-((int64_t)AT_PAGE_SIZE << order));
}

void at_page_free_raw(void *addr, unsigned int order)
{
	free_block(addr, order, 0);
}

void at_page_release(void *addr, unsigned int order)
{
	free_block(addr, order, AT_PG_DIRTY);
}

int at_page_grow(void *addr, unsigned int order, unsigned int new_order)
{
	uint32_t pfn = at_addr_to_pfn(addr);
	if (new_order > AT_MAX_ORDER || new_order <= order || (pfn & ((1u << new_order) - 1)) ||
	    pfn + (1u << new_order) > AT_LOAD_RELAXED(&at_heap_span) >> AT_PAGE_SHIFT)
		return 0;
	unsigned int id = pfn >> AT_MAX_ORDER;
	struct arena *a = &arenas[id];
	int ok = 0;
	pthread_mutex_lock(&a->lock);
	/* the buddies to absorb: free blocks, up to the top (past it: none) */
	for (unsigned int k = order; k < new_order && pfn + (1u << k) < a->top; k++) {
		uint64_t f = AT_LOAD_RELAXED(&at_pages[pfn + (1u << k)].flags);
		if (!(f & AT_PG_BUDDY) || at_page_order(f) != k)
			goto out;
	}
	if (commit(a, pfn, new_order))
		goto out;
	for (unsigned int k = order; k < new_order && pfn + (1u << k) < a->top; k++)
		if (free_list_del(a, pfn + (1u << k), k) & AT_PG_DIRTY) /* released pages reused */
			a->dirty -= a->dirty < (1u << k) ? a->dirty : (1u << k);
	if (a->top < pfn + (1u << new_order))
		a->top = pfn + (1u << new_order);
	uint64_t old = AT_LOAD_RELAXED(&at_pages[pfn].flags), nf;
	do {
		nf = (old & ~AT_ORDER_MASK) |
		     ((uint64_t)new_order << AT_ORDER_SHIFT);
	} while (!__atomic_compare_exchange_n(&at_pages[pfn].flags, &old, nf, 1, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	ok = 1;
out:
	pthread_mutex_unlock(&a->lock);
	if (ok)
		at_peak_add((int64_t)(AT_PAGE_SIZE << new_order) - (int64_t)(AT_PAGE_SIZE << order));
	return ok;
}

void *at_alloc_pages_noprof(unsigned int order)
{
	return at_page_alloc_raw(order, 0);
}

/* A block charged to tag (NULL unless profiling is on, which implies READY). */
static inline __attribute__((always_inline)) void *pages_with(unsigned int order,
							     struct alloc_tag *tag)
{
	return page_alloc(order, 0, tag ? AT_LOAD(&tag->canon) : AT_REF_NONE, 0, NULL, NULL);
}

void *at_alloc_pages_tag_noprof(struct alloc_tag *tag, unsigned int order)
{
	return AT_TAG_ENTRY(tag, pages_with, at_alloc_pages_noprof, order);
}

void at_free_pages(void *addr, unsigned int order)
{
	if (!addr)
		return;
	at_page_free_raw(addr, order);
}

/* Introspection (objects/malloc_info.c): every lock held. */
void at_page_free_stats(size_t *nblocks, size_t *dirty_bytes)
{
	size_t n = 0, d = 0;
	for (unsigned int id = 0; id < nr_arenas; id++) {
		for (unsigned int k = 0; k <= AT_MAX_ORDER; k++)
			for (uint32_t p = arenas[id].free_head[k]; p != AT_PFN_NIL; p = at_pages[p].next)
				n++;
		d += (size_t)arenas[id].dirty << AT_PAGE_SHIFT;
	}
	*nblocks = n;
	*dirty_bytes = d;
}

size_t at_page_trim(void)
{
	size_t done = 0;
	unsigned int n = AT_LOAD(&nr_arenas);
	for (unsigned int id = 0; id < n; id++) {
		struct arena *a = &arenas[id];
		pthread_mutex_lock(&a->lock);
		done += purge(a, id, now_ms(), 0) << AT_PAGE_SHIFT;
		pthread_mutex_unlock(&a->lock);
	}
	return done;
}

void at_page_set_purge_threshold(size_t bytes)
{
	size_t pages = bytes >> AT_PAGE_SHIFT;
	AT_STORE_RELAXED(&purge_pages, pages > UINT32_MAX ? UINT32_MAX : (uint32_t)pages);
	AT_STORE_RELAXED(&purge_set, 1);
}
