/*
 * Shared-object tags with a real object (at_testmod.so, two translation
 * units, three call sites), loaded with dlopen by path:
 *   basic   registration once, copies in the tag area with their strings,
 *           exact allocinfo lines, dlclose with live allocations
 *           (" loaded:no"), frees after unload, reclaim, fresh tags on reload
 *   cycles  thousands of load/unload cycles, some with allocations left live
 *           across dlclose: the tag area does not grow.
 */
#define _GNU_SOURCE
#include "allocinfo_capture.h"
#include "module_util.h"
#include "modules/tag_area.h"
#include "store/tag_ref.h"

#define MOD "[at_testmod.so]"

static char want[4096];
static struct expect {
	uint32_t idx;
	long long bytes, calls;
	const char *file, *fn, *extra;
	unsigned int line;
} exp[16];
static int nexp;

/* Expect one allocinfo line of at_testmod.so for section tag t (or for the
 * copy t of an unloaded object). */
static void want_line(const struct alloc_tag *t, long long bytes, long long calls,
		      const char *extra)
{
	struct expect e = {t->idx, bytes, calls,
			   strcmp(t->function, "mod_alloc_c") ? "testmod.c" : "testmod2.c",
			   t->function, extra, t->lineno};
	int i = nexp++;
	while (i > 0 && exp[i - 1].idx > e.idx) { /* allocinfo is in index order */
		exp[i] = exp[i - 1];
		i--;
	}
	exp[i] = e;
}

/* The expected lines, in index order; resets the expectation. */
static const char *wanted(void)
{
	want[0] = 0;
	for (int i = 0; i < nexp; i++) {
		size_t n = strlen(want);
		snprintf(want + n, sizeof(want) - n, "%12lli %8llu tests/%s:%u " MOD " func:%s%s \n",
			 exp[i].bytes, (unsigned long long)exp[i].calls, exp[i].file, exp[i].line,
			 exp[i].fn, exp[i].extra);
	}
	nexp = 0;
	return want;
}

static uint32_t pfn_of(void *p)
{
	return at_addr_to_pfn(p);
}

static int in_object(const void *p)
{
	Dl_info info;
	return dladdr(p, &info) != 0 && info.dli_fname && strstr(info.dli_fname, "at_testmod");
}

static void check_copies(struct testmod *m)
{
	CHECK_EQ(m->stop - m->start, 3);
	struct alloc_tag *c0 = m->start[0].canon;
	for (struct alloc_tag *t = m->start; t < m->stop; t++) {
		struct alloc_tag *c = t->canon;
		CHECK(c && c != t);
		CHECK(at_area_owner(c) != NULL);
		CHECK(c->canon == c);
		CHECK_EQ(c->idx, t->idx);
		CHECK(*at_tag_slot(t->idx) == c);
		/* the exact index scheme: first index after the core tags + slot */
		CHECK_EQ(c->idx, at_area_slot_idx((unsigned long)(c - at_area_slot(0))));
		CHECK_EQ(c - c0, t - m->start);
		CHECK_EQ(c->lineno, t->lineno);
		CHECK_STREQ(c->function, t->function);
		CHECK_STREQ(c->filename, t->filename);
		CHECK_STREQ(c->modname, "at_testmod.so");
		CHECK(t->modname == NULL);
		/* nothing points into the object */
		CHECK(!in_object(c->function) && !in_object(c->filename) && !in_object(c->modname));
		CHECK(in_object(t->function));
		CHECK(c->modname == c0->modname);
		CHECK_EQ(c->flags, 0);
	}
	/* tags start on a multiple of the slot alignment; a and b share their
	 * file's string, c (other file) does not */
	CHECK_EQ((c0 - at_area_slot(0)) % AT_AREA_SLOT_ALIGN, 0);
	CHECK(TAG(*m, "mod_alloc_a")->canon->filename == TAG(*m, "mod_alloc_b")->canon->filename);
	CHECK(TAG(*m, "mod_alloc_a")->canon->filename != TAG(*m, "mod_alloc_c")->canon->filename);
	CHECK_EQ(TAG(*m, "mod_alloc_a")->lineno, m->la);
	CHECK_EQ(TAG(*m, "mod_alloc_b")->lineno, m->lb);
	CHECK_EQ(TAG(*m, "mod_alloc_c")->lineno, m->lc);
}

static void basic(void)
{
	uint32_t core_end = AT_IDX_FIRST + at_core_count();
	CHECK_EQ(at_area_objects(), 0);
	CHECK_STREQ(allocinfo_grep(MOD), "");

	struct testmod m = testmod_load();
	CHECK_EQ(at_area_objects(), 1); /* two constructors, one registration */
	check_copies(&m);
	CHECK(m.start[0].canon == at_area_slot(0));
	CHECK_EQ(at_nr_idx, core_end + AT_AREA_SLOT_ALIGN);
	CHECK_EQ(at_area_slots_end(), AT_AREA_SLOT_ALIGN);
	struct alloc_tag *ta = TAG(m, "mod_alloc_a"), *tb = TAG(m, "mod_alloc_b"),
			 *tc = TAG(m, "mod_alloc_c");

	/* registering again (another constructor, or by hand) changes nothing */
	struct alloc_tag *c0 = m.start[0].canon;
	alloctag_register_image(m.start, m.stop);
	CHECK(m.start[0].canon == c0);
	CHECK_EQ(at_area_objects(), 1);

	want_line(ta, 0, 0, "");
	want_line(tb, 0, 0, "");
	want_line(tc, 0, 0, "");
	CHECK_STREQ(allocinfo_grep(MOD), wanted());

	void *a[3], *b, *c[2];
	for (int i = 0; i < 3; i++)
		CHECK((a[i] = m.a(0)) != NULL);
	CHECK((b = m.b(2)) != NULL);
	for (int i = 0; i < 2; i++)
		CHECK((c[i] = m.c(1)) != NULL);
	want_line(ta, 12288, 3, "");
	want_line(tb, 16384, 1, "");
	want_line(tc, 16384, 2, "");
	CHECK_STREQ(allocinfo_grep(MOD), wanted());
	CHECK(at_page_ref_get(pfn_of(a[0])) == ta->canon);
	CHECK(at_page_ref_get(pfn_of(b)) == tb->canon);
	CHECK(at_page_ref_get(pfn_of(c[1])) == tc->canon);

	/* a second dlopen of the same file is the same object: no change */
	void *h2 = must_open(TESTMOD);
	CHECK(h2 == m.h);
	CHECK(dlclose(h2) == 0);
	CHECK(m.start[0].canon == c0);
	want_line(ta, 12288, 3, "");
	want_line(tb, 16384, 1, "");
	want_line(tc, 16384, 2, "");
	CHECK_STREQ(allocinfo_grep(MOD), wanted());

	/* unload with live allocations on a and c */
	m.free(a[2], 0);
	m.free(b, 2);
	struct alloc_tag *old_a = ta->canon, *old_c = tc->canon;
	unload(m.h, TESTMOD);
	CHECK_EQ(at_module_unloaded_count(), 1);
	CHECK_EQ(at_area_objects(), 1);
	CHECK(old_a->flags & ALLOCTAG_FLAG_UNLOADED);
	want_line(old_a, 8192, 2, " loaded:no");
	want_line(old_c, 16384, 2, " loaded:no");
	CHECK_STREQ(allocinfo_grep(MOD), wanted());
	CHECK_EQ(at_module_unloaded_count(), 1);

	/* load again: fresh tags, after the kept ones */
	struct testmod m2 = testmod_load();
	check_copies(&m2);
	CHECK_EQ(at_area_objects(), 2);
	CHECK(m2.start[0].canon == at_area_slot(AT_AREA_SLOT_ALIGN));
	struct alloc_tag *ta2 = TAG(m2, "mod_alloc_a"), *tb2 = TAG(m2, "mod_alloc_b"),
			 *tc2 = TAG(m2, "mod_alloc_c");
	CHECK(ta2->idx != old_a->idx);
	void *a2 = m2.a(0);
	CHECK(a2);
	want_line(old_a, 8192, 2, " loaded:no");
	want_line(old_c, 16384, 2, " loaded:no");
	want_line(ta2, 4096, 1, "");
	want_line(tb2, 0, 0, "");
	want_line(tc2, 0, 0, "");
	CHECK_STREQ(allocinfo_grep(MOD), wanted());

	/* frees after unload uncharge the kept copies exactly */
	at_free_pages(a[0], 0);
	struct alloctag_counters k = at_counters_read(old_a->idx);
	CHECK_EQ(k.bytes, 4096);
	CHECK_EQ(k.calls, 1);
	at_free_pages(a[1], 0);
	k = at_counters_read(old_a->idx);
	CHECK_EQ(k.bytes, 0);
	CHECK_EQ(k.calls, 0);
	/* a's line is gone, c's stays */
	want_line(old_c, 16384, 2, " loaded:no");
	want_line(ta2, 4096, 1, "");
	want_line(tb2, 0, 0, "");
	want_line(tc2, 0, 0, "");
	CHECK_STREQ(allocinfo_grep(MOD), wanted());
	CHECK_EQ(at_module_unloaded_count(), 1);
	uint32_t old_a_idx = old_a->idx;
	at_free_pages(c[0], 1);
	at_free_pages(c[1], 1);
	k = at_counters_read(old_c->idx);
	CHECK_EQ(k.bytes, 0);
	CHECK_EQ(k.calls, 0);
	/* the allocinfo walk reclaims the unloaded object */
	want_line(ta2, 4096, 1, "");
	want_line(tb2, 0, 0, "");
	want_line(tc2, 0, 0, "");
	CHECK_STREQ(allocinfo_grep(MOD), wanted());
	CHECK_EQ(at_module_unloaded_count(), 0);
	CHECK_EQ(at_area_objects(), 1);
	CHECK(*at_tag_slot(old_a_idx) == NULL); /* its indexes are free */
	CHECK_EQ(at_area_slots_end(), 2 * AT_AREA_SLOT_ALIGN); /* m2 is still at slot 4 */

	/* unload with nothing live: reclaimed at once; the area is empty again */
	m2.free(a2, 0);
	unload(m2.h, TESTMOD);
	CHECK_EQ(at_area_objects(), 0);
	CHECK_EQ(at_module_unloaded_count(), 0);
	CHECK_EQ(at_area_slots_end(), 0);
	CHECK_EQ(at_nr_idx, core_end);
	CHECK_STREQ(allocinfo_grep(MOD), "");

	/* and the lowest slots are used again, with zero counters */
	struct testmod m3 = testmod_load();
	check_copies(&m3);
	CHECK(m3.start[0].canon == at_area_slot(0));
	for (struct alloc_tag *t = m3.start; t < m3.stop; t++)
		CHECK_EQ(alloctag_read(t).calls, 0);
	unload(m3.h, TESTMOD);
	CHECK_EQ(at_area_objects(), 0);
}

#define CYCLES 3000

static void cycles(void)
{
	void *kept = NULL; /* allocated by the previous object, freed after it unloaded */
	size_t committed = 0;
	for (int i = 0; i < CYCLES; i++) {
		struct testmod m = testmod_load();
		struct alloc_tag *tc = TAG(m, "mod_alloc_c");
		void *p = m.a(0), *q = m.c(1);
		CHECK(p && q);
		CHECK_EQ(alloctag_read(tc).calls, 1);
		m.free(p, 0);
		if (kept) {
			at_free_pages(kept, 1);
			kept = NULL;
		}
		struct alloc_tag *copy = tc->canon;
		if (i % 2)
			kept = q; /* live across dlclose */
		else
			m.free(q, 1);
		unload(m.h, TESTMOD);
		/* at most this object (kept) and the previous one (not yet
		 * reclaimed: its last page was freed after this load) */
		CHECK(at_area_objects() <= 2);
		CHECK(at_area_slots_end() <= 2 * AT_AREA_SLOT_ALIGN);
		if (i == 10)
			committed = at_area_committed();
		if (i > 10)
			CHECK_EQ(at_area_committed(), committed);
		if (i % 500 == 1) {
			want_line(copy, 8192, 1, " loaded:no");
			CHECK_STREQ(allocinfo_grep(MOD), wanted());
		}
	}
	CHECK(committed > 0);
	if (kept)
		at_free_pages(kept, 1);
	CHECK_STREQ(allocinfo_grep(MOD), "");
	CHECK_EQ(at_area_objects(), 0);
	CHECK_EQ(at_area_slots_end(), 0);
	CHECK_EQ(at_nr_idx, AT_IDX_FIRST + at_core_count());
}

int main(int argc, char **argv)
{
	CHECK(argc == 2);
	if (!strcmp(argv[1], "basic"))
		basic();
	else if (!strcmp(argv[1], "cycles"))
		cycles();
	else
		CHECK(!"unknown test");
	printf("ok %s\n", argv[1]);
	return 0;
}
