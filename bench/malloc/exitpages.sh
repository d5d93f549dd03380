#!/usr/bin/env bash
# Profiling's pages at a program's exit, page by page: run CMD under the
# preload library with ALLOCTAG=never and with the default ALLOCTAG, stop
# each at its exit (exitpages.c: ptrace's exit event, /proc/PID/pagemap;
# nothing of ours runs in the process, where rssdiff.sh's preloaded
# destructor allocates and, under the preload library, makes chains of its
# own) and print for both runs:
#   - RSS and its anonymous part at exit (KiB);
#   - the library's mappings: its three text mappings (text_order.ld), its
#     read-only and writable file data, its .bss (the anonymous mapping
#     right after the data), resident KiB in each run and the difference;
#   - the library's writable pages (file data and .bss) resident with
#     profiling and not without, with the symbols on each (nm -S);
#   - every other anonymous mapping of each run, by address: its size and
#     the offsets (pages) of its resident pages (the heap reservation, the
#     sites' pool, memos, the CFI arena, thread heaps: mmapwho.sh names the
#     callers of the mmaps; the kernel merges neighbours, so the two runs'
#     lists are not paired).
#
#   bench/malloc/exitpages.sh PRELOAD_LIB CMD [ARG...]
#
# CMD must be the program itself (the first process is the one measured).
# Measure a copy of the library that is not freshly written (cp, then a
# few runs): see BENCHMARKS.md, "Small programs' peak RSS".
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
PRE=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
shift
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
gcc -O2 -o "$W/exitpages" "$HERE/exitpages.c"
ALLOCTAG=never LD_PRELOAD="$PRE" "$W/exitpages" "$W/never" "$@" || true
env -u ALLOCTAG LD_PRELOAD="$PRE" "$W/exitpages" "$W/default" "$@" || true
nm -S --defined-only "$PRE" >"$W/nm"
python3 - "$PRE" "$W" <<'PY'
import os, sys
lib, w = sys.argv[1], sys.argv[2]
name = os.path.basename(lib)

def load(fn):
    maps = []
    for line in open(fn):
        if line.startswith("M "):
            f = line.split()
            lo, hi = (int(x, 16) for x in f[1].split("-"))
            maps.append({"lo": lo, "hi": hi, "perm": f[2], "off": int(f[3], 16),
                         "path": f[6] if len(f) > 6 else "", "pages": []})
        elif line.startswith("P"):
            maps[-1]["pages"] = [int(x) for x in line.split()[1:]]
    return maps

def anon(m):
    return not m["path"] or m["path"] in ("[stack]", "[heap]")

def lib_parts(maps):
    """The library's mappings by kind, its base, and its .bss mapping."""
    parts, base, last = {}, None, None
    rx = 0
    for i, m in enumerate(maps):
        if os.path.basename(m["path"]) != name:
            continue
        if base is None:
            base = m["lo"] - m["off"]
        if m["perm"] == "r-xp":
            rx += 1
            parts["text %d" % rx] = m
        else:
            parts["data " + m["perm"]] = m
        last = i
    if last is not None and last + 1 < len(maps) and not maps[last + 1]["path"] and \
       maps[last + 1]["lo"] == maps[last]["hi"]:
        parts[".bss (anonymous)"] = maps[last + 1]
    return parts, base

runs = {k: load(os.path.join(w, k)) for k in ("never", "default")}
parts = {k: lib_parts(v) for k, v in runs.items()}
for k, maps in runs.items():
    rss = sum(4 * len(m["pages"]) for m in maps)
    an = sum(4 * len(m["pages"]) for m in maps if anon(m))
    print("%-8s RSS at exit %6d KiB, anonymous %5d KiB" % (k, rss, an))
print("\n%s's mappings, resident KiB: never, default, difference" % name)
for key in ("text 1", "text 2", "text 3", "data r--p", "data rw-p", ".bss (anonymous)"):
    a = parts["never"][0].get(key)
    b = parts["default"][0].get(key)
    ka = 4 * len(a["pages"]) if a else 0
    kb = 4 * len(b["pages"]) if b else 0
    print("  %-18s %5d %5d %+5d" % (key, ka, kb, kb - ka))

# writable pages resident with profiling, not without, by symbol
syms = []
for line in open(os.path.join(w, "nm")):
    f = line.split()
    if len(f) == 4 and f[2] in "bBdD":
        syms.append((int(f[0], 16), int(f[1], 16), f[3]))
def wpages(k):
    ps, base = parts[k]
    out = set()
    for key in ("data rw-p", ".bss (anonymous)"):
        m = ps.get(key)
        if m:
            out |= {m["lo"] - base + 4096 * p for p in m["pages"]}
    return out
extra = sorted(wpages("default") - wpages("never"))
print("\n%s's writable pages resident with profiling only (%d KiB): offset, symbols" % (name, 4 * len(extra)))
for p in extra:
    on = [n for a, s, n in syms if a < p + 4096 and a + max(s, 1) > p]
    print("  0x%06x  %s" % (p, " ".join(on[:8]) + (" ..." if len(on) > 8 else "") or "-"))

for k, maps in runs.items():
    libs = {id(m) for m in parts[k][0].values()}
    print("\nother anonymous mappings, %s: address, KiB mapped, KiB resident, resident pages" % k)
    for m in maps:
        if anon(m) and id(m) not in libs and m["pages"]:
            pg = m["pages"]
            shown = " ".join(str(p) for p in pg[:24]) + (" ..." if len(pg) > 24 else "")
            print("  %x %9d %5d  %s %s" % (m["lo"], (m["hi"] - m["lo"]) >> 10, 4 * len(pg),
                                         m["path"], shown))
PY
