#!/usr/bin/env bash
# Who holds a process's resident memory outside the heap reservation: run
# CMD under the preload library (ALLOCTAG as the caller set it) and strace
# -f -k, have the process write at exit each mapping's resident pages
# (mincore, a preloaded destructor), and print for every anonymous mmap
# made after the heap reservation and still mapped at exit its length, its
# resident KiB and the first three named frames of the call that made it
# (the library's structures: thread heaps, memos, the sites' pool, the rule
# cache, chain and frame tables, symbol indexes; and the program's own, as
# python3's 1 MiB arenas), largest resident first.  The first process that
# strace runs (CMD itself, not a wrapper script found in PATH) is the one
# reported: give CMD as a path.  Needs strace built with stack traces (-k).
#
#   bench/malloc/mmapwho.sh PRELOAD_LIB CMD [ARG...]
#   ALLOCTAG=never bench/malloc/mmapwho.sh PRELOAD_LIB CMD [ARG...]
#
# Structures inside the heap reservation are counted per 64 KiB unit by
# `RSSDIFF_UNITS=1 bench/malloc/rssdiff.sh`.  A mapping the kernel merged
# with a neighbour is still counted by the range its mmap returned.
set -eu
lib=$(realpath "$1") W=$(mktemp -d) && shift
trap 'rm -rf "$W"' EXIT
cat >"$W/resident.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
/* At exit: "start bits" per mapping of at most 256 MiB, one 0/1 a page. */
__attribute__((destructor(101))) static void resident(void)
{
	static char line[1024], path[512];
	static unsigned char vec[1u << 16];
	const char *o = getenv("MMAPWHO_OUT");
	if (!o)
		return;
	snprintf(path, sizeof(path), "%s.%d", o, (int)getpid());
	FILE *m = fopen("/proc/self/maps", "r"), *out = fopen(path, "w");
	unsigned long a, b;
	while (m && out && fgets(line, sizeof(line), m))
		if (sscanf(line, "%lx-%lx", &a, &b) == 2 && b - a <= (sizeof(vec) << 12) &&
		    !mincore((void *)a, b - a, vec)) {
			fprintf(out, "%lx ", a);
			for (unsigned long k = 0; k < (b - a) >> 12; k++)
				fputc('0' + (vec[k] & 1), out);
			fputc('\n', out);
		}
	if (m)
		fclose(m);
	if (out)
		fclose(out);
}
C
gcc -O2 -shared -fPIC -o "$W/resident.so" "$W/resident.c"
strace -f -k -e trace=mmap,munmap,clone,clone3 -o "$W/trace" \
	env MMAPWHO_OUT="$W/res" LD_PRELOAD="$lib $W/resident.so" "$@" >/dev/null
python3 - "$W" <<'PY'
import glob, re, sys
w = sys.argv[1]
lines = open(w + "/trace").read().split("\n")
# the process that reserved the heap first: CMD after env's exec
heap = next(i for i, l in enumerate(lines) if "MAP_FIXED_NOREPLACE" in l and "MAP_NORESERVE" in l)
pid = lines[heap].split()[0]
tids = {pid}
pages = {}
for l in open("%s/res.%s" % (w, pid)):
    a, bits = l.split()
    pages[int(a, 16)] = bits
def resident(lo, hi):
    n = 0
    for s, bits in pages.items():
        a, b = max(lo, s), min(hi, s + 4096 * len(bits))
        if a < b:
            n += bits[(a - s) >> 12:(b - s) >> 12].count("1")
    return 4 * n
live = {}
for i in range(heap, len(lines)):
    l = lines[i]
    f = l.split()
    if not f or f[0] == ">":
        continue
    m = re.search(r" clone3?\(.*\) = (\d+)$", l)
    if m and f[0] in tids:
        tids.add(m.group(1))
    m = re.search(r" mmap\(NULL, (\d+), PROT_READ\|PROT_WRITE, MAP_PRIVATE\|MAP_ANONYMOUS[^)]*\) = 0x([0-9a-f]+)", l)
    if m and f[0] in tids:
        who = []
        for s in lines[i + 1:]:
            if not s.startswith(" >"):
                break
            n = re.search(r"/([^/(]+)\((\w+)\+", s)
            if n and not n.group(1).startswith(("libc.so", "ld-linux")):
                who.append(n.group(2))
        live[int(m.group(2), 16)] = (int(m.group(1)), f[0], "<".join(who[:3]))
    m = re.search(r" munmap\(0x([0-9a-f]+), (\d+)\)", l)
    if m and f[0] in tids:
        live.pop(int(m.group(1), 16), None)
rows = []
for a, (n, tid, who) in live.items():
    rows.append((resident(a, a + ((n + 4095) & ~4095)), n, tid, who))
print("anonymous mmaps after the heap reservation, still mapped at exit (process %s): resident KiB, mapped KiB, thread, caller" % pid)
for r, n, tid, who in sorted(rows, key=lambda x: (-x[0], x[3])):
    print("%6d %6d  %s  %s" % (r, n >> 10, "main" if tid == pid else "thread " + tid, who))
print("%6d in all" % sum(x[0] for x in rows))
PY
