#!/bin/sh
# The page heap under valgrind, whose address space refuses the whole
# reservation at once: the heap starts with one arena and grows, and an
# unmodified program runs as it does without it (no "alloctag:" line).
# usage: valgrind_heap.sh PRELOAD
set -eu
PRELOAD=$1
command -v valgrind >/dev/null || { echo "valgrind_heap: valgrind not installed; skipped"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
seq 20000 -1 1 >"$T/in"
LD_PRELOAD=$PRELOAD valgrind --tool=none --error-exitcode=9 -q sort -n "$T/in" >"$T/out" 2>"$T/err" ||
    { cat "$T/err" >&2; echo "FAIL: sort under valgrind"; exit 1; }
if grep -q "alloctag:" "$T/err"; then cat "$T/err" >&2; echo "FAIL: a message under valgrind"; exit 1; fi
seq 1 20000 | cmp -s - "$T/out" || { echo "FAIL: sort's output under valgrind"; exit 1; }
echo "valgrind heap: ok"
