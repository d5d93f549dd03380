/*
 * Start-up's check whether the executable imports the runtime (core_tags.c
 * at_imports_runtime), on this executable: 4096 exported functions
 * (-rdynamic: a .dynsym of about 100 KB, like a compiler's), and, by the
 * build's IMPORT, an undefined "alloctag_*" function whose address is taken
 * in a non-PIE executable (hashed: past the GNU hash table's symoffset,
 * among the exports: IMPORT=1), an "at_*" function called through the PLT
 * (unhashed: IMPORT=2), or nothing of the runtime's (IMPORT=0).  The answer
 * must be the same whether the exports are read in place (in_place
 * unbounded), from the file piecewise (in_place 0: every chunk), or as
 * start-up reads them.
 */
#include <elf.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/auxv.h>

#include "check.h"
#include "core/core_tags.h"

#define F(n) int scan_fn_##n(int x) { return x + 1; }
#define F16(p) F(p##0) F(p##1) F(p##2) F(p##3) F(p##4) F(p##5) F(p##6) F(p##7) \
	F(p##8) F(p##9) F(p##a) F(p##b) F(p##c) F(p##d) F(p##e) F(p##f)
#define F256(p) F16(p##0) F16(p##1) F16(p##2) F16(p##3) F16(p##4) F16(p##5) F16(p##6) \
	F16(p##7) F16(p##8) F16(p##9) F16(p##a) F16(p##b) F16(p##c) F16(p##d) F16(p##e) F16(p##f)
#define F4096(p) F256(p##0) F256(p##1) F256(p##2) F256(p##3) F256(p##4) F256(p##5) \
	F256(p##6) F256(p##7) F256(p##8) F256(p##9) F256(p##a) F256(p##b) F256(p##c) \
	F256(p##d) F256(p##e) F256(p##f)
F4096(x)

#if IMPORT == 1
void alloctag_scan_probe(void);
void (*volatile probe)(void);
/* Non-PIC code taking the address (an absolute relocation): the executable
 * gets a canonical PLT entry, and the symbol a value, so it is hashed. */
__attribute__((noinline)) static void take(void)
{
	probe = alloctag_scan_probe;
}
#elif IMPORT == 2
void at_scan_probe(void);
#endif

/* The exported symbols and whether an undefined runtime name is hashed. */
static void table(uint32_t *nsym, uint32_t *symoffset, int *hashed_import)
{
	const ElfW(Dyn) *d = _DYNAMIC;
	const ElfW(Sym) *sym = NULL;
	const char *str = NULL;
	const uint32_t *gnu = NULL;
	for (; d->d_tag != DT_NULL; d++) {
		if (d->d_tag == DT_SYMTAB)
			sym = (const void *)d->d_un.d_ptr;
		if (d->d_tag == DT_STRTAB)
			str = (const void *)d->d_un.d_ptr;
		if (d->d_tag == DT_GNU_HASH)
			gnu = (const void *)d->d_un.d_ptr;
	}
	CHECK(sym && str && gnu);
	*symoffset = gnu[1];
	const uint32_t *buckets = gnu + 4 + 2 * gnu[2], *chain = buckets + gnu[0];
	uint32_t last = 0;
	for (uint32_t b = 0; b < gnu[0]; b++)
		if (buckets[b] > last)
			last = buckets[b];
	while (!(chain[last - gnu[1]] & 1))
		last++;
	*nsym = last + 1;
	*hashed_import = 0;
	for (uint32_t i = gnu[1]; i < *nsym; i++)
		if (sym[i].st_shndx == SHN_UNDEF && str[sym[i].st_name] == 'a')
			*hashed_import = 1;
}

int main(void)
{
	const ElfW(Phdr) *ph = (const void *)getauxval(AT_PHDR);
	unsigned long n = getauxval(AT_PHNUM);
	uintptr_t bias = 0;
	for (unsigned long i = 0; i < n; i++)
		if (ph[i].p_type == PT_PHDR)
			bias = (uintptr_t)ph - ph[i].p_vaddr;
#if IMPORT == 1
	take();
#endif
	uint32_t nsym, symoffset;
	int hashed;
	table(&nsym, &symoffset, &hashed);
	/* The table is what the test is about: large, and the import where said. */
	CHECK(nsym - symoffset >= 4096);
	CHECK((nsym - symoffset) * sizeof(ElfW(Sym)) > AT_DYNSYM_IN_PLACE);
	CHECK_EQ(hashed, IMPORT == 1);
	CHECK_EQ(at_imports_runtime(ph, n, bias, SIZE_MAX), IMPORT != 0);
	CHECK_EQ(at_imports_runtime(ph, n, bias, 0), IMPORT != 0);
	CHECK_EQ(at_imports_runtime(ph, n, bias, AT_DYNSYM_IN_PLACE), IMPORT != 0);
#if IMPORT == 2
	at_scan_probe();
#elif IMPORT == 1
	probe();
#endif
	printf("imports %d, %u symbols, %u unhashed\n", IMPORT, nsym, symoffset);
	return 0;
}
