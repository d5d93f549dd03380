/* Tiny test helpers: CHECK prints the failing expression and exits 1. */
#ifndef AT_TEST_CHECK_H
#define AT_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                   \
	do {                                                                          \
		if (!(cond)) {                                                        \
			fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			exit(1);                                                      \
		}                                                                     \
	} while (0)

#define CHECK_EQ(a, b)                                                                     \
	do {                                                                               \
		long long _a = (long long)(a), _b = (long long)(b);                        \
		if (_a != _b) {                                                            \
			fprintf(stderr, "FAIL %s:%d: %s == %s (%lld != %lld)\n", __FILE__,    \
				__LINE__, #a, #b, _a, _b);                                 \
			exit(1);                                                           \
		}                                                                          \
	} while (0)

#define CHECK_STREQ(a, b)                                                                  \
	do {                                                                               \
		const char *_a = (a), *_b = (b);                                           \
		if (strcmp(_a, _b)) {                                                      \
			fprintf(stderr, "FAIL %s:%d: %s == %s\n--- got:\n%s\n--- want:\n%s\n", \
				__FILE__, __LINE__, #a, #b, _a, _b);                       \
			exit(1);                                                           \
		}                                                                          \
	} while (0)

#endif
