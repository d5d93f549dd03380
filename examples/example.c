/*
 * alloctag's main job on a small program: allocate from several call sites,
 * free some, and print which lines hold memory (allocinfo and top users).
 */
#include <alloctag.h>
#include <stdio.h>

#define NBUF 8

static void *buffers[NBUF];

/* A wrapper that charges its caller, the kernel's way. */
static void *grab_pages_noprof(unsigned int order)
{
	return at_alloc_pages_noprof(order);
}
#define grab_pages(...) alloc_hooks(grab_pages_noprof(__VA_ARGS__))

static void load_cache(void)
{
	for (int i = 0; i < NBUF; i++)
		buffers[i] = at_alloc_pages(2); /* 8 x 16 KiB */
}

static void *read_request(void)
{
	return grab_pages(0); /* charged here, not inside grab_pages_noprof */
}

int main(void)
{
	void *req[3];

	load_cache();
	for (int i = 0; i < 3; i++)
		req[i] = read_request();
	void *big = at_alloc_pages(8); /* 1 MiB */
	at_free_pages(req[0], 0);
	at_free_pages(buffers[0], 2);
	buffers[0] = NULL;

	alloctag_write_allocinfo(stdout);

	struct alloctag_usage top[3];
	size_t n = alloctag_top_users(top, 3);
	printf("\ntop %zu users (store: %s):\n", n,
	       alloctag_compressed() ? "compressed page flags" : "side table");
	for (size_t i = 0; i < n; i++) {
		char name[256];
		alloctag_tag_name(top[i].tag, name, sizeof(name));
		printf("%2zu. %10lld bytes %4lld calls  %s\n", i + 1, (long long)top[i].counters.bytes,
		       (long long)top[i].counters.calls, name);
	}
	at_free_pages(big, 8);
	for (int i = 1; i < 3; i++)
		at_free_pages(req[i], 0);
	for (int i = 1; i < NBUF; i++)
		at_free_pages(buffers[i], 2);
	return 0;
}
