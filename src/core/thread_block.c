/* The thread block (thread_block.h) and the public name of its first word. */
#include "core/thread_block.h"

#include <stddef.h>

#include "alloctag.h"
#include "objects/tcache.h"
#include "sites/chains.h"

_Static_assert(offsetof(struct at_thread, current_tag) == 0,
	       "alloctag_current_tag is the block's first word");

__thread struct at_thread at_thread __attribute__((tls_model("initial-exec"))) = {
	.bins = (struct at_bin *)at_bins_none,
	.memo = {.m = AT_MEMO_NONE},
};

/* alloctag_current_tag: the block's first word, a pointer's size (an
 * alias by attribute would take the whole block's); at_current_tag_word,
 * the same word's hidden name the library's own code uses (alloctag.h:
 * a TLS reference to an exported symbol costs the loader a lookup at
 * every start, -Bsymbolic or not) */
__asm__(".globl alloctag_current_tag\n\t"
	".type alloctag_current_tag, STT_TLS\n\t"
	".set alloctag_current_tag, at_thread\n\t"
	".size alloctag_current_tag, 8\n\t"
	".globl at_current_tag_word\n\t"
	".hidden at_current_tag_word\n\t"
	".type at_current_tag_word, STT_TLS\n\t"
	".set at_current_tag_word, at_thread\n\t"
	".size at_current_tag_word, 8");
