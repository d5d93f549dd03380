/* ALLOCTAG* environment variables: every accepted form, bad values and their messages. */
#include <alloctag.h>
#include <errno.h>

#include "check.h"
#include "child.h"
#include "core/control.h"

static void accepted(const char *s, int mode, int compressed)
{
	int m = 99, c = 99;
	if (at_parse_alloctag(s, &m, &c)) {
		fprintf(stderr, "FAIL: ALLOCTAG=\"%s\" refused\n", s);
		exit(1);
	}
	if (m != mode || c != compressed) {
		fprintf(stderr, "FAIL: ALLOCTAG=\"%s\" gave mode %d compressed %d\n", s, m, c);
		exit(1);
	}
}

static void refused(const char *s)
{
	int m = 99, c = 99;
	if (!at_parse_alloctag(s, &m, &c) || m != 99 || c != 99) {
		fprintf(stderr, "FAIL: ALLOCTAG=\"%s\" accepted\n", s);
		exit(1);
	}
}

static void state_child(void)
{
	int before = alloctag_profiling();
	int set = alloctag_set_profiling(true);
	printf("profiling=%d compressed=%d set_on=%d on=%d tag_bits=%u\n", before,
	       alloctag_compressed(), set, alloctag_profiling(), alloctag_tag_bits());
}

static void expect_args(const char *const *args, const char *const *env, const char *out,
			const char *err)
{
	struct child_result r;
	run_child(&r, env, args);
	CHECK(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
	CHECK_STREQ(r.out, out);
	CHECK_STREQ(r.err, err);
}

static void expect(const char *const *env, const char *out, const char *err)
{
	static const char *const args[] = {"--state", NULL};
	expect_args(args, env, out, err);
}

/* The stricter heap's level the runtime took from ALLOCTAG_SECURE. */
static void expect_secure(const char *const *env, const char *out, const char *err)
{
	static const char *const args[] = {"--secure", NULL};
	expect_args(args, env, out, err);
}

#define ENV(...) ((const char *const[]){__VA_ARGS__, NULL})

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--state")) {
		state_child();
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "--secure")) {
		free(malloc(1)); /* started up */
		printf("secure heap=%u\n", (unsigned int)at_secure_heap);
		return 0;
	}

	const char *on[] = {"1", "y", "Y", "yes", "YES", "t", "true", "on", "On"};
	const char *off[] = {"0", "n", "N", "no", "f", "false", "off", "OFF"};
	for (size_t i = 0; i < sizeof(on) / sizeof(*on); i++)
		accepted(on[i], 1, 1);
	for (size_t i = 0; i < sizeof(off) / sizeof(*off); i++)
		accepted(off[i], 0, 1);
	accepted("never", -1, 1);
	accepted("1,compressed", 1, 1);
	accepted("1,uncompressed", 0 + 1, 0);
	accepted("0,compressed", 0, 1);
	accepted("0,uncompressed", 0, 0);
	accepted("on,uncompressed", 1, 0);
	accepted("never,uncompressed", -1, 0);
	const char *bad[] = {"", "2", "-1", "maybe", "nev", "never2", "1,", ",compressed",
			     "1,compress", "1,compressed,x", "1 ", " 1", "yes please", "onn",
			     "1,COMPRESSEDX"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		refused(bad[i]);
	/* Case folded by the parser itself (ASCII), over the whole word only. */
	accepted("NeVeR,UnCompressed", -1, 0);
	accepted("TRUE,COMPRESSED", 1, 1);
	accepted("fAlSe", 0, 1);
	const char *bad2[] = {"never,", "yess", "truex", "of", "never,uncompressed,", "ye",
			      "nevernevernevernever", "\xc3\xbf", "1,compressed\n"};
	for (size_t i = 0; i < sizeof(bad2) / sizeof(*bad2); i++)
		refused(bad2[i]);
	int b = 7;
	CHECK(at_parse_bool("Off", &b) == 0 && b == 0);
	CHECK(at_parse_bool("oN", &b) == 0 && b == 1);
	CHECK(at_parse_bool("onx", &b) == -EINVAL && b == 1);
	CHECK(at_parse_bool("", &b) == -EINVAL);

	size_t sz;
	CHECK(at_parse_size("4096", &sz) == 0 && sz == 4096);
	CHECK(at_parse_size("4K", &sz) == 0 && sz == 4096);
	CHECK(at_parse_size("3m", &sz) == 0 && sz == 3u << 20);
	CHECK(at_parse_size("2G", &sz) == 0 && sz == 2ull << 30);
	CHECK(at_parse_size("", &sz) == -EINVAL);
	CHECK(at_parse_size("-4", &sz) == -EINVAL);
	CHECK(at_parse_size("4KB", &sz) == -EINVAL);
	CHECK(at_parse_size("99999999999999999999", &sz) == -EINVAL);
	/* The largest value, one more, and suffixes that overflow. */
	CHECK(at_parse_size("18446744073709551615", &sz) == 0 && sz == ~(size_t)0);
	CHECK(at_parse_size("18446744073709551616", &sz) == -EINVAL);
	CHECK(at_parse_size("17179869183G", &sz) == 0 && sz == 17179869183ull << 30);
	CHECK(at_parse_size("17179869184G", &sz) == -EINVAL);
	CHECK(at_parse_size(" 4", &sz) == -EINVAL);
	CHECK(at_parse_size("+4", &sz) == -EINVAL);
	CHECK(at_parse_size("4 ", &sz) == -EINVAL);
	CHECK(at_parse_size("007k", &sz) == 0 && sz == 7 << 10);

	/* The process-level behaviour, in child processes. */
	expect(ENV("ALLOCTAG"), "profiling=1 compressed=1 set_on=0 on=1 tag_bits=20\n", "");
	expect(ENV("ALLOCTAG=1"), "profiling=1 compressed=1 set_on=0 on=1 tag_bits=20\n", "");
	expect(ENV("ALLOCTAG=0"), "profiling=0 compressed=1 set_on=0 on=1 tag_bits=20\n", "");
	expect(ENV("ALLOCTAG=off,uncompressed"), "profiling=0 compressed=0 set_on=0 on=1 tag_bits=0\n", "");
	expect(ENV("ALLOCTAG=yes,uncompressed"), "profiling=1 compressed=0 set_on=0 on=1 tag_bits=0\n", "");
	expect(ENV("ALLOCTAG=never"), "profiling=0 compressed=0 set_on=-1 on=0 tag_bits=0\n", "");
	expect(ENV("ALLOCTAG=2"), "profiling=1 compressed=1 set_on=0 on=1 tag_bits=20\n",
	       "alloctag: ignoring ALLOCTAG=\"2\": expected 0, 1 or never, optionally followed by "
	       ",compressed or ,uncompressed (booleans: 1/0 y/n yes/no on/off true/false); "
	       "using 1,compressed\n");
	expect(ENV("ALLOCTAG=1,zipped"), "profiling=1 compressed=1 set_on=0 on=1 tag_bits=20\n",
	       "alloctag: ignoring ALLOCTAG=\"1,zipped\": expected 0, 1 or never, optionally followed by "
	       ",compressed or ,uncompressed (booleans: 1/0 y/n yes/no on/off true/false); "
	       "using 1,compressed\n");
	expect(ENV("ALLOCTAG_TAG_BITS=8"), "profiling=1 compressed=1 set_on=0 on=1 tag_bits=8\n", "");
	expect(ENV("ALLOCTAG_TAG_BITS=lots"), "profiling=1 compressed=1 set_on=0 on=1 tag_bits=20\n",
	       "alloctag: ignoring ALLOCTAG_TAG_BITS=\"lots\": expected a number of bits from 1 to 37\n");
	expect(ENV("ALLOCTAG_TAG_BITS=0"), "profiling=1 compressed=1 set_on=0 on=1 tag_bits=20\n",
	       "alloctag: ignoring ALLOCTAG_TAG_BITS=\"0\": expected a number of bits from 1 to 37\n");
	expect(ENV("ALLOCTAG_TAG_BITS=38"), "profiling=1 compressed=1 set_on=0 on=1 tag_bits=20\n",
	       "alloctag: ignoring ALLOCTAG_TAG_BITS=\"38\": expected a number of bits from 1 to 37\n");
	expect(ENV("ALLOCTAG_TAG_BITS=4K"), "profiling=1 compressed=1 set_on=0 on=1 tag_bits=20\n",
	       "alloctag: ignoring ALLOCTAG_TAG_BITS=\"4K\": expected a number of bits from 1 to 37\n");
	expect(ENV("ALLOCTAG_DEBUG=maybe"), "profiling=1 compressed=1 set_on=0 on=1 tag_bits=20\n",
	       "alloctag: ignoring ALLOCTAG_DEBUG=\"maybe\": expected 1 or 0 (or y/n, yes/no, on/off, "
	       "true/false); debug checks stay off\n");
	expect(ENV("ALLOCTAG_HEAP_MAX=12Q"), "profiling=1 compressed=1 set_on=0 on=1 tag_bits=20\n",
	       "alloctag: ignoring ALLOCTAG_HEAP_MAX=\"12Q\": expected a positive size in bytes, "
	       "optionally with K, M or G; the heap is not capped\n");
	expect_secure(ENV("ALLOCTAG=1"), "secure heap=0\n", "");
	expect_secure(ENV("ALLOCTAG_SECURE=0"), "secure heap=0\n", "");
	expect_secure(ENV("ALLOCTAG_SECURE=1"), "secure heap=1\n", "");
	expect_secure(ENV("ALLOCTAG_SECURE=2"), "secure heap=2\n", "");
	const char *bad_levels[] = {"3", "yes", "12", "", "-1", "1 "};
	for (size_t i = 0; i < sizeof(bad_levels) / sizeof(*bad_levels); i++) {
		char env[64], err[256];
		snprintf(env, sizeof(env), "ALLOCTAG_SECURE=%s", bad_levels[i]);
		snprintf(err, sizeof(err),
			 "alloctag: ignoring ALLOCTAG_SECURE=\"%s\": expected 0, 1 (canaries, "
			 "neighbour checks, guard pages) or 2 (also poison and quarantine); "
			 "the stricter heap stays off\n", bad_levels[i]);
		expect_secure(ENV(env), "secure heap=0\n", err);
	}
	/* two bad values: one line each, nothing else */
	expect(ENV("ALLOCTAG=", "ALLOCTAG_TAG_BITS=-3"),
	       "profiling=1 compressed=1 set_on=0 on=1 tag_bits=20\n",
	       "alloctag: ignoring ALLOCTAG=\"\": expected 0, 1 or never, optionally followed by "
	       ",compressed or ,uncompressed (booleans: 1/0 y/n yes/no on/off true/false); "
	       "using 1,compressed\n"
	       "alloctag: ignoring ALLOCTAG_TAG_BITS=\"-3\": expected a number of bits from 1 to 37\n");
	return 0;
}
