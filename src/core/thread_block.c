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

extern __thread struct alloc_tag *alloctag_current_tag __attribute__((alias("at_thread")));
