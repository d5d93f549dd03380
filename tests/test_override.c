/*
 * A small program compiled with -include alloctag/override.h and linked
 * with liballoctag.so: its plain malloc/calloc/realloc/strdup/... calls are
 * tagged per line, and allocinfo shows exactly those lines.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"

static char info[1 << 16];

static void read_allocinfo(void)
{
	int fd = memfd_create("allocinfo", 0);
	CHECK(fd >= 0);
	CHECK(!alloctag_write_allocinfo_fd(fd));
	ssize_t n = pread(fd, info, sizeof(info) - 1, 0);
	CHECK(n > 0);
	info[n] = 0;
	close(fd);
}

static void expect(long long bytes, long long calls, int line, const char *func)
{
	char want[256];
	snprintf(want, sizeof(want), "%12lli %8llu tests/test_override.c:%d func:%s \n", bytes,
		 (unsigned long long)calls, line, func);
	if (!strstr(info, want)) {
		fprintf(stderr, "FAIL: allocinfo lacks \"%s\":\n%s", want, info);
		exit(1);
	}
}

static int copy_line;

static char *copy_name(const char *s)
{
	copy_line = __LINE__; return strdup(s);
}

int main(void)
{
	char *a = malloc(100); int la = __LINE__;
	int *b = calloc(10, sizeof(int)); int lb = __LINE__;
	char *c = realloc(NULL, 5000); int lc = __LINE__;
	char *d = copy_name("override");
	char *e = strndup("abcdef", 3); int le = __LINE__;
	void *f = aligned_alloc(256, 256); int lf = __LINE__;
	void *g = NULL; int rc = posix_memalign(&g, 64, 1000); int lg = __LINE__;
	CHECK(a && b && c && d && e && f && g && rc == 0);
	CHECK_STREQ(d, "override");
	CHECK_STREQ(e, "abc");
	for (int i = 0; i < 10; i++)
		CHECK_EQ(b[i], 0);
	CHECK_EQ(malloc_usable_size(a), 112);

	read_allocinfo();
	expect(112, 1, la, "main");
	expect(48, 1, lb, "main");
	expect(5040, 1, lc, "main");
	expect(16, 1, copy_line, "copy_name");
	expect(16, 1, le, "main");
	expect(256, 1, lf, "main");
	expect(1024, 1, lg, "main");

	c = realloc(c, 100000); int lc2 = __LINE__; /* moves: charged here */
	CHECK(c);
	free(a);
	free(b);
	free(d);
	free(e);
	free(f);
	free(g);
	read_allocinfo();
	expect(0, 0, la, "main");
	expect(0, 0, lc, "main");
	expect(131072, 1, lc2, "main");
	free(c);
	read_allocinfo();
	expect(0, 0, lc2, "main");
	printf("ok\n");
	return 0;
}
