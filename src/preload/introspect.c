/*
 * The preload library's answers to glibc's malloc introspection: mallinfo2,
 * mallinfo, malloc_stats, malloc_trim and mallopt, from the allocator's own
 * account (objects/malloc_info.h has the figures and what each field
 * means).  Without these, a program's calls would reach glibc's malloc,
 * which holds nothing under the preload library.
 */
#include <limits.h>
#include <malloc.h>
#include <unistd.h>

#include "objects/malloc_info.h"

#define EXPORT __attribute__((visibility("default")))

EXPORT struct mallinfo2 mallinfo2(void)
{
	struct at_malloc_info mi;
	at_malloc_info(&mi);
	size_t used = mi.small_in_use + mi.large_in_use;
	size_t taken = used + mi.own;
	return (struct mallinfo2){
		.arena = mi.committed,
		.ordblks = mi.free_blocks,
		.smblks = mi.cached_count,
		.hblks = mi.huge.count,
		.hblkhd = mi.huge.bytes,
		.usmblks = 0,
		.fsmblks = mi.cached_bytes,
		.uordblks = used,
		.fordblks = mi.committed > taken ? mi.committed - taken : 0,
		.keepcost = mi.dirty,
	};
}

/* glibc's int fields: each figure clamped to INT_MAX (glibc lets them wrap). */
static int clamp(size_t v)
{
	return v > INT_MAX ? INT_MAX : (int)v;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
EXPORT struct mallinfo mallinfo(void)
{
	struct mallinfo2 m = mallinfo2();
	return (struct mallinfo){
		clamp(m.arena),   clamp(m.ordblks),  clamp(m.smblks),  clamp(m.hblks),
		clamp(m.hblkhd),  clamp(m.usmblks),  clamp(m.fsmblks), clamp(m.uordblks),
		clamp(m.fordblks), clamp(m.keepcost),
	};
}
#pragma GCC diagnostic pop

EXPORT void malloc_stats(void)
{
	char buf[512];
	size_t n = at_malloc_stats_text(buf, sizeof(buf));
	for (size_t off = 0; off < n;) {
		ssize_t w = write(STDERR_FILENO, buf + off, n - off);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
}

EXPORT int malloc_trim(size_t pad)
{
	return at_malloc_trim(pad);
}

EXPORT int mallopt(int param, int value)
{
	return at_mallopt(param, value);
}
