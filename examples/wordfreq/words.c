#include "words.h"

#include <stdlib.h>
#include <string.h>

static size_t hash(const char *s, size_t len)
{
	size_t h = 1469598103934665603ull;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

void words_init(struct words *w)
{
	w->nbuckets = 64;
	w->nwords = 0;
	w->buckets = calloc(w->nbuckets, sizeof(*w->buckets));
}

static void grow(struct words *w)
{
	size_t n = w->nbuckets * 2;
	struct word **b = calloc(n, sizeof(*b));
	for (size_t i = 0; i < w->nbuckets; i++) {
		for (struct word *e = w->buckets[i], *next; e; e = next) {
			next = e->next;
			size_t j = hash(e->text, strlen(e->text)) & (n - 1);
			e->next = b[j];
			b[j] = e;
		}
	}
	free(w->buckets);
	w->buckets = b;
	w->nbuckets = n;
}

void words_add(struct words *w, const char *text, size_t len)
{
	size_t i = hash(text, len) & (w->nbuckets - 1);
	for (struct word *e = w->buckets[i]; e; e = e->next) {
		if (strncmp(e->text, text, len) == 0 && e->text[len] == '\0') {
			e->count++;
			return;
		}
	}
	struct word *e = malloc(sizeof(*e));
	e->text = strndup(text, len);
	e->count = 1;
	e->next = w->buckets[i];
	w->buckets[i] = e;
	if (++w->nwords > w->nbuckets)
		grow(w);
}

size_t words_top(const struct words *w, struct word **out, size_t n)
{
	size_t have = 0;
	for (size_t i = 0; i < w->nbuckets; i++) {
		for (struct word *e = w->buckets[i]; e; e = e->next) {
			size_t pos = have < n ? have : n;
			while (pos > 0 && out[pos - 1]->count < e->count) {
				if (pos < n)
					out[pos] = out[pos - 1];
				pos--;
			}
			if (pos < n) {
				out[pos] = e;
				if (have < n)
					have++;
			}
		}
	}
	return have;
}
