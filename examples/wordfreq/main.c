/*
 * wordfreq: count the words of text files and print the most frequent.
 * A small multi-file C program that does real work, for the README's
 * first command: `alloctag run -- wordfreq FILES...` shows which of its
 * lines hold memory at exit (words.c, lines.c, main.c).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#include "lines.h"
#include "words.h"

static void count_file(const char *path, struct words *w, struct lines *l)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, f)) > 0) {
		lines_keep(l, line, (size_t)n);
		for (ssize_t i = 0; i < n;) {
			while (i < n && !isalpha((unsigned char)line[i]))
				i++;
			ssize_t start = i;
			while (i < n && isalpha((unsigned char)line[i])) {
				line[i] = (char)tolower((unsigned char)line[i]);
				i++;
			}
			if (i > start)
				words_add(w, line + start, (size_t)(i - start));
		}
	}
	free(line);
	fclose(f);
}

int main(int argc, char **argv)
{
	struct words w;
	struct lines l = {0};
	words_init(&w);
	for (int i = 1; i < argc; i++)
		count_file(argv[i], &w, &l);
	struct word *top[10];
	size_t n = words_top(&w, top, 10);
	printf("%zu files, %zu lines, %zu distinct words; most frequent:\n", (size_t)argc - 1,
	       l.n, w.nwords);
	for (size_t i = 0; i < n; i++)
		printf("  %8zu %s\n", top[i]->count, top[i]->text);
	return 0;
}
