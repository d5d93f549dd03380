/*
 * What every part of the alloctag command shares: messages ("alloctag: "
 * on stderr, one line each), allocation that cannot fail (out of memory
 * ends the command with one line, exit status 1), growable arrays and
 * string building.
 */
#ifndef ALLOCTAG_TOOL_COMMON_H
#define ALLOCTAG_TOOL_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Print one line "alloctag: <text>" to stderr. */
void tool_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same, then exit with status `status`. */
void tool_die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Grow array *p (of *cap elements of size sz) to hold at least n. */
void grow(void *pp, size_t *cap, size_t n, size_t sz);
#define GROW(arr, cap, n) grow(&(arr), &(cap), (n), sizeof(*(arr)))

/* a + b and a - b, clamped to the int64_t range (counters of a corrupt or
 * hostile profile must not overflow). */
static inline int64_t sat_add(int64_t a, int64_t b)
{
	int64_t r;
	return __builtin_add_overflow(a, b, &r) ? (b > 0 ? INT64_MAX : INT64_MIN) : r;
}
static inline int64_t sat_sub(int64_t a, int64_t b)
{
	int64_t r;
	return __builtin_sub_overflow(a, b, &r) ? (b < 0 ? INT64_MAX : INT64_MIN) : r;
}

/* Human size: "512 B", "1.5 KiB", "3.2 MiB", "-4.0 GiB" into buf. */
const char *human_bytes(int64_t v, char *buf, size_t len);

#endif
