/* Every line read, kept for the report's "longest line" (a growing array). */
#ifndef LINES_H
#define LINES_H

#include <stddef.h>

struct lines {
	char **v;
	size_t n, cap;
};

void lines_keep(struct lines *l, const char *text, size_t len);
const char *lines_longest(const struct lines *l);

#endif
