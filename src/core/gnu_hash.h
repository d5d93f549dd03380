/*
 * The layout of an ELF DT_GNU_HASH table, as its readers here use it
 * (start-up's import check, core_tags.c; the layer objects' symbol index,
 * sites/dynsym_index.c):
 *
 *   uint32_t nbuckets, symoffset, bloom_words, bloom_shift;
 *   uint64_t bloom[bloom_words];
 *   uint32_t buckets[nbuckets];   a bucket's first symbol, 0: empty
 *   uint32_t chain[];             chain[i - symoffset]: symbol i's hash,
 *                                 its lowest bit set on a bucket's last
 *
 * Symbols below symoffset are not hashed (mostly a table's imports); the
 * hashed ones run to the end of the highest bucket's chain.
 */
#ifndef AT_GNU_HASH_H
#define AT_GNU_HASH_H

#include <stddef.h>
#include <stdint.h>

static inline const uint32_t *at_gnu_buckets(const uint32_t *gnu)
{
	return gnu + 4 + 2 * (size_t)gnu[2]; /* 64-bit bloom words */
}

static inline const uint32_t *at_gnu_chain(const uint32_t *gnu)
{
	return at_gnu_buckets(gnu) + gnu[0];
}

/* One past the last symbol the table covers, given `last`, the highest
 * bucket's first symbol (below symoffset: none hashed, symoffset). */
static inline uint32_t at_gnu_end_from(const uint32_t *gnu, uint32_t last)
{
	uint32_t off = gnu[1];
	const uint32_t *chain = at_gnu_chain(gnu);
	if (last < off)
		return off;
	while (!(chain[last - off] & 1))
		last++;
	return last + 1;
}

/* The same, the buckets read in place. */
static inline uint32_t at_gnu_end(const uint32_t *gnu)
{
	const uint32_t *buckets = at_gnu_buckets(gnu);
	uint32_t last = 0;
	for (uint32_t b = 0; b < gnu[0]; b++)
		if (buckets[b] > last)
			last = buckets[b];
	return at_gnu_end_from(gnu, last);
}

#endif
