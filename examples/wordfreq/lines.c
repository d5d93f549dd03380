#include "lines.h"

#include <stdlib.h>
#include <string.h>

void lines_keep(struct lines *l, const char *text, size_t len)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 256;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
	}
	char *copy = malloc(len + 1);
	memcpy(copy, text, len);
	copy[len] = '\0';
	l->v[l->n++] = copy;
}

const char *lines_longest(const struct lines *l)
{
	const char *best = "";
	for (size_t i = 0; i < l->n; i++)
		if (strlen(l->v[i]) > strlen(best))
			best = l->v[i];
	return best;
}
