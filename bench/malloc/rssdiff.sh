#!/usr/bin/env bash
# Where profiling's RSS is: run CMD under the preload library with
# ALLOCTAG=never and with the default ALLOCTAG, have each process write its
# /proc/self/smaps at exit (a preloaded destructor), and print for the
# largest process (the one with the most RSS under the default) each
# mapping's resident KiB in both runs and the difference, largest first:
# file mappings by object and permissions, anonymous ones by size.
#
#   bench/malloc/rssdiff.sh PRELOAD_LIB CMD [ARG...]
#   RSSDIFF_MODES="glibc never" bench/malloc/rssdiff.sh PRELOAD_LIB CMD [ARG...]
#
# RSSDIFF_MODES names the two runs compared, first against second, of:
# glibc (no preload library), never (ALLOCTAG=never), default (the default
# ALLOCTAG); "never default" unless set.  RSSDIFF_ALL=1 prints the
# comparison for every process of the two runs paired in the order they
# exited, not only the largest (CMD's processes must then be the same in
# both runs, as a script's are).  RSSDIFF_UNITS=1 adds, for the largest
# anonymous mapping of each (the preload library's heap reservation: its
# slabs and their metadata; glibc's is the [heap] line), how many of its
# 64 KiB units have 1, 2, ... 16 pages resident (mincore at exit): a
# small program's size classes show as units with a page or two each.
#
# The header lines give each run's RSS and its anonymous part (the sum of
# smaps' Anonymous: lines), which fault-around's text windows do not move.
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
#include <sys/mman.h>
#include <unistd.h>
/* Per 64 KiB unit of the largest anonymous mapping, its resident pages:
 * "offset pages" lines to path.units. */
static void units(const char *path)
{
	static char line[1024], name[600];
	static unsigned char vec[1u << 20];
	unsigned long lo = 0, hi = 0;
	FILE *m = fopen("/proc/self/maps", "r");
	while (m && fgets(line, sizeof(line), m)) {
		unsigned long a, b;
		int n = 0;
		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &a, &b, &n) >= 2 &&
		    (line[n] == '\n' || !line[n]) && b - a > hi - lo)
			lo = a, hi = b;
	}
	if (m)
		fclose(m);
	snprintf(name, sizeof(name), "%s.units", path);
	FILE *out = fopen(name, "w");
	for (unsigned long a = lo; out && a < hi; a += sizeof(vec) << 12) {
		unsigned long len = hi - a < (sizeof(vec) << 12) ? hi - a : sizeof(vec) << 12;
		if (mincore((void *)a, len, vec))
			continue;
		for (unsigned long u = 0; u < len >> 12; u += 16) {
			int c = 0;
			for (unsigned long k = u; k < u + 16 && k < len >> 12; k++)
				c += vec[k] & 1;
			if (c)
				fprintf(out, "%lx %d\n", a - lo + (u << 12), c);
		}
	}
	if (out)
		fclose(out);
}
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
	if (getenv("RSSDIFF_UNITS"))
		units(path);
}
C
gcc -O2 -shared -fPIC -o "$W/dump.so" "$W/dump.c"
set -- ${RSSDIFF_MODES:-never default} "$@"
A=$1 B=$2
shift 2
for m in "$A" "$B"; do
	mkdir "$W/$m"
	case $m in
	glibc) RSSDIFF_OUT="$W/$m/s" LD_PRELOAD="$W/dump.so" "$@" >/dev/null ;;
	never) RSSDIFF_OUT="$W/$m/s" ALLOCTAG=never LD_PRELOAD="$PRE $W/dump.so" "$@" >/dev/null ;;
	default) RSSDIFF_OUT="$W/$m/s" LD_PRELOAD="$PRE $W/dump.so" "$@" >/dev/null ;;
	*) echo "rssdiff: unknown mode $m (glibc, never, default)" >&2; exit 2 ;;
	esac
done
python3 - "$W" "$A" "$B" "${RSSDIFF_ALL:-0}" <<'PY'
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
def procs(dir): # (total, mappings, command), in the order they exited
    out = []
    for f in sorted(glob.glob(dir + "/s.*[0-9]"), key=os.path.getmtime):
        d = load(f); out.append((sum(v[0] for v in d.values()), d, f))
    return out
def anon(f):
    return sum(int(l.split()[1]) for l in open(f) if l.startswith("Anonymous:"))
def units(f):
    try:
        c = [int(l.split()[1]) for l in open(f + ".units")]
    except OSError:
        return ""
    h = collections.Counter(c)
    return "%d KiB in %d units; units by pages resident: %s" % (4 * sum(c), len(c), " ".join("%d:%d" % (k, h[k]) for k in sorted(h)))
def show(title, tn, n, fn, td, d, fd):
    print("%sRSS at exit, KiB: %s %d, %s %d, difference %+d" % (title, A, tn, B, td, td - tn))
    an, ad = anon(fn), anon(fd) # what fault-around's file windows do not move
    print("%sanonymous at exit, KiB: %s %d, %s %d, difference %+d" % (title, A, an, B, ad, ad - an))
    for m, f in ((A, fn), (B, fd)):
        u = units(f)
        if u:
            print("largest anonymous mapping, %s: %s" % (m, u))
    rows = sorted(set(n) | set(d), key=lambda k: -abs(d.get(k, [0])[0] - n.get(k, [0])[0]))
    for k in rows:
        a, b = n.get(k, [0])[0], d.get(k, [0])[0]
        if a != b:
            print("%-40s %-5s %8d %8d %+8d" % (k[0][:40], k[1], a, b, b - a))
A, B = sys.argv[2], sys.argv[3]
pa, pb = procs(sys.argv[1] + "/" + A), procs(sys.argv[1] + "/" + B)
if sys.argv[4] == "1":
    for i, (x, y) in enumerate(zip(pa, pb)):
        show("process %d: " % i, *x, *y)
else:
    show("", *max(pa, key=lambda t: t[0]), *max(pb, key=lambda t: t[0]))
PY
