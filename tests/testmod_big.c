/*
 * A shared object with BIG_NTAGS (128) allocation call sites, for the
 * overflow test (its indexes do not fit a small ALLOCTAG_TAG_BITS).
 * big_alloc(i, order) allocates through call site i; the sites are all on
 * one line, in section order.
 */
#include <alloctag.h>

#define S1(n) case (n): return at_alloc_pages(order);
#define S4(n) S1(n) S1(n + 1) S1(n + 2) S1(n + 3)
#define S16(n) S4(n) S4(n + 4) S4(n + 8) S4(n + 12)
#define S64(n) S16(n) S16(n + 16) S16(n + 32) S16(n + 48)

void *big_alloc(int i, unsigned int order)
{
	switch (i) { S64(0) S64(64) }
	return 0;
}

void big_free(void *p, unsigned int order)
{
	at_free_pages(p, order);
}

void big_section(struct alloc_tag **start, struct alloc_tag **stop)
{
	*start = __start_alloc_tags;
	*stop = __stop_alloc_tags;
}
