/*
 * The shared-object tag area: one reserved virtual range holding the copies
 * of every shared object's tags and of their strings (the kernel's module
 * tag area, managed there by a maple tree and here by two range maps).
 *
 * Layout (reserved read-write, MAP_NORESERVE, in the heap's reservation
 * (page.h at_heap_meta) or a mapping of its own at the first shared-object
 * registration):
 *
 *   base                         base + AT_AREA_TAG_BYTES            + AT_AREA_STR_BYTES
 *   | tag slots                  | string space                            |
 *   | struct alloc_tag [AT_AREA_SLOTS]  | per object: its record, then its  |
 *   |                            | strings (name, functions, files)        |
 *
 * Tag slots.  Slot s holds one tag copy; its index is exact and fixed:
 *     idx = AT_IDX_FIRST + at_core_count() + s        (at_area_slot_idx)
 * so idx <-> slot is O(1) both ways and the registry's table is filled from it.
 * The slot map (a range map in slot units) holds one range per registered
 * object.  An object's range starts at a multiple of AT_AREA_SLOT_ALIGN
 * slots (4 slots = 192 bytes, three cache lines: every object's tags start on
 * a cache line) and its length is its tag count rounded up to that multiple:
 * the alignment padding after its last tag belongs to the object's range, so
 * every slot is either in exactly one range or free, free gaps are whole
 * multiples of the alignment, and padding slots are indexes nobody else can
 * get (their registry entries stay NULL).
 *
 * String space.  The string map (a range map in bytes, 16-byte aligned) holds
 * one range per object: the object's record (module_tags.c) followed by the
 * strings its copies point to.  Nothing in the area points into an object.
 *
 * Memory: the kernel populates a page at its first touch; each part counts
 * as committed up to its used end (the highest range's end,
 * at_rmap_used_end(), kept O(1) by the map), rounded up to a page, and
 * gives its pages back (MADV_DONTNEED) when the used end falls more than
 * AT_AREA_SLACK below what is committed.  (Nothing is mprotect'ed: the
 * area stays one mapping with the heap's, not a mapping per part.)  Released ranges in
 * the middle are reused by later registrations (lowest fit first), so
 * load/unload cycles do not grow the area.
 *
 * All calls with at_registry_lock held.
 */
#ifndef AT_TAG_AREA_H
#define AT_TAG_AREA_H

#include <stddef.h>
#include <stdint.h>

#include "core/tag_registry.h"

#define AT_AREA_SLOTS AT_IDX_MAX
#define AT_AREA_SLOT_ALIGN 4ul
#define AT_AREA_TAG_BYTES ((size_t)AT_AREA_SLOTS * sizeof(struct alloc_tag))
#define AT_AREA_STR_BYTES (256ul << 20)
#define AT_AREA_STR_ALIGN 16ul
#define AT_AREA_SLACK (64ul << 10)

/* Where one object lives in the area. */
struct at_area_span {
	unsigned long slot, nslots;     /* slot range, padding included */
	unsigned long str_off, str_len; /* string space range */
};

/*
 * Place an object with ntags tags and str_bytes of record + strings.  Both
 * ranges' owner is the start of the string range (where the caller puts the
 * object's record).  0, or -ENOMEM when the area is full or cannot be
 * reserved or committed.
 */
AT_HIDDEN int at_area_alloc(uint32_t ntags, size_t str_bytes, struct at_area_span *sp);
/* Give the object's ranges back (the span is read before anything is freed). */
AT_HIDDEN void at_area_release(struct at_area_span sp);
/* The record of the object whose slot range holds tag copy t, or NULL. */
AT_HIDDEN void *at_area_owner(const struct alloc_tag *t);

/* Whether t lies in the reserved tag slots (no lock: a registered copy). */
AT_HIDDEN int at_area_holds(const struct alloc_tag *t);

/* Slot s and string offset off as addresses (the area must be reserved). */
AT_HIDDEN struct alloc_tag *at_area_slot(unsigned long s);
AT_HIDDEN char *at_area_str(unsigned long off);

static inline uint32_t at_area_slot_idx(unsigned long s)
{
	return AT_IDX_FIRST + at_core_count() + (uint32_t)s;
}

/* End of the used slots (highest range's end, padding included), O(1). */
AT_HIDDEN unsigned long at_area_slots_end(void);
/* Number of objects placed. */
AT_HIDDEN unsigned long at_area_objects(void);
/* Bytes of the area currently committed (both parts). */
AT_HIDDEN size_t at_area_committed(void);
/* The area's bytes (both parts), carved from the heap's reservation when
 * it made room (page.h at_heap_meta). */
AT_HIDDEN size_t at_area_bytes(void);

#endif
