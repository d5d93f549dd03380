/*
 * Debug mode (ALLOCTAG_DEBUG=1): the kernel's CONFIG_MEM_ALLOC_PROFILING_DEBUG
 * checks, each warning printed once per tag and naming the call site.
 */
#include "message.h"

#define AT_FLAG_WARNED_RESTORE 0x100u

void alloctag_debug_restore(struct alloc_tag *tag)
{
	unsigned int old = __atomic_fetch_or(&tag->flags, AT_FLAG_WARNED_RESTORE, __ATOMIC_RELAXED);
	if (old & AT_FLAG_WARNED_RESTORE)
		return;
	struct alloc_tag *cur = alloctag_current_tag;
	at_msg("current tag was changed (hook at %s:%u func:%s found %s%s%s)", tag->filename,
	       tag->lineno, tag->function, cur ? cur->filename : "no tag", cur ? " func:" : "",
	       cur ? cur->function : "");
}
