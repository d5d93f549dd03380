/*
 * accurate:no: a tag that was current during an early (uncounted) page
 * allocation is marked inaccurate, and its allocinfo line, and only its
 * line, carries " accurate:no".  So is a tag passed to the tag-passing
 * entries (what at_malloc, at_alloc_pages etc. call) early, for a small
 * and a large block and a page, and not one passed after start-up.
 */
#pragma GCC diagnostic ignored "-Wprio-ctor-dtor"
#include <stdlib.h>

#include "store/charge.h"
#include "check.h"

static struct alloc_tag *tag_a, *tag_b;
static void *early[3];
static struct alloc_tag *tag_small, *tag_large, *tag_calloc, *tag_pages, *tag_late;
static void *early_obj[3], *early_page;

/* A call site of a tag-passing entry; *tp is its tag. */
#define PASS_SITE(name, tp, call)           \
	static void *name(void)             \
	{                                   \
		DEFINE_ALLOC_TAG(t);        \
		__atomic_store_n(&tp, &t, __ATOMIC_RELAXED);                    \
		return call;                \
	}
PASS_SITE(small_site, tag_small, at_malloc_tag_noprof(&t, 100))
PASS_SITE(large_site, tag_large, at_malloc_tag_noprof(&t, 100000))
PASS_SITE(calloc_site, tag_calloc, at_calloc_tag_noprof(&t, 3, 7))
PASS_SITE(pages_site, tag_pages, at_alloc_pages_tag_noprof(&t, 0))
PASS_SITE(late_site, tag_late, at_malloc_tag_noprof(&t, 100))

static void *alloc_a(void)
{
	DEFINE_ALLOC_TAG(t);
	__atomic_store_n(&tag_a, &t, __ATOMIC_RELAXED);
	return alloc_hooks_tag(t, at_alloc_pages_noprof(0));
}

static void *alloc_b(void)
{
	DEFINE_ALLOC_TAG(t);
	__atomic_store_n(&tag_b, &t, __ATOMIC_RELAXED);
	return alloc_hooks_tag(t, at_alloc_pages_noprof(0));
}

__attribute__((constructor(100))) static void early_ctor(void)
{
	CHECK_EQ(at_state, AT_STATE_EARLY);
	for (int i = 0; i < 3; i++)
		CHECK((early[i] = alloc_a()) != NULL);
	CHECK((early_obj[0] = small_site()) != NULL);
	CHECK((early_obj[1] = large_site()) != NULL);
	CHECK((early_obj[2] = calloc_site()) != NULL);
	CHECK((early_page = pages_site()) != NULL);
	CHECK(alloctag_current_tag == NULL);
}

/* The allocinfo line of tag t, or NULL. */
static char *line_of(char *text, const struct alloc_tag *t)
{
	char name[512];
	snprintf(name, sizeof(name), " %s:%u func:%s", t->filename, t->lineno, t->function);
	for (char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		char *end = strchr(l, '\n');
		char *hit = strstr(l, name);
		if (hit && hit < end) {
			*end = 0;
			return l;
		}
	}
	return NULL;
}

int main(void)
{
	void *a = alloc_a(), *b1 = alloc_b(), *b2 = alloc_b();
	CHECK(a && b1 && b2);
	CHECK(tag_small->flags & ALLOCTAG_FLAG_INACCURATE);
	CHECK(tag_large->flags & ALLOCTAG_FLAG_INACCURATE);
	CHECK(tag_calloc->flags & ALLOCTAG_FLAG_INACCURATE);
	CHECK(tag_pages->flags & ALLOCTAG_FLAG_INACCURATE);
	at_free_pages(early_page, 0);
	CHECK_EQ(alloctag_read(tag_pages).calls, 0);
	void *late = late_site();
	CHECK(!(tag_late->flags & ALLOCTAG_FLAG_INACCURATE));
	CHECK_EQ(alloctag_read(tag_late).bytes, 112);
	/* the early blocks were not counted; their frees uncharge nothing */
	CHECK_EQ(alloctag_read(tag_small).bytes, 0);
	for (int i = 0; i < 3; i++)
		at_free(early_obj[i]);
	at_free(late);
	CHECK_EQ(alloctag_read(tag_small).calls, 0);
	CHECK_EQ(alloctag_read(tag_large).calls, 0);
	CHECK_EQ(alloctag_read(tag_late).calls, 0);

	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	CHECK(f != NULL);
	CHECK_EQ(alloctag_write_allocinfo(f), 0);
	fclose(f);

	char want[1024];
	snprintf(want, sizeof(want), "%12lli %8llu %s:%u func:%s accurate:no ", 4096ll, 1ull,
		 tag_a->filename, tag_a->lineno, tag_a->function);
	char *copy = strdup(text);
	char *la = line_of(text, tag_a);
	CHECK(la != NULL);
	CHECK_STREQ(la, want);
	snprintf(want, sizeof(want), "%12lli %8llu %s:%u func:%s ", 8192ll, 2ull, tag_b->filename,
		 tag_b->lineno, tag_b->function);
	char *lb = line_of(copy, tag_b);
	CHECK(lb != NULL);
	CHECK_STREQ(lb, want);
	free(text);
	free(copy);

	for (int i = 0; i < 3; i++)
		at_free_pages(early[i], 0);
	at_free_pages(a, 0);
	at_free_pages(b1, 0);
	at_free_pages(b2, 0);
	CHECK_EQ(alloctag_read(tag_a).bytes, 0);
	CHECK_EQ(alloctag_read(tag_b).bytes, 0);
	return 0;
}
