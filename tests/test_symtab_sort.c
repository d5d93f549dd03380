/*
 * The symbol index's order (src/sites/symtab.h): at_symtab_read on ELF
 * images made in memory, each a .symtab of functions at random starts
 * (fixed seeds): the index sorted by start, a global name first among
 * equal starts, every function kept once; and the exact order, aliases
 * of one binding included, by a hash of the records in their order
 * (the hashes are those of the index as a heapsort alone made it: an
 * alias's name depends on its place among its aliases).  Sets: distinct
 * starts (the radix sort's) of every size class of the sort (1, 2, 32,
 * 33, 5,000 functions, 20,000 and 70,000 spread over 4 GiB: the latter's
 * symbols' indexes past 16 bits), starts crowded into
 * 4 KiB with one far away (every level of the radix), a global and a
 * local at each start, and sets with aliases of one binding (the
 * heapsort's order); and lookups of each function's last byte and the
 * byte past it, the index's references against a scan of its functions.
 */
#include <elf.h>
#include <stdint.h>
#include <sys/mman.h>

#include "check.h"
#include "sites/symtab.h"

struct image {
	unsigned char *p;
	size_t size;
};

static int read_image(void *ctx, void *buf, size_t len, uint64_t off)
{
	struct image *im = ctx;
	if (off > im->size || len > im->size - off)
		return -1;
	memcpy(buf, im->p + off, len);
	return 0;
}

static uint64_t rnd_state;
static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13, rnd_state ^= rnd_state >> 7, rnd_state ^= rnd_state << 17;
	return rnd_state;
}

enum { SPREAD, CROWDED, PAIRS, ALIASES };

/* An image of n functions (shape: how their starts are drawn) and one
 * data symbol; its index checked; the hash of the index's records. */
static uint64_t one(size_t n, int shape, uint64_t seed)
{
	size_t nsyms = n + 2; /* the null symbol, a data object */
	size_t symoff = sizeof(Elf64_Ehdr), stroff = symoff + nsyms * sizeof(Elf64_Sym);
	size_t strsz = 1 + nsyms * 8;
	size_t shoff = (stroff + strsz + 7) & ~(size_t)7;
	struct image im = {NULL, shoff + 3 * sizeof(Elf64_Shdr)};
	im.p = calloc(1, im.size);
	CHECK(im.p != NULL);
	Elf64_Ehdr *eh = (Elf64_Ehdr *)im.p;
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_shoff = shoff;
	eh->e_shentsize = sizeof(Elf64_Shdr);
	eh->e_shnum = 3;
	Elf64_Shdr *sh = (Elf64_Shdr *)(im.p + shoff);
	sh[1] = (Elf64_Shdr){.sh_type = SHT_SYMTAB, .sh_offset = symoff,
			     .sh_size = nsyms * sizeof(Elf64_Sym), .sh_link = 2};
	sh[2] = (Elf64_Shdr){.sh_type = SHT_STRTAB, .sh_offset = stroff, .sh_size = strsz};
	Elf64_Sym *sy = (Elf64_Sym *)(im.p + symoff);
	char *str = (char *)(im.p + stroff);
	rnd_state = seed;
	for (size_t i = 1; i < nsyms; i++) {
		uint64_t r = rnd();
		uint32_t start, k = (uint32_t)i, bind = r & 1 ? STB_GLOBAL : STB_LOCAL;
		if (shape == SPREAD) /* distinct: an odd multiplier modulo 2^20 */
			start = (uint32_t)(k * 0x9E3779B1u) << 12;
		else if (shape == CROWDED) /* distinct, within 4 KiB but one */
			start = k == 1 ? 0x7ffff000u : 0x1000 + (k * 1031u) % 4099u;
		else if (shape == PAIRS) /* a global and a local at each start */
			start = 0x1000 + 16 * ((k * 0x9E3779B1u) % 65536 / 2), bind = k & 1;
		else
			start = 0x1000 + 16 * (uint32_t)((r >> 20) % (n / 3 + 1));
		sy[i].st_value = start;
		sy[i].st_size = 1 + (r >> 50) % 64;
		sy[i].st_info = ELF64_ST_INFO(bind,
					      i == nsyms - 1 ? STT_OBJECT : STT_FUNC);
		sy[i].st_shndx = 1;
		sy[i].st_name = (uint32_t)(1 + (i - 1) * 8);
		snprintf(str + sy[i].st_name, 8, "f%u", (unsigned int)(i % 1000000));
	}
	struct at_symtab t;
	CHECK_EQ(at_symtab_read(read_image, &im, im.size, &t), 0);
	uint64_t h = 0xcbf29ce484222325ull, names = 0;
	CHECK_EQ(t.nfuncs, n);
	/* a .symtab: references, symbols' indexes in 16 bits up to 65536
	 * symbols (6 bytes and 2 bits a function), else in 32 */
	CHECK(t.refs);
	CHECK_EQ(t.narrow, nsyms <= AT_FREF_NARROW);
	CHECK_EQ(at_symtab_size(&t), n * (t.narrow ? 6 : 8) + 2 * ((n + 7) / 8));
	CHECK_EQ(t.bytes, (at_symtab_size(&t) + 4095) & ~(size_t)4095);
	struct at_fsym e = {0, 0, 0};
	for (size_t i = 0; i < t.nfuncs; i++) {
		struct at_fsym f;
		CHECK_EQ(at_symtab_func(&t, read_image, &im, i, &f), 0);
		CHECK_EQ(f.start, at_symtab_start(&t, i));
		CHECK_EQ(!!(f.name & AT_FSYM_GLOBAL), at_symtab_global(&t, i));
		if (i)
			CHECK(e.start < f.start ||
			      (e.start == f.start &&
			       (e.name & AT_FSYM_GLOBAL) >= (f.name & AT_FSYM_GLOBAL)));
		e = f;
		names += f.name & ~AT_FSYM_GLOBAL;
		uint64_t w[3] = {f.start, f.size, f.name};
		for (int k = 0; k < 3; k++)
			h = (h ^ w[k]) * 0x100000001b3ull;
	}
	/* every function once: the names' offsets sum to that of 1 .. n */
	CHECK_EQ(names, n * (1 + 1 + (n - 1) * 8) / 2);
	/* lookups (each function's last byte and the byte past it): the
	 * nearest start at or below, else one of the 8 before it that holds
	 * the address, the global alias first; the references' symbols read
	 * only for those reaching past their next start */
	for (size_t i = 0; i < t.nfuncs && i < 2000; i++) {
		struct at_fsym f, g;
		CHECK_EQ(at_symtab_func(&t, read_image, &im, i, &f), 0);
		for (uint64_t off = f.start + f.size - 1; off <= (uint64_t)f.start + f.size; off++) {
			long want = -1;
			size_t lo = 0;
			while (lo < t.nfuncs && at_symtab_start(&t, lo) <= off)
				lo++;
			for (size_t k = lo, tries = 0; k-- > 0 && tries < 8 && want < 0; tries++) {
				CHECK_EQ(at_symtab_func(&t, read_image, &im, k, &g), 0);
				if (off >= g.start && off - g.start < g.size) {
					while (k > 0 && at_symtab_start(&t, k - 1) == g.start &&
					       at_symtab_global(&t, k - 1))
						k--;
					want = (long)k;
				}
			}
			long got = at_symtab_find(&t, read_image, &im, off, &g);
			CHECK_EQ(got, want);
			if (got >= 0) {
				CHECK_EQ(at_symtab_func(&t, read_image, &im, (size_t)got, &f), 0);
				CHECK(!memcmp(&f, &g, sizeof(f)));
				CHECK_EQ(at_symtab_func(&t, read_image, &im, i, &f), 0);
			}
		}
	}
	at_symtab_release(&t);
	free(im.p);
	return h;
}

int main(void)
{
	static const struct {
		size_t n;
		int shape;
		uint64_t hash;
	} sets[] = {
		{1, SPREAD, 0x0008c4d0c7c2ab4bull},
		{2, SPREAD, 0x8c8ff77859cfaf77ull},
		{32, SPREAD, 0x4e6f14f449567132ull},
		{33, SPREAD, 0x7b5698fa1f3e697full},
		{5000, SPREAD, 0x30e0566c163157c7ull},
		{20000, SPREAD, 0xb9e63f2aa2079bf4ull},
		{300, CROWDED, 0xfec72034cf0bd449ull},
		{3000, CROWDED, 0x26d55af213efdea1ull},
		{4000, PAIRS, 0x597090cd90ce9759ull},
		{40, ALIASES, 0x1abe5f0685964fc7ull},
		{5000, ALIASES, 0x1442186158ee110dull},
		{70000, SPREAD, 0x385d04a38af4f0fcull},
	};
	int print = getenv("SYMTAB_SORT_PRINT") != NULL;
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		uint64_t h = one(sets[i].n, sets[i].shape, 0x9E3779B97F4A7C15ull + i);
		if (print)
			printf("{%zu, %d, 0x%016llxull},\n", sets[i].n, sets[i].shape,
			       (unsigned long long)h);
		else if (h != sets[i].hash) {
			fprintf(stderr, "FAIL: set %zu (%zu functions): hash %016llx, expected %016llx\n",
				i, sets[i].n, (unsigned long long)h, (unsigned long long)sets[i].hash);
			return 1;
		}
	}
	printf("symtab order: ok\n");
	return 0;
}
