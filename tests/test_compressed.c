/*
 * The compressed store: the tag index lives in the flags word's spare bits,
 * no side table is mapped, concurrent flag and index changes are never lost,
 * and a budget too small for the core tags falls back to the side table.
 */
#include <alloctag.h>
#include <pthread.h>

#include "check.h"
#include "child.h"
#include "store/tag_ref.h"

#define SITE(n) \
	static void *site##n(void) { return at_alloc_pages(0); }
SITE(0) SITE(1) SITE(2) SITE(3) SITE(4) SITE(5) SITE(6) SITE(7)
static void *(*const sites[8])(void) = {site0, site1, site2, site3, site4, site5, site6, site7};

static size_t count_tags(void)
{
	extern struct alloc_tag __start_alloc_tags[], __stop_alloc_tags[];
	return (size_t)(__stop_alloc_tags - __start_alloc_tags);
}

/* Is there a mapping of exactly `len` bytes in this process? */
static int has_mapping_of(size_t len)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long lo, hi;
	char line[512];
	int found = 0;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && hi - lo == len)
			found = 1;
	fclose(f);
	return found;
}

/* Every site charged exactly once per allocation, whatever the store. */
static void exact_counts(void)
{
	void *p[8][3];
	for (int r = 0; r < 3; r++)
		for (int s = 0; s < 8; s++)
			p[s][r] = sites[s]();
	struct alloctag_usage top[16];
	CHECK_EQ(alloctag_top_users(top, 16), 8);
	for (int i = 0; i < 8; i++) {
		CHECK_EQ(top[i].counters.bytes, 3 * 4096);
		CHECK_EQ(top[i].counters.calls, 3);
	}
	for (int r = 0; r < 3; r++)
		for (int s = 0; s < 8; s++)
			at_free_pages(p[s][r], 0);
	CHECK_EQ(alloctag_top_users(top, 16), 0);
}

static void where_the_index_lives(void)
{
	CHECK(alloctag_compressed());
	CHECK_EQ(alloctag_side_table_bytes(), 0);
	CHECK(at_side_table == NULL);
	CHECK(!has_mapping_of(AT_HEAP_PAGES * sizeof(at_ref_t)));
	void *p = site3();
	uint32_t pfn = at_addr_to_pfn(p);
	uint64_t f = at_pages[pfn].flags;
	uint32_t idx = (uint32_t)((f & at_tag_mask) >> AT_SPARE_SHIFT);
	CHECK(idx >= AT_IDX_FIRST);
	CHECK(*at_tag_slot(idx) != NULL);
	CHECK_STREQ((*at_tag_slot(idx))->function, "site3");
	CHECK(at_page_ref_get(pfn) == *at_tag_slot(idx));
	at_free_pages(p, 0);
}

/* Two writers on one flags word: one changes the index, one owner flags. */
#define ROUNDS 2000000
static uint32_t hammer_pfn;
static at_ref_t refs[2];
static long lost_index, lost_flag;

static void *index_writer(void *arg)
{
	(void)arg;
	for (long i = 0; i < ROUNDS; i++) {
		at_ref_t want = refs[i & 1];
		at_page_ref_update(hammer_pfn, want);
		if (at_page_ref_get(hammer_pfn) != want)
			lost_index++;
	}
	return NULL;
}

static void *flag_writer(void *arg)
{
	struct at_page *pg = &at_pages[hammer_pfn];
	(void)arg;
	for (long i = 0; i < ROUNDS; i++) {
		uint64_t bit = (i & 1) ? AT_PG_OWNER1 : AT_PG_OWNER2;
		at_page_set_flags(pg, bit);
		if (!(__atomic_load_n(&pg->flags, __ATOMIC_RELAXED) & bit))
			lost_flag++;
		at_page_clear_flags(pg, bit);
		if (__atomic_load_n(&pg->flags, __ATOMIC_RELAXED) & bit)
			lost_flag++;
	}
	return NULL;
}

static void hammer(void)
{
	void *p = site5();
	hammer_pfn = at_addr_to_pfn(p);
	uint64_t before = at_pages[hammer_pfn].flags & ~at_tag_mask;
	refs[0] = at_page_ref_get(hammer_pfn);
	void *q = site6();
	refs[1] = at_page_ref_get(at_addr_to_pfn(q));
	CHECK(refs[0] != refs[1] && at_ref_is_tag(refs[0]) && at_ref_is_tag(refs[1]));

	pthread_t a, b;
	pthread_create(&a, NULL, index_writer, NULL);
	pthread_create(&b, NULL, flag_writer, NULL);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	CHECK_EQ(lost_index, 0);
	CHECK_EQ(lost_flag, 0);
	/* the other fields are untouched and the last index written stands */
	CHECK_EQ(at_pages[hammer_pfn].flags & ~at_tag_mask, before);
	CHECK(at_page_ref_get(hammer_pfn) == refs[(ROUNDS - 1) & 1]);
	at_page_ref_update(hammer_pfn, refs[0]); /* as charged, for an exact free */
	at_free_pages(p, 0);
	at_free_pages(q, 0);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--counts")) {
		printf("compressed=%d tag_bits=%u side_table=%d\n", alloctag_compressed(),
		       alloctag_tag_bits(), alloctag_side_table_bytes() > 0);
		exact_counts();
		return 0;
	}
	CHECK(count_tags() == 8);
	where_the_index_lives();
	exact_counts();
	hammer();

	/* 8 tags + 2 reserved ids fit in 4 bits, not in 3: fallback, exact counts */
	static const char *const args[] = {"--counts", NULL};
	struct child_result r;
	run_child(&r, (const char *const[]){"ALLOCTAG_TAG_BITS=4", NULL}, args);
	CHECK(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
	CHECK_STREQ(r.out, "compressed=1 tag_bits=4 side_table=0\n");
	CHECK_STREQ(r.err, "");
	run_child(&r, (const char *const[]){"ALLOCTAG_TAG_BITS=3", NULL}, args);
	CHECK(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
	CHECK_STREQ(r.out, "compressed=0 tag_bits=0 side_table=1\n");
	CHECK_STREQ(r.err, "alloctag: 8 allocation tags (plus 2 reserved ids) do not fit in 3 page "
			   "flag bits; using the side table (8 bytes per page) instead\n");
	return 0;
}
