/*
 * A program linked with liballoctag (no preload) for live.sh: tagged
 * allocations at known lines, "ready", then it waits for its standard
 * input to end.  Its compile-time tags are read live like chains are.
 */
#include <stdio.h>
#include <unistd.h>

#include <alloctag.h>

void *keep[300]; /* global: kept live, never read */

int main(void)
{
	for (int i = 0; i < 200; i++)
		keep[i] = at_malloc(100); /* line T1 */
	for (int i = 0; i < 3; i++)
		keep[200 + i] = at_alloc_pages(2); /* line T2 */
	printf("ready\n");
	fflush(stdout);
	char c;
	while (read(0, &c, 1) > 0)
		;
	return 0;
}
