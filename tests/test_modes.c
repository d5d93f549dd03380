/*
 * never / 0 / 1, and turning profiling off and on with allocations live:
 * no drift, no underflow, for pages and for the malloc family's tag-passing
 * macros.  Run once per ALLOCTAG value (see CMakeLists).
 */
#include <alloctag.h>
#include <errno.h>

#include "check.h"

/* Each site on one line with its line number's name. */
static void *site_a(void) { return at_alloc_pages(0); } enum { LINE_A = __LINE__ };
static void *site_b(void) { return at_alloc_pages(1); } enum { LINE_B = __LINE__ };
static void *site_m(size_t n) { return at_malloc(n); } enum { LINE_M = __LINE__ };

#include "tag_lookup.h"

int main(void)
{
	const char *mode = getenv("ALLOCTAG");
	const struct alloc_tag *ta = tag_at_line(LINE_A), *tb = tag_at_line(LINE_B),
				*tm = tag_at_line(LINE_M);
	CHECK(ta && tb && tm);
	CHECK(mode);

	if (!strcmp(mode, "never")) {
		CHECK_EQ(alloctag_set_profiling(true), -EPERM);
		CHECK_EQ(alloctag_set_profiling(false), -EPERM);
		CHECK(!alloctag_profiling());
		CHECK(!alloctag_compressed());
		CHECK_EQ(alloctag_side_table_bytes(), 0);
		void *p = site_a(), *m = site_m(100), *l = site_m(100000);
		CHECK(p && m && l);
		CHECK_EQ(alloctag_read(ta).calls, 0);
		CHECK_EQ(alloctag_read(tm).calls, 0);
		at_free_pages(p, 0);
		at_free(m);
		at_free(l);
		CHECK_EQ(alloctag_read(ta).calls, 0);
		CHECK_EQ(alloctag_read(tm).calls, 0);
		/* allocinfo: just the header, there is no tag store */
		char *text = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&text, &len);
		CHECK_EQ(alloctag_write_allocinfo(f), 0);
		fclose(f);
		CHECK_STREQ(text, "allocinfo - version: 2.0\n#     <size>  <calls> <tag info>\n");
		free(text);
		return 0;
	}

	int start_on = !strncmp(mode, "1", 1);
	CHECK_EQ(alloctag_profiling(), start_on);

	/* while off: not charged; freeing later, even with profiling on, uncharges nothing */
	CHECK_EQ(alloctag_set_profiling(false), 0);
	void *off1 = site_a(), *off2 = site_b();
	CHECK_EQ(alloctag_read(ta).calls, 0);
	CHECK_EQ(alloctag_read(tb).calls, 0);
	void *moff = site_m(100), *loff = site_m(100000);
	CHECK_EQ(alloctag_read(tm).calls, 0);
	CHECK(alloctag_current_tag == NULL);

	/* the malloc family: charged while on, whatever was live before */
	CHECK_EQ(alloctag_set_profiling(true), 0);
	void *mon = site_m(100), *lon = site_m(100000);
	CHECK_EQ(alloctag_read(tm).bytes, 112 + 131072);
	CHECK_EQ(alloctag_read(tm).calls, 2);
	at_free(moff);
	at_free(loff);
	CHECK_EQ(alloctag_read(tm).calls, 2);
	CHECK_EQ(alloctag_set_profiling(false), 0);
	at_free(mon);
	CHECK_EQ(alloctag_read(tm).bytes, 131072);
	CHECK_EQ(alloctag_read(tm).calls, 1);
	at_free(lon);
	CHECK_EQ(alloctag_read(tm).bytes, 0);
	CHECK_EQ(alloctag_read(tm).calls, 0);

	/* on: charged */
	CHECK_EQ(alloctag_set_profiling(true), 0);
	void *on1 = site_a(), *on2 = site_b(), *on3 = site_b();
	CHECK_EQ(alloctag_read(ta).bytes, 4096);
	CHECK_EQ(alloctag_read(ta).calls, 1);
	CHECK_EQ(alloctag_read(tb).bytes, 2 * 8192);
	CHECK_EQ(alloctag_read(tb).calls, 2);

	at_free_pages(off1, 0); /* allocated while off, freed while on */
	CHECK_EQ(alloctag_read(ta).bytes, 4096);
	CHECK_EQ(alloctag_read(ta).calls, 1);

	/* off again: frees of tagged blocks still uncharge exactly */
	CHECK_EQ(alloctag_set_profiling(false), 0);
	at_free_pages(on2, 1);
	CHECK_EQ(alloctag_read(tb).bytes, 8192);
	CHECK_EQ(alloctag_read(tb).calls, 1);
	void *off3 = site_a();
	CHECK_EQ(alloctag_read(ta).calls, 1);

	CHECK_EQ(alloctag_set_profiling(true), 0);
	at_free_pages(off3, 0);
	at_free_pages(off2, 1);
	at_free_pages(on1, 0);
	at_free_pages(on3, 1);
	CHECK_EQ(alloctag_read(ta).bytes, 0);
	CHECK_EQ(alloctag_read(ta).calls, 0);
	CHECK_EQ(alloctag_read(tb).bytes, 0);
	CHECK_EQ(alloctag_read(tb).calls, 0);
	return 0;
}
