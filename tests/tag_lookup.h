/* The tag this executable defined at `line` (tests locate their own call sites). */
#ifndef AT_TEST_TAG_LOOKUP_H
#define AT_TEST_TAG_LOOKUP_H

#include <alloctag.h>

static inline const struct alloc_tag *tag_at_line(unsigned int line)
{
	for (struct alloc_tag *t = __start_alloc_tags; t < __stop_alloc_tags; t++)
		if (t->lineno == line)
			return t;
	return NULL;
}

#endif
