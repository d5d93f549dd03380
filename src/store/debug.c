/*
 * Debug mode (ALLOCTAG_DEBUG=1): the kernel's CONFIG_MEM_ALLOC_PROFILING_DEBUG
 * checks.  Each warning is printed once per tag and names the call site:
 *
 *  - "alloc_tag was not cleared (got tag for FILE:LINE)": a page being
 *    charged still holds a tag (a reference left behind by an earlier owner);
 *    once per left-behind tag.  With compressed references the allocator
 *    rewrites a block's whole flags word when it hands it out and free pages'
 *    flags are zero, so only the side table can carry a stale tag.
 *  - "alloc_tag was not set (page ADDR freed ...)": a page being freed holds
 *    no reference at all while profiling is on (its reference was lost);
 *    once per tag current at the free, and once for frees with no current
 *    tag.  Not a warning: pages allocated for alloctag itself
 *    (AT_PG_NO_CODETAG), and early pages freed before the hand-over has
 *    given them the empty reference (early.c).
 *  - "current tag was changed (...)": alloctag_restore() found a current tag
 *    other than the one its hook set; once per hook.
 *
 * Small objects (malloc.c), the same two reference checks: "not cleared"
 * when a slot being handed out still has a nonzero entry naming a tag (a
 * free slot's entry is 0), and "not set (object ADDR freed ...)" when a
 * live object's entry holds no reference while profiling is on.  Objects
 * made before start-up record the empty reference (never "not set"), and
 * in debug mode so do objects made with no current tag or while profiling
 * is off.  The once-per-tag bits are shared with the page checks.
 *
 * So that pages allocated while profiling is off, or with no current tag, are
 * not false positives when freed later with profiling on, debug mode records
 * AT_REF_EMPTY for them instead of no reference (the kernel's
 * alloc_tag_ref_set_empty on untagged allocations).  This is why the debug
 * key is read once, at start-up: pages allocated before a run-time change
 * would not have it.
 *
 * Once-per-tag bits live in the tag's flags word, bits 8..10 (alloctag.h
 * keeps bits 8..15 for internal use), set on the canonical tag for the page
 * checks and on the hook's own tag for the restore check.
 */
#include "store/debug.h"

#include "core/control.h"
#include "pages/page.h"
#include "core/message.h"

#define AT_FLAG_WARNED_RESTORE 0x100u
#define AT_FLAG_WARNED_NOT_CLEARED 0x200u
#define AT_FLAG_WARNED_NOT_SET 0x400u

static int first_time(struct alloc_tag *tag, unsigned int bit)
{
	return !(__atomic_fetch_or(&tag->flags, bit, __ATOMIC_RELAXED) & bit);
}

/* "not set" for what (page, object) at addr: once per current tag, and
 * once (*once) for frees with no current tag. */
static void not_set(const char *what, const void *addr, int *once)
{
	struct alloc_tag *cur = alloctag_current_tag;
	if (cur) {
		if (first_time(cur, AT_FLAG_WARNED_NOT_SET))
			at_msg("alloc_tag was not set (%s %p freed under %s:%u func:%s)", what, addr,
			       cur->filename, cur->lineno, cur->function);
	} else {
		at_msg_once(*once, "alloc_tag was not set (%s %p freed with no current tag)", what,
			    addr);
	}
}

at_ref_t at_debug_page_alloc(uint32_t pfn, at_ref_t ref, uint64_t extra_flags)
{
	at_ref_t old = at_page_ref_get(pfn);
	if (at_ref_is_tag(old) && first_time(old, AT_FLAG_WARNED_NOT_CLEARED))
		at_msg("alloc_tag was not cleared (got tag for %s:%u)", old->filename, old->lineno);
	if (ref == AT_REF_NONE && !(extra_flags & AT_PG_NO_CODETAG))
		ref = AT_REF_EMPTY;
	return ref;
}

void at_debug_page_free(const void *addr, uint64_t flags, at_ref_t ref)
{
	if (ref != AT_REF_NONE || !AT_LOAD_RELAXED(&at_profiling_on) ||
	    (flags & AT_PG_NO_CODETAG) || ((flags & AT_PG_EARLY) && !AT_LOAD(&at_early_handed_over)))
		return;
	static int once;
	not_set("page", addr, &once);
}

void at_debug_obj_alloc(uint32_t old)
{
	if (old < AT_IDX_FIRST || AT_LOAD_RELAXED(&at_state) != AT_STATE_READY)
		return;
	struct alloc_tag *t = at_idx_to_ref(old);
	if (t && first_time(t, AT_FLAG_WARNED_NOT_CLEARED))
		at_msg("alloc_tag was not cleared (got tag for %s:%u)", t->filename, t->lineno);
}

void at_debug_obj_free(const void *addr)
{
	if (AT_LOAD_RELAXED(&at_state) != AT_STATE_READY || !AT_LOAD_RELAXED(&at_profiling_on))
		return;
	static int once;
	not_set("object", addr, &once);
}

void alloctag_debug_restore(struct alloc_tag *tag)
{
	if (!first_time(tag, AT_FLAG_WARNED_RESTORE))
		return;
	struct alloc_tag *cur = alloctag_current_tag;
	if (cur)
		at_msg("current tag was changed (hook at %s:%u func:%s found %s:%u func:%s)",
		       tag->filename, tag->lineno, tag->function, cur->filename, cur->lineno,
		       cur->function);
	else
		at_msg("current tag was changed (hook at %s:%u func:%s found no tag)", tag->filename,
		       tag->lineno, tag->function);
}
