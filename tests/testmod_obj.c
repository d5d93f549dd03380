/*
 * A shared object whose call site allocates small objects (at_malloc), for
 * test_bin_charge: a shared object's tag must never be kept in a thread
 * cache's bin (src/bin_charge.h), since its index is reused once the object
 * is unloaded and its counters reach zero.
 */
#include <alloctag.h>

void *obj_malloc(size_t n) { return at_malloc(n); } const unsigned int obj_line = __LINE__;

void obj_section(struct alloc_tag **start, struct alloc_tag **stop)
{
	*start = __start_alloc_tags;
	*stop = __stop_alloc_tags;
}
