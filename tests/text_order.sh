#!/bin/sh
# The preload library's function placement (src/preload/text_order.ld):
# every function of the library that small programs run lies in .text.hot
# or, profiling's, in .text.prof, and under ALLOCTAG=never in the file's
# first 64 KiB.  A function new on
# those paths (or renamed) that the lists do not name falls to the rest of
# the text, and every process then has one more 64 KiB block of the file
# resident (fault-around); this names it.  The functions run are
# callgrind's (instructions counted per function), their places the
# library's symbol table.
# Programs: cat /etc/passwd, bash running a subshell (one fork whose
# child exits without exec: the parent's and the child's fork handlers),
# and THREAD_EXIT (tests/thread_exit.c: a thread that allocates and exits,
# its memo released; a library's constructor that allocates before the
# preload library's start-up), each with profiling on (the default) and
# ALLOCTAG=never.
# usage: text_order.sh PRELOAD THREAD_EXIT
set -eu
PRELOAD=$1
THREAD_EXIT=$2
command -v valgrind >/dev/null || { echo "text_order: valgrind not installed; skipped"; exit 77; }
command -v bash >/dev/null || { echo "text_order: bash not installed; skipped"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
for mode in default never; do
    if [ $mode = never ]; then e=ALLOCTAG=never; else e="-u ALLOCTAG"; fi
    env $e LD_PRELOAD="$PRELOAD" valgrind --tool=callgrind --trace-children=yes \
        --callgrind-out-file="$T/$mode.cat.%p" cat /etc/passwd >/dev/null 2>"$T/err" ||
        { cat "$T/err" >&2; echo "FAIL: cat under callgrind ($mode)"; exit 1; }
    env $e LD_PRELOAD="$PRELOAD" valgrind --tool=callgrind --trace-children=yes \
        --callgrind-out-file="$T/$mode.bash.%p" bash -c '(exit 0); exit 0' >/dev/null 2>"$T/err" ||
        { cat "$T/err" >&2; echo "FAIL: bash under callgrind ($mode)"; exit 1; }
    env $e LD_PRELOAD="$PRELOAD" valgrind --tool=callgrind \
        --callgrind-out-file="$T/$mode.thread.%p" "$THREAD_EXIT" >/dev/null 2>"$T/err" ||
        { cat "$T/err" >&2; echo "FAIL: thread_exit under callgrind ($mode)"; exit 1; }
done
nm -S --defined-only "$PRELOAD" >"$T/nm"
readelf -SW "$PRELOAD" >"$T/sections"
python3 - "$PRELOAD" "$T" <<'EOF'
import glob, os, re, sys
lib, t = sys.argv[1], sys.argv[2]
syms = {}
for line in open(os.path.join(t, "nm")):
    f = line.split()
    if len(f) == 4 and f[2] in "tTwW":
        syms.setdefault(f[3], []).append((int(f[0], 16), int(f[1], 16)))
hot = {}
for line in open(os.path.join(t, "sections")):
    m = re.search(r"\]\s+(\.text\.hot|\.text\.prof)\s+\S+\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)", line)
    if m:
        hot[m.group(1)] = (int(m.group(2), 16), int(m.group(2), 16) + int(m.group(3), 16))
if len(hot) != 2:
    sys.exit("FAIL: no .text.hot and .text.prof sections in " + lib)

def run_functions(path):
    """Functions of the library with instructions in one callgrind output.
    Valgrind names the preload library's object '???' (or by its path)."""
    obs, fns, ob, fn, call, out = {}, {}, None, None, False, set()
    for line in open(path, errors="replace"):
        m = re.match(r"(c?ob|c?fn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
        if m:
            k, n, name = m.groups()
            table = obs if k.endswith("ob") else fns
            if name is not None:
                table[n] = name
            if k == "ob":
                ob = obs.get(n)
            elif k == "fn":
                fn = fns.get(n)
            continue
        if line.startswith("calls="):
            call = True
            continue
        if line[:1].isdigit() or line[:1] in "+-*":
            if call:
                call = False
                continue
            f = line.split()
            if len(f) > 1 and int(f[1]) > 0 and fn and ob in ("???", lib, os.path.realpath(lib)):
                out.add(fn)
    return out

bad = []
seen = 0
for mode in ("default", "never"):
    files = sorted(glob.glob(os.path.join(t, mode + ".*")))
    if not files:
        sys.exit("FAIL: no callgrind output for " + mode)
    for path in files:
        prog = os.path.basename(path).split(".")[1]
        for fn in sorted(run_functions(path)):
            if fn not in syms:
                continue
            seen += 1
            places = syms[fn]  # statics of one name in two files: either may have run
            if mode == "never":
                ok = any(a + s <= 0x10000 for a, s in places)
                where = "the file's first 64 KiB"
            else:
                ok = any(lo <= a and a + s <= hi for a, s in places for lo, hi in hot.values())
                where = ".text.hot and .text.prof"
            if not ok:
                bad.append("%s (%s, %s) lies outside %s at %s" % (
                    fn, prog, mode, where, ",".join(hex(a) for a, s in places)))
if seen < 40:
    sys.exit("FAIL: only %d of the library's functions seen under callgrind" % seen)
if bad:
    print("\n".join(sorted(set(bad))))
    sys.exit("FAIL: functions small programs run are not placed: add them to src/preload/text_order.ld")
print("text order: %d function runs, all placed (.text.hot 0x%x-0x%x, .text.prof 0x%x-0x%x)" % (
    (seen,) + hot[".text.hot"] + hot[".text.prof"]))
EOF
