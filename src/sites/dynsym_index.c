/*
 * A loaded object's dynamic symbols indexed by address (dynsym_index.h).
 */
#include "sites/dynsym_index.h"

#include <string.h>
#include <sys/mman.h>

#include "core/gnu_hash.h"
#include "sites/site_names.h"

struct walk {
	const Elf64_Sym *syms;
	uint64_t strsz;
	const uint32_t *gnu; /* DT_GNU_HASH, else */
	const uint32_t *sysv; /* DT_HASH */
};

/* At most how many symbols walk_syms stores: the hash table's symbols. */
static size_t walk_bound(const struct walk *w)
{
	if (!w->gnu)
		return w->sysv[1];
	return at_gnu_end(w->gnu) - w->gnu[1];
}

/* Symbol i, stored at out[*n] when dladdr considers it; -1 when its end is
 * at or above 4 GiB. */
static inline int keep(const struct walk *w, uint32_t i, uint32_t *out, size_t *n)
{
	const Elf64_Sym *s = &w->syms[i];
	if ((s->st_shndx == SHN_UNDEF && !s->st_value) || s->st_shndx == SHN_ABS ||
	    ELF64_ST_TYPE(s->st_info) == STT_TLS || s->st_name >= w->strsz)
		return 0;
	uint64_t end = s->st_value + ((s->st_shndx == SHN_UNDEF || !s->st_size) ? 1 : s->st_size);
	if (end > UINT32_MAX || end <= s->st_value)
		return -1;
	out[(*n)++] = i;
	return 0;
}

/* The symbols dladdr considers, in the order it meets them, in out (room
 * for walk_bound's number); their number, or -1 (an end at or above
 * 4 GiB). */
static long walk_syms(const struct walk *w, uint32_t *out)
{
	size_t n = 0;
	if (w->gnu) {
		uint32_t nb = w->gnu[0], off = w->gnu[1];
		const uint32_t *buckets = at_gnu_buckets(w->gnu), *chain = at_gnu_chain(w->gnu);
		for (uint32_t b = 0; b < nb; b++) {
			uint32_t i = buckets[b];
			if (!i)
				continue;
			for (;; i++) {
				if (keep(w, i, out, &n))
					return -1;
				if (chain[i - off] & 1)
					break;
			}
		}
	} else {
		for (uint32_t i = 0; i < w->sysv[1]; i++)
			if (keep(w, i, out, &n))
				return -1;
	}
	return (long)n;
}

/* Symbols v[0 .. n) of syms sorted by value, stably (LSD radix, a byte
 * a pass, every byte counted in one pass first, bytes the same in every
 * value skipped), tmp as scratch; the sorted numbers end in v. */
static void sort_syms(uint32_t *v, uint32_t *tmp, size_t n, const Elf64_Sym *syms)
{
	uint32_t count[4][256];
	uint32_t *src = v, *dst = tmp;
	memset(count, 0, sizeof(count));
	for (size_t i = 0; i < n; i++) {
		uint32_t k = (uint32_t)syms[v[i]].st_value;
		count[0][k & 255]++;
		count[1][(k >> 8) & 255]++;
		count[2][(k >> 16) & 255]++;
		count[3][k >> 24]++;
	}
	for (unsigned int d = 0; d < 4; d++) {
		unsigned int shift = 8 * d;
		if (count[d][((uint32_t)syms[v[0]].st_value >> shift) & 255] == n)
			continue;
		uint32_t sum = 0;
		for (unsigned int b = 0; b < 256; b++) {
			uint32_t c = count[d][b];
			count[d][b] = sum;
			sum += c;
		}
		for (size_t i = 0; i < n; i++)
			dst[count[d][((uint32_t)syms[src[i]].st_value >> shift) & 255]++] = src[i];
		uint32_t *t = src;
		src = dst;
		dst = t;
	}
	if (src != v)
		memcpy(v, src, n * sizeof(*v));
}

/* A dynamic-section pointer as a run-time address inside [start, end)
 * (the loader has relocated most objects' entries, not a read-only
 * section's), or 0. */
static uintptr_t dyn_ptr(uint64_t p, uintptr_t l_addr, uintptr_t start, uintptr_t end)
{
	if (p >= start && p < end)
		return (uintptr_t)p;
	p += l_addr;
	return p >= start && p < end ? (uintptr_t)p : 0;
}

int at_dynsym_index(struct at_dynsym *d, uintptr_t l_addr, const Elf64_Dyn *dyn,
		    uintptr_t start, uintptr_t end)
{
	struct walk w = {0};
	uintptr_t strs = 0;
	if (!dyn)
		return -1;
	for (; dyn->d_tag != DT_NULL; dyn++) {
		switch (dyn->d_tag) {
		case DT_SYMTAB:
			w.syms = (const Elf64_Sym *)dyn_ptr(dyn->d_un.d_ptr, l_addr, start, end);
			break;
		case DT_STRTAB:
			strs = dyn_ptr(dyn->d_un.d_ptr, l_addr, start, end);
			break;
		case DT_STRSZ:
			w.strsz = dyn->d_un.d_val;
			break;
		case DT_GNU_HASH:
			w.gnu = (const uint32_t *)dyn_ptr(dyn->d_un.d_ptr, l_addr, start, end);
			break;
		case DT_HASH:
			w.sysv = (const uint32_t *)dyn_ptr(dyn->d_un.d_ptr, l_addr, start, end);
			break;
		}
	}
	if (!w.syms || !strs || (!w.gnu && !w.sysv))
		return -1;
	if (w.gnu)
		w.sysv = NULL; /* dladdr prefers it */
	size_t max = walk_bound(&w);
	if (!max)
		return -1;
	size_t nblk = (max + AT_DYNSYM_BLOCK - 1) / AT_DYNSYM_BLOCK;
	uint32_t *v = at_sites_pool_alloc((max + nblk) * sizeof(uint32_t));
	if (!v)
		return -1;
	long n = walk_syms(&w, v);
	if (n <= 0)
		return -1; /* the pool's bytes stay: rare, never a second time */
	size_t bytes = (size_t)n * sizeof(uint32_t);
	uint32_t *tmp = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (tmp == MAP_FAILED)
		return -1;
	sort_syms(v, tmp, (size_t)n, w.syms);
	munmap(tmp, bytes);
	uint32_t *blk = v + n, maxend = 0;
	for (long i = 0; i < n; i++) {
		const Elf64_Sym *s = &w.syms[v[i]];
		uint64_t e = s->st_value + ((s->st_shndx == SHN_UNDEF || !s->st_size) ? 1 : s->st_size);
		if (e > maxend)
			maxend = (uint32_t)e;
		blk[i / AT_DYNSYM_BLOCK] = maxend;
	}
	d->blk = blk;
	d->syms = w.syms;
	d->strs = (const char *)strs;
	d->v = v;
	d->n = (uint32_t)n;
	return 0;
}

const char *at_dynsym_find(const struct at_dynsym *d, uintptr_t l_addr, uintptr_t a)
{
	uintptr_t rel = a - l_addr;
	if (a < l_addr || rel > UINT32_MAX)
		return NULL;
	size_t lo = 0, hi = d->n; /* first entry whose value > rel */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (d->syms[d->v[mid]].st_value <= rel)
			lo = mid + 1;
		else
			hi = mid;
	}
	const Elf64_Sym *best = NULL;
	for (size_t j = lo; j-- > 0 && d->blk[j / AT_DYNSYM_BLOCK] > rel;) {
		const Elf64_Sym *s = &d->syms[d->v[j]];
		if (best && s->st_value < best->st_value)
			break; /* the highest value holding rel is found */
		int holds = (s->st_shndx == SHN_UNDEF || !s->st_size)
				    ? rel == s->st_value
				    : rel - s->st_value < s->st_size;
		if (holds)
			best = s; /* walking back: the first met among equal values */
	}
	return best ? d->strs + best->st_name : NULL;
}
