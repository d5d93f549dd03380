/*
 * Frames in the allocation layer's objects (src/sites/site_names.h): a
 * libc frame met in a chain gets no function name until a chain is named
 * after it (at_frame_lookup leaves it NULL, layer bit set); at_frame_name
 * then names it as dladdr does, through dladdr for libc's first
 * AT_LAYER_DLADDR names and through its dynamic-symbol index after (this
 * program's dladdr, which the runtime's calls bind to, counts them: an
 * index that silently failed, dladdr naming every frame, fails); a
 * frame of this program is named when it is met; at_frame_get names; a
 * chain whose every frame is in libc is named after its last frame's
 * function.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <string.h>

#include "check.h"
#include "sites/chains.h"
#include "sites/site_names.h"

/* libc functions no sanitizer intercepts, each with a body of more than
 * 8 bytes */
static const char *const fns[] = {
	"labs",    "div",     "ldiv",     "ffs",         "ffsl",   "toupper", "tolower",
	"isalnum", "isalpha", "isdigit",  "isspace",     "isxdigit", "getpagesize", "getpid",
	"getppid", "getuid",  "geteuid",  "getgid",      "getegid", "abs",
};

__attribute__((noipa, used)) static int own_function(int x)
{
	return x * 3 + 1;
}

/* dladdr, counting the calls made while `counting` (libc's, found next) */
static int counting;
static unsigned int dladdr_calls;
int dladdr(const void *a, Dl_info *info)
{
	static int (*real)(const void *, Dl_info *);
	if (!real)
		real = (int (*)(const void *, Dl_info *))dlsym(RTLD_NEXT, "dladdr");
	dladdr_calls += counting;
	return real(a, info);
}

static const char *dladdr_name(uintptr_t a)
{
	Dl_info info;
	return dladdr((void *)a, &info) && info.dli_sname ? info.dli_sname : NULL;
}

int main(void)
{
	void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	CHECK(libc != NULL);
	int err;
	unsigned int n = 0;
	uintptr_t seen[sizeof(fns) / sizeof(fns[0])];
	for (unsigned int i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		uintptr_t a = (uintptr_t)dlsym(libc, fns[i]);
		CHECK(a != 0);
		a += 4; /* inside the function, as a return address would be */
		int alias = 0; /* another name of a function met (labs, abs) */
		for (unsigned int k = 0; k < n; k++)
			alias |= seen[k] == a;
		if (alias)
			continue;
		seen[n++] = a;
		struct at_frame *f = at_frame_lookup(a, &err);
		CHECK(f != NULL);
		CHECK_EQ(f->layer, 1);
		CHECK(f->tag.function == NULL);
		CHECK(strstr(f->tag.filename, "libc.so") != NULL);
		counting = 1;
		CHECK_EQ(at_frame_name(f), 0);
		counting = 0;
		const char *want = dladdr_name(a);
		CHECK(want != NULL);
		CHECK_STREQ(f->tag.function, want);
		const char *kept = f->tag.function;
		CHECK_EQ(at_frame_name(f), 0);
		CHECK(f->tag.function == kept); /* named once */
		CHECK(at_frame_lookup(a, &err) == f);
	}
	CHECK(n > AT_LAYER_DLADDR + 4); /* dladdr's names and the index's */
	CHECK_EQ(dladdr_calls, AT_LAYER_DLADDR); /* the rest by the index */
	/* at_frame_get names a new layer frame at once */
	uintptr_t g = (uintptr_t)dlsym(libc, "getpid") + 6;
	struct at_frame *fg = at_frame_get(g, &err);
	CHECK(fg != NULL && fg->tag.function != NULL);
	CHECK_STREQ(fg->tag.function, dladdr_name(g));
	/* a frame of this program: named when met, not in the layer */
	uintptr_t o = (uintptr_t)own_function + 4;
	struct at_frame *fo = at_frame_lookup(o, &err);
	CHECK(fo != NULL && fo->tag.function != NULL);
	CHECK_EQ(fo->layer, 0);
	CHECK_STREQ(fo->tag.function, "own_function");
	/* a chain of libc frames only: named after its last frame */
	uintptr_t c[2] = {(uintptr_t)dlsym(libc, "ffs") + 7, (uintptr_t)dlsym(libc, "isalpha") + 7};
	struct alloc_tag *t = at_chain_tag(c, 2);
	CHECK(t != NULL);
	CHECK_STREQ(t->function, dladdr_name(c[1]));
	printf("layer_names: ok (%u libc frames)\n", n);
	return 0;
}
