#!/bin/sh
# Debian programs under the preload library with `ulimit -v 4000000` (the
# address-space limit batch schedulers and CI runners set): outputs
# compared with the same runs under glibc malloc, with and without
# profiling; and a program allocating until malloc returns NULL (as_fill:
# small objects of 16 bytes to 4 KiB in turn, then blocks of 64 KiB to
# 2 MiB) must get at least 3 GB of either, and at least 3.3 GB of objects
# of one class below 896 bytes (256 bytes in every mode, 48 profiling on:
# each slab's metadata window is sized to its objects, objects/slab.h),
# then ENOMEM, with nothing on stderr.
# usage: as_limit.sh /path/liballoctag-preload.so /path/as_fill
set -eu
PRE=$1
FILL=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ulimit -v 4000000

awk 'BEGIN { srand(11); for (i = 0; i < 100000; i++) printf "%d w%x\n", int(rand() * 1e9), i * 31 }' >"$T/in"
PY='
import threading
d = {i: str(i) * (i % 7) for i in range(200000)}
big = [bytearray(1 << 20) for _ in range(300)]
out = []
def work(k): out.append(sum(len(v) for v in d.values()) + k)
ts = [threading.Thread(target=work, args=(k,)) for k in range(4)]
[t.start() for t in ts]; [t.join() for t in ts]
print(sorted(out), len(big))
'
sort -n "$T/in" >"$T/want.sort"
python3 -c "$PY" >"$T/want.py"
for mode in 1 never 1,uncompressed; do
    ALLOCTAG=$mode LD_PRELOAD=$PRE sort -n "$T/in" >"$T/got.sort" 2>"$T/err" || fail "sort under ulimit -v 4000000, ALLOCTAG=$mode: $(cat "$T/err")"
    cmp -s "$T/want.sort" "$T/got.sort" || fail "sort output differs (ALLOCTAG=$mode)"
    ALLOCTAG=$mode LD_PRELOAD=$PRE python3 -c "$PY" >"$T/got.py" 2>"$T/err" || fail "python3 under ulimit -v 4000000, ALLOCTAG=$mode: $(cat "$T/err")"
    cmp -s "$T/want.py" "$T/got.py" || fail "python3 output differs (ALLOCTAG=$mode)"
    [ ! -s "$T/err" ] || fail "stderr under ALLOCTAG=$mode: $(cat "$T/err")"
done
if command -v sqlite3 >/dev/null; then
    printf 'create table t(a,b); with recursive c(x) as (select 1 union all select x+1 from c where x<50000) insert into t select x, hex(randomblob(20)) from c; select count(*), sum(a) from t;\n' >"$T/q.sql"
    LD_PRELOAD=$PRE sqlite3 <"$T/q.sql" >"$T/got.sq" 2>"$T/err" || fail "sqlite3 under ulimit -v 4000000: $(cat "$T/err")"
    [ "$(cat "$T/got.sq")" = "50000|1250025000" ] || fail "sqlite3 output: $(cat "$T/got.sq")"
fi
# as_fill SHAPE MODE MIN: at least MIN bytes before NULL, then ENOMEM
fill() {
    ALLOCTAG=$2 LD_PRELOAD=$PRE "$FILL" $1 >"$T/fill" 2>"$T/err" || fail "as_fill $1 (ALLOCTAG=$2): $(cat "$T/err")"
    [ ! -s "$T/err" ] || fail "as_fill $1, stderr (ALLOCTAG=$2): $(head -c 300 "$T/err")"
    read -r bytes why <"$T/fill"
    [ "$why" = ENOMEM ] || fail "as_fill $1 (ALLOCTAG=$2): malloc failed with $why"
    [ "$bytes" -ge "$3" ] || fail "as_fill $1 (ALLOCTAG=$2): $bytes bytes before NULL, want >= $3"
    echo "as_fill $1 ALLOCTAG=$2: $bytes bytes"
}
for mode in 1 never 1,uncompressed; do
    fill small $mode 3000000000
    fill large $mode 3000000000
    fill 256 $mode 3300000000
done
fill 48 1 3300000000
# A small limit: profiling's tables (320 MiB of tag area, 32 MiB of counters
# a CPU) are mapped as they are used, so sort works with profiling on and
# its allocinfo counts its sites.
(
    ulimit -v 400000
    ALLOCTAG_ALLOCINFO=$T/ai LD_PRELOAD=$PRE sort -n "$T/in" >"$T/got.sort" 2>"$T/err"
) || fail "sort under ulimit -v 400000: $(cat "$T/err")"
cmp -s "$T/want.sort" "$T/got.sort" || fail "sort output differs under ulimit -v 400000"
[ ! -s "$T/err" ] || fail "stderr under ulimit -v 400000: $(cat "$T/err")"
grep -q '^allocinfo - version: 2.0$' "$T/ai" || fail "no allocinfo under ulimit -v 400000"
awk 'NR > 2 && $1 > 0 && $2 > 0 { n++ } END { exit !(n > 0) }' "$T/ai" ||
    fail "allocinfo under ulimit -v 400000 counts nothing: $(head -5 "$T/ai")"
echo "ulimit -v 4000000: ok"
