#define _GNU_SOURCE /* dl_iterate_phdr */
#include "core/control.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <elf.h>
#include <link.h>

#include "core/message.h"
#include "core/read_at.h"
#include "pages/page.h"

union at_modes at_modes = {.small_slow = AT_MODES_EARLY};
unsigned char at_secure_heap;
unsigned char alloctag_hooks_key = 1;
unsigned char alloctag_debug_key;

int at_secure_test = -1;

/*
 * The auxiliary vector the kernel put on the stack right after the
 * environment's terminating NULL, found by the constructor's pass over
 * environ (at_env_snapshot) when environ is still that array; NULL
 * otherwise.  Read here rather than by libc's getauxval, which the loader
 * would bind at every start (about 1,000 instructions, and a symbol
 * version) for the three entries start-up reads (AT_SECURE; AT_PHDR and
 * AT_PHNUM: core_tags.c).  The stack array is the kernel's as long as
 * nothing has removed an entry in place (unsetenv shifts the entries
 * down, leaving a second NULL where the walk then stops: an empty
 * vector), so it is taken only if its AT_PAGESZ is the page size and it
 * holds AT_SECURE (and the NULLs such removals leave are skipped: the
 * loader removes unsafe variables so in secure execution).  Without it (a
 * runtime loaded after start-up moved environ), or for an entry it lacks,
 * /proc/self/auxv is read (at_auxv_file), by system calls made here
 * (read_at.h); where that file cannot be read (a setuid process's is
 * root's), the main program's program headers are dl_iterate_phdr's.
 */
static const unsigned long *auxv;
/* Its entries start-up reads, taken in the one pass that checks it. */
static unsigned long aux_secure, aux_phdr, aux_phnum;

static const unsigned long *aux_find(const unsigned long *a, unsigned long type)
{
	for (unsigned int i = 0; i < 256 && a[0] != AT_NULL; i++, a += 2)
		if (a[0] == type)
			return a;
	return NULL;
}

/* The vector at a, if it is the kernel's (above), kept. */
static void aux_take(const unsigned long *a)
{
	unsigned long page = 0, secure = 0, phdr = 0, phnum = 0, have = 0;
	for (const unsigned long *v = a; v < a + 512 && v[0] != AT_NULL && have < 15; v += 2) {
		if (v[0] == AT_PAGESZ)
			page = v[1], have |= 1;
		else if (v[0] == AT_SECURE)
			secure = v[1], have |= 2;
		else if (v[0] == AT_PHDR)
			phdr = v[1], have |= 4;
		else if (v[0] == AT_PHNUM)
			phnum = v[1], have |= 8;
	}
	if (page != AT_PAGE_SIZE || !(have & 2))
		return;
	aux_secure = secure;
	aux_phdr = phdr;
	aux_phnum = phnum;
	AT_STORE(&auxv, a);
}

unsigned long at_auxv_file(unsigned long type, int *found)
{
	unsigned long v[128]; /* the kernel's vector is some 30 entries */
	int fd = at_open_rdonly("/proc/self/auxv");
	ssize_t n = fd < 0 ? -1 : at_pread_once(fd, v, sizeof(v), 0);
	if (fd >= 0)
		at_close(fd);
	for (ssize_t i = 0; i + 1 < n / (ssize_t)sizeof(long) && v[i] != AT_NULL; i += 2) {
		if (v[i] == type) {
			*found = 1;
			return v[i + 1];
		}
	}
	*found = 0;
	return 0;
}

/* dl_iterate_phdr's first object, the main program: its program headers
 * (AT_PHDR) or their number (AT_PHNUM) in *data. */
static int main_phdrs(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	unsigned long *v = data;
	v[1] = *v == AT_PHDR ? (unsigned long)(uintptr_t)info->dlpi_phdr : info->dlpi_phnum;
	return 1;
}

static unsigned long aux_file(unsigned long type)
{
	int found;
	unsigned long r = at_auxv_file(type, &found), v[2] = {type, 0};
	if (!found && (type == AT_PHDR || type == AT_PHNUM) && dl_iterate_phdr(main_phdrs, v))
		r = v[1];
	return r;
}

unsigned long at_auxval(unsigned long type)
{
	const unsigned long *a = AT_LOAD(&auxv);
	if (!a)
		return aux_file(type);
	if (type == AT_PHDR)
		return aux_phdr;
	if (type == AT_PHNUM)
		return aux_phnum;
	if (type == AT_SECURE)
		return aux_secure;
	return (a = aux_find(a, type)) ? a[1] : aux_file(type);
}

/* AT_SECURE cannot change while the process runs: read once. */
static signed char secure_aux = -1;

int at_secure(void)
{
	if (at_secure_test >= 0)
		return at_secure_test;
	int s = AT_LOAD_RELAXED(&secure_aux);
	if (s >= 0)
		return s;
	if (AT_LOAD(&auxv)) {
		s = aux_secure != 0;
	} else { /* not found (a vector that could not be read): secure */
		int found;
		s = at_auxv_file(AT_SECURE, &found) != 0 || !found;
	}
	AT_STORE_RELAXED(&secure_aux, (signed char)s);
	return s;
}

/* getenv's search over environ, without libc's getenv: start-up reads a
 * dozen variables, and calling it would have the loader bind it and page
 * in its text in every process. */
extern char **environ;

/*
 * Start-up's view of the environment: the entries of environ that begin
 * with "ALLOCTAG", found in one pass (at_env_snapshot), so that the dozen
 * reads start-up makes compare a handful of entries rather than walking the
 * whole environment a dozen times.  Taken and released by the constructor
 * (init.c), between which no other code runs to change the environment;
 * used only while environ is still the array it was taken from.  Otherwise,
 * and with more than AT_ENV_SNAP_MAX such entries, at_getenv walks environ.
 */
#define AT_ENV_SNAP_MAX 32
static struct {
	char **env; /* environ when taken; NULL: no snapshot */
	unsigned int n;
	const char *v[AT_ENV_SNAP_MAX];
} env_snap;

void at_env_snapshot(char **stack_env)
{
	char **e = environ;
	unsigned int n = 0;

	env_snap.env = NULL;
	if (!e)
		return;
	for (const char *v; (v = *e); e++) {
		if (v[0] != 'A' || v[1] != 'L' || v[2] != 'L' || v[3] != 'O' || v[4] != 'C' ||
		    v[5] != 'T' || v[6] != 'A' || v[7] != 'G')
			continue;
		if (n == AT_ENV_SNAP_MAX)
			n = AT_ENV_SNAP_MAX + 1; /* too many: at_getenv walks environ */
		else if (n < AT_ENV_SNAP_MAX)
			env_snap.v[n++] = v;
	}
	if (stack_env && environ == stack_env && !AT_LOAD_RELAXED(&auxv)) {
		/* past the NULLs of entries removed in place (the loader's
		 * unsetenv of unsafe variables in secure execution): the
		 * vector's first type is never 0 */
		while (!e[1])
			e++;
		aux_take((const unsigned long *)(void *)(e + 1));
	}
	if (n > AT_ENV_SNAP_MAX)
		return;
	env_snap.n = n;
	env_snap.env = environ;
}

void at_env_release(void)
{
	env_snap.env = NULL;
}

/* name's value in the entry v ("NAME=value"), or NULL */
static const char *env_match(const char *v, const char *name)
{
	const char *n = name;
	if (v[0] != n[0]) /* most variables: one byte */
		return NULL;
	do {
		v++;
		n++;
	} while (*n && *v == *n);
	return !*n && *v == '=' ? v + 1 : NULL;
}

const char *at_getenv(const char *name)
{
	if (at_secure())
		return NULL;
	char **e = environ;
	if (!e || !name[0])
		return NULL;
	const char *r;
	if (e == env_snap.env) {
		for (unsigned int i = 0; i < env_snap.n; i++)
			if ((r = env_match(env_snap.v[i], name)))
				return r;
		return NULL;
	}
	for (const char *v; (v = *e); e++)
		if ((r = env_match(v, name)))
			return r;
	return NULL;
}

/*
 * The parsers compare and convert by themselves, ASCII only (the words are
 * ASCII; start-up runs in the C locale anyway): libc's strcasecmp, strchr,
 * strlen, memcpy and strtoull would each cost every process that sets an
 * ALLOCTAG* variable a lazy binding by the loader (about 800 instructions
 * apiece).  The words are arrays of characters, not pointers: no
 * relocation for the loader to apply either.  No loop that only measures a
 * string: the compiler turns one into a call of strlen.
 */
/* The last byte of s (0 if s is empty) */
static char last_byte(const char *s)
{
	char c = 0;
	for (; *s; s++)
		c = *s;
	return c;
}

/* s, up to its end or the byte stop, is word (lower case), ignoring ASCII
 * case */
static int word_is(const char *s, char stop, const char *word)
{
	size_t i = 0;
	for (; word[i]; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		if (c != (unsigned char)word[i])
			return 0;
	}
	return !s[i] || s[i] == stop;
}

static int parse_bool_to(const char *s, char stop, int *val)
{
	static const char yes[][5] = {"1", "y", "yes", "t", "true", "on"};
	static const char no[][6] = {"0", "n", "no", "f", "false", "off"};
	for (size_t i = 0; i < AT_ARRAY_SIZE(yes); i++) {
		if (word_is(s, stop, yes[i])) {
			*val = 1;
			return 0;
		}
		if (word_is(s, stop, no[i])) {
			*val = 0;
			return 0;
		}
	}
	return -EINVAL;
}

int at_parse_bool(const char *s, int *val)
{
	return parse_bool_to(s, '\0', val);
}

int at_parse_alloctag(const char *s, int *mode, int *compressed)
{
	size_t n = 0;
	int m, c = 1;

	while (s[n] && s[n] != ',')
		n++;
	if (n == 0 || n >= 16)
		return -EINVAL;
	if (word_is(s, ',', "never"))
		m = -1;
	else if (parse_bool_to(s, ',', &m))
		return -EINVAL;
	if (s[n] == ',') {
		if (word_is(s + n + 1, '\0', "compressed"))
			c = 1;
		else if (word_is(s + n + 1, '\0', "uncompressed"))
			c = 0;
		else
			return -EINVAL;
	}
	*mode = m;
	*compressed = c;
	return 0;
}

int at_parse_size(const char *s, size_t *val)
{
	unsigned long long v = 0;
	const char *end = s;
	if (*s < '0' || *s > '9') /* no sign, no space */
		return -EINVAL;
	for (; *end >= '0' && *end <= '9'; end++) {
		unsigned int d = (unsigned int)(*end - '0');
		if (v > (~0ull - d) / 10)
			return -EINVAL; /* overflows */
		v = v * 10 + d;
	}
	unsigned int shift = 0;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	}
	if (*end || v > (~0ull >> shift))
		return -EINVAL;
	*val = (size_t)(v << shift);
	return 0;
}

/*
 * A value as messages show it: printable ASCII as it is, every other byte
 * (newlines, escapes, UTF-8) as \xNN, and '"' and '\\' escaped, cut at
 * 64 bytes with "..." - so that a hostile value cannot forge or garble lines
 * of stderr.
 */
const char *at_quote(const char *s, char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, i = 0;
	for (; s[i] && i < 64; i++) {
		unsigned char c = (unsigned char)s[i];
		if (o + 5 >= len)
			break;
		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			buf[o++] = (char)c;
		} else if (c == '"' || c == '\\') {
			buf[o++] = '\\';
			buf[o++] = (char)c;
		} else {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		}
	}
	if (s[i] && o + 4 < len) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = 0;
	return buf;
}

void at_config_read(struct at_config *cfg)
{
	const char *s;
	char q[300];

	cfg->mode = 1;
	cfg->compressed = 1;
	cfg->tag_bits_cap = 0;
	cfg->debug = 0;
	cfg->heap_max = 0;
	cfg->secure = 0;
	cfg->depth = 0;
	cfg->wrappers = NULL;

	if ((s = at_getenv("ALLOCTAG")) && at_parse_alloctag(s, &cfg->mode, &cfg->compressed))
		at_msg("ignoring ALLOCTAG=\"%s\": expected 0, 1 or never, optionally followed by "
		       ",compressed or ,uncompressed (booleans: 1/0 y/n yes/no on/off true/false); "
		       "using 1,compressed", at_quote(s, q, sizeof(q)));
	if ((s = at_getenv("ALLOCTAG_TAG_BITS"))) {
		size_t v;
		if (at_parse_size(s, &v) || v < 1 || v > AT_NR_SPARE_BITS || last_byte(s) > '9')
			at_msg("ignoring ALLOCTAG_TAG_BITS=\"%s\": expected a number of bits from 1 to %d",
			       at_quote(s, q, sizeof(q)), AT_NR_SPARE_BITS);
		else
			cfg->tag_bits_cap = (unsigned int)v;
	}
	if ((s = at_getenv("ALLOCTAG_DEBUG")) && at_parse_bool(s, &cfg->debug))
		at_msg("ignoring ALLOCTAG_DEBUG=\"%s\": expected 1 or 0 (or y/n, yes/no, on/off, "
		       "true/false); debug checks stay off", at_quote(s, q, sizeof(q)));
	if ((s = at_getenv("ALLOCTAG_DEPTH"))) {
		size_t v;
		if (at_parse_size(s, &v) || v < 1 || v > AT_DEPTH_MAX || last_byte(s) > '9')
			at_msg("ignoring ALLOCTAG_DEPTH=\"%s\": expected a number of frames from 1 to %u; "
			       "using %u", at_quote(s, q, sizeof(q)), AT_DEPTH_MAX, AT_DEPTH_DEFAULT);
		else
			cfg->depth = (unsigned int)v;
	}
	/* checked where the patterns are compiled (startup/init.c, sites/site_names.c) */
	cfg->wrappers = at_getenv("ALLOCTAG_WRAPPERS");
	if ((s = at_getenv("ALLOCTAG_HEAP_MAX")) && (at_parse_size(s, &cfg->heap_max) || !cfg->heap_max)) {
		cfg->heap_max = 0;
		at_msg("ignoring ALLOCTAG_HEAP_MAX=\"%s\": expected a positive size in bytes, "
		       "optionally with K, M or G; the heap is not capped", at_quote(s, q, sizeof(q)));
	}
	if ((s = at_getenv("ALLOCTAG_SECURE"))) {
		if (s[0] >= '0' && s[0] <= '2' && !s[1])
			cfg->secure = s[0] - '0';
		else
			at_msg("ignoring ALLOCTAG_SECURE=\"%s\": expected 0, 1 (canaries, "
			       "neighbour checks, guard pages) or 2 (also poison and quarantine); "
			       "the stricter heap stays off", at_quote(s, q, sizeof(q)));
	}
}
