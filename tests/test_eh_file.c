/*
 * The unwinder reads an object's CFI from its file, not its mapping
 * (src/sites/eh_file.h): walks through 8192 functions of this program
 * (one FDE each, 300 KB of .eh_frame_hdr and .eh_frame) each give the
 * function's return address and then the loop's, and afterwards the pages
 * of this program's unwind tables are still not mapped in
 * (/proc/self/pagemap), but for the windows next to the read-only data
 * before them; the same walks read in place map them all (checked by
 * reading them the way the mapping's reader does: at_eh_rule).
 * Half the walks come after the program closed every descriptor it did not
 * open (the unwinder's among them): the file is opened again.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <link.h>
#include <unistd.h>

#include "check.h"
#include "eh_segment.h"
#include "sites/eh_file.h"
#include "sites/unwind.h"

#define NFN 8192

static volatile uintptr_t sink;

static __attribute__((noinline)) uintptr_t walk(void)
{
	uintptr_t f[4];
	unsigned int n = at_unwind(f, 4, (uintptr_t)__builtin_dwarf_cfa(), NULL);
	sink += n;
	return n >= 2 ? f[0] : 0;
}

/* the frame after the function's: this loop's call (one return address) */
static volatile uintptr_t second;
static __attribute__((noinline)) uintptr_t walk2(void)
{
	uintptr_t f[4];
	unsigned int n = at_unwind(f, 4, (uintptr_t)__builtin_dwarf_cfa(), NULL);
	second = n >= 2 ? f[1] : 0;
	return n >= 1 ? f[0] : 0;
}

#define FN(k)                                                                                  \
	static __attribute__((noinline)) uintptr_t fn_##k(int last)                            \
	{                                                                                      \
		uintptr_t r = last ? walk2() : walk();                                         \
		sink += k;                                                                     \
		return r;                                                                      \
	}
#define FN4(k) FN(k##0) FN(k##1) FN(k##2) FN(k##3)
#define FN16(k) FN4(k##0) FN4(k##1) FN4(k##2) FN4(k##3)
#define FN64(k) FN16(k##0) FN16(k##1) FN16(k##2) FN16(k##3)
#define FN256(k) FN64(k##0) FN64(k##1) FN64(k##2) FN64(k##3)
#define FN1K(k) FN256(k##0) FN256(k##1) FN256(k##2) FN256(k##3)
#define FN4K(k) FN1K(k##0) FN1K(k##1) FN1K(k##2) FN1K(k##3)
FN4K(1) FN4K(2)
#define P(k) fn_##k,
#define P4(k) P(k##0) P(k##1) P(k##2) P(k##3)
#define P16(k) P4(k##0) P4(k##1) P4(k##2) P4(k##3)
#define P64(k) P16(k##0) P16(k##1) P16(k##2) P16(k##3)
#define P256(k) P64(k##0) P64(k##1) P64(k##2) P64(k##3)
#define P1K(k) P256(k##0) P256(k##1) P256(k##2) P256(k##3)
#define P4K(k) P1K(k##0) P1K(k##1) P1K(k##2) P1K(k##3)
static uintptr_t (*const fns[NFN])(int) = {P4K(1) P4K(2)};

/* This program's .eh_frame_hdr and the end of the segment holding it. */
static uintptr_t hdr, seg_end;

static int find_self(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	(void)data;
	if (info->dlpi_name && info->dlpi_name[0])
		return 0; /* the main program comes first */
	const ElfW(Phdr) *seg;
	if (eh_segment(info, &hdr, &seg) && seg)
		seg_end = info->dlpi_addr + seg->p_vaddr + seg->p_filesz;
	return 1;
}

/* Pages of [lo, hi) mapped in. */
static unsigned int present(uintptr_t lo, uintptr_t hi)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);
	CHECK(fd >= 0);
	unsigned int n = 0;
	for (uintptr_t p = lo & ~4095ul; p < hi; p += 4096) {
		uint64_t e = 0;
		CHECK(pread(fd, &e, 8, (off_t)(p / 4096 * 8)) == 8);
		n += (unsigned int)(e >> 63);
	}
	close(fd);
	return n;
}

static void walk_range(int from, int to)
{
	for (int k = from; k < to; k++) {
		uintptr_t ra = fns[k](0), fn = (uintptr_t)fns[k];
		CHECK(ra > fn && ra < fn + 64); /* the return address inside fn_k */
	}
}

int main(void)
{
	dl_iterate_phdr(find_self, NULL);
	CHECK(hdr && seg_end > hdr);
	/* the windows next to the read-only data before the tables are left out */
	uintptr_t lo = ((hdr + 65535) & ~65535ul) + 65536, hi = seg_end & ~65535ul;
	unsigned int pages = (unsigned int)((hi - lo) / 4096);
	CHECK(hi > lo && pages >= 32);

	walk_range(0, NFN / 2);
	CHECK(at_eh_file_objects() >= 1);
	/* the program closes every descriptor it did not open: the next misses
	 * open the file again */
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
	walk_range(NFN / 2, NFN);
	uintptr_t s = 0;
	for (int k = 0; k < NFN; k += NFN / 4) {
		CHECK(fns[k](1));
		CHECK(second && (!s || second == s)); /* every one returns to this call */
		s = second;
	}
	CHECK(at_eh_file_objects() >= 1);
	unsigned int after_file = present(lo, hi);
	printf("read from the file: %u of %u pages of the unwind tables mapped in\n", after_file,
	       pages);
	CHECK_EQ(after_file, 0);

	/* the mapping's reader (what a miss did before) maps them in */
	for (int k = 0; k < NFN; k++) {
		uint64_t rule;
		uintptr_t fn = (uintptr_t)fns[k];
		CHECK_EQ(at_eh_rule((const uint8_t *)(hdr & ~4095ul), seg_end - (hdr & ~4095ul),
				    (const uint8_t *)hdr, fn + 8, &rule),
			 0);
	}
	unsigned int in_place = present(lo, hi);
	printf("read in place: %u of %u pages mapped in\n", in_place, pages);
	CHECK(in_place >= pages * 3 / 4);
	return 0;
}
