/*
 * Reading an allocinfo 2.0 text (the kernel's /proc/allocinfo, or
 * alloctag's) as a profile of tags only, so that `alloctag diff` compares
 * either kind of snapshot.  Each line "%12lli %8llu file:line [module]
 * func:name[ key:value...] " becomes a tag (module NULL without brackets).
 * Errors as profile_read's: one line naming the file and line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/common.h"
#include "profile.h"

int profile_parse_allocinfo(const char *name, const char *text, size_t len, struct profile *p)
{
	static const char h1[] = "allocinfo - version: 2.0\n";
	size_t cap = 0;
	unsigned long lineno = 1;
	memset(p, 0, sizeof(*p));
	p->pid = -1;
	p->path = xstrdup(name);
	if (len < sizeof(h1) - 1 || memcmp(text, h1, sizeof(h1) - 1) != 0) {
		tool_msg("%s: not an allocinfo 2.0 text", name);
		goto bad;
	}
	for (size_t pos = sizeof(h1) - 1; pos < len;) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		lineno++;
		if (!nl) {
			tool_msg("%s: line %lu: truncated (the last line has no end)", name, lineno);
			goto bad;
		}
		char *line = xstrndup(text + pos, (size_t)(nl - text - pos));
		pos = (size_t)(nl - text) + 1;
		if (line[0] == '#') { /* the column header */
			free(line);
			continue;
		}
		long long bytes;
		unsigned long long calls;
		int off = 0;
		struct prof_tag t = {0};
		char *rest = NULL;
		if (sscanf(line, "%lld %llu %n", &bytes, &calls, &off) != 2 || !off || !line[off])
			goto malformed;
		rest = line + off;
		size_t rl = strlen(rest);
		if (rl && rest[rl - 1] == ' ')
			rest[--rl] = '\0';
		char *br = strstr(rest, " [");
		char *fn = strstr(rest, " func:");
		if (br && fn && br < fn && fn[-1] == ']') { /* "file:line [module] func:name" */
			t.module = xstrndup(br + 2, (size_t)(fn - 1 - (br + 2)));
			memmove(br, fn, strlen(fn) + 1);
		}
		if (profile_parse_tag_name(rest, &t)) {
			free(t.module);
			goto malformed;
		}
		t.live_bytes = bytes;
		t.live_calls = (int64_t)calls;
		GROW(p->tags, cap, p->nr_tags + 1);
		p->tags[p->nr_tags++] = t;
		free(line);
		continue;
malformed:
		free(line);
		tool_msg("%s: line %lu: malformed allocinfo line (expected <size> <calls> "
			 "file:line func:name)",
			 name, lineno);
		goto bad;
	}
	return 0;
bad:
	profile_free(p);
	return -1;
}

int profile_read_any(const char *path, struct profile *p)
{
	size_t len;
	char *buf = profile_slurp(path, &len);
	if (!buf)
		return -1;
	int rc = len >= 9 && memcmp(buf, "allocinfo", 9) == 0
			 ? profile_parse_allocinfo(path, buf, len, p)
			 : profile_parse(path, buf, len, p);
	free(buf);
	return rc;
}
