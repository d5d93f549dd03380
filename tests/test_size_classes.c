/*
 * Size classes and object indexing (src/slab.h), exhaustively: for every
 * class and every offset in a slab, at_obj_index and at_obj_locate (free's
 * check) give offset / size and at_obj_locate says whether the offset is a
 * multiple of the size; every request size maps to the smallest class that
 * holds it, and malloc's bin for it (at_small_bin, through the table of
 * bin offsets) is that class's.
 */
#include <alloctag.h>

#include "check.h"
#include "core/control.h"
#include "objects/slab.h"
#include "objects/tcache.h"

int main(void)
{
	at_free(at_malloc(1)); /* sets the classes' magic numbers up */
	for (unsigned int c = 1; c < AT_NR_CLASSES; c++) {
		uint32_t s = at_class_size[c];
		CHECK_EQ(s % AT_MIN_SIZE, 0);
		CHECK(c == 1 || s > at_class_size[c - 1]);
		CHECK_EQ(at_class_nobj[c], AT_SLAB_SIZE / s);
		for (uintptr_t off = 0; off < AT_SLAB_SIZE; off++) {
			uintptr_t heap_off = 5 * AT_SLAB_SIZE + off; /* any slab */
			uint32_t idx;
			int start = at_obj_locate(heap_off, at_class_magic[c], &idx);
			if (at_obj_index(heap_off, c) != off / s)
				CHECK_EQ(at_obj_index(heap_off, c), off / s);
			if (idx != off / s)
				CHECK_EQ(idx, off / s);
			if (start != (off % s == 0))
				CHECK_EQ(start, off % s == 0);
		}
	}
	/* the stricter heap (ALLOCTAG_SECURE) moves every table to the class
	 * of n + 16 at start-up: malloc's tables must move with it */
	if (at_secure_heap) {
		for (unsigned int n = 0; n <= AT_BIN_DIRECT_MAX; n++) {
			struct at_bin *b = NULL;
			CHECK_EQ(at_small_bin(n, &b), 1);
			CHECK_EQ(b - at_tls_bins, (long)at_size_class(n));
			CHECK(at_class_size[at_size_class(n)] >= n + 16);
		}
		/* every size takes the smallest class that holds it and its
		 * canary (the largest class when none does); above 8192 bytes
		 * the table has one entry per 256 bytes: the class of the
		 * entry's largest size and its canary */
		uint32_t largest = at_class_size[AT_NR_CLASSES - 1];
		for (size_t n = 1; n <= AT_SMALL_MAX; n++) {
			size_t need = (n > 8192 ? (n + 255) & ~(size_t)255 : n) + 16;
			unsigned int c = at_size_class(n), want = AT_NR_CLASSES - 1;
			while (want > 1 && at_class_size[want - 1] >= need)
				want--;
			if (need > largest)
				want = AT_NR_CLASSES - 1;
			if (c != want)
				CHECK_EQ(c, want);
		}
		printf("ok\n");
		return 0;
	}
	for (size_t n = 0; n <= AT_SMALL_MAX; n++) {
		unsigned int c = at_size_class(n);
		CHECK(c >= 1 && c < AT_NR_CLASSES);
		CHECK(at_class_size[c] >= n);
		CHECK(c == 1 || at_class_size[c - 1] < n);
		struct at_bin *b = NULL;
		CHECK_EQ(at_small_bin(n, &b), 1);
		if (b != &at_tls_bins[c])
			CHECK_EQ(b - at_tls_bins, (long)c);
	}
	struct at_bin *b = NULL;
	CHECK_EQ(at_small_bin(AT_SMALL_MAX + 1, &b), 0);
	for (unsigned int i = 0; i < 513; i++)
		CHECK_EQ(at_bin_small[i], at_class_small[i] * AT_BIN_BYTES);
	for (unsigned int n = 0; n <= AT_BIN_DIRECT_MAX; n++)
		CHECK_EQ(at_bin_direct[n], at_class_small[(n + 15) >> 4] * AT_BIN_BYTES);
	printf("ok\n");
	return 0;
}
