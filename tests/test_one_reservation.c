/*
 * The heap and the runtime metadata are one mapping (src/pages/page_alloc.c,
 * Reservation): after small and large allocations, a shared-object tag area
 * and slab metadata, the page descriptors, the shadow, the heap's
 * committed first chunk and (profiling planned) the registry's table, the
 * counters and the tag area all lie in one read-write line of
 * /proc/self/maps, placed exactly as the layout says, and the rest of the
 * heap is one PROT_NONE line after it: two lines in all (without a limit,
 * before the first block, one read-write line holds the heap too).
 * Without a limit, the ends of the arrays a process touches first meet
 * in shared 2 MiB regions: CPU 0's counters (used downward) end where the
 * descriptors begin, the registry's table (used downward) ends where the
 * shadow begins.
 *   test_one_reservation            whatever ALLOCTAG says (ctest runs it
 *                                   with profiling on and with never)
 *   test_one_reservation --limit    re-executes itself under an
 *                                   address-space limit (--limited): meta
 *                                   and AT_HEAP_GROW_STEP of heap, grown
 *                                   as blocks need it into the same
 *                                   mapping, a second arena included; the
 *                                   shadow mapped as a prefix as slabs'
 *                                   windows take it, the tag area only
 *                                   where it is used
 */
#include <alloctag.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/resource.h>
#include <unistd.h>

#include "check.h"
#include "core/counters.h"
#include "core/tag_registry.h"
#include "modules/tag_area.h"
#include "objects/slab.h"
#include "pages/page.h"

/* The lines of /proc/self/maps overlapping [lo, hi), at most 64: their
 * ranges and protections; how many. */
struct line {
	uintptr_t lo, hi;
	char prot[8];
};

static int lines_in(uintptr_t lo, uintptr_t hi, struct line *l)
{
	FILE *f = fopen("/proc/self/maps", "r");
	CHECK(f);
	char buf[512];
	int n = 0;
	while (fgets(buf, sizeof buf, f) && n < 64)
		if (sscanf(buf, "%lx-%lx %4s", &l[n].lo, &l[n].hi, l[n].prot) == 3 && l[n].lo < hi &&
		    lo < l[n].hi)
			n++;
	fclose(f);
	return n;
}

static void in(uintptr_t lo, uintptr_t hi, const void *p, const char *what)
{
	if ((uintptr_t)p < lo || (uintptr_t)p >= hi) {
		fprintf(stderr, "FAIL: %s at %p outside the reservation %#lx-%#lx\n", what, p,
			(unsigned long)lo, (unsigned long)hi);
		exit(1);
	}
}

static size_t align_up(size_t n, size_t a)
{
	return (n + a - 1) & ~(a - 1);
}

int main(int argc, char **argv)
{
	int limited = argc > 1 && !strcmp(argv[1], "--limited");
	if (argc > 1 && !strcmp(argv[1], "--limit")) { /* re-executed under a limit */
		struct rlimit rl = {8000000ul << 10, 8000000ul << 10}; /* 8 arenas */
		CHECK(!setrlimit(RLIMIT_AS, &rl));
		execl("/proc/self/exe", argv[0], "--limited", (char *)NULL);
		perror("execl");
		return 1;
	}
	/* Before the first block (nothing committed): without a limit the
	 * metadata and the whole heap are one read-write line, mapped by one
	 * system call; the first commit makes the heap above it PROT_NONE
	 * (below). */
	struct line l0[64];
	uintptr_t end0 = (uintptr_t)at_heap_base + at_heap_span;
	CHECK_EQ(at_heap_committed(), 0);
	if (!limited) {
		CHECK_EQ(lines_in((uintptr_t)at_pages, end0, l0), 1);
		CHECK_STREQ(l0[0].prot, "rw-p");
		CHECK(l0[0].lo <= (uintptr_t)at_pages && l0[0].hi >= end0);
	} else {
		CHECK_EQ(lines_in((uintptr_t)at_pages, end0, l0), 2);
		CHECK_EQ(l0[0].hi, (uintptr_t)at_heap_base);
		CHECK_STREQ(l0[1].prot, "---p");
	}
	char *small = at_malloc(100), *large = at_malloc(1 << 20);
	CHECK(small && large);
	small[0] = large[0] = 1;
	char *shadow = NULL;
	CHECK_EQ(at_heap_add_shadow(&shadow), 0);
	int profiling = alloctag_profiling();
	struct at_area_span sp;
	if (profiling) {
		pthread_mutex_lock(&at_registry_lock);
		CHECK_EQ(at_area_alloc(4, 64, &sp), 0);
		pthread_mutex_unlock(&at_registry_lock);
	}

	/* meta, the shadow and the heap's first chunk read-write (the small
	 * and the large block are in it); the rest of the heap PROT_NONE */
	struct line l[64];
	uintptr_t end = (uintptr_t)at_heap_base + at_heap_span;
	CHECK_EQ(lines_in((uintptr_t)at_pages, end, l), 2);
	CHECK_STREQ(l[0].prot, "rw-p");
	uintptr_t lo = l[0].lo, hi = l[0].hi;
	/* the reservation's start: the tag area, with profiling, else the
	 * descriptors */
	uintptr_t start = (uintptr_t)at_pages;
	if (profiling && !limited)
		start = (uintptr_t)at_heap_meta(AT_META_AREA, at_area_bytes());
	CHECK_EQ(hi, (uintptr_t)at_heap_base + (2u << 20));
	CHECK_EQ(l[1].lo, hi);
	CHECK_STREQ(l[1].prot, "---p");
	if (limited) { /* the alignment's slack unmapped: the heap grows into it */
		CHECK_EQ(lo, (uintptr_t)at_pages);
		CHECK_EQ(l[1].hi, end);
	} else { /* none when placed below the library, else an arena's worth
		  * kept: on either side, joining its neighbour */
		CHECK(lo <= start && start - lo < AT_ARENA_SIZE);
		CHECK_EQ(start % AT_ARENA_SIZE, 0);
		CHECK(l[1].hi >= end && l[1].hi - end < AT_ARENA_SIZE);
		size_t slack = (start - lo) + (l[1].hi - end);
		CHECK(slack == 0 || slack == AT_ARENA_SIZE);
	}
	in(lo, hi, small, "a small block");
	in(lo, hi, large, "a large block");
	size_t meta = (limited ? (size_t)8 << 30 : AT_HEAP_SIZE) / AT_PAGE_SIZE * sizeof(struct at_page);
	CHECK(at_heap_meta(AT_META_PAGES, meta) == at_pages);
	if (profiling && !limited) {
		/* tag area | counters | descriptors | registry | shadow, the
		 * counters ending 1 MiB past a 1 GiB boundary, the registry 64
		 * KiB into a 2 MiB region */
		uintptr_t k = start +
			      align_up(at_area_bytes() + at_counters_bytes() + (1u << 20), AT_ARENA_SIZE) +
			      (1u << 20) - at_counters_bytes();
		CHECK(at_heap_meta(AT_META_COUNTERS, at_counters_bytes()) == (void *)k);
		CHECK_EQ((uintptr_t)at_counters_base + at_counters_group, k + at_counters_bytes());
		CHECK_EQ((uintptr_t)at_pages, k + at_counters_bytes());
		uintptr_t top = align_up((uintptr_t)at_pages + meta + at_registry_bytes(), 2u << 20) +
				(64u << 10);
		CHECK_EQ((uintptr_t)at_tag_top, top);
		CHECK(at_heap_meta(AT_META_REGISTRY, at_registry_bytes()) ==
		      (void *)(top - at_registry_bytes()));
		CHECK_EQ((uintptr_t)shadow, top);
		/* the first entries' and pairs' regions shared, every CPU's */
		CHECK_EQ((uintptr_t)at_counter0(AT_IDX_FIRST) >> 21, (uintptr_t)at_pages >> 21);
		CHECK_EQ(((uintptr_t)at_counter0(AT_IDX_FIRST) + at_counters_ncpu * AT_COUNTERS_STRIDE) >> 21,
			 (uintptr_t)at_pages >> 21);
		CHECK_EQ((uintptr_t)at_tag_slot(AT_IDX_FIRST) >> 21, (uintptr_t)shadow >> 21);
		CHECK_EQ((uintptr_t)at_counter0(AT_IDX_FIRST) >> 30, (uintptr_t)shadow >> 30);
		in(lo, hi, at_area_slot(sp.slot), "a tag area slot");
		in(lo, hi, at_area_str(sp.str_off), "the tag area's strings");
		meta = top - start;
	} else if (profiling) {
		/* profiling's parts sparse, 2 * AT_HEAP_SIZE above the heap
		 * (tag area, registry, counters, each 64 KiB-aligned), mapped
		 * 64 KiB at a time where used: the tag slots' and the strings'
		 * first 64 KiB, the registry's and the counters' for the
		 * first 2048 indexes (64 KiB of counters a CPU) */
		uintptr_t a = (uintptr_t)at_heap_base + 2 * AT_HEAP_SIZE;
		uintptr_t r = a + align_up(at_area_bytes(), 64 << 10);
		uintptr_t k = r + align_up(at_registry_bytes(), 64 << 10);
		CHECK(at_heap_meta(AT_META_AREA, at_area_bytes()) == (void *)a);
		CHECK(at_heap_meta(AT_META_REGISTRY, at_registry_bytes()) == (void *)r);
		CHECK(at_heap_meta(AT_META_COUNTERS, at_counters_bytes()) == (void *)k);
		CHECK_EQ((uintptr_t)at_tag_top, r + at_registry_bytes());
		CHECK_EQ((uintptr_t)at_counters_base + at_counters_group, k + at_counters_bytes());
		in(a, a + (64u << 10), at_area_slot(sp.slot), "a tag area slot");
		in(a + AT_AREA_TAG_BYTES, a + AT_AREA_TAG_BYTES + (64u << 10),
		   at_area_str(sp.str_off), "the tag area's strings");
		/* the registry and the counters used from their ends down: the
		 * counters' first 16 groups (a page per CPU and a shared one
		 * each), in 64 KiB grains */
		size_t cnt = align_up(16 * at_counters_group, 64 << 10);
		CHECK_EQ(at_counters_group, (at_counters_ncpu + 1) * AT_COUNTERS_STRIDE);
		struct line sl[64];
		CHECK_EQ(lines_in(a, k + at_counters_bytes(), sl), 4);
		uintptr_t want[4] = {a, a + AT_AREA_TAG_BYTES, r + at_registry_bytes() - (64u << 10),
				     k + at_counters_bytes() - cnt};
		for (unsigned int i = 0; i < 4; i++) {
			CHECK_EQ(sl[i].lo, want[i]);
			CHECK_EQ(sl[i].hi, i < 3 ? want[i] + (64u << 10) : k + at_counters_bytes());
			CHECK_STREQ(sl[i].prot, "rw-p");
		}
	}
	if (profiling) {
		pthread_mutex_lock(&at_registry_lock);
		at_area_release(sp);
		pthread_mutex_unlock(&at_registry_lock);
	} else {
		CHECK(!at_heap_meta(AT_META_COUNTERS, at_counters_bytes()));
	}
	meta = align_up(meta, 64 << 10);
	if (!limited) {
		in(lo, hi, shadow, "the shadow");
		CHECK_EQ(shadow, (char *)start + meta);
		CHECK_EQ(at_heap_base - (char *)start, align_up(meta + AT_HEAP_SIZE, AT_ARENA_SIZE));
	} else {
		/* meta right below a step of heap; the shadow AT_HEAP_SIZE
		 * above, mapped as one prefix as the slabs' windows are handed
		 * out, 256 KiB ahead (page_alloc.c): the small block's slab's
		 * window (112 bytes) among the first */
		CHECK_EQ(at_heap_span, AT_HEAP_GROW_STEP);
		CHECK_EQ(at_heap_base - (char *)at_pages, meta);
		CHECK_EQ(shadow, at_heap_base + AT_HEAP_SIZE);
		uintptr_t w = (uintptr_t)at_slab_of((uintptr_t)(small - at_heap_base));
		CHECK_EQ(lines_in((uintptr_t)shadow, (uintptr_t)shadow + (256u << 10), l), 1);
		CHECK_STREQ(l[0].prot, "rw-p");
		CHECK(l[0].lo == (uintptr_t)shadow && l[0].hi == (uintptr_t)shadow + (256u << 10));
		CHECK(w >= l[0].lo && w + AT_META_REFS <= l[0].hi);
		CHECK_EQ(lines_in((uintptr_t)shadow + (256u << 10), (uintptr_t)shadow + AT_HEAP_SIZE, l), 0);
		/* three 512 MiB blocks: the first at the first arena's upper
		 * half (the reservation grows to 1 GiB), the next two fill a
		 * second arena (1.5, then 2 GiB), all joining the mapping of
		 * the first arena's upper half */
		void *b[3];
		for (int i = 0; i < 3; i++) {
			CHECK(b[i] = at_malloc(400u << 20));
			CHECK_EQ(at_heap_span, (size_t)(i + 2) << 29);
		}
		end = (uintptr_t)at_heap_base + at_heap_span;
		CHECK_EQ(lines_in((uintptr_t)at_pages, end, l), 3);
		CHECK_EQ(l[0].hi, (uintptr_t)at_heap_base + (2u << 20));
		CHECK_STREQ(l[1].prot, "---p");
		CHECK_EQ(l[2].lo, (uintptr_t)at_heap_base + (512u << 20));
		CHECK_EQ(l[2].hi, end);
		CHECK_STREQ(l[2].prot, "rw-p");
		for (int i = 0; i < 3; i++)
			at_free(b[i]);
	}
	at_free(small);
	at_free(large);
	printf("one reservation: %#lx bytes read-write%s%s\n", (unsigned long)(hi - start),
	       profiling ? "" : ", no profiling", limited ? ", under a limit" : "");
	return 0;
}
