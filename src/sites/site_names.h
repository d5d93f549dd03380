/*
 * Frames and the sites a user reads: what each return address of a chain
 * is called, and whether it belongs to the allocation layer.
 *
 * A frame's name (allocinfo's "file:line func:name" of a chain's tag):
 *
 *     <object>+0x<offset>:0 func:<symbol>
 *     <object>+0x<offset>:0 func:0x<offset>      (no symbol covers it)
 *
 *   <object>  the ELF object holding the return address, as the loader
 *             knows it (the main executable's path from /proc/self/exe);
 *             "?" when no object holds it, and <offset> is then absolute;
 *   <offset>  the return address as an address of the object's ELF file
 *             (run-time address - load bias): `addr2line -f -e <object>
 *             0x<offset - 1>` names the calling line;
 *   <symbol>  the function whose extent holds the address: from the
 *             object's .symtab when its file has one, else from its
 *             .dynsym (either read from the file with pread, never
 *             through malloc, and indexed by address once: symtab.h; the
 *             name itself, when the frame is named, read in place from
 *             the string table the loader mapped when the index is the
 *             file's .dynsym and its strings are the loader's (DT_STRTAB
 *             at the section's address, DT_STRSZ its size) and at most
 *             64 KiB (one fault-around window: resident with the
 *             loader's own lookups; no descriptor kept), else read from the
 *             file through a descriptor kept open, O_CLOEXEC, numbered
 *             from 512 when the limit allows, checked by device and inode
 *             before each read and opened again when the program closed
 *             or replaced it),
 *             the allocation layer's objects (whose files are not
 *             read) as dladdr names them: through dladdr for an
 *             object's first AT_LAYER_DLADDR names, then from an address
 *             index of its mapped .dynsym that names an address exactly
 *             as dladdr does, built at the next (dynsym_index.h),
 *             else dladdr's (a file that cannot be read, a name that
 *             cannot be read, a layer object without that index).  No line: DWARF is
 *             the tools' job.  The object comes from _dl_find_object (no
 *             lock, no symbol search: dladdr's search of a large .dynsym,
 *             such as cc1's 29,000 symbols, costs about 0.9 M
 *             instructions per call).
 *
 * The allocation layer: frames in libc, libstdc++, libgcc_s, libc++, the
 * dynamic loader and alloctag itself (by the object's file name), and
 * frames in functions whose symbol matches a wrapper pattern: the built-in
 * ones (AT_BUILTIN_WRAPPERS below: common C wrapper families, and the C++
 * standard library's templates instantiated in the program itself, by
 * their mangled names: namespace std and __gnu_cxx, operator new) and
 * ALLOCTAG_WRAPPERS, comma-separated names or shell globs (*, ?, [...]),
 * matched against the symbol as the object names it (mangled for C++).
 * A chain's site is its first frame outside the layer.
 *
 * Records: one struct at_frame per distinct return address met in a chain
 * (the name and the layer bit are computed once, at the frame's first
 * chain; but the function of a frame in a layer object, layer by its file
 * name, is named only when a chain is named after it: every frame of the
 * chain in the layer, at_frame_name; until then tag.function is NULL),
 * in a table keyed by address (open addressing, grown by doubling
 * like the chain table; registry lock held for lookups and inserts,
 * naming done without it: dladdr takes the loader's lock).  A function is
 * a wrapper if any of its names (the symbols starting where it does) is.
 * Objects: one struct at_object per loaded object met (path, layer bit,
 * an index of its functions sorted by address, for a binary search, and
 * its file's descriptor; or a layer object's dynamic-symbol index).
 * Strings and records come from the pool (mmap'd blocks, bump
 * allocation, never freed), and so do the small tables (AT_SITES_SMALL
 * bytes or fewer: the first frame and chain tables, an object's function
 * index of up to 172 functions), so that a program with few call chains
 * shares their pages with its records rather than touching a page for
 * each (the pool's part is never given back: a replaced table's
 * AT_SITES_SMALL bytes stay).  A frame of an object unloaded by dlclose
 * keeps its name (a layer frame not yet named is named "0x<offset>"
 * then); an object loaded later at the same address would be named after
 * the old one.
 * A forked process's frames: a process that is a forked child (its fork
 * handler, at_sites_forked) and whose parent had frames puts its new
 * frames in a table of its own, from 2^AT_FRAMES_CHILD_SHIFT slots in the
 * pool (where its records go), looked up after the main one, whose pages
 * it shares with its parent (a shell's child's new frames copied a page
 * of bash's table for a few slots).
 */
#ifndef AT_SITE_NAMES_H
#define AT_SITE_NAMES_H

#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"
#include "sites/wrappers.h"

#define AT_BUILTIN_WRAPPERS                                                          \
	"xmalloc,xcalloc,xzalloc,xrealloc,xreallocarray,xnmalloc,xnrealloc,x2realloc,"  \
	"x2nrealloc,xcharalloc,xmemdup,xstrdup,xstrndup,ximemdup*,"                   \
	"g_malloc*,g_try_malloc*,g_realloc*,g_try_realloc*,g_strdup*,g_strndup,"       \
	"g_memdup*,g_slice_alloc*,Perl_safesys*,Perl_newSV*,"                          \
	"sqlite3Malloc*,sqlite3_malloc*,sqlite3Realloc,sqlite3_realloc*,"              \
	"sqlite3DbMalloc*,sqlite3DbRealloc*,sqlite3DbStrDup,sqlite3DbStrNDup,"         \
	"sqlite3MemMalloc,sqlite3MemRealloc,PyMem_*,_PyMem_*,PyObject_Malloc,"         \
	"PyObject_Calloc,PyObject_Realloc,_PyObject_Malloc*,xmlMalloc*,xmlRealloc*,"   \
	"xmlStrdup,xmlStrndup,OPENSSL_malloc,CRYPTO_malloc,CRYPTO_zalloc,"             \
	"CRYPTO_realloc,CRYPTO_strdup,CRYPTO_strndup,apr_palloc,apr_pcalloc,"          \
	"je_malloc,emalloc,erealloc,ecalloc,_emalloc*,_erealloc*,_ecalloc*,"           \
	"safe_malloc,safe_realloc,zmalloc,zcalloc,zrealloc,"                          \
	"_Znw*,_Zna*,_ZNSt*,_ZNKSt*,_ZSt*,_ZNSa*,_ZNKSa*,_ZNSs*,_ZNKSs*,"             \
	"_ZN9__gnu_cxx*,_ZNK9__gnu_cxx*"

#define AT_LAYER_DLADDR 8 /* a layer object's names through dladdr before its index */

struct at_chain;
struct at_object;

/* A frame's record; its name strings follow it in the pool, filename
 * first: tag.filename is (char *)(record + 1), set once (a chain keeps
 * no pointer to the frame that names it: at_frame_of_name). */
struct at_frame {
	struct alloc_tag tag;       /* function, filename: the frame's name */
	uintptr_t addr;             /* run-time return address */
	struct at_object *obj;      /* a layer frame's object, to name it later */
	unsigned char layer;        /* in the allocation layer */
	unsigned char names;        /* a chain is named after it (registry lock) */
	struct at_frame *next_named; /* frames that name a chain, oldest first */
	int64_t acc_bytes, acc_calls; /* allocinfo's sums (registry lock) */
};

/* The frame record whose tag's filename is `name` (a frame's, or a
 * chain's: its named frame's, chains.h). */
static inline struct at_frame *at_frame_of_name(const char *name)
{
	return (struct at_frame *)(uintptr_t)name - 1;
}

extern AT_HIDDEN struct at_frame *at_named_frames;

/* Frame addr's record, made on first use (registry lock NOT held), its
 * function named; NULL with *err = -ENOMEM (out of memory) or -EDEADLK
 * (this thread holds the registry lock: a report that allocates). */
AT_HIDDEN struct at_frame *at_frame_get(uintptr_t addr, int *err);
/* The same, a layer frame's function left unnamed (NULL) when it is
 * new. */
AT_HIDDEN struct at_frame *at_frame_lookup(uintptr_t addr, int *err);
/* f's function named if it is not yet (registry lock NOT held): 0, or
 * -ENOMEM. */
AT_HIDDEN int at_frame_name(struct at_frame *f);

/* The largest table kept in the pool (header and 256 slots). */
#define AT_SITES_SMALL 2064u
/* Pool allocation (8-byte aligned, as records, tables and strings need:
 * no padding to 16; zeroed, never freed); NULL on ENOMEM. */
AT_HIDDEN void *at_sites_pool_alloc(size_t n);
#define AT_FRAMES_CHILD_SHIFT 6
/* A forked child's fork handler for the sites (one thread): its new
 * frames, rules (unwind.h) and run-time indexes (runtime_index.h) as a
 * forked process's. */
AT_HIDDEN void at_sites_forked(void);
/* The main frame table and its *bytes (tests), NULL before the first. */
AT_HIDDEN const void *at_sites_frame_table(size_t *bytes);
/* Objects whose symbols were indexed where the loader mapped them
 * (tests). */
AT_HIDDEN unsigned long at_sites_syms_in_place(void);
/* Bytes of the pool and the frame table: the pool's blocks before the
 * current one whole, the current one's pages up to its cursor's. */
AT_HIDDEN size_t at_sites_memory(void);

#endif
