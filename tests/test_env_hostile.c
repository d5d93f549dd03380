/*
 * A hostile ALLOCTAG* value cannot forge or garble stderr lines: the message
 * shows it escaped (control bytes and non-ASCII as \xNN, quotes and
 * backslashes escaped) and cut at 64 bytes, on exactly one line.  Sizes are
 * digits and a suffix only: no white space or sign that strtoull would
 * take (" -1" would be 2^64 - 1, found by fuzz/fuzz_size_env.c).
 */
#include <alloctag.h>
#include <errno.h>

#include "check.h"
#include "child.h"
#include "core/control.h"

#define ENV(...) ((const char *const[]){__VA_ARGS__, NULL})

static void expect_err(const char *const *env, const char *err)
{
	static const char *const args[] = {"--child", NULL};
	struct child_result r;
	run_child(&r, env, args);
	CHECK(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
	CHECK_STREQ(r.out, "profiling=1\n");
	CHECK_STREQ(r.err, err);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--child")) {
		printf("profiling=%d\n", alloctag_profiling());
		return 0;
	}
	size_t v = 7;
	CHECK(at_parse_size("\n\n-1", &v) == -EINVAL);
	CHECK(at_parse_size(" -1", &v) == -EINVAL);
	CHECK(at_parse_size(" 1", &v) == -EINVAL);
	CHECK(at_parse_size("+5", &v) == -EINVAL);
	CHECK_EQ(v, 7);
	CHECK(at_parse_size("5K", &v) == 0);
	CHECK_EQ(v, 5120);
	char q[300];
	CHECK_STREQ(at_quote("on", q, sizeof(q)), "on");
	CHECK_STREQ(at_quote("a\nb\"c\\d\x1b\xc3\xa9", q, sizeof(q)), "a\\x0ab\\\"c\\\\d\\x1b\\xc3\\xa9");
	CHECK_STREQ(at_quote("0123456789012345678901234567890123456789012345678901234567890123456789",
			     q, sizeof(q)),
		    "0123456789012345678901234567890123456789012345678901234567890123...");
	CHECK_STREQ(at_quote("\n\n\n\n\n\n\n\n\n\n", q, 16), "\\x0a\\x0a\\x0a");
	expect_err(ENV("ALLOCTAG=1\nalloctag: all is well"),
		   "alloctag: ignoring ALLOCTAG=\"1\\x0aalloctag: all is well\": expected 0, 1 or "
		   "never, optionally followed by ,compressed or ,uncompressed (booleans: 1/0 y/n "
		   "yes/no on/off true/false); using 1,compressed\n");
	expect_err(ENV("ALLOCTAG_DEBUG=\r\x1b[2Kok"),
		   "alloctag: ignoring ALLOCTAG_DEBUG=\"\\x0d\\x1b[2Kok\": expected 1 or 0 (or y/n, "
		   "yes/no, on/off, true/false); debug checks stay off\n");
	printf("ok\n");
	return 0;
}
