/*
 * Switching the tag reference store to the side table at run time
 * (interface and hook: store_migrate.h; the protocol with unlocked readers
 * and updaters: tag_ref.h).
 *
 * Why holding every arena lock is enough for the page store: the page
 * allocator records a new block's reference and takes a freed block's
 * reference only under the block's arena lock (page_alloc.c), reading
 * at_store_mode there.  With every lock held, each block is either allocated
 * with its index in its head's flags, or free; the copy sees all of them,
 * and the first allocation or free after the unlock already sees
 * AT_STORE_SIDE.  Counters are charged from tag pointers, never from the
 * store, so nothing is charged to another tag.
 */
#include "store/store_migrate.h"

#include <errno.h>

#include "core/message.h"
#include "store/tag_ref.h"

static struct at_store_migrator *migrators;
static const struct at_store_pages *pages;

void at_store_set_pages(const struct at_store_pages *ops)
{
	pages = ops;
}

void at_store_add_migrator(struct at_store_migrator *m)
{
	pthread_mutex_lock(&at_registry_lock);
	struct at_store_migrator **p = &migrators;
	while (*p)
		p = &(*p)->next;
	m->next = NULL;
	*p = m;
	pthread_mutex_unlock(&at_registry_lock);
}

static void copy_ref(uint32_t pfn, uint64_t flags, void *ctx)
{
	(void)ctx;
	at_side_table[pfn] = at_idx_to_ref((uint32_t)((flags & at_tag_mask) >> AT_SPARE_SHIFT));
}

void at_page_ref_update_slow(uint32_t pfn, at_ref_t ref)
{
	pages->lock_pfn(pfn); /* waits for a switch in progress to finish */
	__atomic_store_n(&at_side_table[pfn], ref, __ATOMIC_RELEASE);
	pages->unlock_pfn(pfn);
}

int at_store_migrate(uint32_t idx_end)
{
	if (AT_LOAD_RELAXED(&at_store_mode) != AT_STORE_COMPRESSED)
		return 0;
	int err = at_side_table_map();
	if (err)
		return err;
	if (pages) /* no page heap (it could not be reserved): no page to copy */
		pages->lock_all();
	__atomic_store_n(&at_store_mode, AT_STORE_MIGRATING, __ATOMIC_SEQ_CST);
	if (pages)
		pages->each_head(copy_ref, NULL);
	__atomic_store_n(&at_store_mode, AT_STORE_SIDE, __ATOMIC_SEQ_CST);
	if (pages)
		pages->unlock_all();

	for (struct at_store_migrator *m = migrators; m; m = m->next)
		if (m->migrate && (err = m->migrate())) {
			at_msg("%s: cannot switch its tag references to uncompressed form", m->name);
			return err;
		}
	if ((uint64_t)idx_end > (1ull << at_tag_bits))
		at_msg("allocation tag index %u does not fit in %u page flag bits; "
		       "switched to the side table (8 bytes per page)",
		       idx_end - 1, at_tag_bits);
	else
		at_msg("allocation tag index %u does not fit in compressed object references; "
		       "switched to the side table (8 bytes per page)",
		       idx_end - 1);
	return 0;
}

int at_store_reserve(uint32_t idx_end)
{
	if (AT_LOAD_RELAXED(&at_store_mode) != AT_STORE_COMPRESSED)
		return 0;
	int fits = (uint64_t)idx_end <= (1ull << at_tag_bits);
	for (struct at_store_migrator *m = migrators; m; m = m->next)
		if (m->idx_limit && idx_end > m->idx_limit)
			fits = 0;
	return fits ? 0 : at_store_migrate(idx_end);
}
