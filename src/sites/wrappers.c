/*
 * Wrapper patterns and their index by first byte (wrappers.h).
 */
#include "sites/wrappers.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "sites/site_names.h"

/* The first c in s[0 .. n), or NULL; with n SIZE_MAX, up to s's end (no
 * libc string function: see site_names.c). */
static const char *name_chr(const char *s, char c, size_t n)
{
	for (size_t i = 0; i < n && s[i]; i++)
		if (s[i] == c)
			return s + i;
	return NULL;
}

/* The user's list: "" until at_set_wrappers copies one into user_store
 * (a program without one reads no byte of user_store's page). */
AT_BIG_BSS static char user_store[4096];
static const char *user_wrappers = "";

/* the literal itself, not an array of its own (aligned to 32 bytes, it
 * would move the read-only data that follows) */
#define builtin_wrappers AT_BUILTIN_WRAPPERS
_Static_assert(sizeof(AT_BUILTIN_WRAPPERS) < (1u << 15), "an offset fits bits 16-30");

int at_glob_match(const char *pat, size_t plen, const char *s)
{
	const char *pe = pat + plen;
	while (pat < pe) {
		char c = *pat++;
		if (c == '*') {
			for (;;) {
				if (at_glob_match(pat, (size_t)(pe - pat), s))
					return 1;
				if (!*s)
					return 0;
				s++;
			}
		}
		if (!*s)
			return 0;
		if (c == '[') {
			int neg = pat < pe && (*pat == '!' || *pat == '^'), hit = 0;
			const char *q = pat + neg;
			const char *close = q < pe ? name_chr(q + 1, ']', (size_t)(pe - q - 1)) : NULL;
			if (!close) { /* no closing bracket: a plain '[' */
				if (*s != '[')
					return 0;
				s++;
				continue;
			}
			for (; q < close; q++) {
				if (q + 2 < close && q[1] == '-') {
					if (*s >= q[0] && *s <= q[2])
						hit = 1;
					q += 2;
				} else if (*q == *s) {
					hit = 1;
				}
			}
			if (hit == neg)
				return 0;
			pat = close + 1;
			s++;
			continue;
		}
		if (c != '?' && c != *s)
			return 0;
		s++;
	}
	return !*s;
}

/* The length of list's first pattern. */
static size_t pattern_len(const char *list)
{
	const char *comma = name_chr(list, ',', SIZE_MAX);
	if (comma)
		return (size_t)(comma - list);
	size_t n = 0;
	while (list[n])
		n++;
	return n;
}

int at_wrapper_list_match(const char *list, const char *name)
{
	while (*list) {
		size_t n = pattern_len(list);
		/* a pattern starting with a plain character that name does not
		 * start with cannot match */
		char c = list[0];
		if (n && (c == *name || c == '*' || c == '?' || c == '[') &&
		    at_glob_match(list, n, name))
			return 1;
		list += n + (list[n] == ',');
	}
	return 0;
}

int at_set_wrappers(const char *s)
{
	size_t n = strlen(s);
	if (!n || n >= sizeof(user_store))
		return -EINVAL;
	for (const char *p = s;; p++) { /* no empty pattern */
		if ((*p == ',' || !*p) && (p == s || p[-1] == ','))
			return -EINVAL;
		if (!*p)
			break;
	}
	memcpy(user_store, s, n + 1);
	user_wrappers = user_store;
	return 0;
}

/* ---- the index ------------------------------------------------------- */

#define WILD 256u /* the bucket of the patterns starting with a wildcard */
#define PAT_USER 0x80000000u

struct wrapper_index {
	uint16_t head[WILD + 2];
	uint32_t pats[];
};

static struct wrapper_index *windex;

static unsigned int bucket_of(char c)
{
	return c == '*' || c == '?' || c == '[' ? WILD : (unsigned char)c;
}

/* The patterns of list (PAT_USER or 0 in user): counted (x NULL), else
 * counted in x's buckets (count: head[c + 1] the count of bucket c), else
 * stored at their buckets' next places (head[c] bucket c's next). */
static size_t each_pattern(const char *list, uint32_t user, struct wrapper_index *x, int count)
{
	size_t k = 0;
	for (const char *p = list; *p;) {
		size_t n = pattern_len(p);
		if (n) {
			unsigned int b = bucket_of(*p);
			if (x && count)
				x->head[b + 1]++;
			else if (x)
				x->pats[x->head[b]++] = user | (uint32_t)(p - list) << 16 | (uint32_t)n;
			k++;
		}
		p += n + (p[n] == ',');
	}
	return k;
}

/* The index of both lists, published; NULL without memory.  Counted,
 * then placed bucket by bucket with head[] as the cursors (nothing on the
 * stack: a chain's first frame builds it). */
static AT_NOINLINE struct wrapper_index *index_build(void)
{
	size_t n = each_pattern(builtin_wrappers, 0, NULL, 0) +
		   each_pattern(user_wrappers, PAT_USER, NULL, 0);
	struct wrapper_index *x = at_sites_pool_alloc(sizeof(*x) + n * sizeof(x->pats[0]));
	if (!x)
		return NULL;
	each_pattern(builtin_wrappers, 0, x, 1);
	each_pattern(user_wrappers, PAT_USER, x, 1);
	for (unsigned int b = 1; b <= WILD + 1; b++) /* bucket starts */
		x->head[b] = (uint16_t)(x->head[b] + x->head[b - 1]);
	each_pattern(builtin_wrappers, 0, x, 0);
	each_pattern(user_wrappers, PAT_USER, x, 0);
	for (unsigned int b = WILD + 1; b > 0; b--) /* each cursor at its bucket's end */
		x->head[b] = x->head[b - 1];
	x->head[0] = 0;
	struct wrapper_index *none = NULL; /* a racing thread's is the same */
	if (!__atomic_compare_exchange_n(&windex, &none, x, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return none;
	return x;
}

static int bucket_match(const struct wrapper_index *x, unsigned int b, const char *sym)
{
	for (unsigned int i = x->head[b]; i < x->head[b + 1]; i++) {
		uint32_t w = x->pats[i];
		const char *list = w & PAT_USER ? user_wrappers : builtin_wrappers;
		if (at_glob_match(list + (w >> 16 & 0x7fff), w & 0xffff, sym))
			return 1;
	}
	return 0;
}

int at_is_wrapper(const char *sym)
{
	if (!sym)
		return 0;
	struct wrapper_index *x = AT_LOAD(&windex);
	if (!x && !(x = index_build()))
		return at_wrapper_list_match(builtin_wrappers, sym) ||
		       at_wrapper_list_match(user_wrappers, sym);
	return (*sym && bucket_match(x, (unsigned char)*sym, sym)) || bucket_match(x, WILD, sym);
}
