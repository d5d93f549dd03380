/*
 * Dynamic tags: one tag per caller address, for programs that call malloc &
 * co. without alloctag's macros (the preload library, preload.c).
 *
 * What a dynamic tag prints (allocinfo's "file:line func:name"):
 *
 *     <object>+0x<offset>:0 func:<symbol>
 *     <object>+0x<offset>:0 func:0x<offset>      (no symbol covers the address)
 *
 * e.g. "/usr/bin/sort+0x4a1b:0 func:0x4a1b", "/usr/lib/x86_64-linux-gnu/
 * libc.so.6+0x9a2c5:0 func:strdup".
 *   <object>  the path of the ELF object holding the return address, as the
 *             loader knows it (dladdr; the main executable's from
 *             /proc/self/exe); "?" when no object holds it (generated code),
 *             and then <offset> is the absolute address.
 *   <offset>  the return address of the call, as an address of the object's
 *             ELF file (run-time address - the object's load bias l_addr):
 *             what nm, objdump -d and addr2line use.  The call instruction
 *             ends there: `addr2line -f -e <object> 0x<offset - 1>` names the
 *             calling line.
 *   :0        no line: no debug information is read at run time.
 *   <symbol>  the object's dynamic symbol (.dynsym) whose extent holds the
 *             address (dladdr); a function that is not exported has none.
 * Parsing: the object is everything before the last "+0x" of the file field,
 * the offset the hex digits after it.  Calls through functions such as
 * strdup or operator new are charged to that function's call of malloc (one
 * frame: no unwinding).
 *
 * Table (dyn_tags.c): AT_DYN_SLOTS pointers, open addressing with linear
 * probing, mmap'd at the first creation; slot -> struct at_dyn_tag (the tag
 * and its key, the return address).  A slot goes NULL -> record once, by
 * compare-and-swap, and never changes again; records are never freed, so a
 * reader needs no lock: a hit is the hash, the slot load and the key load (on
 * the record's cache line, which the charge reads next).  Creation stops at
 * AT_DYN_MAX_TAGS records (3/4 of the slots, probes stay short): further call
 * sites get no tag, said once.
 */
#ifndef AT_DYN_TAGS_H
#define AT_DYN_TAGS_H

#include <stddef.h>
#include <stdint.h>

#include "core/compiler.h"

#define AT_DYN_SLOTS_SHIFT 16
#define AT_DYN_SLOTS (1u << AT_DYN_SLOTS_SHIFT)
#define AT_DYN_MAX_TAGS (AT_DYN_SLOTS / 4 * 3)

struct at_dyn_tag {
	struct alloc_tag tag;
	const void *addr; /* the key: the caller's return address */
};

extern AT_HIDDEN struct at_dyn_tag **at_dyn_table;

/* First use of addr, or not found on the first probe: look further, create. */
AT_HIDDEN struct alloc_tag *at_dyn_tag_slow(const void *addr);

static inline uint32_t at_dyn_hash(const void *addr)
{
	return (uint32_t)(((uintptr_t)addr * 0x9E3779B97F4A7C15ull) >> (64 - AT_DYN_SLOTS_SHIFT));
}

/*
 * The tag of call site addr (a return address), made on first use; NULL
 * when none can be had (table full, re-entered from its own creation, or
 * creation must be retried).  A tag whose canon is NULL (no index left) is
 * charged nothing.  Only when at_state == AT_STATE_READY.
 */
static inline struct alloc_tag *at_dyn_tag(const void *addr)
{
	struct at_dyn_tag **tab = at_dyn_table;
	if (at_likely(tab != NULL)) {
		struct at_dyn_tag *e = AT_LOAD(&tab[at_dyn_hash(addr)]);
		if (at_likely(e != NULL && e->addr == addr))
			return &e->tag;
	}
	return at_dyn_tag_slow(addr);
}

/* Number of dynamic tags created (tests). */
AT_HIDDEN uint32_t at_dyn_count(void);

#endif
