/*
 * Second translation unit of at_testmod.so: its own copy of the
 * registration constructor/destructor (registration must happen once), one
 * more call site, and the object's own section bounds for the tests.
 */
#include <alloctag.h>

void *mod_alloc_c(unsigned int order) { return at_alloc_pages(order); } const unsigned int mod_line_c = __LINE__;

void mod_section(struct alloc_tag **start, struct alloc_tag **stop)
{
	*start = __start_alloc_tags;
	*stop = __stop_alloc_tags;
}
