/*
 * Early pages: pages handed out before the tag store is ready (at_state ==
 * AT_STATE_EARLY: the dynamic loader, libc start-up and constructors that run
 * before alloctag_init()).  They cannot be charged; the tag that was current
 * is marked inaccurate, the page gets AT_PG_EARLY, and its pfn is recorded so
 * that the hand-over can give it the empty reference once the store exists
 * (then freeing it is not mistaken for a lost reference by debug mode).
 *
 * Tracking pages (one page each, from the page allocator itself, allocated
 * with AT_PG_NO_CODETAG so that allocating one is not itself recorded):
 *
 *   +---------------------+-----------------+-----+------------------------+
 *   | next (8)            | claimed (4)     | (4) | pfn[AT_EARLY_PER_PAGE]  |
 *   +---------------------+-----------------+-----+------------------------+
 *   next: the page installed before this one (a stack, newest first);
 *   claimed: slots handed out by fetch_add; it may run past the capacity
 *   (a claim >= capacity means "full"), entries are min(claimed, capacity).
 *
 * Appending (lock-free; no entry lost, no tracking page left partly filled):
 * claim a slot of the current page with fetch_add and write the pfn there.
 * A thread that finds the page full (or none) and still current allocates a
 * new page, puts its own pfn in slot 0 and installs it with one
 * compare-and-swap on `current_page`; if another thread installed a page
 * first, the loser frees its page and retries on the winner's (seed 003).
 * So every page but the current one holds exactly AT_EARLY_PER_PAGE entries.
 *
 * Hand-over (at_early_handover, from alloctag_init once the store is set up
 * and at_state is READY): the user-space stand-in for the kernel's
 * "unpublish the recorder, synchronize_rcu(), walk".  One word, `gate`,
 * holds a CLOSED bit and the number of recorders in flight; a recorder
 * increments it, and records only if CLOSED was not set, then decrements it.
 * The hand-over sets CLOSED and waits until no recorder is in flight; both
 * sides change the same word with read-modify-writes, so each recorder either
 * is counted (the hand-over waits for its entry) or sees CLOSED (and, the
 * store being ready, gives its page the empty reference itself: nobody else
 * can reach the page before the allocation returns).  Then, for each recorded
 * pfn, under its arena lock (so the block cannot be freed or re-allocated in
 * between): a head with AT_PG_EARLY and no reference gets AT_REF_EMPTY.  A
 * page freed meanwhile is no longer a head, or is a head without AT_PG_EARLY
 * if it was re-allocated after the store became ready (allocations write a
 * fresh flags word and only early ones add AT_PG_EARLY): it keeps whatever it
 * has.  A page freed and re-allocated while still early is an early page
 * again (recorded again) and is cleared like any other; it never had a real
 * tag to keep.  A live early page that someone re-tagged keeps its tag.
 * Under ALLOCTAG=never (or when the store cannot be set up) the records are
 * discarded.  The tracking pages are freed.
 */
#include <sched.h>

#include "store/charge.h"
#include "pages/early.h"
#include "core/message.h"

struct tracking_page {
	struct tracking_page *next;
	uint32_t claimed;
	uint32_t pad;
	uint32_t pfn[AT_EARLY_PER_PAGE];
};
_Static_assert(sizeof(struct tracking_page) <= AT_PAGE_SIZE, "tracking page too large");

#define GATE_CLOSED (1ul << 63)

/* the hand-over's statics: start-up writes them (core/compiler.h) */
AT_DATA_PAGE static struct tracking_page *current_page;
AT_DATA_PAGE static unsigned long gate;
AT_DATA_PAGE static unsigned char clear_late; /* recorders that see CLOSED clear their page */
struct at_early_stats at_early_stats;
AT_DATA_PAGE void (*at_early_test_hook)(void);

static void mark_inaccurate(void)
{
	struct alloc_tag *tag = alloctag_current_tag;
	if (!tag)
		return;
	__atomic_fetch_or(&tag->flags, ALLOCTAG_FLAG_INACCURATE, __ATOMIC_RELAXED);
	struct alloc_tag *c = AT_LOAD(&tag->canon);
	if (c && c != tag)
		__atomic_fetch_or(&c->flags, ALLOCTAG_FLAG_INACCURATE, __ATOMIC_RELAXED);
}

static void record(uint32_t pfn)
{
	struct tracking_page *cur = AT_LOAD(&current_page);
	for (;;) {
		if (cur) {
			uint32_t i = __atomic_fetch_add(&cur->claimed, 1, __ATOMIC_RELAXED);
			if (at_likely(i < AT_EARLY_PER_PAGE)) {
				cur->pfn[i] = pfn;
				return;
			}
			/* Full.  Someone may have installed the next page already. */
			struct tracking_page *now = AT_LOAD(&current_page);
			if (now != cur) {
				cur = now;
				continue;
			}
		}
		struct tracking_page *np = at_page_alloc_raw(0, AT_PG_NO_CODETAG);
		if (!np) {
			static int once;
			__atomic_fetch_add(&at_early_stats.lost, 1, __ATOMIC_RELAXED);
			at_msg_once(once, "no memory to record a page allocated before start-up; "
					  "debug mode may report it as not set when it is freed");
			return;
		}
		np->next = cur;
		np->claimed = 1;
		np->pfn[0] = pfn;
		if (__atomic_compare_exchange_n(&current_page, &cur, np, 0, __ATOMIC_RELEASE,
						__ATOMIC_ACQUIRE))
			return;
		/* Lost the race: cur is now the winner's page; give ours back. */
		at_page_free_raw(np, 0);
		__atomic_fetch_add(&at_early_stats.races, 1, __ATOMIC_RELAXED);
	}
}

void at_early_page(uint32_t pfn, uint64_t page_flags)
{
	if (page_flags & AT_PG_NO_CODETAG)
		return;
	at_page_set_flags(&at_pages[pfn], AT_PG_EARLY);
	mark_inaccurate();
	unsigned long g = __atomic_add_fetch(&gate, 1, __ATOMIC_SEQ_CST);
	if (at_likely(!(g & GATE_CLOSED))) {
		record(pfn);
	} else {
		/* The hand-over has begun; the page is still ours alone. */
		if (AT_LOAD_RELAXED(&clear_late))
			at_page_ref_update(pfn, AT_REF_EMPTY);
		__atomic_fetch_add(&at_early_stats.direct, 1, __ATOMIC_RELAXED);
	}
	__atomic_sub_fetch(&gate, 1, __ATOMIC_RELEASE);
}

/* One recorded pfn: give it the empty reference if it is still that page. */
static void clear_one(uint32_t pfn, struct at_early_stats *st)
{
	at_page_lock_pfn(pfn);
	uint64_t f = AT_LOAD_RELAXED(&at_pages[pfn].flags);
	if ((f & (AT_PG_HEAD | AT_PG_EARLY)) != (AT_PG_HEAD | AT_PG_EARLY)) {
		st->gone++;
	} else {
		at_ref_t r = at_page_ref_get(pfn);
		if (r == AT_REF_NONE) {
			at_page_ref_update(pfn, AT_REF_EMPTY);
			st->cleared++;
		} else if (r == AT_REF_EMPTY) {
			st->repeat++;
		} else {
			st->kept++;
		}
	}
	at_page_unlock_pfn(pfn);
}

void at_early_handover(int clear)
{
	struct at_early_stats st = {0};

	if (clear && at_early_test_hook)
		at_early_test_hook();
	AT_STORE_RELAXED(&clear_late, (unsigned char)!!clear);
	__atomic_fetch_or(&gate, GATE_CLOSED, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&gate, __ATOMIC_ACQUIRE) != GATE_CLOSED)
		sched_yield();

	struct tracking_page *tp = AT_LOAD(&current_page), *next;
	AT_STORE(&current_page, NULL);
	for (; tp; tp = next) {
		uint32_t n = tp->claimed < AT_EARLY_PER_PAGE ? tp->claimed : AT_EARLY_PER_PAGE;
		st.recorded += n;
		st.tracking_pages++;
		if (clear)
			for (uint32_t i = 0; i < n; i++)
				clear_one(tp->pfn[i], &st);
		next = tp->next;
		at_page_free_raw(tp, 0);
	}
	at_early_stats.recorded = st.recorded;
	at_early_stats.tracking_pages = st.tracking_pages;
	at_early_stats.cleared = st.cleared;
	at_early_stats.repeat = st.repeat;
	at_early_stats.kept = st.kept;
	at_early_stats.gone = st.gone;
	AT_STORE(&at_early_handed_over, 1);
}
