/*
 * The wrapper decision (src/sites/wrappers.h): at_is_wrapper, through the
 * index of the patterns by first byte, answers as the scan of both
 * pattern lists does, on names made from every pattern of the lists
 * (the pattern, its wildcards filled, cut short, lengthened, its first
 * byte changed) and on 200,000 random names over the bytes the patterns
 * use, with the user's list of ALLOCTAG_WRAPPERS (set by the test's
 * environment: globs of each kind, a lone '[', a pattern starting with a
 * wildcard); the numbers of wrapper names are exact.
 */
#include <stdint.h>

#include "check.h"
#include "sites/site_names.h"
#include "startup/init.h"

static const char *user_list;
static long asked, wrappers;

static void ask(const char *name)
{
	int scan = at_wrapper_list_match(AT_BUILTIN_WRAPPERS, name) ||
		   at_wrapper_list_match(user_list, name);
	if (at_is_wrapper(name) != scan) {
		fprintf(stderr, "FAIL: \"%s\": the index says %d, the lists %d\n", name,
			at_is_wrapper(name), scan);
		exit(1);
	}
	asked++;
	wrappers += scan;
}

/* Names made from each pattern of list. */
static void from_patterns(const char *list)
{
	char pat[256], name[300];
	while (*list) {
		size_t n = 0;
		while (list[n] && list[n] != ',')
			n++;
		CHECK(n < sizeof(pat));
		memcpy(pat, list, n);
		pat[n] = '\0';
		list += n + (list[n] == ',');
		ask(pat);
		const char *fills[] = {"", "a", "xyz", "_Z", "[", "!"};
		for (size_t f = 0; f < sizeof(fills) / sizeof(fills[0]); f++) {
			size_t k = 0; /* each wildcard and bracket filled with fills[f] */
			for (const char *p = pat; *p && k + 8 < sizeof(name); p++) {
				if (*p == '*' || *p == '?') {
					for (const char *q = fills[f]; *q; q++)
						name[k++] = *q;
				} else if (*p == '[' && strchr(p, ']')) {
					const char *c = p + 1 + (p[1] == '!' || p[1] == '^');
					name[k++] = f & 1 ? *c : 'z';
					p = strchr(p, ']');
				} else {
					name[k++] = *p;
				}
			}
			name[k] = '\0';
			ask(name);
			if (k > 1) {
				name[k - 1] = '\0'; /* cut short */
				ask(name);
			}
			name[0] = (char)(name[0] + 1); /* another first byte */
			ask(name);
		}
		snprintf(name, sizeof(name), "%sq", pat); /* lengthened */
		ask(name);
	}
}

int main(void)
{
	user_list = getenv("ALLOCTAG_WRAPPERS");
	CHECK(user_list != NULL);
	alloctag_init();
	ask("");
	ask("x");
	CHECK(!at_is_wrapper(NULL));
	from_patterns(AT_BUILTIN_WRAPPERS);
	from_patterns(user_list);
	long pattern_names = asked, pattern_wrappers = wrappers;
	static const char bytes[] = "_xgPsZNSaKt9[!]?*-pol_reacmyC1";
	uint64_t r = 0x9E3779B97F4A7C15ull;
	char name[16];
	for (int i = 0; i < 200000; i++) {
		r ^= r << 13, r ^= r >> 7, r ^= r << 17;
		size_t n = (size_t)(r % 13);
		for (size_t k = 0; k < n; k++)
			name[k] = bytes[(r >> (4 + 4 * k)) % (sizeof(bytes) - 1)];
		name[n] = '\0';
		ask(name);
	}
	CHECK_EQ(pattern_names, 1696);
	CHECK_EQ(pattern_wrappers, 801);
	CHECK_EQ(asked, 201696);
	CHECK_EQ(wrappers, 6340);
	printf("names %ld (from patterns %ld), wrappers %ld (from patterns %ld)\n", asked,
	       pattern_names, wrappers, pattern_wrappers);
	return 0;
}
