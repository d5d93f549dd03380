/* The allocinfo text of a known program, byte for byte, in either store. */
#include <alloctag.h>

#include "check.h"

static void *one_page(void)
{
	return at_alloc_pages(0);
}

static void *four_pages(void)
{
	return at_alloc_pages(2);
}

void *unused_site(void)
{
	return at_alloc_pages(5);
}

int main(void)
{
	void *a = one_page(), *b = one_page(), *c = four_pages();
	void *d = at_alloc_pages(1);
	CHECK(a && b && c && d);
	at_free_pages(b, 0);
	at_free_pages(d, 1);
	(void)unused_site;

	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	CHECK_EQ(alloctag_write_allocinfo(f), 0);
	fclose(f);
	CHECK_STREQ(text, "allocinfo - version: 2.0\n"
			  "#     <size>  <calls> <tag info>\n"
			  "           0        0 tests/test_allocinfo.c:24 func:main \n"
			  "           0        0 tests/test_allocinfo.c:18 func:unused_site \n"
			  "       16384        1 tests/test_allocinfo.c:13 func:four_pages \n"
			  "        4096        1 tests/test_allocinfo.c:8 func:one_page \n");
	free(text);

	struct alloctag_usage top[4];
	CHECK_EQ(alloctag_top_users(top, 4), 2);
	CHECK_EQ(top[0].counters.bytes, 16384);
	CHECK_EQ(top[0].tag->lineno, 13);
	CHECK_EQ(top[1].counters.bytes, 4096);
	CHECK_EQ(top[1].tag->lineno, 8);
	CHECK_EQ(alloctag_top_users(top, 1), 1);
	CHECK_EQ(top[0].tag->lineno, 13);

	at_free_pages(a, 0);
	at_free_pages(c, 2);
	CHECK_EQ(alloctag_top_users(top, 4), 0);
	return 0;
}
