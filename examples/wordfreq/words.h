/* A word-frequency table: a chained hash table that doubles as it fills. */
#ifndef WORDS_H
#define WORDS_H

#include <stddef.h>

struct word {
	struct word *next;
	char *text; /* its own copy */
	size_t count;
};

struct words {
	struct word **buckets;
	size_t nbuckets, nwords;
};

void words_init(struct words *w);
void words_add(struct words *w, const char *text, size_t len);
/* The n most frequent words, most frequent first, into out; returns how many. */
size_t words_top(const struct words *w, struct word **out, size_t n);

#endif
