#!/usr/bin/env bash
# Which pages of a program's own file are resident in it at exit, by ELF
# section: run CMD under the preload library with ALLOCTAG=never and with
# the default ALLOCTAG, have each process write at exit, for every mapping
# of CMD's file, a present bit a page (/proc/self/pagemap: the process's
# own page tables, not the page cache), and print for the largest process
# of each run the resident KiB of each section the mappings hold, in both
# runs, and the difference: what profiling's reads of the file in place
# (names, symbol tables, unwind tables) map, fault-around's 64 KiB windows
# included (a page two sections share counts in both).  CMD must be the
# program itself, not a wrapper that runs it.
#
#   bench/malloc/filepages.sh PRELOAD_LIB CMD [ARG...]
set -eu
PRE=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
shift
EXE=$(readlink -f "$(command -v "$1")")
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cat >"$W/pm.c" <<'C'
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
/* At exit: "file_offset bits" for each mapping of FILEPAGES_EXE. */
__attribute__((destructor(101))) static void dump(void)
{
	const char *want = getenv("FILEPAGES_EXE"), *dir = getenv("FILEPAGES_OUT");
	char name[4096], line[4608];
	if (!want || !dir)
		return;
	snprintf(name, sizeof(name), "%s/pages.%d", dir, (int)getpid());
	FILE *m = fopen("/proc/self/maps", "r"), *o = fopen(name, "w");
	int pm = open("/proc/self/pagemap", O_RDONLY);
	while (m && o && pm >= 0 && fgets(line, sizeof(line), m)) {
		unsigned long a, b, off;
		char path[4096] = "";
		if (sscanf(line, "%lx-%lx %*s %lx %*s %*s %4095s", &a, &b, &off, path) < 3 ||
		    strcmp(path, want))
			continue;
		fprintf(o, "%lx ", off);
		for (unsigned long p = a; p < b; p += 4096) {
			uint64_t e = 0;
			if (pread(pm, &e, 8, (off_t)(p >> 12) * 8) != 8)
				e = 0;
			fputc(e >> 63 ? '1' : '0', o);
		}
		fputc('\n', o);
	}
	if (m)
		fclose(m);
	if (o)
		fclose(o);
	if (pm >= 0)
		close(pm);
}
C
gcc -O2 -shared -fPIC -o "$W/pm.so" "$W/pm.c"
readelf -SW "$EXE" | sed -n 's/^ *\[ *[0-9]*\] *//p' | awk 'NF >= 5 && $2 != "NULL" && $2 != "NOBITS" {print $1, $4, $5}' >"$W/sections"
for mode in never default; do
	mkdir -p "$W/$mode"
	if [ $mode = never ]; then a=ALLOCTAG=never; else a=ALLOCTAG=${ALLOCTAG:-1}; fi
	env "$a" FILEPAGES_EXE="$EXE" FILEPAGES_OUT="$W/$mode" LD_PRELOAD="$PRE $W/pm.so" "$@" >/dev/null
done
python3 - "$W" <<'PY'
import glob, os, sys
w = sys.argv[1]
secs = []
for l in open(w + "/sections"):
    n, off, size = l.split()
    if int(size, 16):
        secs.append((int(off, 16), int(off, 16) + int(size, 16), n))
def largest(mode):
    best = None
    for f in glob.glob("%s/%s/pages.*" % (w, mode)):
        rows = [l.split() for l in open(f)]
        n = sum(b.count("1") for _, b in rows)
        if best is None or n > best[0]:
            best = (n, rows)
    return best[1] if best else []
def by_section(rows):
    kib = {}
    for off, bits in rows:
        off = int(off, 16)
        for i, c in enumerate(bits):
            if c != "1":
                continue
            lo, hi = off + 4096 * i, off + 4096 * (i + 1)
            for s, e, n in secs:  # a page shared by sections counts in each
                if s < hi and e > lo:
                    kib[n] = kib.get(n, 0) + 4
    return kib
nv, df = by_section(largest("never")), by_section(largest("default"))
print("%-24s %8s %8s %8s" % ("section (KiB resident)", "never", "default", "diff"))
for s, e, n in secs:
    if n in nv or n in df:
        print("%-24s %8d %8d %+8d" % (n, nv.get(n, 0), df.get(n, 0), df.get(n, 0) - nv.get(n, 0)))
t = [sum(4 * b.count("1") for _, b in largest(m)) for m in ("never", "default")]
print("%-24s %8d %8d %+8d" % ("the file's pages in all", t[0], t[1], t[1] - t[0]))
PY
