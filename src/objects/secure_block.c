/*
 * The stricter heap's large blocks at level 1: canaries and poison in
 * blocks of the page allocator (layout and invariants in secure_block.h).
 */
#include "objects/secure_block.h"

#include "core/counters.h"
#include "core/message.h"
#include "objects/secure.h"
#include "objects/slab.h"
#include "store/tag_ref.h"

static inline size_t min_size(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* Where the tail canary ends and the end canary starts (they meet if the
 * room between is short). */
static char *tail_end(char *b, size_t u, size_t s)
{
	return b + min_size(u + AT_SECURE_BLOCK_CANARY, s);
}

static char *end_from(char *b, size_t u, size_t s)
{
	char *e = b + s - AT_SECURE_BLOCK_CANARY;
	char *t = tail_end(b, u, s);
	return e > t ? e : t;
}

static void put_canaries(char *b, size_t u, size_t s)
{
	at_secure_fill(b + u, tail_end(b, u, s));
	at_secure_fill(end_from(b, u, s), b + s);
}

void at_secure_block_made(char *b, unsigned int order, size_t n)
{
	uint32_t pfn = at_addr_to_pfn(b);
	size_t u = at_secure_block_usable_of(n);
	AT_STORE_RELAXED(&at_pages[pfn + 1].next, (uint32_t)u);
	at_page_set_flags(&at_pages[pfn], AT_PG_SECURE_BLOCK);
	put_canaries(b, u, AT_PAGE_SIZE << order);
	/* charged its usable size: the page allocator charged the block's */
	at_block_recharge(pfn, -(int64_t)((AT_PAGE_SIZE << order) - u));
}

size_t at_secure_block_usable(uint32_t pfn)
{
	return AT_LOAD_RELAXED(&at_pages[pfn + 1].next);
}

void at_secure_block_resize(char *b, unsigned int order, size_t n)
{
	uint32_t pfn = at_addr_to_pfn(b);
	size_t u = at_secure_block_usable_of(n);
	AT_STORE_RELAXED(&at_pages[pfn + 1].next, (uint32_t)u);
	put_canaries(b, u, AT_PAGE_SIZE << order);
}

void at_secure_block_free(char *b, unsigned int order, const char *what)
{
	size_t u = at_secure_block_usable(at_addr_to_pfn(b)), s = AT_PAGE_SIZE << order;
	if (at_unlikely(!at_secure_intact(b + u, tail_end(b, u, s))))
		at_fatal("heap overflow past a %zu-byte block at %p; found by %s", u, (void *)b,
			 what);
	if (at_unlikely(!at_secure_intact(end_from(b, u, s), b + s)))
		at_fatal("heap underflow before the block at %p, into the end of the %zu-byte "
			 "block at %p below it; found by %s",
			 (void *)(b + s), u, (void *)b, what);
	at_secure_poison(b, b + min_size(u, AT_SECURE_BLOCK_POISON));
	at_block_recharge(at_addr_to_pfn(b), (int64_t)(s - u)); /* the free uncharges s */
}

void at_secure_block_reused(char *b)
{
	uint32_t pfn = at_addr_to_pfn(b);
	size_t u = at_secure_block_usable(pfn);
	if (at_unlikely(!at_secure_poisoned(b, b + min_size(u, AT_SECURE_BLOCK_POISON))))
		at_fatal("write after free to a %zu-byte block at %p (found when it was handed out "
			 "again)", u, (void *)b);
	at_page_clear_flags(&at_pages[pfn], AT_PG_SECURE_BLOCK);
}
