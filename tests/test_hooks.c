/*
 * Call-site tags and hooks: wrappers charge their callers through the
 * _noprof convention, nested hooks let the innermost tag win, the current
 * tag is restored afterwards, and an unhooked call charges nobody.
 */
#include <alloctag.h>

#include "check.h"

static struct alloc_tag *seen_inside;

/* A wrapper written the kernel's way: calls the _noprof function. */
static void *pool_get_noprof(unsigned int order)
{
	seen_inside = alloctag_current_tag;
	return at_alloc_pages_noprof(order);
}
#define pool_get(...) alloc_hooks(pool_get_noprof(__VA_ARGS__))

/* A wrapper that (wrongly, for its callers) uses the tagged macro inside. */
static void *cache_get_noprof(unsigned int order)
{
	return at_alloc_pages(order); /* line 23: the innermost hook wins */
}
#define cache_get(...) alloc_hooks(cache_get_noprof(__VA_ARGS__))

static const struct alloc_tag *tag_at(unsigned int line)
{
	extern struct alloc_tag __start_alloc_tags[], __stop_alloc_tags[];
	for (struct alloc_tag *t = __start_alloc_tags; t < __stop_alloc_tags; t++)
		if (t->lineno == line)
			return t;
	return NULL;
}

int main(void)
{
	CHECK(alloctag_current_tag == NULL);
	void *a = pool_get(1); /* line 39: charged here */
	CHECK(alloctag_current_tag == NULL);
	CHECK(seen_inside == tag_at(39));
	void *b = cache_get(0); /* line 42: not charged here */
	CHECK(alloctag_current_tag == NULL);
	void *c = at_alloc_pages_noprof(2); /* no hook: nobody is charged */

	CHECK_EQ(alloctag_read(tag_at(39)).bytes, 8192);
	CHECK_EQ(alloctag_read(tag_at(39)).calls, 1);
	CHECK_EQ(alloctag_read(tag_at(23)).bytes, 4096);
	CHECK_EQ(alloctag_read(tag_at(23)).calls, 1);
	CHECK_EQ(alloctag_read(tag_at(42)).calls, 0);
	struct alloctag_usage top[8];
	CHECK_EQ(alloctag_top_users(top, 8), 2);

	/* explicit save/restore nest: the innermost is current, then the outer again */
	DEFINE_ALLOC_TAG(outer);
	DEFINE_ALLOC_TAG(inner);
	struct alloc_tag *o = alloctag_save(&outer);
	struct alloc_tag *i = alloctag_save(&inner);
	CHECK(alloctag_current_tag == &inner);
	alloctag_restore(&inner, i);
	CHECK(alloctag_current_tag == &outer);
	alloctag_restore(&outer, o);
	CHECK(alloctag_current_tag == NULL);

	at_free_pages(a, 1);
	at_free_pages(b, 0);
	at_free_pages(c, 2);
	CHECK_EQ(alloctag_top_users(top, 8), 0);
	return 0;
}
