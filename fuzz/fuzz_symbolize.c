/*
 * libFuzzer target: the alloctag command's symbolizer (tools/symbols/,
 * libdw and libelf) on a corrupt object.  The input is written as an ELF
 * file and a profile with one map naming it asks for the names of
 * addresses in and around the seeds' functions (fuzz/seed_obj.c built as a
 * shared object and as an executable at 0x400000).  Properties: every
 * location has at least one frame and its object named exactly
 * "FILE+0xADDR" (the fallback when nothing else can be read), names and
 * files are non-empty strings when present; the tool says at most one
 * line about the object, starting "alloctag: " (its messages go to a
 * scratch file, checked and emptied after each input, so that they do not
 * fill libFuzzer's log); never a crash, a hang, a leak or UB.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "symbols/symbols.h"

static char dir[] = "/tmp/fuzz_symbolize.XXXXXX", path[64];
static FILE *msgs; /* the tool's stderr */

static void cleanup(void)
{
	unlink(path);
	rmdir(dir);
}

static const uint64_t addrs[] = {
	0x1,	  0x9d1,    0xa1a,    0xa52,    0xa60,    0xacd,	0xb00,	  0xb55,
	0xb70,	  0xb93,    0xbb9,    0x1000,   0x40052a, 0x400591, 0x4006af, 0x4006d0,
	0x400724, 0x4007a6, 0x4007c0, 0x4007e4, 0x40080a, 0x400830, 0xffffffffffffffffull,
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	unsetenv("DEBUGINFOD_URLS"); /* never ask the network */
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/obj", dir);
	atexit(cleanup);
	msgs = tmpfile();
	if (!msgs)
		abort();
	stderr = msgs; /* the tool's messages; sanitizer reports use fd 2 */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f))
		abort();
	struct prof_map map = {0x400000, 0x500000, 0, 0, NULL, path};
	struct profile p;
	memset(&p, 0, sizeof(p));
	p.maps = &map;
	p.nr_maps = 1;
	struct symbolizer *s = sym_new(&p);
	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		const struct sym_loc *l = sym_get(s, 0, addrs[i]);
		char want[128];
		snprintf(want, sizeof(want), "%s+0x%" PRIx64, path, addrs[i]);
		if (!l || l->nr_frames < 1 || strcmp(l->object, want))
			abort();
		for (unsigned int k = 0; k < l->nr_frames; k++)
			if ((l->frames[k].func && !l->frames[k].func[0]) ||
			    (l->frames[k].file && !l->frames[k].file[0]))
				abort();
	}
	sym_free(s);
	char text[4096];
	long n = ftell(msgs);
	rewind(msgs);
	size_t got = fread(text, 1, sizeof(text) - 1, msgs);
	text[got] = 0;
	char *nl = strchr(text, '\n');
	if (n > 0 && (strncmp(text, "alloctag: ", 10) || !nl || nl[1]))
		abort(); /* not one "alloctag: " line */
	rewind(msgs);
	if (ftruncate(fileno(msgs), 0))
		abort();
	return 0;
}
