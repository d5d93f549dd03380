/*
 * accurate:no: a tag that was current during an early (uncounted) page
 * allocation is marked inaccurate, and its allocinfo line, and only its
 * line, carries " accurate:no".
 */
#pragma GCC diagnostic ignored "-Wprio-ctor-dtor"
#include <stdlib.h>

#include "charge.h"
#include "check.h"

static struct alloc_tag *tag_a, *tag_b;
static void *early[3];

static void *alloc_a(void)
{
	DEFINE_ALLOC_TAG(t);
	tag_a = &t;
	return alloc_hooks_tag(t, at_alloc_pages_noprof(0));
}

static void *alloc_b(void)
{
	DEFINE_ALLOC_TAG(t);
	tag_b = &t;
	return alloc_hooks_tag(t, at_alloc_pages_noprof(0));
}

__attribute__((constructor(100))) static void early_ctor(void)
{
	CHECK_EQ(at_state, AT_STATE_EARLY);
	for (int i = 0; i < 3; i++)
		CHECK((early[i] = alloc_a()) != NULL);
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
