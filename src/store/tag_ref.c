/*
 * Setting up the tag reference store (see tag_ref.h for the interface).
 *
 * Bit budget: AT_NR_SPARE_BITS are left in the flags word (page.h); indexes
 * never exceed AT_IDX_MAX, so at most log2(AT_IDX_MAX) of them are useful;
 * ALLOCTAG_TAG_BITS caps the number lower.  Compressed mode needs every index
 * in use to be below 1 << at_tag_bits; if the core tags do not fit at
 * start-up, the side table is used instead (the kernel turns profiling off).
 */
#include "store/tag_ref.h"

#include <errno.h>
#include <sys/mman.h>

#include "core/message.h"

unsigned char at_store_mode;
at_ref_t *at_side_table;
unsigned int at_tag_bits;
uint64_t at_tag_mask;
unsigned char at_early_handed_over;

static unsigned int log2_floor(uint64_t v)
{
	return 63u - (unsigned int)__builtin_clzll(v);
}

int at_side_table_map(void)
{
	if (at_side_table)
		return 0;
	void *p = mmap(NULL, AT_HEAP_PAGES * sizeof(at_ref_t), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	AT_STORE(&at_side_table, (at_ref_t *)p);
	return 0;
}

int at_store_init(int want_compressed, unsigned int bits_cap)
{
	unsigned int bits = AT_NR_SPARE_BITS;
	if (bits > log2_floor(AT_IDX_MAX))
		bits = log2_floor(AT_IDX_MAX);
	if (bits_cap && bits_cap < bits)
		bits = bits_cap;

	if (want_compressed) {
		uint64_t needed = (uint64_t)AT_IDX_FIRST + at_core_count();
		if (needed <= (1ull << bits)) {
			at_tag_bits = bits;
			at_tag_mask = ((1ull << bits) - 1) << AT_SPARE_SHIFT;
			AT_STORE(&at_store_mode, AT_STORE_COMPRESSED);
			return 0;
		}
		at_msg("%u allocation tags (plus 2 reserved ids) do not fit in %u page flag bits; "
		       "using the side table (8 bytes per page) instead",
		       at_core_count(), bits);
	}
	int err = at_side_table_map();
	if (err)
		return err;
	AT_STORE(&at_store_mode, AT_STORE_SIDE);
	return 0;
}

bool alloctag_compressed(void)
{
	return AT_LOAD_RELAXED(&at_store_mode) == AT_STORE_COMPRESSED;
}

unsigned int alloctag_tag_bits(void)
{
	return AT_LOAD_RELAXED(&at_store_mode) == AT_STORE_COMPRESSED ? at_tag_bits : 0;
}

size_t alloctag_side_table_bytes(void)
{
	return at_side_table ? AT_HEAP_PAGES * sizeof(at_ref_t) : 0;
}
