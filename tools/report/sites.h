/*
 * Sites: what every report lists.  A chain's site is its site frame
 * (the first frame outside the allocation layer, chosen by the runtime),
 * symbolized; where DWARF says that frame's line is inlined from a system
 * header (/usr/include/..., e.g. std::__new_allocator::allocate), the site
 * is the innermost inlined frame in the program's own source; where every
 * frame there is in a system header (a template instantiated out of line
 * in the program, e.g. std::vector::_M_realloc_insert), the site is found
 * the same way in the next frame of the chain, if it has one.  Chains with
 * the same site are one site (counters summed; the chains stay listed for
 * the reports that show chains).  Each compile-time tag of the profile is a
 * site of its own name.
 *
 * A site's name is allocinfo's tag text: "file:line func:name", or for a
 * frame without DWARF "object+0xADDR:0 func:symbol+0xOFF" (func:0xADDR
 * without a symbol); compile-time tags keep their recorded names.
 */
#ifndef ALLOCTAG_TOOL_SITES_H
#define ALLOCTAG_TOOL_SITES_H

#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include "../profile/profile.h"
#include "../symbols/symbols.h"

/* The user-space counterpart of the kernel's filtered allocinfo queries. */
struct filter {
	int64_t min_bytes; /* keep sites holding at least this many live bytes */
	int has_match;
	regex_t match; /* keep sites whose file, function or object matches */
};

struct site {
	char *name;  /* "file:line func:name" ([module] for shared-object tags) */
	char *extra; /* " key:value ..." pairs, or "" */
	char *func;  /* display name (demangled, with parameters); may be NULL */
	char *file;  /* NULL when unknown */
	unsigned int line;
	char *object; /* "object+0xADDR" for chain sites, the module or "-" for tags */
	int64_t live_bytes, live_calls, alloc_bytes, alloc_calls;
	size_t *chains; /* indexes of the profile's chains */
	size_t nr_chains, cap_chains;
	long tag; /* index of the profile's tag, -1 for chain sites */
};

struct sites {
	struct site *v;
	size_t nr;
	int64_t live_bytes, live_calls, alloc_bytes, alloc_calls; /* totals of the kept sites */
};

/* Sites of profile p in order of first appearance (tags first), filtered. */
void sites_build(struct sites *out, const struct profile *p, struct symbolizer *sym,
		 const struct filter *f);
/* Largest live bytes first (then live calls, allocated bytes and calls,
 * name: the sites that hold nothing, most allocated first). */
void sites_sort_by_bytes(struct sites *s);
void sites_free(struct sites *s);

/* The frame of a location that names a site (see above). */
const struct sym_frame *site_frame(const struct sym_loc *l);

#endif
