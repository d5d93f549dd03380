#define _GNU_SOURCE
/*
 * Charges kept in thread-cache bins (src/bin_charge.h): every reader sees
 * them exactly while the threads that hold them are alive, through tag
 * switches, cross-thread frees, and a shared object's tag (never kept in a
 * bin) whose index is reused after the object is unloaded.
 */
#include <alloctag.h>
#include <pthread.h>
#include <stdint.h>

#include "allocinfo_capture.h"
#include "module_util.h"

#define N_ALIVE 200
#define N_SWITCH 1000

static struct alloc_tag *tag_a, *tag_b;

static __attribute__((noinline)) void *site_a(size_t n)
{
	DEFINE_ALLOC_TAG(t);
	__atomic_store_n(&tag_a, &t, __ATOMIC_RELAXED);
	return alloc_hooks_tag(t, at_malloc_noprof(n));
}

static __attribute__((noinline)) void *site_b(size_t n)
{
	DEFINE_ALLOC_TAG(t);
	__atomic_store_n(&tag_b, &t, __ATOMIC_RELAXED);
	return alloc_hooks_tag(t, at_malloc_noprof(n));
}

static void want(struct alloc_tag *t, int64_t bytes, int64_t calls)
{
	struct alloctag_counters c = alloctag_read(t);
	CHECK_EQ(c.bytes, bytes);
	CHECK_EQ(c.calls, calls);
	/* the same figures in allocinfo and (when nonzero) in top users */
	char line[512], needle[64];
	snprintf(line, sizeof(line), "%12lli %8llu %s:%u func:%s \n", (long long)bytes,
		 (unsigned long long)calls, t->filename, t->lineno, t->function);
	snprintf(needle, sizeof(needle), "func:%s ", t->function);
	CHECK_STREQ(allocinfo_grep(needle), line);
	struct alloctag_usage top[64];
	size_t n = alloctag_top_users(top, 64), found = 0;
	for (size_t i = 0; i < n; i++) {
		if (top[i].tag != t)
			continue;
		found = 1;
		CHECK_EQ(top[i].counters.bytes, bytes);
		CHECK_EQ(top[i].counters.calls, calls);
	}
	CHECK_EQ(found, bytes > 0);
}

/* ---- a thread holds charges in its bins while it lives ---- */

static pthread_barrier_t bar;
static void *objs[N_ALIVE + 10];

static void *holder(void *arg)
{
	(void)arg;
	for (int i = 0; i < N_ALIVE; i++)
		CHECK(objs[i] = site_a(40)); /* class 48 */
	pthread_barrier_wait(&bar); /* 1: allocated */
	pthread_barrier_wait(&bar); /* 2: main freed them */
	for (int i = 0; i < 10; i++)
		CHECK(objs[N_ALIVE + i] = site_a(48));
	pthread_barrier_wait(&bar); /* 3: ten more */
	pthread_barrier_wait(&bar); /* 4: main checked */
	return NULL;
}

static void alive(void)
{
	pthread_t th;
	CHECK(!pthread_barrier_init(&bar, NULL, 2));
	CHECK(!pthread_create(&th, NULL, holder, NULL));
	pthread_barrier_wait(&bar); /* 1 */
	want(tag_a, N_ALIVE * 48, N_ALIVE);
	for (int i = 0; i < N_ALIVE; i++) /* cross-thread: uncharged by this thread */
		at_free(objs[i]);
	want(tag_a, 0, 0);
	pthread_barrier_wait(&bar); /* 2 */
	pthread_barrier_wait(&bar); /* 3 */
	want(tag_a, 480, 10);
	pthread_barrier_wait(&bar); /* 4 */
	CHECK(!pthread_join(th, NULL));
	want(tag_a, 480, 10); /* the thread's exit folded its bins */
	for (int i = 0; i < 10; i++)
		at_free(objs[N_ALIVE + i]);
	want(tag_a, 0, 0);
	pthread_barrier_destroy(&bar);
}

/* ---- one bin, two tags taking turns ---- */

static void *sw[N_SWITCH];

static void switching(void)
{
	for (int i = 0; i < N_SWITCH; i++)
		CHECK(sw[i] = (i & 1) ? site_b(32) : site_a(17)); /* both class 32 */
	want(tag_a, N_SWITCH / 2 * 32, N_SWITCH / 2);
	want(tag_b, N_SWITCH / 2 * 32, N_SWITCH / 2);
	for (int i = N_SWITCH; i-- > N_SWITCH / 2;)
		at_free(sw[i]);
	want(tag_a, N_SWITCH / 4 * 32, N_SWITCH / 4);
	want(tag_b, N_SWITCH / 4 * 32, N_SWITCH / 4);
	for (int i = 0; i < N_SWITCH / 2; i++)
		at_free(sw[i]);
	want(tag_a, 0, 0);
	want(tag_b, 0, 0);
}

/* ---- a shared object's tag: charged per CPU, its index reused ---- */

#define N_MOD 50

static void *(*obj_malloc)(size_t);
static void *mobjs[N_MOD];

static void *mod_holder(void *arg)
{
	(void)arg;
	for (int i = 0; i < N_MOD; i++)
		CHECK(mobjs[i] = obj_malloc(64));
	pthread_barrier_wait(&bar); /* 1: allocated */
	pthread_barrier_wait(&bar); /* 2: main is done */
	return NULL;
}

struct objmod {
	void *h;
	struct alloc_tag *tag; /* the object's copy */
};

static struct objmod objmod_load(void)
{
	struct objmod m;
	struct alloc_tag *start, *stop;
	m.h = must_open(TESTMOD_OBJ);
	obj_malloc = (void *(*)(size_t))must_sym(m.h, "obj_malloc");
	((void (*)(struct alloc_tag **, struct alloc_tag **))must_sym(m.h, "obj_section"))(&start,
											    &stop);
	CHECK_EQ(stop - start, 1);
	CHECK_EQ(start->lineno, *(const unsigned int *)must_sym(m.h, "obj_line"));
	m.tag = start->canon;
	CHECK(m.tag && m.tag->modname);
	return m;
}

static const char *obj_line(const struct alloc_tag *t, long long bytes, long long calls,
			    const char *extra)
{
	static char line[512];
	snprintf(line, sizeof(line), "%12lli %8llu %s:%u [at_testmod_obj.so] func:obj_malloc%s \n",
		 bytes, (unsigned long long)calls, t->filename, t->lineno, extra);
	return line;
}

static void module(void)
{
	pthread_t th;
	struct objmod m = objmod_load();
	uint32_t idx = m.tag->idx;
	CHECK(!pthread_barrier_init(&bar, NULL, 2));
	CHECK(!pthread_create(&th, NULL, mod_holder, NULL));
	pthread_barrier_wait(&bar); /* 1 */
	CHECK_STREQ(allocinfo_grep("func:obj_malloc"), obj_line(m.tag, N_MOD * 64, N_MOD, ""));
	CHECK(dlclose(m.h) == 0); /* with live allocations: the copy stays */
	CHECK_STREQ(allocinfo_grep("func:obj_malloc"),
		    obj_line(m.tag, N_MOD * 64, N_MOD, " loaded:no"));
	for (int i = 0; i < N_MOD; i++) /* freed here, allocated there */
		at_free(mobjs[i]);
	CHECK_STREQ(allocinfo_grep("func:obj_malloc"), ""); /* reclaimed */

	/* loaded again: its tag gets the same index, and starts from zero
	 * although the holder thread (still alive) allocated with it */
	m = objmod_load();
	CHECK_EQ(m.tag->idx, idx);
	CHECK_STREQ(allocinfo_grep("func:obj_malloc"), obj_line(m.tag, 0, 0, ""));
	void *p[5];
	for (int i = 0; i < 5; i++)
		CHECK(p[i] = obj_malloc(64));
	CHECK_STREQ(allocinfo_grep("func:obj_malloc"), obj_line(m.tag, 5 * 64, 5, ""));
	for (int i = 0; i < 5; i++)
		at_free(p[i]);
	CHECK_STREQ(allocinfo_grep("func:obj_malloc"), obj_line(m.tag, 0, 0, ""));
	pthread_barrier_wait(&bar); /* 2 */
	CHECK(!pthread_join(th, NULL));
	CHECK_STREQ(allocinfo_grep("func:obj_malloc"), obj_line(m.tag, 0, 0, ""));
	unload(m.h, TESTMOD_OBJ);
	CHECK_STREQ(allocinfo_grep("func:obj_malloc"), "");
	pthread_barrier_destroy(&bar);
}

int main(void)
{
	at_free(site_a(1)); /* register the tags' pointers */
	at_free(site_b(1));
	want(tag_a, 0, 0);
	want(tag_b, 0, 0);
	alive();
	switching();
	module();
	printf("ok (%s)\n", alloctag_compressed() ? "compressed" : "side table");
	return 0;
}
