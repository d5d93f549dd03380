/*
 * A program linked with the static library that calls nothing but the page
 * allocator and includes no alloctag header (so it has no tag section and
 * no registration constructor): start-up must still run, from the archive
 * member that defines the state the page allocator reads, so that its pages
 * come from a ready store rather than being recorded as early pages.
 * The declarations are written out here on purpose (alloctag.h, and every
 * internal header through core/compiler.h, would bring the constructor).
 */
#include "check.h"

void *at_alloc_pages_noprof(unsigned int order);
void at_free_pages(void *addr, unsigned int order);
extern unsigned char at_state; /* core/control.h: AT_STATE_READY == 2 */

int main(void)
{
	void *p = at_alloc_pages_noprof(1);
	CHECK(p != NULL);
	CHECK_EQ(at_state, 2); /* start-up ran */
	at_free_pages(p, 1);
	return 0;
}
