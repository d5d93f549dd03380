/*
 * The thread-local words of malloc's hit paths, one block: the current
 * tag, the thread's bins and its call-chain memo with the memo's busy
 * count, so that a path finds all of them from one thread-pointer offset
 * (in a shared object, initial-exec TLS costs a GOT load per variable:
 * one here, where three separate variables took three).
 *
 * Layout (struct at_thread): current_tag at offset 0, because the public
 * alloctag_current_tag (alloctag.h) is an alias of the block's first word
 * (thread_block.c): a program, a hook or the library setting the current
 * tag by that name writes the word the hit paths read as at_current_tag.
 * bins is the fast paths' view of the thread's bins (tcache.h:
 * at_tls_bins, its invariants there), memo the thread's memo, busy
 * count and walks (chains.h: at_memo_tls, "The memo" and "Signals").  Each is still
 * named by its owner's name, a macro for the block's member, and owned by
 * its component; only the place is shared.  Code that writes the current
 * tag uses alloctag_current_tag, and only code that does not (the preload
 * library's entries) reads at_current_tag, so that no function mixes the
 * two names of one word.
 */
#ifndef AT_THREAD_BLOCK_H
#define AT_THREAD_BLOCK_H

#include <stdint.h>

#include "core/compiler.h"

struct alloc_tag;
struct at_bin;
struct at_chain_memo;

/* A thread's memo, its busy count, whether an entry of the memo has
 * counted an allocation since the thread took it, and its walks
 * (chains.h; in the padding after busy). */
struct at_memo_tls {
	struct at_chain_memo *m;
	unsigned char busy;
	unsigned char counted;
	uint32_t walks;
};

struct at_thread {
	struct alloc_tag *current_tag; /* alloctag_current_tag: offset 0 */
	struct at_bin *bins;           /* at_tls_bins */
	struct at_memo_tls memo;       /* at_memo_tls */
};

extern AT_HIDDEN __thread struct at_thread at_thread __attribute__((tls_model("initial-exec")));

#define at_current_tag (at_thread.current_tag)
#define at_tls_bins (at_thread.bins)
#define at_memo_tls (at_thread.memo)

#endif
