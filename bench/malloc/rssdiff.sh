#!/usr/bin/env bash
# Where profiling's RSS is: run CMD under the preload library with
# ALLOCTAG=never and with the default ALLOCTAG, have each process write its
# /proc/self/smaps at exit (a preloaded destructor), and print for the
# largest process (the one with the most RSS under the default) each
# mapping's resident KiB in both runs and the difference, largest first:
# file mappings by object and permissions, anonymous ones by size.
#
#   bench/malloc/rssdiff.sh PRELOAD_LIB CMD [ARG...]
#
# At exit, not at the peak (peakmap.py samples the peak; for the programs
# measured here the structures in question only grow, so exit is their
# peak).  Fault-around maps text in 64 KiB windows whose placement moves
# with ASLR: a program's r-xp lines move by up to 150 KiB from run to run.
set -eu
PRE=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
shift
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cat >"$W/dump.c" <<'C'
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
__attribute__((destructor(101))) static void dump(void)
{
	const char *o = getenv("RSSDIFF_OUT");
	char path[512], buf[65536];
	if (!o)
		return;
	snprintf(path, sizeof(path), "%s.%d", o, (int)getpid());
	int in = open("/proc/self/smaps", O_RDONLY), out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ssize_t n;
	while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			break;
	close(in);
	close(out);
}
C
gcc -O2 -shared -fPIC -o "$W/dump.so" "$W/dump.c"
mkdir "$W/never" "$W/default"
RSSDIFF_OUT="$W/never/s" ALLOCTAG=never LD_PRELOAD="$PRE $W/dump.so" "$@" >/dev/null
RSSDIFF_OUT="$W/default/s" LD_PRELOAD="$PRE $W/dump.so" "$@" >/dev/null
python3 - "$W" <<'PY'
import collections, glob, os, re, sys
def load(fn):
    d = collections.defaultdict(lambda: [0, 0]); name = None; prog = None
    for line in open(fn):
        m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$", line)
        if m:
            size = (int(m.group(2), 16) - int(m.group(1), 16)) >> 10
            path = m.group(4)
            key = (os.path.basename(path), m.group(3)) if path else ("[anon %d KiB]" % size, m.group(3))
            cur = d[key]
        elif line.startswith("Rss:"):
            cur[0] += int(line.split()[1])
    return d
def biggest(dir):
    best = None
    for f in glob.glob(dir + "/s.*"):
        d = load(f); t = sum(v[0] for v in d.values())
        if best is None or t > best[0]: best = (t, d)
    return best
tn, n = biggest(sys.argv[1] + "/never"); td, d = biggest(sys.argv[1] + "/default")
print("RSS at exit, KiB: never %d, default %d, difference %+d" % (tn, td, td - tn))
rows = sorted(set(n) | set(d), key=lambda k: -abs(d.get(k, [0])[0] - n.get(k, [0])[0]))
for k in rows:
    a, b = n.get(k, [0])[0], d.get(k, [0])[0]
    if a != b:
        print("%-40s %-5s %8d %8d %+8d" % (k[0][:40], k[1], a, b, b - a))
PY
