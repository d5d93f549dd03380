/*
 * Overflow migrates: under ALLOCTAG_TAG_BITS=7 (128 indexes) the test
 * executable's core tags and at_testmod.so fit, at_testmod_big.so (128 call
 * sites) does not.  Loading it while threads allocate and free through a
 * core call site and through at_testmod.so switches the store to the side
 * table: every live page keeps its tag, the totals stay exact, and one
 * "alloctag: " line says so.
 *   migrate    as above (ALLOCTAG_TAG_BITS=7)
 *   side       ALLOCTAG=1,uncompressed: the same load says nothing
 */
#define _GNU_SOURCE
#include <pthread.h>

#include "allocinfo_capture.h"
#include "module_util.h"
#include "modules/tag_area.h"
#include "store/tag_ref.h"

#define THREADS 2
#define RING 8
#define PRE 5

/* Core call sites (the executable's own tags). */
static __attribute__((noinline)) void *core_thread_alloc(void) { return at_alloc_pages(0); }
static __attribute__((noinline)) void *core_pre_alloc(void) { return at_alloc_pages(1); }
static struct alloc_tag *core_thread_tag, *core_pre_tag;

static struct testmod mod;
static volatile int stop;
static unsigned long progress[THREADS];

struct ring {
	void *core[RING], *obj[RING];
};
static struct ring rings[THREADS];

static void *worker(void *arg)
{
	int id = (int)(long)arg;
	struct ring *r = &rings[id];
	unsigned long n = 0;
	for (; !AT_LOAD(&stop) || n < RING; n++) {
		int k = (int)(n % RING);
		if (n >= RING) {
			at_free_pages(r->core[k], 0);
			mod.free(r->obj[k], 0);
		}
		r->core[k] = core_thread_alloc();
		r->obj[k] = mod.b(0);
		if (!r->core[k] || !r->obj[k])
			abort();
		AT_STORE(&progress[id], n + 1);
	}
	return NULL;
}

/*
 * An owner changing its own page's reference without a lock
 * (at_page_ref_update) while the store switches: every update must stick.
 */
static at_ref_t upd_refs[2];
static uint32_t upd_pfn;
static unsigned long upd_count, upd_lost;

static void *updater(void *arg)
{
	(void)arg;
	unsigned long k;
	for (k = 0; !AT_LOAD(&stop); k++) {
		at_page_ref_update(upd_pfn, upd_refs[k & 1]);
		if (at_page_ref_get(upd_pfn) != upd_refs[k & 1])
			upd_lost++;
		AT_STORE(&upd_count, k + 1);
	}
	at_page_ref_update(upd_pfn, upd_refs[0]);
	return NULL;
}

static void wait_progress(unsigned long beyond)
{
	for (int i = 0; i < THREADS; i++)
		while (AT_LOAD(&progress[i]) < beyond)
			sched_yield();
}

static void check_counters(const struct alloc_tag *t, long long bytes, long long calls)
{
	struct alloctag_counters c = alloctag_read(t);
	CHECK_EQ(c.bytes, bytes);
	CHECK_EQ(c.calls, calls);
}

/* Load the big object with stderr captured into msg. */
static struct bigmod load_big(char *msg, size_t len)
{
	int saved = dup(2), fd = memfd_create("stderr", 0);
	CHECK(saved >= 0 && fd >= 0);
	CHECK(dup2(fd, 2) == 2);
	struct bigmod big = bigmod_load();
	CHECK(dup2(saved, 2) == 2);
	close(saved);
	ssize_t n = pread(fd, msg, len - 1, 0);
	CHECK(n >= 0);
	msg[n] = 0;
	close(fd);
	return big;
}

static void migrate(void)
{
	CHECK(alloctag_compressed());
	CHECK_EQ(alloctag_tag_bits(), 7);
	core_thread_tag = tag_of(at_core_start, at_core_stop, "core_thread_alloc");
	core_pre_tag = tag_of(at_core_start, at_core_stop, "core_pre_alloc");
	CHECK(core_thread_tag->canon == core_thread_tag);
	CHECK_EQ(alloctag_side_table_bytes(), 0);
	mod = testmod_load();
	struct alloc_tag *ta = TAG(mod, "mod_alloc_a"), *tb = TAG(mod, "mod_alloc_b");
	CHECK(at_nr_idx <= 128); /* it fits */
	CHECK(alloctag_compressed());

	/* live pages before the switch, core and object tags */
	void *pre_core[PRE], *pre_obj[PRE];
	for (int i = 0; i < PRE; i++) {
		pre_core[i] = core_pre_alloc();
		pre_obj[i] = mod.a(0);
		CHECK(pre_core[i] && pre_obj[i]);
		CHECK(at_page_ref_get(at_addr_to_pfn(pre_obj[i])) == ta->canon);
	}

	void *upd_page = core_pre_alloc();
	CHECK(upd_page);
	upd_pfn = at_addr_to_pfn(upd_page);
	upd_refs[0] = core_pre_tag->canon;
	upd_refs[1] = ta->canon;
	pthread_t th[THREADS], uth;
	for (long i = 0; i < THREADS; i++)
		CHECK(pthread_create(&th[i], NULL, worker, (void *)i) == 0);
	CHECK(pthread_create(&uth, NULL, updater, NULL) == 0);
	wait_progress(2000);
	while (AT_LOAD(&upd_count) < 2000)
		sched_yield();

	char msg[512], want[512];
	struct bigmod big = load_big(msg, sizeof(msg));
	CHECK_EQ(big.stop - big.start, 128);
	uint32_t last = 0;
	for (struct alloc_tag *t = big.start; t < big.stop; t++)
		if (t->idx > last)
			last = t->idx;
	CHECK(last >= 128);
	snprintf(want, sizeof(want),
		 "alloctag: allocation tag index %u does not fit in 7 page flag bits; "
		 "switched to the side table (8 bytes per page)\n",
		 last);
	CHECK_STREQ(msg, want);
	CHECK(!alloctag_compressed());
	CHECK_EQ(alloctag_tag_bits(), 0);
	CHECK(alloctag_side_table_bytes() > 0);

	/* the pages allocated before the switch kept their tags */
	for (int i = 0; i < PRE; i++) {
		CHECK(at_page_ref_get(at_addr_to_pfn(pre_core[i])) == core_pre_tag->canon);
		CHECK(at_page_ref_get(at_addr_to_pfn(pre_obj[i])) == ta->canon);
	}
	check_counters(core_pre_tag, (PRE + 1) * 8192, PRE + 1); /* + the updater's page */
	check_counters(ta, PRE * 4096, PRE);

	/* the big object's tags count, with indexes beyond the old bits */
	void *bp[128];
	for (int i = 0; i < 128; i++)
		CHECK((bp[i] = big.alloc(i, 0)) != NULL);
	for (struct alloc_tag *t = big.start; t < big.stop; t++)
		check_counters(t, 4096, 1);
	uint32_t top = 0;
	for (int i = 0; i < 128; i++) {
		at_ref_t r = at_page_ref_get(at_addr_to_pfn(bp[i]));
		CHECK(r && r->modname && !strcmp(r->modname, "at_testmod_big.so"));
		top = r->idx > top ? r->idx : top;
	}
	CHECK_EQ(top, last);

	/* more churn after the switch, then stop: RING live pages per thread */
	wait_progress(AT_LOAD(&progress[0]) + 2000);
	unsigned long upd_before = AT_LOAD(&upd_count);
	while (AT_LOAD(&upd_count) < upd_before + 2000)
		sched_yield();
	AT_STORE(&stop, 1);
	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_join(th[i], NULL) == 0);
	CHECK(pthread_join(uth, NULL) == 0);
	CHECK_EQ(upd_lost, 0);
	CHECK(at_page_ref_get(upd_pfn) == core_pre_tag->canon);
	at_free_pages(upd_page, 1);
	check_counters(core_thread_tag, THREADS * RING * 4096, THREADS * RING);
	check_counters(tb, THREADS * RING * 4096, THREADS * RING);
	for (int i = 0; i < THREADS; i++)
		for (int k = 0; k < RING; k++) {
			CHECK(at_page_ref_get(at_addr_to_pfn(rings[i].core[k])) ==
			      core_thread_tag->canon);
			CHECK(at_page_ref_get(at_addr_to_pfn(rings[i].obj[k])) == tb->canon);
		}

	/* free everything: every counter back to exactly zero */
	for (int i = 0; i < THREADS; i++)
		for (int k = 0; k < RING; k++) {
			at_free_pages(rings[i].core[k], 0);
			mod.free(rings[i].obj[k], 0);
		}
	for (int i = 0; i < PRE; i++) {
		at_free_pages(pre_core[i], 1);
		mod.free(pre_obj[i], 0);
	}
	for (int i = 0; i < 128; i++)
		big.free(bp[i], 0);
	check_counters(core_thread_tag, 0, 0);
	check_counters(core_pre_tag, 0, 0);
	for (struct alloc_tag *t = mod.start; t < mod.stop; t++)
		check_counters(t, 0, 0);
	for (struct alloc_tag *t = big.start; t < big.stop; t++)
		check_counters(t, 0, 0);
	unload(big.h, TESTMOD_BIG);
	unload(mod.h, TESTMOD);
	CHECK_EQ(at_area_objects(), 0);
	CHECK_STREQ(allocinfo_grep("[at_testmod"), "");
}

static void side(void)
{
	CHECK(!alloctag_compressed());
	mod = testmod_load();
	char msg[512];
	struct bigmod big = load_big(msg, sizeof(msg));
	CHECK_STREQ(msg, "");
	void *p = big.alloc(127, 0);
	CHECK(p);
	at_ref_t r = at_page_ref_get(at_addr_to_pfn(p));
	CHECK(r && !strcmp(r->modname, "at_testmod_big.so"));
	int found = 0;
	for (struct alloc_tag *t = big.start; t < big.stop; t++)
		if (t->canon == r) {
			found = 1;
			check_counters(t, 4096, 1);
		} else {
			check_counters(t, 0, 0);
		}
	CHECK(found);
	big.free(p, 0);
	check_counters(r, 0, 0);
	unload(big.h, TESTMOD_BIG);
	unload(mod.h, TESTMOD);
}

int main(int argc, char **argv)
{
	CHECK(argc == 2);
	if (!strcmp(argv[1], "migrate"))
		migrate();
	else if (!strcmp(argv[1], "side"))
		side();
	else
		CHECK(!"unknown test");
	printf("ok %s\n", argv[1]);
	return 0;
}
