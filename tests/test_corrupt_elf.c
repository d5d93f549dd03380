/*
 * Corrupt objects under the runtime's ELF readers.
 *
 * cfi: copies of a real shared object (testmod_cb.c) with a corrupted
 * .eh_frame_hdr or .eh_frame (the header's version, FDE offsets outside the
 * object, FDE lengths past its end, a CIE length past its end) are loaded
 * with dlopen and unwound through: the walk ends exactly at the corrupt
 * object's frame (one frame), the intact copy unwinds on to main, and each
 * corrupt object is named exactly once on stderr, however many of its
 * addresses are looked up and across an unrelated dlclose (which clears the
 * unwinder's caches).
 *
 * tags_core: copies of this program with corrupt section headers (a table
 * past the end of the file; the alloc_tags header pointing at .text; a size
 * that is not a whole number of tags) are run: each says exactly one line
 * and its tags are registered by its constructor instead (as a shared
 * object's: a copy in the tag area), which counts its allocation exactly,
 * as the intact copy does with its core tags.
 *
 * tags_module: copies of a real tagged object (at_testmod.so) with a tag's
 * canon filled in, a tag's function name relocated outside the object, or
 * left NULL (found by fuzz_elf_image),
 * are dlopened: exactly one line each (for two translation units'
 * constructors and any number of allocations), its tags cleared, its
 * allocations work and charge nothing, and it unloads cleanly.
 *
 * symtab: a copy of the callback object whose .symtab is misaligned in the
 * file: its frames are named from its dynamic symbols, with exactly one
 * line for the object however many of its frames are named; the intact
 * copy's frames are named from its .symtab, silently.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <alloctag.h>

#include "check.h"
#include "core/tag_registry.h"
#include "module_util.h"
#include "sites/site_names.h"
#include "sites/unwind.h"
#include "tag_lookup.h"

static char dir[] = "/tmp/at_corrupt_elfXXXXXX";
static int saved_err = -1;
static char err_path[4096];

/* stderr to a file from here on; stderr_text() gives what was written. */
static void stderr_capture(void)
{
	snprintf(err_path, sizeof(err_path), "%s/stderr", dir);
	int fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	saved_err = dup(2);
	dup2(fd, 2);
	close(fd);
}

static char *stderr_text(void)
{
	static char buf[8192];
	FILE *f = fopen(err_path, "r");
	CHECK(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

static unsigned char *read_file(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	CHECK(f);
	fseek(f, 0, SEEK_END);
	*size = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	unsigned char *b = malloc(*size);
	CHECK(fread(b, 1, *size, f) == *size);
	fclose(f);
	return b;
}

static void write_file(const char *path, const unsigned char *b, size_t size)
{
	FILE *f = fopen(path, "wb");
	CHECK(f && fwrite(b, 1, size, f) == size);
	fclose(f);
}

/* ---- cfi ----------------------------------------------------------- */

static uintptr_t frames[64];
static unsigned int nframes;

static __attribute__((noinline)) int capture(void)
{
	nframes = at_unwind(frames, 64, (uintptr_t)__builtin_dwarf_cfa(), NULL);
	return 1;
}

enum cfi_bad { CFI_NONE, CFI_VERSION, CFI_FDE_OUTSIDE, CFI_FDE_LEN, CFI_CIE_LEN, SYMTAB_MISALIGNED };

static Elf64_Shdr *section(unsigned char *b, const char *name);

static uint32_t get32(const unsigned char *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static void put32(unsigned char *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

/* A copy of the callback object with its CFI corrupted as `bad` says. */
static void *load_cfi_copy(const char *name, enum cfi_bad bad)
{
	size_t size;
	unsigned char *b = read_file(TESTMOD_CB, &size);
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)b;
	const Elf64_Phdr *ph = (const Elf64_Phdr *)(b + eh->e_phoff);
	size_t h = 0;
	for (int i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_GNU_EH_FRAME)
			h = ph[i].p_offset; /* the first segment: file offset = address */
	CHECK(h);
	/* the table ld writes: pcrel sdata4 pointer, udata4 count, datarel sdata4 */
	CHECK(b[h] == 1 && b[h + 1] == 0x1b && b[h + 2] == 0x03 && b[h + 3] == 0x3b);
	uint32_t count = get32(b + h + 8);
	CHECK(count >= 2);
	for (uint32_t k = 0; k < count; k++) {
		unsigned char *ent = b + h + 12 + 8 * k;
		size_t fde = h + (size_t)(int32_t)get32(ent + 4);
		if (bad == CFI_FDE_OUTSIDE)
			put32(ent + 4, 0x7fff0000);
		else if (bad == CFI_FDE_LEN)
			put32(b + fde, 0x7ffffff0);
		else if (bad == CFI_CIE_LEN)
			put32(b + fde + 4 - get32(b + fde + 4), 0x7ffffff0);
	}
	if (bad == CFI_VERSION)
		b[h] = 2;
	if (bad == SYMTAB_MISALIGNED)
		section(b, ".symtab")->sh_offset += 4;
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	write_file(path, b, size);
	free(b);
	void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	CHECK(dl);
	return dl;
}

typedef int (*cb_fn)(int (*)(void));

/* Unwind from inside f(capture): the number of frames. */
static unsigned int frames_through(void *dl, const char *f)
{
	cb_fn fn = (cb_fn)dlsym(dl, f);
	CHECK(fn);
	nframes = 0;
	fn(capture);
	return nframes;
}

static void test_cfi(void)
{
	static const struct {
		const char *name;
		enum cfi_bad bad;
	} copies[] = {
		{"version.so", CFI_VERSION},
		{"fde-outside.so", CFI_FDE_OUTSIDE},
		{"fde-len.so", CFI_FDE_LEN},
		{"cie-len.so", CFI_CIE_LEN},
	};
	stderr_capture();
	void *good = load_cfi_copy("good.so", CFI_NONE);
	CHECK(frames_through(good, "cb_a") >= 3); /* cb_a, main, libc's start */
	void *dl[4];
	char want[4096] = "";
	for (int i = 0; i < 4; i++) {
		dl[i] = load_cfi_copy(copies[i].name, copies[i].bad);
		CHECK_EQ(frames_through(dl[i], "cb_a"), 1); /* the return into cb_a: then a stop */
		CHECK_EQ(frames_through(dl[i], "cb_b"), 1);
		CHECK_EQ(frames_through(dl[i], "cb_a"), 1);
		size_t n = strlen(want);
		snprintf(want + n, sizeof(want) - n,
			 "alloctag: %s/%s: corrupt .eh_frame_hdr or .eh_frame; call chains end at "
			 "its frames\n",
			 dir, copies[i].name);
	}
	CHECK(frames_through(good, "cb_b") >= 3);
	dlclose(good); /* caches cleared: the corrupt objects are read again, not named again */
	for (int i = 0; i < 4; i++) {
		CHECK_EQ(frames_through(dl[i], "cb_b"), 1);
		CHECK_EQ(frames_through(dl[i], "cb_a"), 1);
		dlclose(dl[i]);
	}
	CHECK_STREQ(stderr_text(), want);
	dup2(saved_err, 2);
	printf("cfi: 4 corrupt objects ignored, each named once\n");
}

/* ---- tags ---------------------------------------------------------- */

static Elf64_Shdr *section(unsigned char *b, const char *name)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)b;
	Elf64_Shdr *sh = (Elf64_Shdr *)(b + eh->e_shoff);
	const char *names = (const char *)b + sh[eh->e_shstrndx].sh_offset;
	for (int i = 0; i < eh->e_shnum; i++)
		if (!strcmp(names + sh[i].sh_name, name))
			return &sh[i];
	CHECK(!"no such section");
	return NULL;
}

/* The child: one tagged allocation, counted exactly, by the core tags
 * (`core`) or by the constructor's registration. */
static int core_child(int core)
{
	void *p = at_alloc_pages(0); const unsigned int line = __LINE__;
	CHECK(p);
	const struct alloc_tag *t = tag_at_line(line);
	CHECK(t && t->canon);
	if (core)
		CHECK(at_core_start != NULL && t->canon == t);
	else
		CHECK(at_core_start == NULL && t->canon != t);
	struct alloctag_counters c = at_counters_read(t->canon->idx);
	CHECK_EQ(c.bytes, 4096);
	CHECK_EQ(c.calls, 1);
	at_free_pages(p, 0);
	return 0;
}

enum core_bad { CORE_NONE, CORE_SHOFF, CORE_TAGS_TEXT, CORE_TAGS_SIZE };

/* Run a copy of this program corrupted as `bad` says; its stderr. */
static const char *run_core_copy(const char *name, enum core_bad bad)
{
	size_t size;
	unsigned char *b = read_file("/proc/self/exe", &size);
	Elf64_Shdr *tags = section(b, "alloc_tags");
	if (bad == CORE_SHOFF)
		((Elf64_Ehdr *)b)->e_shoff = size + 4096;
	else if (bad == CORE_TAGS_TEXT)
		tags->sh_addr = section(b, ".text")->sh_addr;
	else if (bad == CORE_TAGS_SIZE)
		tags->sh_size -= 8;
	char path[4200], cmd[8600];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	write_file(path, b, size);
	free(b);
	CHECK(chmod(path, 0700) == 0);
	snprintf(cmd, sizeof(cmd), "%s %s 2>%s", path, bad ? "core_child" : "core_child_counted",
		 err_path);
	int rc = system(cmd);
	if (rc)
		fprintf(stderr, "%s: %s", name, stderr_text());
	CHECK_EQ(rc, 0);
	return stderr_text();
}

static void test_tags_core(void)
{
	snprintf(err_path, sizeof(err_path), "%s/stderr", dir);
	CHECK_STREQ(run_core_copy("good", CORE_NONE), "");
	char want[8192];
	snprintf(want, sizeof(want),
		 "alloctag: %s/shoff: corrupt section headers; the main program's tags are "
		 "left to its constructor\n",
		 dir);
	CHECK_STREQ(run_core_copy("shoff", CORE_SHOFF), want);
	snprintf(want, sizeof(want),
		 "alloctag: %s/tags-text: corrupt alloc_tags section (outside the writable "
		 "segments); the main program's tags are left to its constructor\n",
		 dir);
	CHECK_STREQ(run_core_copy("tags-text", CORE_TAGS_TEXT), want);
	snprintf(want, sizeof(want),
		 "alloctag: %s/tags-size: corrupt alloc_tags section (not a whole number of "
		 "aligned tags); the main program's tags are left to its constructor\n",
		 dir);
	CHECK_STREQ(run_core_copy("tags-size", CORE_TAGS_SIZE), want);
	printf("tags_core: 3 corrupt executables said once each and counted by their "
	       "constructor; the intact one by its core tags\n");
}

enum mod_bad { MOD_CANON, MOD_NAME, MOD_NULL_NAME };

static void test_tags_module_one(const char *name, enum mod_bad bad, const char *why)
{
	size_t size;
	unsigned char *b = read_file(TESTMOD, &size);
	Elf64_Shdr *tags = section(b, "alloc_tags");
	if (bad == MOD_CANON) {
		/* the first tag's canon (no relocation writes it) */
		uint64_t v = 0x1234;
		memcpy(b + tags->sh_offset + offsetof(struct alloc_tag, canon), &v, 8);
	} else {
		/* the relocation that writes the first tag's function pointer */
		Elf64_Shdr *rela = section(b, ".rela.dyn");
		Elf64_Rela *r = (Elf64_Rela *)(b + rela->sh_offset);
		size_t n = rela->sh_size / sizeof(*r), k;
		for (k = 0; k < n; k++)
			if (r[k].r_offset == tags->sh_addr + offsetof(struct alloc_tag, function))
				break;
		CHECK(k < n && ELF64_R_TYPE(r[k].r_info) == R_X86_64_RELATIVE);
		if (bad == MOD_NAME) {
			r[k].r_addend = 0x7ff000000;
		} else { /* the pointer left NULL: its relocation writes lineno and flags */
			r[k].r_offset += offsetof(struct alloc_tag, lineno);
			memset(b + tags->sh_offset + offsetof(struct alloc_tag, function), 0, 8);
		}
	}
	char path[4200];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	write_file(path, b, size);
	free(b);
	stderr_capture();
	void *h = must_open(path);
	void *(*a)(unsigned int) = (void *(*)(unsigned int))must_sym(h, "mod_alloc_a");
	void (*fr)(void *, unsigned int) = (void (*)(void *, unsigned int))must_sym(h, "mod_free");
	void (*sect)(struct alloc_tag **, struct alloc_tag **) =
		(void (*)(struct alloc_tag **, struct alloc_tag **))must_sym(h, "mod_section");
	struct alloc_tag *start, *stop;
	sect(&start, &stop);
	CHECK(stop > start);
	for (struct alloc_tag *t = start; t < stop; t++)
		CHECK(t->canon == NULL);
	uint32_t nr = at_nr_idx;
	for (int i = 0; i < 3; i++) {
		void *p = a(1);
		CHECK(p);
		memset(p, 1, 8192);
		fr(p, 1);
	}
	CHECK_EQ(at_nr_idx, nr); /* nothing registered */
	unload(h, path);
	dup2(saved_err, 2);
	close(saved_err);
	char want[8192];
	snprintf(want, sizeof(want),
		 "alloctag: %s: corrupt alloc_tags section (%s); its allocations are not counted\n",
		 name, why);
	CHECK_STREQ(stderr_text(), want);
}

static void test_tags_module(void)
{
	/* the intact object registers (its tags get copies) */
	struct testmod m = testmod_load();
	CHECK(m.start->canon != NULL && m.start->canon != m.start);
	unload(m.h, TESTMOD);
	test_tags_module_one("canon.so", MOD_CANON, "a tag is filled in already");
	test_tags_module_one("name.so", MOD_NAME, "a name outside the object");
	test_tags_module_one("null-name.so", MOD_NULL_NAME, "a name outside the object");
	printf("tags_module: 3 corrupt objects said once each, not counted, unloaded\n");
}

/* ---- symtab -------------------------------------------------------- */

/* The name of the frame that returns into f. */
static const char *frame_name(void *dl, const char *f)
{
	CHECK_EQ(frames_through(dl, f) >= 1, 1);
	int err;
	struct at_frame *fr = at_frame_get(frames[0], &err);
	CHECK(fr);
	return fr->tag.function;
}

static void test_symtab(void)
{
	stderr_capture();
	void *good = load_cfi_copy("good.so", CFI_NONE);
	CHECK_STREQ(frame_name(good, "cb_a"), "cb_a");
	void *bad = load_cfi_copy("symtab.so", SYMTAB_MISALIGNED);
	CHECK_STREQ(frame_name(bad, "cb_a"), "cb_a");
	CHECK_STREQ(frame_name(bad, "cb_b"), "cb_b");
	CHECK_STREQ(frame_name(good, "cb_b"), "cb_b");
	char want[4096];
	snprintf(want, sizeof(want),
		 "alloctag: %s/symtab.so: corrupt symbol table; its frames are named from its "
		 "dynamic symbols\n",
		 dir);
	CHECK_STREQ(stderr_text(), want);
	dup2(saved_err, 2);
	printf("symtab: a misaligned .symtab said once, frames named from .dynsym\n");
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "core_child"))
		return core_child(0);
	if (argc > 1 && !strcmp(argv[1], "core_child_counted"))
		return core_child(1);
	static const struct {
		const char *name;
		void (*run)(void);
	} tests[] = {{"cfi", test_cfi}, {"tags_core", test_tags_core}, {"tags_module", test_tags_module},
		   {"symtab", test_symtab}};
	const char *what = argc > 1 ? argv[1] : "cfi";
	size_t i = 0;
	while (i < sizeof(tests) / sizeof(tests[0]) && strcmp(tests[i].name, what))
		i++;
	CHECK(i < sizeof(tests) / sizeof(tests[0]));
	CHECK(mkdtemp(dir));
	tests[i].run();
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : 1;
}
