/*
 * Compiler helpers shared by every runtime file.  Names: at_* internal
 * across files (hidden from the shared library's exports), plain static
 * inside one file, alloctag_* / at_*_noprof public.
 */
#ifndef AT_COMPILER_H
#define AT_COMPILER_H

#define ALLOCTAG_INTERNAL 1
#include "alloctag.h"

#define AT_HIDDEN __attribute__((visibility("hidden")))
#define at_likely(x) __builtin_expect(!!(x), 1)
#define at_unlikely(x) __builtin_expect(!!(x), 0)
#define AT_NOINLINE __attribute__((noinline))
#define AT_COLD __attribute__((cold, noinline))
/* Compiled for size: profiling's paths that run once per object, frame,
 * CFI record or chain (their text is resident in every program that
 * makes a chain; src/preload/text_order.ld). */
#if defined(__clang__)
#define AT_ONCE_TEXT __attribute__((minsize))
#else
#define AT_ONCE_TEXT __attribute__((optimize("Os")))
#endif
/* No inter-procedural analysis of the function by its callers (gcc's
 * noipa: they cannot learn it does not return); clang has no such
 * attribute and does not draw that conclusion from noinline code. */
#ifdef __clang__
#define AT_NOIPA __attribute__((noinline))
#else
#define AT_NOIPA __attribute__((noipa))
#endif

#define AT_LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define AT_LOAD_RELAXED(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define AT_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define AT_STORE_RELAXED(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

#define AT_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * The fork page: the statics a fork writes, each in cache lines of its own,
 * in one page rather than a page per file (every page written after fork()
 * is copied on write, in the parent and in the child).  It holds:
 *  - AT_FORK_LOCK: a lock the fork handlers take and release in a process
 *    that has had threads (core/fork_locks.h);
 *  - AT_CHAIN_HOT: a static that making a call chain's tag writes (sites/:
 *    the chains' count and list, the run-time indexes, the rule cache's
 *    counts, a rule miss's locks and buffer state), with the registry lock
 *    that making it takes: a forked child
 *    making its first chain copies this one page of them;
 *  - AT_FORK_COLD: a static a forked child writes where its parent does
 *    not, with the page arenas' lock the same call takes (slab.c's cold
 *    classes' counts: a shell's child's first stdio buffer is a cold
 *    object, from the page allocator);
 *  - AT_FORK_TAIL: an array of structures that start with a lock (the page
 *    arenas), in a section of its own that the linker places right after
 *    the page's (sections new to the link go in the order first seen), so
 *    the first entries' locks still fall in the page.
 * The page starts with counters.c's reset_mark, page-aligned (counters.c is
 * linked before the other files with statics here: CMakeLists.txt); the
 * locks and statics take about 3.6 KiB of it, and arena 0's lock and
 * free-list heads (page_alloc.c) the rest.
 */
#define AT_FORK_LOCK __attribute__((section("at_fork_page"), aligned(64)))
/* A small static of the fork page with no alignment of its own: it follows
 * the one defined before it in its file, in that one's 64-byte slot. */
#define AT_FORK_PACKED __attribute__((section("at_fork_page")))
#define AT_CHAIN_HOT AT_FORK_LOCK
#define AT_FORK_COLD AT_FORK_LOCK
#define AT_FORK_TAIL __attribute__((section("at_fork_tail"), aligned(64)))

/* A fork child handler: in .text.hot, which the linker puts in the first
 * 64 KiB of the text with malloc and free, so that a child runs its
 * handlers without faulting in (by fault-around, 64 KiB at a time) a text
 * range that it would not run otherwise (a file mapping's pages are not
 * copied by fork). */
#define AT_FORK_TEXT __attribute__((hot, noinline))

/*
 * A large zero static (an array of 256 bytes or more): in .lbss, which the
 * linker places after .bss, so that the small statics (about 1.8 KiB in
 * all) share one or two pages instead of lying between the arrays on
 * eight (each page that start-up or a first malloc touches costs a fault,
 * two when it is read first).
 */
#define AT_BIG_BSS __attribute__((section(".lbss")))

/*
 * A static kept in .data even when it starts zero, on the page that every
 * process has present and private from its start: the loader's relocations
 * write it, malloc's fast path reads it (at_state, at_small_slow).  For a
 * static that start-up writes (a .bss page it writes costs a fault, two when
 * the first access reads: pthread_mutex_lock reads its mutex first, and a
 * read maps the zero page that the write then replaces), and for one that a
 * fork child handler reads (in .bss it may sit on a page nothing else
 * touched, which the child's read would fault in).  .data holds about 1.4
 * KiB, in one page.
 */
#define AT_DATA_PAGE __attribute__((section(".data")))

/*
 * A static of a few KiB that profiling's first call chains write, zero at
 * start: in the data segment's last page, after the fork tail, in the room
 * that src/preload/data_end.ld otherwise pads with zeros to end the file's
 * part on a page boundary.  Every process has that page resident (the
 * data segment is file-backed; the first read of it maps its pages,
 * fault-around), so the static costs no page there, where in .bss it took
 * a page of its own in every process that makes a chain.  The link fails
 * if these statics outgrow the page's room (data_end.ld).
 */
#define AT_PAGE_END_DATA __attribute__((section("at_page_end_data"), aligned(64)))

#endif
