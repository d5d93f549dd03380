/*
 * Wrapper patterns: whether a symbol names an allocation wrapper (the
 * built-in patterns, AT_BUILTIN_WRAPPERS in site_names.h, and the user's
 * ALLOCTAG_WRAPPERS), a comma-separated list of names or shell globs (*, ?,
 * [...], [!...]) matched against the whole symbol.
 *
 * The lists are matched through an index of their patterns by first byte,
 * built at the first question (in the sites' pool, published once; a
 * thread that loses the race leaves its copy unused): a name is matched
 * against the patterns starting with its own first byte and those
 * starting with a wildcard ('*', '?', '['), the only ones a pattern list
 * scan could match it with.  The index:
 *
 *     head[0 .. 257]  the bucket of byte c is pats[head[c] .. head[c + 1]),
 *                     bucket 256 the patterns starting with a wildcard;
 *     pats[]          a pattern as a (list, offset, length) word: bit 31
 *                     the user's list (else the built-in one), bits 16-30
 *                     the offset, bits 0-15 the length.
 *
 * Without memory for the index, each question scans both lists.  Never
 * through malloc.
 */
#ifndef AT_WRAPPERS_H
#define AT_WRAPPERS_H

#include <stddef.h>

#include "core/compiler.h"

/* ALLOCTAG_WRAPPERS (before the first question): 0, or -EINVAL (an empty
 * pattern, or longer than the room kept for it: 4095 bytes). */
AT_HIDDEN int at_set_wrappers(const char *s);
/* Whether sym (NULL: no) matches a wrapper pattern of either list. */
AT_HIDDEN int at_is_wrapper(const char *sym);
/* Whether name matches a pattern of list (comma-separated): the scan the
 * index stands for; the tests compare the two. */
AT_HIDDEN int at_wrapper_list_match(const char *list, const char *name);
/* Glob match (*, ?, [...], [!...]); the tests use it. */
AT_HIDDEN int at_glob_match(const char *pat, size_t plen, const char *s);

#endif
