/*
 * An object's .symtab indexed by address (symtab.h).
 */
#include "sites/symtab.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>



#define SYMS_READ_MAX (16u << 10) /* bytes of symbols a read at most (682) */

/* A function's sort key: start, then a global name before a local one,
 * above its place in the array (bits 0-30, not compared). */
#define KEY_AT 0x7fffffffull
static inline uint64_t fsym_key(const struct at_fsym *f, uint32_t at)
{
	return ((uint64_t)f->start << 32 | (uint64_t)!(f->name & AT_FSYM_GLOBAL) << 31) | at;
}

#define KEY_BEFORE(a, b) ((a) >> 31 < (b) >> 31)

/* v[i] sifted down the heap v[0 .. n) (its subtrees heaps): bottom-up,
 * down the larger children to a leaf, then back up to where v[i] belongs
 * (about half the comparisons of sifting top-down, the same order: the
 * path's keys only decrease, so both stop at the same place). */
static void sift(uint64_t *v, size_t i, size_t n)
{
	uint64_t x = v[i];
	size_t j = i;
	for (size_t c; (c = 2 * j + 1) < n; j = c)
		if (c + 1 < n && KEY_BEFORE(v[c], v[c + 1]))
			c++;
	while (j > i && !KEY_BEFORE(x, v[j]))
		j = (j - 1) / 2;
	uint64_t t = v[j];
	v[j] = x;
	while (j > i) {
		j = (j - 1) / 2;
		uint64_t u = v[j];
		v[j] = t;
		t = u;
	}
}

/* The keys' heapsort (the order among equal keys this heapsort's). */
static void heap_sort(uint64_t *k, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		sift(k, i, n);
	for (size_t e = n; e-- > 1;) {
		uint64_t x = k[0];
		k[0] = k[e];
		k[e] = x;
		sift(k, 0, e);
	}
}

#define RADIX_SMALL 32 /* a bucket this small: by insertion */
#define RADIX_TOP 9 /* the first level's digit at most: 512 buckets */
#define RADIX_ROOM(w) (2 * (1u << (w)) + 1) /* words of a level's bucket bounds */

/* k[0 .. n) by insertion (KEY_BEFORE's order). */
static void insertion_sort(uint64_t *k, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		uint64_t x = k[i];
		size_t j = i;
		for (; j > 0 && KEY_BEFORE(x, k[j - 1]); j--)
			k[j] = k[j - 1];
		k[j] = x;
	}
}

/* k[0 .. n) (n > RADIX_SMALL) sorted by their keys' digits of w bits from
 * bit `shift` of (key >> 31) - base down (the bits above shift + w equal
 * within k), most significant first, in place (a bucket's keys moved into
 * it cycle by cycle); st (RADIX_ROOM(w) words, then the levels below:
 * RADIX_ROOM(8) each) holds the buckets' bounds.  Among equal keys, any
 * order. */
static void radix_sort(uint64_t *k, size_t n, uint64_t base, unsigned int shift, unsigned int w,
		       uint32_t *st)
{
	uint32_t nb = 1u << w, *next = st + nb + 1;
#define DIGIT(x) ((uint32_t)((((x) >> 31) - base) >> shift) & (nb - 1))
	for (uint32_t b = 0; b <= nb; b++)
		st[b] = 0;
	for (size_t i = 0; i < n; i++)
		st[DIGIT(k[i]) + 1]++;
	for (uint32_t b = 0; b < nb; b++) {
		st[b + 1] += st[b];
		next[b] = st[b];
	}
	for (uint32_t b = 0; b < nb; b++)
		while (next[b] < st[b + 1]) {
			uint64_t x = k[next[b]];
			for (uint32_t d; (d = DIGIT(x)) != b;) {
				uint64_t y = k[next[d]];
				k[next[d]++] = x;
				x = y;
			}
			k[next[b]++] = x;
		}
#undef DIGIT
	if (!shift)
		return;
	for (uint32_t b = 0; b < nb; b++) {
		size_t m = st[b + 1] - st[b];
		if (m > RADIX_SMALL)
			radix_sort(k + st[b], m, base, shift > 8 ? shift - 8 : 0, 8,
				   st + RADIX_ROOM(w));
		else if (m > 1)
			insertion_sort(k + st[b], m);
	}
}

/* The words of scratch fsym_sort needs for n functions: the keys, the
 * first level's bounds and four more levels' (33 bits of key). */
static size_t sort_scratch(size_t n)
{
	return n + (RADIX_ROOM(RADIX_TOP) + 4 * RADIX_ROOM(8) + 1) / 2;
}

/* v[0 .. n) (n <= KEY_AT) sorted by start, a global name first among
 * equal starts, through keys in k (sort_scratch(n) words), the records
 * then moved in place, cycle by cycle.  The keys sorted by radix; if two
 * have the same start and binding (aliases of one binding), sorted again
 * from the start by the heapsort, whose order among them names the
 * functions (with distinct keys every sort gives the one order). */
static void fsym_sort(struct at_fsym *v, size_t n, uint64_t *k)
{
	uint64_t lo = UINT64_MAX, hi = 0;
	for (size_t i = 0; i < n; i++) {
		k[i] = fsym_key(&v[i], (uint32_t)i);
		lo = k[i] >> 31 < lo ? k[i] >> 31 : lo;
		hi = k[i] >> 31 > hi ? k[i] >> 31 : hi;
	}
	unsigned int bits = 0, w = 8; /* the first digit: about a bucket a key */
	while (bits < 64 && (hi - lo) >> bits)
		bits++;
	while (w < RADIX_TOP && (size_t)1 << w < n)
		w++;
	if (n <= RADIX_SMALL)
		insertion_sort(k, n);
	else
		radix_sort(k, n, lo, bits > w ? bits - w : 0, w, (uint32_t *)(k + n));
	for (size_t i = 1; i < n; i++)
		if (k[i] >> 31 == k[i - 1] >> 31) {
			for (size_t j = 0; j < n; j++)
				k[j] = fsym_key(&v[j], (uint32_t)j);
			heap_sort(k, n);
			break;
		}
	for (size_t i = 0; i < n; i++) { /* v[j] = old v[k[j]'s place] */
		if ((k[i] & KEY_AT) == i)
			continue;
		struct at_fsym t = v[i];
		size_t j = i;
		for (;;) {
			size_t from = (size_t)(k[j] & KEY_AT);
			k[j] = (k[j] & ~KEY_AT) | j; /* done */
			if (from == i) {
				v[j] = t;
				break;
			}
			v[j] = v[from];
			j = from;
		}
	}
}

/* Whether sy is a function the index keeps (string table of strsz bytes). */
static int kept(const Elf64_Sym *sy, uint64_t strsz)
{
	return ELF64_ST_TYPE(sy->st_info) == STT_FUNC && sy->st_shndx != SHN_UNDEF &&
	       sy->st_name < strsz && sy->st_size && sy->st_value <= UINT32_MAX &&
	       sy->st_size <= UINT32_MAX - sy->st_value;
}

/* The functions of nsyms symbols at file offset off, stored in v (room
 * for nsyms; with refs, each one's symbol index in place of its size and
 * its size, at most SIZE_CAP, in place of its name's offset), read
 * per_read at a time into buf, or found at `in` (the table as the loader
 * mapped it); their number, or -1 when a read fails. */
#define SIZE_CAP 0x7fffffffu
static long scan(at_elf_read_fn rd, void *ctx, uint64_t off, size_t nsyms, uint64_t strsz,
		 struct at_fsym *v, Elf64_Sym *buf, size_t per_read, int refs, const Elf64_Sym *in)
{
	size_t k = 0;
	for (size_t i = 0; i < nsyms; i += per_read) {
		size_t n = nsyms - i < per_read ? nsyms - i : per_read;
		const Elf64_Sym *s = in ? in + i : buf;
		if (!in && rd(ctx, buf, n * sizeof(buf[0]), off + i * sizeof(buf[0])))
			return -1;
		for (size_t j = 0; j < n; j++) {
			if (!kept(&s[j], strsz))
				continue;
			v[k].start = (uint32_t)s[j].st_value;
			uint64_t size = s[j].st_size < SIZE_CAP ? s[j].st_size : SIZE_CAP;
			v[k].size = refs ? (uint32_t)(i + j) : (uint32_t)s[j].st_size;
			v[k].name = (refs ? (uint32_t)size : (uint32_t)s[j].st_name) |
				    (ELF64_ST_BIND(s[j].st_info) != STB_LOCAL ? AT_FSYM_GLOBAL : 0);
			k++;
		}
	}
	return (long)k;
}

/* t's n functions in v (scan's entries with refs, sorted) laid out as
 * references (symtab.h) in place, through scratch (8 bytes a function
 * or more): the symbols' indexes and the bitmaps made there, the starts
 * moved down in v (start i's 4 bytes lie at or below entry i's 12), the
 * rest copied after them. */
static void refs_layout(struct at_symtab *t, struct at_fsym *v, void *scratch)
{
	size_t n = t->nfuncs, w = t->narrow ? 2 : 4, bits = (n + 7) / 8;
	char *syms = scratch;
	uint8_t *gb = (uint8_t *)syms + w * n, *ob = gb + bits;
	memset(gb, 0, 2 * bits);
	for (size_t i = 0; i < n; i++) {
		uint32_t size = v[i].name & ~AT_FSYM_GLOBAL;
		if (t->narrow)
			((uint16_t *)syms)[i] = (uint16_t)v[i].size;
		else
			((uint32_t *)syms)[i] = v[i].size;
		gb[i >> 3] |= (uint8_t)(!!(v[i].name & AT_FSYM_GLOBAL) << (i & 7));
		ob[i >> 3] |= (uint8_t)((size == SIZE_CAP ||
					 (i + 1 < n && (uint64_t)v[i].start + size > v[i + 1].start))
					<< (i & 7));
	}
	uint32_t *starts = (uint32_t *)v;
	for (size_t i = 0; i < n; i++) {
		uint32_t x = v[i].start;
		starts[i] = x;
	}
	memcpy(starts + n, syms, w * n + 2 * bits);
}

int at_symtab_read(at_elf_read_fn rd, void *ctx, uint64_t size, struct at_symtab *t)
{
	return at_symtab_read_mapped(rd, ctx, size, t, NULL, NULL);
}

int at_symtab_read_mapped(at_elf_read_fn rd, void *ctx, uint64_t size, struct at_symtab *t,
			  at_syms_mapped_fn mapped, void *mctx)
{
	Elf64_Ehdr eh;
	memset(t, 0, sizeof(*t));
	if (size < sizeof(eh) || rd(ctx, &eh, sizeof(eh), 0) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || !eh.e_shoff)
		return 1;
	if (eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shoff > size || eh.e_shoff % 8 ||
	    (size - eh.e_shoff) / sizeof(Elf64_Shdr) < eh.e_shnum)
		return AT_SYMTAB_CORRUPT;
	/* .symtab, else .dynsym (a stripped file): 32 headers a read (a
	 * chain's first frame in an object reads this under the allocation's
	 * stack: each page of stack it reaches stays resident) */
	Elf64_Shdr sh[32], sym = {0}, str;
	unsigned int pick = eh.e_shnum;
	for (unsigned int i = 0; i < eh.e_shnum; i += 32) {
		unsigned int n = eh.e_shnum - i < 32 ? eh.e_shnum - i : 32;
		if (rd(ctx, sh, n * sizeof(sh[0]), eh.e_shoff + (uint64_t)i * sizeof(sh[0])))
			return AT_SYMTAB_CORRUPT;
		for (unsigned int j = 0; j < n; j++)
			if (sh[j].sh_type == SHT_SYMTAB ||
			    (sh[j].sh_type == SHT_DYNSYM && pick == eh.e_shnum)) {
				pick = i + j;
				sym = sh[j];
			}
	}
	if (pick == eh.e_shnum)
		return 1;
	if (sym.sh_link >= eh.e_shnum ||
	    rd(ctx, &str, sizeof(str), eh.e_shoff + (uint64_t)sym.sh_link * sizeof(str)))
		return AT_SYMTAB_CORRUPT;
	if (sym.sh_offset > size || sym.sh_size > size - sym.sh_offset || sym.sh_offset % 8 ||
	    str.sh_offset > size || str.sh_size > size - str.sh_offset || !str.sh_size)
		return AT_SYMTAB_CORRUPT;
	if (str.sh_size >= AT_FSYM_GLOBAL)
		return 1;
	size_t nsyms = sym.sh_size / sizeof(Elf64_Sym);
	if (!nsyms || nsyms > KEY_AT)
		return 1;
	uint64_t straddr = sym.sh_type == SHT_DYNSYM && (str.sh_flags & SHF_ALLOC) ? str.sh_addr : 0;
	int refs = !straddr || str.sh_size > AT_SYMTAB_MAPPED_MAX; /* names never read in place */
	/* one pass over the table: room for every symbol, the pages the
	 * functions did not reach given back; the symbols read into the
	 * sort's scratch first, SYMS_READ_MAX bytes a read (about what the
	 * sort touches of it: 8 bytes a key and the buckets' bounds), not 80
	 * symbols on the stack */
	size_t bytes = (nsyms * sizeof(struct at_fsym) + 4095) & ~(size_t)4095;
	struct at_fsym *v =
		mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (v == MAP_FAILED)
		return 1;
	size_t sbytes = sort_scratch(nsyms) * sizeof(uint64_t);
	void *scratch = mmap(NULL, sbytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (scratch == MAP_FAILED) {
		munmap(v, bytes);
		return 1;
	}
	size_t per_read = (sbytes < SYMS_READ_MAX ? sbytes : SYMS_READ_MAX) / sizeof(Elf64_Sym);
	const Elf64_Sym *in = !refs && sym.sh_type == SHT_DYNSYM && (sym.sh_flags & SHF_ALLOC) &&
				      sym.sh_size <= AT_SYMTAB_MAPPED_MAX && mapped
				      ? mapped(mctx, &sym, &str)
				      : NULL;
	long n = scan(rd, ctx, sym.sh_offset, nsyms, str.sh_size, v, scratch, per_read, refs, in);
	if (n <= 0 || n > (long)KEY_AT) {
		munmap(scratch, sbytes);
		munmap(v, bytes);
		return n < 0 ? AT_SYMTAB_CORRUPT : 1;
	}
	fsym_sort(v, (size_t)n, scratch);
	t->nfuncs = (size_t)n;
	t->refs = refs;
	t->narrow = nsyms <= AT_FREF_NARROW;
	if (refs)
		refs_layout(t, v, scratch);
	munmap(scratch, sbytes);
	size_t used = (at_symtab_size(t) + 4095) & ~(size_t)4095;
	if (used < bytes) {
		munmap((char *)v + used, bytes - used);
		bytes = used;
	}
	t->stroff = str.sh_offset;
	t->strsz = (uint32_t)str.sh_size;
	t->straddr = straddr;
	t->symoff = sym.sh_offset;
	t->funcs = v;
	t->bytes = bytes;
	return 0;
}

int at_symtab_func(const struct at_symtab *t, at_elf_read_fn rd, void *ctx, size_t fi,
		   struct at_fsym *f)
{
	if (!t->refs) {
		*f = ((const struct at_fsym *)t->funcs)[fi];
		return 0;
	}
	const char *syms = (const char *)t->funcs + 4 * t->nfuncs;
	uint32_t k = t->narrow ? ((const uint16_t *)syms)[fi] : ((const uint32_t *)syms)[fi];
	Elf64_Sym sy;
	if (rd(ctx, &sy, sizeof(sy), t->symoff + (uint64_t)k * sizeof(sy)))
		return -1;
	f->start = at_symtab_start(t, fi);
	f->size = (uint32_t)sy.st_size; /* as scan kept it: below 4 GiB */
	f->name = (uint32_t)sy.st_name | (at_symtab_bit(t, 0, fi) ? AT_FSYM_GLOBAL : 0);
	return 0;
}

long at_symtab_find(const struct at_symtab *t, at_elf_read_fn rd, void *ctx, uintptr_t off,
		    struct at_fsym *fp)
{
	size_t lo = 0, hi = t->nfuncs; /* first start > off */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (at_symtab_start(t, mid) <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* the nearest starts at or below off; an enclosing one may lie further
	 * down (nested symbols are rare: look a few back; a reference read
	 * only when it is the nearest or reaches past the next start) */
	for (size_t i = lo, tries = 0; i-- > 0 && tries < 8; tries++) {
		struct at_fsym f;
		if (t->refs && i + 1 < lo && !at_symtab_bit(t, 1, i))
			continue; /* ends at or before the next start, at or below off */
		if (at_symtab_func(t, rd, ctx, i, &f))
			return AT_SYMTAB_UNREAD;
		if (off >= f.start && off - f.start < f.size) {
			size_t at = i;
			while (i > 0 && at_symtab_start(t, i - 1) == f.start &&
			       at_symtab_global(t, i - 1))
				i--; /* the global alias first in order */
			if (i != at && at_symtab_func(t, rd, ctx, i, &f))
				return AT_SYMTAB_UNREAD;
			*fp = f;
			return (long)i;
		}
	}
	return -1;
}

/* The bytes of function f's name a read takes into a buffer of size
 * bytes (its offset in *off): up to the table's end, at most size - 1;
 * 0 when it has none. */
static size_t name_span(const struct at_symtab *t, const struct at_fsym *f, size_t size,
			uint32_t *off)
{
	*off = f->name & ~AT_FSYM_GLOBAL;
	if (size < 2 || *off >= t->strsz)
		return 0;
	return t->strsz - *off < size - 1 ? t->strsz - *off : size - 1;
}

/* The name read (n bytes at s, the table's end at s + left): s when it
 * ends there, else cut into buf, or NULL when the table ends first. */
static const char *name_end(const char *s, size_t n, size_t left, char *buf)
{
	for (size_t i = 0; i < n; i++)
		if (!s[i])
			return s;
	if (n == left)
		return NULL; /* not ended inside the string table */
	if (s != buf)
		memcpy(buf, s, n);
	buf[n] = '\0'; /* longer than buf: cut */
	return buf;
}

const char *at_symtab_fname(const struct at_symtab *t, at_elf_read_fn rd, void *ctx,
			    const struct at_fsym *f, char *buf, size_t size)
{
	uint32_t off;
	size_t n = name_span(t, f, size, &off);
	if (!n || rd(ctx, buf, n, t->stroff + off))
		return NULL;
	return name_end(buf, n, t->strsz - off, buf);
}

const char *at_symtab_name(const struct at_symtab *t, at_elf_read_fn rd, void *ctx, size_t fi,
			   char *buf, size_t size)
{
	struct at_fsym f;
	return at_symtab_func(t, rd, ctx, fi, &f) ? NULL : at_symtab_fname(t, rd, ctx, &f, buf, size);
}

const char *at_symtab_fname_mapped(const struct at_symtab *t, const char *strs,
				   const struct at_fsym *f, char *buf, size_t size)
{
	uint32_t off;
	size_t n = name_span(t, f, size, &off);
	return n ? name_end(strs + off, n, t->strsz - off, buf) : NULL;
}

const char *at_symtab_name_mapped(const struct at_symtab *t, const char *strs, size_t fi,
				  char *buf, size_t size)
{
	if (t->refs)
		return NULL;
	return at_symtab_fname_mapped(t, strs, &((const struct at_fsym *)t->funcs)[fi], buf, size);
}

void at_symtab_release(struct at_symtab *t)
{
	if (t->funcs)
		munmap(t->funcs, t->bytes);
	memset(t, 0, sizeof(*t));
}
