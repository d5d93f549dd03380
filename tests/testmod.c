/*
 * A shared object for the tests (built as at_testmod.so, loaded with dlopen
 * by path).  Its allocation call sites use at_alloc_pages through
 * alloctag.h; the runtime comes from the test executable, which exports it.
 * Each call site's line is exported (same line as the call) so that the
 * tests can spell out the exact allocinfo lines.
 */
#include <alloctag.h>

void *mod_alloc_a(unsigned int order) { return at_alloc_pages(order); } const unsigned int mod_line_a = __LINE__;
void *mod_alloc_b(unsigned int order) { return at_alloc_pages(order); } const unsigned int mod_line_b = __LINE__;

void mod_free(void *p, unsigned int order)
{
	at_free_pages(p, order);
}
