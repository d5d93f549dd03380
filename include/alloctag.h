/*
 * alloctag: exact, always-on memory allocation profiling for C programs.
 *
 * Every allocation call site owns a static tag (struct alloc_tag) placed in
 * the ELF section "alloc_tags" of its image.  While an allocation runs, the
 * call site's tag is the thread's *current tag*; the allocator charges the
 * allocation's bytes and one call to it and remembers the tag with the page or
 * object, so that the free uncharges the same tag.
 *
 * Making your own wrappers charge *their* callers (the kernel's convention):
 *
 *     void *xmalloc_noprof(size_t n);            // calls at_malloc_noprof()
 *     #define xmalloc(...) alloc_hooks(xmalloc_noprof(__VA_ARGS__))
 *
 * Nested hooks: the innermost current tag wins, so inside xmalloc_noprof()
 * call the *_noprof functions, not the tagged macros.
 *
 * Control: environment variable ALLOCTAG = 0 | 1 | never, optionally followed
 * by ",compressed" or ",uncompressed" (default "1,compressed");
 * ALLOCTAG_TAG_BITS caps the number of flag bits used for compressed
 * references; ALLOCTAG_DEBUG=1 turns on the debug checks.
 */
#ifndef ALLOCTAG_H
#define ALLOCTAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ALLOCTAG_API __attribute__((visibility("default")))

/* Tag flags. */
#define ALLOCTAG_FLAG_INACCURATE 0x1u /* was current during an uncounted (early) allocation */
#define ALLOCTAG_FLAG_UNLOADED 0x2u   /* its shared object has been unloaded */
/* Bits 8..15 of flags are internal (debug mode's once-per-tag marks). */

/*
 * One allocation call site.  Created by DEFINE_ALLOC_TAG in section
 * "alloc_tags"; the runtime fills idx (its index, >= 2) and canon (the copy
 * it charges: the tag itself for the main executable, its copy in the
 * shared-object tag area otherwise) when the image is registered.
 */
struct alloc_tag {
	const char *function;
	const char *filename;
	const char *modname; /* NULL for the main executable's tags */
	unsigned int lineno;
	unsigned int flags;
	uint32_t idx;
	uint32_t reserved;
	struct alloc_tag *canon;
};

/* The thread's current tag (initial-exec TLS: usable from inside malloc).
 * The library's own code names the same word by a hidden symbol
 * (core/thread_block.c), so that the loader looks up no symbol for it. */
#ifdef ALLOCTAG_BUILDING_LIBRARY
extern __thread struct alloc_tag *alloctag_current_tag __asm__("at_current_tag_word")
	__attribute__((visibility("hidden"), tls_model("initial-exec")));
#else
extern ALLOCTAG_API __thread struct alloc_tag *alloctag_current_tag
	__attribute__((tls_model("initial-exec")));
#endif
/* Nonzero when hooks should set the current tag (profiling not "never"). */
extern ALLOCTAG_API unsigned char alloctag_hooks_key;
/* Nonzero in debug mode (ALLOCTAG_DEBUG=1). */
extern ALLOCTAG_API unsigned char alloctag_debug_key;

ALLOCTAG_API void alloctag_debug_restore(struct alloc_tag *tag);
ALLOCTAG_API void alloctag_register_image(struct alloc_tag *start, struct alloc_tag *stop);
ALLOCTAG_API void alloctag_unregister_image(struct alloc_tag *start, struct alloc_tag *stop);

static inline struct alloc_tag *alloctag_save(struct alloc_tag *tag)
{
	struct alloc_tag *old = alloctag_current_tag;
	alloctag_current_tag = tag;
	return old;
}

static inline void alloctag_restore(struct alloc_tag *tag, struct alloc_tag *old)
{
	if (__builtin_expect(__atomic_load_n(&alloctag_debug_key, __ATOMIC_RELAXED), 0) &&
	    alloctag_current_tag != tag)
		alloctag_debug_restore(tag);
	alloctag_current_tag = old;
}

#define DEFINE_ALLOC_TAG(_name)                                                      \
	static struct alloc_tag _name                                                \
		__attribute__((used, section("alloc_tags"), aligned(8))) = {         \
			.function = __func__, .filename = __FILE__, .lineno = __LINE__ \
		}

#define alloc_hooks_tag(_tag, _do_alloc)                                   \
	({                                                                 \
		__typeof__(_do_alloc) _at_res;                             \
		if (__builtin_expect(alloctag_hooks_key, 1)) {             \
			struct alloc_tag *_at_old = alloctag_save(&(_tag)); \
			_at_res = _do_alloc;                               \
			alloctag_restore(&(_tag), _at_old);                \
		} else {                                                   \
			_at_res = _do_alloc;                               \
		}                                                          \
		_at_res;                                                   \
	})

#define alloc_hooks(_do_alloc)                           \
	({                                               \
		DEFINE_ALLOC_TAG(_at_alloc_tag);         \
		alloc_hooks_tag(_at_alloc_tag, _do_alloc); \
	})

/*
 * The tagged call of a function that takes the tag as its first argument,
 * _fn(&tag, ...): the call site's tag is passed down rather than made
 * current around the call, which saves the thread-local save and restore
 * (a few percent of a small malloc).  The malloc family's macros use it;
 * their at_X_tag_noprof(tag, ...) functions charge exactly what
 * alloc_hooks_tag(*tag, at_X_noprof(...)) would.
 */
#define alloc_hooks_pass(_fn, ...)                       \
	({                                               \
		DEFINE_ALLOC_TAG(_at_alloc_tag);         \
		_fn(&_at_alloc_tag, __VA_ARGS__);        \
	})

/*
 * Per-image registration: every translation unit that includes this header
 * emits a hidden constructor/destructor pair naming its own image's
 * "alloc_tags" section; registration is idempotent, so the many copies in one
 * image register it once.  Define ALLOCTAG_NO_AUTO_REGISTER to opt out.
 */
#if !defined(ALLOCTAG_NO_AUTO_REGISTER) && !defined(ALLOCTAG_INTERNAL)
extern struct alloc_tag __start_alloc_tags[] __attribute__((weak, visibility("hidden")));
extern struct alloc_tag __stop_alloc_tags[] __attribute__((weak, visibility("hidden")));
__attribute__((constructor(101), used)) static void alloctag_image_ctor(void)
{
	alloctag_register_image(__start_alloc_tags, __stop_alloc_tags);
}
__attribute__((destructor(101), used)) static void alloctag_image_dtor(void)
{
	alloctag_unregister_image(__start_alloc_tags, __stop_alloc_tags);
}
#endif

/* ---- pages ---------------------------------------------------------- */

#define ALLOCTAG_PAGE_SIZE 4096u
#define ALLOCTAG_MAX_ORDER 18u /* largest block: 4096 << 18 = 1 GiB */

/* 4096 << order bytes, aligned to its size; NULL with errno = ENOMEM or EINVAL. */
ALLOCTAG_API void *at_alloc_pages_noprof(unsigned int order);
ALLOCTAG_API void at_free_pages(void *addr, unsigned int order);
/* The same, charged to tag instead of the current tag (alloc_hooks_pass). */
ALLOCTAG_API void *at_alloc_pages_tag_noprof(struct alloc_tag *tag, unsigned int order);
#define at_alloc_pages(...) alloc_hooks_pass(at_alloc_pages_tag_noprof, __VA_ARGS__)

/* ---- the malloc family ----------------------------------------------- */

/*
 * C and POSIX semantics, errno = ENOMEM (or EINVAL) on failure; any thread
 * may free any block.  Each allocation is charged its usable size
 * (at_usable_size(): the size class's size for small objects, as the kernel
 * charges a cache's object size; the power-of-two block for large ones) and
 * one call, to the tag current when it was made; at_free uncharges that tag.
 * at_realloc stays in place (keeping tag and charge) when the new size fits
 * the usable size and is more than half of it; otherwise it moves, charging
 * the new block to its own call site.  at_realloc(p, 0) frees p and returns
 * NULL.  Freeing a pointer alloctag did not hand out, or freeing twice,
 * aborts with a message naming the address.
 */
ALLOCTAG_API void *at_malloc_noprof(size_t size) __attribute__((malloc, alloc_size(1)));
ALLOCTAG_API void *at_calloc_noprof(size_t n, size_t size) __attribute__((malloc, alloc_size(1, 2)));
ALLOCTAG_API void *at_realloc_noprof(void *p, size_t size) __attribute__((alloc_size(2)));
ALLOCTAG_API void *at_aligned_alloc_noprof(size_t align, size_t size)
	__attribute__((malloc, alloc_size(2)));
ALLOCTAG_API int at_posix_memalign_noprof(void **out, size_t align, size_t size);
ALLOCTAG_API void *at_memalign_noprof(size_t align, size_t size) __attribute__((malloc, alloc_size(2)));
ALLOCTAG_API void *at_valloc_noprof(size_t size) __attribute__((malloc, alloc_size(1)));
ALLOCTAG_API void *at_pvalloc_noprof(size_t size) __attribute__((malloc));
ALLOCTAG_API char *at_strdup_noprof(const char *s) __attribute__((malloc));
ALLOCTAG_API char *at_strndup_noprof(const char *s, size_t n) __attribute__((malloc));
/* The same, charged to tag (a DEFINE_ALLOC_TAG tag) instead of the current
 * tag: what the tagged macros below call (alloc_hooks_pass). */
ALLOCTAG_API void *at_malloc_tag_noprof(struct alloc_tag *tag, size_t size)
	__attribute__((malloc, alloc_size(2)));
ALLOCTAG_API void *at_calloc_tag_noprof(struct alloc_tag *tag, size_t n, size_t size)
	__attribute__((malloc, alloc_size(2, 3)));
ALLOCTAG_API void *at_realloc_tag_noprof(struct alloc_tag *tag, void *p, size_t size)
	__attribute__((alloc_size(3)));
ALLOCTAG_API void *at_aligned_alloc_tag_noprof(struct alloc_tag *tag, size_t align, size_t size)
	__attribute__((malloc, alloc_size(3)));
ALLOCTAG_API int at_posix_memalign_tag_noprof(struct alloc_tag *tag, void **out, size_t align,
					      size_t size);
ALLOCTAG_API void *at_memalign_tag_noprof(struct alloc_tag *tag, size_t align, size_t size)
	__attribute__((malloc, alloc_size(3)));
ALLOCTAG_API void *at_valloc_tag_noprof(struct alloc_tag *tag, size_t size)
	__attribute__((malloc, alloc_size(2)));
ALLOCTAG_API void *at_pvalloc_tag_noprof(struct alloc_tag *tag, size_t size) __attribute__((malloc));
ALLOCTAG_API char *at_strdup_tag_noprof(struct alloc_tag *tag, const char *s) __attribute__((malloc));
ALLOCTAG_API char *at_strndup_tag_noprof(struct alloc_tag *tag, const char *s, size_t n)
	__attribute__((malloc));
/* Not allocations: plain functions. */
ALLOCTAG_API void at_free(void *p);
ALLOCTAG_API size_t at_usable_size(const void *p);

#define at_malloc(...) alloc_hooks_pass(at_malloc_tag_noprof, __VA_ARGS__)
#define at_calloc(...) alloc_hooks_pass(at_calloc_tag_noprof, __VA_ARGS__)
#define at_realloc(...) alloc_hooks_pass(at_realloc_tag_noprof, __VA_ARGS__)
#define at_aligned_alloc(...) alloc_hooks_pass(at_aligned_alloc_tag_noprof, __VA_ARGS__)
#define at_posix_memalign(...) alloc_hooks_pass(at_posix_memalign_tag_noprof, __VA_ARGS__)
#define at_memalign(...) alloc_hooks_pass(at_memalign_tag_noprof, __VA_ARGS__)
#define at_valloc(...) alloc_hooks_pass(at_valloc_tag_noprof, __VA_ARGS__)
#define at_pvalloc(...) alloc_hooks_pass(at_pvalloc_tag_noprof, __VA_ARGS__)
#define at_strdup(...) alloc_hooks_pass(at_strdup_tag_noprof, __VA_ARGS__)
#define at_strndup(...) alloc_hooks_pass(at_strndup_tag_noprof, __VA_ARGS__)

/* ---- control -------------------------------------------------------- */

/* 0, or -EPERM under ALLOCTAG=never. */
ALLOCTAG_API int alloctag_set_profiling(bool on);
ALLOCTAG_API bool alloctag_profiling(void);
/* true when tag references are stored compressed in page flags. */
ALLOCTAG_API bool alloctag_compressed(void);
/* Flag bits used for compressed references (0 when not compressed). */
ALLOCTAG_API unsigned int alloctag_tag_bits(void);
/* Bytes of tag-reference side table currently mapped (0 when compressed). */
ALLOCTAG_API size_t alloctag_side_table_bytes(void);

/* ---- reports -------------------------------------------------------- */

struct alloctag_counters {
	int64_t bytes;
	int64_t calls;
};

struct alloctag_usage {
	const struct alloc_tag *tag;
	struct alloctag_counters counters;
};

/* Live counters of a tag (summed over CPUs). */
ALLOCTAG_API struct alloctag_counters alloctag_read(const struct alloc_tag *tag);
/* The kernel's /proc/allocinfo text, version 2.0.  0 or -errno. */
ALLOCTAG_API int alloctag_write_allocinfo(FILE *out);
ALLOCTAG_API int alloctag_write_allocinfo_fd(int fd);
/* The n tags holding the most bytes, largest first; returns how many. */
ALLOCTAG_API size_t alloctag_top_users(struct alloctag_usage *out, size_t n);
/* Writes "file:line func:name" (or "file:line [module] func:name"). */
ALLOCTAG_API int alloctag_tag_name(const struct alloc_tag *tag, char *buf, size_t len);

/*
 * Call chains of untagged allocations (the preload library): how many
 * distinct chains were made, and the bytes profiling spends on them (chain
 * and frame records with their names, the chain and frame tables, the
 * unwinder's rule cache, and the chains' live and cumulative counters: 32
 * bytes per chain per CPU and one more, counted as committed).  0, or
 * -EPERM when profiling was never set up.
 */
struct alloctag_chain_stats {
	size_t chains;
	size_t bytes;
};
ALLOCTAG_API int alloctag_chain_stats(struct alloctag_chain_stats *out);

#ifdef __cplusplus
}
#endif
#endif /* ALLOCTAG_H */
