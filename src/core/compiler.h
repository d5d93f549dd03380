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

#define AT_LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define AT_LOAD_RELAXED(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define AT_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define AT_STORE_RELAXED(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

#define AT_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * A lock that the fork handlers take and release (or an array of structures
 * that start with one): every page such a handler writes is copied on write
 * after fork() in the parent and in the child, so these share one section,
 * each in cache lines of its own, instead of a page per file.  The section
 * starts a page (its first, at_registry_lock, is page-aligned: tag_registry.c
 * is linked before the others) and the locks the handlers take fit in it:
 * two copy-on-write faults per fork for all of them.
 */
#define AT_FORK_LOCK __attribute__((section("at_fork_locks"), aligned(64)))

/* A static that a fork child handler reads, zero until some rare event
 * writes it: placed in .data, whose page the allocator's fast path reads
 * (at_state, at_small_slow), so the child finds it present; a zero
 * static would sit in .bss, on a page nothing else may have touched, and
 * the child's read would fault the zero page in. */
#define AT_FORK_READ __attribute__((section(".data")))

/* A static that making a call chain's tag writes (sites/: the chains'
 * count and list, the run-time indexes, the rule cache's counts): these
 * share one small section, so that a forked child making its first chain
 * copies one page of them rather than one per file's .bss. */
#define AT_CHAIN_HOT __attribute__((section("at_chain_hot"), aligned(64)))

#endif
