/*
 * Shared-object ("module") tags: copied into the tag area at load, kept
 * while they have live allocations after unload, reclaimed when they have
 * none.  All functions with at_registry_lock held.
 *
 * Load (at_module_register, from the constructor alloctag.h emits):
 *   the object's record and every string its tags use (object name,
 *   functions, files; a string is stored once per run of tags sharing it)
 *   go to the string space, the tags to slots of the tag area (tag_area.h).
 *   Each copy gets idx = at_area_slot_idx(slot), *at_tag_slot(idx) = copy,
 *   canon = itself; the section tag gets the same idx and canon = the copy,
 *   so a call site reaches its copy with one load.  If the new indexes do not
 *   fit the compressed store, the store switches first (store_migrate.h).
 *
 * Unload (at_module_unregister, from the destructor; it runs after the
 * object's own destructors and before its memory is unmapped):
 *   every section tag's canon is set to NULL: the object's memory may not be
 *   read once it is unmapped, and nothing reads it after this point (a
 *   later destructor of the same object sees NULL and does nothing; an
 *   allocation from one of them is not charged).  If every copy's counters
 *   are zero, the object's ranges are reclaimed at once.  Otherwise every
 *   copy gets ALLOCTAG_FLAG_UNLOADED and the object goes on the unloaded
 *   list: its copies and strings stay valid, so pages still referring to
 *   them uncharge them exactly when freed; allocinfo prints the copies that
 *   are not zero with " loaded:no".
 *
 * Reclaim (at_module_reclaim): an unloaded object whose copies are all zero
 * gives its indexes (their registry entries cleared) and ranges back.  It
 * runs at every load and unload and at the start of every allocinfo walk,
 * so the free path pays nothing.  Zero is final: after unload nothing can
 * charge these copies (no call site reaches them), each counter slot only
 * goes down, so a sum read as zero is the true value and no reference to
 * the copy is left anywhere.
 *
 * Loading the same object again gets fresh copies (the new mapping's
 * section has canon = NULL), at the lowest free slots.
 */
#include <string.h>

#include "core/message.h"
#include "store/store_migrate.h"
#include "modules/tag_area.h"
#include "store/tag_ref.h"

struct at_module {
	struct at_module *next_unloaded;
	struct at_area_span span;
	struct alloc_tag *copies;
	uint32_t ntags;
	const char *name;
};

static struct at_module *unloaded;

/* Bytes of strings [start, stop) need, each run of equal pointers once. */
static size_t strings_size(struct alloc_tag *start, struct alloc_tag *stop)
{
	size_t n = 0;
	const char *fn = NULL, *file = NULL;
	for (struct alloc_tag *t = start; t < stop; t++) {
		if (t->function != fn)
			n += strlen(fn = t->function) + 1;
		if (t->filename != file)
			n += strlen(file = t->filename) + 1;
	}
	return n;
}

static char *put(char **p, const char *s)
{
	char *d = *p;
	size_t n = strlen(s) + 1;
	memcpy(d, s, n);
	*p += n;
	return d;
}

static int all_zero(const struct at_module *m)
{
	for (uint32_t i = 0; i < m->ntags; i++) {
		struct alloctag_counters c = at_counters_read(m->copies[i].idx);
		if (c.bytes || c.calls)
			return 0;
	}
	return 1;
}

static void update_nr_idx(void)
{
	AT_STORE(&at_nr_idx, at_area_slot_idx(at_area_slots_end()));
}

static void release(struct at_module *m)
{
	for (uint32_t i = 0; i < m->ntags; i++)
		AT_STORE(at_tag_slot(m->copies[i].idx), NULL);
	at_area_release(m->span); /* m lives there: span passed by value */
	update_nr_idx();
}

void at_module_reclaim(void)
{
	for (struct at_module **p = &unloaded; *p;) {
		struct at_module *m = *p;
		if (all_zero(m)) {
			*p = m->next_unloaded;
			release(m);
		} else {
			p = &m->next_unloaded;
		}
	}
}

void at_module_register(struct alloc_tag *start, struct alloc_tag *stop, const char *name)
{
	static int full_once, store_once;
	uint32_t n = (uint32_t)(stop - start);

	at_module_reclaim();
	size_t head = (sizeof(struct at_module) + AT_AREA_STR_ALIGN - 1) & ~(AT_AREA_STR_ALIGN - 1);
	size_t bytes = head + strlen(name) + 1 + strings_size(start, stop);
	struct at_area_span sp;
	if (at_area_alloc(n, bytes, &sp)) {
		at_msg_once(full_once, "%s: no room for %u allocation tags in the tag area; "
				       "they will not be counted", name, n);
		return;
	}
	uint32_t first = at_area_slot_idx(sp.slot);
	if ((uint64_t)first + n > AT_IDX_MAX) {
		at_area_release(sp);
		at_msg_once(full_once, "%s: %u allocation tags exceed the index space (%u); "
				       "they will not be counted", name, n, AT_IDX_MAX);
		return;
	}
	if (at_store_reserve(first + n)) {
		at_area_release(sp);
		at_msg_once(store_once, "%s: cannot store references to %u more allocation tags; "
					"they will not be counted", name, n);
		return;
	}

	struct at_module *m = (struct at_module *)at_area_str(sp.str_off);
	char *p = (char *)m + head;
	m->next_unloaded = NULL;
	m->span = sp;
	m->copies = at_area_slot(sp.slot);
	m->ntags = n;
	m->name = put(&p, name);

	const char *fn = NULL, *file = NULL, *fn_copy = NULL, *file_copy = NULL;
	for (uint32_t i = 0; i < n; i++) {
		struct alloc_tag *t = &start[i], *c = &m->copies[i];
		if (t->function != fn)
			fn_copy = put(&p, fn = t->function);
		if (t->filename != file)
			file_copy = put(&p, file = t->filename);
		c->function = fn_copy;
		c->filename = file_copy;
		c->modname = m->name;
		c->lineno = t->lineno;
		c->flags = AT_LOAD_RELAXED(&t->flags) & ALLOCTAG_FLAG_INACCURATE;
		c->reserved = 0;
	}
	at_registry_assign(start, stop, first, m->copies);
	update_nr_idx(); /* the padding slots included */
}

void at_module_unregister(struct alloc_tag *start, struct alloc_tag *stop)
{
	struct at_module *m = at_area_owner(start->canon);
	for (struct alloc_tag *t = start; t < stop; t++) {
		AT_STORE(&t->canon, NULL);
		AT_STORE_RELAXED(&t->idx, 0);
	}
	if (!m)
		return;
	if (all_zero(m)) {
		release(m);
	} else {
		for (uint32_t i = 0; i < m->ntags; i++)
			__atomic_fetch_or(&m->copies[i].flags, ALLOCTAG_FLAG_UNLOADED,
					  __ATOMIC_RELAXED);
		m->next_unloaded = unloaded;
		unloaded = m;
	}
	at_module_reclaim();
}

unsigned long at_module_unloaded_count(void)
{
	unsigned long n = 0;
	for (struct at_module *m = unloaded; m; m = m->next_unloaded)
		n++;
	return n;
}
