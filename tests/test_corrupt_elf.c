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
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "sites/unwind.h"

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

enum cfi_bad { CFI_NONE, CFI_VERSION, CFI_FDE_OUTSIDE, CFI_FDE_LEN, CFI_CIE_LEN };

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

int main(int argc, char **argv)
{
	CHECK(mkdtemp(dir));
	const char *what = argc > 1 ? argv[1] : "cfi";
	if (!strcmp(what, "cfi"))
		test_cfi();
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : 1;
}
