/*
 * The shared-object tag area (layout and invariants: tag_area.h).
 * Registry lock held for every call.
 */
#include "modules/tag_area.h"

#include <errno.h>
#include <sys/mman.h>

#include "modules/range_map.h"
#include "pages/page.h"

#define PAGE 4096ul

struct part {
	char *base;
	size_t size;      /* reserved bytes */
	size_t committed; /* [base, base + committed) is read-write */
	struct at_rmap map;
};

static char *area_base;
static struct part tags, strs; /* tags.map in slots, strs.map in bytes */
/* Each map's first nodes: a node per span (a registered object, a chunk of
 * run-time indexes, runtime_index.c), one or two in git --version and
 * python3 with a thread; in the data segment's last page
 * (AT_PAGE_END_DATA), where a page of .bss held them; a map that needs
 * more maps a 64 KiB chunk of nodes (range_map.c). */
#define FIRST_NODES 3
AT_PAGE_END_DATA static uint64_t first_nodes[2][FIRST_NODES * AT_RMAP_NODE_BYTES / 8];

static size_t page_up(size_t n)
{
	return (n + PAGE - 1) & ~(PAGE - 1);
}

static int reserve(void)
{
	if (area_base)
		return 0;
	void *p = at_meta_map(AT_META_AREA, at_area_bytes());
	if (p == MAP_FAILED)
		return -ENOMEM;
	tags.base = p;
	tags.size = AT_AREA_TAG_BYTES;
	strs.base = (char *)p + AT_AREA_TAG_BYTES;
	strs.size = AT_AREA_STR_BYTES;
	at_rmap_init_nodes(&tags.map, AT_AREA_SLOTS, first_nodes[0], sizeof(first_nodes[0]));
	at_rmap_init_nodes(&strs.map, AT_AREA_STR_BYTES, first_nodes[1], sizeof(first_nodes[1]));
	AT_STORE(&area_base, (char *)p); /* last: at_area_holds reads it without the lock */
	return 0;
}

size_t at_area_bytes(void)
{
	return AT_AREA_TAG_BYTES + AT_AREA_STR_BYTES;
}

/* Count [0, end) of the part as in use (the kernel populates a page at
 * its first touch). */
static int commit(struct part *p, size_t end)
{
	end = page_up(end);
	if (at_meta_cover(p->base, end)) /* under a limit, mapped as used */
		return -ENOMEM;
	if (end > p->committed)
		p->committed = end;
	return 0;
}

/* Give back what lies beyond the used end plus the slack. */
static void trim(struct part *p, size_t used_end)
{
	size_t keep = page_up(used_end);
	if (p->committed <= keep + AT_AREA_SLACK)
		return;
	/* the pages and their contents dropped; they read as zero again */
	if (!madvise(p->base + keep, p->committed - keep, MADV_DONTNEED))
		p->committed = keep;
}

static unsigned long align_up(unsigned long n, unsigned long a)
{
	return (n + a - 1) & ~(a - 1);
}

int at_area_alloc(uint32_t ntags, size_t str_bytes, struct at_area_span *sp)
{
	int err = reserve();
	if (err)
		return err;
	sp->nslots = align_up(ntags ? ntags : 1, AT_AREA_SLOT_ALIGN);
	sp->str_len = align_up(str_bytes ? str_bytes : 1, AT_AREA_STR_ALIGN);
	if ((err = at_rmap_find_free(&tags.map, sp->nslots, AT_AREA_SLOT_ALIGN, &sp->slot)) ||
	    (err = at_rmap_find_free(&strs.map, sp->str_len, AT_AREA_STR_ALIGN, &sp->str_off)))
		return err;
	if ((err = commit(&tags, (sp->slot + sp->nslots) * sizeof(struct alloc_tag))) ||
	    (err = commit(&strs, sp->str_off + sp->str_len)))
		return err;
	void *owner = strs.base + sp->str_off; /* the object's record */
	if ((err = at_rmap_insert(&tags.map, sp->slot, sp->nslots, owner)))
		return err;
	if ((err = at_rmap_insert(&strs.map, sp->str_off, sp->str_len, owner))) {
		at_rmap_erase(&tags.map, sp->slot);
		return err;
	}
	return 0;
}

void at_area_release(struct at_area_span sp)
{
	at_rmap_erase(&tags.map, sp.slot);
	at_rmap_erase(&strs.map, sp.str_off);
	trim(&tags, at_rmap_used_end(&tags.map) * sizeof(struct alloc_tag));
	trim(&strs, at_rmap_used_end(&strs.map));
}

void *at_area_owner(const struct alloc_tag *t)
{
	struct at_rmap_entry e;
	if (!area_base || (const char *)t < tags.base || (const char *)t >= tags.base + tags.size)
		return NULL;
	unsigned long s = (unsigned long)(t - (const struct alloc_tag *)tags.base);
	return at_rmap_lookup(&tags.map, s, &e) ? NULL : e.owner;
}

int at_area_holds(const struct alloc_tag *t)
{
	const char *base = AT_LOAD(&area_base);
	return base && (const char *)t >= base && (const char *)t < base + AT_AREA_TAG_BYTES;
}

struct alloc_tag *at_area_slot(unsigned long s)
{
	return (struct alloc_tag *)tags.base + s;
}

char *at_area_str(unsigned long off)
{
	return strs.base + off;
}

unsigned long at_area_slots_end(void)
{
	return area_base ? at_rmap_used_end(&tags.map) : 0;
}

unsigned long at_area_objects(void)
{
	return area_base ? at_rmap_count(&tags.map) : 0;
}

size_t at_area_committed(void)
{
	return tags.committed + strs.committed;
}
