#!/bin/sh
# liballoctag-preload.so under unmodified programs from Debian packages
# (coreutils sort, python3), outputs compared with runs under glibc malloc;
# and liballoctag.so must not export the malloc family.
# usage: preload.sh /path/liballoctag-preload.so /path/liballoctag.so
set -eu
PRE=$1
LIB=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# 1. sort: 200000 lines, numeric and text sorts, with and without profiling.
awk 'BEGIN { srand(7); for (i = 0; i < 200000; i++) printf "%d line-%x\n", int(rand() * 1e9), i * 7919 }' >"$T/in"
sort -n "$T/in" >"$T/want.n"
sort -k2 "$T/in" >"$T/want.k"
for mode in 1,compressed 1,uncompressed never; do
    ALLOCTAG=$mode LD_PRELOAD=$PRE sort -n "$T/in" >"$T/got.n" 2>"$T/err" || fail "sort -n under ALLOCTAG=$mode: $(cat "$T/err")"
    cmp -s "$T/want.n" "$T/got.n" || fail "sort -n output differs under ALLOCTAG=$mode"
    ALLOCTAG=$mode LD_PRELOAD=$PRE sort --parallel=2 -S 1M -k2 "$T/in" >"$T/got.k" 2>"$T/err" || fail "sort -k2 under ALLOCTAG=$mode"
    cmp -s "$T/want.k" "$T/got.k" || fail "sort -k2 output differs under ALLOCTAG=$mode"
    [ ! -s "$T/err" ] || fail "sort printed to stderr under ALLOCTAG=$mode: $(cat "$T/err")"
done
echo "sort: ok"

# 2. python3: dicts, lists, strings, json, threads.
if command -v python3 >/dev/null; then
    PY='
import json, threading
d = {str(i): list(range(i % 50)) for i in range(100000)}
s = json.dumps(d)
out = []
def work(k):
    out.append(sum(len(v) for v in json.loads(s).values()) + k)
ts = [threading.Thread(target=work, args=(k,)) for k in range(4)]
[t.start() for t in ts]; [t.join() for t in ts]
print(len(s), sorted(out), "".join(sorted("preload" * 1000))[:20])
'
    want=$(python3 -c "$PY")
    got=$(LD_PRELOAD=$PRE python3 -c "$PY" 2>"$T/err") || fail "python3 under the preload library: $(cat "$T/err")"
    [ "$want" = "$got" ] || fail "python3 output differs: '$got' vs '$want'"
    echo "python3: ok"
fi

# 3. Exports: the preload library has the malloc family, liballoctag.so none of it.
for f in malloc free calloc realloc posix_memalign aligned_alloc memalign valloc pvalloc malloc_usable_size; do
    nm -D --defined-only "$PRE" | awk '{print $NF}' | grep -qx "$f" || fail "$PRE does not export $f"
    ! nm -D --defined-only "$LIB" | awk '{print $NF}' | grep -qx "$f" || fail "$LIB exports $f"
done
echo "exports: ok"
