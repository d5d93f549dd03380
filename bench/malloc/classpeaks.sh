#!/usr/bin/env bash
# Where a small program's slab pages go, from its own allocations: CMD runs
# under glibc with a preloaded recorder of every malloc, calloc, realloc and
# free (sizes up to 16 KiB, every process of CMD, threads included), and
# the trace is replayed against alloctag's size classes (read from
# src/objects/slab.c and slab.h):
#
#   bench/malloc/classpeaks.sh CMD [ARG...]
#
# Printed per size class: the most objects live at once, the KiB a slab of
# the class touches for them (packed from the slab's start, a page at
# least), and the objects allocated in all; then the totals: the sum over
# classes of what each class's slabs touch (a segregated heap: each class
# keeps its own pages) against the peak of the same requests pooled in one
# heap (glibc's best case: freed bytes reused by any size), both rounded to
# the classes' sizes; and, for the cold classes (from AT_COLD_SIZE: their
# first AT_COLD_MAX objects from the page allocator, slab.h), what their
# slabs would touch against the pooled peak of their objects in whole pages.
# A load-insensitive figure: the same trace gives the same numbers.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$HERE/../../src/objects
[ $# -ge 1 ] || { echo "usage: classpeaks.sh CMD [ARG...]" >&2; exit 2; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cat >"$W/rec.c" <<'C'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
static void *(*r_malloc)(size_t), *(*r_calloc)(size_t, size_t), *(*r_realloc)(void *, size_t);
static void (*r_free)(void *);
static int fd = -1;
static __thread int busy;
static char boot[1 << 14]; /* dlsym's own calloc, before r_calloc is known */
static size_t boot_used;
static void rec(char k, size_t n, void *p)
{
	if (busy || fd < 0 || (k != 'F' && n > 16384))
		return;
	busy = 1;
	char line[64];
	int len = snprintf(line, sizeof(line), "%c %zu %p\n", k, n, p);
	(void)!write(fd, line, (size_t)len); /* O_APPEND: one line, whole */
	busy = 0;
}
__attribute__((constructor)) static void init(void)
{
	const char *o = getenv("CLASSPEAKS_OUT");
	r_malloc = dlsym(RTLD_NEXT, "malloc");
	r_calloc = dlsym(RTLD_NEXT, "calloc");
	r_realloc = dlsym(RTLD_NEXT, "realloc");
	r_free = dlsym(RTLD_NEXT, "free");
	if (o)
		fd = open(o, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
}
void *malloc(size_t n)
{
	if (!r_malloc)
		init();
	void *p = r_malloc(n);
	if (p)
		rec('M', n, p);
	return p;
}
void *calloc(size_t a, size_t b)
{
	if (!r_calloc) {
		void *p = boot + boot_used;
		boot_used += (a * b + 15) & ~(size_t)15;
		return boot_used <= sizeof(boot) ? p : NULL;
	}
	void *p = r_calloc(a, b);
	if (p)
		rec('M', a * b, p);
	return p;
}
void *realloc(void *o, size_t n)
{
	if (!r_realloc)
		init();
	void *p = r_realloc(o, n);
	if (p || !n) {
		if (o)
			rec('F', 0, o);
		if (p)
			rec('M', n, p);
	}
	return p;
}
void free(void *p)
{
	if ((char *)p >= boot && (char *)p < boot + sizeof(boot))
		return;
	if (!r_free)
		init();
	if (p)
		rec('F', 0, p);
	r_free(p);
}
C
gcc -O2 -shared -fPIC -o "$W/rec.so" "$W/rec.c" -ldl
CLASSPEAKS_OUT=$W/trace LD_PRELOAD=$W/rec.so "$@" >/dev/null
python3 - "$W/trace" "$SRC/slab.c" "$SRC/slab.h" <<'PY'
import re, sys, collections
trace, slab_c, slab_h = sys.argv[1:]
m = re.search(r"#define CLASS_SIZES\s*\\\s*(.*?)\n\n", open(slab_c).read(), re.S)
sizes = [int(x) for x in re.findall(r"\d+", m.group(1))]
hdr = open(slab_h).read()
cold_size = int(re.search(r"#define AT_COLD_SIZE (\d+)", hdr).group(1))
def cls(n):
    for c, s in enumerate(sizes):
        if c and n <= s:
            return c
pages = lambda b: (b + 4095) // 4096
live, cnt, most, made = {}, collections.Counter(), collections.Counter(), collections.Counter()
tot = peak = cold_tot = cold_peak = 0
for line in open(trace):
    f = line.split()
    if len(f) != 3:
        continue
    k, n, p = f[0], int(f[1]), f[2]
    if k == 'M':
        if p in live:  # a free the recorder did not see (another process's address)
            c, b, cb = live.pop(p); cnt[c] -= 1; tot -= b; cold_tot -= cb
        c = cls(n)
        b = sizes[c]
        cb = pages(b) * 4096 if b >= cold_size else 0
        live[p] = (c, b, cb)
        cnt[c] += 1; made[c] += 1; most[c] = max(most[c], cnt[c])
        tot += b; peak = max(peak, tot)
        cold_tot += cb; cold_peak = max(cold_peak, cold_tot)
    elif p in live:
        c, b, cb = live.pop(p); cnt[c] -= 1; tot -= b; cold_tot -= cb
print("class | size | most live | slab KiB touched | allocated")
print("---|---|---|---|---")
slabs = cold_slabs = 0
for c in sorted(most):
    kib = 4 * max(1, pages(most[c] * sizes[c]))
    slabs += kib
    if sizes[c] >= cold_size:
        cold_slabs += kib
    print(f"{c} | {sizes[c]} | {most[c]} | {kib} | {made[c]}")
print(f"\nall classes: each class's own slabs {slabs} KiB, pooled in one heap {pages(peak) * 4} KiB")
print(f"cold classes (from {cold_size} bytes): slabs {cold_slabs} KiB, their objects' pages pooled {cold_peak // 1024} KiB")
PY
