/*
 * The allocinfo text of a known program, byte for byte, in either store.
 * The order of the tag lines is not a property of the format (it follows the
 * compiler's placement of the tags in the section, which differs between
 * optimisation levels): the header is compared as it is, the lines sorted.
 */
#include <alloctag.h>

#include "check.h"

static int cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* text with the lines after its two header lines sorted (in place). */
static char *sort_tag_lines(char *text)
{
	char *body = strchr(text, '\n');
	CHECK(body && (body = strchr(body + 1, '\n')));
	body++;
	char *lines[64], copy[4096];
	size_t n = 0, len = strlen(body);
	CHECK(len < sizeof(copy));
	memcpy(copy, body, len + 1);
	for (char *s = copy; *s; n++) {
		CHECK(n < 64);
		lines[n] = s;
		char *nl = strchr(s, '\n');
		CHECK(nl); /* every line ends in a newline */
		*nl = 0;
		s = nl + 1;
	}
	qsort(lines, n, sizeof(lines[0]), cmp_line);
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(lines[i]);
		memcpy(body, lines[i], l);
		body[l] = '\n';
		body += l + 1;
	}
	return text;
}

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
	/* sorted: the counters are right-aligned, so "  " < " 1" < " 4" */
	CHECK_STREQ(sort_tag_lines(text), "allocinfo - version: 2.0\n"
			  "#     <size>  <calls> <tag info>\n"
			  "           0        0 tests/test_allocinfo.c:56 func:unused_site \n"
			  "           0        0 tests/test_allocinfo.c:62 func:main \n"
			  "        4096        1 tests/test_allocinfo.c:46 func:one_page \n"
			  "       16384        1 tests/test_allocinfo.c:51 func:four_pages \n");
	free(text);

	struct alloctag_usage top[4];
	CHECK_EQ(alloctag_top_users(top, 4), 2);
	CHECK_EQ(top[0].counters.bytes, 16384);
	CHECK_EQ(top[0].tag->lineno, 51);
	CHECK_EQ(top[1].counters.bytes, 4096);
	CHECK_EQ(top[1].tag->lineno, 46);
	CHECK_EQ(alloctag_top_users(top, 1), 1);
	CHECK_EQ(top[0].tag->lineno, 51);

	at_free_pages(a, 0);
	at_free_pages(c, 2);
	CHECK_EQ(alloctag_top_users(top, 4), 0);
	return 0;
}
