/*
 * The stricter heap's large blocks at level 1 (ALLOCTAG_SECURE=1): malloc
 * blocks from AT_SECURE_MAP_MIN (huge.h) up to AT_SECURE_GUARD_MIN bytes
 * stay in the default heap (blocks of the page allocator, a power of two
 * of pages aligned to its size, their metadata in the page descriptors,
 * out of the block's reach), with canaries (secure.h's pattern) and
 * poison:
 *
 *   b                 b + u          b + u + 256    b + S - 256      b + S
 *   | usable: u bytes | tail canary  ...untouched... | end canary  |
 *
 * S: the block's size, the default mode's for the request (the same
 * order: no more memory); u: the request rounded up to 16, its usable size
 * (malloc_usable_size).  The tail canary runs from b + u for
 * AT_SECURE_BLOCK_CANARY bytes (or to the block's end); the end canary is
 * the block's last AT_SECURE_BLOCK_CANARY bytes, where an underflow from
 * the block above it lands (if the two meet, they are one; a request
 * within 16 bytes of S leaves no room for either).  The block is
 * charged its usable size u, as every allocation is: the page allocator
 * charges S to the block's reference, at_secure_block_made takes S - u off
 * the bytes (not the calls) and at_secure_block_free puts them back before
 * the free uncharges S; realloc charges the move (malloc.c, large_grow).
 *
 * Descriptors: the head page has AT_PG_SECURE_BLOCK; u is in the second
 * page's descriptor (its `next`: the block has 32 pages at least, and only
 * a free block's head uses that field).  Both written when the block is
 * made (at_secure_block_made) or resized in place (at_secure_block_resize),
 * under no lock: only the block's owner touches them.
 *
 * At free (at_large_free, before any metadata is written): the tail canary
 * must be intact (else "heap overflow past"), then the end canary (else
 * "heap underflow before the block above"); the block's first
 * AT_SECURE_BLOCK_POISON bytes (or u) are then poisoned and it keeps
 * AT_PG_SECURE_BLOCK while it is in its thread's large-block cache
 * (tcache.h, AT_PG_OWNER1 beside it): when the cache hands it out again the
 * poison must be intact (else "write after free"), and the flag is cleared.
 * A block going back to the page allocator loses the flag (and its poison
 * is never checked).
 *
 * realloc: within the block's room (u' + 16 <= S) the canaries move (the
 * tail canary written at u', the end canary again); past it the block
 * grows by its free buddies (at_page_grow) first, as in the default mode.
 *
 * Not caught: writes past u that skip the tail canary and stop before the
 * end canary; an underflow into free memory or a slab below the block;
 * writes after free anywhere but the first bytes, or once the block left
 * the cache; reads.  Blocks of AT_SECURE_GUARD_MIN bytes and more, and every
 * block at level 2, are guarded mappings instead (huge.c).
 */
#ifndef AT_SECURE_BLOCK_H
#define AT_SECURE_BLOCK_H

#include <stddef.h>
#include <stdint.h>

#include "pages/page.h"

#define AT_PG_SECURE_BLOCK AT_PG_OWNER2 /* a large block's head (not a slab's) */
#define AT_SECURE_BLOCK_CANARY 256u
#define AT_SECURE_BLOCK_POISON 256u
/* Level 1: from this size on, a guarded mapping (its cost, a mapping and
 * two mprotects, is then small against the block's pages). */
#define AT_SECURE_GUARD_MIN ((size_t)4 << 20)

/* The usable size of a block for a request of n bytes: n rounded to 16. */
static inline size_t at_secure_block_usable_of(size_t n)
{
	return (n + 15) & ~(size_t)15;
}

/* A block of order order at b (in the heap) made for n bytes: flag, usable
 * size, canaries. */
AT_HIDDEN void at_secure_block_made(char *b, unsigned int order, size_t n);
/* Its usable size (head page pfn with AT_PG_SECURE_BLOCK). */
AT_HIDDEN size_t at_secure_block_usable(uint32_t pfn);
/* realloc in place to n (n fits the block's order,
 * grown already if need be): usable size and canaries moved (the caller
 * charges the move). */
AT_HIDDEN void at_secure_block_resize(char *b, unsigned int order, size_t n);
/* free: both canaries checked (aborting naming what), the first bytes
 * poisoned. */
AT_HIDDEN void at_secure_block_free(char *b, unsigned int order, const char *what);
/* The cache hands poisoned block b out again: the poison checked, the flag
 * cleared. */
AT_HIDDEN void at_secure_block_reused(char *b);

#endif
