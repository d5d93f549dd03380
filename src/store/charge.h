/*
 * Charging an allocation to the current tag and uncharging a reference.
 * Shared by the page allocator and the small-object allocator; what a
 * reference is stored in is the store's business (tag_ref.h).
 */
#ifndef AT_CHARGE_H
#define AT_CHARGE_H

#include "core/control.h"
#include "core/counters.h"
#include "store/tag_ref.h"

/*
 * The reference a new allocation should carry: the current tag's canonical
 * tag (at_state == AT_STATE_READY, checked by the caller).  No current tag,
 * an unregistered tag, or profiling off: no reference.
 */
static inline at_ref_t at_current_ref(void)
{
	struct alloc_tag *tag = alloctag_current_tag;
	if (!tag || !AT_LOAD_RELAXED(&at_profiling_on))
		return AT_REF_NONE;
	return tag->canon;
}

/*
 * The state an allocation that reads its tag from the thread (the current
 * tag) must act on, from one read of at_state.  Start-up (init.c) makes the
 * state READY and then stores the configured at_profiling_on; an allocation
 * that saw READY and profiling still off before the early-page hand-over has
 * finished may be in that window, where profiling is configured on but not
 * yet turned on: it is made an early page/object (AT_STATE_EARLY: marked
 * inaccurate, recorded or given the empty reference, never charged) rather
 * than being left with no reference while the program asked for profiling.
 * at_early_handed_over is read first: once it is set, at_profiling_on holds
 * start-up's value or a later switch's.
 */
static inline unsigned char at_alloc_state(void)
{
	unsigned char st = AT_LOAD(&at_state);
	if (st == AT_STATE_READY && at_unlikely(!AT_LOAD(&at_early_handed_over)) &&
	    !AT_LOAD(&at_profiling_on))
		return AT_STATE_EARLY;
	return st;
}

/*
 * The body of a tag-passing entry (at_malloc_tag_noprof, ...,
 * at_alloc_pages_tag_noprof: what the tagged macros call), which charges as
 * alloc_hooks_tag(*tag, noprof(args)) would.  While profiling is on,
 * with(args, tag) is called: the tag is passed down, not made current;
 * under `never`, with(args, NULL); with hooks on but profiling off (the
 * early state before start-up, or profiling switched off), noprof(args)
 * with tag made current, as the hooks do (the early state marks it
 * inaccurate).
 */
#define AT_TAG_ENTRY(tag, with, noprof, ...)                                   \
	({                                                                     \
		__typeof__(noprof(__VA_ARGS__)) _r;                            \
		if (at_likely(AT_LOAD_RELAXED(&at_profiling_on))) {            \
			_r = with(__VA_ARGS__, (tag));                         \
		} else if (at_likely(!alloctag_hooks_key)) {                   \
			_r = with(__VA_ARGS__, NULL);                          \
		} else {                                                       \
			struct alloc_tag *_old = alloctag_save(tag);           \
			_r = noprof(__VA_ARGS__);                              \
			alloctag_current_tag = _old;                           \
		}                                                              \
		_r;                                                            \
	})

/*
 * The same as an index (the compressed form): the current tag's index, or
 * AT_IDX_NULL.  A registered tag's idx is its canonical index (a shared
 * object's section tags carry their copy's); an unregistered one's is 0.
 */
static inline uint32_t at_current_idx(void)
{
	struct alloc_tag *tag = alloctag_current_tag;
	if (!AT_LOAD_RELAXED(&at_profiling_on) || !tag)
		return AT_IDX_NULL;
	return AT_LOAD_RELAXED(&tag->idx);
}

static inline void at_charge_idx(uint32_t idx, int64_t bytes)
{
	if (idx >= AT_IDX_FIRST)
		at_counters_charge(idx, bytes);
}

static inline void at_charge(at_ref_t ref, int64_t bytes)
{
	if (at_ref_is_tag(ref))
		at_counters_charge(ref->idx, bytes);
}

static inline void at_uncharge(at_ref_t ref, int64_t bytes)
{
	if (at_ref_is_tag(ref))
		at_counters_uncharge(ref->idx, bytes);
}

static inline void at_uncharge_idx(uint32_t idx, int64_t bytes)
{
	if (idx >= AT_IDX_FIRST)
		at_counters_uncharge(idx, bytes);
}

#endif
