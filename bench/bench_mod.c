/*
 * The shared object of bench_module_load: 128 allocation call sites.  Built
 * twice from this source: tagged (at_alloc_pages through alloctag.h, with
 * the registration constructor/destructor) and untagged (BENCH_UNTAGGED:
 * the same calls to at_alloc_pages_noprof, no tags, no registration).
 */
#ifdef BENCH_UNTAGGED
#define ALLOCTAG_NO_AUTO_REGISTER
#include <alloctag.h>
#undef at_alloc_pages
#define at_alloc_pages(o) at_alloc_pages_noprof(o)
#else
#include <alloctag.h>
#endif

#define S1(n) case (n): return at_alloc_pages(order);
#define S4(n) S1(n) S1(n + 1) S1(n + 2) S1(n + 3)
#define S16(n) S4(n) S4(n + 4) S4(n + 8) S4(n + 12)
#define S64(n) S16(n) S16(n + 16) S16(n + 32) S16(n + 48)

void *bench_alloc(int i, unsigned int order)
{
	switch (i) { S64(0) S64(64) }
	return 0;
}
